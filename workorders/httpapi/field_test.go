package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// withIdempotency wires the PostgreSQL Idempotency-Key store.
func withIdempotency(cfg *httpapi.Config) {
	cfg.Idempotency = postgres.NewIdempotency(cfg.Service.Store.(*postgres.Store).Pool())
}

// keyed sends a JSON request with an Idempotency-Key.
func (e *env) keyed(srv *httpapi.Server, method, path string, role workorders.Role, key string, body map[string]any) *httptest.ResponseRecorder {
	e.t.Helper()
	var b []byte
	if body != nil {
		var err error
		b, err = json.Marshal(body)
		require.NoError(e.t, err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(httpapi.IdempotencyHeader, key)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

func (e *env) eventCount(id string) int {
	e.t.Helper()
	d, err := e.svc.OrderDetail(context.Background(), id)
	require.NoError(e.t, err)
	return len(d.Events)
}

// TestIdempotencyKeyEveryAction sends every life-cycle action twice with
// one key: the second answer is the first one, replayed, and the order's
// history has one event per action. The same key with another body is a
// 422; another user may use the same key for their own request.
func TestIdempotencyKeyEveryAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency)
	ctx := context.Background()
	_, _, _, o := e.seed()
	eng := e.users[workorders.RoleEngineer].ID
	type step struct {
		action string
		role   workorders.Role
		body   map[string]any
		want   workorders.Status
	}
	walk := func(id string, steps []step) {
		for i, s := range steps {
			key := fmt.Sprintf("%s-%d-%s", id[:8], i, s.action)
			path := "/api/v1/work-orders/" + id + "/" + s.action
			first := e.keyed(e.srv, "POST", path, s.role, key, s.body)
			require.Equal(t, 200, first.Code, "%s: %s", s.action, first.Body)
			events := e.eventCount(id)
			again := e.keyed(e.srv, "POST", path, s.role, key, s.body)
			require.Equal(t, 200, again.Code, "%s replay: %s", s.action, again.Body)
			require.Equal(t, "true", again.Header().Get(httpapi.IdempotentReplayHeader), s.action)
			require.JSONEq(t, first.Body.String(), again.Body.String(), s.action)
			require.Equal(t, events, e.eventCount(id), "%s replayed must append nothing", s.action)
			var got workorders.Order
			require.NoError(t, json.Unmarshal(again.Body.Bytes(), &got))
			require.Equal(t, s.want, got.Status, s.action)
			if s.body != nil {
				changed := map[string]any{"note": "another body"}
				for k, v := range s.body {
					changed[k] = v
				}
				other := e.keyed(e.srv, "POST", path, s.role, key, changed)
				require.Equal(t, 422, other.Code, "%s with another body: %s", s.action, other.Body)
				require.Equal(t, "idempotency_key_reused", errCode(t, other.Body.Bytes()))
			}
		}
	}
	P, E := workorders.RolePlanner, workorders.RoleEngineer
	walk(o.ID, []step{
		{"approve", P, map[string]any{}, workorders.StatusApproved},
		{"assign", P, map[string]any{"assignee_id": eng}, workorders.StatusAssigned},
		{"decline", E, map[string]any{"reason": "too far"}, workorders.StatusApproved},
		{"assign", P, map[string]any{"assignee_id": eng}, workorders.StatusAssigned},
		{"accept", E, nil, workorders.StatusAccepted},
		{"depart", E, nil, workorders.StatusEnRoute},
		{"arrive", E, nil, workorders.StatusOnSite},
		{"start", E, nil, workorders.StatusInProgress},
		{"hold", E, map[string]any{"reason": "waiting for the customer"}, workorders.StatusOnHold},
		{"resume", E, nil, workorders.StatusInProgress},
		{"complete", E, map[string]any{"resolution": "bearing replaced", "labour_time": "1h30m"}, workorders.StatusCompleted},
		{"verify", P, nil, workorders.StatusVerified},
		{"close", P, map[string]any{"reason": "duplicate"}, workorders.StatusClosed},
		{"reopen", P, nil, workorders.StatusApproved},
		{"cancel", P, map[string]any{"reason": "not needed"}, workorders.StatusCancelled},
	})
	o2, err := e.svc.CreateOrder(ctx, workorders.System("t"), workorders.NewOrder{AssetID: o.AssetID, Title: "second", Priority: workorders.P3})
	require.NoError(t, err)
	_, err = e.svc.Act(ctx, o2.ID, workorders.ActionRequest{Action: workorders.ActReopen, Actor: workorders.System("t")})
	require.Error(t, err)
	o3 := e.seedProposed(o.AssetID)
	walk(o3, []step{{"reject", P, map[string]any{"reason": "no_fault_found"}, workorders.StatusRejected}})

	// One user's key does not collide with another user's.
	a := e.keyed(e.srv, "POST", "/api/v1/work-orders/"+o2.ID+"/cancel", workorders.RoleAdmin, "shared-key", map[string]any{"reason": "x"})
	require.Equal(t, 200, a.Code, a.Body.String())
	p := e.keyed(e.srv, "POST", "/api/v1/work-orders/"+o2.ID+"/cancel", workorders.RolePlanner, "shared-key", map[string]any{"reason": "x"})
	require.Equal(t, 409, p.Code, "the planner's own request runs (and finds the order cancelled): %s", p.Body)
	require.Empty(t, p.Header().Get(httpapi.IdempotentReplayHeader))
	// The same key on another path is another request.
	q := e.keyed(e.srv, "POST", "/api/v1/work-orders/"+o.ID+"/cancel", workorders.RoleAdmin, "shared-key", map[string]any{"reason": "x"})
	require.Equal(t, 422, q.Code, q.Body.String())
	// Malformed keys are refused before anything runs.
	bad := e.keyed(e.srv, "POST", "/api/v1/work-orders/"+o.ID+"/reopen", P, strings.Repeat("k", 256), nil)
	require.Equal(t, 400, bad.Code)
	require.Contains(t, fieldsOf(t, bad.Body.Bytes()), httpapi.IdempotencyHeader)
}

// seedProposed raises another proposed order on the asset (manual orders
// start approved, so it is made through the store).
func (e *env) seedProposed(assetID string) string {
	e.t.Helper()
	o, err := e.svc.CreateOrder(context.Background(), workorders.System("t"), workorders.NewOrder{AssetID: assetID, Title: "to reject", Priority: workorders.P4})
	require.NoError(e.t, err)
	o, err = e.svc.UpdateOrder(context.Background(), o.ID, func(o *workorders.Order) (workorders.Event, error) {
		o.Status = workorders.StatusProposed
		return workorders.Event{Type: workorders.EventUpdated, Actor: "test"}, nil
	})
	require.NoError(e.t, err)
	return o.ID
}

// TestIdempotencyKeySurvivesRestart: a server built afresh over the same
// database (a restarted process) replays the first answer.
func TestIdempotencyKeySurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency)
	_, _, _, o := e.seed()
	first := e.keyed(e.srv, "POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, "restart-1", map[string]any{"note": "ok"})
	require.Equal(t, 200, first.Code, first.Body.String())
	events := e.eventCount(o.ID)

	restarted, err := httpapi.New(httpapi.Config{Service: workorders.NewService(e.svc.Store, nil, nil),
		Idempotency: postgres.NewIdempotency(e.svc.Store.(*postgres.Store).Pool())})
	require.NoError(t, err)
	again := e.keyed(restarted, "POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, "restart-1", map[string]any{"note": "ok"})
	require.Equal(t, 200, again.Code, "replayed, not a 409 illegal transition: %s", again.Body)
	require.Equal(t, "true", again.Header().Get(httpapi.IdempotentReplayHeader))
	require.JSONEq(t, first.Body.String(), again.Body.String())
	require.Equal(t, events, e.eventCount(o.ID))
}

// TestIdempotencyKeyOnEveryPost: every authenticated POST route takes the
// header; whatever its first answer (below 500), the second is a replay.
func TestIdempotencyKeyOnEveryPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency, withField(t))
	_, _, _, o := e.seed()
	n := 0
	for _, r := range e.srv.Routes() {
		if r.Method != "POST" || len(r.Roles) == 0 {
			continue
		}
		path := strings.ReplaceAll(r.Path, "/work-orders/:id", "/work-orders/"+o.ID)
		path = strings.ReplaceAll(path, ":id", "00000000-0000-4000-8000-000000000000")
		key := "every-" + r.Path
		first := e.keyed(e.srv, "POST", path, workorders.RoleAdmin, key, map[string]any{})
		if first.Code >= 500 {
			continue
		}
		again := e.keyed(e.srv, "POST", path, workorders.RoleAdmin, key, map[string]any{})
		require.Equal(t, first.Code, again.Code, "%s", r.Path)
		require.Equal(t, "true", again.Header().Get(httpapi.IdempotentReplayHeader), "%s", r.Path)
		require.Equal(t, first.Body.String(), again.Body.String(), "%s", r.Path)
		n++
	}
	require.Greater(t, n, 20)
}

func withField(t *testing.T) func(cfg *httpapi.Config) {
	return func(cfg *httpapi.Config) {
		svc := cfg.Service
		ops := postgres.NewOps(svc.Store.(*postgres.Store).Pool())
		inv := workorders.NewInventory(svc, ops, nil, nil)
		disp, err := workorders.NewDispatchRunner(svc, ops, inv, dispatch.DefaultConfig(), nil, nil)
		require.NoError(t, err)
		cfg.Ops = httpapi.OpsConfig{Store: ops, Dispatch: disp, Inventory: inv, KPIs: ops}
		eta := workorders.ETAEstimator{Store: ops, Travel: dispatch.DefaultConfig()}
		svc.EstimateETA = eta.Estimate
		cfg.Field = httpapi.FieldConfig{Locations: ops, ETA: eta.Estimate}
	}
}

// TestLocationBatchAndPrivacy: a batch of buffered points is stored once
// (sent twice, kept once), the newest becomes the current location and
// drives the ETA; an engineer sees their own history, not a colleague's
// home, position or van position.
func TestLocationBatchAndPrivacy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency, withField(t))
	ctx := context.Background()
	_, _, _, o := e.seed()
	me := e.users[workorders.RoleEngineer]
	other, _, err := e.svc.CreateUser(ctx, "colleague", workorders.RoleEngineer)
	require.NoError(t, err)
	var mine, theirs workorders.Engineer
	e.mustJSON("POST", "/api/v1/engineers", workorders.RolePlanner, map[string]any{"name": "Me", "user_id": me.ID,
		"home": map[string]float64{"lat": 48.0, "lon": 11.0}}, 201, &mine)
	e.mustJSON("POST", "/api/v1/engineers", workorders.RolePlanner, map[string]any{"name": "Colleague", "user_id": other.ID,
		"home": map[string]float64{"lat": 47.5, "lon": 10.5}}, 201, &theirs)

	now := time.Now().UTC().Truncate(time.Second)
	pts := []map[string]any{}
	for i := range 5 {
		pts = append(pts, map[string]any{"at": now.Add(time.Duration(i-5) * time.Minute), "lat": 48.0 + float64(i)*0.01, "lon": 11.4, "accuracy_m": 12})
	}
	var res httpapi.LocationBatchResult
	e.mustJSON("POST", "/api/v1/me/locations", workorders.RoleEngineer, map[string]any{"points": pts}, 200, &res)
	require.Equal(t, 5, res.Stored)
	require.NotNil(t, res.Engineer.Location)
	require.InDelta(t, 48.04, res.Engineer.Location.Lat, 1e-9, "the newest point is the current location")
	// Sent again (a lost answer, no key): nothing new is stored.
	e.mustJSON("POST", "/api/v1/me/locations", workorders.RoleEngineer, map[string]any{"points": pts}, 200, &res)
	require.Equal(t, 0, res.Stored)
	// An older batch arriving late does not move the current location back.
	e.mustJSON("POST", "/api/v1/me/locations", workorders.RoleEngineer, map[string]any{"points": []map[string]any{
		{"at": now.Add(-time.Hour), "lat": 40.0, "lon": 10.0}}}, 200, &res)
	require.InDelta(t, 48.04, res.Engineer.Location.Lat, 1e-9)
	var hist httpapi.List[workorders.LocationPoint]
	e.mustJSON("GET", "/api/v1/me/locations", workorders.RoleEngineer, nil, 200, &hist)
	require.Len(t, hist.Items, 6)
	require.True(t, hist.Items[0].At.Before(hist.Items[1].At))

	code, b := e.do("POST", "/api/v1/me/locations", e.tokens[workorders.RoleEngineer], map[string]any{"points": []map[string]any{
		{"at": now, "lat": 91, "lon": 0}, {"at": now.Add(time.Hour), "lat": 0, "lon": 0}}})
	require.Equal(t, 422, code, string(b))
	f := fieldsOf(t, b)
	require.Contains(t, f, "points[0].lat")
	require.Contains(t, f, "points[1].at")

	// Privacy.
	code, _ = e.do("GET", "/api/v1/engineers/"+theirs.ID+"/locations", e.tokens[workorders.RoleEngineer], nil)
	require.Equal(t, 403, code)
	var got workorders.Engineer
	e.mustJSON("GET", "/api/v1/engineers/"+theirs.ID, workorders.RoleEngineer, nil, 200, &got)
	require.Zero(t, got.Home)
	require.Nil(t, got.Location)
	e.mustJSON("GET", "/api/v1/engineers/"+mine.ID, workorders.RoleEngineer, nil, 200, &got)
	require.Equal(t, 48.0, got.Home.Lat)
	var engs httpapi.List[workorders.Engineer]
	e.mustJSON("GET", "/api/v1/engineers", workorders.RoleEngineer, nil, 200, &engs)
	for _, x := range engs.Items {
		if x.ID != mine.ID {
			require.Zero(t, x.Home, x.Name)
		}
	}
	var vans httpapi.List[workorders.StockLocation]
	e.mustJSON("GET", "/api/v1/stock-locations?kind=van", workorders.RoleEngineer, nil, 200, &vans)
	require.Len(t, vans.Items, 2)
	for _, v := range vans.Items {
		if *v.EngineerID == mine.ID {
			require.NotNil(t, v.Location)
		} else {
			require.Nil(t, v.Location, "a colleague's van stands at their home")
		}
	}
	e.mustJSON("GET", "/api/v1/engineers/"+theirs.ID, workorders.RolePlanner, nil, 200, &got)
	require.Equal(t, 47.5, got.Home.Lat, "planners see everything")

	// ETA from the last location: depart records it; GET /eta estimates now.
	for _, a := range []workorders.ActionRequest{{Action: workorders.ActApprove}, {Action: workorders.ActAssign, AssigneeID: me.ID}} {
		a.Actor = workorders.System("t")
		_, err := e.svc.Act(ctx, o.ID, a)
		require.NoError(t, err)
	}
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/accept", workorders.RoleEngineer, nil, 200, nil)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/depart", workorders.RoleEngineer, nil, 200, nil)
	var eta workorders.ETA
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID+"/eta", workorders.RoleEngineer, nil, 200, &eta)
	require.Equal(t, "location", eta.From)
	require.InDelta(t, 10.0, eta.DistanceKm, 0.3, "from 48.04,11.4 to the site at 48.1,11.5")
	require.True(t, eta.At.After(time.Now()))
	d, err := e.svc.OrderDetail(ctx, o.ID)
	require.NoError(t, err)
	last := d.Events[len(d.Events)-1]
	require.Equal(t, "departed", last.Type)
	require.Contains(t, string(last.Data), `"eta"`)
}

// TestCommentsWithMentions: a note from the field is an event that
// changes nothing of the order; @mentions of known users are listed.
func TestCommentsWithMentions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency)
	_, _, _, o := e.seed()
	var ev workorders.Event
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/comments", workorders.RolePlanner,
		map[string]any{"text": "@engineer-user please check the seal, cc @nobody"}, 201, &ev)
	require.Equal(t, workorders.EventComment, ev.Type)
	require.Contains(t, string(ev.Data), e.users[workorders.RoleEngineer].ID)
	require.NotContains(t, string(ev.Data), "nobody")
	var got workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleAdmin, nil, 200, &got)
	require.Equal(t, workorders.StatusProposed, got.Status)
	// Not the engineer's job: 404, as if it did not exist.
	code, _ := e.do("POST", "/api/v1/work-orders/"+o.ID+"/comments", e.tokens[workorders.RoleEngineer], map[string]any{"text": "hi"})
	require.Equal(t, 404, code)
	code, b := e.do("POST", "/api/v1/work-orders/"+o.ID+"/comments", e.tokens[workorders.RolePlanner], map[string]any{"text": ""})
	require.Equal(t, 400, code, string(b))
}

// TestOpenAPIRefsResolve: every $ref of the served document names a schema
// it holds (the web client's generator refuses the document otherwise).
func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency, withField(t), withClaims(t))
	doc := e.srv.OpenAPI()
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, m := range regexp.MustCompile(`"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		require.Contains(t, schemas, m[1], "unresolved $ref")
	}
}
