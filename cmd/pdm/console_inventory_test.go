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

// TestConsoleInventoryAndSchedules drives the inventory screen and the
// schedules calendar in Chromium against a real `pdm serve`: a planner
// sees a part below its reorder point, runs reorder now, approves the
// purchase request that appears and receives it (the stock goes up, the
// ledger shows the receipt); the calendar shows a weekly schedule on its
// days and "run now" creates its due order. The API confirms each step.
func TestConsoleInventoryAndSchedules(t *testing.T) {
	env := newTestEnv(t)
	token := "inventory-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump, wh idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.3, "lon": 120.7}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 31.32, "lon": 120.72}}, &pump))
	require.NoError(t, api.do(ctx, "POST", "/parts", map[string]any{"sku": "BRG-6205", "name": "Bearing 6205"}, nil))
	require.NoError(t, api.do(ctx, "POST", "/stock-locations", map[string]any{"code": "WH1", "name": "Main store",
		"site_id": site.ID}, &wh))
	require.NoError(t, api.do(ctx, "POST", "/stock/movements", map[string]any{"kind": "receipt", "location_id": wh.ID,
		"sku": "BRG-6205", "qty": 2}, nil))
	require.NoError(t, api.do(ctx, "PUT", "/stock/policy", map[string]any{"location_id": wh.ID, "sku": "BRG-6205",
		"reorder_point": 5, "reorder_qty": 10}, nil))
	// A weekly schedule due tomorrow (no order yet) and one due now.
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Hour)
	require.NoError(t, api.do(ctx, "POST", "/schedules", map[string]any{"kind": "calendar", "name": "Weekly greasing",
		"title": "Grease the pump", "asset_id": pump.ID, "every": "7d", "starts_at": tomorrow.Format(time.RFC3339)}, nil))
	require.NoError(t, api.do(ctx, "POST", "/schedules", map[string]any{"kind": "calendar", "name": "Filter check",
		"title": "Check the filter", "asset_id": pump.ID, "every": "30d",
		"starts_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, nil))
	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))

	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	line := `[data-testid="stock"] tr[data-sku="BRG-6205"]`
	pr := `[data-testid="purchase-requests"] tr[data-pr="BRG-6205"]`
	runBrowser(t, b, 60*time.Second, "sign in, see the low stock, run reorder, approve",
		signIn(base+"/inventory", planner.Token),
		chromedp.WaitVisible(line, chromedp.ByQuery),
		chromedp.Click(`[data-testid="run-reorder"]`, chromedp.ByQuery),
		chromedp.WaitVisible(pr+`[data-status="open"]`, chromedp.ByQuery),
		chromedp.WaitVisible(line+`[data-state="requested"]`, chromedp.ByQuery),
		chromedp.Click(pr+` button`, chromedp.ByQuery), // approve = order
	)
	var prs listOf[struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Qty    int    `json:"qty"`
	}]
	eventually(t, 30*time.Second, "the request is ordered", func() bool {
		return api.do(ctx, "GET", "/purchase-requests", nil, &prs) == nil && len(prs.Items) == 1 && prs.Items[0].Status == "ordered"
	})
	runBrowser(t, b, 60*time.Second, "receive it",
		chromedp.Evaluate(`(() => { const el = document.querySelector('[data-testid="pr-status"]'); el.value = 'ordered'; el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, nil),
		chromedp.WaitVisible(pr+`[data-status="ordered"]`, chromedp.ByQuery),
		chromedp.Click(pr+` button.ghost`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="ledger"] td`, chromedp.ByQuery),
	)
	var stock listOf[struct {
		OnHand int `json:"on_hand"`
	}]
	eventually(t, 30*time.Second, "the stock is received", func() bool {
		return api.do(ctx, "GET", "/stock?sku=BRG-6205", nil, &stock) == nil && len(stock.Items) == 1 && stock.Items[0].OnHand == 12
	})

	day := tomorrow.Local().Format("2006-01-02")
	runBrowser(t, b, 60*time.Second, "the calendar and run now",
		chromedp.Navigate(base+"/schedules"),
		chromedp.WaitVisible(`[data-testid="calendar"]`, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// Tomorrow may be in next month's page.
			if tomorrow.Local().Month() != time.Now().Month() {
				return chromedp.Click(`button[aria-label="Next month"]`, chromedp.ByQuery).Do(ctx)
			}
			return nil
		}),
		chromedp.WaitVisible(fmt.Sprintf(`td[data-day=%q] [data-schedule="Weekly greasing"]`, day), chromedp.ByQuery),
		chromedp.Click(`[data-testid="run-schedules"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`p[role="status"]`, chromedp.ByQuery),
	)
	var orders listOf[orderJSON]
	eventually(t, 30*time.Second, "the due schedule raised its order", func() bool {
		return api.do(ctx, "GET", "/work-orders?source=schedule", nil, &orders) == nil && len(orders.Items) >= 1
	})
	require.Equal(t, "Check the filter", orders.Items[0].Title)
}
