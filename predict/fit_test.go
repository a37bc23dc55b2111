package predict

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// handSeries samples f (hours relative to the window end, -72..0) every
// hour with white noise of sd 0.02.
func handSeries(f func(h float64) float64) []Point {
	rng := rand.New(rand.NewPCG(1, 2))
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var pts []Point
	for h := -72; h <= 0; h++ {
		pts = append(pts, Point{TS: end.Add(time.Duration(h) * time.Hour), Value: f(float64(h)) + 0.02*rng.NormFloat64(), N: 1})
	}
	return pts
}

func TestFitReadsTheOnsetOfLinearWearAsAKnee(t *testing.T) {
	// Flat at 2.2 until 44 h before the window end, then +0.05/h: the
	// true crossing of 7.1 is (7.1-4.4)/0.05 = 54 h after the end. (An
	// onset in the younger half of the window raises nothing yet:
	// not_sustained.)
	pts := handSeries(func(h float64) float64 { return 2.2 + 0.05*math.Max(0, h+44) })
	end := pts[len(pts)-1].TS
	truth := end.Add(54 * time.Hour)
	r := vibRule()

	res := Fit(pts, &r, FitOptions{})
	require.Equal(t, ReasonOK, res.Reason, "%+v", res)
	require.Equal(t, ModelLinear, res.Model)
	require.Contains(t, res.AIC, ModelKnee)
	require.WithinDuration(t, end.Add(-44*time.Hour), res.Onset, 4*time.Hour)
	// The line over the whole window is late while the onset is in it,
	// never early.
	require.False(t, res.Prediction.CrossingAt.Before(truth.Add(-2*time.Hour)),
		"predicted %s, truth %s", res.Prediction.CrossingAt, truth)

	// Without the knee candidate an accelerating model wins and predicts
	// the crossing far too early: what the knee is there for.
	noKnee := Fit(pts, &r, FitOptions{KneeMargin: 1e9})
	require.Equal(t, ReasonOK, noKnee.Reason)
	require.NotEqual(t, ModelLinear, noKnee.Model)
	require.True(t, noKnee.Onset.IsZero())
	require.Less(t, noKnee.Prediction.CrossingAt.Sub(truth), -12*time.Hour,
		"accelerating fit predicted %s, truth %s", noKnee.Prediction.CrossingAt, truth)
}

func TestFitKeepsRealAcceleration(t *testing.T) {
	// Exponential wear: the excess over 2.2 doubles every 24 h and
	// reaches 4.9 (7.1) 30 h after the window end.
	f := func(h float64) float64 { return 2.2 + 4.9*math.Exp2((h-30)/24) }
	pts := handSeries(f)
	end := pts[len(pts)-1].TS
	r := vibRule()
	res := Fit(pts, &r, FitOptions{})
	require.Equal(t, ReasonOK, res.Reason, "%+v", res)
	require.NotEqual(t, ModelLinear, res.Model)
	require.True(t, res.Onset.IsZero(), "no knee: %s", res.Onset)
	// Neither candidate has the offset baseline of this curve, so the
	// fit lags it a little.
	require.WithinDuration(t, end.Add(30*time.Hour), res.Prediction.CrossingAt, 18*time.Hour)
}

func TestFitWanderIsNotAcceleration(t *testing.T) {
	// A steady line plus a slow swing (one 72 h half period): the
	// residuals of any fit wander together, so the curvature must not
	// count as acceleration.
	pts := handSeries(func(h float64) float64 { return 4 + 0.03*h + 0.25*math.Sin(math.Pi*(h+72)/72) })
	r := vibRule()
	res := Fit(pts, &r, FitOptions{})
	require.Equal(t, ModelLinear, res.Model, "%+v", res)
	require.NotContains(t, res.AIC, ModelQuadratic)
	require.NotContains(t, res.AIC, ModelExponential)
}

func TestAutoShrink(t *testing.T) {
	xs := make([]float64, 40)
	alt := make([]float64, 40)
	smooth := make([]float64, 40)
	for i := range xs {
		xs[i] = float64(i)
		alt[i] = float64(1 - 2*(i%2))
		smooth[i] = math.Sin(float64(i) / 6)
	}
	flat := model{name: ModelLinear}
	require.Equal(t, 1.0, autoShrink(xs, alt, flat), "negative autocorrelation: no shrink")
	s := autoShrink(xs, smooth, flat)
	require.Greater(t, s, 0.0)
	require.Less(t, s, 0.3, "smooth residuals carry little evidence")
	require.Equal(t, 1.0, autoShrink(xs, make([]float64, 40), flat))
}

func TestReadable(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Hour, "0s"}, {30 * time.Second, "30s"}, {45*time.Minute + 10*time.Second + 300*time.Millisecond, "45m 10s"},
		{5*time.Hour + 59*time.Minute + 56171995835, "5h 59m"}, {3 * time.Hour, "3h"}, {143*time.Hour + 59*time.Minute, "5d 23h"}, {48 * time.Hour, "2d"},
	} {
		if got := Readable(tt.d); got != tt.want {
			t.Errorf("Readable(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
