package predict

import (
	"fmt"
	"math"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Options tune the streaming predictor; the zero value takes defaults.
type Options struct {
	Fit FitOptions
	// Buckets is how many time buckets a window holds (default 72). Dense
	// readings are aggregated per bucket (a trimmed mean, so one spike in
	// a bucket barely moves it), which bounds memory and fit cost per
	// series whatever the sampling rate.
	Buckets int
	// RefitEvery is the event time between fits of one series (default:
	// window/96, at least one minute). Fits fall on the first reading of
	// each RefitEvery slot of Unix time, not RefitEvery after the series'
	// first reading, so a series rebuilt from any point of its history
	// fits at the same instants as one that saw every reading live.
	RefitEvery time.Duration
	// Confirm is how many consecutive fits must predict a crossing within
	// the horizon before a trend signal is raised (default 3): one lucky
	// fit on a noisy stretch raises nothing.
	Confirm int
	// ReemitEvery: while the prediction holds, a fresh trend signal (the
	// latest prediction, as new evidence) is raised at most this often in
	// event time (default 6h), or sooner when the remaining life shrank
	// by more than a quarter since the last one.
	ReemitEvery time.Duration
	// ConfirmSpan is how long in event time the prediction must hold
	// before a trend signal is raised (default: a quarter of the window),
	// and over that span the predicted crossing must not recede by more
	// than RecedeFraction of the span: wear goes on, so the crossing stays
	// put or comes closer, while the tail of a run-in, a warm-up or any
	// rise that levels off pushes a line's crossing further out with
	// every fit. 0 takes the default; negative turns the span off.
	ConfirmSpan time.Duration
	// RecedeFraction (default 0.5): see ConfirmSpan.
	RecedeFraction float64
}

func (o Options) withDefaults() Options {
	if o.Buckets <= 0 {
		o.Buckets = 72
	}
	if o.Confirm <= 0 {
		o.Confirm = 3
	}
	if o.ReemitEvery <= 0 {
		o.ReemitEvery = 6 * time.Hour
	}
	if o.RecedeFraction <= 0 {
		o.RecedeFraction = 0.5
	}
	o.Fit = o.Fit.withDefaults()
	return o
}

// Predictor is the rules.Observer that adds trend prediction to the rules
// engine: it follows every (asset, rule) whose rule has `predict`. It is
// pure (event time only) and holds no state of its own; each series'
// state lives in the engine, under the engine's lock.
type Predictor struct {
	opts Options
}

// New returns a predictor.
func New(opts Options) *Predictor { return &Predictor{opts: opts.withDefaults()} }

var _ rules.Observer = (*Predictor)(nil)

// NewSeries returns the streaming state for one rule on one asset, or nil
// when the rule does not predict.
func (p *Predictor) NewSeries(r *rules.Rule, a rules.AssetRef) rules.SeriesObserver {
	if r.Predict == nil || r.Critical == nil {
		return nil
	}
	w := r.Predict.Window.D()
	refit := p.opts.RefitEvery
	if refit <= 0 {
		refit = max(w/96, time.Minute)
	}
	span := p.opts.ConfirmSpan
	if span == 0 {
		span = w / 4
	}
	return &Series{
		span:   max(span, 0),
		rule:   r,
		asset:  a,
		opts:   p.opts,
		width:  max(w/time.Duration(p.opts.Buckets), time.Second),
		refit:  refit,
		window: w,
	}
}

// bucket aggregates the readings of one time slice.
type bucket struct {
	idx      int64 // ts / width
	n        int
	sum      float64
	min, max float64
	lastTS   time.Time
}

func (b *bucket) value() float64 {
	if b.n >= 3 {
		return (b.sum - b.min - b.max) / float64(b.n-2)
	}
	return b.sum / float64(b.n)
}

// Series is the streaming predictor of one rule on one asset: a sliding
// window of buckets in event time. It only ever sees readings in strictly
// increasing event time (the engine drops late ones before it), so late
// data cannot corrupt it; the re-prediction Job accounts for them.
type Series struct {
	rule   *rules.Rule
	asset  rules.AssetRef
	opts   Options
	width  time.Duration
	refit  time.Duration
	window time.Duration

	buckets   []bucket // in time order; the last one is filling
	sums      sums     // of the completed buckets
	lastFit   time.Time
	last      Result
	streak    int
	lastEmit  time.Time
	lastRUL   time.Duration
	emitted   int
	lastValue rules.Sample
	// span is ConfirmSpan; held are the recent predicted crossings (fit
	// time, crossing), from the latest at or before the span on.
	span time.Duration
	held []heldCrossing
	// fits are the recent refits (time, whether they predicted), over
	// the confirmation span: most of them must have predicted.
	fits []fitMark
}

type fitMark struct {
	at time.Time
	ok bool
}

// mark records a refit's outcome and forgets those before the span.
func (s *Series) mark(now time.Time, ok bool) {
	if s.span <= 0 {
		return
	}
	s.fits = append(s.fits, fitMark{now, ok})
	cut := now.Add(-s.span - s.span/2)
	i := 0
	for i < len(s.fits) && s.fits[i].at.Before(cut) {
		i++
	}
	if i > 0 {
		s.fits = append(s.fits[:0], s.fits[i:]...)
	}
}

// heldMostly reports whether at least half the refits since from
// predicted a crossing.
func (s *Series) heldMostly(from time.Time) bool {
	n, ok := 0, 0
	for _, f := range s.fits {
		if f.at.Before(from) {
			continue
		}
		n++
		if f.ok {
			ok++
		}
	}
	return 2*ok >= n
}

type heldCrossing struct{ at, crossing time.Time }

// Observe adds a reading and, when a refit is due, fits the window and
// returns a trend signal if the prediction holds.
func (s *Series) Observe(ts time.Time, v float64) []rules.Signal {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	s.add(ts, v)
	if !s.lastFit.IsZero() && ts.UnixNano()/int64(s.refit) == s.lastFit.UnixNano()/int64(s.refit) {
		return nil
	}
	s.lastFit = ts
	return s.fit(ts)
}

// add puts a reading into the window and evicts what left it.
func (s *Series) add(ts time.Time, v float64) {
	s.lastValue = rules.Sample{TS: ts, Value: v}
	changed := false
	idx := ts.UnixNano() / int64(s.width)
	if n := len(s.buckets); n > 0 && s.buckets[n-1].idx == idx {
		b := &s.buckets[n-1]
		b.n++
		b.sum += v
		b.min = math.Min(b.min, v)
		b.max = math.Max(b.max, v)
		b.lastTS = ts
	} else {
		s.buckets = append(s.buckets, bucket{idx: idx, n: 1, sum: v, min: v, max: v, lastTS: ts})
		changed = true
	}
	// Evict buckets that left the window.
	cut := ts.Add(-s.window)
	drop := 0
	for drop < len(s.buckets) && !s.buckets[drop].lastTS.After(cut) {
		drop++
	}
	if drop > 0 {
		s.buckets = append(s.buckets[:0], s.buckets[drop:]...)
		changed = true
	}
	if changed {
		s.recompute()
	}
}

// Points returns the window's points (one per bucket) in time order.
func (s *Series) Points() []Point {
	pts := make([]Point, len(s.buckets))
	for i := range s.buckets {
		pts[i] = Point{TS: s.buckets[i].lastTS, Value: s.buckets[i].value(), N: s.buckets[i].n}
	}
	return pts
}

func (s *Series) fit(now time.Time) []rules.Signal {
	// Most fits of a healthy series stop at the closed-form pre-check:
	// answer it from the running sums without rebuilding the window.
	if reason := s.quickCheck(); reason != "" {
		n := 0
		for i := range s.buckets {
			n += s.buckets[i].n
		}
		s.last = Result{Reason: reason, Points: n, Limit: *s.rule.Critical,
			Start: s.buckets[0].lastTS, End: s.buckets[len(s.buckets)-1].lastTS}
		s.streak = 0
		s.mark(now, false)
		return nil
	}
	res := Fit(s.Points(), s.rule, s.opts.Fit)
	s.last = res
	s.mark(now, res.Prediction != nil)
	if res.Prediction == nil {
		s.streak = 0
		return nil
	}
	s.streak++
	// The held crossings survive fits that predict nothing in between
	// (a noisy stretch, a daily peak); a gap of half the span without
	// any starts them afresh.
	if n := len(s.held); n > 0 && now.Sub(s.held[n-1].at) > s.span/2 {
		s.held = s.held[:0]
	}
	s.held = append(s.held, heldCrossing{at: now, crossing: res.Prediction.CrossingAt})
	// Keep one fit at or before now − span as the reference.
	for len(s.held) > 1 && !s.held[1].at.After(now.Add(-s.span)) {
		s.held = s.held[1:]
	}
	if s.streak < s.opts.Confirm {
		return nil
	}
	if s.span > 0 {
		ref := s.held[0]
		// Held: over the span, and by most of the refits in it (passes
		// strung together across fits that were vetoed are a rise that
		// keeps levelling off, not wear).
		if now.Sub(ref.at) < s.span || !s.heldMostly(ref.at) {
			res.Reason = ReasonNotConfirmed
			s.last = res
			return nil
		}
		if recede := res.Prediction.CrossingAt.Sub(ref.crossing); recede > time.Duration(s.opts.RecedeFraction*float64(now.Sub(ref.at))) {
			res.Reason = ReasonReceding
			s.last = res
			return nil
		}
	}
	rul := res.Prediction.RUL.D()
	due := s.lastEmit.IsZero() || now.Sub(s.lastEmit) >= s.opts.ReemitEvery ||
		(s.lastRUL > 0 && rul < s.lastRUL*3/4)
	if !due {
		return nil
	}
	s.lastEmit, s.lastRUL = now, rul
	s.emitted++
	return []rules.Signal{TrendSignal(s.rule, s.asset, res, now)}
}

// Rearm forgets what was raised (the engine calls it after a warm start,
// whose signals were muted), keeping the window, the confirmation streak
// and the refit instants, so a prediction that still holds is raised on
// the next fit, when one replica that saw every reading would fit.
func (s *Series) Rearm() {
	s.lastEmit, s.lastRUL = time.Time{}, 0
}

var _ rules.Rearmer = (*Series)(nil)

// TrendSignal builds the trend signal for a passing fit, with the
// contract's evidence: metric, window start/end, point count, slope,
// intercept, r2, the limit, the predicted crossing and its bounds.
func TrendSignal(r *rules.Rule, a rules.AssetRef, res Result, detected time.Time) rules.Signal {
	p := res.Prediction
	unit := "per hour"
	if p.Model == ModelExponential {
		unit = "ln(value) per hour"
	}
	ev := map[string]any{
		"metric":                     r.Metric,
		"model":                      p.Model,
		"window_start":               p.WindowStart,
		"window_end":                 p.WindowEnd,
		"points":                     p.Points,
		"rejected_points":            res.Rejected,
		"slope":                      p.Slope,
		"slope_unit":                 unit,
		"intercept":                  p.Intercept,
		"r2":                         p.R2,
		"aic":                        res.AIC,
		"limit":                      res.Limit,
		"direction":                  string(r.Direction),
		"predicted_failure_at":       p.CrossingAt,
		"predicted_failure_earliest": p.CrossingEarliest,
		"predicted_failure_latest":   p.CrossingLatest,
		"rul":                        Readable(p.RUL.D()),
		"rul_seconds":                p.RUL.D().Seconds(),
		"horizon":                    r.Predict.Horizon.String(),
	}
	if !res.Onset.IsZero() {
		ev["onset"] = res.Onset
	}
	if !res.ExcursionEnd.IsZero() {
		// The prediction is the baseline's, with an excursion that ended
		// in the window (a warm-up's plateau) taken out.
		ev["excursion_end"] = res.ExcursionEnd
		ev["excursion_height"] = res.ExcursionHeight
	}
	if res.Steps > 0 {
		// The prediction is from the current level with that many
		// changes of operating point taken out (see destep).
		ev["steps"] = res.Steps
	}
	return rules.Signal{
		Kind:        rules.KindTrend,
		Level:       rules.LevelCritical,
		RuleID:      r.ID,
		Site:        a.Site,
		Asset:       a.Code,
		AssetID:     a.ID,
		Metric:      r.Metric,
		FailureMode: r.FailureMode,
		Value:       fitted(p),
		Limit:       res.Limit,
		DetectedAt:  detected,
		Message: fmt.Sprintf("%s predicted to cross %g at %s (%s fit, r2 %.2f, remaining life %s)",
			r.Metric, res.Limit, p.CrossingAt.Format(time.RFC3339), p.Model, p.R2, Readable(p.RUL.D())),
		Prediction: p,
		Evidence:   ev,
	}
}

// fitted is the fit's value at the window end in original units.
func fitted(p *rules.Prediction) float64 {
	if p.Model == ModelExponential {
		return math.Exp(p.Intercept)
	}
	return p.Intercept
}

// SeriesStatus is a series' current prediction state for health views.
type SeriesStatus struct {
	Points    int          `json:"points"`
	LastFitAt time.Time    `json:"last_fit_at,omitempty"`
	Fit       Result       `json:"fit"`
	Latest    rules.Sample `json:"latest"`
	Signals   int          `json:"signals"`
}

// Status returns the series' latest fit (rules.SeriesObserver).
func (s *Series) Status() any {
	n := 0
	for i := range s.buckets {
		n += s.buckets[i].n
	}
	return SeriesStatus{Points: n, LastFitAt: s.lastFit, Fit: s.last, Latest: s.lastValue, Signals: s.emitted}
}
