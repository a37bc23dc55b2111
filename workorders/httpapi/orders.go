package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// Article is a knowledge-base article suggested for an order.
type Article struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	FailureModes []string `json:"failure_modes"`
	Score        float64  `json:"score"`
}

// ArticleSuggester suggests knowledge articles for an order; it returns an
// error only when the knowledge store fails.
type ArticleSuggester interface {
	SuggestArticles(ctx context.Context, o workorders.Order, limit int) ([]Article, error)
}

// OrderDetail is the detail endpoint's answer.
type OrderDetail struct {
	workorders.OrderDetail
	SuggestedArticles []Article `json:"suggested_articles"`
}

func orderFilter(c *gin.Context) (workorders.OrderFilter, error) {
	// Every invalid parameter is named in one answer.
	var probs workorders.Problems
	p, err := page(c)
	_ = probs.AddErr(err)
	f := workorders.OrderFilter{AssetID: c.Query("asset_id"), SiteID: c.Query("site_id"), Source: c.Query("source"),
		AssigneeID: c.Query("assignee_id"), Priority: c.Query("priority"), Page: p}
	if v := c.Query("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st := workorders.Status(strings.TrimSpace(st))
			if !st.Valid() {
				probs.Add("status", "unknown status %q", st)
				break
			}
			f.Status = append(f.Status, st)
		}
	}
	if f.Source != "" && !workorders.Source(f.Source).Valid() {
		probs.Add("source", "must be threshold, trend, event, manual, schedule or request")
	}
	if f.Priority != "" && !workorders.Priority(f.Priority).Valid() {
		probs.Add("priority", "must be P1, P2, P3 or P4")
	}
	if v := c.Query("number"); v != "" {
		n, err := strconv.ParseInt(strings.TrimLeft(strings.TrimPrefix(strings.ToUpper(v), "WO-"), "0"), 10, 64)
		if err != nil || n <= 0 {
			probs.Add("number", "must be a work-order number such as WO-000123")
		}
		f.Number = n
	}
	switch v := c.Query("sort"); v {
	case "", workorders.SortNewest:
	case workorders.SortRisk:
		f.Sort = v
	default:
		probs.Add("sort", "must be newest or risk")
	}
	return f, probs.Err()
}

// ownOrder loads an order and, for engineers, checks it is theirs.
func (s *Server) ownOrder(c *gin.Context, id string) (workorders.Order, error) {
	var st orderService = s.svc
	o, err := st.GetOrder(c.Request.Context(), id)
	if err != nil {
		return o, err
	}
	if notInvolved(c, o) {
		return o, fmt.Errorf("%w: no work order %s among your jobs", workorders.ErrNotFound, id)
	}
	return o, nil
}

// notInvolved reports whether the caller is an engineer who neither has
// nor helps on o (such orders answer 404, as notMine).
func notInvolved(c *gin.Context, o workorders.Order) bool {
	u := userOf(c)
	return u.Role == workorders.RoleEngineer && !o.Involves(u.ID)
}

// notMine reports whether the caller is an engineer and the order with
// this assignee is not theirs: such orders answer 404, as if they did not
// exist, so that neither their existence nor their state leaks.
func notMine(c *gin.Context, assignee *string) bool {
	u := userOf(c)
	return u.Role == workorders.RoleEngineer && (assignee == nil || *assignee != u.ID)
}

type actionIn struct {
	Note       string               `json:"note" schema:"maxLength=4000"`
	Reason     string               `json:"reason" schema:"maxLength=200"`
	Priority   *workorders.Priority `json:"priority"`
	DueAt      *time.Time           `json:"due_at"`
	Skills     []string             `json:"required_skills" schema:"maxItems=50"`
	Parts      []rules.PartQty      `json:"parts" schema:"maxItems=100"`
	AssigneeID string               `json:"assignee_id" schema:"format=uuid"`
	Resolution string               `json:"resolution" schema:"maxLength=4000"`
	LabourTime rules.Duration       `json:"labour_time"`
	PartsUsed  []rules.PartQty      `json:"parts_used" schema:"maxItems=100"`
	Evidence   map[string]any       `json:"evidence"`
}

func (s *Server) orderRoutes() {
	s.groupingRoutes()
	var st orderService = s.svc
	s.handle(Route{Method: "GET", Path: "/work-orders", Roles: anyRole(), Tag: "work-orders",
		Summary: "List work orders, newest first or riskiest first (sort=risk; engineers see their own)", Response: "WorkOrderList",
		Query: []string{"status", "asset_id", "site_id", "source", "assignee_id", "priority", "number", "sort", "limit", "cursor"}}, s.admitted(func(c *gin.Context) {
		f, err := orderFilter(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		if u := userOf(c); u.Role == workorders.RoleEngineer {
			f.Involving = u.ID
		}
		s.listOrders(c, f)
	}))
	s.handle(Route{Method: "POST", Path: "/work-orders", Roles: planners(), Tag: "work-orders",
		Summary: "Create a manual work order (starts approved)", Body: "WorkOrderInput", Response: "WorkOrder",
		Status: http.StatusCreated}, func(c *gin.Context) {
		var in workorders.NewOrder
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		o, err := st.CreateOrder(c.Request.Context(), actorOf(c), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, o)
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id", Roles: anyRole(), Tag: "work-orders",
		Summary: "A work order with evidence, parts, events and suggested articles", Response: "WorkOrderDetail"}, s.admitted(func(c *gin.Context) {
		d, err := st.OrderDetail(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		if notInvolved(c, d.Order) {
			s.fail(c, fmt.Errorf("%w: no work order %s among your jobs", workorders.ErrNotFound, c.Param("id")))
			return
		}
		d.StatusURL = s.statusURL(c, d.StatusURL)
		out := OrderDetail{OrderDetail: d, SuggestedArticles: []Article{}}
		if s.cfg.Articles != nil {
			arts, err := s.cfg.Articles.SuggestArticles(c.Request.Context(), d.Order, 5)
			if err != nil {
				s.log.WarnContext(c.Request.Context(), "suggest articles", "order_id", d.ID, "err", err)
			} else if arts != nil {
				out.SuggestedArticles = arts
			}
		}
		c.JSON(http.StatusOK, out)
	}))
	s.handle(Route{Method: "PATCH", Path: "/work-orders/:id", Roles: planners(), Tag: "work-orders",
		Summary: "Edit an open order (title, description, priority, due_at, required_skills, parts); appends an updated event",
		Body:    "WorkOrderEdit", Response: "WorkOrder"}, func(c *gin.Context) {
		var in workorders.OrderEdit
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		o, err := st.EditOrder(c.Request.Context(), actorOf(c), c.Param("id"), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, o)
	})
	for _, a := range workorders.Actions() {
		roles := planners()
		switch a {
		case workorders.ActAccept, workorders.ActDecline, workorders.ActDepart, workorders.ActArrive, workorders.ActStart, workorders.ActHold,
			workorders.ActResume, workorders.ActComplete:
			roles = fieldRoles()
		}
		s.handle(Route{Method: "POST", Path: "/work-orders/:id/" + string(a), Roles: roles, Tag: "work-orders",
			Summary: actionSummary(a), Body: "ActionInput", Response: "WorkOrder"}, s.act(a))
	}
}

func actionSummary(a workorders.Action) string {
	switch a {
	case workorders.ActApprove:
		return "Approve a proposed order (optionally changing priority, due_at, required_skills, parts)"
	case workorders.ActReject:
		return "Reject a proposed order with a reason code (no_fault_found marks a false alarm)"
	case workorders.ActAssign:
		return "Assign an approved order to an engineer (assignee_id)"
	case workorders.ActDecline:
		return "Decline an assigned job with a reason; it goes back to approved"
	case workorders.ActHold:
		return "Put a job on hold with a reason (e.g. waiting_for_parts)"
	case workorders.ActComplete:
		return "Complete a job (resolution, labour_time, parts_used)"
	case workorders.ActClose:
		return "Close a verified order with a reason code"
	case workorders.ActCancel:
		return "Cancel an order before completion"
	case workorders.ActReopen:
		return "Reopen a rejected, cancelled, completed, verified or closed order (back to approved)"
	}
	return strings.ToUpper(string(a[:1])) + string(a[1:]) + " (life-cycle action)"
}

func (s *Server) act(a workorders.Action) gin.HandlerFunc {
	var st orderService = s.svc
	return func(c *gin.Context) {
		var in actionIn
		if c.Request.ContentLength != 0 {
			if err := s.decode(c, &in); err != nil && !isEmptyBody(err) {
				s.fail(c, err)
				return
			}
		}
		o, err := st.Act(c.Request.Context(), c.Param("id"), workorders.ActionRequest{
			Action: a, Actor: actorOf(c), Note: in.Note, Reason: in.Reason, Priority: in.Priority, DueAt: in.DueAt,
			Skills: in.Skills, Parts: in.Parts, AssigneeID: in.AssigneeID, Resolution: in.Resolution,
			LabourTime: in.LabourTime, PartsUsed: in.PartsUsed, Evidence: in.Evidence,
		})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, o)
	}
}

func isEmptyBody(err error) bool {
	var ve *workorders.ValidationError
	return errors.As(err, &ve) && ve.Field == "body" && strings.HasPrefix(ve.Message, "empty")
}

func (s *Server) engineerJobRoutes() {
	s.handle(Route{Method: "GET", Path: "/me/jobs", Roles: fieldRoles(), Tag: "engineers",
		Summary: "The calling engineer's jobs and the jobs they help on (default: open ones)", Response: "WorkOrderList",
		Query: []string{"status", "limit", "cursor"}}, s.admitted(func(c *gin.Context) {
		f, err := orderFilter(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		if len(f.Status) == 0 {
			f.Status = []workorders.Status{workorders.StatusAssigned, workorders.StatusAccepted, workorders.StatusEnRoute,
				workorders.StatusOnSite, workorders.StatusInProgress, workorders.StatusOnHold}
		}
		f.Involving = userOf(c).ID
		s.listOrders(c, f)
	}))
}

// Attachment types accepted, by sniffed content type.
func allowedAttachment(kind, ctype string) bool {
	switch ctype {
	case "image/jpeg", "image/png":
		return true
	case "image/webp", "image/gif":
		return kind != "signature"
	case "application/pdf":
		return kind == "document"
	}
	return false
}

func (s *Server) attachmentRoutes() {
	var st attachmentService = s.svc
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/attachments", Roles: fieldRoles(), Tag: "work-orders",
		Summary: "Attach a photo, a signature image (signer_name required) or a document (multipart: file, kind, signer_name)",
		Body:    "AttachmentUpload", Response: "Attachment", Status: http.StatusCreated}, func(c *gin.Context) {
		if _, err := s.ownOrder(c, c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		max := s.cfg.MaxAttachmentBytes
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max+64<<10)
		fh, err := c.FormFile("file")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("attachment larger than %d bytes", max))
				return
			}
			s.fail(c, workorders.Invalid("file", "a multipart form with a file field is required"))
			return
		}
		if fh.Size > max {
			writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("attachment larger than %d bytes", max))
			return
		}
		f, err := fh.Open()
		if err != nil {
			s.fail(c, err)
			return
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			s.fail(c, err)
			return
		}
		if int64(len(data)) > max {
			writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("attachment larger than %d bytes", max))
			return
		}
		if len(data) == 0 {
			s.fail(c, workorders.Invalid("file", "empty"))
			return
		}
		kind := c.PostForm("kind")
		if kind == "" {
			kind = "photo"
		}
		ctype := http.DetectContentType(data)
		if !allowedAttachment(kind, ctype) {
			writeError(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("%s attachments may not be %s (photos: jpeg, png, webp, gif; signatures: png, jpeg; documents: also pdf)", kind, ctype))
			return
		}
		meta, err := st.AddAttachment(c.Request.Context(), actorOf(c), workorders.Attachment{
			AttachmentMeta: workorders.AttachmentMeta{OrderID: c.Param("id"), Kind: kind, Filename: fh.Filename,
				ContentType: ctype, SignerName: c.PostForm("signer_name")},
			Data: data,
		})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, meta)
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/attachments", Roles: anyRole(), Tag: "work-orders",
		Summary: "List an order's attachments", Response: "AttachmentList"}, func(c *gin.Context) {
		if _, err := s.ownOrder(c, c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		items, err := st.ListAttachments(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, ""))
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/attachments/:aid", Roles: anyRole(), Tag: "work-orders",
		Summary: "Download an attachment", Response: "Binary"}, func(c *gin.Context) {
		if _, err := s.ownOrder(c, c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		a, err := st.GetAttachment(c.Request.Context(), c.Param("id"), c.Param("aid"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.Filename))
		c.DataFromReader(http.StatusOK, int64(len(a.Data)), a.ContentType, bytes.NewReader(a.Data), nil)
	})
}
