package predict

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Wear under changes of operating point (abrupt steps up and down) is
// predicted from the current level with the steps taken out, while the
// shapes that only look like steps are not: a warm-up (a gradual rise,
// then an abrupt fall), a step across a gap in the readings, and shifts
// on a machine that does not wear.
func TestStepsTakenOut(t *testing.T) {
	shift := func(h, from, to, amp float64) float64 {
		if h >= from && h < to {
			return amp
		}
		return 0
	}
	sat := func(h, onset, amp, tau float64) float64 {
		if h <= onset {
			return 0
		}
		return amp * -math.Expm1(-(h-onset)/tau)
	}
	r := vibRule()

	t.Run("wear under a shift", func(t *testing.T) {
		// 3.0 + 0.03/h, shifts of +1.5 from 66 h to 50 h and from 30 h
		// to 16 h before the end: 5.16 now, the limit 7.1 crossed
		// (7.1-5.16)/0.03 ≈ 65 h on.
		pts := handSeries(func(h float64) float64 { return 3 + 0.03*(h+72) + shift(h, -66, -50, 1.5) + shift(h, -30, -16, 1.5) })
		off := Fit(pts, &r, FitOptions{NoSteps: true})
		require.NotEqual(t, ReasonOK, off.Reason, "without the steps taken out: %+v", off)
		res := Fit(pts, &r, FitOptions{})
		require.Equal(t, ReasonOK, res.Reason, "%+v", res)
		require.Equal(t, 4, res.Steps)
		require.InDelta(t, 0.03, res.Slope, 0.003)
		rul := res.Prediction.RUL.D().Hours()
		require.InDelta(t, 65, rul, 5)
	})
	t.Run("warm-ups, no wear", func(t *testing.T) {
		// Two warm-ups of 1.5 (τ 1 h, so the first hour is a jump): the
		// rise goes on after the first point, and each fall is larger
		// than the jump that opened it.
		f := func(h float64) float64 { return 3 + sat(h, -64, 1.5, 1)*b2f(h < -40) + sat(h, -28, 1.5, 1)*b2f(h < -6) }
		pts := handSeries(f)
		xs, ys := hoursOf(pts)
		_, _, ok := stepSegments(xs, ys, make([]bool, len(xs)), 1)
		require.False(t, ok)
		res := Fit(pts, &r, FitOptions{})
		require.NotEqual(t, ReasonOK, res.Reason, "%+v", res)
	})
	t.Run("warm-up with an abrupt end on wear", func(t *testing.T) {
		// A gradual rise (τ 8 h) and an abrupt fall: the fall closes no
		// jump, nothing is taken out.
		pts := handSeries(func(h float64) float64 { return 3 + 0.03*(h+72) + sat(h, -60, 1.5, 8)*b2f(h < -30) })
		xs, ys := hoursOf(pts)
		_, _, ok := stepSegments(xs, ys, make([]bool, len(xs)), 1)
		require.False(t, ok)
	})
	t.Run("a step across a gap", func(t *testing.T) {
		pts := handSeries(func(h float64) float64 { return 3 + 0.03*(h+72) + shift(h, -35, 1, 1) })
		var kept []Point
		for i, p := range pts {
			if h := float64(i - 72); h < -40 || h >= -30 {
				kept = append(kept, p)
			}
		}
		xs, ys := hoursOf(kept)
		_, _, ok := stepSegments(xs, ys, make([]bool, len(xs)), 1)
		require.False(t, ok)
	})
	t.Run("shifts, no wear", func(t *testing.T) {
		pts := handSeries(func(h float64) float64 { return 5 + shift(h, -50, -20, 1.5) })
		res := Fit(pts, &r, FitOptions{})
		require.NotEqual(t, ReasonOK, res.Reason, "%+v", res)
		xs, ys := hoursOf(pts)
		segs, _, ok := stepSegments(xs, ys, make([]bool, len(xs)), 1)
		require.True(t, ok)
		require.Len(t, segs, 3)
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func hoursOf(pts []Point) (xs, ys []float64) {
	end := pts[len(pts)-1].TS
	for _, p := range pts {
		xs, ys = append(xs, p.TS.Sub(end).Hours()), append(ys, p.Value)
	}
	return xs, ys
}
