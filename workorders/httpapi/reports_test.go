package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/reports"
	"github.com/openpdm/pdm/workorders/requests"
)

// newReportsEnv is an API with requests and reports, and its pool for
// seeding history straight into the tables.
func newReportsEnv(t testing.TB) (*env, *pgxpool.Pool) {
	t.Helper()
	store, pool := migratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	srv, err := httpapi.New(httpapi.Config{Service: svc, Requests: httpapi.RequestsConfig{
		Service: requests.New(store, svc, nil, nil), Notify: store, Reports: store}})
	require.NoError(t, err)
	e := &env{t: t, svc: svc, srv: srv, tokens: map[workorders.Role]string{}, users: map[workorders.Role]workorders.User{}}
	for _, r := range workorders.Roles() {
		u, tok, err := svc.CreateUser(context.Background(), string(r)+"-user", r)
		require.NoError(t, err)
		e.tokens[r], e.users[r] = tok, u
	}
	return e, pool
}

func sqlExec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func TestReportsAndExports(t *testing.T) {
	t.Parallel()
	e, pool := newReportsEnv(t)
	site, pump, _, _ := e.seed()
	var fan workorders.Asset
	e.mustJSON("POST", "/api/v1/assets", workorders.RolePlanner, map[string]any{"site_id": site.ID, "code": "fan-1",
		"type": "fan", "name": "Fan 1", "criticality": 2}, 201, &fan)
	eng, _, err := e.svc.CreateUser(context.Background(), "Wang Wei", workorders.RoleEngineer)
	require.NoError(t, err)
	now := time.Now().UTC()
	day := func(d int) time.Time { return now.Add(time.Duration(-d) * 24 * time.Hour) }
	// Pump: bearing wear on days 20 and 10 and now (the seed's order: two
	// repeats within 30 days); seal leak once. Fan: bearing wear once, and a rejected order
	// that is no failure. Completed ones by Wang: two on time, one late.
	ins := `insert into work_orders (asset_id, site_id, title, source, failure_mode, priority, status, created_at, due_at,
		started_at, completed_at, assignee_id) values ($1, $2, $3, $4, $5, 'P2', $6, $7, $8, $9, $10, $11) returning id`
	order := func(asset workorders.Asset, source, mode, status string, created time.Time, completedAfter time.Duration, late bool) string {
		var id string
		var due, started, completed any
		var assignee any
		if completedAfter > 0 {
			c := created.Add(completedAfter)
			s := created.Add(completedAfter / 2)
			d := created.Add(2 * completedAfter)
			if late {
				d = created.Add(completedAfter / 4)
			}
			due, started, completed, assignee = d, s, c, eng.ID
		}
		require.NoError(t, pool.QueryRow(context.Background(), ins, asset.ID, site.ID, "t", source, mode, status, created, due,
			started, completed, assignee).Scan(&id))
		return id
	}
	o1 := order(pump, "threshold", "bearing_wear", "completed", day(20), 4*time.Hour, false)
	order(pump, "threshold", "bearing_wear", "completed", day(10), 2*time.Hour, false)
	order(pump, "manual", "seal_leak", "completed", day(5), 6*time.Hour, true)
	order(fan, "threshold", "bearing_wear", "proposed", day(3), 0, false)
	order(fan, "threshold", "imbalance", "rejected", day(3), 0, false)
	sqlExec(t, pool, `insert into order_surveys (order_id, score) values ($1, 5)`, o1)

	var fm httpapi.List[reports.FailureMode]
	e.mustJSON("GET", "/api/v1/reports/failure-modes", workorders.RoleViewer, nil, 200, &fm)
	got := map[string]reports.FailureMode{}
	for _, x := range fm.Items {
		got[x.AssetType+"/"+x.FailureMode] = x
	}
	require.Len(t, got, 3, "%+v", fm.Items)
	require.Equal(t, reports.FailureMode{SiteID: site.ID, SiteName: "Plant 1", AssetType: "pump", FailureMode: "bearing_wear",
		Orders: 3, Repeats: 2, Assets: 1}, got["pump/bearing_wear"])
	require.Equal(t, 1, got["fan/bearing_wear"].Orders)
	require.Equal(t, 0, got["fan/bearing_wear"].Repeats)
	require.Equal(t, "bearing_wear", fm.Items[0].FailureMode, "most frequent first")

	var rf httpapi.List[reports.RepeatFailure]
	e.mustJSON("GET", "/api/v1/reports/repeat-failures?site_id="+site.ID, workorders.RoleViewer, nil, 200, &rf)
	require.Len(t, rf.Items, 1)
	require.Equal(t, "pump-1", rf.Items[0].AssetCode)
	require.Equal(t, 2, rf.Items[0].Repeats)

	// The repeat window: the pump's bearing failed every 10 days, so a
	// 7-day window sees no repeat and a 12-day one both.
	e.mustJSON("GET", "/api/v1/reports/repeat-failures?repeat_window=7d", workorders.RoleViewer, nil, 200, &rf)
	require.Empty(t, rf.Items)
	e.mustJSON("GET", "/api/v1/reports/repeat-failures?repeat_window=288h", workorders.RoleViewer, nil, 200, &rf)
	require.Len(t, rf.Items, 1)
	require.Equal(t, 2, rf.Items[0].Repeats)
	e.mustJSON("GET", "/api/v1/reports/failure-modes?repeat_window=7d", workorders.RoleViewer, nil, 200, &fm)
	for _, x := range fm.Items {
		require.Zero(t, x.Repeats, "%+v", x)
	}
	code, body, _ := e.download("GET", "/api/v1/reports/repeat-failures/export?format=csv&repeat_window=7d", workorders.RoleViewer)
	require.Equal(t, 200, code, string(body))
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1, "the export applies the window too: header only")

	var en httpapi.List[reports.Engineer]
	e.mustJSON("GET", "/api/v1/reports/engineers", workorders.RoleViewer, nil, 200, &en)
	require.Len(t, en.Items, 1)
	w := en.Items[0]
	require.Equal(t, "Wang Wei", w.Name)
	require.Equal(t, 3, w.Jobs)
	require.Equal(t, 3, w.FirstTimeFix)
	require.Equal(t, 3, w.SLACompleted)
	require.Equal(t, 2, w.SLAOnTime)
	require.InDelta(t, 4.0, *w.MTTRHours, 0.01, "(4+2+6)/3 hours")
	require.Equal(t, 1, w.CSATResponses)
	require.InDelta(t, 5.0, *w.CSATAverage, 0.001)

	// Requests by channel.
	for _, addr := range []string{"192.0.2.10", "192.0.2.11"} {
		code, b := e.postForm(addr, map[string]string{"site": "plant1", "asset": "pump-1", "description": "noise",
			"requester.email": "c@example.com"}, nil)
		require.Equal(t, 201, code, string(b))
	}
	var ch httpapi.List[reports.Channel]
	e.mustJSON("GET", "/api/v1/reports/channels", workorders.RoleViewer, nil, 200, &ch)
	require.Equal(t, []reports.Channel{{Channel: "form", Requests: 2, Open: 2}}, ch.Items)

	// Exports: CSV (with a BOM, formulas defused) and XLSX.
	sqlExec(t, pool, `update work_orders set title = '=HYPERLINK("x")' where id = $1`, o1)
	var hdr http.Header
	code, body, hdr = e.download("GET", "/api/v1/exports/work-orders?format=csv&site_id="+site.ID, workorders.RoleViewer)
	require.Equal(t, 200, code, string(body))
	require.Equal(t, "text/csv; charset=utf-8", hdr.Get("Content-Type"))
	require.Contains(t, hdr.Get("Content-Disposition"), "attachment; filename=\"work-orders-")
	require.True(t, bytes.HasPrefix(body, []byte("\ufeff")))
	recs, err = csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, reports.OrderColumns, recs[0])
	require.Len(t, recs, 1+8, "header, 8 orders (the seed's, 5 seeded, 2 requests)")
	require.Contains(t, string(body), `'=HYPERLINK`)

	code, body, hdr = e.download("GET", "/api/v1/exports/requests?format=xlsx", workorders.RolePlanner)
	require.Equal(t, 200, code, string(body))
	require.Contains(t, hdr.Get("Content-Type"), "spreadsheetml")
	x, err := excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	rows, err := x.GetRows("requests")
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, reports.RequestColumns, rows[0])
	require.Equal(t, "form", rows[1][2])

	code, body, _ = e.download("GET", "/api/v1/reports/engineers/export?format=xlsx", workorders.RoleViewer)
	require.Equal(t, 200, code, string(body))
	x, err = excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	rows, err = x.GetRows("engineers")
	require.NoError(t, err)
	require.Equal(t, []string{"Wang Wei", "3"}, rows[1][:2])

	// Bad input names every bad field; an engineer may not read reports.
	code, body, _ = e.download("GET", "/api/v1/exports/work-orders?format=pdf&status=nope&source=x", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	for _, f := range []string{"format", "status", "source"} {
		require.Contains(t, string(body), `"field":"`+f+`"`)
	}
	code, body, _ = e.download("GET", "/api/v1/exports/requests?site_id=x&from=yesterday", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	for _, f := range []string{"site_id", "from"} {
		require.Contains(t, string(body), `"field":"`+f+`"`)
	}
	code, body, _ = e.download("GET", "/api/v1/reports/failure-modes?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", workorders.RoleViewer)
	require.Equal(t, 422, code, string(body))
	// Every bad filter of an export in one answer.
	code, body, _ = e.download("GET", "/api/v1/exports/work-orders?format=pdf&status=nope&source=x&priority=P9&from=bad&to=bad&site_id=x&asset_id=y", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	require.ElementsMatch(t, []string{"format", "status", "source", "priority", "from", "to", "site_id", "asset_id"}, fieldNames(t, body))
	code, body, _ = e.download("GET", "/api/v1/reports/repeat-failures/export?format=pdf&from=yesterday&to=bad&repeat_window=500d&site_id=x", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	require.ElementsMatch(t, []string{"format", "from", "to", "repeat_window", "site_id"}, fieldNames(t, body))
	for _, w := range []string{"12h", "366d", "abc", "-3d"} {
		code, body, _ = e.download("GET", "/api/v1/reports/repeat-failures?repeat_window="+w, workorders.RoleViewer)
		require.Equal(t, 400, code, w+": "+string(body))
		require.Equal(t, []string{"repeat_window"}, fieldNames(t, body), w)
	}
	// A bad format and a bad period of well-formed ends: both named.
	code, body, _ = e.download("GET", "/api/v1/reports/engineers/export?format=pdf&from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	require.ElementsMatch(t, []string{"format", "from"}, fieldNames(t, body))
	code, body, _ = e.download("GET", "/api/v1/exports/requests?format=pdf&from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", workorders.RoleViewer)
	require.Equal(t, 400, code, string(body))
	require.ElementsMatch(t, []string{"format", "from"}, fieldNames(t, body))
	code, body, _ = e.download("GET", "/api/v1/exports/requests?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", workorders.RoleViewer)
	require.Equal(t, 422, code, string(body))
	code, _, _ = e.download("GET", "/api/v1/reports/engineers", workorders.RoleEngineer)
	require.Equal(t, 403, code)
}

// download sends a request with a role's token and returns status, body and headers.
func (e *env) download(method, path string, role workorders.Role) (int, []byte, http.Header) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), rec.Header()
}

// seedManyOrders inserts n work orders of one asset in one statement.
func seedManyOrders(t testing.TB, pool *pgxpool.Pool, asset workorders.Asset, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := pool.Exec(ctx, `insert into work_orders (asset_id, site_id, title, source, failure_mode, priority, status, created_at)
		select $1, $2, '泵 pump order ' || g, 'manual', 'bearing_wear', 'P3', 'approved', now() - g * interval '1 second'
		from generate_series(1, $3) g`, asset.ID, asset.SiteID, n)
	require.NoError(t, err)
}

// exportPeakHeap streams an export through a real HTTP server to a client
// that counts the bytes, sampling this process's heap meanwhile; it
// returns the bytes, and the peak heap above the heap before.
func exportPeakHeap(t testing.TB, e *env, path string) (int64, uint64) {
	t.Helper()
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[workorders.RoleViewer])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	<-done
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	p := peak.Load()
	if p < base {
		return n, 0
	}
	return n, p - base
}

// TestExportMemoryStaysFlat exports 20,000 and then 200,000 work orders
// as CSV and XLSX and checks the heap: ten times the rows must not take
// more memory (BenchmarkExport in bench_test.go does 1,000,000). It is
// not parallel, so no other test's allocations are counted.
func TestExportMemoryStaysFlat(t *testing.T) {
	e, pool := newReportsEnv(t)
	_, asset, _, _ := e.seed()
	peaks := map[string][2]uint64{}
	for i, n := range []int{20_000, 180_000} {
		seedManyOrders(t, pool, asset, n)
		for _, f := range []string{"csv", "xlsx"} {
			size, peak := exportPeakHeap(t, e, "/api/v1/exports/work-orders?format="+f)
			t.Logf("%s, %d rows: %d KiB written, heap peak +%d KiB", f, map[int]int{0: 20_001, 1: 200_001}[i], size>>10, peak>>10)
			require.Greater(t, size, int64(n/10), "the export was written")
			p := peaks[f]
			p[i] = peak
			peaks[f] = p
		}
	}
	for f, p := range peaks {
		// 180,000 more rows are ~27 MB of CSV; a bounded stream's heap
		// does not follow them (excelize spills rows to a file past 16 MiB):
		// ten times the rows stay within twice the first peak (or 24 MiB
		// more): the peak is sampled, and under -race on a loaded machine
		// the collector runs late (xlsx measured 54 then 60 MiB quiet, once
		// 88 MiB loaded; rows followed would be ten times).
		require.Less(t, p[1], max(2*p[0], p[0]+24<<20), "%s: heap grew with the rows: %d KiB at 20k rows, %d KiB at 200k", f, p[0]>>10, p[1]>>10)
		require.Less(t, p[1], uint64(128<<20), "%s: heap peak %d KiB", f, p[1]>>10)
	}
}

func TestStatusURLIsAbsoluteWithoutPublicURL(t *testing.T) {
	t.Parallel()
	e := newRequestsEnv(t, func(c *httpapi.RequestsConfig) { c.PublicURL = "" })
	e.seed()
	code, b := e.postForm("192.0.2.30", map[string]string{"site": "plant1", "asset": "pump-1", "description": "noise",
		"requester.email": "c@example.com"}, nil)
	require.Equal(t, 201, code, string(b))
	var created httpapi.RequestCreated
	require.NoError(t, json.Unmarshal(b, &created))
	require.True(t, strings.HasPrefix(created.StatusURL, "http://example.com/s/"), created.StatusURL)

	// The order's own answers (detail and list) carry the same absolute link.
	var o workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+created.OrderID, workorders.RolePlanner, nil, 200, &o)
	require.Equal(t, created.StatusURL, o.StatusURL)
	var l struct {
		Items []workorders.Order `json:"items"`
	}
	e.mustJSON("GET", "/api/v1/work-orders?source=request", workorders.RolePlanner, nil, 200, &l)
	found := false
	for _, it := range l.Items {
		if it.ID == created.OrderID {
			found = true
			require.Equal(t, created.StatusURL, it.StatusURL)
		}
	}
	require.True(t, found, "the request's order is listed")
}

// BenchmarkExport exports 1,000,000 work orders as CSV and XLSX through a
// real HTTP server and reports the time, the size and the heap's peak
// above its start (bench/customers.md).
func BenchmarkExport(b *testing.B) {
	e, pool := newReportsEnv(b)
	_, asset, _, _ := e.seed()
	seedManyOrders(b, pool, asset, 999_999)
	for _, f := range []string{"csv", "xlsx"} {
		b.Run(f, func(b *testing.B) {
			for range b.N {
				start := time.Now()
				size, peak := exportPeakHeap(b, e, "/api/v1/exports/work-orders?format="+f)
				b.ReportMetric(time.Since(start).Seconds(), "s/export")
				b.ReportMetric(float64(size)/(1<<20), "MiB")
				b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MiB")
			}
		})
	}
}
