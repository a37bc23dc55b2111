package rules

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/stretchr/testify/require"
)

type fakeAssets struct {
	mu    sync.Mutex
	m     map[string]AssetRef // site/code → ref
	calls int
	err   error
}

func (f *fakeAssets) Asset(_ context.Context, site, code string) (AssetRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return AssetRef{}, false, f.err
	}
	a, ok := f.m[site+"/"+code]
	return a, ok, nil
}

type fakeRules struct {
	mu    sync.Mutex
	rules []Rule
	err   error
}

func (f *fakeRules) Rules(context.Context) ([]Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Rule(nil), f.rules...), f.err
}

type sink struct {
	mu   sync.Mutex
	sigs []Signal
	fail int // fail this many deliveries first
	err  error
}

func (s *sink) send(_ context.Context, sg Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		if s.err != nil {
			return s.err
		}
		return errors.New("db down")
	}
	s.sigs = append(s.sigs, sg)
	return nil
}

func (s *sink) got() []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Signal(nil), s.sigs...)
}

func reading(site, asset string, ts time.Time, kv ...any) ingest.Reading {
	r := ingest.Reading{Site: site, Asset: asset, TS: ts}
	for i := 0; i < len(kv); i += 2 {
		r.Metrics = append(r.Metrics, ingest.Metric{Name: kv[i].(string), Value: kv[i+1].(float64)})
	}
	return r
}

func newTestEngine(t *testing.T, rs []Rule, sk *sink) (*Engine, *fakeAssets, *fakeRules) {
	t.Helper()
	fa := &fakeAssets{m: map[string]AssetRef{
		"s1/p1": {ID: "a1", Type: "pump"},
		"s1/p2": {ID: "a2", Type: "pump"},
		"s1/m1": {ID: "a3", Type: "motor"},
	}}
	fr := &fakeRules{rules: rs}
	e, err := NewEngine(Config{Assets: fa, Rules: fr, Signal: sk.send, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	require.NoError(t, err)
	return e, fa, fr
}

func runEngine(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEngineThresholdEndToEnd(t *testing.T) {
	sk := &sink{}
	e, _, _ := newTestEngine(t, []Rule{pumpRule()}, sk)
	ctx := context.Background()
	// Unknown asset, uncovered asset type and other metrics raise nothing.
	e.Consume(ctx, []ingest.Reading{
		reading("s1", "ghost", t0, "vibration_rms", 99.0),
		reading("s1", "m1", t0, "vibration_rms", 99.0),
		reading("s1", "p1", t0, "temp_c", 99.0),
	})
	for m := 0; m <= 10; m++ {
		e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 8.0)})
	}
	runEngine(t, e)
	waitFor(t, "critical signal", func() bool { return len(sk.got()) == 1 })
	s := sk.got()[0]
	require.Equal(t, KindThreshold, s.Kind)
	require.Equal(t, LevelCritical, s.Level)
	require.Equal(t, "a1", s.AssetID)
	require.Equal(t, "p1", s.Asset)
	require.Equal(t, "s1", s.Site)
	require.Equal(t, "bearing_wear", s.FailureMode)
	require.Equal(t, "r1", s.RuleID)
	require.Equal(t, t0.Add(5*time.Minute), s.DetectedAt, "fires in event time when `for` has held")
	st := e.Status("a1")
	require.Len(t, st, 1)
	require.Equal(t, "critical", st[0].State.Level)
	require.Equal(t, 8.0, st[0].State.Last.Value)
}

func TestEngineDeliveryRetriesAndNeverBlocks(t *testing.T) {
	sk := &sink{fail: 5}
	r := pumpRule()
	r.For = 0
	e, _, _ := newTestEngine(t, []Rule{r}, sk)
	runEngine(t, e)
	ctx := context.Background()
	// The receiver fails; Consume still returns and signals queue.
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0, "vibration_rms", 8.0)})
	e.Consume(ctx, []ingest.Reading{reading("s1", "p2", t0, "vibration_rms", 8.0)})
	waitFor(t, "both delivered after retries", func() bool { return len(sk.got()) == 2 })
	st := e.Outbox().Stats()
	require.GreaterOrEqual(t, st.Retries, uint64(5))
	require.Equal(t, uint64(2), st.Delivered)
}

func TestOutboxRejectedDroppedAndSuperseded(t *testing.T) {
	sk := &sink{fail: 1, err: fmt.Errorf("asset gone: %w", ErrRejected)}
	o := NewOutbox(sk.send, nil, time.Millisecond, time.Millisecond, time.Second)
	a := Signal{Kind: KindTrend, Level: LevelCritical, AssetID: "a1", RuleID: "r1", Value: 1}
	b := a
	b.Value = 2
	c := Signal{Kind: KindThreshold, Level: LevelCritical, AssetID: "a1", RuleID: "r1", Value: 3}
	o.Put(c) // rejected below
	o.Put(a)
	o.Put(b) // supersedes a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	waitFor(t, "delivery", func() bool { return o.Stats().Pending == 0 && len(sk.got()) == 1 })
	cancel()
	<-done
	got := sk.got()
	require.Equal(t, 2.0, got[0].Value, "newest evidence wins")
	st := o.Stats()
	require.Equal(t, uint64(1), st.Rejected)
	require.Equal(t, uint64(1), st.Superseded)
}

func TestOutboxDrainsOnShutdown(t *testing.T) {
	sk := &sink{}
	o := NewOutbox(sk.send, nil, time.Millisecond, time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 50 {
		o.Put(Signal{Kind: KindThreshold, Level: LevelCritical, AssetID: fmt.Sprint(i)})
	}
	require.NoError(t, o.Run(ctx))
	require.Len(t, sk.got(), 50)
}

func TestEngineStaleByWatermark(t *testing.T) {
	sk := &sink{}
	r := pumpRule()
	r.Stale = Duration(time.Hour)
	e, _, _ := newTestEngine(t, []Rule{r}, sk)
	ctx := context.Background()
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0, "vibration_rms", 1.0), reading("s1", "p2", t0, "vibration_rms", 1.0)})
	// p2 keeps reporting, p1 goes silent.
	for m := 10; m <= 120; m += 10 {
		e.Consume(ctx, []ingest.Reading{reading("s1", "p2", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 1.0)})
	}
	runEngine(t, e)
	waitFor(t, "stale signal", func() bool { return len(sk.got()) == 1 })
	s := sk.got()[0]
	require.Equal(t, KindStale, s.Kind)
	require.Equal(t, "a1", s.AssetID)
	require.Equal(t, "stale", e.Status("a1")[0].State.Level)
}

func TestEngineReloadResetsChangedRule(t *testing.T) {
	sk := &sink{}
	r := pumpRule()
	e, _, fr := newTestEngine(t, []Rule{r}, sk)
	ctx := context.Background()
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0, "vibration_rms", 5.0)})
	require.Len(t, e.Status("a1"), 1)
	// Unchanged rule keeps state.
	require.NoError(t, e.Reload(ctx))
	require.Equal(t, 1, e.Status("a1")[0].State.Accepted)
	// A disabled rule drops its series and stops evaluating.
	fr.mu.Lock()
	fr.rules[0].Enabled = false
	fr.mu.Unlock()
	require.NoError(t, e.Reload(ctx))
	require.Empty(t, e.Status("a1"))
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(time.Hour), "vibration_rms", 50.0)})
	require.Empty(t, e.Status("a1"))
	// A failing source keeps the last good rules.
	fr.mu.Lock()
	fr.rules[0].Enabled = true
	fr.mu.Unlock()
	require.NoError(t, e.Reload(ctx))
	fr.mu.Lock()
	fr.err = errors.New("pg down")
	fr.mu.Unlock()
	require.Error(t, e.Reload(ctx))
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(2*time.Hour), "vibration_rms", 5.0)})
	require.Len(t, e.Status("a1"), 1)
}

func TestEngineAssetLookupCachedAndFailureTolerated(t *testing.T) {
	sk := &sink{}
	e, fa, _ := newTestEngine(t, []Rule{pumpRule()}, sk)
	ctx := context.Background()
	for m := range 10 {
		e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 1.0)})
	}
	require.Equal(t, 1, fa.calls)
	fa.mu.Lock()
	fa.err = errors.New("pg down")
	fa.mu.Unlock()
	e.ForgetAsset("s1", "p1")
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(time.Hour), "vibration_rms", 1.0)}) // held, no panic
	fa.mu.Lock()
	fa.err = nil
	fa.mu.Unlock()
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(2*time.Hour), "vibration_rms", 1.0)})
	require.Equal(t, 12, e.Status("a1")[0].State.Accepted, "the held reading is evaluated before the new one")
}

func TestEngineEvents(t *testing.T) {
	sk := &sink{}
	e, fa, _ := newTestEngine(t, nil, sk)
	ctx := context.Background()
	ev := ingest.Event{Site: "s1", Asset: "p1", TS: t0, Code: "E42", Severity: ingest.SeverityCritical, Message: "overcurrent"}
	require.NoError(t, e.HandleEvent(ctx, ev))
	require.NoError(t, e.HandleEvent(ctx, ingest.Event{Site: "s1", Asset: "p1", TS: t0, Code: "I1", Severity: ingest.SeverityInfo}))
	require.NoError(t, e.HandleEvent(ctx, ingest.Event{Site: "s1", Asset: "p2", TS: t0, Code: "W1", Severity: ingest.SeverityWarning}))
	require.NoError(t, e.HandleEvent(ctx, ingest.Event{Site: "s1", Asset: "ghost", TS: t0, Code: "E1", Severity: ingest.SeverityCritical}))
	got := sk.got()
	require.Len(t, got, 2)
	require.Equal(t, KindEvent, got[0].Kind)
	require.Equal(t, LevelCritical, got[0].Level)
	require.Equal(t, "device_event_e42", got[0].FailureMode)
	require.Equal(t, "a1", got[0].AssetID)
	require.Equal(t, LevelWarn, got[1].Level)

	// Delivery failure is returned so ingest retries and does not ack.
	sk.mu.Lock()
	sk.fail = 1
	sk.mu.Unlock()
	require.ErrorContains(t, e.HandleEvent(ctx, ev), "db down")
	require.NoError(t, e.HandleEvent(ctx, ev))
	require.Len(t, sk.got(), 3)
	// A failing lookup does not hold the event up: the signal goes on
	// with the codes only.
	fa.mu.Lock()
	fa.err = errors.New("pg down")
	fa.mu.Unlock()
	e.ForgetAsset("s1", "p1")
	require.NoError(t, e.HandleEvent(ctx, ev))
	last := sk.got()[len(sk.got())-1]
	require.Equal(t, "", last.AssetID)
	require.Equal(t, "p1", last.Asset)
	// A rejected signal is acknowledged (nil): retrying cannot help.
	fa.mu.Lock()
	fa.err = nil
	fa.mu.Unlock()
	sk.mu.Lock()
	sk.fail, sk.err = 1, fmt.Errorf("no: %w", ErrRejected)
	sk.mu.Unlock()
	require.NoError(t, e.HandleEvent(ctx, ev))
}

type fakeHistory struct {
	data  map[string][]ingest.Reading // site/asset
	err   error
	calls int
}

func (h *fakeHistory) ReadReadings(_ context.Context, site, asset string, _ []string, from, to time.Time) ([]ingest.Reading, error) {
	h.calls++
	if h.err != nil {
		return nil, h.err
	}
	var out []ingest.Reading
	for _, r := range h.data[site+"/"+asset] {
		if !r.TS.Before(from) && r.TS.Before(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (h *fakeHistory) ListAssets(_ context.Context, from, to time.Time) ([]AssetCode, error) {
	return []AssetCode{{"s1", "p1"}, {"s1", "p2"}, {"s1", "ghost"}}, nil
}

func TestWarmStartPrimesForTimerMuted(t *testing.T) {
	sk := &sink{}
	r := pumpRule()
	r.For = Duration(30 * time.Minute)
	e, _, _ := newTestEngine(t, []Rule{r}, sk)
	ctx := context.Background()
	h := &fakeHistory{data: map[string][]ingest.Reading{}}
	for m := 0; m < 20; m++ {
		h.data["s1/p1"] = append(h.data["s1/p1"], reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 8.0))
	}
	n, err := e.WarmStart(ctx, h, h, t0.Add(20*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 20, n)
	// 20 minutes of breach replayed; 10 more live minutes fire `for` (30m).
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(25*time.Minute), "vibration_rms", 8.0)})
	e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(30*time.Minute), "vibration_rms", 8.0)})
	runEngine(t, e)
	waitFor(t, "critical", func() bool { return len(sk.got()) == 1 })
	require.Equal(t, t0.Add(30*time.Minute), sk.got()[0].DetectedAt)
	require.Equal(t, t0, sk.got()[0].Evidence["breach_start"])
}

func TestBacktest(t *testing.T) {
	h := &fakeHistory{data: map[string][]ingest.Reading{}}
	for m := 0; m < 60; m++ {
		v := 1.0
		if m >= 20 && m < 40 {
			v = 8
		}
		h.data["s1/p1"] = append(h.data["s1/p1"], reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", v))
	}
	b := &Backtester{History: h}
	a := AssetRef{Site: "s1", Code: "p1", ID: "a1", Type: "pump"}
	res, err := b.Backtest(context.Background(), pumpRule(), []AssetRef{a}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 60, res.Readings)
	require.Len(t, res.Orders, 1)
	require.Equal(t, t0.Add(25*time.Minute), res.Orders[0].DetectedAt)
	require.Equal(t, KindThreshold, res.Orders[0].Source)
	var kinds []string
	for _, s := range res.Signals {
		kinds = append(kinds, string(s.Level))
	}
	require.Equal(t, []string{"critical", "clear"}, kinds)

	bad := pumpRule()
	bad.Direction = "sideways"
	_, err = b.Backtest(context.Background(), bad, []AssetRef{a}, t0, t0.Add(time.Hour))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	_, err = b.Backtest(context.Background(), pumpRule(), []AssetRef{a}, t0, t0)
	require.ErrorAs(t, err, &ve)
	h.err = errors.New("influx down")
	_, err = b.Backtest(context.Background(), pumpRule(), []AssetRef{a}, t0, t0.Add(time.Hour))
	require.ErrorContains(t, err, "influx down")
}

func TestEngineStateIsBounded(t *testing.T) {
	sk := &sink{}
	e, fa, _ := newTestEngine(t, []Rule{pumpRule()}, sk)
	e.cfg.MaxCodes, e.cfg.MaxAssets = 100, 10
	ctx := context.Background()
	// Codes nobody registered: the lookup cache stays bounded.
	for i := range 1000 {
		e.Consume(ctx, []ingest.Reading{reading("s1", fmt.Sprintf("bogus-%d", i), t0, "vibration_rms", 1.0)})
	}
	st := e.StateStats()
	require.LessOrEqual(t, st.Codes, 100)
	require.Greater(t, st.EvictedCodes, uint64(800))

	// Registered assets: the state of the least recently reporting ones
	// goes.
	fa.mu.Lock()
	for i := range 30 {
		fa.m[fmt.Sprintf("s1/r-%d", i)] = AssetRef{ID: fmt.Sprintf("rid-%d", i), Type: "pump"}
	}
	fa.mu.Unlock()
	for i := range 30 {
		e.Consume(ctx, []ingest.Reading{reading("s1", fmt.Sprintf("r-%d", i), t0.Add(time.Duration(i)*time.Minute), "vibration_rms", 1.0)})
	}
	st = e.StateStats()
	require.LessOrEqual(t, st.Assets, 10)
	require.Equal(t, uint64(30-st.Assets), st.EvictedAssets)
	require.NotEmpty(t, e.Status("rid-29"), "the latest reporting asset keeps its state")
	require.Empty(t, e.Status("rid-0"))
}
