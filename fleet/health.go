package fleet

// A health index (HI) is one number per step: a linear combination of a
// history's (normalised) metrics, fitted so it tracks the remaining
// life. Its level, slope and rise over each window are the same linear
// combination of the metrics' windowed features, so they are computed
// from a feature vector. Two models take these few HI features: a kNN
// (trajectories compared by how far along and how fast a unit is
// wearing: the similarity of the CMAPSS literature, Wang 2008, on a
// trajectory's summary rather than its every step) and a ridge over the
// features and their products. Remaining life is not linear in them (a
// unit that has risen little but quickly is nearer its end than one that
// has risen as much slowly), so a ridge over the metrics' features
// cannot say it.

// hiWidth is the number of HI features of a spec: level and slope per
// window, the rise and the age.
func (s Spec) hiWidth() int { return 2*len(s.windows()) + 2 }

// hiProject writes the HI features of raw features x into dst (grown as
// needed) and returns it, for HI weights w (one per feature metric).
func (s Spec) hiProject(x, w, dst []float64) []float64 {
	nw := len(s.windows())
	per := nw*3 + 1
	dst = dst[:0]
	for j := range nw {
		var lvl, slope float64
		for k, wk := range w {
			lvl += wk * x[k*per+3*j]
			slope += wk * x[k*per+3*j+1]
		}
		dst = append(dst, lvl, slope)
	}
	var rise float64
	for k, wk := range w {
		rise += wk * x[k*per+3*nw]
	}
	return append(dst, rise, x[len(x)-1])
}

// fitHI fits the HI weights: a ridge of the target on each metric's
// level over the first (shortest) window.
func fitHI(spec Spec, x [][]float64, y []float64, lambda float64) ([]float64, error) {
	nm := len(spec.featureMetrics())
	per := len(spec.windows())*3 + 1
	sub := make([][]float64, len(x))
	for i, r := range x {
		row := make([]float64, nm)
		for k := range nm {
			row[k] = r[k*per]
		}
		sub[i] = row
	}
	ms, err := fitRidges(spec, sub, y, []float64{lambda})
	if err != nil {
		return nil, err
	}
	w := make([]float64, nm)
	for k := range w {
		w[k] = ms[0].Coef[k] / ms[0].Scale[k]
	}
	return w, nil
}

// hiPoints projects every row of x.
func hiPoints(spec Spec, x [][]float64, w []float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, r := range x {
		out[i] = spec.hiProject(r, w, nil)
	}
	return out
}

// fitHIKNN fits the HI and a kNN over the HI features.
func fitHIKNN(spec Spec, x [][]float64, y []float64, k, maxPoints int) (Model, error) {
	w, err := fitHI(spec, x, y, 0.01)
	if err != nil {
		return Model{}, err
	}
	m := fitKNN(spec, hiPoints(spec, x, w), y, k, maxPoints)
	m.Kind, m.HI = KindHIKNN, w
	return m, nil
}

// hiQuad expands HI features h into h, then every product h_i·h_j
// (i ≤ j), into dst: a ridge over them can say "risen little but fast".
func hiQuad(h, dst []float64) []float64 {
	dst = append(dst[:0], h...)
	for i := range h {
		for j := i; j < len(h); j++ {
			dst = append(dst, h[i]*h[j])
		}
	}
	return dst
}

// hiQuadPoints are the quadratic HI features of every row of x.
func hiQuadPoints(spec Spec, x [][]float64, w []float64) [][]float64 {
	out := make([][]float64, len(x))
	h := make([]float64, 0, spec.hiWidth())
	for i, r := range x {
		h = spec.hiProject(r, w, h)
		out[i] = hiQuad(h, nil)
	}
	return out
}

// fitHIQuads fits the HI and, for each lambda, a ridge over its
// quadratic features.
func fitHIQuads(spec Spec, x [][]float64, y []float64, lambdas []float64) ([]Model, error) {
	w, err := fitHI(spec, x, y, 0.01)
	if err != nil {
		return nil, err
	}
	ms, err := fitRidges(spec, hiQuadPoints(spec, x, w), y, lambdas)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		ms[i].Kind, ms[i].HI = KindHIQuad, w
	}
	return ms, nil
}
