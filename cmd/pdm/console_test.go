package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// TestConsoleReview drives the real console in Chromium against a real
// `pdm serve`: a planner signs in with their token, sees an order the rules
// raise appear without reloading, approves one and rejects another with a
// reason, and the Chinese interface renders. The API confirms each change.
func TestConsoleReview(t *testing.T) {
	env := newTestEnv(t)
	token := "console-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump, fan idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.2, "lon": 121.5}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 31.2, "lon": 121.5}}, &pump))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "F-1", "type": "fan",
		"name": "Exhaust fan 1", "criticality": 2, "location": map[string]float64{"lat": 31.2, "lon": 121.5}}, &fan))
	for _, r := range []map[string]any{
		{"name": "pump bearing", "asset_type": "pump", "metric": "vibration_rms", "direction": "above", "critical": 7.1,
			"for": "2m", "failure_mode": "bearing_wear", "priority": "P2", "enabled": true, "verify_for": "12h"},
		{"name": "fan bearing", "asset_type": "fan", "metric": "vibration_rms", "direction": "above", "critical": 7.1,
			"for": "2m", "failure_mode": "fan_imbalance", "priority": "P3", "enabled": true},
	} {
		require.NoError(t, api.do(ctx, "POST", "/rules", r, nil))
	}
	var planner struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))

	b := newBrowser(t)
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(api.base, "http://"), "/api/v1")

	// Sign in: the token becomes an HttpOnly cookie the page cannot read.
	runBrowser(t, b, 30*time.Second, "sign in",
		signIn(base+"/", planner.Token),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
	)
	var cookieVisible bool
	runBrowser(t, b, 5*time.Second, "read document.cookie",
		chromedp.Evaluate(`document.cookie.includes("pdm_session")`, &cookieVisible))
	require.False(t, cookieVisible, "the session cookie must be HttpOnly")

	// The live stream is up, so the queue does not poll: what appears
	// next arrives through server-sent events.
	runBrowser(t, b, 15*time.Second, "live updates connected",
		chromedp.WaitVisible(`.live-dot.live`, chromedp.ByQuery))

	// Two breaches arrive while the planner watches.
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "console-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	for i, code := range []string{"P-1", "F-1"} {
		var rs []ingest.Reading
		for m := range 10 {
			rs = append(rs, ingest.Reading{TS: t0.Add(time.Duration(m) * time.Minute),
				Metrics: []ingest.Metric{{Name: "vibration_rms", Value: 9.5}}})
		}
		require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "S1", code), ingest.AppendJSON(nil, "gw", uint64(i+1), rs))(ctx))
	}
	orders := map[string]orderJSON{}
	eventually(t, 60*time.Second, "two proposed orders", func() bool {
		var l listOf[orderJSON]
		if api.do(ctx, "GET", "/work-orders?status=proposed", nil, &l) != nil {
			return false
		}
		for _, o := range l.Items {
			orders[o.AssetID] = o
		}
		return len(orders) == 2
	})
	pumpOrder, fanOrder := orders[pump.ID], orders[fan.ID]

	// They appear without a reload, the P2 pump first.
	var first string
	runBrowser(t, b, 30*time.Second, "the orders to appear",
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-order=%q]`, pumpOrder.Number), chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-order=%q]`, fanOrder.Number), chromedp.ByQuery),
		chromedp.AttributeValue(`tbody tr:first-child`, "data-order", &first, nil, chromedp.ByQuery),
	)
	require.Equal(t, pumpOrder.Number, first, "riskiest (P2) first")

	// Approve the pump's order with a raised priority.
	runBrowser(t, b, 30*time.Second, "approve",
		chromedp.Click(fmt.Sprintf(`tr[data-order=%q] td.actions button.primary`, pumpOrder.Number), chromedp.ByQuery),
		chromedp.WaitVisible("#ap-priority", chromedp.ByID),
		chromedp.SetValue("#ap-priority", "P1", chromedp.ByID),
		chromedp.Click(`.dialog button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(fmt.Sprintf(`tr[data-order=%q]`, pumpOrder.Number), chromedp.ByQuery),
	)
	var got orderJSON
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+pumpOrder.ID, nil, &got))
	require.Contains(t, []string{"approved", "assigned"}, got.Status)
	require.Equal(t, "P1", got.Priority)

	// Reject the fan's order as a duplicate, by keyboard.
	runBrowser(t, b, 30*time.Second, "reject",
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-order=%q].cursor`, fanOrder.Number), chromedp.ByQuery),
		chromedp.KeyEvent("r"),
		chromedp.WaitVisible(`input[name="reason"][value="duplicate"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="reason"][value="duplicate"]`, chromedp.ByQuery),
		chromedp.Click(`.dialog button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(fmt.Sprintf(`tr[data-order=%q]`, fanOrder.Number), chromedp.ByQuery),
	)
	var rejected struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+fanOrder.ID, nil, &rejected))
	require.Equal(t, "rejected", rejected.Status)
	require.Equal(t, "duplicate", rejected.Reason)

	// The approved order's page draws its evidence: the readings around
	// the breach with the critical line.
	var drawn int
	var verifyFor string
	runBrowser(t, b, 30*time.Second, "evidence chart",
		chromedp.Navigate(base+"/orders/"+pumpOrder.Number),
		chromedp.WaitVisible(`#evidence-title`, chromedp.ByID),
		chromedp.WaitVisible(`.chart canvas`, chromedp.ByQuery),
		chromedp.Evaluate(`+document.querySelector(".chart").dataset.points`, &drawn),
		chromedp.Text(`[data-testid="verify-for"]`, &verifyFor, chromedp.ByQuery),
		chromedp.Navigate(base+"/review"),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
	)
	require.GreaterOrEqual(t, drawn, 10, "the chart holds the ten readings")
	require.Contains(t, verifyFor, "12h", "the order shows its rule's post-repair verification window")

	// The Chinese interface.
	var heading string
	runBrowser(t, b, 15*time.Second, "switch to Chinese",
		chromedp.SetValue(`header select`, "zh-CN", chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("review-title").textContent === "待审核工单"`, nil),
		chromedp.Text("#review-title", &heading, chromedp.ByID),
	)
	require.Equal(t, "待审核工单", heading)

	// Signing out ends the session on the server.
	runBrowser(t, b, 15*time.Second, "sign out",
		chromedp.Click(`header button.ghost`, chromedp.ByQuery),
		chromedp.WaitVisible("#token", chromedp.ByID),
	)
}

// TestConsolePageLoadsKeepConnections: a tab that loads console pages
// one after another (links opened in place, reloads, signing out) keeps
// working: a page left behind lets go of its live stream, which otherwise
// stayed open in the back-forward cache until the browser's six
// connections to the host were all held and the next page hung. And a
// page load reads what it shows once: its live stream resumes from the
// position its reads carried (X-Live-Position) instead of making the page
// read everything again when it opens (it read the rules twice before).
func TestConsolePageLoadsKeepConnections(t *testing.T) {
	env := newTestEnv(t)
	token := "console-loads-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	runBrowser(t, b, 30*time.Second, "sign in",
		signIn(base+"/rules", token),
		chromedp.WaitVisible("#rules-title", chromedp.ByID),
	)
	pages := []struct{ path, ready string }{{"/review", "#review-title"}, {"/rules", "#rules-title"}}
	for i := range 12 {
		p := pages[i%2]
		runBrowser(t, b, 20*time.Second, fmt.Sprintf("page load %d (%s)", i+1, p.path),
			chromedp.Navigate(base+p.path),
			chromedp.WaitVisible(p.ready, chromedp.ByQuery),
			chromedp.WaitVisible(`.live-dot.live`, chromedp.ByQuery),
		)
		if p.path != "/rules" {
			continue
		}
		// Live, and a moment later: the rule list was read once.
		var reads int
		runBrowser(t, b, 10*time.Second, fmt.Sprintf("page load %d: reads", i+1),
			chromedp.Sleep(700*time.Millisecond),
			chromedp.Evaluate(`performance.getEntriesByType("resource").filter(e => new URL(e.name).pathname === "/api/v1/rules").length`, &reads),
		)
		require.Equal(t, 1, reads, "page load %d read the rules %d times", i+1, reads)
	}
}
