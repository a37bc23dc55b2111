package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestPlannerMergesFromInboxAndReadsReports drives the console in
// Chromium against a real `pdm serve`: two customers report the same
// fault; the planner finds both in the request inbox, merges the second
// into the first, and reads the requests by channel in the reports.
func TestPlannerMergesFromInboxAndReadsReports(t *testing.T) {
	env := newTestEnv(t)
	token := "inbox-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 3}, &pump))
	var first, second struct {
		Number  string `json:"number"`
		OrderID string `json:"order_id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/public/requests", map[string]any{"site": "S1", "asset": "P-1",
		"description": "Pump leaks oil", "requester": map[string]any{"email": "a@example.com"}}, &first))
	require.NoError(t, api.do(ctx, "POST", "/public/requests", map[string]any{"site": "S1", "asset": "P-1",
		"description": "Oil under the feed pump", "requester": map[string]any{"email": "b@example.com"}}, &second))
	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))

	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	runBrowser(t, b, 30*time.Second, "sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", planner.Token, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
	)
	row := `tr[data-order="` + second.Number + `"]`
	var merged string
	runBrowser(t, b, 40*time.Second, "merge in the inbox",
		chromedp.Navigate(base+"/requests"),
		chromedp.WaitVisible(`tr[data-order="`+first.Number+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+` input`, chromedp.ByQuery),
		chromedp.SendKeys(row+` input`, first.Number, chromedp.ByQuery),
		chromedp.Click(row+` button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="inbox-notice"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="inbox-notice"]`, &merged, chromedp.ByQuery),
	)
	require.Contains(t, merged, second.Number+" merged into "+first.Number)
	var o orderJSON
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+second.OrderID, nil, &o))
	require.Equal(t, "merged", o.Status)

	runBrowser(t, b, 40*time.Second, "reports",
		chromedp.Navigate(base+"/reports"),
		chromedp.WaitVisible(`//section[@data-testid="report-channels"]//tr[td[2][text()="2"]]`),
		chromedp.WaitVisible(`//section[@data-testid="report-channels"]//a[text()="XLSX"]`),
	)

	// Notification settings: a planner sees where notifications go (only
	// an admin changes them).
	require.NoError(t, api.do(ctx, "POST", "/notifications/subscriptions", map[string]any{"channel": "email",
		"target": "planners@example.com", "locale": "zh-CN"}, nil))
	runBrowser(t, b, 40*time.Second, "notification settings",
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(`//table[@data-testid="subscriptions"]//td[text()="planners@example.com"]`),
	)
	var forms int
	runBrowser(t, b, 5*time.Second, "no add form for planners",
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="add-subscription"]').length`, &forms))
	require.Zero(t, forms)
}
