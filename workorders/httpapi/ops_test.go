package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/gateways"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// newOpsEnv is newEnv with dispatch, inventory, KPIs, knowledge and
// schedules wired the way cmd wires them.
func newOpsEnv(t testing.TB) *env {
	t.Helper()
	return newEnv(t, func(cfg *httpapi.Config) {
		svc := cfg.Service
		store, ok := svc.Store.(*postgres.Store)
		require.True(t, ok)
		ops := postgres.NewOps(store.Pool())
		inv := workorders.NewInventory(svc, ops, nil, nil)
		disp, err := workorders.NewDispatchRunner(svc, ops, inv, dispatch.DefaultConfig(), nil, nil)
		require.NoError(t, err)
		svc.AfterTransition = disp.AfterTransition
		svc.CheckPartsUsed = inv.CheckUsed
		cfg.Ops = httpapi.OpsConfig{Store: ops, Dispatch: disp, Inventory: inv, KPIs: ops,
			Knowledge: workorders.NewKnowledge(svc, ops), Schedules: workorders.NewScheduler(svc, ops, nil, nil, nil)}
		cfg.Gateways = &gateways.Service{Store: store, TopicRoot: "pdm/v1", OfflineAfter: time.Minute,
			Log: slog.New(slog.DiscardHandler)}
	})
}

func isOpsRoute(p string) bool {
	for _, pre := range []string{"/api/v1/engineers", "/api/v1/dispatch", "/api/v1/parts", "/api/v1/stock", "/api/v1/purchase-requests",
		"/api/v1/kpis", "/api/v1/knowledge", "/api/v1/schedules", "/api/v1/me/location", "/api/v1/me/engineer"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return strings.HasSuffix(p, "/parts") || strings.HasSuffix(p, "/knowledge")
}

// TestOpsRoleMatrix walks every dispatch/inventory/KPI/knowledge/schedule
// route with every role: unlisted roles get 403 (no token 401) and change
// nothing; listed roles get past authorization.
func TestOpsRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	_, _, _, o := e.seed()
	ctx := context.Background()
	_, err := e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActApprove, Actor: workorders.System("t")})
	require.NoError(t, err)
	_, err = e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: e.users[workorders.RoleEngineer].ID,
		Actor: workorders.System("t")})
	require.NoError(t, err)
	id := "00000000-0000-4000-8000-000000000000"
	fill := func(p string) string {
		p = strings.ReplaceAll(p, "/work-orders/:id", "/work-orders/"+o.ID)
		return strings.ReplaceAll(p, ":id", id)
	}
	checked := 0
	var ops []httpapi.Route
	for _, r := range e.srv.Routes() {
		if isOpsRoute(r.Path) {
			ops = append(ops, r)
		}
	}
	require.Greater(t, len(ops), 35)
	for _, r := range ops {
		require.NotEmpty(t, r.Roles, "%s %s must need a token", r.Method, r.Path)
		require.Contains(t, r.Roles, workorders.RoleAdmin)
		path := fill(r.Path)
		var body any
		if r.Method == "POST" || r.Method == "PUT" {
			body = map[string]any{}
		}
		code, b := e.do(r.Method, path, "", body)
		require.Equal(t, 401, code, "%s %s without token: %s", r.Method, r.Path, b)
		for _, role := range workorders.Roles() {
			code, b := e.do(r.Method, path, e.tokens[role], body)
			if slices.Contains(r.Roles, role) {
				if r.Method == "GET" {
					require.NotContains(t, []int{401, 403}, code, "%s %s as %s: %s", r.Method, r.Path, role, b)
				}
				continue
			}
			require.Equal(t, 403, code, "%s %s as %s: %s", r.Method, r.Path, role, b)
			require.Equal(t, "forbidden", errCode(t, b))
			checked++
		}
	}
	require.Greater(t, checked, 40)
	// Viewers and engineers cannot dispatch or move stock.
	for _, role := range []workorders.Role{workorders.RoleViewer, workorders.RoleEngineer} {
		code, _ := e.do("POST", "/api/v1/dispatch/run", e.tokens[role], nil)
		require.Equal(t, 403, code)
		code, _ = e.do("POST", "/api/v1/stock/movements", e.tokens[role], map[string]any{})
		require.Equal(t, 403, code)
	}
}

func TestOpsOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	code, b := e.do("GET", "/api/v1/openapi.json", "", nil)
	require.Equal(t, 200, code)
	var doc struct {
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	var documented, served []string
	for p, m := range doc.Paths {
		for method := range m {
			documented = append(documented, strings.ToUpper(method)+" "+p)
		}
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, r := range e.srv.RegisteredRoutes() {
		served = append(served, param.ReplaceAllString(r, "{$1}"))
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)
	require.Contains(t, documented, "POST /api/v1/dispatch/run")
	require.Contains(t, documented, "GET /api/v1/stock/movements")
	for _, m := range regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(b), -1) {
		require.Contains(t, doc.Components.Schemas, m[1])
	}
	stock, _ := json.Marshal(doc.Components.Schemas["Stock"])
	for _, f := range []string{"on_hand", "reserved", "available", "reorder_point", "reorder_qty", "expected_demand"} {
		require.Contains(t, string(stock), `"`+f+`"`)
	}
}

// TestOpsThroughTheAPI walks a job through dispatch and parts over HTTP.
func TestOpsThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	site, asset, _, _ := e.seed()
	const pl, ad = workorders.RolePlanner, workorders.RoleAdmin
	eng := e.users[workorders.RoleEngineer]

	var wh workorders.StockLocation
	e.mustJSON("POST", "/api/v1/stock-locations", pl, map[string]any{"code": "W1", "name": "Main",
		"location": map[string]float64{"lat": 48.1, "lon": 11.5}}, 201, &wh)
	e.mustJSON("POST", "/api/v1/parts", pl, map[string]any{"sku": "SEAL-1", "name": "Seal", "unit_cost": 12.5, "lead_time": "3d"}, 201, nil)
	code, b := e.do("POST", "/api/v1/parts", e.tokens[pl], map[string]any{"sku": "SEAL-1", "name": "again"})
	require.Equal(t, 409, code, string(b))
	code, b = e.do("POST", "/api/v1/parts", e.tokens[pl], map[string]any{"sku": "bad sku!", "name": "x"})
	require.Equal(t, 400, code, string(b))
	e.mustJSON("POST", "/api/v1/stock/movements", pl, map[string]any{"kind": "receipt", "location_id": wh.ID, "sku": "SEAL-1", "qty": 5}, 201, nil)
	code, b = e.do("POST", "/api/v1/stock/movements", e.tokens[pl], map[string]any{"kind": "adjust", "location_id": wh.ID, "sku": "SEAL-1", "qty": -6})
	require.Equal(t, 409, code, string(b))
	require.Equal(t, "conflict", errCode(t, b))
	require.Contains(t, string(b), "insufficient stock")
	e.mustJSON("PUT", "/api/v1/stock/policy", pl, map[string]any{"location_id": wh.ID, "sku": "SEAL-1", "reorder_point": 4, "reorder_qty": 10}, 200, nil)

	var en workorders.Engineer
	e.mustJSON("POST", "/api/v1/engineers", pl, map[string]any{"name": "Eve", "user_id": eng.ID,
		"skills": []string{"vibration:2", "electrical"}, "home": map[string]float64{"lat": 48.12, "lon": 11.5},
		"shifts": []map[string]string{{"day": "mon", "start": "00:00", "end": "00:00"}, {"day": "tue", "start": "00:00", "end": "00:00"},
			{"day": "wed", "start": "00:00", "end": "00:00"}, {"day": "thu", "start": "00:00", "end": "00:00"},
			{"day": "fri", "start": "00:00", "end": "00:00"}, {"day": "sat", "start": "00:00", "end": "00:00"},
			{"day": "sun", "start": "00:00", "end": "00:00"}}, "max_open_jobs": 4}, 201, &en)
	require.Equal(t, workorders.SkillLevels{"vibration": 2, "electrical": 1}, en.Skills)
	code, b = e.do("POST", "/api/v1/engineers", e.tokens[pl], map[string]any{"name": "x", "home": map[string]float64{"lat": 91, "lon": 0}})
	require.Equal(t, 422, code, string(b))
	code, b = e.do("POST", "/api/v1/engineers", e.tokens[pl], map[string]any{"name": "x", "home": map[string]float64{"lat": 1, "lon": 0},
		"shifts": []map[string]string{{"day": "someday", "start": "8", "end": "9"}}})
	require.Equal(t, 400, code, string(b))

	// Engineer reports a location.
	e.mustJSON("POST", "/api/v1/me/location", workorders.RoleEngineer, map[string]float64{"lat": 48.11, "lon": 11.51}, 200, &en)
	require.NotNil(t, en.Location)
	code, _ = e.do("POST", "/api/v1/me/location", e.tokens[workorders.RoleViewer], map[string]float64{"lat": 1, "lon": 1})
	require.Equal(t, 403, code)

	// A manual order needing 2 seals; dispatch assigns it and reserves.
	var o workorders.Order
	e.mustJSON("POST", "/api/v1/work-orders", pl, map[string]any{"asset_id": asset.ID, "title": "Replace seal",
		"priority": "P2", "required_skills": []string{"vibration"}, "parts": []map[string]any{{"sku": "SEAL-1", "qty": 2}},
		"estimated_duration": "1h", "failure_mode": "seal_leak"}, 201, &o)
	var run workorders.DispatchRun
	e.mustJSON("POST", "/api/v1/dispatch/run", pl, nil, 200, &run)
	var mine *workorders.PlannedJob
	for i := range run.Jobs {
		if run.Jobs[i].OrderID == o.ID {
			mine = &run.Jobs[i]
		}
	}
	require.NotNil(t, mine, "the order is in the run: %+v", run)
	require.Equal(t, "assigned", mine.Outcome, mine.Why)
	require.Equal(t, eng.ID, mine.AssigneeID)
	var plan workorders.Plan
	e.mustJSON("GET", "/api/v1/dispatch/plan", workorders.RoleViewer, nil, 200, &plan)
	require.NotEmpty(t, plan.Current)
	require.NotNil(t, plan.Current[0].TravelMinutes)
	require.NotNil(t, plan.LastRun)

	var stock httpapi.List[workorders.StockRow]
	e.mustJSON("GET", "/api/v1/stock?location_id="+wh.ID, workorders.RoleViewer, nil, 200, &stock)
	require.Len(t, stock.Items, 1)
	require.Equal(t, []int{5, 2, 3}, []int{stock.Items[0].OnHand, stock.Items[0].Reserved, stock.Items[0].Available})
	require.Equal(t, 10, stock.Items[0].Suggested, "3 available < reorder point 4")
	// An open purchase request for the part counts: no second order is
	// suggested while it is open.
	var open workorders.PurchaseRequest
	e.mustJSON("POST", "/api/v1/purchase-requests", pl, map[string]any{"sku": "SEAL-1", "location_id": wh.ID, "qty": 10}, 201, &open)
	e.mustJSON("GET", "/api/v1/stock?location_id="+wh.ID, workorders.RoleViewer, nil, 200, &stock)
	require.Equal(t, 10, stock.Items[0].OnOrder)
	require.Equal(t, 0, stock.Items[0].Suggested, "3 available + 10 on order >= reorder point 4")
	require.Equal(t, &open.ID, stock.Items[0].OpenRequest)
	e.mustJSON("POST", "/api/v1/purchase-requests/"+open.ID+"/cancel", pl, nil, 200, nil)
	e.mustJSON("GET", "/api/v1/stock?location_id="+wh.ID, workorders.RoleViewer, nil, 200, &stock)
	require.Equal(t, []int{0, 10}, []int{stock.Items[0].OnOrder, stock.Items[0].Suggested}, "cancelled: suggested again")
	var ps workorders.PartsState
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID+"/parts", workorders.RoleEngineer, nil, 200, &ps)
	require.Equal(t, workorders.PartsReserved, ps.State)

	// The engineer does the job with one seal; the other goes back.
	for _, a := range []string{"accept", "start"} {
		e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/"+a, workorders.RoleEngineer, map[string]any{}, 200, nil)
	}
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/complete", workorders.RoleEngineer, map[string]any{
		"resolution": "Seal was cracked; replaced it.", "labour_time": "1h", "parts_used": []map[string]any{{"sku": "SEAL-1", "qty": 1}}}, 200, nil)
	e.mustJSON("GET", "/api/v1/stock?sku=SEAL-1", workorders.RoleViewer, nil, 200, &stock)
	require.Equal(t, []int{4, 0}, []int{stock.Items[0].OnHand, stock.Items[0].Reserved})
	var moves httpapi.List[workorders.Movement]
	e.mustJSON("GET", "/api/v1/stock/movements?order_id="+o.ID, workorders.RoleViewer, nil, 200, &moves)
	require.Len(t, moves.Items, 3) // reserve, consume, release

	// Knowledge: save the resolution, find it in English and Chinese.
	var art workorders.Article
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/knowledge", workorders.RoleEngineer, map[string]any{"tags": []string{"seal"}}, 201, &art)
	e.mustJSON("POST", "/api/v1/knowledge", pl, map[string]any{"title": "密封更换", "body": "密封泄漏时更换机械密封。",
		"failure_modes": []string{"seal_leak"}}, 201, nil)
	var hits httpapi.List[workorders.Article]
	e.mustJSON("GET", "/api/v1/knowledge?q=cracked+seal", workorders.RoleViewer, nil, 200, &hits)
	require.NotEmpty(t, hits.Items)
	require.Equal(t, art.ID, hits.Items[0].ID)
	e.mustJSON("GET", "/api/v1/knowledge?q=机械密封", workorders.RoleEngineer, nil, 200, &hits)
	require.NotEmpty(t, hits.Items)
	require.Equal(t, "密封更换", hits.Items[0].Title)
	var detail httpapi.OrderDetail
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleViewer, nil, 200, &detail)
	require.NotEmpty(t, detail.SuggestedArticles, "the order detail suggests articles")

	// KPIs for the site.
	var k workorders.KPIs
	e.mustJSON("GET", "/api/v1/kpis?site_id="+site.ID, workorders.RoleViewer, nil, 200, &k)
	require.Equal(t, 1, k.SLA.Completed)
	require.Equal(t, []workorders.PartKPI{{SKU: "SEAL-1", Name: "Seal", Qty: 1, Cost: 12.5}}, k.PartsConsumption)
	code, b = e.do("GET", "/api/v1/kpis?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", e.tokens[ad], nil)
	require.Equal(t, 422, code, string(b))
	code, b = e.do("GET", "/api/v1/kpis?from=yesterday&to=2026-13-01", e.tokens[ad], nil)
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"field":"from"`, "both malformed bounds are named")
	require.Contains(t, string(b), `"field":"to"`)

	// A calendar schedule produces its order once.
	var sch workorders.Schedule
	e.mustJSON("POST", "/api/v1/schedules", pl, map[string]any{"name": "Monthly lubrication", "asset_type": "pump",
		"kind": "calendar", "every": "30d", "starts_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"lead": "7d", "priority": "P4"}, 201, &sch)
	var res workorders.ScheduleRunResult
	e.mustJSON("POST", "/api/v1/schedules/run", pl, nil, 200, &res)
	require.Len(t, res.Created, 1)
	e.mustJSON("POST", "/api/v1/schedules/run", pl, nil, 200, &res)
	require.Empty(t, res.Created, "never twice for one due date")
	code, b = e.do("POST", "/api/v1/schedules", e.tokens[pl], map[string]any{"name": "bad", "kind": "meter",
		"asset_type": "pump", "starts_at": time.Now().UTC().Format(time.RFC3339)})
	require.Equal(t, 422, code, string(b))

	// Purchase requests: the reorder job is idempotent; receiving closes it.
	var prs httpapi.List[workorders.PurchaseRequest]
	e.mustJSON("POST", "/api/v1/purchase-requests", pl, map[string]any{"sku": "SEAL-1", "location_id": wh.ID, "qty": 3}, 201, nil)
	code, b = e.do("POST", "/api/v1/purchase-requests", e.tokens[pl], map[string]any{"sku": "SEAL-1", "location_id": wh.ID, "qty": 3})
	require.Equal(t, 409, code, string(b))
	e.mustJSON("GET", "/api/v1/purchase-requests?status=open", workorders.RoleViewer, nil, 200, &prs)
	require.Len(t, prs.Items, 1)
	var pr workorders.PurchaseRequest
	e.mustJSON("POST", "/api/v1/purchase-requests/"+prs.Items[0].ID+"/receive", pl, nil, 200, &pr)
	require.Equal(t, workorders.PRReceived, pr.Status)
	code, _ = e.do("POST", "/api/v1/purchase-requests/"+pr.ID+"/receive", e.tokens[pl], nil)
	require.Equal(t, 409, code)
}
