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

// listRequests counts the orders list's requests the page made (resource
// timing): whole-list pages (limit=500), first pages (limit=100), burst
// pages (any other limit) and single orders.
const listRequests = `(() => {
	const n = {whole: 0, head: 0, burst: 0, one: 0};
	for (const e of performance.getEntriesByType("resource")) {
		const u = new URL(e.name);
		if (u.pathname === "/api/v1/work-orders" && !u.searchParams.has("sort")) {
			const l = u.searchParams.get("limit");
			if (l === "500") n.whole++; else if (l === "100") n.head++; else n.burst++;
		} else if (/^\/api\/v1\/work-orders\/[0-9a-f-]{36}$/.test(u.pathname)) n.one++;
	}
	return n;
})()`

type listCounts struct {
	Whole int `json:"whole"`
	Head  int `json:"head"`
	Burst int `json:"burst"`
	One   int `json:"one"`
}

// TestConsoleOrderListLive: the orders list follows changes made
// elsewhere (a new order on top, a transition, an edited title, an order
// leaving a filtered view, a burst of 25 new orders) without reading the
// list again: before, every live event reloaded up to 10,000 orders.
func TestConsoleOrderListLive(t *testing.T) {
	env := newTestEnv(t)
	token := "console-orders-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.2, "lon": 121.5}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 3, "location": map[string]float64{"lat": 31.2, "lon": 121.5}}, &pump))
	create := func(title string) orderJSON {
		var o orderJSON
		require.NoError(t, api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": pump.ID, "title": title, "priority": "P3"}, &o))
		return o
	}
	var orders []orderJSON
	for i := range 12 {
		orders = append(orders, create(fmt.Sprintf("Inspect seal %02d", i)))
	}
	status := orders[0].Status // manual orders start approved; no engineer takes them

	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	// cell waits until the row of an order shows text in column col
	// (0 priority, 1 number, 2 title, 3 status); "" waits for no row.
	cell := func(number string, col int, text string) chromedp.Action {
		return chromedp.Poll(fmt.Sprintf(`(() => {
			const r = [...document.querySelectorAll(".vlist .vrow")].find((r) => r.children[1].textContent === %q);
			return %q === "" ? !r : !!r && r.children[%d].textContent === %q;
		})()`, number, text, col, text), nil, chromedp.WithPollingTimeout(30*time.Second))
	}
	count := func(n int) chromedp.Action {
		return chromedp.Poll(fmt.Sprintf(`document.querySelector(".filters [role=status]").textContent.trim() === %q`,
			fmt.Sprintf("%d orders", n)), nil, chromedp.WithPollingTimeout(30*time.Second))
	}
	// loaded waits until n lists (each its first page and the whole) were read.
	loaded := func(n int) chromedp.Action {
		return chromedp.Poll(fmt.Sprintf(`((n) => n.head === %d && n.whole === %d)(%s)`, n, n, listRequests), nil,
			chromedp.WithPollingTimeout(30*time.Second))
	}
	runBrowser(t, b, 60*time.Second, "sign in and open the orders list",
		signIn(base+"/", token),
		chromedp.WaitVisible(`nav[aria-label="main"] a[href="/orders"]`, chromedp.ByQuery),
		chromedp.Click(`nav[aria-label="main"] a[href="/orders"]`, chromedp.ByQuery),
		count(12),
		chromedp.WaitVisible(`.live-dot.live`, chromedp.ByQuery),
		loaded(1),
	)
	var before listCounts
	runBrowser(t, b, 5*time.Second, "count requests", chromedp.Evaluate(listRequests, &before))
	require.Equal(t, 1, before.Whole, "the list is read once (%+v)", before)

	// A new order goes on top, a cancelled one shows its status, an
	// edited title shows: from the events, without reading the list.
	fresh := create("Replace coupling")
	require.NoError(t, api.do(ctx, "POST", "/work-orders/"+orders[3].ID+"/cancel", map[string]any{"reason": "duplicate"}, nil))
	require.NoError(t, api.do(ctx, "PATCH", "/work-orders/"+orders[5].ID, map[string]any{"title": "Inspect seal, both sides"}, nil))
	var first string
	runBrowser(t, b, 30*time.Second, "the list follows the changes",
		count(13),
		cell(orders[3].Number, 3, "Cancelled"),
		cell(orders[5].Number, 2, "Inspect seal, both sides"),
		chromedp.Text(`.vlist .vrow span.strong`, &first, chromedp.ByQuery),
	)
	require.Equal(t, fresh.Number, first, "the newest order first")
	var after listCounts
	runBrowser(t, b, 5*time.Second, "count requests", chromedp.Evaluate(listRequests, &after))
	require.Equal(t, before.Whole, after.Whole, "no list reload for three events (%+v)", after)
	require.Equal(t, before.Head, after.Head, "no first-page reload for three events (%+v)", after)
	require.LessOrEqual(t, after.One-before.One, 2, "the new order and the edited one are fetched alone (%+v)", after)

	// A filtered view: an order leaving its status leaves the list, a
	// burst of new ones joins it.
	runBrowser(t, b, 30*time.Second, "filter by status",
		chromedp.SetValue(`.filters label:first-child select`, status, chromedp.ByQuery),
		count(12),
		loaded(2),
	)
	runBrowser(t, b, 5*time.Second, "count requests", chromedp.Evaluate(listRequests, &before))
	require.NoError(t, api.do(ctx, "POST", "/work-orders/"+orders[7].ID+"/cancel", map[string]any{"reason": "duplicate"}, nil))
	runBrowser(t, b, 30*time.Second, "the cancelled order leaves the filtered list",
		cell(orders[7].Number, 1, ""),
		count(11),
	)
	errs := make(chan error, 25)
	for i := range 25 {
		go func() {
			errs <- api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": pump.ID, "title": fmt.Sprintf("Burst %02d", i), "priority": "P3"}, nil)
		}()
	}
	for range 25 {
		require.NoError(t, <-errs)
	}
	runBrowser(t, b, 30*time.Second, "the burst joins the list", count(36))
	runBrowser(t, b, 5*time.Second, "count requests", chromedp.Evaluate(listRequests, &after))
	t.Logf("requests for a cancel and a burst of 25 new orders: %+v (before: %+v)", after, before)
	require.Equal(t, before.Whole, after.Whole, "no list reload (%+v)", after)
	require.Equal(t, before.Head, after.Head, "no first-page reload (%+v)", after)
	require.LessOrEqual(t, after.One-before.One+after.Burst-before.Burst, 25, "at most one request a new order (%+v)", after)
}
