package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// benchSeed is a database seeded with n work orders through COPY.
type benchSeed struct {
	pool      *pgxpool.Pool
	api       *httpapi.Server
	srv       *httptest.Server
	plain     *httptest.Server // the same API without the parameter checks
	token     string
	sites     []string
	assets    []string
	engineers []string
	orders    []string // a sample of order IDs
}

func seedOrders(b *testing.B, n int) *benchSeed {
	b.Helper()
	ctx := context.Background()
	cfg := keptDB(b)
	if cfg == "" {
		pool := freshDB(b)
		cfg = pool.Config().ConnConfig.ConnString()
	}
	// The backends are told by their application name (benchSeed.cpu).
	big, err := pgxpool.New(ctx, cfg+"&pool_max_conns=24&application_name="+benchApp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(big.Close)
	if err := postgres.Migrate(ctx, big); err != nil {
		b.Fatal(err)
	}
	store := postgres.New(big)
	svc := workorders.NewService(store, nil, nil)
	s := &benchSeed{pool: big}
	var have int
	if err := big.QueryRow(ctx, `select count(*) from work_orders`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == n {
		// A kept database seeded before: reuse it.
		for q, dst := range map[string]*[]string{
			`select id::text from sites order by code`:                         &s.sites,
			`select id::text from assets order by code`:                        &s.assets,
			`select id::text from users where role = 'engineer' order by name`: &s.engineers,
		} {
			rows, err := big.Query(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if *dst, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				b.Fatal(err)
			}
		}
		_, tok, err := svc.CreateUser(ctx, "bench-admin", workorders.RoleAdmin)
		if err != nil {
			b.Fatal(err)
		}
		s.token = tok
		return s.finish(b, svc)
	}
	if have != 0 {
		b.Fatalf("kept database has %d orders, want 0 or %d", have, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		site, err := svc.CreateSite(ctx, workorders.Site{Code: fmt.Sprintf("site%02d", i), Name: "Site"})
		if err != nil {
			b.Fatal(err)
		}
		s.sites = append(s.sites, site.ID)
	}
	assetSite := map[string]string{}
	var rows [][]any
	for i := range 2000 {
		id := uuid.NewString()
		site := s.sites[i%len(s.sites)]
		rows = append(rows, []any{id, site, fmt.Sprintf("a%04d", i), []string{"pump", "motor", "fan"}[i%3], "asset", 1 + i%5})
		s.assets = append(s.assets, id)
		assetSite[id] = site
	}
	if _, err := big.CopyFrom(ctx, pgx.Identifier{"assets"}, []string{"id", "site_id", "code", "type", "name", "criticality"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		u, _, err := svc.CreateUser(ctx, fmt.Sprintf("eng%d", i), workorders.RoleEngineer)
		if err != nil {
			b.Fatal(err)
		}
		s.engineers = append(s.engineers, u.ID)
	}
	_, tok, err := svc.CreateUser(ctx, "bench-admin", workorders.RoleAdmin)
	if err != nil {
		b.Fatal(err)
	}
	s.token = tok

	// Status mix of a few years of history.
	type share struct {
		st workorders.Status
		p  float64
	}
	mix := []share{{"closed", .70}, {"verified", .08}, {"completed", .05}, {"cancelled", .03}, {"rejected", .03},
		{"proposed", .04}, {"approved", .03}, {"assigned", .015}, {"accepted", .01}, {"in_progress", .01}, {"on_hold", .005}}
	sources := []string{"threshold", "trend", "event", "manual", "schedule"}
	prios := []string{"P1", "P2", "P3", "P4"}
	start := time.Now().Add(-3 * 365 * 24 * time.Hour)
	span := 3 * 365 * 24 * time.Hour
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		i++
		x := rng.Float64()
		st := mix[len(mix)-1].st
		for _, m := range mix {
			if x < m.p {
				st = m.st
				break
			}
			x -= m.p
		}
		asset := s.assets[rng.IntN(len(s.assets))]
		var assignee *string
		switch st {
		case "proposed", "approved", "rejected":
		default:
			e := s.engineers[rng.IntN(len(s.engineers))]
			assignee = &e
		}
		created := start.Add(time.Duration(float64(span) * float64(i) / float64(n)))
		due := created.Add(72 * time.Hour)
		return []any{uuid.NewString(), int64(i), asset, assetSite[asset], "Seeded order", sources[rng.IntN(len(sources))],
			"mode_" + strconv.Itoa(i), prios[rng.IntN(4)], string(st), created, created, due, assignee,
			[]byte(`{"kind":"threshold","limit":7.1,"values":[7.2,7.4]}`)}, nil
	})
	t0 := time.Now()
	if _, err := big.CopyFrom(ctx, pgx.Identifier{"work_orders"}, []string{"id", "number", "asset_id", "site_id", "title", "source",
		"failure_mode", "priority", "status", "created_at", "updated_at", "due_at", "assignee_id", "evidence"}, src); err != nil {
		b.Fatal(err)
	}
	// One creation event per order, also through COPY.
	if _, err := big.Exec(ctx, `insert into work_order_events (order_id, type, actor, at, to_status)
		select id, 'created', 'seed', created_at, status from work_orders`); err != nil {
		b.Fatal(err)
	}
	if _, err := big.Exec(ctx, `select setval('work_order_number', $1)`, n); err != nil {
		b.Fatal(err)
	}
	if _, err := big.Exec(ctx, `analyze`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d orders in %s", n, time.Since(t0).Round(time.Millisecond))
	return s.finish(b, svc)
}

// finish samples order IDs and starts the HTTP server.
func (s *benchSeed) finish(b *testing.B, svc *workorders.Service) *benchSeed {
	ctx := context.Background()
	big := s.pool
	rows2, err := big.Query(ctx, `select id from work_orders tablesample system (1) limit 20000`)
	if err != nil {
		b.Fatal(err)
	}
	s.orders, err = pgx.CollectRows(rows2, pgx.RowTo[string])
	if err != nil || len(s.orders) == 0 {
		b.Fatalf("sample orders: %v (%d)", err, len(s.orders))
	}
	// PDM_BENCH_SLOTS sets ReadConcurrency (default 0: twice GOMAXPROCS;
	// negative: unbounded) to compare admission queues, and
	// PDM_BENCH_ORDER_CACHE OrderCacheBytes (default 0: 64 MiB; negative:
	// off).
	slots, _ := strconv.Atoi(os.Getenv("PDM_BENCH_SLOTS"))
	cacheBytes, _ := strconv.ParseInt(os.Getenv("PDM_BENCH_ORDER_CACHE"), 10, 64)
	api, err := httpapi.New(httpapi.Config{Service: svc, ReadConcurrency: slots, OrderCacheBytes: cacheBytes})
	if err != nil {
		b.Fatal(err)
	}
	s.api = api
	s.srv = httptest.NewServer(api)
	b.Cleanup(s.srv.Close)
	plain, err := httpapi.New(httpapi.SharingAdmission(httpapi.WithoutRequestChecks(httpapi.Config{Service: svc}), api))
	if err != nil {
		b.Fatal(err)
	}
	s.plain = httptest.NewServer(plain)
	b.Cleanup(s.plain.Close)
	return s
}

// benchApp is the application name of the benchmark's PostgreSQL
// connections.
var benchApp = fmt.Sprintf("pdm-bench-%d", os.Getpid())

// cpu returns the CPU time this process (server and clients) and the
// PostgreSQL backends of its pool have used so far; the backends' is 0
// when PostgreSQL runs elsewhere (their /proc is not this machine's).
func (s *benchSeed) cpu(b *testing.B) (self, pg time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rows, err := s.pool.Query(context.Background(), `select pid from pg_stat_activity where application_name = $1`, benchApp)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// utime and stime, in clock ticks (USER_HZ, 100 on Linux), are the
		// 14th and 15th fields; the 2nd, the command, may hold spaces but
		// ends at the last ')'.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		for _, i := range []int{11, 12} {
			if i < len(f) {
				t, _ := strconv.ParseInt(f[i], 10, 64)
				pg += time.Duration(t) * 10 * time.Millisecond
			}
		}
	}
	return self, pg
}

// benchRates are the total request rates of the paced runs
// (PDM_BENCH_RATE, comma-separated, default 200 req/s).
func benchRates() []float64 {
	var out []float64
	for _, f := range strings.Split(os.Getenv("PDM_BENCH_RATE"), ",") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil && v > 0 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		out = []float64{200}
	}
	return out
}

// keptDB returns the URL of the database named by PDM_BENCH_DB, created
// when missing and never dropped, so that repeated runs seed once; "" when
// PDM_BENCH_DB is not set.
func keptDB(b *testing.B) string {
	name := os.Getenv("PDM_BENCH_DB")
	if name == "" {
		return ""
	}
	ctx := context.Background()
	u, err := url.Parse(pgURL())
	if err != nil {
		b.Fatal(err)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		b.Fatalf("PostgreSQL not reachable: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `select exists (select 1 from pg_database where datname = $1)`, name).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
	u.Path = "/" + name
	return u.String()
}

func benchOrders() int {
	if v, err := strconv.Atoi(os.Getenv("PDM_BENCH_ORDERS")); err == nil && v > 0 {
		return v
	}
	return 50_000
}

// BenchmarkTickets measures, with PDM_BENCH_ORDERS work orders (default
// 50,000; the bench script uses 1,000,000), the latency of the filtered
// list and the detail endpoint under 100 concurrent clients over HTTP.
func BenchmarkTickets(b *testing.B) {
	n := benchOrders()
	s := seedOrders(b, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}}
	lists := func(r *rand.Rand) string {
		switch r.IntN(6) {
		case 0:
			return "/api/v1/work-orders?status=proposed&limit=50"
		case 1:
			return "/api/v1/work-orders?site_id=" + s.sites[r.IntN(len(s.sites))] + "&status=approved&limit=50"
		case 2:
			return "/api/v1/work-orders?asset_id=" + s.assets[r.IntN(len(s.assets))] + "&limit=50"
		case 3:
			return "/api/v1/work-orders?assignee_id=" + s.engineers[r.IntN(len(s.engineers))] + "&status=in_progress,on_hold,accepted,assigned&limit=50"
		case 4:
			return "/api/v1/work-orders?priority=P1&status=approved&limit=50"
		}
		return "/api/v1/work-orders?source=trend&status=proposed&limit=50"
	}
	detail := func(r *rand.Rand) string { return "/api/v1/work-orders/" + s.orders[r.IntN(len(s.orders))] }
	for _, bc := range []struct {
		name string
		path func(*rand.Rand) string
	}{{"list", lists}, {"detail", detail}} {
		type load struct {
			clients int
			rate    float64
		}
		loads := []load{{1, 0}, {100, 0}}
		for _, r := range benchRates() {
			loads = append(loads, load{100, r})
		}
		for _, l := range loads {
			rate, clients := l.rate, l.clients
			mode := "closed-loop"
			if rate > 0 {
				mode = fmt.Sprintf("paced=%.0frps", rate)
			}
			// Even requests go to the API with its parameter checks, odd ones
			// to the same API without them (validation off): both halves
			// share the same moments of the run, so that the cost of
			// validation is not lost in the noise of a shared machine.
			b.Run(fmt.Sprintf("%s/orders=%d/clients=%d/%s", bc.name, n, clients, mode), func(b *testing.B) {
				lat := make([]time.Duration, b.N)
				begin := time.Now()
				var next int64
				var mu sync.Mutex
				var wg sync.WaitGroup
				var failed error
				self0, pg0 := s.cpu(b)
				hits0, misses0 := httpapi.OrderCacheHits(s.api)
				b.ResetTimer()
				for w := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(w), 7))
						for {
							mu.Lock()
							k := next
							next++
							mu.Unlock()
							if k >= int64(b.N) {
								return
							}
							base := s.srv.URL
							if k%2 == 1 {
								base = s.plain.URL
							}
							req, _ := http.NewRequest("GET", base+bc.path(r), nil)
							req.Header.Set("Authorization", "Bearer "+s.token)
							t0 := time.Now()
							if rate > 0 {
								// Open loop: request k is due at begin + k/rate; latency
								// counts from then, so falling behind shows.
								t0 = begin.Add(time.Duration(float64(k) / rate * float64(time.Second)))
								time.Sleep(time.Until(t0))
							}
							resp, err := client.Do(req)
							if err == nil {
								_, _ = io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
								if resp.StatusCode != 200 {
									err = fmt.Errorf("status %d", resp.StatusCode)
								}
							}
							lat[k] = time.Since(t0)
							if err != nil {
								mu.Lock()
								failed = err
								mu.Unlock()
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				self1, pg1 := s.cpu(b)
				hits1, misses1 := httpapi.OrderCacheHits(s.api)
				if failed != nil {
					b.Fatal(failed)
				}
				var on, off []time.Duration
				for k, d := range lat {
					if k%2 == 0 {
						on = append(on, d)
					} else {
						off = append(off, d)
					}
				}
				q := func(lat []time.Duration, p float64) float64 {
					if len(lat) == 0 {
						return 0
					}
					return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
				}
				sort.Slice(on, func(i, j int) bool { return on[i] < on[j] })
				sort.Slice(off, func(i, j int) bool { return off[i] < off[j] })
				b.ReportMetric(q(on, 0.50), "p50_ms")
				b.ReportMetric(q(on, 0.99), "p99_ms")
				b.ReportMetric(q(off, 0.50), "p50_nocheck_ms")
				b.ReportMetric(q(off, 0.99), "p99_nocheck_ms")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				// CPU per request: this process (server and clients) and
				// its PostgreSQL backends.
				b.ReportMetric(float64((self1-self0).Microseconds())/1000/float64(b.N), "cpu_ms/req")
				b.ReportMetric(float64((pg1-pg0).Microseconds())/1000/float64(b.N), "pg_cpu_ms/req")
				if n := hits1 - hits0 + misses1 - misses0; n > 0 {
					// Listed orders answered from the order cache.
					b.ReportMetric(float64(hits1-hits0)*100/float64(n), "cache_hit_%")
				}
			})
		}
	}
}
