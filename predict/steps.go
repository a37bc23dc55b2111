package predict

import "math"

// Changes of operating point under a trend (a trend with steps).
//
// A machine that wears while its operating point changes now and then
// (a load that comes and goes) shows a trend cut by abrupt steps, up and
// down: nearly every window holds one, and the plain fits read it as a
// step, a rise that levels off, or noise. When a fit is stopped, the
// trend-with-steps model fits one common slope with a separate level per
// segment between steps (pooled within-segment regression) and judges
// the window again with every segment moved to the current segment's
// level (the steps taken out), by the line and every levelling check but
// the step check.
//
// What counts as a step is kept narrow, because a warm-up's end (an
// abrupt fall after a gradual, saturating rise) taken out as a step turns
// a warm-up sawtooth into a fake rise: a change of operating point is
// abrupt at both ends, a warm-up at one.
//
//   - A jump is a difference between neighbouring points of at least
//     stepJumpSD robust standard deviations of all such differences (or
//     two of the same sign that make one around a point that aggregates
//     several readings, that point left out: a step inside a bucket of
//     dense readings; a single reading cannot be half-way, and a
//     warm-up's first hours at hourly sampling look like that).
//   - A jump towards the limit is a step; a jump away from it only when it
//     closes an earlier jump towards it in the window of about the same
//     size (between half and twice it). A fall that closes nothing (its
//     rise before the window, or a warm-up's gradual rise) stops the
//     search.
//   - A jump is abrupt: the mean of the six points after its first point
//     has not moved on its way by half the jump (a warm-up's rise goes on
//     for its time constant).
//   - A jump across a gap in the readings (more than 1.5 times the median
//     spacing) stops the search: nothing says it was abrupt.
//   - The current level is known: the last segment holds at least
//     max(6, n/12) points.
//   - The fitted levels differ by the steps measured at the boundaries
//     (within 30 %): a stretch that rose gradually before a fall sits
//     lower than the fall says.
//   - The segments carry one slope: separate lines per segment may beat
//     the common slope by StepMargin of AIC only when the last segment
//     rises at least half as fast as the common slope (a slow wander
//     makes the segments' slopes differ anyway, and a steeper last
//     segment only makes the common slope late).

// stepJumpSD is how many robust standard deviations of the point-to-point
// differences a jump must reach to count as a step.
const stepJumpSD = 5

// stepsMayHide reports whether a gate reason may come from steps of the
// operating point hiding a trend.
func stepsMayHide(reason string) bool {
	switch reason {
	case ReasonNoTrend, ReasonBeyondHorizon, ReasonLowR2, ReasonNotSignificant,
		ReasonStep, ReasonLevellingOff, ReasonNotSustained:
		return true
	}
	return false
}

// stepSegments finds the steps of the operating point in ys (time order)
// (dense: the point aggregates several readings) and returns the
// segments between them as index ranges [from, to), with
// the points inside a step (a step inside one bucket of dense readings
// leaves a point half-way) left out; ok is false when there is no step or
// when a jump away from the limit is not a paired step (see above).
func stepSegments(xs, ys []float64, dense []bool, dir float64) (segs [][2]int, sizes []float64, ok bool) {
	n := len(ys)
	if n < 24 {
		return nil, nil, false
	}
	d := make([]float64, n-1)
	for i := range d {
		d[i] = ys[i+1] - ys[i]
	}
	abs := make([]float64, len(d))
	for i, v := range d {
		abs[i] = math.Abs(v)
	}
	sd := 1.4826 * median(abs) // robust SD of the differences (median of |d| ≈ 0.6745 σ)
	if sd <= 0 {
		return nil, nil, false
	}
	thr := stepJumpSD * sd
	type jump struct {
		at   int // first index of the new segment
		skip int // points left out before at (the half-way point)
		size float64
	}
	gaps := make([]float64, len(d))
	for i := range gaps {
		gaps[i] = xs[i+1] - xs[i]
	}
	gap := 1.5 * median(gaps)
	var jumps []jump
	for i := 0; i < len(d); i++ {
		if xs[i+1]-xs[i] > gap || (i+2 < n && xs[i+2]-xs[i+1] > gap) {
			// Across a gap in the readings nothing says the change
			// was abrupt: that is no step, and none is taken out.
			if math.Abs(d[i]) >= thr {
				return nil, nil, false
			}
			continue
		}
		if math.Abs(d[i]) >= thr {
			jumps = append(jumps, jump{at: i + 1, size: d[i]})
			continue
		}
		// Over two differences of the same sign, each a good part of it,
		// around a point of several readings (a step inside its bucket).
		if i+1 < len(d) && dense[i+1] && d[i]*d[i+1] > 0 && math.Abs(d[i]) >= thr/3 && math.Abs(d[i+1]) >= thr/3 &&
			math.Abs(d[i]+d[i+1]) >= thr && math.Abs(d[i+1]) < thr {
			jumps = append(jumps, jump{at: i + 2, skip: 1, size: d[i] + d[i+1]})
			i++
		}
	}
	if len(jumps) == 0 {
		return nil, nil, false
	}
	// Abrupt: the level does not go on moving the jump's way after it
	// (a warm-up's rise does, for its time constant).
	for _, j := range jumps {
		end := min(j.at+7, n)
		if end-j.at < 4 {
			continue
		}
		var m float64
		for i := j.at + 1; i < end; i++ {
			m += ys[i]
		}
		m /= float64(end - j.at - 1)
		if (m-ys[j.at])*math.Copysign(1, j.size) >= 0.5*math.Abs(j.size) {
			return nil, nil, false
		}
	}
	// A jump away from the limit must close an open jump towards it.
	var open []float64
	for _, j := range jumps {
		if j.size*dir > 0 {
			open = append(open, math.Abs(j.size))
			continue
		}
		if len(open) == 0 {
			return nil, nil, false
		}
		up := open[len(open)-1]
		if r := math.Abs(j.size) / up; r < 0.5 || r > 2 {
			return nil, nil, false
		}
		open = open[:len(open)-1]
	}
	from := 0
	for _, j := range jumps {
		to := j.at - j.skip
		if to-from < 3 {
			return nil, nil, false
		}
		segs = append(segs, [2]int{from, to})
		sizes = append(sizes, j.size)
		from = j.at
	}
	if n-from < max(6, n/12) {
		return nil, nil, false // the current level is not known yet
	}
	segs = append(segs, [2]int{from, n})
	return segs, sizes, true
}

// destep fits one common slope with a level per segment and returns the
// segments' points moved to the last segment's level (xs and idx, the
// indexes kept, alongside); ok is false when the levels do not differ by
// the steps (sizes, measured at the boundaries) or the segments do not
// carry one slope (see above).
func destep(xs, ys []float64, segs [][2]int, sizes []float64, dir, margin float64) (nx, ny []float64, idx []int, ok bool) {
	var sxy, sxx float64
	means := make([][2]float64, len(segs))
	for s, g := range segs {
		var mx, my float64
		for i := g[0]; i < g[1]; i++ {
			mx += xs[i]
			my += ys[i]
		}
		m := float64(g[1] - g[0])
		mx, my = mx/m, my/m
		means[s] = [2]float64{mx, my}
		for i := g[0]; i < g[1]; i++ {
			sxx += (xs[i] - mx) * (xs[i] - mx)
			sxy += (xs[i] - mx) * (ys[i] - my)
		}
	}
	if sxx <= 0 {
		return nil, nil, nil, false
	}
	b := sxy / sxx
	var ssePool, sseSep, lastSlope float64
	n := 0
	for s, g := range segs {
		mx, my := means[s][0], means[s][1]
		a, bs, _ := ols(xs[g[0]:g[1]], ys[g[0]:g[1]])
		if s == len(segs)-1 {
			lastSlope = bs
		}
		for i := g[0]; i < g[1]; i++ {
			e := ys[i] - my - b*(xs[i]-mx)
			ssePool += e * e
			f := ys[i] - a - bs*xs[i]
			sseSep += f * f
		}
		n += g[1] - g[0]
	}
	fn := float64(n)
	k := float64(len(segs))
	aicPool := fn*math.Log(math.Max(ssePool, 1e-300)/fn) + 2*(k+1)
	aicSep := fn*math.Log(math.Max(sseSep, 1e-300)/fn) + 2*(2*k)
	if aicSep < aicPool-margin && lastSlope*dir < 0.5*b*dir {
		return nil, nil, nil, false
	}
	// The levels must differ by the steps measured at their boundaries:
	// a stretch that rose gradually before a fall (a warm-up) sits lower
	// than the fall says.
	for s := 1; s < len(segs); s++ {
		da := (means[s][1] - b*means[s][0]) - (means[s-1][1] - b*means[s-1][0])
		if math.Abs(da-sizes[s-1]) > 0.3*math.Abs(sizes[s-1]) {
			return nil, nil, nil, false
		}
	}
	last := means[len(segs)-1]
	aLast := last[1] - b*last[0]
	for s, g := range segs {
		shift := aLast - (means[s][1] - b*means[s][0])
		for i := g[0]; i < g[1]; i++ {
			nx, ny, idx = append(nx, xs[i]), append(ny, ys[i]+shift), append(idx, i)
		}
	}
	return nx, ny, idx, true
}
