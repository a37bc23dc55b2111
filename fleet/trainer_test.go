package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// fakeSeries serves hourly means from rows per asset, the last row in
// the step holding end[asset].
type fakeSeries struct {
	rows    map[string][][]float64
	end     map[string]time.Time
	metrics []string
}

func (f fakeSeries) Series(_ context.Context, _, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]Sample, error) {
	out := map[string][]Sample{}
	for _, metric := range metrics {
		k := -1
		for i, m := range f.metrics {
			if m == metric {
				k = i
			}
		}
		rows := f.rows[asset]
		for i, r := range rows {
			ts := f.end[asset].Truncate(step).Add(-time.Duration(len(rows)-1-i) * step)
			if ts.Before(from) || !ts.Before(to) || math.IsNaN(r[k]) {
				continue
			}
			out[metric] = append(out[metric], Sample{TS: ts, Value: r[k]})
		}
	}
	return out, nil
}

func (f fakeSeries) Metrics(context.Context, string, string, time.Time, time.Time) ([]string, error) {
	return f.metrics, nil
}

func TestHistoryAlignsFillsAndTrims(t *testing.T) {
	step := time.Hour
	end := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	nan := math.NaN()
	f := fakeSeries{metrics: []string{"a", "b"}, end: map[string]time.Time{"x": end},
		rows: map[string][][]float64{"x": {{nan, nan}, {1, nan}, {nan, 5}, {3, nan}, {nan, nan}}}}
	// The last stored row has no value at all: its step is left out, as
	// is the first; gaps carry the previous value.
	rows, start, err := History(context.Background(), f, "s", "x", f.metrics, end.Add(-10*step), end.Add(2*step), step)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), start)
	require.Len(t, rows, 3)
	require.Equal(t, 1.0, rows[0][0])
	require.True(t, math.IsNaN(rows[0][1]), "nothing to carry yet")
	require.Equal(t, []float64{1, 5}, rows[1])
	require.Equal(t, []float64{3, 5}, rows[2])

	rows, _, err = History(context.Background(), f, "s", "x", f.metrics, end.Add(5*step), end.Add(9*step), step)
	require.NoError(t, err)
	require.Empty(t, rows)
}

type fakeScoreStore struct {
	mu       sync.Mutex // guards scores
	models   []Version
	restarts map[string]time.Time
	scores   map[string]Score
}

func (s *fakeScoreStore) LatestModels(context.Context) ([]Version, error) { return s.models, nil }
func (s *fakeScoreStore) Restarts(context.Context, string) (map[string]time.Time, error) {
	return s.restarts, nil
}
func (s *fakeScoreStore) SaveScore(_ context.Context, sc Score) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scores[sc.AssetID] = sc
	return nil
}

type fakeAssets []AssetRef

func (a fakeAssets) AssetsOfType(context.Context, string) ([]AssetRef, error) { return a, nil }

// The scorer alerts for the asset near its end only; a short history and
// an asset that failed are scored without an estimate, a silent one as of
// its last data.
func TestScorerRaisesWithinTheLead(t *testing.T) {
	fl := simulators.RunToFailure(5, simulators.RunToFailureOptions{Units: 30})
	m, _, err := Train(toUnits(fl), Spec{Metrics: fl.Sensors, StepSeconds: 3600, HistorySteps: 400}, Options{Seed: 5})
	require.NoError(t, err)
	live := simulators.RunToFailure(5, simulators.RunToFailureOptions{Units: 2, FirstUnit: 30})
	now := time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)
	near, early := live.Units[0], live.Units[1]
	f := fakeSeries{metrics: fl.Sensors,
		rows: map[string][][]float64{"near": near.Cycles[:near.Life-5], "early": early.Cycles[:50], "short": early.Cycles[:9],
			"young":  early.Cycles[:12],
			"silent": early.Cycles[:60], "failed": near.Cycles, "old": early.Cycles[:60]},
		end: map[string]time.Time{"near": now, "early": now, "short": now, "young": now, "silent": now.Add(-10 * time.Hour),
			"failed": now.Add(-2 * time.Hour), "old": now.Add(-2000 * time.Hour)}}
	store := &fakeScoreStore{models: []Version{{AssetType: "engine", Version: 4, Model: m}}, scores: map[string]Score{},
		restarts: map[string]time.Time{"failed": now.Add(-2 * time.Hour), "early": now.Add(-100 * time.Hour)}}
	var alerts []Alert
	var amu sync.Mutex // the scorer scores assets at once
	sc := &Scorer{Store: store, Series: f, Now: func() time.Time { return now },
		Assets: fakeAssets{{ID: "near", Code: "near"}, {ID: "early", Code: "early"}, {ID: "short", Code: "short"},
			{ID: "young", Code: "young"}, {ID: "silent", Code: "silent"}, {ID: "failed", Code: "failed"}, {ID: "old", Code: "old"}},
		Raise: func(_ context.Context, a Alert) error {
			amu.Lock()
			alerts = append(alerts, a)
			amu.Unlock()
			return nil
		}}
	n, err := sc.RunCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, alerts, 1)
	a := alerts[0]
	require.Equal(t, "near", a.Asset.ID)
	require.Equal(t, 4, a.Version)
	require.Equal(t, now, a.At, "the end of the last step with data, but not after now")
	require.LessOrEqual(t, a.Lower, 48*time.Hour)
	require.LessOrEqual(t, a.Lower, a.RUL)
	require.LessOrEqual(t, a.RUL, a.Upper)
	require.Len(t, a.Features, m.Spec.Width())

	require.Equal(t, StatusOK, store.scores["near"].Status)
	require.InDelta(t, a.RUL.Seconds(), *store.scores["near"].RUL, 1e-6)
	require.Equal(t, StatusOK, store.scores["early"].Status)
	require.Greater(t, *store.scores["early"].Lower, 48*3600.0)
	require.Equal(t, StatusShortHistory, store.scores["short"].Status, "9 steps: under the 10 a model needs")
	require.Nil(t, store.scores["short"].RUL)
	// 12 steps, shorter than the 30-step window: estimated (far from
	// failure), not left without an answer.
	require.Equal(t, StatusOK, store.scores["young"].Status)
	require.Greater(t, *store.scores["young"].Lower, 48*3600.0)
	// Silent for 10 h: estimated as of its last data, in event time.
	require.Equal(t, StatusOK, store.scores["silent"].Status)
	require.Equal(t, now.Add(-10*time.Hour).Truncate(time.Hour).Add(time.Hour), *store.scores["silent"].AsOf)
	require.Equal(t, now, *store.scores["near"].AsOf)
	// Data that ended long before the model's span (an old upload): the
	// span that ends at its last data, the same estimate as "silent".
	require.Equal(t, StatusOK, store.scores["old"].Status)
	require.Equal(t, now.Add(-2000*time.Hour).Truncate(time.Hour).Add(time.Hour), *store.scores["old"].AsOf)
	require.Equal(t, *store.scores["silent"].RUL, *store.scores["old"].RUL)
	require.Equal(t, StatusNoData, store.scores["failed"].Status)

	// A type's own lead overrides the scorer's: 400 h orders all five
	// running engines.
	store.models[0].Model.LeadSeconds = 400 * 3600
	alerts = nil
	n, err = sc.RunCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, 5, n)

	// The order rule: with a lead between the lower bound and RUL − 0.75
	// half-widths, "early" is ordered under margin 1 (the lower bound)
	// and not under the default margin.
	e := store.scores["early"]
	half := *e.Upper - *e.RUL
	require.Greater(t, *e.RUL-half, 0.0)
	store.models[0].Model.LeadSeconds = *e.RUL - 0.875*half
	ordered := func() bool {
		alerts = nil
		_, err := sc.RunCount(context.Background())
		require.NoError(t, err)
		for _, a := range alerts {
			if a.Asset.ID == "early" {
				return true
			}
		}
		return false
	}
	require.False(t, ordered(), "default margin %g", DefaultOrderMargin)
	one := 1.0
	store.models[0].Model.OrderMargin = &one
	require.True(t, ordered(), "margin 1: the lower bound within the lead")
	store.models[0].Model.OrderMargin = nil

	// A version that fails its gate gives estimates but raises nothing;
	// the type's override lets it raise again.
	store.models[0].Model.LeadSeconds = 400 * 3600
	store.models[0].Gate = &Gate{Reasons: []GateReason{{Code: ReasonFewHeldOut}}}
	store.scores = map[string]Score{}
	n, err = sc.RunCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "not validated: no orders")
	require.Equal(t, StatusOK, store.scores["near"].Status, "still estimated")
	require.NotNil(t, store.scores["near"].RUL)
	store.models[0].Gate.Override = &GateOverride{By: "ann", Note: "we accept it"}
	n, err = sc.RunCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, 5, n, "overridden: orders again")
	store.models[0].Gate = nil

	sc.Raise = func(context.Context, Alert) error { return errors.New("down") }
	_, err = sc.RunCount(context.Background())
	require.ErrorContains(t, err, "down")
}

// TestJudgeGate: the rule's three checks, each named with its figure.
func TestJudgeGate(t *testing.T) {
	m := Model{Coverage: 0.9, Spec: Spec{StepSeconds: 3600}}
	good := Report{CalUnits: 9, ValidationCoverage: 0.88, ValidationRMSE: 20}
	g := JudgeGate(m, good, 48*time.Hour)
	require.True(t, g.Passed)
	require.Empty(t, g.Reasons)
	require.Equal(t, GateValidated, g.Status())
	require.Equal(t, GateRule{MinHeldOutUnits: 6, MinValidationCoverage: 0.8, MaxRMSESeconds: 48 * 3600}, g.Rule)

	// The case: 12 failed units (4 held out), coverage 0.70,
	// RMSE 34 steps; with a 24 h lead the RMSE fails too.
	bad := Report{CalUnits: 4, ValidationCoverage: 0.70, ValidationRMSE: 34}
	g = JudgeGate(m, bad, 24*time.Hour)
	require.False(t, g.Passed)
	require.False(t, g.OrdersAllowed())
	require.Equal(t, GateNotValidated, g.Status())
	var codes []string
	for _, r := range g.Reasons {
		codes = append(codes, r.Code)
		require.NotEmpty(t, r.Message)
	}
	require.Equal(t, []string{ReasonFewHeldOut, ReasonLowCoverage, ReasonHighRMSE}, codes)
	require.Equal(t, 0.70, g.Reasons[1].Value)
	require.Equal(t, 0.80, g.Reasons[1].Limit)
	require.Equal(t, 34*3600.0, g.Reasons[2].Value)
	require.Contains(t, g.Reasons[1].Message, "covered 70 %")
	g.Override = &GateOverride{By: "ann"}
	require.Equal(t, GateOverridden, g.Status())
	require.True(t, g.OrdersAllowed())

	// No lead known: the default; a NaN coverage fails.
	g = JudgeGate(m, Report{CalUnits: 6, ValidationCoverage: math.NaN(), ValidationRMSE: 47}, 0)
	require.Len(t, g.Reasons, 1)
	require.Equal(t, ReasonLowCoverage, g.Reasons[0].Code)
	require.Equal(t, DefaultGateLead.Seconds(), g.Rule.MaxRMSESeconds)
	require.True(t, Version{}.OrdersAllowed(), "a version without a gate (not from a store)")
}

func TestStepOfGap(t *testing.T) {
	h := time.Hour
	rep := func(d time.Duration, n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	for _, c := range []struct {
		name string
		gaps []time.Duration
		want time.Duration
	}{
		{"none", nil, h},
		{"a reading a second", rep(time.Second, 50), h},
		{"every ten minutes", rep(10*time.Minute, 50), h},
		{"hourly", rep(h, 50), h},
		{"a cycle a day, a few days missing", append(rep(24*h, 40), 48*h, 72*h, 96*h), 24 * h},
		{"daily with jitter", []time.Duration{23*h + 50*time.Minute, 24*h + 20*time.Minute, 24 * h, 24*h + 5*time.Minute}, 24 * h},
		{"every 36 hours", rep(36*h, 30), 36 * h},
		{"every 90 minutes and a few seconds", rep(90*time.Minute+7*time.Second, 30), 90 * time.Minute},
		{"every three hours", rep(3*h, 30), 3 * h},
		{"weekly", rep(7*24*h, 10), 7 * 24 * h},
		{"monthly (longer than a step may be)", rep(30*24*h, 10), 7 * 24 * h},
		{"mostly dense, a night's gap", append(rep(h, 30), 12*h), h},
	} {
		require.Equal(t, c.want, StepOfGap(c.gaps), c.name)
	}
}

// dailyTimes has a reading a day per asset, up to each asset's end.
type dailyTimes struct {
	end   map[string]time.Time
	reads []time.Duration // the windows asked for
}

func (d *dailyTimes) ReadingTimes(_ context.Context, _, asset string, from, to time.Time) ([]time.Time, error) {
	d.reads = append(d.reads, to.Sub(from))
	var out []time.Time
	for ts := d.end[asset]; !ts.Before(from); ts = ts.Add(-24 * time.Hour) {
		if ts.Before(to) {
			out = append(out, ts)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// A first training of units with a reading a day learns on days: the
// reads grow from ten minutes until they hold enough readings, never
// reaching back further than they need.
func TestDefaultStepFollowsTheReadings(t *testing.T) {
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	times := &dailyTimes{end: map[string]time.Time{}}
	var failures []Failure
	for i := range 10 {
		a := fmt.Sprint("u", i)
		times.end[a] = end.AddDate(0, 0, -i)
		failures = append(failures, Failure{Site: "s", Asset: a, FailedAt: times.end[a]})
	}
	tr := &Trainer{Times: times}
	step, err := tr.defaultStep(context.Background(), failures)
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, step)
	require.LessOrEqual(t, slices.Max(times.reads), 8*512*10*time.Minute+time.Nanosecond, "four weeks at most")
	tr.Times = nil
	step, err = tr.defaultStep(context.Background(), failures)
	require.NoError(t, err)
	require.Equal(t, time.Hour, step, "without reading times: an hour")
}
