package predict

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
	"github.com/stretchr/testify/require"
)

// fakes for pure-logic tests; the InfluxDB-backed tests are in
// influx_test.go.

type assetDir struct{ byCode map[string]rules.AssetRef }

func (d assetDir) Asset(_ context.Context, site, code string) (rules.AssetRef, bool, error) {
	a, ok := d.byCode[site+"/"+code]
	return a, ok, nil
}

func (d assetDir) AssetByID(_ context.Context, id string) (rules.AssetRef, bool, error) {
	for _, a := range d.byCode {
		if a.ID == id {
			return a, true, nil
		}
	}
	return rules.AssetRef{}, false, nil
}

type ruleList []rules.Rule

func (l ruleList) Rules(context.Context) ([]rules.Rule, error) { return l, nil }

func (l ruleList) Rule(_ context.Context, id string) (rules.Rule, bool, error) {
	for _, r := range l {
		if r.ID == id {
			return r, true, nil
		}
	}
	return rules.Rule{}, false, nil
}

type memHistory struct {
	mu   sync.Mutex
	data map[string][]ingest.Reading
	err  error
}

func (h *memHistory) ReadReadings(_ context.Context, site, asset string, _ []string, from, to time.Time) ([]ingest.Reading, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
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

func (h *memHistory) ListAssets(context.Context, time.Time, time.Time) ([]rules.AssetCode, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []rules.AssetCode
	for k, v := range h.data {
		if len(v) > 0 {
			out = append(out, rules.AssetCode{Site: v[0].Site, Asset: v[0].Asset})
		}
		_ = k
	}
	return out, nil
}

type collector struct {
	mu   sync.Mutex
	sigs []rules.Signal
}

func (c *collector) send(_ context.Context, s rules.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sigs = append(c.sigs, s)
	return nil
}

func (c *collector) all() []rules.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rules.Signal(nil), c.sigs...)
}

func pumpDir() assetDir {
	return assetDir{byCode: map[string]rules.AssetRef{"s1/p1": {Site: "s1", Code: "p1", ID: "a1", Type: "pump"}}}
}

func drain(t *testing.T, e *rules.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, e.Run(ctx)) // delivers what is queued, then returns
}

func TestEngineWithPredictorRaisesTrend(t *testing.T) {
	rd := loadSeries(t, scenarios()[0]) // linear wear
	col := &collector{}
	e, err := rules.NewEngine(rules.Config{Assets: pumpDir(), Rules: ruleList{vibRule()}, Signal: col.send,
		Observers: []rules.Observer{New(Options{})}})
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < len(rd); i += 4 {
		e.Consume(ctx, rd[i:min(i+4, len(rd))])
	}
	drain(t, e)
	var trend *rules.Signal
	for _, s := range col.all() {
		if s.Kind == rules.KindTrend {
			s := s
			trend = &s
			break
		}
	}
	require.NotNil(t, trend)
	require.Equal(t, "a1", trend.AssetID)
	for _, k := range []string{"metric", "window_start", "window_end", "points", "slope", "intercept", "r2",
		"limit", "predicted_failure_at", "predicted_failure_earliest", "predicted_failure_latest"} {
		require.Contains(t, trend.Evidence, k)
	}
	// Health from the live state.
	hs := &HealthService{Engine: e, Assets: pumpDir(), Rules: ruleList{vibRule()}}
	h, err := hs.Health(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, h.Metrics, 1)
	m := h.Metrics[0]
	require.NotNil(t, m.Latest)
	require.Equal(t, rd[len(rd)-1].TS, m.Latest.TS)
	require.Equal(t, "critical", m.State, "the series ends failed")
	require.NotNil(t, m.Prediction)
	_, err = hs.Health(ctx, "nope")
	require.ErrorIs(t, err, ErrUnknownAsset)
}

func TestHealthFromHistory(t *testing.T) {
	rd := loadSeries(t, scenarios()[1]) // exponential
	// History up to 2 days before failure.
	cut := failAt.Add(-48 * time.Hour)
	var hist []ingest.Reading
	for _, r := range rd {
		if r.TS.Before(cut) {
			hist = append(hist, r)
		}
	}
	h := &memHistory{data: map[string][]ingest.Reading{"s1/p1": hist}}
	hs := &HealthService{Assets: pumpDir(), Rules: ruleList{vibRule()}, History: h, Now: func() time.Time { return cut }}
	got, err := hs.Health(context.Background(), "a1")
	require.NoError(t, err)
	require.Len(t, got.Metrics, 1)
	p := got.Metrics[0].Prediction
	require.NotNil(t, p)
	require.Equal(t, ReasonOK, p.Status)
	require.NotNil(t, p.RUL)
	require.NotNil(t, p.RULLower)
	require.NotNil(t, p.RULUpper)
	require.LessOrEqual(t, *p.RULLower, *p.RUL)
	require.GreaterOrEqual(t, *p.RULUpper, *p.RUL)
	require.InDelta(t, 48, p.RUL.Hours(), 30)
	h.err = errors.New("influx down")
	_, err = hs.Health(context.Background(), "a1")
	require.ErrorContains(t, err, "influx down")
}

func TestJobRepredictsStalledAndSkipsFollowed(t *testing.T) {
	rd := loadSeries(t, scenarios()[0])
	cut := failAt.Add(-72 * time.Hour)
	var hist []ingest.Reading
	for _, r := range rd {
		if r.TS.Before(cut) {
			hist = append(hist, r)
		}
	}
	h := &memHistory{data: map[string][]ingest.Reading{"s1/p1": hist}}
	col := &collector{}
	e, err := rules.NewEngine(rules.Config{Assets: pumpDir(), Rules: ruleList{vibRule()}, Signal: col.send,
		Observers: []rules.Observer{New(Options{})}})
	require.NoError(t, err)
	j := &Job{Engine: e, History: h, Assets: h, Now: func() time.Time { return cut }}
	// The engine saw nothing: the job predicts from history.
	st, err := j.RunStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Series)
	require.Equal(t, 1, st.Signals)
	drain(t, e)
	require.Len(t, col.all(), 1)
	s := col.all()[0]
	require.Equal(t, rules.KindTrend, s.Kind)
	require.Equal(t, "re-prediction job", s.Evidence["source"])
	require.WithinDuration(t, failAt, s.Prediction.CrossingAt, 48*time.Hour)

	// Once the engine follows the series completely, the job skips it.
	e.Consume(context.Background(), hist)
	st, err = j.RunStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Skipped)
	require.Equal(t, 0, st.Signals)
	// A late reading the engine dropped makes the job look again.
	e.Consume(context.Background(), hist[:1])
	st, err = j.RunStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 0, st.Skipped)
	require.Equal(t, 1, st.Signals)
}

type completed []CompletedOrder

func (c completed) CompletedOrders(context.Context) ([]CompletedOrder, error) { return c, nil }

func TestVerifierVerifiesAfterHealthyTime(t *testing.T) {
	done := seriesStart.Add(10 * 24 * time.Hour)
	var hist []ingest.Reading
	add := func(from, to time.Time, v float64) {
		for ts := from; ts.Before(to); ts = ts.Add(15 * time.Minute) {
			hist = append(hist, ingest.Reading{Site: "s1", Asset: "p1", TS: ts, Metrics: []ingest.Metric{{Name: "vibration_rms", Value: v}}})
		}
	}
	add(done.Add(-24*time.Hour), done, 8)                   // failing before the repair
	add(done, done.Add(2*time.Hour), 5)                     // settling, above warn
	add(done.Add(2*time.Hour), done.Add(20*time.Hour), 2.2) // healthy 18h
	h := &memHistory{data: map[string][]ingest.Reading{"s1/p1": hist}}
	var verified []string
	var evidence map[string]any
	v := &Verifier{
		Orders:  completed{{ID: "o1", AssetID: "a1", RuleID: "r1", CompletedAt: done}, {ID: "o2", AssetID: "a1", CompletedAt: done}},
		Rules:   ruleList{vibRule()},
		Assets:  pumpDir(),
		History: h,
		Verify: func(_ context.Context, id string, ev map[string]any) error {
			verified = append(verified, id)
			evidence = ev
			return nil
		},
		HealthyFor: 24 * time.Hour,
		Now:        func() time.Time { return done.Add(20 * time.Hour) },
	}
	n, err := v.RunCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "18h healthy is not enough")
	add(done.Add(20*time.Hour), done.Add(30*time.Hour), 2.2)
	h.data["s1/p1"] = hist
	v.Now = func() time.Time { return done.Add(30 * time.Hour) }
	n, err = v.RunCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{"o1"}, verified)
	require.Equal(t, done.Add(2*time.Hour), evidence["healthy_since"])
	require.Equal(t, 4.5, evidence["limit"])
	// A spike back out of the band restarts the clock.
	verified = nil
	hist = append(hist, ingest.Reading{Site: "s1", Asset: "p1", TS: done.Add(30 * time.Hour), Metrics: []ingest.Metric{{Name: "vibration_rms", Value: 9}}})
	add(done.Add(30*time.Hour+time.Minute), done.Add(40*time.Hour), 2.2)
	h.data["s1/p1"] = hist
	v.Now = func() time.Time { return done.Add(40 * time.Hour) }
	n, err = v.RunCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	// Failing Verify is reported, not swallowed.
	v.Verify = func(context.Context, string, map[string]any) error { return errors.New("409") }
	v.HealthyFor = time.Hour
	_, err = v.RunCount(context.Background())
	require.ErrorContains(t, err, "409")
}

// A replica that takes a partition over mid-stream rebuilds its series from
// the previous owner's mark and goes on live: its trend signal must come at
// the same event time as had one replica seen every reading live, wherever
// the mark falls (the confirmation span and the refit instants are state a
// rebuild has to reproduce; in CI a hand-over cost one wear fault 23 h of
// lead).
func TestRebuildMidStreamRaisesAsLive(t *testing.T) {
	ctx := context.Background()
	firstTrend := func(sigs []rules.Signal) time.Time {
		var at time.Time
		for _, s := range sigs {
			if s.Kind == rules.KindTrend && (at.IsZero() || s.DetectedAt.Before(at)) {
				at = s.DetectedAt
			}
		}
		return at
	}
	newEngine := func(col *collector) *rules.Engine {
		e, err := rules.NewEngine(rules.Config{Assets: pumpDir(), Rules: ruleList{vibRule()}, Signal: col.send,
			Observers: []rules.Observer{New(Options{})}})
		require.NoError(t, err)
		return e
	}
	for _, sc := range scenarios() {
		if !sc.fails {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			rd := loadSeries(t, sc)
			live := &collector{}
			e := newEngine(live)
			for i := 0; i < len(rd); i += 4 {
				e.Consume(ctx, rd[i:min(i+4, len(rd))])
			}
			drain(t, e)
			want := firstTrend(live.all())
			require.False(t, want.IsZero(), "one replica raises a trend")
			for _, back := range []time.Duration{20 * time.Minute, time.Hour, 100 * time.Minute, 4 * time.Hour,
				7*time.Hour + 15*time.Minute, 13 * time.Hour, 20*time.Hour + 30*time.Minute, 30 * time.Hour} {
				mark := want.Add(-back)
				cut := mark.Add(35 * time.Minute) // what was stored when the new owner rebuilt
				h := &memHistory{data: map[string][]ingest.Reading{}}
				var rest []ingest.Reading
				for _, r := range rd {
					if r.TS.Before(cut) {
						h.data["s1/p1"] = append(h.data["s1/p1"], r)
					} else {
						rest = append(rest, r)
					}
				}
				col := &collector{}
				e := newEngine(col)
				_, err := e.RebuildWhere(ctx, h, h, mark, cut, nil)
				require.NoError(t, err)
				for i := 0; i < len(rest); i += 4 {
					e.Consume(ctx, rest[i:min(i+4, len(rest))])
				}
				drain(t, e)
				require.Equal(t, want, firstTrend(col.all()), "mark %s before one replica's trend", back)
			}
		})
	}
}
