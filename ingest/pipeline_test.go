package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/ingest/mqtt"
)

// collector is a Consumer and EventHandler that records what it gets.
type collector struct {
	mu       sync.Mutex // guards the fields below
	readings []ingest.Reading
	events   []ingest.Event
	failures int // HandleEvent fails this many times first
}

func (c *collector) Consume(_ context.Context, rs []ingest.Reading) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readings = append(c.readings, rs...)
}

func (c *collector) HandleEvent(_ context.Context, ev ingest.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures > 0 {
		c.failures--
		return errors.New("handler not ready")
	}
	c.events = append(c.events, ev)
	return nil
}

func (c *collector) count() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.readings), len(c.events)
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("PDM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// rig is one pipeline wired to real services.
type rig struct {
	p      *ingest.Pipeline
	reg    *prometheus.Registry
	col    *collector
	cancel context.CancelFunc
	done   chan error
}

type rigOpts struct {
	broker, influxURL, db, root, clientID, share string
	cfg                                          ingest.Config
	col                                          *collector
	// gate, when set, holds every write to InfluxDB until it is closed.
	gate <-chan struct{}
}

// gatedWriter holds writes until its gate is closed (a stuck store).
type gatedWriter struct {
	ingest.Writer
	gate <-chan struct{}
}

func (w gatedWriter) Write(ctx context.Context, rs []ingest.Reading) error {
	select {
	case <-w.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.Writer.Write(ctx, rs)
}

func startRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	col := o.col
	if col == nil {
		col = &collector{}
	}
	r := startRigCol(t, o, col)
	r.col = col
	return r
}

// consumerHandler is what a rig hands readings and events to.
type consumerHandler interface {
	ingest.Consumer
	ingest.EventHandler
}

func startRigCol(t testing.TB, o rigOpts, col consumerHandler) *rig {
	t.Helper()
	w, err := influx.New(influx.Config{URL: o.influxURL, Bucket: o.db, Timeout: 5 * time.Second})
	require.NoError(t, err)
	src, err := mqtt.New(mqtt.Config{URL: o.broker, ClientID: o.clientID, Topics: ingest.Subscriptions(o.root, o.share),
		KeepAlive: 5 * time.Second, MaxReconnectInterval: 500 * time.Millisecond}, testLogger(t))
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	cfg := o.cfg
	cfg.TopicRoot = o.root
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 20 * time.Millisecond
		cfg.RetryMax = 200 * time.Millisecond
	}
	var wr ingest.Writer = w
	if o.gate != nil {
		wr = gatedWriter{Writer: w, gate: o.gate}
	}
	p, err := ingest.NewPipeline(cfg, ingest.Deps{Source: src, Writer: wr, Consumer: col, Events: col, Registerer: reg, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{p: p, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	waitFor(t, 15*time.Second, "pipeline to connect", func() bool {
		select {
		case err := <-r.done:
			t.Fatalf("pipeline stopped: %v", err)
		default:
		}
		return p.Ready(context.Background()) == nil
	})
	t.Cleanup(func() {
		r.stop(t)
		dropSession(o.broker, o.clientID)
	})
	return r
}

// dropSession removes the persistent session a test left in the broker.
func dropSession(broker, clientID string) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
		c.Disconnect(50)
	}
}

func (r *rig) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop within 30s")
	}
}

func single(ts time.Time, v float64) []byte {
	return ingest.AppendJSON(nil, "", 0, []ingest.Reading{{TS: ts, Metrics: []ingest.Metric{{Name: "m0", Value: v}, {Name: "m1", Value: -v}}}})
}

func TestPipelineEndToEnd(t *testing.T) {
	t.Parallel()
	broker, iurl := mqttURL(t), influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	clientID := "ingest-" + randID()
	col := &collector{failures: 2}
	r := startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, clientID: clientID, col: col})
	pub := publisher(t, broker)

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
	want := 0
	// 4 assets, single JSON readings.
	for i := 0; i < 100; i++ {
		for a := 0; a < 4; a++ {
			publish(t, pub, ingest.TelemetryTopic(root, "s1", fmt.Sprintf("a%d", a)), single(base.Add(time.Duration(i)*time.Second), float64(i)))
			want++
		}
	}
	// A JSON batch of 50 readings from a gateway.
	var rs []ingest.Reading
	for i := 0; i < 50; i++ {
		rs = append(rs, ingest.Reading{TS: base.Add(time.Duration(1000+i) * time.Second), Metrics: []ingest.Metric{{Name: "m0", Value: 1}}})
	}
	publish(t, pub, ingest.TelemetryTopic(root, "s1", "a0"), ingest.AppendJSON(nil, "gw-1", 7, rs))
	want += 50
	// Line protocol: measurement m with fields x and v gives metrics m_x, m_v.
	for i := 0; i < 10; i++ {
		var b strings.Builder
		for j := 0; j < 5; j++ {
			ts := base.Add(time.Duration(2000+i*5+j) * time.Second)
			fmt.Fprintf(&b, "m,gateway=gw-2 x=%d,v=2i %d\n", j, ts.UnixNano())
		}
		publish(t, pub, ingest.TelemetryTopic(root, "s2", "lp"), []byte(b.String()))
	}
	// Rejects: each is acknowledged and counted, none stops ingest.
	rejects := map[ingest.Reason][]byte{
		ingest.ReasonMalformedJSON:   []byte(`{"ts":1,"metrics":{"a":1}`),
		ingest.ReasonBadLineProtocol: []byte("m,tag value=1"),
		ingest.ReasonNonFinite:       []byte("m v=NaN"),
		ingest.ReasonBadMetricName:   []byte(`{"ts":1,"metrics":{"Bad":1}}`),
		ingest.ReasonFutureTS:        []byte(fmt.Sprintf(`{"ts":%d,"metrics":{"a":1}}`, time.Now().Add(time.Hour).UnixMilli())),
		ingest.ReasonTooLarge:        []byte(`{"ts":1,"metrics":{"a":1}}` + strings.Repeat(" ", ingest.MaxPayloadBytes)),
	}
	for _, p := range rejects {
		publish(t, pub, ingest.TelemetryTopic(root, "s1", "a0"), p)
	}
	publish(t, pub, ingest.TelemetryTopic(root, "bad.site", "a0"), single(base, 1))
	publish(t, pub, ingest.EventTopic(root, "s1", "a1"), []byte(`{"ts":"2026-03-01T12:00:00Z","code":"E42","severity":"critical","message":"overheat"}`))
	publish(t, pub, ingest.EventTopic(root, "s1", "a1"), []byte(`{"ts":"2026-03-01T12:00:00Z","code":"E42","severity":"fatal"}`))

	// Readings in InfluxDB: m0 from JSON (400 + 50), m_x from line protocol (50).
	waitFor(t, 30*time.Second, "readings in InfluxDB", func() bool {
		return countPoints(t, iurl, db, "m0") == want && countPoints(t, iurl, db, "m_x") == 50
	})
	waitFor(t, 10*time.Second, "rejects and events", func() bool {
		_, ne := col.count()
		return len(r.p.Rejects()) == len(rejects)+2 && ne == 1
	})
	require.Equal(t, 50, countPoints(t, iurl, db, "m_v"))
	for reason := range rejects {
		require.Equal(t, 1.0, counterVec(t, r.reg, "pdm_ingest_rejected_total", "reason", string(reason)), reason)
	}
	require.Equal(t, 1.0, counterVec(t, r.reg, "pdm_ingest_rejected_total", "reason", "bad_id"))
	require.Equal(t, 1.0, counterVec(t, r.reg, "pdm_ingest_rejected_total", "reason", "bad_event"))
	for _, rj := range r.p.Rejects() {
		require.LessOrEqual(t, len(rj.Payload), ingest.RejectPayloadBytes)
		require.NotEmpty(t, rj.Topic)
	}

	// Events: delivered after the handler's failures were retried.
	col.mu.Lock()
	ev := col.events[0]
	col.mu.Unlock()
	require.Equal(t, ingest.Event{Site: "s1", Asset: "a1", TS: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Code: "E42", Severity: ingest.SeverityCritical, Message: "overheat"}, ev)

	// Consumer: everything, in event-time order per asset.
	waitFor(t, 10*time.Second, "consumer", func() bool { n, _ := col.count(); return n == want+50 })
	col.mu.Lock()
	last := map[string]time.Time{}
	for _, rd := range col.readings {
		k := rd.Site + "/" + rd.Asset
		require.True(t, rd.TS.After(last[k]), "asset %s: %v after %v", k, rd.TS, last[k])
		last[k] = rd.TS
	}
	col.mu.Unlock()

	// Everything was acknowledged: a new session under the same client id
	// gets only what is published now.
	r.stop(t)
	col2 := &collector{}
	startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, clientID: clientID, col: col2})
	publish(t, pub, ingest.TelemetryTopic(root, "s9", "marker"), single(base, 1))
	waitFor(t, 10*time.Second, "marker", func() bool { n, _ := col2.count(); return n >= 1 })
	col2.mu.Lock()
	defer col2.mu.Unlock()
	require.Len(t, col2.readings, 1)
	require.Equal(t, "marker", col2.readings[0].Asset)
}

// counterVec reads one labelled value of a metric family from reg.
func counterVec(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return 0
}

func TestPipelineFailsWhenBrokerUnreachable(t *testing.T) {
	t.Parallel()
	iurl := influxURL(t)
	w, err := influx.New(influx.Config{URL: iurl, Bucket: "unused"})
	require.NoError(t, err)
	src, err := mqtt.New(mqtt.Config{URL: fmt.Sprintf("tcp://127.0.0.1:%d", servicetest.FreePort(t)), ClientID: "nobody-" + randID(),
		Topics: ingest.Subscriptions("pdm/v1", ""), ConnectTimeout: 2 * time.Second}, nil)
	require.NoError(t, err)
	p, err := ingest.NewPipeline(ingest.Config{}, ingest.Deps{Source: src, Writer: w})
	require.NoError(t, err)
	err = p.Run(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "mqtt")
	require.Error(t, p.Ready(context.Background()))
}

func TestEventAckedOnlyAfterHandler(t *testing.T) {
	t.Parallel()
	broker, iurl := mqttURL(t), influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	clientID := "ingest-" + randID()
	failing := &collector{failures: 1 << 30}
	cfg := ingest.Config{DrainTimeout: 200 * time.Millisecond}
	r := startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, clientID: clientID, col: failing, cfg: cfg})
	publish(t, publisher(t, broker), ingest.EventTopic(root, "s1", "a1"), []byte(`{"ts":1772366400000,"code":"E7","severity":"critical"}`))
	waitFor(t, 10*time.Second, "the handler to fail", func() bool {
		return counter(t, r.reg, "pdm_ingest_event_errors_total") >= 2
	})
	r.stop(t)

	// Not acknowledged: the next session under the same client id gets it.
	ok := &collector{}
	startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, clientID: clientID, col: ok, cfg: cfg})
	waitFor(t, 10*time.Second, "the event again", func() bool { _, n := ok.count(); return n == 1 })
	ok.mu.Lock()
	defer ok.mu.Unlock()
	require.Equal(t, "E7", ok.events[0].Code)
}
