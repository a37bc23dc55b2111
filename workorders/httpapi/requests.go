package httpapi

import (
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/keyrate"
	"github.com/openpdm/pdm/workorders/labels"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/requests"
)

// RequestsConfig wires customers' requests, status links and surveys
// (workorders/requests). With Service nil none of their routes exist.
type RequestsConfig struct {
	Service *requests.Service
	// PublicURL (https://pdm.example.com) prefixes status_url in answers
	// to new requests and new links; without it they are absolute under
	// the address the request came to.
	PublicURL string
	// Labels draws the assets' QR labels (nil: a built-in face with ASCII
	// only).
	Labels *labels.Renderer
	// CreatePerMinute and CreateBurst limit new public requests per client
	// address (default 2 a minute, 5 at once); CreateGlobalPerMinute limits
	// them across all addresses (default 300), so spam cannot flood the
	// review queue.
	CreatePerMinute       float64
	CreateBurst           int
	CreateGlobalPerMinute float64
	// ReadPerSecond and ReadBurst limit public reads per client address
	// (default 20/s, 100 at once).
	ReadPerSecond float64
	ReadBurst     int
	// Notify, when set, serves /notifications (subscriptions, outbox);
	// NotifyChanged is called after a subscription changes.
	Notify        NotifyAdmin
	NotifyChanged func()
	// Templates, when set, serves /notifications/templates; NotifyChanged
	// is called after a template changes too.
	Templates NotifyTemplates
	// Reports, when set, serves /reports (数据复盘) and /exports (reports.go).
	Reports ReportsStore
}

// RequestInput is the API's new request.
type RequestInput struct {
	AssetID     string              `json:"asset_id" schema:"required,format=uuid"`
	Title       string              `json:"title" schema:"maxLength=200"`
	Description string              `json:"description" schema:"maxLength=5000"`
	Priority    workorders.Priority `json:"priority"`
	Requester   requests.Requester  `json:"requester" schema:"required"`
	ExternalRef string              `json:"external_ref" schema:"maxLength=200"`
}

// PublicRequestInput is the public form's request (JSON; the form page
// sends the same fields as multipart/form-data with `photos` files).
type PublicRequestInput struct {
	Site        string             `json:"site" schema:"required,maxLength=64"`
	Asset       string             `json:"asset" schema:"maxLength=64"`
	Title       string             `json:"title" schema:"maxLength=200"`
	Description string             `json:"description" schema:"required,maxLength=5000"`
	Requester   requests.Requester `json:"requester" schema:"required"`
}

// RequestCreated answers a new request.
type RequestCreated struct {
	Number    string `json:"number" schema:"required"`
	OrderID   string `json:"order_id" schema:"required"`
	StatusURL string `json:"status_url" schema:"required"`
}

// MergeInput names the open order a request joins.
type MergeInput struct {
	Into string `json:"into" schema:"required,maxLength=36"`
}

// LinkInput names a related order.
type LinkInput struct {
	OrderID string `json:"order_id" schema:"required,maxLength=36"`
}

// Links lists related orders' ids.
type Links struct {
	Items []string `json:"items" schema:"required"`
}

// StatusLink is a new status link.
type StatusLink struct {
	StatusURL string `json:"status_url" schema:"required"`
}

// SurveyInput is a customer's rating.
type SurveyInput struct {
	Score   int    `json:"score" schema:"required,min=1,max=5"`
	Comment string `json:"comment" schema:"maxLength=2000"`
}

// withRequestSchemas adds the requests' schemas to the document's.
func withRequestSchemas(m map[string]any) map[string]any {
	for k, v := range map[string]any{
		"RequestInput":             RequestInput{},
		"PublicRequestInput":       PublicRequestInput{},
		"RequestCreated":           RequestCreated{},
		"Request":                  requests.Record{},
		"MergeInput":               MergeInput{},
		"LinkInput":                LinkInput{},
		"Links":                    Links{},
		"StatusLink":               StatusLink{},
		"SurveyInput":              SurveyInput{},
		"RequestForm":              requests.Form{},
		"PublicStatus":             requests.View{},
		"NotificationSubscription": notify.Subscription{},
		"Notification":             notify.Message{},
	} {
		m[k] = v
	}
	return withReportSchemas(withTemplateSchemas(m))
}

// clientAddr is the client's address as the connection shows it (a
// forwarded header is not trusted: anyone can write one).
func clientAddr(c *gin.Context) string {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	if err != nil {
		return c.Request.RemoteAddr
	}
	return host
}

func tooMany(c *gin.Context, what string) {
	c.Header("Retry-After", "60")
	writeError(c, http.StatusTooManyRequests, "rate_limited", "too many "+what+" from your address; try again later")
}

func (s *Server) requestRoutes() {
	rc := s.cfg.Requests
	if rc.Service == nil {
		return
	}
	if rc.CreatePerMinute <= 0 {
		rc.CreatePerMinute = 2
	}
	if rc.CreateBurst <= 0 {
		rc.CreateBurst = 5
	}
	if rc.CreateGlobalPerMinute <= 0 {
		rc.CreateGlobalPerMinute = 300
	}
	if rc.ReadPerSecond <= 0 {
		rc.ReadPerSecond = 20
	}
	if rc.ReadBurst <= 0 {
		rc.ReadBurst = 100
	}
	svc := rc.Service
	s.labelRoutes()
	if rc.NotifyChanged == nil {
		rc.NotifyChanged = func() {}
	}
	s.notifyRoutes(rc.Notify, rc.NotifyChanged)
	s.templateRoutes(rc.Templates, rc.NotifyChanged)
	s.reportRoutes(rc.Reports)
	creates := keyrate.New(rate.Limit(rc.CreatePerMinute/60), rc.CreateBurst)
	global := rate.NewLimiter(rate.Limit(rc.CreateGlobalPerMinute/60), int(rc.CreateGlobalPerMinute/6)+1)
	reads := keyrate.New(rate.Limit(rc.ReadPerSecond), rc.ReadBurst)
	statusURL := s.statusURL
	readLimited := func(h gin.HandlerFunc) gin.HandlerFunc {
		return func(c *gin.Context) {
			if !reads.Allow(clientAddr(c)) {
				tooMany(c, "requests")
				return
			}
			c.Header("Cache-Control", "no-store")
			c.Header("X-Robots-Tag", "noindex")
			h(c)
		}
	}

	s.handle(Route{Method: "POST", Path: "/requests", Roles: planners(), Tag: "requests",
		Summary: "File a customer's request (CRM, call centre): a proposed order with source request and a status link",
		Body:    "RequestInput", Response: "RequestCreated", Status: http.StatusCreated}, func(c *gin.Context) {
		var in RequestInput
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		out, err := svc.Create(c.Request.Context(), actorOf(c), requests.Input{Channel: requests.ChannelAPI,
			AssetID: in.AssetID, Title: in.Title, Description: in.Description, Priority: in.Priority,
			Requester: in.Requester, ExternalRef: in.ExternalRef})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, RequestCreated{Number: out.Order.Number, OrderID: out.Order.ID, StatusURL: statusURL(c, out.StatusURL)})
	})
	s.handle(Route{Method: "GET", Path: "/requests", Roles: readers(), Tag: "requests",
		Summary:  "Customers' requests, newest first, each with its order (open=true: only those awaiting review)",
		Response: "RequestList", Query: []string{"channel", "open", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := requests.Filter{Channel: requests.Channel(c.Query("channel")), Open: c.Query("open") == "true", Page: p}
		switch f.Channel {
		case "", requests.ChannelForm, requests.ChannelAPI, requests.ChannelEmail:
		default:
			s.fail(c, workorders.Invalid("channel", "must be form, api or email"))
			return
		}
		items, next, err := svc.List(c.Request.Context(), f)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/request", Roles: readers(), Tag: "requests",
		Summary: "The customer's request behind an order (requester, channel, merge)", Response: "Request"}, func(c *gin.Context) {
		r, err := svc.Get(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, r)
	})
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/merge", Roles: planners(), Tag: "requests",
		Summary: "Merge a proposed or approved order into another open order of the same asset; its requester follows that order",
		Body:    "MergeInput", Response: "WorkOrder"}, func(c *gin.Context) {
		var in MergeInput
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		into, err := s.orderRef(c, in.Into, "into")
		if err != nil {
			s.fail(c, err)
			return
		}
		o, err := svc.Merge(c.Request.Context(), actorOf(c), c.Param("id"), into)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, o)
	})
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/links", Roles: planners(), Tag: "requests",
		Summary: "Link a related order", Body: "LinkInput", Response: "Links"}, func(c *gin.Context) {
		var in LinkInput
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		other, err := s.orderRef(c, in.OrderID, "order_id")
		if err != nil {
			s.fail(c, err)
			return
		}
		if err := svc.Link(c.Request.Context(), actorOf(c), c.Param("id"), other); err != nil {
			s.fail(c, err)
			return
		}
		s.writeLinks(c, svc)
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/links", Roles: readers(), Tag: "requests",
		Summary: "Orders linked to this one", Response: "Links"}, func(c *gin.Context) { s.writeLinks(c, svc) })
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/status-link", Roles: planners(), Tag: "requests",
		Summary: "Issue a new status link (revoking the old ones)", Response: "StatusLink", Status: http.StatusCreated},
		func(c *gin.Context) {
			tok, err := svc.NewLink(c.Request.Context(), c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusCreated, StatusLink{StatusURL: statusURL(c, "/s/"+tok)})
		})
	s.handle(Route{Method: "DELETE", Path: "/work-orders/:id/status-link", Roles: planners(), Tag: "requests",
		Summary: "Revoke every status link of an order", Status: http.StatusNoContent}, func(c *gin.Context) {
		if _, err := svc.Revoke(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})

	// Public: no token, limited per address.
	form := func(c *gin.Context) {
		f, err := svc.Form(c.Request.Context(), c.Param("site"), c.Param("asset"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, f)
	}
	s.handle(Route{Method: "GET", Path: "/public/forms/:site", Tag: "public",
		Summary: "A site's request form: the site's name and its assets", Response: "RequestForm"}, readLimited(form))
	s.handle(Route{Method: "GET", Path: "/public/forms/:site/:asset", Tag: "public",
		Summary: "An asset's request form: the site's and the asset's names", Response: "RequestForm"}, readLimited(form))
	s.handle(Route{Method: "GET", Path: "/public/status/:token", Tag: "public",
		Summary:  "What a status link shows: stage, timeline, engineer's first name, ETA while en route, completion, survey",
		Response: "PublicStatus"}, readLimited(func(c *gin.Context) {
		v, err := svc.Status(c.Request.Context(), c.Param("token"))
		if err != nil {
			s.failPublic(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}))
	s.handle(Route{Method: "POST", Path: "/public/status/:token/survey", Tag: "public",
		Summary: "Rate the completed work once: score 1-5 and an optional comment", Body: "SurveyInput", Status: http.StatusNoContent},
		readLimited(func(c *gin.Context) {
			var in SurveyInput
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
			if err := svc.Survey(c.Request.Context(), c.Param("token"), in.Score, in.Comment); err != nil {
				s.failPublic(c, err)
				return
			}
			c.Status(http.StatusNoContent)
		}))
	s.handle(Route{Method: "POST", Path: "/public/requests", Tag: "public",
		Summary: "File a request from the public form (JSON, or multipart/form-data with the same fields and up to 5 `photos`)",
		Body:    "PublicRequestInput", Response: "RequestCreated", Status: http.StatusCreated}, func(c *gin.Context) {
		addr := clientAddr(c)
		if !creates.Allow(addr) {
			tooMany(c, "requests")
			return
		}
		if !global.Allow() {
			c.Header("Retry-After", "60")
			writeError(c, http.StatusServiceUnavailable, "busy", "too many requests right now; try again in a minute")
			return
		}
		in, err := s.publicRequest(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		in.ClientIP = addr
		out, err := svc.Create(c.Request.Context(), workorders.Actor{Name: "public form", Role: workorders.RoleViewer}, in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusCreated, RequestCreated{Number: out.Order.Number, OrderID: out.Order.ID, StatusURL: statusURL(c, out.StatusURL)})
	})
}

// failPublic answers a public lookup: anything not found is one and the
// same 404, so a guess learns nothing.
func (s *Server) failPublic(c *gin.Context, err error) {
	if errors.Is(err, workorders.ErrNotFound) {
		writeError(c, http.StatusNotFound, "not_found", "no such status link")
		return
	}
	s.fail(c, err)
}

func (s *Server) writeLinks(c *gin.Context, svc *requests.Service) {
	ids, err := svc.Links(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, Links{Items: ids})
}

// orderRef resolves an order's id or number given in a body field.
func (s *Server) orderRef(c *gin.Context, ref, field string) (string, error) {
	if !orderRefRE.MatchString(ref) {
		return "", workorders.Invalid(field, "must be a work-order id or number such as WO-000123")
	}
	if !strings.HasPrefix(strings.ToUpper(ref), "WO-") {
		return ref, nil
	}
	m := orderNumRE.FindStringSubmatch(ref)
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return "", workorders.Unprocessable(field, "no work order %s", ref)
	}
	var st orderService = s.svc
	items, _, err := st.ListOrders(c.Request.Context(), workorders.OrderFilter{Number: n, Page: workorders.Page{Limit: 1}})
	if err != nil {
		return "", err
	}
	if len(items) == 0 {
		return "", workorders.Unprocessable(field, "no work order %s", ref)
	}
	return items[0].ID, nil
}

// publicRequest reads the public form: JSON, or multipart with photos.
func (s *Server) publicRequest(c *gin.Context) (requests.Input, error) {
	in := requests.Input{Channel: requests.ChannelForm}
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if ct != "multipart/form-data" {
		var body PublicRequestInput
		if err := s.decode(c, &body); err != nil {
			return in, err
		}
		in.SiteCode, in.AssetCode, in.Title, in.Description, in.Requester = body.Site, body.Asset, body.Title, body.Description, body.Requester
		return in, nil
	}
	max := int64(requests.MaxPhotos*requests.MaxPhotoBytes + 1<<20)
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return in, workorders.Invalid("body", "not a multipart form")
	}
	var p workorders.Problems
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return in, workorders.Invalid("body", "larger than %d MiB", max>>20)
			}
			return in, workorders.Invalid("body", "malformed multipart form")
		}
		name := part.FormName()
		if name == "photos" {
			if len(in.Photos) >= requests.MaxPhotos {
				p.Add("photos", "at most %d photos", requests.MaxPhotos)
				_ = part.Close()
				continue
			}
			data, err := io.ReadAll(io.LimitReader(part, requests.MaxPhotoBytes+1))
			if err != nil {
				return in, workorders.Invalid("photos", "could not be read")
			}
			in.Photos = append(in.Photos, requests.Photo{Filename: part.FileName(), Data: data})
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, 10_001))
		if err != nil {
			return in, workorders.Invalid(name, "could not be read")
		}
		if len(v) > 10_000 {
			p.Add(name, "too long")
			continue
		}
		val := string(v)
		switch name {
		case "site":
			in.SiteCode = val
		case "asset":
			in.AssetCode = val
		case "title":
			in.Title = val
		case "description":
			in.Description = val
		case "requester.name", "name":
			in.Requester.Name = val
		case "requester.email", "email":
			in.Requester.Email = val
		case "requester.phone", "phone":
			in.Requester.Phone = val
		case "requester.locale", "locale":
			in.Requester.Locale = val
		default:
			p.Add(name, "unknown field")
		}
	}
	if in.SiteCode == "" {
		p.Add("site", "required")
	}
	requests.Check(&in, &p)
	return in, p.Err()
}

// statusURL makes a status link's path ("/s/{token}") absolute: under
// Requests.PublicURL, or else under the address this request came to. An
// empty path (no requester, or a revoked link) stays empty.
func (s *Server) statusURL(c *gin.Context, path string) string {
	if path == "" || strings.Contains(path, "://") {
		return path
	}
	if u := strings.TrimRight(s.cfg.Requests.PublicURL, "/"); u != "" {
		return u + path
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + path
}
