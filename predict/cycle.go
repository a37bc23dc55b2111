package predict

import (
	"math"
	"sort"
	"time"
)

// Daily cycles. Many metrics follow the day (load, ambient temperature,
// shifts): within a window of two days, the half of a cycle that rises
// reads as a trend, and the cycle's swing drowns a real trend's R². When
// the window spans at least DailyMinSpan, Fit first fits the window with
// a smooth trend (a quadratic) plus a 24 h harmonic (sin and cos of the
// time of day) and, when the harmonic explains significantly more than
// the trend alone (F test), takes the harmonic out of every point before
// anything else: the trend models then see the day-free series.

const (
	// dailyPeriod is the cycle's period in hours.
	dailyPeriod = 24.0
	// dailyMinSpan is the least span of the window (hours) for the
	// harmonic to be fitted: one and a half periods.
	dailyMinSpan = 36.0
	// dailyMinF is the F statistic (2 and n−5 degrees of freedom) the
	// harmonic must reach (p < 0.001 for n ≥ 30).
	dailyMinF = 8.0
)

// deseason returns ys with the daily harmonic taken out (and its
// amplitude), or ys unchanged (amplitude 0) when the window is too short
// or the harmonic is not significant. ts are the points' times (the phase
// is the time of day, so successive windows agree), xs hours from the
// window end.
func deseason(ts []time.Time, xs, ys []float64) ([]float64, float64) {
	n := len(xs)
	if n < 12 || xs[n-1]-xs[0] < dailyMinSpan {
		return ys, 0
	}
	s := make([]float64, n)
	c := make([]float64, n)
	for i, t := range ts {
		h := float64(t.Unix()%86400) / 3600
		s[i] = math.Sin(2 * math.Pi * h / dailyPeriod)
		c[i] = math.Cos(2 * math.Pi * h / dailyPeriod)
	}
	sq := make([]float64, n)
	for i, x := range xs {
		sq[i] = x * x
	}
	one := make([]float64, n)
	for i := range one {
		one[i] = 1
	}
	full, sseFull, ok := lsq([][]float64{one, xs, sq, s, c}, ys)
	if !ok {
		return ys, 0
	}
	_, sseTrend, ok := lsq([][]float64{one, xs, sq}, ys)
	if !ok || sseFull <= 0 {
		return ys, 0
	}
	f := ((sseTrend - sseFull) / 2) / (sseFull / float64(n-5))
	if f < dailyMinF {
		return ys, 0
	}
	// A daily cycle repeats: fitted on each half of the window alone
	// (with a line), the harmonic must agree with the whole window's, in
	// amplitude and phase, within half its amplitude. A warm-up, a step or
	// a single bump that a sine happens to fit does not repeat.
	amp := math.Hypot(full[3], full[4])
	mid := (xs[0] + xs[n-1]) / 2
	for _, half := range [2][2]int{{0, sort.SearchFloat64s(xs, mid)}, {sort.SearchFloat64s(xs, mid), n}} {
		i, j := half[0], half[1]
		if j-i < 8 {
			return ys, 0
		}
		h, _, ok := lsq([][]float64{one[i:j], xs[i:j], s[i:j], c[i:j]}, ys[i:j])
		if !ok || math.Hypot(h[2]-full[3], h[3]-full[4]) > amp/2 {
			return ys, 0
		}
	}
	out := make([]float64, n)
	for i := range ys {
		out[i] = ys[i] - full[3]*s[i] - full[4]*c[i]
	}
	return out, amp
}

// lsq solves the least-squares problem ys ≈ Σ coef[j]·cols[j] by the
// normal equations (Gaussian elimination with partial pivoting) and
// returns the coefficients and the residual sum of squares.
func lsq(cols [][]float64, ys []float64) ([]float64, float64, bool) {
	k, n := len(cols), len(ys)
	if n <= k {
		return nil, 0, false
	}
	a := make([][]float64, k)
	for r := range a {
		a[r] = make([]float64, k+1)
		for q := range k {
			var v float64
			for i := range n {
				v += cols[r][i] * cols[q][i]
			}
			a[r][q] = v
		}
		var v float64
		for i := range n {
			v += cols[r][i] * ys[i]
		}
		a[r][k] = v
	}
	for p := range k {
		piv := p
		for r := p + 1; r < k; r++ {
			if math.Abs(a[r][p]) > math.Abs(a[piv][p]) {
				piv = r
			}
		}
		if math.Abs(a[piv][p]) < 1e-12 {
			return nil, 0, false
		}
		a[p], a[piv] = a[piv], a[p]
		for r := range k {
			if r == p {
				continue
			}
			f := a[r][p] / a[p][p]
			for q := p; q <= k; q++ {
				a[r][q] -= f * a[p][q]
			}
		}
	}
	coef := make([]float64, k)
	for p := range k {
		coef[p] = a[p][k] / a[p][p]
		if math.IsNaN(coef[p]) || math.IsInf(coef[p], 0) {
			return nil, 0, false
		}
	}
	var sse float64
	for i := range n {
		e := ys[i]
		for j := range k {
			e -= coef[j] * cols[j][i]
		}
		sse += e * e
	}
	return coef, sse, true
}
