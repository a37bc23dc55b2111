package predict

import (
	"math"
	"time"
)

// sums are the running sums of a window's completed buckets (x in hours
// since anchor, y the bucket's value, and ln y while every value is
// positive), kept so that the closed-form pre-check of a refit costs O(1)
// and no window is rebuilt for a series that shows no trend. They are
// recomputed from the buckets whenever a bucket completes or leaves the
// window (once per bucket width of event time, so rounding never
// accumulates); a reading only touches its bucket.
type sums struct {
	anchor           time.Time
	n, readings      int
	x, y, xx, xy, yy float64
	ly, xly, lyly    float64
	nonPositive      int
}

func (m *sums) addPoint(x, y float64, readings int) {
	m.n++
	m.readings += readings
	m.x += x
	m.y += y
	m.xx += x * x
	m.xy += x * y
	m.yy += y * y
	if y > 0 {
		l := math.Log(y)
		m.ly += l
		m.xly += x * l
		m.lyly += l * l
	} else {
		m.nonPositive++
	}
}

// recompute rebuilds the sums over the completed buckets (all but the
// last one).
func (s *Series) recompute() {
	m := sums{}
	if len(s.buckets) > 0 {
		m.anchor = s.buckets[0].lastTS
	}
	for i := 0; i+1 < len(s.buckets); i++ {
		b := &s.buckets[i]
		m.addPoint(b.lastTS.Sub(m.anchor).Hours(), b.value(), b.n)
	}
	s.sums = m
}

// quickCheck is Fit's first closed-form pre-check from the running sums
// plus the current bucket: it returns the gate reason (no trend towards
// the limit, or none within reach) when the full fit would stop there, and
// "" when the fit must run.
func (s *Series) quickCheck() string {
	if len(s.buckets) < 3 || s.rule.Predict == nil || s.rule.Critical == nil {
		return ""
	}
	m := s.sums
	cur := &s.buckets[len(s.buckets)-1]
	xEnd := cur.lastTS.Sub(m.anchor).Hours()
	m.addPoint(xEnd, cur.value(), cur.n)
	if m.readings < s.rule.Predict.MinPoints || m.n < 3 {
		return ""
	}
	if reason := s.quickReason(m, xEnd); reason != "" && !s.fallInWindow() {
		return reason
	}
	return ""
}

// fallInWindow reports whether the window holds a fall that may be an
// excursion's end (fallCandidates), which the full fit looks behind.
func (s *Series) fallInWindow() bool {
	if s.opts.Fit.NoExcursion {
		return false
	}
	dir := 1.0
	if s.rule.Direction == "below" {
		dir = -1
	}
	return anyFall(len(s.buckets), func(i int) float64 { return s.buckets[i].value() }, dir)
}

// quickReason is quickCheck's verdict from the sums m (the current bucket
// included, its x xEnd).
func (s *Series) quickReason(m sums, xEnd float64) string {
	dir := 1.0
	if s.rule.Direction == "below" {
		dir = -1
	}
	limit := *s.rule.Critical
	horizon := s.rule.Predict.Horizon.D().Hours()
	const minT, reach = 1, 4
	a0, b0, t0 := olsSums(float64(m.n), m.x, m.y, m.xx, m.xy, m.yy, xEnd)
	if b0*dir <= 0 || t0 < minT {
		return ReasonNoTrend
	}
	if (limit-a0)/b0 <= reach*horizon {
		return ""
	}
	if limit <= 0 || m.nonPositive > 0 {
		return ReasonBeyondHorizon
	}
	la, lb, _ := olsSums(float64(m.n), m.x, m.ly, m.xx, m.xly, m.lyly, xEnd)
	if lb*dir > 0 && (math.Log(limit)-la)/lb <= reach*horizon {
		return ""
	}
	return ReasonBeyondHorizon
}

// olsSums is ols from sums: the line's value at xEnd, its slope and the
// slope's |t|.
func olsSums(n, sx, sy, sxx, sxy, syy, xEnd float64) (a, b, t float64) {
	mx, my := sx/n, sy/n
	cxx := sxx - n*mx*mx
	cxy := sxy - n*mx*my
	cyy := syy - n*my*my
	if cxx <= 1e-12*math.Max(sxx, 1) || n < 3 {
		return my, 0, 0
	}
	b = cxy / cxx
	a = my + b*(xEnd-mx)
	sse := math.Max(cyy-b*cxy, 0)
	se := math.Sqrt(sse/(n-2)) / math.Sqrt(cxx)
	if se == 0 {
		return a, b, math.Inf(1)
	}
	return a, b, math.Abs(b) / se
}
