package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestConsoleDispatchAndKPIs drives the dispatch board and the KPI wall in
// Chromium against a real `pdm serve`: a planner drags an approved order
// onto an engineer, sees the problem flagged before the drop (the engineer
// lacks the skill, so the dispatcher left the order alone), assigns anyway
// and sees the job on the engineer's lane; the KPI wall's backlog changes
// on its own when a new order arrives. The API confirms the assignment.
func TestConsoleDispatchAndKPIs(t *testing.T) {
	env := newTestEnv(t)
	token := "dispatch-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.3, "lon": 120.7}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 31.32, "lon": 120.72}}, &pump))
	var eng struct {
		ID string `json:"id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Eve", "role": "engineer"}, &eng))
	require.NoError(t, api.do(ctx, "POST", "/engineers", map[string]any{"name": "Eve", "user_id": eng.ID,
		"skills": []string{"electrical"}, "home": map[string]float64{"lat": 31.35, "lon": 120.8}}, nil))
	var order orderJSON
	require.NoError(t, api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": pump.ID, "title": "Hydraulic leak",
		"priority": "P2", "required_skills": []string{"hydraulics"}, "estimated_duration": "1h"}, &order))
	require.Equal(t, "approved", order.Status)
	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))

	b := newBrowser(t)
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(api.base, "http://"), "/api/v1")
	runBrowser(t, b, 30*time.Second, "sign in and open the board",
		signIn(base+"/dispatch", planner.Token),
		chromedp.WaitVisible(fmt.Sprintf(`.job-card[data-order=%q]`, order.Number), chromedp.ByQuery),
		chromedp.WaitVisible(`.lane[data-engineer="Eve"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="dispatch-map"] .leaflet-interactive`, chromedp.ByQuery),
	)
	// Without PDM_MAP_TILES_URL the offline base map draws China's
	// province outlines (31 provinces and the Paracel Islands) and no tiles.
	var provinces, tiles int
	runBrowser(t, b, 20*time.Second, "the offline map's province outlines",
		chromedp.Poll(`document.querySelectorAll('[data-testid="dispatch-map"] path.province-outline').length >= 32`, nil),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="dispatch-map"] path.province-outline').length`, &provinces),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="dispatch-map"] .leaflet-tile').length`, &tiles),
	)
	require.Equal(t, 32, provinces)
	require.Zero(t, tiles)

	// Drag the order over Eve's lane: the check flags the missing skill
	// before anything is dropped.
	drag := fmt.Sprintf(`(() => {
		const src = document.querySelector('.job-card[data-order=%q]');
		const dst = document.querySelector('.lane[data-engineer="Eve"]');
		window.__dt = new DataTransfer();
		src.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: window.__dt}));
		return true;
	})()`, order.Number)
	over := `document.querySelector('.lane[data-engineer="Eve"]').dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: window.__dt}))`
	var flagged string
	runBrowser(t, b, 20*time.Second, "the violation before the drop",
		chromedp.Evaluate(drag, nil),
		chromedp.WaitVisible(`.lane[data-engineer="Eve"] .lane-head button`, chromedp.ByQuery),
		chromedp.Evaluate(over, nil),
		chromedp.WaitVisible(`.lane[data-engineer="Eve"] [data-testid="lane-check"]`, chromedp.ByQuery),
		chromedp.Text(`.lane[data-engineer="Eve"] [data-testid="lane-check"]`, &flagged, chromedp.ByQuery),
	)
	require.Contains(t, flagged, "Missing skill")
	require.Contains(t, flagged, "hydraulics")
	var still orderJSON
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+order.ID, nil, &still))
	require.Equal(t, "approved", still.Status, "hovering changes nothing")

	// Drop: the planner is asked, assigns anyway, and sees the job on Eve's lane.
	var flash string
	runBrowser(t, b, 30*time.Second, "drop and assign anyway",
		chromedp.Evaluate(`document.querySelector('.lane[data-engineer="Eve"]').dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: window.__dt}))`, nil),
		chromedp.WaitVisible(`.dialog button.danger`, chromedp.ByQuery),
		chromedp.Click(`.dialog button.danger`, chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf(`.lane[data-engineer="Eve"] [data-job=%q]`, order.Number), chromedp.ByQuery),
		chromedp.Text(`[data-testid="dispatch-flash"]`, &flash, chromedp.ByQuery),
	)
	require.Contains(t, flash, order.Number+" assigned to Eve despite")
	var got struct {
		Status     string  `json:"status"`
		AssigneeID *string `json:"assignee_id"`
	}
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+order.ID, nil, &got))
	require.Equal(t, "assigned", got.Status)
	require.NotNil(t, got.AssigneeID)
	require.Equal(t, eng.ID, *got.AssigneeID)

	// The KPI wall refreshes itself: a new order raises the backlog.
	var before string
	runBrowser(t, b, 30*time.Second, "open the KPI wall",
		chromedp.Navigate(base+"/kpis?refresh=1"),
		chromedp.WaitVisible(`[data-testid="kpi-backlog"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="kpi-backlog"]`, "data-total", &before, nil, chromedp.ByQuery),
	)
	n, err := strconv.Atoi(before)
	require.NoError(t, err)
	require.NoError(t, api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": pump.ID, "title": "Inspect coupling",
		"priority": "P3"}, nil))
	runBrowser(t, b, 20*time.Second, "the backlog to change without a reload",
		chromedp.WaitVisible(fmt.Sprintf(`[data-testid="kpi-backlog"][data-total="%d"]`, n+1), chromedp.ByQuery),
	)
}
