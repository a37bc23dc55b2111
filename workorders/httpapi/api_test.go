package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

type env struct {
	t      testing.TB
	svc    *workorders.Service
	srv    *httpapi.Server
	tokens map[workorders.Role]string
	users  map[workorders.Role]workorders.User
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func newEnv(t testing.TB, mutate ...func(*httpapi.Config)) *env {
	t.Helper()
	store, _ := migratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	cfg := httpapi.Config{Service: svc}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := httpapi.New(cfg)
	require.NoError(t, err)
	e := &env{t: t, svc: svc, srv: srv, tokens: map[workorders.Role]string{}, users: map[workorders.Role]workorders.User{}}
	for _, r := range workorders.Roles() {
		u, tok, err := svc.CreateUser(context.Background(), string(r)+"-user", r)
		require.NoError(t, err)
		e.tokens[r], e.users[r] = tok, u
	}
	return e
}

// do sends a JSON request (body nil for none) and returns status and body.
func (e *env) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (e *env) mustJSON(method, path string, role workorders.Role, body any, want int, out any) {
	e.t.Helper()
	code, b := e.do(method, path, e.tokens[role], body)
	require.Equal(e.t, want, code, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(b, out), string(b))
	}
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var eb httpapi.ErrorBody
	require.NoError(t, json.Unmarshal(b, &eb), string(b))
	require.NotEmpty(t, eb.Error.Message)
	return eb.Error.Code
}

// seed creates a site, an asset, a rule and a proposed auto order.
func (e *env) seed() (site workorders.Site, asset workorders.Asset, rule rules.Rule, order workorders.Order) {
	e.mustJSON("POST", "/api/v1/sites", workorders.RolePlanner, map[string]any{"code": "plant1", "name": "Plant 1",
		"location": map[string]float64{"lat": 48.1, "lon": 11.5}}, 201, &site)
	e.mustJSON("POST", "/api/v1/assets", workorders.RolePlanner, map[string]any{"site_id": site.ID, "code": "pump-1",
		"type": "pump", "name": "Pump 1", "criticality": 4}, 201, &asset)
	e.mustJSON("POST", "/api/v1/rules", workorders.RolePlanner, json.RawMessage(`{"name":"bearing wear","asset_type":"pump",
		"metric":"vibration_rms","direction":"above","warn":4.5,"critical":7.1,"for":"5m","hysteresis":0.3,
		"predict":{"window":"12h","horizon":"7d","min_r2":0.6,"min_points":30},"failure_mode":"bearing_wear",
		"priority":"P2","skills":["vibration"],"parts":[{"sku":"BRG-6205","qty":2}],"estimated_duration":"2h","auto_approve":false}`), 201, &rule)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, o, err := e.svc.HandleSignalOrder(context.Background(), rules.Signal{Kind: rules.KindThreshold, Level: rules.LevelCritical,
		RuleID: rule.ID, Site: "plant1", Asset: "pump-1", Metric: "vibration_rms", Value: 7.4, Limit: 7.1, DetectedAt: at,
		Evidence: map[string]any{"breach_start": at.Add(-5 * time.Minute), "values": []float64{7.2, 7.4}}})
	require.NoError(e.t, err)
	require.NotNil(e.t, o)
	return site, asset, rule, *o
}

func TestThinPathAndLifeCycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, asset, rule, o := e.seed()
	require.True(t, rule.Enabled, "rules are enabled by default")

	var lst httpapi.List[workorders.Order]
	e.mustJSON("GET", "/api/v1/work-orders?status=proposed&asset_id="+asset.ID, workorders.RoleAdmin, nil, 200, &lst)
	require.Len(t, lst.Items, 1)
	got := lst.Items[0]
	require.Equal(t, o.ID, got.ID)
	require.Equal(t, workorders.StatusProposed, got.Status)
	require.Equal(t, workorders.SourceThreshold, got.Source)
	require.Equal(t, workorders.P1, got.Priority, "P2 rule, critical, criticality 4 -> P1")
	require.NotNil(t, got.DetectedAt)

	e.mustJSON("GET", "/api/v1/work-orders?number="+got.Number, workorders.RoleViewer, nil, 200, &lst)
	require.Len(t, lst.Items, 1)
	require.Equal(t, o.ID, lst.Items[0].ID)

	// Raw JSON carries the contract's fields.
	_, raw := e.do("GET", "/api/v1/work-orders/"+o.ID, e.tokens[workorders.RoleViewer], nil)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for _, k := range []string{"id", "number", "asset_id", "site_id", "title", "source", "failure_mode", "rule_id", "priority",
		"status", "created_at", "due_at", "assignee_id", "required_skills", "parts", "evidence", "detected_at", "events",
		"suggested_articles"} {
		require.Contains(t, m, k)
	}

	var edited workorders.Order
	e.mustJSON("PATCH", "/api/v1/work-orders/"+o.ID, workorders.RolePlanner, map[string]any{"title": "Bearing wear on pump-1",
		"note": "clearer title"}, 200, &edited)
	require.Equal(t, "Bearing wear on pump-1", edited.Title)

	eng := e.users[workorders.RoleEngineer]
	steps := []struct {
		action string
		role   workorders.Role
		body   any
		want   workorders.Status
	}{
		{"approve", workorders.RolePlanner, map[string]any{"priority": "P2", "required_skills": []string{"vibration", "alignment"}}, workorders.StatusApproved},
		{"assign", workorders.RolePlanner, map[string]any{"assignee_id": eng.ID}, workorders.StatusAssigned},
		{"decline", workorders.RoleEngineer, map[string]any{"reason": "off_shift"}, workorders.StatusApproved},
		{"assign", workorders.RolePlanner, map[string]any{"assignee_id": eng.ID}, workorders.StatusAssigned},
		{"accept", workorders.RoleEngineer, nil, workorders.StatusAccepted},
		{"start", workorders.RoleEngineer, nil, workorders.StatusInProgress},
		{"hold", workorders.RoleEngineer, map[string]any{"reason": "waiting_for_parts"}, workorders.StatusOnHold},
		{"resume", workorders.RoleEngineer, nil, workorders.StatusInProgress},
		{"complete", workorders.RoleEngineer, map[string]any{"resolution": "replaced bearing", "labour_time": "1h30m",
			"parts_used": []map[string]any{{"sku": "BRG-6205", "qty": 2}}}, workorders.StatusCompleted},
		{"verify", workorders.RolePlanner, nil, workorders.StatusVerified},
		{"close", workorders.RolePlanner, map[string]any{"reason": "other", "note": "repaired"}, workorders.StatusClosed},
	}
	for _, st := range steps {
		var out workorders.Order
		e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/"+st.action, st.role, st.body, 200, &out)
		require.Equal(t, st.want, out.Status, st.action)
	}
	var d httpapi.OrderDetail
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleAdmin, nil, 200, &d)
	require.Len(t, d.Events, 2+len(steps))
	require.Equal(t, workorders.EventUpdated, d.Events[1].Type)
	require.Equal(t, "1h30m", d.LabourTime.String())
	require.Equal(t, workorders.P2, d.Priority)

	// Illegal: 409, nothing changes.
	code, b := e.do("POST", "/api/v1/work-orders/"+o.ID+"/start", e.tokens[workorders.RoleAdmin], nil)
	require.Equal(t, 409, code)
	require.Equal(t, "illegal_transition", errCode(t, b))
	var d2 httpapi.OrderDetail
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleAdmin, nil, 200, &d2)
	require.Len(t, d2.Events, len(d.Events))

	// Reason required.
	var o2 workorders.Order
	e.mustJSON("POST", "/api/v1/work-orders", workorders.RolePlanner, map[string]any{"asset_id": asset.ID, "title": "Inspect pump"}, 201, &o2)
	require.Equal(t, workorders.StatusApproved, o2.Status)
	require.Equal(t, workorders.SourceManual, o2.Source)
	code, b = e.do("POST", "/api/v1/work-orders/"+o2.ID+"/cancel", e.tokens[workorders.RolePlanner], map[string]any{"reason": "dup"})
	require.Equal(t, 200, code, string(b))
}

func TestValidationMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	site, _, _, _ := e.seed()
	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"bad site code", "POST", "/api/v1/sites", map[string]any{"code": "a b", "name": "x"}, 400, "code"},
		{"unknown field", "POST", "/api/v1/sites", map[string]any{"code": "ok", "name": "x", "colour": "red"}, 400, "colour"},
		{"duplicate site", "POST", "/api/v1/sites", map[string]any{"code": "plant1", "name": "x"}, 409, "site"},
		{"criticality", "POST", "/api/v1/assets", map[string]any{"site_id": site.ID, "code": "m1", "type": "motor", "name": "M", "criticality": 9}, 422, "criticality"},
		{"no such site", "POST", "/api/v1/assets", map[string]any{"site_id": "6b0c2b0e-4a86-4a2e-9f4e-1f6a3f0b7a11", "code": "m1", "type": "motor", "name": "M", "criticality": 2}, 422, "site_id"},
		{"rule limits", "POST", "/api/v1/rules", map[string]any{"name": "r", "asset_type": "pump", "metric": "t", "direction": "above", "warn": 9, "critical": 5}, 422, "warn"},
		{"rule duration", "POST", "/api/v1/rules", json.RawMessage(`{"name":"r","asset_type":"pump","metric":"t","direction":"above","critical":5,"for":"5 parsecs"}`), 400, "duration"},
		{"bad status filter", "GET", "/api/v1/work-orders?status=sleeping", nil, 400, "status"},
		{"bad limit", "GET", "/api/v1/work-orders?limit=0", nil, 400, "limit"},
		{"bad cursor", "GET", "/api/v1/work-orders?cursor=zzz", nil, 400, "cursor"},
		{"missing order", "GET", "/api/v1/work-orders/6b0c2b0e-4a86-4a2e-9f4e-1f6a3f0b7a11", nil, 404, "not found"},
		{"manual order without title", "POST", "/api/v1/work-orders", map[string]any{"asset_id": "x"}, 400, "title"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			code, b := e.do(tt.method, tt.path, e.tokens[workorders.RoleAdmin], tt.body)
			require.Equal(t, tt.status, code, string(b))
			errCode(t, b)
			require.Contains(t, string(b), tt.field)
		})
	}
}

func TestCursorPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, asset, _, _ := e.seed()
	for i := range 7 {
		e.mustJSON("POST", "/api/v1/work-orders", workorders.RolePlanner, map[string]any{"asset_id": asset.ID,
			"title": "job " + string(rune('a'+i))}, 201, nil)
	}
	for _, q := range []string{"", "&status=approved,proposed"} {
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		var last time.Time
		for {
			var lst httpapi.List[workorders.Order]
			e.mustJSON("GET", "/api/v1/work-orders?limit=3&cursor="+cursor+q, workorders.RoleViewer, nil, 200, &lst)
			for _, o := range lst.Items {
				require.False(t, seen[o.ID], "order seen twice")
				require.True(t, last.IsZero() || !o.CreatedAt.After(last), "newest first")
				last = o.CreatedAt
				seen[o.ID] = true
			}
			pages++
			if lst.NextCursor == "" {
				break
			}
			cursor = lst.NextCursor
		}
		require.Len(t, seen, 8, q)
		require.Equal(t, 3, pages, q)
	}
}

func TestEngineerSeesOnlyOwnJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, _, o := e.seed()
	ctx := context.Background()
	other, otherTok, err := e.svc.CreateUser(ctx, "other engineer", workorders.RoleEngineer)
	require.NoError(t, err)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, nil, 200, nil)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/assign", workorders.RolePlanner, map[string]any{"assignee_id": other.ID}, 200, nil)

	me := e.tokens[workorders.RoleEngineer]
	// Another engineer's order answers as if it did not exist: neither its
	// existence nor its state leaks (issue #10).
	code, b := e.do("GET", "/api/v1/work-orders/"+o.ID, me, nil)
	require.Equal(t, 404, code, string(b))
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/accept", me, nil)
	require.Equal(t, 404, code)
	require.NotContains(t, string(b), "assigned")
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/complete", me, nil)
	require.Equal(t, 404, code, "an illegal transition on another's order must not answer 409")
	require.NotContains(t, string(b), "assigned")
	var lst httpapi.List[workorders.Order]
	e.mustJSON("GET", "/api/v1/me/jobs", workorders.RoleEngineer, nil, 200, &lst)
	require.Empty(t, lst.Items)
	e.mustJSON("GET", "/api/v1/work-orders", workorders.RoleEngineer, nil, 200, &lst)
	require.Empty(t, lst.Items)

	code, b = e.do("GET", "/api/v1/me/jobs", otherTok, nil)
	require.Equal(t, 200, code)
	require.Contains(t, string(b), o.ID)
	code, _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/accept", otherTok, nil)
	require.Equal(t, 200, code)
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) { c.MaxAttachmentBytes = 1024 })
	_, _, _, o := e.seed()
	eng := e.users[workorders.RoleEngineer]
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, nil, 200, nil)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/assign", workorders.RolePlanner, map[string]any{"assignee_id": eng.ID}, 200, nil)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	upload := func(kind, signer string, data []byte) (int, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "x.png")
		fw.Write(data)
		mw.WriteField("kind", kind)
		if signer != "" {
			mw.WriteField("signer_name", signer)
		}
		mw.Close()
		req := httptest.NewRequest("POST", "/api/v1/work-orders/"+o.ID+"/attachments", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+e.tokens[workorders.RoleEngineer])
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	code, b := upload("signature", "Jane Doe", png)
	require.Equal(t, 201, code, string(b))
	var meta workorders.AttachmentMeta
	require.NoError(t, json.Unmarshal(b, &meta))
	require.Equal(t, "image/png", meta.ContentType)
	require.Equal(t, "Jane Doe", meta.SignerName)

	code, b = upload("signature", "", png)
	require.Equal(t, 400, code, string(b))
	code, b = upload("photo", "", []byte("#!/bin/sh\necho hi\n"))
	require.Equal(t, 415, code, string(b))
	code, b = upload("photo", "", append(png, bytes.Repeat([]byte{1}, 2000)...))
	require.Equal(t, 413, code, string(b))
	errCode(t, b)

	req := httptest.NewRequest("GET", "/api/v1/work-orders/"+o.ID+"/attachments/"+meta.ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[workorders.RoleViewer])
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, png, rec.Body.Bytes())
	var lst httpapi.List[workorders.AttachmentMeta]
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID+"/attachments", workorders.RoleAdmin, nil, 200, &lst)
	require.Len(t, lst.Items, 1)
}

func TestUnconfiguredAdaptersAnswer501(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, asset, rule, _ := e.seed()
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/ingest/rejects"},
		{"GET", "/api/v1/assets/" + asset.ID + "/telemetry"},
		{"GET", "/api/v1/assets/" + asset.ID + "/health"},
	} {
		code, b := e.do(p.method, p.path, e.tokens[workorders.RoleAdmin], nil)
		require.Equal(t, 501, code, p.path)
		require.Equal(t, "not_implemented", errCode(t, b))
	}
	code, b := e.do("POST", "/api/v1/rules/"+rule.ID+"/backtest", e.tokens[workorders.RoleAdmin],
		map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})
	require.Equal(t, 501, code, string(b))
}

type fakeBacktester struct{}

func (fakeBacktester) Backtest(_ context.Context, r rules.Rule, from, _ time.Time) ([]rules.Signal, error) {
	mk := func(level rules.Level, asset string, d time.Duration) rules.Signal {
		return rules.Signal{Kind: rules.KindThreshold, Level: level, RuleID: r.ID, Site: "plant1", Asset: asset,
			Metric: r.Metric, DetectedAt: from.Add(d)}
	}
	return []rules.Signal{mk(rules.LevelWarn, "a", 0), mk(rules.LevelCritical, "a", time.Hour),
		mk(rules.LevelCritical, "a", 2*time.Hour), mk(rules.LevelCritical, "b", 3*time.Hour)}, nil
}

func TestBacktestDraftRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) { c.Backtester = fakeBacktester{} })
	var res httpapi.BacktestResult
	e.mustJSON("POST", "/api/v1/rules/backtest", workorders.RolePlanner, json.RawMessage(`{"rule":{"name":"d","asset_type":"pump",
		"metric":"vibration_rms","direction":"above","critical":7},"from":"2026-01-01T00:00:00Z","to":"2026-01-08T00:00:00Z"}`), 200, &res)
	require.Len(t, res.Signals, 4)
	require.Len(t, res.Orders, 2, "one order per asset and failure mode")
	require.Equal(t, 2, res.Orders[0].Signals)
	var lst httpapi.List[workorders.Order]
	e.mustJSON("GET", "/api/v1/work-orders", workorders.RoleAdmin, nil, 200, &lst)
	require.Empty(t, lst.Items, "a backtest changes nothing")
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	ready := false
	e := newEnv(t, func(c *httpapi.Config) {
		c.Ready = func(context.Context) error {
			if !ready {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
	})
	code, _ := e.do("GET", "/healthz", "", nil)
	require.Equal(t, 200, code)
	code, b := e.do("GET", "/readyz", "", nil)
	require.Equal(t, 503, code)
	require.Equal(t, "not_ready", errCode(t, b))
	ready = true
	code, _ = e.do("GET", "/readyz", "", nil)
	require.Equal(t, 200, code)
	code, b = e.do("GET", "/api/v1/work-orders", "", nil)
	require.Equal(t, 401, code)
	require.Equal(t, "unauthorized", errCode(t, b))
	code, _ = e.do("GET", "/api/v1/work-orders", "not-a-token", nil)
	require.Equal(t, 401, code)
	code, b = e.do("GET", "/api/v1/nothing-here", e.tokens[workorders.RoleAdmin], nil)
	require.Equal(t, 404, code)
	require.True(t, strings.Contains(string(b), "not_found"))
}

// TestTimesAreUTC: every time in the API's JSON is UTC ("Z"), whatever the
// process's zone (run the suite with TZ=Asia/Tokyo to see it bite).
func TestTimesAreUTC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, _, o := e.seed()
	_, b := e.do("GET", "/api/v1/work-orders/"+o.ID, e.tokens[workorders.RoleAdmin], nil)
	stamp := regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([^"]*)"`)
	ms := stamp.FindAllStringSubmatch(string(b), -1)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		require.Equal(t, "Z", m[2], m[0])
	}
}

func TestTokensIssueAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	eng := e.users[workorders.RoleEngineer]
	var tok httpapi.Token
	e.mustJSON("POST", "/api/v1/users/"+eng.ID+"/tokens", workorders.RoleAdmin, nil, 201, &tok)
	require.NotEmpty(t, tok.Token)
	code, b := e.do("GET", "/api/v1/me", tok.Token, nil)
	require.Equal(t, 200, code)
	require.Contains(t, string(b), eng.ID)
	e.mustJSON("DELETE", "/api/v1/users/"+eng.ID+"/tokens", workorders.RoleAdmin, nil, 204, nil)
	for _, tk := range []string{tok.Token, e.tokens[workorders.RoleEngineer]} {
		code, _ = e.do("GET", "/api/v1/me", tk, nil)
		require.Equal(t, 401, code, "revoked tokens no longer work")
	}
	code, _ = e.do("DELETE", "/api/v1/users/6b0c2b0e-4a86-4a2e-9f4e-1f6a3f0b7a11/tokens", e.tokens[workorders.RoleAdmin], nil)
	require.Equal(t, 404, code)
}
