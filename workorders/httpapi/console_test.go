package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

func violationCodes(c workorders.AssignmentCheck) []string {
	out := []string{}
	for _, v := range c.Violations {
		out = append(out, v.Code)
	}
	return out
}

// TestDispatchBoardCheckPreviewApply drives the dispatch board's API: the
// board shows who is idle or off shift and what waits; a check flags
// every violation of a drop before it is made and changes nothing; the
// optimizer's preview changes nothing and applying it assigns exactly
// what was previewed.
func TestDispatchBoardCheckPreviewApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg *httpapi.Config) {
		svc := cfg.Service
		store, ok := svc.Store.(*postgres.Store)
		require.True(t, ok)
		ops := postgres.NewOps(store.Pool())
		inv := workorders.NewInventory(svc, ops, nil, nil)
		disp, err := workorders.NewDispatchRunner(svc, ops, inv, dispatch.DefaultConfig(), nil, nil)
		require.NoError(t, err)
		svc.AfterTransition = disp.AfterTransition
		cfg.Ops = httpapi.OpsConfig{Store: ops, Dispatch: disp, Inventory: inv, KPIs: ops}
		cfg.Console = httpapi.ConsoleConfig{MapTilesURL: "http://tiles.example/{z}/{x}/{y}.png"}
	})
	const pl, ad = workorders.RolePlanner, workorders.RoleAdmin
	// answer is mustJSON that also holds the answer to the OpenAPI
	// document the console's types are generated from (required members
	// present, non-null ones not null).
	answer := func(method, path string, role workorders.Role, body any, schema string, out any) {
		t.Helper()
		code, b := e.do(method, path, e.tokens[role], body)
		require.Equal(t, 200, code, "%s %s: %s", method, path, b)
		require.NoError(t, httpapi.CheckAnswer(schema, b), "%s %s: %s", method, path, b)
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	_, _, _, o := e.seed() // needs vibration and BRG-6205 × 2; due long ago

	var cfg httpapi.ConsoleConfig
	e.mustJSON("GET", "/api/v1/config", workorders.RoleViewer, nil, 200, &cfg)
	require.Equal(t, "http://tiles.example/{z}/{x}/{y}.png", cfg.MapTilesURL)

	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/approve", pl, map[string]any{}, 200, nil)
	allDay := []map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		allDay = append(allDay, map[string]string{"day": d, "start": "00:00", "end": "00:00"})
	}
	var ada, bo workorders.Engineer
	e.mustJSON("POST", "/api/v1/engineers", pl, map[string]any{"name": "Ada", "user_id": e.users[workorders.RoleEngineer].ID,
		"skills": []string{"vibration:2"}, "home": map[string]float64{"lat": 48.12, "lon": 11.5}, "shifts": allDay}, 201, &ada)
	var bu httpapi.CreatedUser
	e.mustJSON("POST", "/api/v1/users", ad, map[string]any{"name": "Bo", "role": "engineer"}, 201, &bu)
	now := time.Now().UTC()
	e.mustJSON("POST", "/api/v1/engineers", pl, map[string]any{"name": "Bo", "user_id": bu.ID, "skills": []string{"electrical"},
		"home": map[string]float64{"lat": 48.3, "lon": 11.7}, "shifts": allDay,
		"time_off": []map[string]any{{"start": now.Add(-time.Hour), "end": now.Add(3 * time.Hour)}}}, 201, &bo)

	var board workorders.Board
	answer("GET", "/api/v1/dispatch/board", workorders.RoleViewer, nil, "DispatchBoard", &board)
	require.Len(t, board.Unassigned, 1)
	require.Equal(t, o.ID, board.Unassigned[0].OrderID)
	require.NotNil(t, board.Unassigned[0].Position, "the site's location stands in for the asset's")
	states := map[string]string{}
	for _, l := range board.Engineers {
		states[l.Name] = l.State
	}
	require.Equal(t, map[string]string{"Ada": "idle", "Bo": "off_shift"}, states)

	check := func(orderID, engineerID string) workorders.AssignmentCheck {
		var c workorders.AssignmentCheck
		answer("POST", "/api/v1/dispatch/check", pl, map[string]any{"order_id": orderID, "engineer_id": engineerID}, "AssignmentCheck", &c)
		return c
	}
	c := check(o.ID, bo.ID)
	require.False(t, c.OK)
	require.ElementsMatch(t, []string{"missing_skill", "off_shift", "sla_breach", "parts_unavailable"}, violationCodes(c), "%+v", c.Violations)
	c = check(o.ID, ada.ID)
	require.ElementsMatch(t, []string{"sla_breach", "parts_unavailable"}, violationCodes(c), "%+v", c.Violations)
	require.Greater(t, c.TravelMinutes, 0.0)

	// Parts in stock and a due date that can be met: nothing to flag.
	var wh workorders.StockLocation
	e.mustJSON("POST", "/api/v1/stock-locations", pl, map[string]any{"code": "W1", "name": "Main",
		"location": map[string]float64{"lat": 48.1, "lon": 11.5}}, 201, &wh)
	e.mustJSON("POST", "/api/v1/parts", pl, map[string]any{"sku": "BRG-6205", "name": "Bearing"}, 201, nil)
	e.mustJSON("POST", "/api/v1/stock/movements", pl, map[string]any{"kind": "receipt", "location_id": wh.ID, "sku": "BRG-6205", "qty": 5}, 201, nil)
	e.mustJSON("PATCH", "/api/v1/work-orders/"+o.ID, pl, map[string]any{"due_at": now.Add(48 * time.Hour)}, 200, nil)
	c = check(o.ID, ada.ID)
	require.True(t, c.OK, "%+v", c.Violations)
	require.NotNil(t, c.SLASlackMinutes)

	// Bad input names every field; unknown ids are 404.
	code, b := e.do("POST", "/api/v1/dispatch/check", e.tokens[pl], map[string]any{"order_id": "x"})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), "order_id")
	require.Contains(t, string(b), "engineer_id")
	code, b = e.do("POST", "/api/v1/dispatch/check", e.tokens[pl], map[string]any{"order_id": o.ID, "engineer_id": "00000000-0000-4000-8000-000000000000"})
	require.Equal(t, 404, code, string(b))

	// The preview proposes Ada and changes nothing.
	var run workorders.DispatchRun
	answer("POST", "/api/v1/dispatch/preview", pl, nil, "DispatchRun", &run)
	require.Len(t, run.Jobs, 1)
	require.Equal(t, "proposed", run.Jobs[0].Outcome)
	require.Equal(t, ada.ID, run.Jobs[0].EngineerID)
	require.NotNil(t, run.Jobs[0].Cost)
	var got workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, pl, nil, 200, &got)
	require.Equal(t, workorders.StatusApproved, got.Status)

	// Applying it assigns; applying again skips the order that changed.
	body := map[string]any{"jobs": []map[string]string{{"order_id": o.ID, "engineer_id": ada.ID}}}
	answer("POST", "/api/v1/dispatch/apply", pl, body, "DispatchRun", &run)
	require.Equal(t, 1, run.Assigned)
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, pl, nil, 200, &got)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Equal(t, e.users[workorders.RoleEngineer].ID, *got.AssigneeID)
	e.mustJSON("POST", "/api/v1/dispatch/apply", pl, body, 200, &run)
	require.Equal(t, []int{0, 1}, []int{run.Assigned, run.Unassigned})
	require.Equal(t, "skipped", run.Jobs[0].Outcome)

	// On the board the job sits on Ada's lane with estimated times; a
	// check of the same pair says she already holds it.
	answer("GET", "/api/v1/dispatch/board", workorders.RoleViewer, nil, "DispatchBoard", &board)
	require.Empty(t, board.Unassigned)
	for _, l := range board.Engineers {
		if l.Name == "Ada" {
			require.Len(t, l.Jobs, 1)
			require.NotNil(t, l.Jobs[0].FinishAt)
			require.False(t, l.Jobs[0].Late)
		}
	}
	require.Contains(t, violationCodes(check(o.ID, ada.ID)), "status")
	// Reassigning to Bo by hand works (the assign action reassigns).
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/assign", pl, map[string]any{"assignee_id": bu.ID}, 200, &got)
	require.Equal(t, bu.ID, *got.AssigneeID)

	// Reorder, run now: stock below its reorder point gets a purchase
	// request at once; a viewer may not run it.
	e.mustJSON("PUT", "/api/v1/stock/policy", pl, map[string]any{"location_id": wh.ID, "sku": "BRG-6205", "reorder_point": 10, "reorder_qty": 20}, 200, nil)
	var prs httpapi.List[workorders.PurchaseRequest]
	e.mustJSON("GET", "/api/v1/purchase-requests?status=open", pl, nil, 200, &prs)
	require.Empty(t, prs.Items)
	var jr httpapi.JobRun
	e.mustJSON("POST", "/api/v1/stock/reorder/run", pl, nil, 200, &jr)
	require.True(t, jr.Ran)
	e.mustJSON("GET", "/api/v1/purchase-requests?status=open", pl, nil, 200, &prs)
	require.Len(t, prs.Items, 1)
	require.Equal(t, "BRG-6205", prs.Items[0].SKU)
	code, _ = e.do("POST", "/api/v1/stock/reorder/run", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 403, code)
}
