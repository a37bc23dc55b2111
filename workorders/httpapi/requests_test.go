package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/requests"
)

func newRequestsEnv(t *testing.T, mutate ...func(*httpapi.RequestsConfig)) *env {
	t.Helper()
	return newEnv(t, func(c *httpapi.Config) {
		st := c.Service.Store.(*postgres.Store)
		c.Requests = httpapi.RequestsConfig{Service: requests.New(st, c.Service, nil, nil), PublicURL: "https://pdm.example.com"}
		for _, m := range mutate {
			m(&c.Requests)
		}
	})
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// postForm sends the public form as multipart from addr.
func (e *env) postForm(addr string, fields map[string]string, photos map[string][]byte) (int, []byte) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(e.t, mw.WriteField(k, v))
	}
	for name, data := range photos {
		fw, err := mw.CreateFormFile("photos", name)
		require.NoError(e.t, err)
		_, _ = fw.Write(data)
	}
	require.NoError(e.t, mw.Close())
	req := httptest.NewRequest("POST", "/api/v1/public/requests", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func tokenOf(t *testing.T, statusURL string) string {
	i := strings.LastIndex(statusURL, "/s/")
	require.GreaterOrEqual(t, i, 0, statusURL)
	return statusURL[i+3:]
}

func TestPublicRequestStatusMergeAndSurvey(t *testing.T) {
	t.Parallel()
	e := newRequestsEnv(t)
	_, asset, _, auto := e.seed()
	ctx := context.Background()

	// The forms name the site and asset; unknown codes are 404.
	var f requests.Form
	e.mustJSON("GET", "/api/v1/public/forms/plant1/pump-1", "", nil, 200, &f)
	require.Equal(t, "Plant 1", f.SiteName)
	require.Equal(t, "Pump 1", f.AssetName)
	e.mustJSON("GET", "/api/v1/public/forms/plant1", "", nil, 200, &f)
	require.Len(t, f.Assets, 1, "the unspecified asset is not offered")
	for _, p := range []string{"/api/v1/public/forms/nope", "/api/v1/public/forms/plant1/nope", "/api/v1/public/forms/plant1/%3Cscript%3E"} {
		code, b := e.do("GET", p, "", nil)
		require.Equal(t, 404, code, "%s: %s", p, b)
	}

	// A customer files a request with a photo: a proposed order with source
	// request and a status link.
	code, b := e.postForm("192.0.2.1", map[string]string{"site": "plant1", "asset": "pump-1",
		"description": "Pump is loud\nand leaks <b>oil</b>", "requester.name": "Li Lei", "requester.email": "li@example.com",
		"requester.locale": "zh-CN"}, map[string][]byte{"leak.png": pngBytes(t)})
	require.Equal(t, 201, code, string(b))
	var created httpapi.RequestCreated
	require.NoError(t, json.Unmarshal(b, &created))
	require.True(t, strings.HasPrefix(created.StatusURL, "https://pdm.example.com/s/"), created.StatusURL)
	tok := tokenOf(t, created.StatusURL)
	var o workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+created.OrderID, workorders.RolePlanner, nil, 200, &o)
	require.Equal(t, workorders.SourceRequest, o.Source)
	require.Equal(t, workorders.StatusProposed, o.Status, "requests wait in the review queue")
	require.Equal(t, "Pump is loud", o.Title)
	require.Equal(t, created.StatusURL, o.StatusURL, "the order carries the same absolute link")
	atts, err := e.svc.ListAttachments(ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, "image/png", atts[0].ContentType)
	var rec requests.Record
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID+"/request", workorders.RolePlanner, nil, 200, &rec)
	require.Equal(t, requests.ChannelForm, rec.Channel)
	require.Equal(t, "li@example.com", rec.Requester.Email)
	var inbox httpapi.List[requests.Record]
	e.mustJSON("GET", "/api/v1/requests?open=true", workorders.RolePlanner, nil, 200, &inbox)
	require.Len(t, inbox.Items, 1)
	require.Equal(t, o.ID, inbox.Items[0].Order.ID)

	// The status page shows the customer's view and nothing internal.
	code, b = e.do("GET", "/api/v1/public/status/"+tok, "", nil)
	require.Equal(t, 200, code, string(b))
	var v requests.View
	require.NoError(t, json.Unmarshal(b, &v))
	require.Equal(t, requests.StageReceived, v.Stage)
	require.Equal(t, "Pump 1", v.AssetName)
	for _, secret := range []string{"li@example.com", "192.0.2.1", auto.ID, asset.ID, "priority", "evidence", "assignee"} {
		require.NotContains(t, string(b), secret)
	}
	// Unknown, malformed and revoked tokens all answer the same 404.
	for _, bad := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "x", strings.Repeat("a", 64), "%00"} {
		code, b := e.do("GET", "/api/v1/public/status/"+bad, "", nil)
		require.Contains(t, []int{400, 404}, code, "%s: %s", bad, b)
	}

	// A second request about the same fault is merged into the first; its
	// requester then follows the first.
	code, b = e.postForm("192.0.2.2", map[string]string{"site": "plant1", "asset": "pump-1",
		"description": "Same pump, noise", "requester.phone": "+86 10 1234"}, nil)
	require.Equal(t, 201, code, string(b))
	var second httpapi.RequestCreated
	require.NoError(t, json.Unmarshal(b, &second))
	code, b = e.do("POST", "/api/v1/work-orders/"+second.OrderID+"/merge", e.tokens[workorders.RolePlanner], map[string]any{"into": "WO-999999"})
	require.Equal(t, 422, code, string(b))
	var merged workorders.Order
	e.mustJSON("POST", "/api/v1/work-orders/"+second.OrderID+"/merge", workorders.RolePlanner, map[string]any{"into": o.Number}, 200, &merged)
	require.Equal(t, workorders.StatusMerged, merged.Status)
	code, _ = e.do("POST", "/api/v1/work-orders/"+second.OrderID+"/merge", e.tokens[workorders.RolePlanner], map[string]any{"into": o.Number})
	require.Equal(t, 409, code, "merging twice is an illegal transition")
	e.mustJSON("GET", "/api/v1/public/status/"+tokenOf(t, second.StatusURL), "", nil, 200, &v)
	require.True(t, v.Merged)
	require.Equal(t, o.Number, v.Number, "the merged requester follows the open order")

	// Links between related orders.
	var links httpapi.Links
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/links", workorders.RolePlanner, map[string]any{"order_id": auto.Number}, 200, &links)
	require.Equal(t, []string{auto.ID}, links.Items)
	e.mustJSON("GET", "/api/v1/work-orders/"+auto.ID+"/links", workorders.RoleViewer, nil, 200, &links)
	require.Equal(t, []string{o.ID}, links.Items)

	// The order runs its course; the customer sees the engineer's first
	// name and, after completion, the report, and rates it once.
	eng := e.users[workorders.RoleEngineer]
	for _, step := range []struct {
		action string
		role   workorders.Role
		body   any
	}{
		{"approve", workorders.RolePlanner, nil},
		{"assign", workorders.RolePlanner, map[string]any{"assignee_id": eng.ID}},
		{"accept", workorders.RoleEngineer, nil},
		{"start", workorders.RoleEngineer, nil},
	} {
		e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/"+step.action, step.role, step.body, 200, nil)
	}
	code, b = e.do("POST", "/api/v1/public/status/"+tok+"/survey", "", map[string]any{"score": 5})
	require.Equal(t, 409, code, "no survey before completion: %s", b)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/complete", workorders.RoleEngineer,
		map[string]any{"resolution": "Replaced the seal", "labour_time": "1h"}, 200, nil)
	e.mustJSON("GET", "/api/v1/public/status/"+tok, "", nil, 200, &v)
	require.Equal(t, requests.StageCompleted, v.Stage)
	require.NotNil(t, v.Engineer)
	require.Equal(t, "engineer-user", *v.Engineer)
	require.NotNil(t, v.Completion)
	require.Equal(t, "Replaced the seal", v.Completion.Summary)
	require.True(t, v.Survey.Open)
	var stages []requests.Stage
	for _, s := range v.Timeline {
		stages = append(stages, s.Stage)
	}
	require.Equal(t, []requests.Stage{requests.StageReceived, requests.StageScheduled, requests.StageAssigned,
		requests.StageInProgress, requests.StageCompleted}, stages)
	code, b = e.do("POST", "/api/v1/public/status/"+tok+"/survey", "", map[string]any{"score": 9, "comment": strings.Repeat("x", 3000)})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"score"`)
	require.Contains(t, string(b), `"comment"`)
	code, b = e.do("POST", "/api/v1/public/status/"+tok+"/survey", "", map[string]any{"score": 4, "comment": "quick"})
	require.Equal(t, 204, code, string(b))
	code, _ = e.do("POST", "/api/v1/public/status/"+tok+"/survey", "", map[string]any{"score": 1})
	require.Equal(t, 409, code, "once per order")

	// Revoked links reveal nothing; a new link works.
	e.mustJSON("DELETE", "/api/v1/work-orders/"+o.ID+"/status-link", workorders.RolePlanner, nil, 204, nil)
	code, _ = e.do("GET", "/api/v1/public/status/"+tok, "", nil)
	require.Equal(t, 404, code)
	// The rating counts in /kpis: fleet-wide, for the engineer and the site.
	k, err := postgres.NewOps(e.svc.Store.(*postgres.Store).Pool()).KPIs(ctx, workorders.KPIFilter{
		From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, k.CSAT.Completed)
	require.Equal(t, 1, k.CSAT.Responses)
	require.NotNil(t, k.CSAT.CSAT)
	require.InDelta(t, 1.0, *k.CSAT.CSAT, 1e-9)
	require.Len(t, k.CSAT.Engineers, 1)
	require.Equal(t, eng.ID, k.CSAT.Engineers[0].ID)
	require.InDelta(t, 4.0, *k.CSAT.Engineers[0].MeanScore, 1e-9)
	require.Len(t, k.CSAT.Sites, 1)

	var sl httpapi.StatusLink
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/status-link", workorders.RolePlanner, nil, 201, &sl)
	e.mustJSON("GET", "/api/v1/public/status/"+tokenOf(t, sl.StatusURL), "", nil, 200, &v)
	require.NotNil(t, v.Survey.Score)
	require.Equal(t, 4, *v.Survey.Score)
}

func TestRequestBadInputAndLimits(t *testing.T) {
	t.Parallel()
	e := newRequestsEnv(t, func(c *httpapi.RequestsConfig) { c.CreatePerMinute, c.CreateBurst = 0.001, 3 })
	_, asset, _, _ := e.seed()

	// Every invalid field at once, nothing created.
	code, b := e.postForm("198.51.100.1", map[string]string{"site": "plant1", "asset": "pump-1", "description": "",
		"requester.email": "not-an-email"}, map[string][]byte{"evil.png": []byte("<script>alert(1)</script>")})
	require.Equal(t, 400, code, string(b))
	for _, f := range []string{`"description"`, `"photos[0]"`} {
		require.Contains(t, string(b), f)
	}
	code, b = e.postForm("198.51.100.1", map[string]string{"site": "plant1", "asset": "pump-1", "description": "x",
		"requester.email": "not-an-email"}, nil)
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"requester.email"`)
	code, b = e.postForm("198.51.100.1", map[string]string{"site": "nope", "description": "x", "requester.phone": "1"}, nil)
	require.Equal(t, 404, code, string(b))

	// The per-address limit (burst 3 here) stops a flood; another address
	// still gets through.
	code, b = e.postForm("198.51.100.1", map[string]string{"site": "plant1", "description": "x", "requester.phone": "1"}, nil)
	require.Equal(t, 429, code, string(b))
	code, b = e.postForm("198.51.100.2", map[string]string{"site": "plant1", "description": "site-wide", "requester.phone": "1"}, nil)
	require.Equal(t, 201, code, string(b))
	var created httpapi.RequestCreated
	require.NoError(t, json.Unmarshal(b, &created))
	var o workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+created.OrderID, workorders.RoleViewer, nil, 200, &o)
	require.NotEqual(t, asset.ID, o.AssetID, "a site-wide request goes to the site's unspecified asset")

	// The API: planners file requests for any asset; every problem named.
	code, b = e.do("POST", "/api/v1/requests", e.tokens[workorders.RolePlanner], map[string]any{"asset_id": "x", "priority": "P9",
		"requester": map[string]any{"email": "bad"}})
	require.Equal(t, 400, code, string(b))
	code, b = e.do("POST", "/api/v1/requests", e.tokens[workorders.RoleEngineer], map[string]any{"asset_id": asset.ID, "title": "t", "requester": map[string]any{}})
	require.Equal(t, 403, code, string(b))
	var apiCreated httpapi.RequestCreated
	e.mustJSON("POST", "/api/v1/requests", workorders.RolePlanner, map[string]any{"asset_id": asset.ID, "title": "Call: pump noise",
		"priority": "P2", "requester": map[string]any{"name": "CRM", "email": "crm@example.com"}, "external_ref": "CASE-1"}, 201, &apiCreated)
	var rec requests.Record
	e.mustJSON("GET", "/api/v1/work-orders/"+apiCreated.OrderID+"/request", workorders.RoleViewer, nil, 200, &rec)
	require.Equal(t, requests.ChannelAPI, rec.Channel)
	require.Equal(t, "CASE-1", rec.ExternalRef)
	var lst httpapi.List[workorders.Order]
	e.mustJSON("GET", "/api/v1/work-orders?source=request", workorders.RoleViewer, nil, 200, &lst)
	require.Len(t, lst.Items, 2)
}

func TestAssetLabels(t *testing.T) {
	t.Parallel()
	e := newRequestsEnv(t)
	site, asset, _, _ := e.seed()
	get := func(path string) (int, string, []byte) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[workorders.RoleViewer])
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()
	}
	code, ct, b := get("/api/v1/assets/" + asset.ID + "/label")
	require.Equal(t, 200, code, string(b))
	require.Equal(t, "image/png", ct)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 300)
	code, ct, b = get("/api/v1/assets/" + asset.ID + "/label?format=pdf")
	require.Equal(t, 200, code, string(b))
	require.Equal(t, "application/pdf", ct)
	require.True(t, bytes.HasPrefix(b, []byte("%PDF")))
	code, _, b = get("/api/v1/sites/" + site.ID + "/labels")
	require.Equal(t, 200, code, string(b))
	require.True(t, bytes.HasPrefix(b, []byte("%PDF")))
	code, _, _ = get("/api/v1/assets/" + asset.ID + "/label?format=gif")
	require.Equal(t, 400, code)
	code, _, _ = get("/api/v1/assets/00000000-0000-0000-0000-000000000000/label")
	require.Equal(t, 404, code)
}

func TestNotificationSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) {
		st := c.Service.Store.(*postgres.Store)
		c.Requests = httpapi.RequestsConfig{Service: requests.New(st, c.Service, nil, nil), Notify: st}
	})
	code, b := e.do("POST", "/api/v1/notifications/subscriptions", e.tokens[workorders.RoleAdmin],
		map[string]any{"channel": "fax", "target": "x", "kinds": []string{"nope"}})
	require.Equal(t, 400, code, string(b))
	code, b = e.do("POST", "/api/v1/notifications/subscriptions", e.tokens[workorders.RoleAdmin],
		map[string]any{"channel": "wecom", "target": "ftp://x", "kinds": []string{"nope"}})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"target"`)
	require.Contains(t, string(b), `"kinds[0]"`)
	code, _ = e.do("POST", "/api/v1/notifications/subscriptions", e.tokens[workorders.RolePlanner],
		map[string]any{"channel": "slack", "target": "https://hooks.example.com/x"})
	require.Equal(t, 403, code)
	var sub notify.Subscription
	e.mustJSON("POST", "/api/v1/notifications/subscriptions", workorders.RoleAdmin,
		map[string]any{"channel": "dingtalk", "target": "https://oapi.dingtalk.com/robot/send?access_token=x", "kinds": []string{"sla_breached"}, "locale": "zh-CN"}, 201, &sub)
	var l httpapi.List[notify.Subscription]
	e.mustJSON("GET", "/api/v1/notifications/subscriptions", workorders.RolePlanner, nil, 200, &l)
	require.Len(t, l.Items, 1)
	e.mustJSON("DELETE", "/api/v1/notifications/subscriptions/"+sub.ID, workorders.RoleAdmin, nil, 204, nil)
	e.mustJSON("GET", "/api/v1/notifications/outbox?status=pending", workorders.RoleAdmin, nil, 200, nil)
}

// TestPersonalNotificationSubscriptions: a user's own subscriptions are
// bound to the caller whatever the body says, listed only to them, and
// bad input names its fields and stores nothing.
func TestPersonalNotificationSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) {
		st := c.Service.Store.(*postgres.Store)
		c.Requests = httpapi.RequestsConfig{Service: requests.New(st, c.Service, nil, nil), Notify: st}
	})
	eng := e.users[workorders.RoleEngineer]
	planner := e.users[workorders.RolePlanner]
	code, b := e.do("POST", "/api/v1/me/notification-subscriptions", e.tokens[workorders.RoleEngineer],
		map[string]any{"channel": "wecom", "target": "ftp://x", "kinds": []string{"nope"}})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"target"`)
	require.Contains(t, string(b), `"kinds[0]"`)

	var sub notify.Subscription
	e.mustJSON("POST", "/api/v1/me/notification-subscriptions", workorders.RoleEngineer,
		map[string]any{"channel": "email", "target": "li@example.com", "user_id": planner.ID}, 201, &sub)
	require.NotNil(t, sub.UserID)
	require.Equal(t, eng.ID, *sub.UserID, "bound to the caller, not to the user_id in the body")
	require.Equal(t, "en", sub.Locale, "the default locale")
	require.True(t, sub.Active)

	var l httpapi.List[notify.Subscription]
	e.mustJSON("GET", "/api/v1/me/notification-subscriptions", workorders.RoleEngineer, nil, 200, &l)
	require.Len(t, l.Items, 1, "the rejected one was not stored")
	e.mustJSON("GET", "/api/v1/me/notification-subscriptions", workorders.RolePlanner, nil, 200, &l)
	require.Empty(t, l.Items, "another user sees none of them")
	code, _ = e.do("DELETE", "/api/v1/me/notification-subscriptions/"+sub.ID, e.tokens[workorders.RolePlanner], nil)
	require.Equal(t, 404, code, "nor can delete them")
	e.mustJSON("DELETE", "/api/v1/me/notification-subscriptions/"+sub.ID, workorders.RoleEngineer, nil, 204, nil)
	e.mustJSON("GET", "/api/v1/me/notification-subscriptions", workorders.RoleEngineer, nil, 200, &l)
	require.Empty(t, l.Items)
}
