package predict

import "math"

// Gate reasons of the levelling checks (see levelling).
const (
	// ReasonNotSustained: the rise towards the limit is younger than a
	// quarter of the window; wait for evidence that it goes on.
	ReasonNotSustained = "not_sustained"
	// ReasonStep: the window is explained by a change of level (a new
	// operating point), not by a trend, and after the step nothing
	// trends towards the limit.
	ReasonStep = "step_change"
	// ReasonLevellingOff: the rise decelerates, or a saturating model
	// (approach to a level) explains the window better and its level is
	// below the limit or is reached beyond the horizon.
	ReasonLevellingOff = "levelling_off"
	// ReasonNotConfirmed: the prediction has not yet held for the
	// confirmation span (Options.ConfirmSpan).
	ReasonNotConfirmed = "not_confirmed"
	// ReasonReceding: over the confirmation span the predicted crossing
	// moved further out than time went on: the rise is slowing down.
	ReasonReceding = "crossing_receding"
)

// levelling is the second opinion a predicted crossing must survive: a
// trend order needs evidence that the approach to the limit goes on. It
// returns "" when the crossing stands, else the reason it does not:
//
//   - not_sustained: the first three quarters of the window show no
//     significant slope towards the limit (t < 2): the rise is confined to
//     the last quarter, as at the start of a warm-up or a run-in.
//   - step_change: two or three levels (k = 3 or 5) beat the line, the
//     knee (a line from an onset) and the chosen model by an AIC of
//     StepMargin, the last step is at
//     least 3 residual standard deviations high (abrupt, not a cycle),
//     and the points after it do not span half the window or do not
//     predict a crossing within the horizon on their own. (Not on a
//     window whose steps were taken out: see destep.)
//   - levelling_off: the slope of the last third of the window is less
//     than a quarter of the middle third's, by a t of at least 3; or
//     a saturating model y = a + b·(1 − e^(−(t−t0)/τ)) (onset t0 inside
//     or before the window, τ from window/48 to 4·window, k = 4) beats
//     the chosen model by StepMargin and its level a + b lies below the
//     limit (by the interval's edge) or is reached beyond the horizon.
//
// xs are hours relative to the window end (≤ 0), in time order.
func levelling(xs, ys []float64, dir, limit, window, horizon, tq float64, best model, o FitOptions) string {
	n := len(xs)
	// Sustained: the rise is visible in the older half of the window.
	var ox, oy []float64
	for i, x := range xs {
		if x <= -window/2 {
			ox, oy = append(ox, x), append(oy, ys[i])
		}
	}
	if len(ox) < 8 {
		return ReasonNotSustained
	}
	if _, b, t := ols(ox, oy); b*dir <= 0 || t < 2 {
		return ReasonNotSustained
	}
	aicLin := linAIC(xs, ys)
	// The chosen model's AIC on these points.
	var sseBest float64
	for i, x := range xs {
		yh := best.predict(x)
		if best.name == ModelExponential {
			yh = math.Exp(yh)
		}
		e := ys[i] - yh
		sseBest += e * e
	}
	best.aic = float64(n)*math.Log(math.Max(sseBest, 1e-300)/float64(n)) + 2*float64(best.k)
	ref := math.Min(best.aic, aicLin)
	// A change of level.
	split, aic, jump, sd, ok := stepFit(ys)
	ok = ok && !o.destepped && aic < ref-o.StepMargin && math.Abs(jump) >= 3*sd
	if ok {
		// A line from an onset is no step (the knee costs O(n²): only
		// when a step would otherwise win).
		if _, kaic, kok := knee(xs, ys, dir, window); kok && aic >= kaic-o.StepMargin {
			ok = false
		}
	}
	if ok {
		// After a new operating point only what follows it counts: it
		// must span half the window and trend on its own.
		px, py := xs[split:], ys[split:]
		if len(px) < 8 || -px[0] < window/2 {
			return ReasonStep
		}
		if a, b, t := ols(px, py); b*dir <= 0 || t < o.MinT || (limit-a)/b > horizon {
			return ReasonStep
		}
	}
	// Deceleration: the last third rises markedly slower than the middle.
	lo, hi := sliceX(xs, -2*window/3, -window/3), sliceX(xs, -window/3, 1)
	if hi[1]-hi[0] >= 8 && lo[1]-lo[0] >= 8 {
		_, bm, sm := olsSE(xs[lo[0]:lo[1]], ys[lo[0]:lo[1]])
		_, br, sr := olsSE(xs[hi[0]:hi[1]], ys[hi[0]:hi[1]])
		if bm*dir > 0 && br*dir < 0.25*bm*dir {
			if se := math.Hypot(sm, sr); se > 0 && (bm-br)*dir/se >= 3 {
				return ReasonLevellingOff
			}
		}
	}
	// Approach to a level.
	if s, ok := saturating(xs, ys, dir, window); ok && s.aic < best.aic-o.StepMargin {
		if m, ok := riseOnTrend(xs, ys, dir, window, s); ok && !o.baseline {
			// A rise that levels off on a trend that goes on: the
			// saturating part at its level plus the line must cross
			// within the horizon.
			f := func(x float64) float64 { return dir * (m.predict(x) - limit) }
			if h := firstRoot(f, 0, 4*horizon); h < 0 || h > horizon {
				return ReasonLevellingOff
			}
			return ""
		}
		level := s.a + s.b
		if dir*(level-limit)+tq*s.seLevel < 0 {
			return ReasonLevellingOff
		}
		// The level is beyond the limit: when does the curve get there?
		frac := (limit - s.a) / s.b // 1 − e^(−(x−x0)/τ) at the crossing
		if frac >= 1 {
			return ReasonLevellingOff
		}
		if x := s.x0 - s.tau*math.Log1p(-frac); x > horizon {
			return ReasonLevellingOff
		}
	}
	return ""
}

// linAIC is the AIC of the least-squares line (k = 2).
func linAIC(xs, ys []float64) float64 {
	a, b, _ := ols(xs, ys)
	var sse float64
	for i, x := range xs {
		e := ys[i] - a - b*x
		sse += e * e
	}
	n := float64(len(xs))
	return n*math.Log(math.Max(sse, 1e-300)/n) + 4
}

// olsSE is the least-squares line and the slope's standard error.
func olsSE(xs, ys []float64) (a, b, se float64) {
	a, b, t := ols(xs, ys)
	if t == 0 || math.IsInf(t, 0) {
		return a, b, 0
	}
	return a, b, math.Abs(b) / t
}

// sliceX returns the index range [i, j) of xs (sorted) within [lo, hi).
func sliceX(xs []float64, lo, hi float64) [2]int {
	i := 0
	for i < len(xs) && xs[i] < lo {
		i++
	}
	j := i
	for j < len(xs) && xs[j] < hi {
		j++
	}
	return [2]int{i, j}
}

// stepFit finds the best split of ys into two or three constant levels
// (at least max(6, n/12) points each) and returns the first index after
// the last step, the AIC (k = 3 for one step, 5 for two), the size of the
// last step and the residual standard deviation around the levels.
func stepFit(ys []float64) (split int, aicBest, jump, sd float64, ok bool) {
	n := len(ys)
	side := max(6, n/12)
	if n < 2*side {
		return 0, 0, 0, 0, false
	}
	var s, s2 float64
	ps, ps2 := make([]float64, n+1), make([]float64, n+1)
	for i, y := range ys {
		s += y
		s2 += y * y
		ps[i+1], ps2[i+1] = s, s2
	}
	sse := func(i, j int) float64 {
		m := float64(j - i)
		sum := ps[j] - ps[i]
		return math.Max(ps2[j]-ps2[i]-sum*sum/m, 0)
	}
	fn := float64(n)
	aic := func(v float64, k int) float64 { return fn*math.Log(math.Max(v, 1e-300)/fn) + 2*float64(k) }
	mean := func(i, j int) float64 { return (ps[j] - ps[i]) / float64(j-i) }
	bestAIC, prev := math.Inf(1), 0
	var bestSSE float64
	k0 := 3
	for k := side; k <= n-side; k++ {
		v := sse(0, k) + sse(k, n)
		if a := aic(v, 3); a < bestAIC {
			bestAIC, split, prev, bestSSE, k0 = a, k, 0, v, 3
		}
	}
	for k := side; k <= n-2*side; k++ {
		left := sse(0, k)
		for l := k + side; l <= n-side; l++ {
			v := left + sse(k, l) + sse(l, n)
			if a := aic(v, 5); a < bestAIC {
				bestAIC, split, prev, bestSSE, k0 = a, l, k, v, 5
			}
		}
	}
	jump = mean(split, n) - mean(prev, split)
	sd = math.Sqrt(bestSSE / float64(n-k0))
	return split, bestAIC, jump, sd, true
}

type satFit struct {
	a, b, x0, tau, aic, seLevel float64
}

// saturating fits y = a + b·(1 − e^(−(x−x0)/τ)) for x > x0 (a before) on
// a grid of onsets x0 (inside the window with at least 8 points after
// it, or before the window) and time constants τ, rising towards the limit
// (b·dir > 0), refines the best fit with a time constant of at most half
// the window off the grid (refineSat), and returns the best by SSE with
// its AIC (k = 4) and the standard error of the level a + b. Off the grid
// matters when the points are precise (dense readings averaged per
// bucket): an onset 2 h off makes a longer time constant and a higher
// level fit best, a level that may reach the limit when the true one
// does not; so the refinement starts from the best short time constant
// even when a longer one is the grid's best (a pump run-in, τ = 24 h, 3.4
// above 2.2, fitted on the grid τ = 48 h and a level of 7.3 above its
// 7.1 limit). Longer time constants are not refined: over the window
// such a curve is nearly a line, and refined it fits linear wear's slow
// wander as a curve that levels off.
func saturating(xs, ys []float64, dir, window float64) (satFit, bool) {
	n := len(xs)
	if n < 16 {
		return satFit{}, false
	}
	g := make([]float64, n)
	at := func(x0, tau float64) (satFit, float64, bool) {
		var sg, sgg, sy, sgy float64
		for i, x := range xs {
			v := 0.0
			if x > x0 {
				v = -math.Expm1(-(x - x0) / tau)
			}
			g[i] = v
			sg += v
			sgg += v * v
			sy += ys[i]
			sgy += v * ys[i]
		}
		fn := float64(n)
		det := fn*sgg - sg*sg
		if det <= 1e-12*fn*fn {
			return satFit{}, 0, false
		}
		b := (fn*sgy - sg*sy) / det
		a := (sy - b*sg) / fn
		if b*dir <= 0 {
			return satFit{}, 0, false
		}
		var sse float64
		for i := range xs {
			e := ys[i] - a - b*g[i]
			sse += e * e
		}
		// Var(a + b) = s²·[1 1](X'X)⁻¹[1 1]'.
		s2 := sse / float64(n-4)
		v := s2 * (sgg - 2*sg + fn) / det
		return satFit{a: a, b: b, x0: x0, tau: tau, seLevel: math.Sqrt(math.Max(v, 0))}, sse, true
	}
	onsets, taus := satOnsets(xs, window), satTaus
	best, short := satFit{aic: math.Inf(1)}, satFit{}
	bestSSE, shortSSE := math.Inf(1), math.Inf(1)
	for _, x0 := range onsets {
		for _, tf := range taus {
			f, sse, ok := at(x0, tf*window)
			if !ok {
				continue
			}
			if sse < bestSSE {
				best, bestSSE = f, sse
			}
			if tf <= 0.5 && sse < shortSSE {
				short, shortSSE = f, sse
			}
		}
	}
	if math.IsInf(bestSSE, 1) {
		return satFit{}, false
	}
	// Off the grid from the best short time constant, whether or not it
	// is the grid's best: with an onset between the grid's onsets a
	// run-in's true curve (τ = 24 h in a 48 h window) loses to a longer
	// one that levels above the limit, and wins once refined.
	if !math.IsInf(shortSSE, 1) {
		x0, tau := refineSat(xs, window, short.x0, short.tau, shortSSE, func(x0, tau float64) (float64, bool) {
			_, sse, ok := at(x0, tau)
			return sse, ok
		})
		if f, sse, ok := at(x0, tau); ok && sse < bestSSE {
			best, bestSSE = f, sse
		}
	}
	fn := float64(n)
	best.aic = fn*math.Log(math.Max(bestSSE, 1e-300)/fn) + 8
	return best, true
}

// refineSat refines a saturating model's onset x0 and time constant τ
// from the grid's best by a pattern search on the SSE (sse reports false
// where the model does not rise towards the limit): steps from the grid's
// spacing (an onset step, a factor of 2 in τ) halved 8 times, the onset
// kept where the grid allows it (from two windows before the first point
// to the 8th point from the end), τ within the grid's range.
func refineSat(xs []float64, window, x0, tau, sse float64, eval func(x0, tau float64) (float64, bool)) (float64, float64) {
	n := len(xs)
	lo, hi := xs[0]-2*window, xs[max(n-8, 0)]
	tmin, tmax := satTaus[0]*window, window
	dx := math.Max(xs[n-1]-xs[0], 0) / 12
	dl := math.Ln2
	for range 8 {
		for moved := true; moved; {
			moved = false
			for _, d := range [4][2]float64{{dx, 0}, {-dx, 0}, {0, dl}, {0, -dl}} {
				nx, nt := x0+d[0], tau*math.Exp(d[1])
				if nx < lo || nx > hi || nt < tmin || nt > tmax {
					continue
				}
				if v, ok := eval(nx, nt); ok && v < sse-1e-12*sse {
					x0, tau, sse, moved = nx, nt, v, true
				}
			}
		}
		dx, dl = dx/2, dl/2
	}
	return x0, tau
}

// riseOnTrend reports whether the window is a rise that levels off on top
// of a trend that goes on (a warm-up on a wearing machine): the saturating
// model plus a line (y = a + b·(1 − e^(−(x−x0)/τ)) + c·x, over the same
// grid of onsets and time constants) beats the saturating model alone by
// an F of at least 9 (a t of 3 for c), with c towards the limit, the
// points before the rise's onset trend towards the limit on their own
// (t ≥ 2), and so do the points once the rise has settled (from three
// time constants after the onset, spanning an eighth of the window at
// least, t ≥ 2). The level of the saturating part then says nothing
// about the limit: the line's crossing, which must still hold over the
// confirmation span, does.
func riseOnTrend(xs, ys []float64, dir, window float64, sat satFit) (satLine, bool) {
	n := len(xs)
	one := make([]float64, n)
	g := make([]float64, n)
	for i := range one {
		one[i] = 1
	}
	satSSE := func(x0, tau float64) ([]float64, float64, bool) {
		for i, x := range xs {
			g[i] = 0
			if x > x0 {
				g[i] = -math.Expm1(-(x - x0) / tau)
			}
		}
		return lsq([][]float64{one, g, xs}, ys)
	}
	// The saturating model's own SSE, from its AIC.
	sse0 := float64(n) * math.Exp((sat.aic-8)/float64(n))
	best := math.Inf(1)
	var m satLine
	for _, x0 := range satOnsets(xs, window) {
		for _, tf := range satTaus {
			c, sse, ok := satSSE(x0, tf*window)
			if ok && c[1]*dir > 0 && sse < best {
				best = sse
				m = satLine{a: c[0], b: c[1], c: c[2], x0: x0, tau: tf * window}
			}
		}
	}
	if !math.IsInf(best, 1) && m.tau <= window/2 {
		// Off the grid, as the saturating model alone (see saturating).
		x0, tau := refineSat(xs, window, m.x0, m.tau, best, func(x0, tau float64) (float64, bool) {
			c, sse, ok := satSSE(x0, tau)
			return sse, ok && c[1]*dir > 0
		})
		if c, sse, ok := satSSE(x0, tau); ok && c[1]*dir > 0 && sse <= best {
			best = sse
			m = satLine{a: c[0], b: c[1], c: c[2], x0: x0, tau: tau}
		}
	}
	if math.IsInf(best, 1) || m.c*dir <= 0 || best <= 0 {
		return m, false
	}
	if (sse0-best)/(best/float64(n-5)) < 9 {
		return m, false
	}
	// The trend must show before the rise set in, on its own: early in a
	// run-in the line may only be standing in for the curve's part that
	// has not levelled yet.
	var bx, by []float64
	for i, x := range xs {
		if x <= m.x0 {
			bx, by = append(bx, x), append(by, ys[i])
		}
	}
	if len(bx) < 8 {
		return m, false
	}
	if _, b, t := ols(bx, by); b*dir <= 0 || t < 2 {
		return m, false
	}
	// And after it: once the rise has settled (three time constants on),
	// the points must still trend towards the limit on their own, over
	// an eighth of the window at least. A run-in's tail flattens; wear
	// under a warm-up goes on. Before then the line may be the
	// healthy machine's wander before the onset, extrapolated.
	var ax, ay []float64
	for i, x := range xs {
		if x >= m.x0+3*m.tau {
			ax, ay = append(ax, x), append(ay, ys[i])
		}
	}
	if len(ax) < 8 || xs[n-1]-ax[0] < window/8 {
		return m, false
	}
	_, b, t := ols(ax, ay)
	return m, b*dir > 0 && t >= 2
}

// satLine is y = a + b·(1 − e^(−(x−x0)/τ)) + c·x.
type satLine struct{ a, b, c, x0, tau float64 }

func (m satLine) predict(x float64) float64 {
	g := 0.0
	if x > m.x0 {
		g = -math.Expm1(-(x - m.x0) / m.tau)
	}
	return m.a + m.b*g + m.c*x
}

// satTaus are the saturating model's time constants, in windows.
var satTaus = []float64{1.0 / 48, 1.0 / 24, 1.0 / 12, 1.0 / 8, 1.0 / 6, 1.0 / 4, 1.0 / 2, 1, 2, 4}

// satOnsets are the saturating model's onsets: before the window, and
// inside it with at least 8 points after.
func satOnsets(xs []float64, window float64) []float64 {
	n := len(xs)
	var onsets []float64
	for _, f := range []float64{2, 1, 0.5, 0.25} {
		onsets = append(onsets, xs[0]-f*window)
	}
	step := max(1, n/12)
	for i := 0; i <= n-8; i += step {
		onsets = append(onsets, xs[i])
	}
	return onsets
}
