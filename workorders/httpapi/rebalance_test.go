package httpapi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// TestDispatchRebalance: an order the dispatcher gave to the only engineer
// then on duty (far away) moves to a nearer one who joined later, once a
// planner approves the proposed move; the proposal prices the current and
// the re-optimized plan and changes nothing by itself.
func TestDispatchRebalance(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	const pl, ad = workorders.RolePlanner, workorders.RoleAdmin
	_, _, _, o := e.seed() // needs vibration and BRG-6205 × 2
	now := time.Now().UTC()
	var wh workorders.StockLocation
	e.mustJSON("POST", "/api/v1/stock-locations", pl, map[string]any{"code": "W1", "name": "Main",
		"location": map[string]float64{"lat": 48.1, "lon": 11.5}}, 201, &wh)
	e.mustJSON("POST", "/api/v1/parts", pl, map[string]any{"sku": "BRG-6205", "name": "Bearing"}, 201, nil)
	e.mustJSON("POST", "/api/v1/stock/movements", pl, map[string]any{"kind": "receipt", "location_id": wh.ID, "sku": "BRG-6205", "qty": 10}, 201, nil)
	e.mustJSON("PATCH", "/api/v1/work-orders/"+o.ID, pl, map[string]any{"due_at": now.Add(72 * time.Hour)}, 200, nil)
	allDay := []map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		allDay = append(allDay, map[string]string{"day": d, "start": "00:00", "end": "00:00"})
	}
	var far, near workorders.Engineer
	e.mustJSON("POST", "/api/v1/engineers", pl, map[string]any{"name": "Far", "user_id": e.users[workorders.RoleEngineer].ID,
		"skills": []string{"vibration:2"}, "home": map[string]float64{"lat": 49.6, "lon": 11.5}, "shifts": allDay}, 201, &far)

	var rb workorders.Rebalance
	e.mustJSON("POST", "/api/v1/dispatch/rebalance/preview", pl, nil, 200, &rb)
	require.Zero(t, rb.Movable, "nothing is assigned yet")

	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/approve", pl, map[string]any{}, 200, nil)
	e.mustJSON("POST", "/api/v1/dispatch/run", pl, nil, 200, nil)
	var got workorders.Order
	require.Eventually(t, func() bool {
		e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, pl, nil, 200, &got)
		return got.Status == workorders.StatusAssigned
	}, 30*time.Second, 100*time.Millisecond, "the dispatcher assigns the order to Far")
	require.Equal(t, e.users[workorders.RoleEngineer].ID, *got.AssigneeID)

	var nu httpapi.CreatedUser
	e.mustJSON("POST", "/api/v1/users", ad, map[string]any{"name": "Near", "role": "engineer"}, 201, &nu)
	e.mustJSON("POST", "/api/v1/engineers", pl, map[string]any{"name": "Near", "user_id": nu.ID,
		"skills": []string{"vibration:2"}, "home": map[string]float64{"lat": 48.12, "lon": 11.5}, "shifts": allDay}, 201, &near)

	e.mustJSON("POST", "/api/v1/dispatch/rebalance/preview", pl, nil, 200, &rb)
	require.Equal(t, 1, rb.Movable)
	require.Len(t, rb.Moves, 1, "%+v", rb)
	m := rb.Moves[0]
	require.Equal(t, o.ID, m.OrderID)
	require.Equal(t, far.ID, m.FromEngineerID)
	require.Equal(t, near.ID, m.ToEngineerID)
	require.Greater(t, rb.Saving, 0.0)
	require.Less(t, rb.CostAfter, rb.CostBefore)
	require.Less(t, m.CostAfter, m.CostBefore)
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, pl, nil, 200, &got)
	require.Equal(t, e.users[workorders.RoleEngineer].ID, *got.AssigneeID, "a proposal changes nothing")

	code, b := e.do("POST", "/api/v1/dispatch/rebalance/apply", e.tokens[pl], map[string]any{"jobs": []map[string]string{{"order_id": "x"}}})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), "engineer_id")
	code, _ = e.do("POST", "/api/v1/dispatch/rebalance/apply", e.tokens[workorders.RoleViewer], map[string]any{"jobs": []any{}})
	require.Equal(t, 403, code)

	var run workorders.DispatchRun
	body := map[string]any{"jobs": []map[string]string{{"order_id": o.ID, "engineer_id": near.ID}}}
	e.mustJSON("POST", "/api/v1/dispatch/rebalance/apply", pl, body, 200, &run)
	require.Equal(t, 1, run.Assigned, "%+v", run)
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, pl, nil, 200, &got)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Equal(t, nu.ID, *got.AssigneeID)
	// Applying again skips: Near holds it; nothing more to gain.
	e.mustJSON("POST", "/api/v1/dispatch/rebalance/apply", pl, body, 200, &run)
	require.Equal(t, 0, run.Assigned)
	e.mustJSON("POST", "/api/v1/dispatch/rebalance/preview", pl, nil, 200, &rb)
	require.Empty(t, rb.Moves)
}
