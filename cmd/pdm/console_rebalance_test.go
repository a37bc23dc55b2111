package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// assignedJSON is an order's assignee.
type assignedJSON struct {
	Status     string  `json:"status"`
	AssigneeID *string `json:"assignee_id"`
}

// TestConsoleRebalance: the dispatcher gave an order to the only engineer
// on duty, far away; a nearer one joins. The board shows the optimizer's
// move with the costs before and after; the planner approves it and the
// order moves (the API confirms).
func TestConsoleRebalance(t *testing.T) {
	env := newTestEnv(t)
	token := "rebalance-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.3, "lon": 120.7}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 31.32, "lon": 120.72}}, &pump))
	allDay := []map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		allDay = append(allDay, map[string]string{"day": d, "start": "00:00", "end": "00:00"})
	}
	engineer := func(name string, lat, lon float64) (user string) {
		var u struct {
			ID string `json:"id"`
		}
		require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": name, "role": "engineer"}, &u))
		require.NoError(t, api.do(ctx, "POST", "/engineers", map[string]any{"name": name, "user_id": u.ID,
			"skills": []string{"hydraulics"}, "home": map[string]float64{"lat": lat, "lon": lon}, "shifts": allDay}, nil))
		return u.ID
	}
	farUser := engineer("Far", 32.9, 120.7)
	var order orderJSON
	require.NoError(t, api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": pump.ID, "title": "Hydraulic leak",
		"priority": "P2", "required_skills": []string{"hydraulics"}, "estimated_duration": "1h",
		"due_at": time.Now().Add(72 * time.Hour).UTC()}, &order))
	eventually(t, 60*time.Second, "the dispatcher assigns the order to Far", func() bool {
		_ = api.do(ctx, "POST", "/dispatch/run", nil, nil)
		var o assignedJSON
		return api.do(ctx, "GET", "/work-orders/"+order.ID, nil, &o) == nil && o.Status == "assigned" &&
			o.AssigneeID != nil && *o.AssigneeID == farUser
	})
	nearUser := engineer("Near", 31.33, 120.73)

	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))
	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	move := fmt.Sprintf(`[data-testid="rebalance"] li[data-move=%q]`, order.Number)
	var text string
	runBrowser(t, b, 60*time.Second, "the board proposes the move; the planner approves",
		signIn(base+"/dispatch", planner.Token),
		chromedp.WaitVisible(move, chromedp.ByQuery),
		chromedp.Text(move, &text, chromedp.ByQuery),
		chromedp.Click(`[data-testid="rebalance"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="rebalance"] p[role="status"]`, chromedp.ByQuery),
	)
	require.Contains(t, text, "Far")
	require.Contains(t, text, "Near")
	eventually(t, 30*time.Second, "the order moved to Near", func() bool {
		var o assignedJSON
		return api.do(ctx, "GET", "/work-orders/"+order.ID, nil, &o) == nil && o.AssigneeID != nil && *o.AssigneeID == nearUser
	})
}
