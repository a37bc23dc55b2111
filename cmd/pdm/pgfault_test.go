package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// TestServeSurvivesPostgresRestart stops `pdm serve`'s PostgreSQL while
// readings that breach a rule arrive, and starts it again: ingest stores
// every reading meanwhile, readiness says PostgreSQL is down while liveness
// stays up, and once PostgreSQL is back the rule's work orders (and a
// device event's) appear exactly once with the event-time detection. One
// motor is cached in the rules engine before the outage, so its signal
// waits in the outbox; the other is first seen during it, so its readings
// wait for the asset lookup. Then PostgreSQL restarts under API traffic:
// no request turns into a false 404 or 4xx, and the API answers again
// without restarting pdm. PostgreSQL is a private instance (the shared one
// serves other tests); Mosquitto and InfluxDB are shared.
func TestServeSurvivesPostgresRestart(t *testing.T) {
	env := newTestEnv(t)
	pg := startPrivatePostgres(t)
	penv := *env
	penv.PGURL = pg.url
	token := "pgfault-admin-" + env.ID + "-0123456789abcdef"
	api, stop := startServe(t, &penv, token)
	root := strings.TrimSuffix(api.base, "/api/v1")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, warm, cold, evented idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "PGF", "name": "PG fault site",
		"location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &site))
	for _, a := range []struct {
		code string
		out  *idCode
	}{{"M-1", &warm}, {"M-2", &cold}, {"M-3", &evented}} {
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": a.code, "type": "motor",
			"name": "Motor " + a.code, "criticality": 3, "location": map[string]float64{"lat": 48.1, "lon": 11.6}}, a.out))
	}
	var rule struct {
		ID string `json:"id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/rules", map[string]any{
		"name": "winding", "asset_type": "motor", "metric": "winding_temp_c", "direction": "above",
		"critical": 110.0, "for": "2m", "failure_mode": "winding_overheat", "priority": "P2",
		"estimated_duration": "1h", "enabled": true,
	}, &rule))

	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "pgfault-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	count := func(asset string) int {
		got, err := ts.ReadReadings(ctx, "PGF", asset, nil, t0.Add(-time.Minute), t0.Add(time.Hour))
		require.NoError(t, err)
		return len(got)
	}
	// Healthy for 5 minutes, then above the critical limit: detected at
	// minute 7 (the limit must hold for 2m).
	const n = 20
	var rs []ingest.Reading
	for i := range n {
		v := 90.0
		if i >= 5 {
			v = 120 + float64(i)
		}
		rs = append(rs, ingest.Reading{TS: t0.Add(time.Duration(i) * time.Minute),
			Metrics: []ingest.Metric{{Name: "winding_temp_c", Value: v}}})
	}
	detected := t0.Add(7 * time.Minute)
	publish := func(asset string, seq uint64, batch []ingest.Reading) {
		t.Helper()
		require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "PGF", asset), ingest.AppendJSON(nil, "gw-"+asset, seq, batch))(ctx))
	}

	// M-1's first reading arrives while PostgreSQL is up, so the engine has
	// M-1 cached when PostgreSQL goes: its signal waits in the outbox. M-2
	// is first seen during the outage: its readings wait for the lookup.
	publish("M-1", 1, rs[:1])
	eventually(t, 30*time.Second, "M-1's first reading stored", func() bool { return count("M-1") == 1 })
	time.Sleep(time.Second) // evaluation follows the write asynchronously

	// PostgreSQL goes down; M-3 reports a critical device event (it waits,
	// unacknowledged, for PostgreSQL), then M-1 and M-2 overheat.
	pg.stop(t)
	require.NoError(t, pub.Publish(ingest.EventTopic(env.TopicRoot, "PGF", "M-3"),
		[]byte(`{"ts":"`+t0.Format(time.RFC3339)+`","code":"E42","severity":"critical","message":"overcurrent"}`))(ctx))
	for i := 1; i < n; i += 5 {
		publish("M-1", uint64(i/5+2), rs[i:min(i+5, n)])
	}
	for i := 0; i < n; i += 5 {
		publish("M-2", uint64(i/5+1), rs[i:i+5])
	}

	// Ingest does not depend on PostgreSQL: every reading is stored.
	for _, a := range []string{"M-1", "M-2"} {
		eventually(t, 30*time.Second, fmt.Sprintf("%d readings of %s in InfluxDB while PostgreSQL is down", n, a),
			func() bool { return count(a) >= n })
		require.Equal(t, n, count(a), a)
	}

	// Liveness stays up, readiness names PostgreSQL.
	require.Equal(t, http.StatusOK, httpStatus(t, ctx, root+"/healthz"))
	status, body := httpGet(t, ctx, root+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "postgresql")
	// A read that cannot reach the database is a server error, never a
	// false "not found".
	requireServerError(t, api.do(ctx, "GET", "/assets/"+warm.ID, nil, nil), "asset read with PostgreSQL down")
	// Let the engine evaluate the stored readings (and fail to deliver)
	// while PostgreSQL is still down.
	time.Sleep(3 * time.Second)

	// PostgreSQL comes back: each order appears once, detected in event time.
	pg.start(t)
	eventually(t, 30*time.Second, "readiness after PostgreSQL restarted", func() bool {
		return httpStatus(t, ctx, root+"/readyz") == http.StatusOK
	})
	orderOf := func(asset idCode) orderJSON {
		t.Helper()
		var orders listOf[orderJSON]
		eventually(t, 90*time.Second, "the work order of "+asset.Code+" raised while PostgreSQL was down", func() bool {
			orders = listOf[orderJSON]{}
			return api.do(ctx, "GET", "/work-orders?asset_id="+asset.ID, nil, &orders) == nil && len(orders.Items) > 0
		})
		require.Len(t, orders.Items, 1, asset.Code)
		o := orders.Items[0]
		require.Equal(t, rule.ID, o.RuleID)
		require.Equal(t, "winding_overheat", o.FailureMode)
		require.NotNil(t, o.DetectedAt)
		require.True(t, o.DetectedAt.Equal(detected), "%s: detected_at %s, want %s", asset.Code, o.DetectedAt, detected)
		return o
	}
	o := orderOf(warm)
	orderOf(cold)
	var evOrders listOf[orderJSON]
	eventually(t, 60*time.Second, "the work order of M-3's device event", func() bool {
		evOrders = listOf[orderJSON]{}
		return api.do(ctx, "GET", "/work-orders?asset_id="+evented.ID, nil, &evOrders) == nil && len(evOrders.Items) > 0
	})
	require.Len(t, evOrders.Items, 1)
	require.Equal(t, "event", evOrders.Items[0].Source)
	require.NotNil(t, evOrders.Items[0].DetectedAt)
	require.True(t, evOrders.Items[0].DetectedAt.Equal(t0), "event order detected_at %s, want %s", evOrders.Items[0].DetectedAt, t0)

	// Phase 2: PostgreSQL restarts under API traffic; an approval sent
	// while it is down fails as a server error and changes nothing.
	var wg sync.WaitGroup
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var badMu sync.Mutex // guards bad
	var bad []string
	var requests [2]int
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; trafficCtx.Err() == nil; i++ {
				var err error
				if w == 0 {
					err = api.do(trafficCtx, "GET", "/work-orders/"+o.ID, nil, nil)
				} else {
					err = api.do(trafficCtx, "POST", "/sites", map[string]any{"code": fmt.Sprintf("T%d", i),
						"name": "traffic", "location": map[string]float64{"lat": 48, "lon": 11}}, nil)
				}
				requests[w]++
				var ae *apiError
				if errors.As(err, &ae) && ae.Status < 500 {
					badMu.Lock()
					bad = append(bad, fmt.Sprintf("worker %d: %v", w, err))
					badMu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	pg.stop(t)
	requireServerError(t, api.do(ctx, "POST", "/work-orders/"+o.ID+"/approve", map[string]any{"note": "while down"}, nil),
		"approve with PostgreSQL down")
	pg.start(t)
	time.Sleep(time.Second)
	stopTraffic()
	wg.Wait()
	t.Logf("requests around the restart: %d reads, %d writes", requests[0], requests[1])
	require.Empty(t, bad, "requests around the restart answered 4xx instead of a server error")

	// The same process serves again, reads and writes.
	eventually(t, 30*time.Second, "the API after the second restart", func() bool {
		return api.do(ctx, "GET", "/work-orders/"+o.ID, nil, nil) == nil
	})
	var got struct {
		Status string `json:"status"`
		Events []struct {
			To string `json:"to"`
		} `json:"events"`
	}
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &got))
	require.Equal(t, "proposed", got.Status, "the failed approval changed nothing")
	require.NoError(t, api.do(ctx, "POST", "/work-orders/"+o.ID+"/approve", map[string]any{"note": "retry"}, nil))
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &got))
	require.Equal(t, "approved", got.Status)
	approvals := 0
	for _, e := range got.Events {
		if e.To == "approved" {
			approvals++
		}
	}
	require.Equal(t, 1, approvals, "one approval event: %+v", got.Events)
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "AFTER", "name": "after",
		"location": map[string]float64{"lat": 48, "lon": 11}}, nil))
	for _, a := range []idCode{warm, cold, evented} {
		var orders listOf[orderJSON]
		require.NoError(t, api.do(ctx, "GET", "/work-orders?asset_id="+a.ID, nil, &orders))
		require.Len(t, orders.Items, 1, "still one order of %s", a.Code)
	}
	stop()
}

// requireServerError asserts err is an HTTP 5xx answer: a database outage
// must never read as "not found" or "bad request".
func requireServerError(t *testing.T, err error, what string) {
	t.Helper()
	var aerr *apiError
	require.ErrorAs(t, err, &aerr, what)
	require.GreaterOrEqual(t, aerr.Status, 500, "%s: %v", what, err)
}

func httpGet(t *testing.T, ctx context.Context, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func httpStatus(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	s, _ := httpGet(t, ctx, url)
	return s
}

// privatePostgres is a PostgreSQL server this test owns: it may stop and
// start it at will.
type privatePostgres struct {
	bin  string // directory of initdb and pg_ctl
	data string
	log  string
	opts string
	url  string
}

// startPrivatePostgres initialises and starts a throwaway PostgreSQL on a
// free port with trust authentication, run as the postgres OS user (initdb
// refuses root), and stops it at cleanup. Missing binaries fail the test.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL (private instance): no /usr/lib/postgresql/*/bin/pg_ctl; install the postgresql server package")
	}
	p := &privatePostgres{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "pdm-pgfault-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.data, p.log = filepath.Join(dir, "data"), filepath.Join(dir, "postgres.log")
	sock := filepath.Join(dir, "sock")
	require.NoError(t, os.Mkdir(sock, 0o700))
	if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("PostgreSQL (private instance): chown %s to postgres: %v\n%s", dir, err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, sock)
	p.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	p.run(t, "initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "--no-sync")
	p.start(t)
	t.Cleanup(func() {
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(p.bin, "pg_ctl"),
			"-D", p.data, "-m", "immediate", "-w", "stop").Run()
	})
	return p
}

func (p *privatePostgres) run(t *testing.T, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, prog)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		logs, _ := os.ReadFile(p.log)
		t.Fatalf("PostgreSQL (private instance): %s %s: %v\n%s\n%s", prog, strings.Join(args, " "), err, out, logs)
	}
}

func (p *privatePostgres) start(t *testing.T) {
	t.Helper()
	p.run(t, "pg_ctl", "-D", p.data, "-l", p.log, "-o", p.opts, "-w", "start")
}

func (p *privatePostgres) stop(t *testing.T) {
	t.Helper()
	p.run(t, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop")
}
