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
			return 2.2 + plateau(h, -60, -30, 2.2, 0.1) + 0.04*math.Max(0, h+20)
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
