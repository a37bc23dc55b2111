package predict

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

// replaySeries feeds a series sampled every 30 minutes for 20 days through
// one Series with the given options and returns the trend signals.
func replaySeries(t *testing.T, opts Options, r rules.Rule, f func(h float64, rng *rand.Rand) float64) []rules.Signal {
	t.Helper()
	s := New(opts).NewSeries(&r, testAsset).(*Series)
	rng := rand.New(rand.NewPCG(11, 12))
	var out []rules.Signal
	for ts := seriesStart; ts.Before(seriesStart.Add(20 * 24 * time.Hour)); ts = ts.Add(30 * time.Minute) {
		out = append(out, s.Observe(ts, f(ts.Sub(seriesStart).Hours(), rng))...)
	}
	return out
}

func twoDayRule() rules.Rule {
	r := vibRule()
	r.Predict.Window = rules.Duration(48 * time.Hour)
	return r
}

// The tail of a slow run-in (a new part settling 2.8 above the old level,
// time constant one day, below the limit) looks like a line within a
// two-day window, and the line crosses the limit within the horizon; but
// with every fit the crossing moves further out than time goes on, so the
// confirmation span raises nothing. Linear wear of the same size in the
// window keeps its crossing and is raised.
func TestConfirmSpanRunInTail(t *testing.T) {
	runIn := func(h float64, rng *rand.Rand) float64 {
		v := base + 0.05*rng.NormFloat64()
		if h > 5*24 {
			v += 2.8 * -math.Expm1(-(h-5*24)/24)
		}
		return v
	}
	r := twoDayRule()
	off := replaySeries(t, Options{ConfirmSpan: -1, Fit: FitOptions{NoLevelling: true}}, r, runIn)
	require.NotEmpty(t, off, "without the checks the run-in's tail raises a trend (the case is real)")
	require.Empty(t, replaySeries(t, Options{}, r, runIn), "a run-in that levels off below the limit raises nothing")

	wear := func(h float64, rng *rand.Rand) float64 {
		v := base + 0.05*rng.NormFloat64()
		if h > 5*24 {
			v += (critical - base) * (h - 5*24) / (12 * 24)
		}
		return v
	}
	sigs := replaySeries(t, Options{}, r, wear)
	require.NotEmpty(t, sigs, "linear wear is raised")
	fail := seriesStart.Add(17 * 24 * time.Hour)
	require.GreaterOrEqual(t, fail.Sub(sigs[0].DetectedAt), 24*time.Hour, "at least a day ahead")
}

// A daily cycle as large as a day's wear hides the trend's R² and tilts
// each window's line by the time of day; taken out of the window, linear
// wear under it is predicted days ahead, and a healthy machine with the
// same cycle raises nothing.
func TestDailyCycleTakenOut(t *testing.T) {
	cyc := func(h float64) float64 { return 0.6 * math.Sin(2*math.Pi*math.Mod(h, 24)/24) }
	wear := func(h float64, rng *rand.Rand) float64 {
		v := base + cyc(h) + 0.05*rng.NormFloat64()
		if h > 5*24 {
			v += (critical - base) * (h - 5*24) / (12 * 24)
		}
		return v
	}
	healthy := func(h float64, rng *rand.Rand) float64 { return base + cyc(h) + 0.05*rng.NormFloat64() }
	r := twoDayRule()
	fail := seriesStart.Add(17 * 24 * time.Hour)
	sigs := replaySeries(t, Options{}, r, wear)
	require.NotEmpty(t, sigs)
	lead := fail.Sub(sigs[0].DetectedAt)
	require.GreaterOrEqual(t, lead, 48*time.Hour, "wear under a daily cycle is raised days ahead")
	if raw := replaySeries(t, Options{Fit: FitOptions{NoDaily: true}}, r, wear); len(raw) > 0 {
		require.Less(t, fail.Sub(raw[0].DetectedAt), lead, "the cycle left in costs lead time")
	}
	require.Empty(t, replaySeries(t, Options{}, r, healthy), "a healthy daily cycle raises nothing")
}

// A prediction is held over the confirmation span only when most refits
// in it predicted: passes strung together across refits that were vetoed
// (each gap shorter than half the span, so the held crossings survive)
// are a rise that keeps levelling off.
func TestConfirmNeedsMostRefits(t *testing.T) {
	r := twoDayRule()
	s := New(Options{}).NewSeries(&r, testAsset).(*Series)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// 12 h of refits every 30 min, one in four predicting.
	for i := range 25 {
		s.mark(t0.Add(time.Duration(i)*30*time.Minute), i%4 == 0)
	}
	require.False(t, s.heldMostly(t0))
	// The next 12 h, all predicting: over them the prediction held.
	for i := 25; i < 50; i++ {
		s.mark(t0.Add(time.Duration(i)*30*time.Minute), true)
	}
	require.True(t, s.heldMostly(t0.Add(12*time.Hour)))
	require.Less(t, len(s.fits), 50, "refits older than the span are forgotten")
}
