package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// faultProxy forwards TCP to a target; it can hang (accept and keep every
// connection, forward nothing: a PostgreSQL that stopped answering) or
// refuse (close every connection and refuse new ones).
type faultProxy struct {
	target string
	ln     net.Listener
	addr   string

	mu    sync.Mutex // guards mode, conns
	cond  *sync.Cond
	mode  string // "pass", "hang", "refuse"
	conns map[net.Conn]bool
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &faultProxy{target: target, ln: ln, addr: ln.Addr().String(), mode: "pass", conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() {
		p.set("pass")
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *faultProxy) set(mode string) {
	p.mu.Lock()
	p.mode = mode
	if mode == "refuse" {
		for c := range p.conns {
			c.Close()
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.mode == "refuse"
		if !refuse {
			p.conns[c] = true
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		go p.serve(c)
	}
}

func (p *faultProxy) serve(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				for p.mode == "hang" {
					p.cond.Wait()
				}
				refused := p.mode == "refuse"
				p.mu.Unlock()
				if refused {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
}

// TestIngestIgnoresPostgresHangingOrRefusing: with PostgreSQL behind a
// proxy that first hangs (connections open, nothing answered) and then
// refuses, telemetry keeps being stored and device events keep being
// taken (spooled to disk); once PostgreSQL answers again, the events and
// the breach become exactly one order each.
func TestIngestIgnoresPostgresHangingOrRefusing(t *testing.T) {
	env := newTestEnv(t)
	u, err := url.Parse(env.PGURL)
	require.NoError(t, err)
	proxy := startFaultProxy(t, u.Host)
	penv := *env
	u.Host = proxy.addr
	penv.PGURL = u.String()
	token := "pghang-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, &penv, token)
	root := strings.TrimSuffix(api.base, "/api/v1")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "HNG", "name": "Hang",
		"location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &site))
	ids := map[string]string{}
	for _, code := range []string{"M-1", "M-2"} {
		var a idCode
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": code, "type": "motor",
			"name": "Motor " + code, "criticality": 3, "location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &a))
		ids[code] = a.ID
	}
	require.NoError(t, api.do(ctx, "POST", "/rules", map[string]any{
		"name": "winding", "asset_type": "motor", "metric": "winding_temp_c", "direction": "above",
		"critical": 110.0, "for": "2m", "failure_mode": "winding_overheat", "priority": "P2",
		"estimated_duration": "1h", "enabled": true,
	}, nil))

	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "pghang-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	t0 := time.Now().Add(-50 * time.Minute).Truncate(time.Minute).UTC()
	stored := func(asset string) int {
		got, err := ts.ReadReadings(ctx, "HNG", asset, nil, t0.Add(-time.Minute), t0.Add(time.Hour))
		require.NoError(t, err)
		return len(got)
	}
	// Many messages, one reading each: a stalled ingest would show.
	const n = 300
	publish := func(asset string, from, to int, bad bool) {
		for i := from; i < to; i++ {
			v := 90.0
			if bad && i >= from+5 {
				v = 125
			}
			r := ingest.Reading{TS: t0.Add(time.Duration(i) * 5 * time.Second), Metrics: []ingest.Metric{{Name: "winding_temp_c", Value: v}}}
			require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "HNG", asset), ingest.AppendJSON(nil, "", 0, []ingest.Reading{r}))(ctx))
		}
	}
	event := func(asset, code string) {
		require.NoError(t, pub.Publish(ingest.EventTopic(env.TopicRoot, "HNG", asset),
			[]byte(`{"ts":"`+t0.Format(time.RFC3339)+`","code":"`+code+`","severity":"critical","message":"trip"}`))(ctx))
	}
	publish("M-1", 0, 10, false)
	eventually(t, 30*time.Second, "the first readings stored", func() bool { return stored("M-1") == 10 })

	for i, mode := range []string{"hang", "refuse"} {
		proxy.set(mode)
		// Events first: they must not hold up the telemetry behind them.
		for k := range 5 {
			event("M-2", fmt.Sprintf("E%d%d", i, k))
		}
		start := time.Now()
		publish("M-1", 10+i*n, 10+(i+1)*n, i == 0)
		eventually(t, 60*time.Second, fmt.Sprintf("all readings stored while PostgreSQL is %s", mode), func() bool {
			return stored("M-1") == 10+(i+1)*n
		})
		t.Logf("PostgreSQL %s: %d readings stored %s after publishing began", mode, n, time.Since(start).Round(10*time.Millisecond))
		eventually(t, 30*time.Second, "the events spooled", func() bool {
			return metricValue(t, ctx, root, "pdm_signal_spool_pending") >= float64(5*(i+1))
		})
	}
	proxy.set("pass")

	// PostgreSQL answers again: ten event orders and one threshold order.
	orders := func(asset string) []orderJSON {
		var page struct {
			Items []orderJSON `json:"items"`
		}
		if err := api.do(ctx, "GET", "/work-orders?limit=100&asset_id="+ids[asset], nil, &page); err != nil {
			return nil
		}
		return page.Items
	}
	eventually(t, 90*time.Second, "the orders once PostgreSQL answers", func() bool {
		return len(orders("M-2")) == 10 && len(orders("M-1")) == 1
	})
	time.Sleep(2 * time.Second)
	require.Len(t, orders("M-2"), 10)
	m1 := orders("M-1")
	require.Len(t, m1, 1)
	require.Equal(t, "threshold", m1[0].Source)
	require.Equal(t, t0.Add((10+5)*5*time.Second+2*time.Minute), m1[0].DetectedAt.UTC())
}
