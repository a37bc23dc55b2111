package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// firstRowsJS runs in every document before the console's own scripts: it
// notes, relative to the navigation's start (performance.now()), when the
// first row of the review queue or of the orders list enters the DOM and
// when the frame after it has been produced (the rows are on screen).
const firstRowsJS = `(() => {
  const sel = { review: 'tbody tr[data-order]', orders: '.vlist .vrow' };
  const first = (window.__first = {});
  const seen = () => {
    for (const [k, s] of Object.entries(sel)) {
      if (first[k] || !document.querySelector(s)) continue;
      first[k] = { dom: performance.now() };
      requestAnimationFrame(() => setTimeout(() => { first[k].shown = performance.now(); }, 0));
    }
  };
  new MutationObserver(seen).observe(document, { childList: true, subtree: true });
})();`

// scrollJS first counts 300 frames of the same page standing still (the
// control: what the machine's load alone costs), then scrolls the orders
// list by four rows per animation frame for 600 frames, and returns each
// frame's duration of both and the most rows the window ever had in the
// DOM.
const scrollJS = `(async () => {
  const el = document.querySelector('.vlist');
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  // Main-thread tasks over 50 ms (script, style, layout) per phase: when
  // frames are long without them, the time went to raster and compositing
  // or to waiting for the CPU.
  const tasks = { idle: [], scroll: [] };
  let phase = 'idle';
  const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) tasks[phase].push(e.duration); });
  po.observe({ type: 'longtask' });
  const idle = [];
  let last = await frame();
  for (let i = 0; i < 300; i++) {
    const t = await frame();
    idle.push(t - last);
    last = t;
  }
  const frames = [];
  let most = 0;
  phase = 'scroll';
  const scrollStart = performance.now();
  last = await frame();
  for (let i = 0; i < 600; i++) {
    el.scrollTop += 4 * 36;
    const t = await frame();
    frames.push(t - last);
    last = t;
    most = Math.max(most, el.querySelectorAll('.vrow').length);
  }
  await frame();
  po.disconnect();
  // Requests for orders while scrolling: live updates refetching the list.
  const refetches = performance.getEntriesByType('resource')
    .filter((e) => e.startTime >= scrollStart && e.name.includes('/api/v1/work-orders')).length;
  return { idle, frames, tasks, refetches, most, rows: Math.round(el.scrollHeight / 36) };
})()`

type benchMark struct {
	DOM   float64 `json:"dom"`
	Shown float64 `json:"shown"`
}

// BenchmarkConsole measures the console's budgets in this machine's
// Chromium against a real `pdm serve`:
//   - first useful screen: from navigation start until the review queue
//     (/review) or the orders list (/orders) shows its first rows, cold (a
//     new browser profile each run) and warm (the same browser again), on
//     the database PDM_CONSOLE_BENCH_DB (scripts/bench-console.sh copies
//     the 1,000,000-order database of scripts/bench-tickets.sh; serve
//     writes to it, so never point it at a database you keep);
//   - the orders list with 10,000 rows: frame times while it scrolls;
//   - the evidence chart with 100,000 points per series, drawn by the
//     bench page web/bench/chart.html (built into web/dist/bench by the
//     script, not part of the shipped bundle).
//
// With PDM_BENCH_MD set it writes its tables there.
func BenchmarkConsole(b *testing.B) {
	db := os.Getenv("PDM_CONSOLE_BENCH_DB")
	if db == "" {
		b.Fatal("PDM_CONSOLE_BENCH_DB names the seeded database to serve (a copy: serve writes to it); run scripts/bench-console.sh")
	}
	benchPage := filepath.Join("..", "..", "web", "dist", "bench", "chart.html")
	if _, err := os.Stat(benchPage); err != nil {
		b.Fatalf("the chart bench page is not built (%v): run scripts/bench-console.sh", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	env := newTestEnv(b)
	u, err := url.Parse(env.PGURL)
	require.NoError(b, err)
	u.Path = "/" + db
	env.PGURL = u.String()
	conn, err := pgx.Connect(ctx, env.PGURL)
	require.NoError(b, err)
	var orders, proposed int
	require.NoError(b, conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'proposed') FROM work_orders`).Scan(&orders, &proposed))
	require.NoError(b, conn.Close(ctx))

	token := "console-bench-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(b, env, token)
	base := strings.TrimSuffix(api.base, "/api/v1")
	cookie := benchSession(b, ctx, api.base, token)

	// First useful screen.
	const runs = 5
	type screen struct {
		name, path, key string
		cold, warm      []time.Duration
	}
	screens := []*screen{
		{name: "review queue (" + fmt.Sprint(proposed) + " proposed; the console loads the 100 riskiest, ranked by the server, more on demand)", path: "/review", key: "review"},
		{name: "orders list (the console loads up to 10,000)", path: "/orders", key: "orders"},
	}
	load := func(br context.Context, s *screen) time.Duration {
		var m map[string]benchMark
		runBrowser(b, br, 2*time.Minute, "load "+s.path,
			chromedp.Navigate(base+s.path),
			chromedp.Poll(`window.__first && window.__first.`+s.key+` && window.__first.`+s.key+`.shown !== undefined`, nil,
				chromedp.WithPollingTimeout(90*time.Second)),
			chromedp.Evaluate(`window.__first`, &m),
		)
		return time.Duration(m[s.key].Shown * float64(time.Millisecond))
	}
	open := func() context.Context {
		br := newBrowser(b, chromedp.UserDataDir(profileDir(b)))
		runBrowser(b, br, 30*time.Second, "prepare the tab",
			network.Enable(),
			network.SetCookie("pdm_session", cookie).WithURL(base+"/").WithHTTPOnly(true),
			chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(firstRowsJS).Do(ctx)
				return err
			}),
		)
		return br
	}
	for _, s := range screens {
		for range runs {
			br := open()
			s.cold = append(s.cold, load(br, s))
			s.warm = append(s.warm, load(br, s))
			_ = chromedp.Cancel(br)
		}
	}

	// Scrolling the orders list with 10,000 rows.
	var scroll struct {
		Idle      []float64 `json:"idle"`
		Frames    []float64 `json:"frames"`
		Refetches int       `json:"refetches"`
		Tasks     struct {
			Idle   []float64 `json:"idle"`
			Scroll []float64 `json:"scroll"`
		} `json:"tasks"`
		Most int `json:"most"`
		Rows int `json:"rows"`
	}
	{
		br := open()
		load(br, screens[1])
		runBrowser(b, br, 2*time.Minute, "scroll the orders list",
			chromedp.Poll(`document.querySelector('.vlist').scrollHeight >= 10000 * 36`, nil, chromedp.WithPollingTimeout(60*time.Second)),
			chromedp.Evaluate(scrollJS, &scroll, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		)
		_ = chromedp.Cancel(br)
	}

	// The evidence chart with 100,000 points per series, and with the
	// 4,000 the console asks the server for, in the same browser.
	type chartRun struct {
		Points  int       `json:"points"`
		Columns int       `json:"columns"`
		Build   []float64 `json:"build_ms"`
		Draw    []float64 `json:"draw_ms"`
		Frame   []float64 `json:"frame_ms"`
		Error   string    `json:"error"`
	}
	var chart, small chartRun
	{
		srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(benchPage))))
		defer srv.Close()
		br := newBrowser(b)
		for _, c := range []struct {
			points int
			out    *chartRun
		}{{4000, &small}, {100_000, &chart}} {
			runBrowser(b, br, 3*time.Minute, "chart bench page",
				chromedp.Navigate(fmt.Sprintf("%s/chart.html?points=%d&runs=7", srv.URL, c.points)),
				chromedp.Poll(`window.__bench !== undefined`, nil, chromedp.WithPollingTimeout(150*time.Second)),
				chromedp.Evaluate(`window.__bench`, c.out),
			)
			require.Empty(b, c.out.Error)
			require.Equal(b, c.points, c.out.Points)
		}
		_ = chromedp.Cancel(br)
	}

	load1 := strings.Join(strings.Fields(readLoadavg())[:3], " ")
	var md strings.Builder
	md.WriteString("## First useful screen, long lists and the evidence chart (Chromium)\n\n")
	fmt.Fprintf(&md, "Measured by `BenchmarkConsole` (cmd/pdm/console_bench_test.go, run by scripts/bench-console.sh) on %s in Debian's Chromium "+
		"(headless, 1400×900) against `pdm serve` on this machine, the database holding %d work orders (%d proposed). "+
		"Load average at the end of the run: %s (2 cores shared with other work: the figures include waiting for the CPU).\n\n",
		time.Now().UTC().Format("2006-01-02"), orders, proposed, load1)
	md.WriteString("First useful screen: from navigation start (performance.timeOrigin) until the frame after the first rows entered the DOM; ")
	fmt.Fprintf(&md, "cold = a new browser profile (nothing cached), warm = the same tab navigating again (bundle cached, data fetched again); %d runs each. Budget ≤ 1,500 ms.\n\n", runs)
	md.WriteString("| screen | cold median | cold max | warm median | warm max | within budget: medians / every run |\n|---|---:|---:|---:|---:|---|\n")
	for _, s := range screens {
		worst := max(maxOf(s.cold), maxOf(s.warm))
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s / %s |\n", s.name, ms(median(s.cold)), ms(maxOf(s.cold)), ms(median(s.warm)), ms(maxOf(s.warm)),
			yesNo(max(median(s.cold), median(s.warm)) <= 1500*time.Millisecond), yesNo(worst <= 1500*time.Millisecond))
	}
	frames := append([]float64(nil), scroll.Frames...)
	idle := append([]float64(nil), scroll.Idle...)
	sort.Float64s(frames)
	sort.Float64s(idle)
	long := func(fs []float64) int {
		n := 0
		for _, f := range fs {
			if f > 1000.0/60*1.5 {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(&md, "\nOrders list with %d rows (windowed: at most %d rows in the DOM), scrolled by 4 rows per frame for %d frames: "+
		"frame time median %.1f ms, p95 %.1f ms, max %.1f ms; %d frames (%.1f %%) longer than 25 ms (a missed 60 Hz frame). "+
		"Control in the same run, the same page standing still for %d frames: median %.1f ms, p95 %.1f ms, max %.1f ms; %d (%.1f %%) longer than 25 ms.\n",
		scroll.Rows, scroll.Most, len(frames), pct(frames, 0.5), pct(frames, 0.95), pct(frames, 1), long(frames), 100*float64(long(frames))/float64(max(len(frames), 1)),
		len(idle), pct(idle, 0.5), pct(idle, 0.95), pct(idle, 1), long(idle), 100*float64(long(idle))/float64(max(len(idle), 1)))
	longest := func(fs []float64) float64 {
		m := 0.0
		for _, f := range fs {
			m = max(m, f)
		}
		return m
	}
	fmt.Fprintf(&md, "Main-thread tasks over 50 ms (PerformanceObserver longtask): %d while scrolling (longest %.0f ms), %d standing still (longest %.0f ms); "+
		"%d requests for orders while scrolling (live updates refetching the list).\n",
		len(scroll.Tasks.Scroll), longest(scroll.Tasks.Scroll), len(scroll.Tasks.Idle), longest(scroll.Tasks.Idle), scroll.Refetches)
	cd := append([]float64(nil), chart.Draw...)
	cf := append([]float64(nil), chart.Frame...)
	cb := append([]float64(nil), chart.Build...)
	sort.Float64s(cd)
	sort.Float64s(cf)
	sort.Float64s(cb)
	sd := append([]float64(nil), small.Draw...)
	sort.Float64s(sd)
	fmt.Fprintf(&md, "\nEvidence chart (the console's Chart component and evidenceColumns on web/bench/chart.html) with %d points in each of its %d series "+
		"(telemetry, trend, band edges), %d runs: building the columns median %.0f ms (max %.0f); from mounting to the end of uPlot's first draw "+
		"median %.0f ms (max %.0f); to the next frame median %.0f ms (max %.0f). Budget ≤ 300 ms to draw, median / every run: %s / %s. "+
		"The console itself asks the server for at most 4,000 points per series (downsampled by the server); with 4,000 the same draw "+
		"takes median %.0f ms (max %.0f) in the same browser.\n",
		chart.Points, chart.Columns-1, len(cd), pct(cb, 0.5), pct(cb, 1), pct(cd, 0.5), pct(cd, 1), pct(cf, 0.5), pct(cf, 1),
		yesNo(pct(cf, 0.5) <= 300), yesNo(pct(cf, 1) <= 300), pct(sd, 0.5), pct(sd, 1))
	b.ReportMetric(float64(median(screens[0].cold).Milliseconds()), "ms-review-cold")
	b.ReportMetric(float64(median(screens[1].cold).Milliseconds()), "ms-orders-cold")
	b.ReportMetric(pct(cf, 0.5), "ms-chart-100k")
	if p := os.Getenv("PDM_BENCH_MD"); p != "" {
		require.NoError(b, os.WriteFile(p, []byte(md.String()), 0o644))
	} else {
		b.Log("\n" + md.String())
	}
}

// benchSession turns an API token into the console's session cookie.
func benchSession(b testing.TB, ctx context.Context, apiBase, token string) string {
	req, err := http.NewRequestWithContext(ctx, "POST", apiBase+"/session", strings.NewReader(`{"token":"`+token+`"}`))
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

// pct is the q-quantile of sorted values (nearest rank); 0 when empty.
func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func readLoadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "? ? ?"
	}
	return string(b)
}
