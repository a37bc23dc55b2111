package predict

import (
	"math"
	"sort"
)

// Ended excursions. A warm-up after a start lifts a metric by a fixed
// amount while the machine runs and falls back when it stops. On a wearing
// machine the readings are the wear's baseline plus, part of the time,
// such a plateau; a window that holds a plateau's end sees the fall as a
// trend away from the limit (or a step, or a rise that levels off) and
// predicts nothing until the fall has left the window: every warm-up's end
// costs a window of lead time. Warm-ups are excursions above the baseline,
// so the baseline is what remains once the excursion is taken out: Fit
// judges the window again, with every gate, without it.
//
// The excursion is y = a + c·x + b·g(x) with g(x) = 1 − e^(−(x−x0)/τ)
// from its onset x0 (inside the window or before it) until its end, and 0
// from the end on: a saturating rise towards the limit (b·dir > 0) that
// falls back abruptly. Its end must be a fall between neighbouring points
// that stands out of the point-to-point variation (fallCandidates), with
// at least an eighth of the window's points after it; its height is the
// fall measured on either side (at least 3 standard errors; where the
// point before the fall averages several readings, it may lie part-way
// down and is left out of the measure and weighted in the model); the model
// (k = 6: a, b, c, x0, τ and the end) must beat the line by StepMargin of
// AIC. Only then is b·g taken out, before the end, and the window fitted
// again.

// fallMinSD is how many standard deviations of the point-to-point
// differences (from their median absolute value) a fall must reach to
// count as an excursion's end.
const fallMinSD = 4

// excursion is one fitted excursion that ended inside the window.
type excursion struct {
	x0, tau float64 // onset (hours from the window end) and time constant
	end     int     // index of the first point after the excursion
	b       float64 // level of the saturating rise
	height  float64 // b·g at the excursion's last point: the fall back
	// mid is the point just before end when the fall happened inside its
	// bucket (dense readings averaged across the end: the point lies
	// part-way down), else -1 (0 too: a fall has 6 points before it);
	// frac of the excursion is in it.
	mid  int
	frac float64
}

// weight is how much of the excursion point i holds.
func (e excursion) weight(i int) float64 {
	switch {
	case e.mid > 0 && i == e.mid:
		return e.frac
	case i < e.end:
		return 1
	}
	return 0
}

func (e excursion) g(x float64) float64 {
	if x <= e.x0 {
		return 0
	}
	return -math.Expm1(-(x - e.x0) / e.tau)
}

// remove returns ys with the excursion taken out.
func (e excursion) remove(xs, ys []float64) []float64 {
	out := make([]float64, len(ys))
	copy(out, ys)
	for i := 0; i < e.end; i++ {
		out[i] -= e.weight(i) * e.b * e.g(xs[i])
	}
	return out
}

// excursionMayHide reports whether a fit stopped by reason may have been
// stopped by an excursion's end in its window.
func excursionMayHide(reason string) bool {
	switch reason {
	case ReasonNoTrend, ReasonBeyondHorizon, ReasonShortSpan, ReasonLowR2,
		ReasonNotSignificant, ReasonStep, ReasonLevellingOff, ReasonNotSustained:
		return true
	}
	return false
}

// fallCandidates returns the indexes where an excursion may have ended:
// the first point after a fall away from the limit (dir) between
// neighbouring points, or over two steps (a fall inside one bucket of
// dense readings spreads over two), of at least fallMinSD standard
// deviations of the point-to-point differences, with at least minAfter
// points from it on and 6 before it.
func fallCandidates(vals []float64, dir float64) []int {
	n := len(vals)
	minAfter := max(6, n/8)
	if n < minAfter+6 {
		return nil
	}
	abs := make([]float64, n-1)
	for i := 1; i < n; i++ {
		abs[i-1] = math.Abs(vals[i] - vals[i-1])
	}
	sort.Float64s(abs)
	sd := abs[len(abs)/2] / 0.6745
	if sd == 0 {
		return nil
	}
	var out []int
	add := func(e int) {
		if e >= 6 && n-e >= minAfter && (len(out) == 0 || out[len(out)-1] != e) {
			out = append(out, e)
		}
	}
	for e := 1; e < n; e++ {
		if dir*(vals[e]-vals[e-1]) <= -fallMinSD*sd {
			add(e)
		}
		if e+1 < n && dir*(vals[e+1]-vals[e-1]) <= -fallMinSD*sd {
			add(e)
			add(e + 1)
		}
	}
	return out
}

// localFall is the height of the fall before index e: lines fitted to
// the (up to) fallSide points on each side of it, both evaluated halfway
// between the last point before and the first after, and the standard
// error of their difference. With gap, the point e−1 is left out of
// both lines (it may lie part-way down: a fall inside its bucket) and
// they are evaluated at it; frac is then where it lies between them (1:
// on the line before, 0: on the line after).
func localFall(xs, ys []float64, e int, gap bool) (fall, se, frac float64, ok bool) {
	g := 0
	if gap {
		g = 1
	}
	i, j := max(0, e-g-fallSide), min(len(xs), e+fallSide)
	if e-g-i < 4 || j-e < 4 {
		return 0, 0, 0, false
	}
	xm := (xs[e-1] + xs[e]) / 2
	if gap {
		xm = xs[e-1]
	}
	at := func(lo, hi int) (v, varV float64) {
		a, b, _ := ols(xs[lo:hi], ys[lo:hi]) // a + b·x
		var mx, sxx, sse float64
		m := float64(hi - lo)
		for k := lo; k < hi; k++ {
			mx += xs[k]
		}
		mx /= m
		for k := lo; k < hi; k++ {
			d := ys[k] - a - b*xs[k]
			sse += d * d
			sxx += (xs[k] - mx) * (xs[k] - mx)
		}
		s2 := sse / (m - 2)
		return a + b*xm, s2 * (1/m + (xm-mx)*(xm-mx)/sxx)
	}
	before, vb := at(i, e-g)
	after, va := at(e, j)
	if before != after {
		frac = math.Min(1, math.Max(0, (ys[e-1]-after)/(before-after)))
	}
	return before - after, math.Sqrt(vb + va), frac, true
}

// excursionMaxTau is the slowest rise of an excursion, in windows: a
// warm-up reaches its level within a fraction of the window. A slower
// "rise" is a line, which the baseline's own trend already is: allowing
// it would take the wear under a plateau out with the plateau.
const excursionMaxTau = 1.0 / 4

// fallSide is how many points on each side of a fall measure its height.
const fallSide = 6

// anyFall reports whether fallCandidates would find a candidate among the
// n values at(0..n-1), in O(n) and without allocating (the pre-check of
// every refit calls it): the largest fall F at an allowed index counts
// when the median absolute difference is at most 0.6745·F/fallMinSD.
func anyFall(n int, at func(int) float64, dir float64) bool {
	minAfter := max(6, n/8)
	if n < minAfter+6 {
		return false
	}
	ok := func(e int) bool { return e >= 6 && n-e >= minAfter }
	fall := 0.0
	for e := 1; e < n; e++ {
		if f := -dir * (at(e) - at(e-1)); ok(e) && f > fall {
			fall = f
		}
		if e+1 < n && (ok(e) || ok(e+1)) {
			if f := -dir * (at(e+1) - at(e-1)); f > fall {
				fall = f
			}
		}
	}
	if fall <= 0 {
		return false
	}
	// abs[m/2] (the median fallCandidates takes) ≤ c ⇔ at least m/2+1
	// of the m differences are ≤ c; and it must not be 0.
	m := n - 1
	c := 0.6745 * fall / fallMinSD
	below, zero := 0, 0
	for i := 1; i < n; i++ {
		d := math.Abs(at(i) - at(i-1))
		if d <= c {
			below++
		}
		if d == 0 {
			zero++
		}
	}
	return below >= m/2+1 && zero < m/2+1
}

// endedExcursion fits the excursion model over the fall candidates of raw
// (the window's readings) to ys (the values the fits see), with onsets
// and time constants on the saturating model's grid, and reports the best
// one when it stands out (see the comment at the top). The excursion's
// height at its end is the fall measured locally (localFall), not a free
// parameter: a least-squares height would also bend to whatever else the
// window holds (a new warm-up at its end pulls the line up and the height
// with it, and taking out too much turns what came before into a rise).
func endedExcursion(xs, ys, raw []float64, dense []bool, dir, window, margin float64) (excursion, bool) {
	n := len(xs)
	ends := fallCandidates(raw, dir)
	if len(ends) == 0 || n <= 6 {
		return excursion{}, false
	}
	best := excursion{}
	bestSSE := math.Inf(1)
	// Onsets before the window, and at every point inside it: an onset
	// between grid points leaves part of the rise in, or takes the level
	// out of points before the rise, which then read as a rise.
	onsets := []float64{xs[0] - 2*window, xs[0] - window, xs[0] - window/2, xs[0] - window/4}
	onsets = append(onsets, xs...)
	adj := make([]float64, n)
	// Each candidate's fall. Dense readings averaged per bucket: a fall
	// inside a bucket leaves its point part-way down, and lines that
	// take it in measure the fall short (0.76 for 1.1 at 10-minute
	// sampling), so where the point before the fall aggregates several
	// readings (dense[i]) the fall is measured with it left out too.
	type cand struct {
		e, mid         int
		fall, se, frac float64
		xm             float64
	}
	var cands []cand
	for _, e := range ends {
		c := cand{e: e, mid: -1, xm: (xs[e-1] + xs[e]) / 2}
		fall, se, _, ok := localFall(xs, ys, e, false)
		c.fall, c.se = fall, se
		if gf, gse, gfrac, gok := localFall(xs, ys, e, true); dense[e-1] && gok && (!ok || dir*gf > dir*fall) {
			c.fall, c.se, c.frac, c.mid, c.xm, ok = gf, gse, gfrac, e-1, xs[e-1], true
		}
		if !ok || dir*c.fall < 3*c.se {
			continue
		}
		// Neighbouring candidates are one fall: keep the one that
		// measures it largest (the cleanest split). Compared by the SSE
		// of their stretches, the earlier one wins for its fewer points.
		if k := len(cands) - 1; k >= 0 && e-cands[k].e == 1 {
			if dir*c.fall > dir*cands[k].fall {
				cands[k] = c
			}
			continue
		}
		cands = append(cands, c)
	}
	for _, c := range cands {
		e, fall, xm, mid, frac := c.e, c.fall, c.xm, c.mid, c.frac
		for _, x0 := range onsets {
			// At least two points of the excursion inside the window.
			if x0 >= xs[e-2] {
				continue
			}
			for _, tf := range satTaus {
				if tf > excursionMaxTau {
					break
				}
				ex := excursion{x0: x0, tau: tf * window, end: e, mid: mid, frac: frac}
				ex.b = fall / ex.g(xm)
				last := e - 1
				if mid >= 0 {
					last = mid - 1
				}
				ex.height = ex.b * ex.g(xs[last])
				// The shape is judged on the excursion's own stretch
				// (a line plus the excursion, before its end): judged on
				// the whole window, the shape that leaves the straightest
				// remainder would win, and that is the one that makes a
				// rise out of what came before the onset.
				for i := 0; i < e; i++ {
					adj[i] = ys[i] - ex.weight(i)*ex.b*ex.g(xs[i])
				}
				a, b, _ := ols(xs[:e], adj[:e])
				var sse float64
				for i := 0; i < e; i++ {
					d := adj[i] - a - b*xs[i]
					sse += d * d
				}
				if sse < bestSSE {
					bestSSE, best = sse, ex
				}
			}
		}
	}
	if math.IsInf(bestSSE, 1) {
		return excursion{}, false
	}
	adj = best.remove(xs, ys)
	a, b, _ := ols(xs, adj)
	var sse float64
	for i, x := range xs {
		d := adj[i] - a - b*x
		sse += d * d
	}
	fn := float64(n)
	aic := fn*math.Log(math.Max(sse, 1e-300)/fn) + 2*6
	if aic >= linAIC(xs, ys)-margin {
		return excursion{}, false
	}
	return best, true
}
