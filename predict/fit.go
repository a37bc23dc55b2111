package predict

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Models a fit may choose.
const (
	ModelLinear      = "linear"      // y = a + b·t
	ModelExponential = "exponential" // ln y = a + b·t (accelerating wear)
	ModelQuadratic   = "quadratic"   // y = a + b·t + c·t² (accelerating wear)
	// ModelKnee is the changepoint candidate y = a + b·t + c·min(0, t−τ):
	// a line that starts (or steepens) at τ inside the window, as when
	// wear sets in. It never predicts: when it explains the window best,
	// the curvature is the onset, not acceleration, and the line does.
	ModelKnee = "knee"
)

// Point is one (possibly aggregated) value in a fit window.
type Point struct {
	TS    time.Time
	Value float64
	// N is how many readings the point aggregates (0 counts as 1).
	N int
}

// Gate reasons a fit did not yield a prediction.
const (
	ReasonOK             = "ok"
	ReasonFewPoints      = "insufficient_points"
	ReasonLowR2          = "low_r2"
	ReasonNoTrend        = "no_trend_towards_limit"
	ReasonBeyondHorizon  = "beyond_horizon"
	ReasonFitFailed      = "fit_failed"
	ReasonShortSpan      = "window_not_covered"
	ReasonNotSignificant = "slope_not_significant"
	ReasonBeyondLimit    = "already_beyond_limit"
)

// FitOptions tune Fit; the zero value takes the defaults.
type FitOptions struct {
	// Confidence of the prediction interval (default 0.95).
	Confidence float64
	// OutlierK rejects points whose residual from a first robust fit
	// exceeds OutlierK robust standard deviations (default 4).
	OutlierK float64
	// MinSpan is the fraction of the window the points must span
	// (default 0.9): a fit over a short stretch extrapolates noise, and a
	// part of a daily cycle looks like a trend.
	MinSpan float64
	// MinT is the minimum t statistic of the slope (default 3): the
	// trend must stand out of the noise.
	MinT float64
	// NoQuadratic drops the third candidate, y = a + b·t + c·t², which
	// otherwise competes when its curvature is towards the limit and
	// significant (see Fit); it is still fitted as the evidence of
	// acceleration that the exponential model needs.
	NoQuadratic bool
	// AccelMinT is the least t statistic of the quadratic's curvature,
	// shrunk for autocorrelated residuals, for the window to count as
	// accelerating (default 2.5; the unshrunk one must reach MinT too).
	AccelMinT float64
	// KneeMargin is how much lower (better) the knee candidate's AIC must
	// be than the best accelerating model's for the window to be read as
	// the onset of linear wear (default 4).
	KneeMargin float64
	// StepMargin is how much lower the AIC of a step (two levels) or of a
	// saturating model must be than the chosen model's for a predicted
	// crossing to be vetoed as a change of operating point or a rise that
	// levels off (default 4).
	StepMargin float64
	// NoLevelling turns the levelling checks off (see levelling).
	NoLevelling bool
	// NoDaily turns off taking the daily cycle out of the window (see
	// deseason).
	NoDaily bool
	// NoExcursion turns off judging the window again without a stretch
	// above the baseline that ended inside it (see endedExcursion).
	NoExcursion bool
	// NoSteps turns off judging the window again with changes of
	// operating point taken out (see stepSegments, destep).
	NoSteps bool

	// baseline: the window is the baseline left once an excursion was
	// taken out (see endedExcursion).
	baseline bool
	// destepped: the window with changes of operating point taken out
	// (see destep); the levelling checks look for no further step.
	destepped bool
}

func (o FitOptions) withDefaults() FitOptions {
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	if o.OutlierK <= 0 {
		o.OutlierK = 4
	}
	if o.MinSpan <= 0 {
		o.MinSpan = 0.9
	}
	if o.MinT <= 0 {
		o.MinT = 3
	}
	if o.AccelMinT <= 0 {
		o.AccelMinT = 2.5
	}
	if o.KneeMargin <= 0 {
		o.KneeMargin = 4
	}
	if o.StepMargin <= 0 {
		o.StepMargin = 4
	}
	return o
}

// Result is a fit's outcome. Prediction is set when every gate passed and
// the fit crosses the limit within the horizon; otherwise Reason says why
// not (and the fit diagnostics are still filled where they exist).
type Result struct {
	Reason     string             `json:"reason"`
	Model      string             `json:"model,omitempty"`
	Slope      float64            `json:"slope"` // per hour, in the model's space
	Intercept  float64            `json:"intercept"`
	R2         float64            `json:"r2"`
	AIC        map[string]float64 `json:"aic,omitempty"`
	Points     int                `json:"points"`
	Rejected   int                `json:"rejected"`
	Limit      float64            `json:"limit"`
	Start      time.Time          `json:"window_start"`
	End        time.Time          `json:"window_end"`
	Prediction *rules.Prediction  `json:"prediction,omitempty"`
	// Crossing is the predicted crossing even when beyond the horizon
	// (zero when the fit never crosses).
	Crossing time.Time `json:"crossing,omitempty"`
	// Onset is the knee's changepoint when the knee candidate overruled
	// an accelerating model (zero otherwise).
	Onset time.Time `json:"onset,omitempty"`
	// DailyAmplitude is the amplitude of the daily cycle taken out of
	// the window before the fits (0: none stood out).
	DailyAmplitude float64 `json:"daily_amplitude,omitempty"`
	// ExcursionEnd is when a stretch above the baseline (towards the
	// limit) that ended inside the window fell back, and ExcursionHeight
	// its height there, when the prediction comes from the window with
	// that stretch taken out (zero otherwise; see endedExcursion).
	ExcursionEnd    time.Time `json:"excursion_end,omitempty"`
	ExcursionHeight float64   `json:"excursion_height,omitempty"`
	// Steps is how many changes of operating point were taken out of the
	// window for the prediction (0: none; see destep).
	Steps int `json:"steps,omitempty"`
}

// Fit fits the candidate models to points (any order) of rule r's metric
// by least squares and predicts when the critical limit is crossed.
// Time is measured in hours relative to the window end (the latest
// point), so the intercept is the fitted value now and the slope the rate
// now (per hour, in ln units for the exponential model).
//
// Candidates: linear (y = a + b·t), exponential (ln y = a + b·t, for
// positive values and limit) and quadratic (y = a + b·t + c·t²). The two
// accelerating models compete only when acceleration stands out: the
// quadratic's curvature points towards the limit with a t statistic of at
// least MinT, and of at least AccelMinT after shrinking it for the lag-1
// autocorrelation of its residuals (slow wander is not acceleration). Choice: the lowest AIC =
// n·ln(SSE/n) + 2k with SSE in the original units (k = 2 or 3
// parameters); on a tie the earlier candidate (linear) wins. When an
// accelerating model wins, the knee candidate (ModelKnee: flat or slow,
// then a line from a changepoint inside the window, k = 4) may overrule
// it by beating its AIC by KneeMargin: the window holds the onset of
// linear wear, which the accelerating models would extrapolate into a
// crossing days too early, and the line predicts (late while the onset
// is in the window, accurate once the window has passed it). Result.Onset
// then tells the changepoint.
//
// Robustness: a Theil–Sen line first, and points further than OutlierK
// robust standard deviations from it (single spikes) are dropped; gaps
// cost nothing but points; closed-form pre-checks skip the full fits when
// no trend towards the limit stands out.
//
// Second looks: when the gates stop a window, it is judged again with an
// excursion that ended inside it taken out (see endedExcursion), and
// then with changes of operating point taken out (a trend with steps:
// one slope, a level per segment between abrupt steps, see stepSegments
// and destep; Result.Steps counts them).
//
// Gates: at least spec.MinPoints readings after outlier rejection, the
// points span at least MinSpan of the window, R² (original units) at
// least spec.MinR2, the slope's t statistic at least MinT, and the
// crossing within spec.Horizon of the window end. The bounds are where
// the edges of the two-sided prediction interval (Confidence) reach the
// limit.
func Fit(points []Point, r *rules.Rule, o FitOptions) Result {
	o = o.withDefaults()
	res := Result{Reason: ReasonFewPoints}
	if r.Predict == nil || r.Critical == nil {
		res.Reason = ReasonFitFailed
		return res
	}
	spec := r.Predict
	limit := *r.Critical
	res.Limit = limit
	pts := make([]Point, len(points))
	copy(pts, points)
	less := func(i, j int) bool { return pts[i].TS.Before(pts[j].TS) }
	if !sort.SliceIsSorted(pts, less) {
		sort.Slice(pts, less)
	}
	res.Points = len(pts)
	if len(pts) == 0 {
		return res
	}
	res.Start, res.End = pts[0].TS, pts[len(pts)-1].TS
	res.Points = readings(pts)
	if res.Points < spec.MinPoints || len(pts) < 3 {
		return res
	}
	end := res.End
	xs := make([]float64, len(pts))
	ys := make([]float64, len(pts))
	for i, p := range pts {
		xs[i] = p.TS.Sub(end).Hours()
		ys[i] = p.Value
	}
	if !o.NoDaily {
		ts := make([]time.Time, len(pts))
		for i, p := range pts {
			ts[i] = p.TS
		}
		ys, res.DailyAmplitude = deseason(ts, xs, ys)
	}
	dir := 1.0
	if r.Direction == rules.Below {
		dir = -1
	}
	out := fitWindow(pts, xs, ys, dir, limit, spec, o, res)
	if !o.NoExcursion && excursionMayHide(out.Reason) {
		out = excursionFit(pts, xs, ys, dir, limit, spec, o, res, out)
	}
	if !o.NoSteps && stepsMayHide(out.Reason) {
		out = stepsFit(pts, xs, ys, dir, limit, spec, o, res, out)
	}
	return out
}

// denseOf tells which points average several readings.
func denseOf(pts []Point) []bool {
	dense := make([]bool, len(pts))
	for i, p := range pts {
		dense[i] = p.N > 1
	}
	return dense
}

// stepsFit is Fit's second look at a window whose fit (out) was stopped,
// with changes of operating point (abrupt at both ends) on a trend taken
// out; it returns out when there are none or the window without them
// predicts nothing.
func stepsFit(pts []Point, xs, ys []float64, dir, limit float64, spec *rules.PredictSpec, o FitOptions, res, out Result) Result {
	segs, sizes, ok := stepSegments(xs, ys, denseOf(pts), dir)
	if !ok {
		return out
	}
	sx, sy, idx, ok := destep(xs, ys, segs, sizes, dir, o.StepMargin)
	if !ok {
		return out
	}
	spts := make([]Point, len(idx))
	for i, j := range idx {
		spts[i] = pts[j]
	}
	so := o
	so.baseline, so.destepped = true, true
	sres := res
	sres.Points = readings(spts)
	st := fitWindow(spts, sx, sy, dir, limit, spec, so, sres)
	if st.Reason != ReasonOK {
		return out
	}
	st.Steps = len(segs) - 1
	return st
}

// excursionFit is Fit's second look at a window whose fit (out) was
// stopped, with a stretch above the baseline that ended inside it taken
// out; it returns out when there is none or the baseline predicts nothing.
func excursionFit(pts []Point, xs, ys []float64, dir, limit float64, spec *rules.PredictSpec, o FitOptions, res, out Result) Result {
	end := res.End
	// A stretch above the baseline that ended inside the window (a
	// warm-up's plateau and its fall back) hides the wear under it: the
	// fall reads as a trend away from the limit. Judge the window again
	// with that stretch taken out.
	raw := make([]float64, len(pts))
	for i, p := range pts {
		raw[i] = p.Value
	}
	ex, ok := endedExcursion(xs, ys, raw, denseOf(pts), dir, spec.Window.D().Hours(), o.StepMargin)
	if !ok {
		return out
	}
	bo := o
	bo.baseline = true
	base := fitWindow(pts, xs, ex.remove(xs, ys), dir, limit, spec, bo, res)
	if base.Reason != ReasonOK {
		return out
	}
	base.ExcursionEnd = end.Add(hours(xs[ex.end]))
	base.ExcursionHeight = ex.height
	return base
}

// fitWindow is Fit on the prepared window: xs hours from the window end,
// ys the values (the daily cycle out), res the result so far.
func fitWindow(pts []Point, xs, ys []float64, dir, limit float64, spec *rules.PredictSpec, o FitOptions, res Result) Result {
	end := res.End
	// Cheapest exit first, on the raw points: a clear trend away from the
	// limit, or one that gets nowhere near it, needs no robust fit.
	if reason := precheck(xs, ys, dir, limit, spec.Horizon.D().Hours(), 1, 4); reason != "" {
		res.Reason = reason
		return res
	}
	// Robust outlier rejection: a Theil–Sen line, then drop points far
	// from it in units of the median absolute deviation. Single spikes
	// go; a trend (even a curved one) stays.
	allXs, allYs := xs, ys
	keep := rejectOutliers(xs, ys, o.OutlierK)
	if n := len(xs) - len(keep); n > 0 {
		nx, ny := make([]float64, 0, len(keep)), make([]float64, 0, len(keep))
		kept := make([]Point, 0, len(keep))
		for _, i := range keep {
			nx, ny = append(nx, xs[i]), append(ny, ys[i])
			kept = append(kept, pts[i])
		}
		xs, ys = nx, ny
		res.Rejected = res.Points - readings(kept)
		res.Points = readings(kept)
		if res.Points < spec.MinPoints || len(xs) < 3 {
			return res
		}
		res.Start = end.Add(time.Duration(xs[0] * float64(time.Hour)))
	}
	if span := -xs[0]; span < o.MinSpan*spec.Window.D().Hours() {
		res.Reason = ReasonShortSpan
		return res
	}
	// Pre-check in closed form on the clean points: without a significant
	// slope towards the limit, or a line that gets near it, neither model
	// can predict a crossing within the horizon, so skip the full fits.
	horizon := spec.Horizon.D().Hours()
	if reason := precheck(xs, ys, dir, limit, horizon, o.MinT/2, 2); reason != "" {
		res.Reason = reason
		return res
	}
	cands := []model{}
	if m, err := fitModel(ModelLinear, xs, ys); err == nil {
		cands = append(cands, m)
	}
	// Acceleration must stand out of the noise before an accelerating
	// model may compete: the quadratic's curvature towards the limit,
	// with a t statistic of at least MinT, and of AccelMinT after
	// allowing for residuals that wander together (autoShrink).
	quad, qerr := fitModel(ModelQuadratic, xs, ys)
	// The baseline left once an excursion is taken out is judged by the
	// line only (the excursion's shape was fitted with a line under it):
	// what is left of a shape that did not fit exactly bends the window,
	// and an accelerating model would extrapolate that bend.
	accel := !o.baseline && qerr == nil && quad.c*dir > 0 && quad.tC >= o.MinT && quad.tC*autoShrink(xs, ys, quad) >= o.AccelMinT
	positive := true
	for _, y := range ys {
		if y <= 0 {
			positive = false
			break
		}
	}
	if accel && positive && limit > 0 {
		if m, err := fitModel(ModelExponential, xs, ys); err == nil {
			cands = append(cands, m)
		}
	}
	if accel && !o.NoQuadratic {
		cands = append(cands, quad)
	}
	if len(cands) == 0 {
		res.Reason = ReasonFitFailed
		return res
	}
	res.AIC = map[string]float64{}
	best := cands[0]
	for _, c := range cands {
		res.AIC[c.name] = c.aic
		if c.aic < best.aic-1e-9 {
			best = c
		}
	}
	if best.name != ModelLinear && cands[0].name == ModelLinear {
		// Acceleration, or the onset of linear wear inside the window?
		// A line that bends once (flat, then rising) reads as a curve
		// to the accelerating models and extrapolates days too early.
		if tau, aic, ok := knee(xs, ys, dir, spec.Window.D().Hours()); ok {
			res.AIC[ModelKnee] = aic
			if aic < best.aic-o.KneeMargin {
				best = cands[0]
				res.Onset = end.Add(hours(tau))
			}
		}
	}
	res.Model, res.Slope, res.Intercept, res.R2 = best.name, best.b, best.a, best.r2
	if best.r2 < spec.MinR2 {
		res.Reason = ReasonLowR2
		return res
	}
	if best.b*dir <= 0 {
		res.Reason = ReasonNoTrend
		return res
	}
	if best.seB > 0 && math.Abs(best.b)/best.seB < o.MinT {
		res.Reason = ReasonNotSignificant
		return res
	}
	tq := tQuantile(o.Confidence, len(xs)-best.k)
	target := best.space(limit)
	if math.IsNaN(target) || math.IsInf(target, 0) {
		res.Reason = ReasonNoTrend
		return res
	}
	mid := func(x float64) float64 { return dir * (best.predict(x) - target) }
	if mid(0) >= 0 {
		// Already beyond the limit by the fit: nothing left to predict,
		// the threshold rule owns it now.
		res.Crossing = end
		res.Reason = ReasonBeyondLimit
		return res
	}
	hCross := firstRoot(mid, 0, 4*horizon)
	if hCross < 0 {
		res.Reason = ReasonBeyondHorizon
		return res
	}
	res.Crossing = end.Add(hours(hCross))
	if hCross > horizon {
		res.Reason = ReasonBeyondHorizon
		return res
	}
	// Bounds: where the prediction band's near and far edges reach the
	// limit. Search up to well past the horizon; a far edge that never
	// reaches it leaves the latest bound at the search end.
	searchEnd := max(4*horizon, 2*hCross)
	near := func(x float64) float64 { return dir*(best.predict(x)-target) + tq*best.se(x) }
	far := func(x float64) float64 { return dir*(best.predict(x)-target) - tq*best.se(x) }
	hEarly := firstRoot(near, 0, searchEnd)
	hLate := firstRoot(far, hCross, searchEnd)
	if hEarly < 0 || hEarly > hCross {
		hEarly = math.Min(hCross, math.Max(hEarly, 0))
	}
	if hLate < 0 {
		hLate = searchEnd
	}
	if !o.NoLevelling {
		// On every point: what levels off or steps is what the outlier
		// rejection around one line would cut away.
		if reason := levelling(allXs, allYs, dir, limit, spec.Window.D().Hours(), horizon, tq, best, o); reason != "" {
			res.Reason = reason
			return res
		}
	}
	res.Reason = ReasonOK
	res.Prediction = &rules.Prediction{
		Model:            best.name,
		Slope:            best.b,
		Intercept:        best.a,
		R2:               best.r2,
		Points:           res.Points,
		WindowStart:      res.Start,
		WindowEnd:        end,
		CrossingAt:       end.Add(hours(hCross)),
		CrossingEarliest: end.Add(hours(hEarly)),
		CrossingLatest:   end.Add(hours(hLate)),
		RUL:              rules.Duration(hours(hCross)),
	}
	return res
}

// precheck fits both models' lines in closed form and returns the gate
// reason when there is no slope towards the limit with a t statistic of
// at least minT, or when neither line reaches the limit within reach times
// the horizon (hours); "" when the full fits are worth running.
func precheck(xs, ys []float64, dir, limit, horizon, minT, reach float64) string {
	a0, b0, t0 := ols(xs, ys)
	if b0*dir <= 0 || t0 < minT {
		return ReasonNoTrend
	}
	if (limit-a0)/b0 <= reach*horizon {
		return ""
	}
	if limit <= 0 {
		return ReasonBeyondHorizon
	}
	logs := make([]float64, len(ys))
	for i, y := range ys {
		if y <= 0 {
			return ReasonBeyondHorizon
		}
		logs[i] = math.Log(y)
	}
	la, lb, _ := ols(xs, logs)
	if lb*dir > 0 && (math.Log(limit)-la)/lb <= reach*horizon {
		return ""
	}
	return ReasonBeyondHorizon
}

// readings counts the readings behind points.
func readings(pts []Point) int {
	n := 0
	for _, p := range pts {
		n += max(p.N, 1)
	}
	return n
}

// ols returns the least-squares line a + b·x and the slope's |t|
// statistic, in closed form (the cheap pre-check before the full fits).
func ols(xs, ys []float64) (a, b, t float64) {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		dx := xs[i] - mx
		sxx += dx * dx
		sxy += dx * (ys[i] - my)
	}
	if sxx == 0 || n < 3 {
		return my, 0, 0
	}
	b = sxy / sxx
	a = my - b*mx
	var sse float64
	for i := range xs {
		e := ys[i] - a - b*xs[i]
		sse += e * e
	}
	se := math.Sqrt(sse/(n-2)) / math.Sqrt(sxx)
	if se == 0 {
		return a, b, math.Inf(1)
	}
	return a, b, math.Abs(b) / se
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// model is one fitted candidate in its own space (y' = y, or ln y for the
// exponential model): y' = a + b·x (+ c·x² for the quadratic), with what
// the prediction interval needs.
type model struct {
	name    string
	k       int // parameters
	a, b, c float64
	r2      float64 // in original units
	aic     float64 // in original units
	s       float64 // residual standard error in the model's space
	inv     [3][3]float64
	seB     float64
	tC      float64 // t statistic of the curvature (quadratic)
}

func (m model) space(y float64) float64 {
	if m.name == ModelExponential {
		if y <= 0 {
			return math.NaN()
		}
		return math.Log(y)
	}
	return y
}

func (m model) predict(x float64) float64 { return m.a + m.b*x + m.c*x*x }

// se is the standard error of a new observation at x (prediction
// interval, not the narrower confidence band of the mean):
// s·sqrt(1 + v'(X'X)⁻¹v) with v = (1, x[, x²]).
func (m model) se(x float64) float64 {
	v := [3]float64{1, x, x * x}
	q := 0.0
	for i := 0; i < m.k; i++ {
		for j := 0; j < m.k; j++ {
			q += v[i] * m.inv[i][j] * v[j]
		}
	}
	return m.s * math.Sqrt(1+math.Max(q, 0))
}

// fitModel fits one model by least squares.
func fitModel(name string, xs, ys []float64) (model, error) {
	n := len(xs)
	k := 2
	if name == ModelQuadratic {
		k = 3
	}
	if n < k+2 {
		return model{}, errors.New("too few points")
	}
	tr := make([]float64, n)
	for i, y := range ys {
		tr[i] = y
		if name == ModelExponential {
			tr[i] = math.Log(y)
		}
	}
	// Least squares in closed form from the normal equations (X'X)⁻¹X'y;
	// the same coefficients sajari/regression computes (checked in
	// TestFitModelMatchesSajari) without its per-run formatting, which
	// cost two thirds of detection's CPU.
	var sum [5]float64 // Σ x^p
	var xty [3]float64 // Σ x^p·y
	for i, x := range xs {
		p := 1.0
		for e := range sum {
			sum[e] += p
			if e < 3 {
				xty[e] += p * tr[i]
			}
			p *= x
		}
	}
	var ok bool
	m := model{name: name, k: k}
	if k == 2 {
		m.inv, ok = inverse2(sum[0], sum[1], sum[2])
	} else {
		m.inv, ok = inverse3(sum)
	}
	if !ok {
		return model{}, fmt.Errorf("fit %s: points do not determine the model", name)
	}
	var coef [3]float64
	for r := 0; r < k; r++ {
		for c := 0; c < k; c++ {
			coef[r] += m.inv[r][c] * xty[c]
		}
	}
	m.a, m.b, m.c = coef[0], coef[1], coef[2]
	for _, v := range []float64{m.a, m.b, m.c} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return model{}, fmt.Errorf("fit %s: degenerate", name)
		}
	}
	ymean := 0.0
	for _, y := range ys {
		ymean += y
	}
	ymean /= float64(n)
	var sse, sst, sseT float64
	for i, x := range xs {
		yhat := m.predict(x)
		rt := tr[i] - yhat
		sseT += rt * rt
		if name == ModelExponential {
			yhat = math.Exp(yhat)
		}
		e := ys[i] - yhat
		sse += e * e
		dy := ys[i] - ymean
		sst += dy * dy
	}
	m.s = math.Sqrt(sseT / float64(n-k))
	m.seB = m.s * math.Sqrt(math.Max(m.inv[1][1], 0))
	if k == 3 {
		if se := m.s * math.Sqrt(math.Max(m.inv[2][2], 0)); se > 0 {
			m.tC = math.Abs(m.c) / se
		}
	}
	if sst > 0 {
		m.r2 = 1 - sse/sst
	}
	m.aic = float64(n)*math.Log(math.Max(sse, 1e-300)/float64(n)) + 2*float64(k)
	return m, nil
}

// autoShrink is sqrt((1−ρ)/(1+ρ)) for the lag-1 autocorrelation ρ > 0 of
// m's residuals (1 when ρ ≤ 0): slow wander makes neighbouring residuals
// alike, so n points carry less evidence than n independent ones, and a t
// statistic computed as if they were independent is that much too large.
func autoShrink(xs, ys []float64, m model) float64 {
	var num, den, prev float64
	for i, x := range xs {
		e := ys[i] - m.predict(x)
		if i > 0 {
			num += e * prev
		}
		den += e * e
		prev = e
	}
	if den == 0 {
		return 1
	}
	rho := num / den
	if rho <= 0 {
		return 1
	}
	return math.Sqrt((1 - rho) / (1 + rho))
}

// knee searches the changepoint τ of y = a + b·t + c·min(0, t−τ) in
// closed form over the points, with at least a third of the window and 8
// points on each side, and returns the best τ and its AIC (4 parameters:
// a, b, c and τ; SSE in original units, as for the other candidates). It
// reports false when no split is a knee towards the limit: rising
// towards it after τ, and less steeply (or not at all) before.
func knee(xs, ys []float64, dir, window float64) (tau, aic float64, ok bool) {
	n := len(xs)
	const minSide = 8
	if n < 2*minSide {
		return 0, 0, false
	}
	span := window / 3
	best := math.Inf(1)
	for i := minSide; i <= n-minSide; i++ {
		t := xs[i]
		if t-xs[0] < span || -t < span {
			continue
		}
		f := func(x float64) float64 { return math.Min(0, x-t) }
		var xtx [3][3]float64
		var xty [3]float64
		for j, x := range xs {
			v := [3]float64{1, x, f(x)}
			for r := range v {
				xty[r] += v[r] * ys[j]
				for q := range v {
					xtx[r][q] += v[r] * v[q]
				}
			}
		}
		inv, invOK := inverse3m(xtx)
		if !invOK {
			continue
		}
		var c [3]float64
		for r := range c {
			for q := range c {
				c[r] += inv[r][q] * xty[q]
			}
		}
		// Towards the limit after τ (slope b), less steep before (b + c).
		if c[1]*dir <= 0 || c[2]*dir >= 0 {
			continue
		}
		var sse float64
		for j, x := range xs {
			e := ys[j] - c[0] - c[1]*x - c[2]*f(x)
			sse += e * e
		}
		if sse < best {
			best, tau, ok = sse, t, true
		}
	}
	if !ok {
		return 0, 0, false
	}
	return tau, float64(n)*math.Log(math.Max(best, 1e-300)/float64(n)) + 2*4, true
}

// inverse2 inverts [[s0 s1] [s1 s2]].
func inverse2(s0, s1, s2 float64) ([3][3]float64, bool) {
	var m [3][3]float64
	det := s0*s2 - s1*s1
	if det <= 0 || math.IsNaN(det) {
		return m, false
	}
	m[0][0], m[0][1], m[1][0], m[1][1] = s2/det, -s1/det, -s1/det, s0/det
	return m, true
}

// inverse3 inverts the 3×3 moment matrix [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]].
func inverse3(s [5]float64) ([3][3]float64, bool) {
	return inverse3m([3][3]float64{{s[0], s[1], s[2]}, {s[1], s[2], s[3]}, {s[2], s[3], s[4]}})
}

// inverse3m inverts a 3×3 matrix.
func inverse3m(a [3][3]float64) ([3][3]float64, bool) {
	var m [3][3]float64
	c00 := a[1][1]*a[2][2] - a[1][2]*a[2][1]
	c01 := a[1][2]*a[2][0] - a[1][0]*a[2][2]
	c02 := a[1][0]*a[2][1] - a[1][1]*a[2][0]
	det := a[0][0]*c00 + a[0][1]*c01 + a[0][2]*c02
	if det == 0 || math.IsNaN(det) || math.Abs(det) < 1e-12*math.Abs(a[0][0]*a[1][1]*a[2][2]) {
		return m, false
	}
	m[0][0] = c00 / det
	m[0][1] = (a[0][2]*a[2][1] - a[0][1]*a[2][2]) / det
	m[0][2] = (a[0][1]*a[1][2] - a[0][2]*a[1][1]) / det
	m[1][0] = c01 / det
	m[1][1] = (a[0][0]*a[2][2] - a[0][2]*a[2][0]) / det
	m[1][2] = (a[0][2]*a[1][0] - a[0][0]*a[1][2]) / det
	m[2][0] = c02 / det
	m[2][1] = (a[0][1]*a[2][0] - a[0][0]*a[2][1]) / det
	m[2][2] = (a[0][0]*a[1][1] - a[0][1]*a[1][0]) / det
	return m, true
}

// rejectOutliers returns the indexes of points within k robust standard
// deviations of a Theil–Sen line (median of pairwise slopes over a bounded
// sample of pairs).
func rejectOutliers(xs, ys []float64, k float64) []int {
	n := len(xs)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if n < 5 {
		return all
	}
	// Pairs i, i+n/2: n/2 slopes spread over the window, cheap and robust.
	half := n / 2
	slopes := make([]float64, 0, half)
	for i := 0; i+half < n; i++ {
		if dx := xs[i+half] - xs[i]; dx > 0 {
			slopes = append(slopes, (ys[i+half]-ys[i])/dx)
		}
	}
	if len(slopes) == 0 {
		return all
	}
	b := median(slopes)
	res := make([]float64, n)
	for i := range xs {
		res[i] = ys[i] - b*xs[i]
	}
	a := median(append([]float64(nil), res...))
	abs := make([]float64, n)
	for i := range res {
		res[i] -= a
		abs[i] = math.Abs(res[i])
	}
	mad := median(append([]float64(nil), abs...)) * 1.4826
	if mad == 0 {
		return all
	}
	keep := all[:0]
	for i := range res {
		if math.Abs(res[i]) <= k*mad {
			keep = append(keep, i)
		}
	}
	return keep
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// firstRoot returns the first x in [lo, hi] where f(x) >= 0 (f(lo) >= 0
// gives lo), or -1 when there is none; f is scanned in 256 steps, then
// bisected.
func firstRoot(f func(float64) float64, lo, hi float64) float64 {
	if f(lo) >= 0 {
		return lo
	}
	const steps = 256
	step := (hi - lo) / steps
	if step <= 0 {
		return -1
	}
	prev := lo
	for i := 1; i <= steps; i++ {
		x := lo + float64(i)*step
		if f(x) >= 0 {
			a, b := prev, x
			for range 40 {
				m := (a + b) / 2
				if f(m) >= 0 {
					b = m
				} else {
					a = m
				}
			}
			return b
		}
		prev = x
	}
	return -1
}

// tQuantile returns the two-sided Student t quantile for confidence c
// (0.90, 0.95 or 0.99; others use the normal quantile) with df degrees of
// freedom.
func tQuantile(c float64, df int) float64 {
	t95 := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	z := 1.959964
	switch {
	case math.Abs(c-0.90) < 1e-9:
		z = 1.644854
	case math.Abs(c-0.99) < 1e-9:
		z = 2.575829
	}
	if df < 1 {
		df = 1
	}
	if math.Abs(c-0.95) < 1e-9 && df <= len(t95) {
		return t95[df-1]
	}
	// Cornish–Fisher style correction of the normal quantile for small df.
	g := float64(df)
	return z + (z*z*z+z)/(4*g) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*g*g)
}
