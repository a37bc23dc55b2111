package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/requests"
)

// countingSMTP is a real SMTP server (emersion/go-smtp) that counts mail.
type countingSMTP struct{ n atomic.Int64 }

func (c *countingSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &countSession{c}, nil }

type countSession struct{ c *countingSMTP }

func (s *countSession) Reset()                               {}
func (s *countSession) Logout() error                        { return nil }
func (s *countSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *countSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *countSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.c.n.Add(1)
	return err
}

// timed measures server time per request.
type timed struct {
	h  http.Handler
	mu sync.Mutex // guards d
	d  []time.Duration
}

func (t *timed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t.h.ServeHTTP(w, r)
	el := time.Since(start)
	t.mu.Lock()
	t.d = append(t.d, el)
	t.mu.Unlock()
}

func (t *timed) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = nil
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// openLoop sends rate requests a second for dur, each to url(i), and
// returns how many failed.
func openLoop(rate int, dur time.Duration, url func(i int) string) (sent, failed int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	var bad atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		wg.Add(1)
		sent++
		go func(i int) {
			defer wg.Done()
			resp, err := client.Get(url(i))
			if err != nil {
				bad.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				bad.Add(1)
			}
		}(i)
	}
	wg.Wait()
	return sent, int(bad.Load())
}

// BenchmarkCustomers measures the public status endpoint at 500 requests
// a second (server time, answer size) and the notification outbox sending
// 1,000 emails through a local SMTP server while the API serves order
// details, against the API's p99 without the mail. With PDM_BENCH_MD set it
// writes its table there (scripts/bench-customers.sh → bench/customers.md).
func BenchmarkCustomers(b *testing.B) {
	ctx := context.Background()
	_, small := migratedStore(b)
	pool, err := pgxpool.New(ctx, small.Config().ConnConfig.ConnString()+"&pool_max_conns=16")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := postgres.New(pool)
	svc := workorders.NewService(store, nil, nil)
	reqs := requests.New(store, svc, nil, nil)
	srv, err := httpapi.New(httpapi.Config{Service: svc, AuthCacheTTL: time.Minute,
		Requests: httpapi.RequestsConfig{Service: reqs, ReadPerSecond: 1e6, ReadBurst: 1e6}})
	if err != nil {
		b.Fatal(err)
	}
	th := &timed{h: srv}
	ts := httptest.NewServer(th)
	defer ts.Close()
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "S1", Name: "Plant 1"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "P-1", Type: "pump", Name: "Pump", Criticality: 3}); err != nil {
		b.Fatal(err)
	}
	const n = 2000
	tokens := make([]string, 0, n)
	ids := make([]string, 0, n)
	for i := range n {
		c, err := reqs.Create(ctx, workorders.System("bench"), requests.Input{Channel: requests.ChannelAPI, SiteCode: "S1", AssetCode: "P-1",
			Title: fmt.Sprintf("request %d", i), Requester: requests.Requester{Email: fmt.Sprintf("c%d@example.com", i)}})
		if err != nil {
			b.Fatal(err)
		}
		tokens = append(tokens, strings.TrimPrefix(c.StatusURL, "/s/"))
		ids = append(ids, c.Order.ID)
	}
	_, admin, err := svc.CreateUser(ctx, "bench", workorders.RoleAdmin)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/api/v1/public/status/" + tokens[0])
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	b.ResetTimer()
	// 1. Public status at 500 requests a second for 10 s.
	th.take()
	sent, failed := openLoop(500, 10*time.Second, func(i int) string { return ts.URL + "/api/v1/public/status/" + tokens[i%n] })
	status := th.take()

	// 2. API p99 (order detail, 100 a second) without, then with, 1,000 emails going out.
	detail := func() []time.Duration {
		th.take()
		client := &http.Client{}
		openLoopAuth := func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var wg sync.WaitGroup
			for i := 0; i < 1500; i++ {
				<-tick.C
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					req, _ := http.NewRequest("GET", ts.URL+"/api/v1/work-orders/"+ids[i%n], nil)
					req.Header.Set("Authorization", "Bearer "+admin)
					if r, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, r.Body)
						r.Body.Close()
					}
				}(i)
			}
			wg.Wait()
		}
		openLoopAuth()
		return th.take()
	}
	quiet := detail()

	box := &countingSMTP{}
	ss := smtp.NewServer(box)
	ss.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = ss.Serve(ln) }()
	defer ss.Close()
	nt := notify.New(store, map[string]notify.Sender{notify.ChanEmail: &notify.SMTP{Addr: ln.Addr().String(), From: "pdm@example.com"}}, nil, nil)
	ms := make([]notify.Message, 1000)
	for i := range ms {
		id := ids[i%n]
		ms[i] = notify.Message{Kind: notify.KindCompleted, Channel: notify.ChanEmail, Target: fmt.Sprintf("c%d@example.com", i),
			OrderID: &id, Subject: "[WO] Work completed", Text: "Hello,\n\nthe work is completed.", HTML: "<p>Hello,</p><p>the work is completed.</p>"}
	}
	if err := store.Enqueue(ctx, ms); err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	mailStart := time.Now()
	var mailTook time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for box.n.Load() < 1000 && rctx.Err() == nil {
			if _, err := nt.SendDue(rctx); err != nil {
				return
			}
		}
		mailTook = time.Since(mailStart)
	}()
	busy := detail()
	<-done
	cancel()
	b.StopTimer()
	var pending int
	_ = pool.QueryRow(ctx, `select count(*) from notify_outbox where status <> 'sent'`).Scan(&pending)

	table := fmt.Sprintf(`## customers

Public status and notifications (BenchmarkCustomers, workorders/httpapi; %d request orders; real PostgreSQL; server time measured around the handler, client on the same machine).

| measure | value |
|---|---|
| GET /api/v1/public/status/{token} at 500 req/s for 10 s: sent / failed | %d / %d |
| status server time p50 / p99 / max | %s / %s / %s |
| status answer (JSON) | %d bytes |
| 1,000 notification emails through a local SMTP server (emersion/go-smtp) | %s (%.0f a minute), %d not sent |
| API order detail at 100 req/s, p50 / p99 without mail | %s / %s |
| API order detail at 100 req/s, p50 / p99 while the 1,000 emails go out | %s / %s |

The public page itself (HTML + JS + CSS of the public entry, gzipped) is measured by scripts/bench-customers.sh below.
`, n, sent, failed, pct(status, .5).Round(10*time.Microsecond), pct(status, .99).Round(10*time.Microsecond),
		pct(status, 1).Round(10*time.Microsecond), len(body), mailTook.Round(time.Millisecond),
		1000/mailTook.Minutes(), pending, pct(quiet, .5).Round(10*time.Microsecond), pct(quiet, .99).Round(10*time.Microsecond),
		pct(busy, .5).Round(10*time.Microsecond), pct(busy, .99).Round(10*time.Microsecond))
	b.Log("\n" + table)
	if p := os.Getenv("PDM_BENCH_MD"); p != "" {
		if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
