package predict

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

// A warm-up's plateau that ended inside the window hides the wear under
// it (the fall reads as a trend away from the limit); taken out, the wear
// is predicted. The same fall on a healthy machine, and a fall followed by
// the next warm-up's rise, predict nothing.
func TestEndedExcursion(t *testing.T) {
	// Exponential bearing wear as in the stress scenario: 4.9 above the
	// healthy 2.2 at the failure, e-folding time 3 days, a 12-day ramp;
	// the window ends 50 h before the failure.
	wear := func(h float64) float64 {
		tt := 288 - 50 + h
		return 4.9 * math.Expm1(tt/72) / math.Expm1(4)
	}
	sat := func(h, onset, amp, tau float64) float64 {
		if h <= onset {
			return 0
		}
		return amp * -math.Expm1(-(h-onset)/tau)
	}
	// plateau is a warm-up from onset to end (hours from the window end).
	plateau := func(h, onset, end, amp, tau float64) float64 {
		if h >= end {
			return 0
		}
		return sat(h, onset, amp, tau)
	}
	tests := []struct {
		name    string
		f       func(h float64) float64
		predict bool
		// gated: without the levelling checks the window without the
		// excursion would predict (the checks must still hold there).
		gated bool
	}{
		{"warm-up's end on wear", func(h float64) float64 { return 2.2 + wear(h) + plateau(h, -70, -14, 1.2, 4) }, true, false},
		{"warm-up's end on wear, onset in the window", func(h float64) float64 { return 2.2 + wear(h) + plateau(h, -40, -12, 1.2, 4) }, true, false},
		{"warm-up's end, no wear", func(h float64) float64 { return 3.5 + plateau(h, -70, -14, 1.2, 4) }, false, false},
		{"warm-up's end, then the next warm-up", func(h float64) float64 {
			return 2.2 + plateau(h, -60, -24, 2.6, 4) + sat(h, -8, 2.6, 4)
		}, false, false},
		// A motor's daily warm-ups (the stress scenario's MWU- motors,
		// scaled to this rule): one rises and falls inside the window,
		// the next rises at its end.
		{"a whole warm-up, then the next", func(h float64) float64 {
			return 2.2 + plateau(h, -36, -12, 2.6, 6) + sat(h, -5, 2.6, 6)
		}, false, false},
		// A rise younger than half the window is not sustained, with or
		// without what came before it.
		{"a shift's end, then a young rise", func(h float64) float64 {
			return 2.2 + plateau(h, -60, -30, 2.2, 0.1) + 0.08*math.Max(0, h+20)
		}, false, true},
	}
	r := vibRule()
	r.Predict.Window = rules.Duration(48 * time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			var pts []Point
			for h := -47; h <= 0; h++ {
				pts = append(pts, Point{TS: end.Add(time.Duration(h) * time.Hour), Value: tt.f(float64(h)) + 0.08*rng.NormFloat64(), N: 1})
			}
			res := Fit(pts, &r, FitOptions{})
			without := Fit(pts, &r, FitOptions{NoExcursion: true})
			if !tt.predict {
				require.NotEqual(t, ReasonOK, res.Reason, "%+v", res)
				if tt.gated {
					off := Fit(pts, &r, FitOptions{NoLevelling: true})
					require.Equal(t, ReasonOK, off.Reason, "without the levelling checks the baseline predicts: %+v", off)
					require.False(t, off.ExcursionEnd.IsZero())
				}
				return
			}
			require.Equal(t, ReasonOK, res.Reason, "%+v", res)
			require.False(t, res.ExcursionEnd.IsZero(), "the prediction comes from the baseline")
			require.InDelta(t, 1.2, res.ExcursionHeight, 0.3)
			require.NotEqual(t, ReasonOK, without.Reason, "without taking the excursion out the fit predicts nothing: %+v", without)
			// The baseline's crossing is no more than a day before the
			// wear's (a line on accelerating wear is late, not early).
			require.False(t, res.Prediction.CrossingAt.Before(end.Add(26*time.Hour)), "%s", res.Prediction.CrossingAt)
		})
	}
}

// anyFall (the pre-check's O(n) test) agrees with fallCandidates on
// random series with and without falls.
func TestAnyFallAgreesWithFallCandidates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	found := 0
	for k := range 2000 {
		n := 10 + rng.IntN(70)
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = 0.01*float64(i) + 0.1*rng.NormFloat64()
			if rng.IntN(4) == 0 {
				vals[i] = math.Round(vals[i]*10) / 10 // ties and zero differences
			}
		}
		if k%2 == 0 {
			at := rng.IntN(n)
			for i := 0; i < at; i++ {
				vals[i] += rng.Float64() * 0.8
			}
		}
		for _, dir := range []float64{1, -1} {
			want := len(fallCandidates(vals, dir)) > 0
			if want {
				found++
			}
			require.Equal(t, want, anyFall(n, func(i int) float64 { return vals[i] }, dir), "n %d dir %g: %v", n, dir, vals)
		}
	}
	require.Greater(t, found, 200)
}

// A false alarm found on the stress scenario (seed 2, PDR-008 at
// 10-minute sampling, the window as the series held it): a warm-up that
// ended 32 h before the window's end over sensor drift setting in. Taken
// out, the warm-up leaves a level that bends up where the drift set in;
// the quadratic extrapolated that bend to the limit within five days. The
// baseline is judged by the line, which does not cross within the horizon.
func TestExcursionBaselineIsJudgedByTheLine(t *testing.T) {
	raw := []windowPoint{
		{-47.833, 4.001, 4}, {-47.167, 4.005, 4}, {-46.500, 4.042, 4}, {-45.833, 4.014, 4},
		{-45.167, 4.039, 4}, {-44.500, 4.113, 4}, {-43.833, 4.086, 4}, {-43.167, 4.102, 4},
		{-42.500, 4.073, 4}, {-41.833, 4.113, 4}, {-41.167, 4.139, 4}, {-40.500, 3.970, 4},
		{-39.833, 4.005, 4}, {-39.167, 4.081, 4}, {-38.500, 4.043, 4}, {-37.833, 4.058, 4},
		{-37.167, 4.001, 4}, {-36.500, 4.064, 4}, {-35.833, 3.992, 4}, {-35.167, 4.159, 4},
		{-34.500, 4.149, 4}, {-33.833, 4.060, 4}, {-33.167, 4.100, 4}, {-32.500, 4.177, 4},
		{-31.833, 2.552, 4}, {-31.167, 2.712, 4}, {-30.500, 2.546, 4}, {-29.833, 2.535, 4},
		{-29.167, 2.589, 4}, {-28.500, 2.601, 4}, {-27.833, 2.663, 4}, {-27.167, 2.588, 4},
		{-26.500, 2.636, 4}, {-25.833, 2.677, 4}, {-25.167, 2.590, 4}, {-24.500, 2.632, 4},
		{-23.833, 2.695, 4}, {-23.167, 2.595, 4}, {-22.500, 2.654, 4}, {-21.833, 2.630, 4},
		{-21.167, 2.511, 4}, {-20.500, 2.635, 4}, {-19.833, 2.781, 4}, {-19.167, 2.593, 4},
		{-18.500, 2.614, 4}, {-17.833, 2.673, 4}, {-17.167, 2.712, 4}, {-16.500, 2.745, 4},
		{-15.833, 2.740, 4}, {-15.167, 2.750, 4}, {-14.500, 2.822, 4}, {-13.833, 2.836, 4},
		{-13.167, 2.776, 4}, {-12.500, 2.892, 4}, {-11.833, 2.872, 4}, {-11.167, 2.771, 4},
		{-10.500, 2.859, 4}, {-9.833, 2.919, 4}, {-9.167, 2.928, 4}, {-8.500, 2.829, 4},
		{-7.833, 2.890, 4}, {-7.167, 2.898, 4}, {-6.500, 2.940, 4}, {-5.833, 2.935, 4},
		{-5.167, 2.935, 4}, {-4.500, 2.901, 4}, {-3.833, 2.966, 4}, {-3.167, 2.914, 4},
		{-2.500, 2.894, 4}, {-1.833, 2.944, 4}, {-1.167, 2.879, 4}, {-0.500, 2.949, 4},
		{0.000, 2.858, 3},
	}
	end := time.Date(2026, 9, 28, 19, 40, 0, 0, time.UTC)
	pts := windowPoints(end, raw)
	r := vibRule()
	r.Predict.Window = rules.Duration(48 * time.Hour)
	res := Fit(pts, &r, FitOptions{})
	require.NotEqual(t, ReasonOK, res.Reason, "%+v", res)
	require.NotEqual(t, ReasonOK, Fit(pts, &r, FitOptions{NoExcursion: true}).Reason)
}

// A miss found on the stress scenario (seed 4, PBW-002 at 10-minute
// sampling, the window as the series held it 62 h before the failure):
// exponential bearing wear under a 2-day warm-up of 1.2 that ended 9.5 h
// before the window's end, inside a bucket, so that bucket's point lies
// half-way down (5.19, 4.65, 4.15). Lines that take that point in
// measured the fall at 0.76 and the baseline left with a step in it
// predicted nothing (beyond the horizon); left out of the measure, the
// fall is 1.07 and the wear is predicted.
func TestExcursionEndInsideABucket(t *testing.T) {
	raw := []windowPoint{
		{-47.500, 4.410, 4}, {-46.833, 4.342, 4}, {-46.167, 4.508, 4}, {-45.500, 4.433, 4},
		{-44.833, 4.453, 4}, {-44.167, 4.429, 4}, {-43.500, 4.536, 4}, {-42.833, 4.587, 4},
		{-42.167, 4.512, 4}, {-41.500, 4.495, 4}, {-40.833, 4.583, 4}, {-40.167, 4.648, 4},
		{-39.500, 4.588, 4}, {-38.833, 4.622, 4}, {-38.167, 4.682, 4}, {-37.500, 4.679, 4},
		{-36.833, 4.722, 4}, {-36.167, 4.731, 4}, {-35.500, 4.694, 4}, {-34.833, 4.760, 4},
		{-34.167, 4.772, 4}, {-33.500, 4.624, 4}, {-32.833, 4.791, 4}, {-32.167, 4.708, 4},
		{-31.500, 4.675, 4}, {-30.833, 4.684, 4}, {-30.167, 4.715, 4}, {-29.500, 4.720, 4},
		{-28.833, 4.704, 4}, {-28.167, 4.690, 4}, {-27.500, 4.671, 4}, {-26.833, 4.754, 4},
		{-26.167, 4.802, 4}, {-25.500, 4.780, 4}, {-24.833, 4.793, 4}, {-24.167, 4.834, 4},
		{-23.500, 4.774, 4}, {-22.833, 4.807, 4}, {-22.167, 4.823, 4}, {-21.500, 4.938, 4},
		{-20.833, 4.951, 4}, {-20.167, 5.015, 4}, {-19.500, 4.954, 4}, {-18.833, 4.992, 4},
		{-18.167, 5.030, 4}, {-17.500, 5.114, 4}, {-16.833, 5.151, 4}, {-16.167, 5.131, 4},
		{-15.500, 5.166, 4}, {-14.833, 5.037, 4}, {-14.167, 5.119, 4}, {-13.500, 5.264, 4},
		{-12.833, 5.196, 4}, {-12.167, 5.183, 4}, {-11.500, 5.188, 4}, {-10.833, 5.224, 4},
		{-10.167, 5.194, 4}, {-9.500, 4.652, 4}, {-8.833, 4.151, 4}, {-8.167, 4.121, 4},
		{-7.500, 4.095, 4}, {-6.833, 4.127, 4}, {-6.167, 4.212, 4}, {-5.500, 4.146, 4},
		{-4.833, 4.155, 4}, {-4.167, 4.158, 4}, {-3.500, 4.289, 4}, {-2.833, 4.212, 4},
		{-2.167, 4.205, 4}, {-1.500, 4.198, 4}, {-0.833, 4.264, 4}, {-0.167, 4.258, 4},
		{0.000, 4.316, 1},
	}
	end := time.Date(2026, 9, 24, 12, 0, 0, 0, time.UTC)
	pts := windowPoints(end, raw)
	r := vibRule()
	r.Predict.Window = rules.Duration(48 * time.Hour)
	res := Fit(pts, &r, FitOptions{})
	require.Equal(t, ReasonOK, res.Reason, "%+v", res)
	require.Equal(t, end.Add(-8*time.Hour-50*time.Minute), res.ExcursionEnd.Round(10*time.Minute), "the first point after the half-way one")
	require.InDelta(t, 1.07, res.ExcursionHeight, 0.1)
	// The same window as hourly points (one reading each): no point can
	// lie part-way down, and the fall is measured as before.
	for i := range pts {
		pts[i].N = 1
	}
	require.NotEqual(t, ReasonOK, Fit(pts, &r, FitOptions{}).Reason)
}

// windowPoint is a bucket of a window taken from a replayed series: h
// hours from the window's end, its mean v of n readings.
type windowPoint struct {
	h, v float64
	n    int
}

// windowPoints are raw's points in time, the window ending at end.
func windowPoints(end time.Time, raw []windowPoint) []Point {
	pts := make([]Point, len(raw))
	for i, p := range raw {
		pts[i] = Point{TS: end.Add(time.Duration(p.h * float64(time.Hour))), Value: p.v, N: p.n}
	}
	return pts
}
