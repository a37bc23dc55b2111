package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"
)

// netProfile is a DevTools network throttling profile (Chrome's presets).
type netProfile struct {
	name      string
	latencyMs float64
	downBps   float64 // bytes per second
	upBps     float64
}

var (
	regular3G = netProfile{"Regular 3G (100 ms, 750 kbit/s down, 250 kbit/s up)", 100, 750 * 1024 / 8, 250 * 1024 / 8}
	slow3G    = netProfile{"Slow 3G (400 ms, 400 kbit/s down and up)", 400, 400 * 1024 / 8, 400 * 1024 / 8}
)

func (p netProfile) apply() chromedp.Action {
	return network.EmulateNetworkConditions(false, p.latencyMs, p.downBps, p.upBps)
}

// BenchmarkApp measures the engineers' app in Chromium on an emulated
// phone against a real `pdm serve`: the first load of /app/ on throttled
// 3G (cold profile, signed in) until the job list shows, the cached load
// (service worker shell, IndexedDB data) on the same profile, and how long
// a queued action takes to reach the server after the network comes back.
// With PDM_BENCH_MD set it writes bench/app.md's tables there.
func BenchmarkApp(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := newAppFixture(b, ctx)
	var site struct {
		AssetID string `json:"asset_id"`
	}
	require.NoError(b, f.api.do(ctx, "GET", "/work-orders/"+f.jobA.ID, nil, &site))
	cookie := sessionCookie(b, ctx, f)

	type loadRow struct {
		profile       string
		first, cached []time.Duration
	}
	var loads []loadRow
	rounds := 3
	for _, p := range []netProfile{regular3G, slow3G} {
		row := loadRow{profile: p.name}
		for range rounds {
			br := newBrowser(b, chromedp.UserDataDir(profileDir(b)))
			var t0 time.Time
			runBrowser(b, br, 2*time.Minute, "first load on "+p.name,
				chromedp.Emulate(device.IPhone13),
				network.Enable(),
				network.SetCookie("pdm_session", cookie).WithURL(f.base+"/app/").WithHTTPOnly(true),
				p.apply(),
				chromedp.ActionFunc(func(context.Context) error { t0 = time.Now(); return nil }),
				chromedp.Navigate(f.base+"/app/"),
				chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
				chromedp.ActionFunc(func(context.Context) error { row.first = append(row.first, time.Since(t0)); return nil }),
				chromedp.Poll(`navigator.serviceWorker.controller !== null`, nil, chromedp.WithPollingTimeout(60*time.Second)),
				chromedp.Poll(`(async () => { const c = await caches.open('pdm-app-shell-v1'); return (await c.keys()).length >= 3; })()`, nil,
					chromedp.WithPollingTimeout(60*time.Second)),
				chromedp.ActionFunc(func(context.Context) error { t0 = time.Now(); return nil }),
				chromedp.Navigate(f.base+"/app/"),
				chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
				chromedp.ActionFunc(func(context.Context) error { row.cached = append(row.cached, time.Since(t0)); return nil }),
			)
			_ = chromedp.Cancel(br)
		}
		loads = append(loads, row)
	}

	// Offline start: the shell from the service worker, the jobs from IndexedDB.
	var offline []time.Duration
	{
		br := newBrowser(b, chromedp.UserDataDir(profileDir(b)))
		runBrowser(b, br, time.Minute, "warm the profile",
			chromedp.Emulate(device.IPhone13),
			network.Enable(),
			network.SetCookie("pdm_session", cookie).WithURL(f.base+"/app/").WithHTTPOnly(true),
			chromedp.Navigate(f.base+"/app/"),
			chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
			chromedp.Poll(`navigator.serviceWorker.controller !== null`, nil, chromedp.WithPollingTimeout(30*time.Second)),
			network.EmulateNetworkConditions(true, 0, 0, 0),
		)
		for range rounds {
			var t0 time.Time
			runBrowser(b, br, time.Minute, "offline load",
				chromedp.ActionFunc(func(context.Context) error { t0 = time.Now(); return nil }),
				chromedp.Navigate(f.base+"/app/"),
				chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
				chromedp.ActionFunc(func(context.Context) error { offline = append(offline, time.Since(t0)); return nil }),
			)
		}
		_ = chromedp.Cancel(br)
	}

	// A queued action reaching the server after reconnecting.
	var reach []time.Duration
	{
		br := newBrowser(b, chromedp.UserDataDir(profileDir(b)))
		runBrowser(b, br, time.Minute, "open the app",
			chromedp.Emulate(device.IPhone13),
			network.Enable(),
			network.SetCookie("pdm_session", cookie).WithURL(f.base+"/app/").WithHTTPOnly(true),
			chromedp.Navigate(f.base+"/app/"),
			chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
		)
		for i := range 5 {
			var o orderJSON
			require.NoError(b, f.api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": site.AssetID,
				"title": fmt.Sprintf("Reconnect %d", i), "priority": "P3"}, &o))
			if err := f.api.do(ctx, "POST", "/work-orders/"+o.ID+"/assign", map[string]any{"assignee_id": f.engUserID}, nil); err != nil {
				require.NoError(b, f.api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &o))
				require.Equal(b, "assigned", o.Status, "%v", err)
			}
			runBrowser(b, br, time.Minute, "accept offline",
				chromedp.Navigate(f.base+"/app/jobs/"+o.ID),
				chromedp.WaitVisible(`[data-testid="job-status"][data-status="assigned"]`, chromedp.ByQuery),
				network.EmulateNetworkConditions(true, 0, 0, 0),
				chromedp.Poll(`navigator.onLine === false`, nil),
				chromedp.Click(`button[data-action="accept"]`, chromedp.ByQuery),
				chromedp.WaitVisible(`[data-testid="job-status"][data-status="accepted"]`, chromedp.ByQuery),
			)
			t0 := time.Now()
			runBrowser(b, br, 10*time.Second, "reconnect", network.EmulateNetworkConditions(false, 0, -1, -1))
			for {
				var got orderJSON
				require.NoError(b, f.api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &got))
				if got.Status == "accepted" {
					reach = append(reach, time.Since(t0))
					break
				}
				if time.Since(t0) > 30*time.Second {
					b.Fatalf("the queued accept did not reach the server within 30 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	var md strings.Builder
	md.WriteString("## Engineers' app (/app/)\n\n")
	md.WriteString("Chromium (headless, iPhone 13 emulation) against a real `pdm serve` on this machine; signed in, two jobs. ")
	md.WriteString("Time from navigation until the job list shows. DevTools throttling applies to the page's own requests; the service worker's ")
	md.WriteString("fetches are not throttled (they serve the shell from Cache Storage on cached loads). Budgets: first load ≤ 5 s on 3G, cached load ≤ 1 s, ")
	md.WriteString("a queued action on the server ≤ 2 s after reconnecting.\n\n")
	md.WriteString(fmt.Sprintf("| network | first load (cold), median / max of %d | cached load, median / max |\n|---|---|---|\n", rounds))
	for _, r := range loads {
		md.WriteString(fmt.Sprintf("| %s | %s / %s | %s / %s |\n", r.profile, ms(median(r.first)), ms(maxOf(r.first)), ms(median(r.cached)), ms(maxOf(r.cached))))
	}
	md.WriteString(fmt.Sprintf("| offline (shell from the service worker, jobs from IndexedDB) | — | %s / %s |\n", ms(median(offline)), ms(maxOf(offline))))
	md.WriteString(fmt.Sprintf("\nA queued accept reaching the server after the network comes back (%d runs): median %s, max %s.\n",
		len(reach), ms(median(reach)), ms(maxOf(reach))))
	b.ReportMetric(float64(median(loads[0].first).Milliseconds()), "ms-first-3g")
	b.ReportMetric(float64(median(loads[0].cached).Milliseconds()), "ms-cached")
	b.ReportMetric(float64(median(reach).Milliseconds()), "ms-reconnect")
	if p := os.Getenv("PDM_BENCH_MD"); p != "" {
		require.NoError(b, os.WriteFile(p, []byte(md.String()), 0o644))
	} else {
		b.Log("\n" + md.String())
	}
}

// sessionCookie signs the fixture's engineer in and returns the cookie.
func sessionCookie(b testing.TB, ctx context.Context, f *appFixture) string {
	req, err := http.NewRequestWithContext(ctx, "POST", f.api.base+"/session", strings.NewReader(`{"token":"`+f.engToken+`"}`))
	require.NoError(b, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusCreated, resp.StatusCode)
	for _, c := range resp.Cookies() {
		if c.Name == "pdm_session" {
			return c.Value
		}
	}
	b.Fatal("no session cookie")
	return ""
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
