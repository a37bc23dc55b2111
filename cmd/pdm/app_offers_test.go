package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"
)

// TestAppOffersLive: the site is in claim mode; the engineer's phone
// shows the orders offered to them, live: one claimed by a colleague
// vanishes without a reload, a new one appears; the engineer claims it and
// lands on the job, which is theirs on the server. The engineer then asks
// the colleague for help through the app, and the colleague sees the job;
// then asks to transfer it to them, which a planner sees in the console
// and approves.
func TestAppOffersLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := newAppFixture(t, ctx)
	siteID := f.jobA.SiteID
	require.NoError(t, f.api.do(ctx, "PUT", "/dispatch-policies", map[string]any{"site_id": siteID, "mode": "claim", "radius_km": 50}, nil))
	var li struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	require.NoError(t, f.api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "engineer"}, &li))
	require.NoError(t, f.api.do(ctx, "POST", "/engineers", map[string]any{"name": "Li Na", "user_id": li.ID,
		"home": map[string]float64{"lat": 31.28, "lon": 120.58}}, nil))
	colleague := f.api.as(li.Token)
	offer := func(title string) orderJSON {
		var o orderJSON
		require.NoError(t, f.api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": f.jobA.AssetID, "title": title, "priority": "P2"}, &o))
		require.Equal(t, "approved", o.Status)
		return o
	}
	first, second := offer("Leak at flange"), offer("Noisy bearing")

	b := newBrowser(t, chromedp.UserDataDir(profileDir(t)))
	row := func(id string) string { return fmt.Sprintf(`[data-testid="offer-row"][data-id=%q]`, id) }
	runBrowser(t, b, 60*time.Second, "sign in and open the offers",
		chromedp.Emulate(device.IPhone13),
		signIn(f.base+"/app/", f.engToken),
		chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
		chromedp.Click(`nav.tabs a[href="/app/offers"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row(first.ID), chromedp.ByQuery),
		chromedp.WaitVisible(row(second.ID), chromedp.ByQuery),
	)

	// A colleague claims the first: it vanishes from this phone by itself.
	require.NoError(t, colleague.do(ctx, "POST", "/work-orders/"+first.ID+"/claim", nil, nil))
	third := offer("Check coupling")
	runBrowser(t, b, 30*time.Second, "the claimed offer vanishes, a new one appears, live",
		chromedp.WaitNotPresent(row(first.ID), chromedp.ByQuery),
		chromedp.WaitVisible(row(third.ID), chromedp.ByQuery),
	)

	// This engineer claims the second and lands on the job.
	runBrowser(t, b, 30*time.Second, "claim",
		chromedp.Click(row(second.ID)+` button[data-action="claim"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="job-status"][data-status="assigned"]`, chromedp.ByQuery),
	)
	var got struct {
		Status     string `json:"status"`
		AssigneeID string `json:"assignee_id"`
	}
	require.NoError(t, f.api.do(ctx, "GET", "/work-orders/"+second.ID, nil, &got))
	require.Equal(t, "assigned", got.Status)
	require.Equal(t, f.engUserID, got.AssigneeID)

	// The colleague claims the third under this phone's nose; claiming it
	// here says it is gone.
	runBrowser(t, b, 10*time.Second, "back to the offers",
		chromedp.Click(`nav.tabs a[href="/app/offers"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row(third.ID), chromedp.ByQuery),
	)
	require.NoError(t, colleague.do(ctx, "POST", "/work-orders/"+third.ID+"/claim", nil, nil))
	_ = chromedp.Run(b, chromedp.Click(row(third.ID)+` button[data-action="claim"]`, chromedp.ByQuery, chromedp.AtLeast(0)))
	runBrowser(t, b, 30*time.Second, "the third is gone",
		chromedp.WaitNotPresent(row(third.ID), chromedp.ByQuery),
	)

	// Ask the colleague for help on the claimed job.
	runBrowser(t, b, 30*time.Second, "ask for help",
		chromedp.Navigate(f.base+"/app/jobs/"+second.ID),
		chromedp.Click(`button[data-action="help"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="help-form"]`, chromedp.ByQuery),
		chromedp.WaitReady(fmt.Sprintf(`#who option[value=%q]`, li.ID), chromedp.ByQuery),
		chromedp.SetValue(`#who`, li.ID, chromedp.ByQuery),
		chromedp.Click(`[data-testid="help-form"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="netbar"]').dataset.pending === "0"`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
	)
	require.Eventually(t, func() bool {
		var d struct {
			HelperIDs []string `json:"helper_ids"`
		}
		return colleague.do(ctx, "GET", "/work-orders/"+second.ID, nil, &d) == nil && len(d.HelperIDs) == 1 && d.HelperIDs[0] == li.ID
	}, 30*time.Second, 200*time.Millisecond, "the colleague sees the job as its helper")

	// The colleague leaves the job from their own phone; this phone still
	// keeps the copy that names them. The engineer then asks to transfer
	// the job to them (the site's policy wants a planner's approval); the
	// planner sees the request in the console and approves it.
	//
	// The job page shows the kept copy at once and refreshes it in the
	// background; here the refresh is held until the form is open. Before,
	// what such a refresh changes (the helpers line) sat above the buttons
	// and moved Transfer by a line (33 px): a tap landing meanwhile opened
	// nothing, and the test had to tap until the form showed. One tap now;
	// the button stays put, and the form keeps what was typed through the
	// refresh and through a refresh that fails (which replaced the whole
	// page with an error before).
	require.NoError(t, colleague.do(ctx, "DELETE", "/work-orders/"+second.ID+"/helpers/"+li.ID, nil, nil))
	job := interceptAPI(t, b, "/api/v1/work-orders/"+second.ID)
	job.set(holdRequests)
	var top, topAfter float64
	var helpersShown bool
	runBrowser(t, b, 30*time.Second, "open the transfer form on the kept copy",
		chromedp.Navigate(f.base+"/app/jobs/"+second.ID),
		chromedp.WaitVisible(`button[data-action="transfer"]`, chromedp.ByQuery),
		chromedp.Evaluate(`!!document.querySelector('[data-testid="helpers"]')`, &helpersShown),
		chromedp.Evaluate(`document.querySelector('button[data-action="transfer"]').getBoundingClientRect().top`, &top),
		chromedp.Click(`button[data-action="transfer"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="transfer-form"]`, chromedp.ByQuery),
		chromedp.WaitReady(fmt.Sprintf(`#who option[value=%q]`, li.ID), chromedp.ByQuery),
		chromedp.SetValue(`#who`, li.ID, chromedp.ByQuery),
		chromedp.SendKeys(`#collab-note`, "Needs two people", chromedp.ByQuery),
	)
	require.True(t, helpersShown, "the kept copy must still name the helper, else this step tests nothing")
	job.set(passRequests)
	var who, note string
	runBrowser(t, b, 30*time.Second, "the refreshed copy lands under the open form",
		chromedp.WaitNotPresent(`[data-testid="helpers"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('button[data-action="transfer"]').getBoundingClientRect().top`, &topAfter),
		chromedp.WaitVisible(`[data-testid="transfer-form"]`, chromedp.ByQuery),
	)
	require.Equal(t, top, topAfter, "Transfer moved when the refreshed copy landed")
	runBrowser(t, b, 10*time.Second, "the form kept its choice",
		chromedp.Value(`#who`, &who, chromedp.ByQuery),
		chromedp.Value(`#collab-note`, &note, chromedp.ByQuery),
	)
	require.Equal(t, li.ID, who)
	require.Equal(t, "Needs two people", note)
	job.set(passRequests)
	runBrowser(t, b, 30*time.Second, "ask for a transfer",
		chromedp.Click(`[data-testid="transfer-form"] button[type="submit"]`, chromedp.ByQuery),
		// The sheet closes once the request is in the outbox; only then
		// does "nothing pending" mean it was sent (polling at once passed
		// before it was queued, and the reload lost it).
		chromedp.WaitNotPresent(`[data-testid="transfer-form"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="netbar"]').dataset.pending === "0"`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid="transfer-pending"]`, chromedp.ByQuery),
	)
	// A background refresh that fails keeps the page and an open form with
	// what was typed (before, the page gave way to the error).

	runBrowser(t, b, 30*time.Second, "open a note",
		chromedp.Click(`button[data-action="note"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`form.sheet textarea`, chromedp.ByQuery),
		chromedp.SendKeys(`form.sheet textarea`, "Seal kit in the van", chromedp.ByQuery),
	)
	job.set(failRequests)
	runBrowser(t, b, 30*time.Second, "a refresh that fails keeps the form",
		// Coming back online refreshes every kept answer.
		chromedp.Evaluate(`window.dispatchEvent(new Event("online"))`, nil),
		chromedp.WaitVisible(`[data-testid="refresh-error"]`, chromedp.ByQuery),
		chromedp.Value(`form.sheet textarea`, &note, chromedp.ByQuery),
	)
	require.Equal(t, "Seal kit in the van", note)
	job.set(passRequests)
	runBrowser(t, b, 60*time.Second, "the planner approves it in the console",
		network.ClearBrowserCookies(),
		signIn(f.base+"/", f.api.token),
		chromedp.WaitVisible(`nav[aria-label="main"] a[href="/orders"]`, chromedp.ByQuery),
		chromedp.Navigate(f.base+"/orders/"+second.Number),
		chromedp.WaitVisible(`[data-testid="transfer-request"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`button[data-action="transfer-approve"]`, chromedp.ByQuery),
		chromedp.Click(`button[data-action="transfer-approve"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`[data-testid="transfer-request"]`, chromedp.ByQuery),
	)
	require.NoError(t, f.api.do(ctx, "GET", "/work-orders/"+second.ID, nil, &got))
	require.Equal(t, li.ID, got.AssigneeID, "approved: the colleague's job now")
	require.Equal(t, "assigned", got.Status)
}

// How interceptAPI answers the requests it catches.
type interceptMode int

const (
	passRequests interceptMode = iota // sent on to the server
	holdRequests                      // kept back until the mode changes
	failRequests                      // answered 500 by the browser itself
)

// intercepted catches the page's requests whose URL ends with a suffix.
type intercepted struct {
	t      testing.TB
	ctx    context.Context
	suffix string
	mu     sync.Mutex // guards mode and held
	mode   interceptMode
	held   []fetch.RequestID
}

// interceptAPI treats the tab's requests whose URL ends with suffix as
// set says (DevTools Fetch domain, on only while they are held or failed).
func interceptAPI(t testing.TB, b context.Context, suffix string) *intercepted {
	t.Helper()
	in := &intercepted{t: t, ctx: b, suffix: suffix}
	chromedp.ListenTarget(b, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if !strings.HasSuffix(e.Request.URL, suffix) {
			go in.answer(e.RequestID, passRequests)
			return
		}
		if in.mode == holdRequests {
			in.held = append(in.held, e.RequestID)
			return
		}
		go in.answer(e.RequestID, in.mode)
	})
	return in
}

// set changes the mode; requests held until then are answered in the new
// one. Passing everything turns interception off.
func (in *intercepted) set(m interceptMode) {
	in.t.Helper()
	in.mu.Lock()
	was := in.mode
	in.mode = m
	held := in.held
	in.held = nil
	in.mu.Unlock()
	for _, id := range held {
		in.answer(id, m)
	}
	switch {
	case was == passRequests && m != passRequests:
		runBrowser(in.t, in.ctx, 10*time.Second, "intercept "+in.suffix,
			fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*" + in.suffix}}))
	case was != passRequests && m == passRequests:
		runBrowser(in.t, in.ctx, 10*time.Second, "stop intercepting "+in.suffix, fetch.Disable())
	}
}

func (in *intercepted) answer(id fetch.RequestID, m interceptMode) {
	var a chromedp.Action = fetch.ContinueRequest(id)
	if m == failRequests {
		body := base64.StdEncoding.EncodeToString([]byte(`{"error":{"code":"internal","message":"test: refresh failed"}}`))
		a = fetch.FulfillRequest(id, 500).WithBody(body).
			WithResponseHeaders([]*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}})
	}
	// The tab may be gone when the test ends; nothing waits for this answer then.
	_ = chromedp.Run(in.ctx, a)
}
