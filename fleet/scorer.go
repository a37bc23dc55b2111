package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// AssetRef names an asset for scoring.
type AssetRef struct {
	ID, Site, Code string
}

// ScoreStore is what the scorer reads and writes.
type ScoreStore interface {
	// LatestModels returns every asset type's latest model.
	LatestModels(ctx context.Context) ([]Version, error)
	// Restarts gives, per asset of a type, when its current life began:
	// its latest failure or repair (none: not in the map).
	Restarts(ctx context.Context, assetType string) (map[string]time.Time, error)
	SaveScore(ctx context.Context, s Score) error
}

// AssetLister lists the assets of a type.
type AssetLister interface {
	AssetsOfType(ctx context.Context, assetType string) ([]AssetRef, error)
}

// Alert is an asset whose remaining life is within the lead by the
// type's order rule (Model.OrderDue): what an order needs.
type Alert struct {
	Asset     AssetRef
	AssetType string
	Version   int
	At        time.Time
	// Start is the first step of the history scored; Rows its steps.
	Start time.Time
	Rows  int
	// RUL, Lower and Upper are the estimate and its interval.
	RUL, Lower, Upper time.Duration
	// Features are the history's features by name.
	Features map[string]float64
	// Kind is the model's kind and Coverage its interval's nominal
	// coverage (0.9).
	Kind     string
	Coverage float64
	// Drivers are the metrics that moved most since the history's first
	// steps, largest first (at most 3).
	Drivers []Driver
}

// Driver is a metric's move since the first steps of the history scored:
// its level over the longest window less its mean over the first 10
// steps, in standard deviations of the metric in its operating
// condition (models with a Norm; raw units otherwise).
type Driver struct {
	Metric string  `json:"metric"`
	Rise   float64 `json:"rise"`
}

// drivers are the n metrics of spec with the largest |rise| feature.
func drivers(spec Spec, features map[string]float64, n int) []Driver {
	var out []Driver
	for _, m := range spec.featureMetrics() {
		if r, ok := features[m+"_rise"]; ok {
			out = append(out, Driver{Metric: m, Rise: r})
		}
	}
	slices.SortStableFunc(out, func(a, b Driver) int { return cmp.Compare(math.Abs(b.Rise), math.Abs(a.Rise)) })
	return out[:min(n, len(out))]
}

// Scorer scores every asset of every type that has a model, stores the
// estimates and raises an Alert for each asset whose estimate less the
// type's margin (Model.OrderMargin, default 0.75) times the interval's
// half-width is within the lead.
type Scorer struct {
	Store  ScoreStore
	Assets AssetLister
	Series SeriesReader
	// Lead is the order lead (default 48 h) for types whose model sets no
	// lead of its own.
	Lead  time.Duration
	Raise func(ctx context.Context, a Alert) error
	Now   func() time.Time
	Log   *slog.Logger
	// Only, when set, scores the assets of this type only.
	Only string
	// Concurrency is how many assets are scored at once (default 8):
	// scoring waits mostly on InfluxDB and PostgreSQL.
	Concurrency int
	// Batch is how many assets' recent histories are read in one query
	// when Series is also a BatchSeriesReader (default 10; 1 reads an
	// asset at a time through SeriesReader).
	Batch int
}

// SeriesKey names an asset's series.
type SeriesKey struct{ Site, Asset string }

// BatchSeriesReader reads the same metrics of several assets in one call:
// for each asset, what SeriesReader.Series gives it over the same range
// (assets without data left out), each metric's samples in time order.
// An error means no result at all.
type BatchSeriesReader interface {
	SeriesBatch(ctx context.Context, assets []SeriesKey, metrics []string, from, to time.Time, step time.Duration) (map[SeriesKey]map[string][]Sample, error)
}

// Run scores every asset once, Concurrency at a time; it returns the
// errors after trying every asset.
func (s *Scorer) Run(ctx context.Context) error {
	_, err := s.RunCount(ctx)
	return err
}

// RunCount is Run returning the number of alerts raised.
func (s *Scorer) RunCount(ctx context.Context) (int, error) {
	lead := s.Lead
	if lead <= 0 {
		lead = 48 * time.Hour
	}
	models, err := s.Store.LatestModels(ctx)
	if err != nil {
		return 0, fmt.Errorf("score: %w", err)
	}
	now := s.Now().UTC()
	var (
		mu     sync.Mutex
		errs   []error
		alerts int
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	limit := s.Concurrency
	if limit <= 0 {
		limit = 8
	}
	for _, v := range models {
		if s.Only != "" && v.AssetType != s.Only {
			continue
		}
		assets, err := s.Assets.AssetsOfType(ctx, v.AssetType)
		if err != nil {
			errs = append(errs, fmt.Errorf("score %s: %w", v.AssetType, err))
			continue
		}
		last, err := s.Store.Restarts(ctx, v.AssetType)
		if err != nil {
			errs = append(errs, fmt.Errorf("score %s: %w", v.AssetType, err))
			continue
		}
		typeLead := lead
		if v.Model.LeadSeconds > 0 {
			typeLead = time.Duration(v.Model.LeadSeconds * float64(time.Second))
		}
		var g errgroup.Group
		g.SetLimit(limit)
		scoreOne := func(r SeriesReader, a AssetRef) {
			alert, err := s.score(ctx, r, v, a, last[a.ID], now)
			if err != nil {
				fail(fmt.Errorf("score %s/%s: %w", a.Site, a.Code, err))
				return
			}
			if alert == nil || s.Raise == nil || !v.OrdersAllowed() ||
				!v.Model.OrderDue(float64(alert.RUL), float64(alert.Upper-alert.RUL), float64(typeLead)) {
				return
			}
			if err := s.Raise(ctx, *alert); err != nil {
				fail(fmt.Errorf("score %s/%s: raise: %w", a.Site, a.Code, err))
				return
			}
			mu.Lock()
			alerts++
			mu.Unlock()
		}
		// The assets are read a batch at a time (one query), here, while
		// the previous batch's are scored.
		batch := s.batchSize(v)
		for len(assets) > 0 && ctx.Err() == nil {
			chunk := assets[:min(batch, len(assets))]
			assets = assets[len(chunk):]
			r, err := s.Series, error(nil)
			if batch > 1 {
				r, err = s.prefetch(ctx, v, chunk, now)
			}
			if err != nil {
				fail(fmt.Errorf("score %s: %d assets from %s/%s: %w", v.AssetType, len(chunk), chunk[0].Site, chunk[0].Code, err))
				continue
			}
			for _, a := range chunk {
				if ctx.Err() != nil {
					break
				}
				g.Go(func() error {
					scoreOne(r, a)
					return nil
				})
			}
		}
		if ctx.Err() != nil {
			fail(ctx.Err())
		}
		_ = g.Wait()
	}
	return alerts, errors.Join(errs...)
}

// lookBack is how far back the scorer looks for an asset's last data
// when it has none within the model's span.
const lookBack = 5 * 366 * 24 * time.Hour

// lastSpan finds the last 30-day window with data of the asset since
// lifeStart (at most lookBack ago) and returns the history of the hist
// steps that end at the last data in it.
func (s *Scorer) lastSpan(ctx context.Context, series SeriesReader, a AssetRef, metrics []string, lifeStart, now time.Time, step time.Duration, hist int) ([][]float64, time.Time, error) {
	const coarse = 30 * 24 * time.Hour
	lo := now.Add(-lookBack)
	if lifeStart.After(lo) {
		lo = lifeStart
	}
	set, err := series.Series(ctx, a.Site, a.Code, metrics, lo, now, coarse)
	if err != nil {
		return nil, time.Time{}, err
	}
	var last time.Time
	for _, ss := range set {
		for _, x := range ss {
			if x.TS.After(last) {
				last = x.TS
			}
		}
	}
	if last.IsZero() {
		return nil, time.Time{}, nil
	}
	from := last.Add(-time.Duration(hist) * step)
	if from.Before(lo) {
		from = lo
	}
	to := last.Add(coarse)
	if to.After(now) {
		to = now
	}
	rows, start, err := History(ctx, series, a.Site, a.Code, metrics, from, to, step)
	if err != nil || len(rows) <= hist {
		return rows, start, err
	}
	cut := len(rows) - hist
	return rows[cut:], start.Add(time.Duration(cut) * step), nil
}

// score scores one asset and stores the score; it returns the alert to
// consider (nil without an estimate).
func (s *Scorer) score(ctx context.Context, series SeriesReader, v Version, a AssetRef, restart, now time.Time) (*Alert, error) {
	spec := v.Model.Spec
	step, hist := stepOf(v)
	if step <= 0 {
		return nil, fmt.Errorf("model %s v%d has no step", v.AssetType, v.Version)
	}
	span := time.Duration(hist) * step
	// A failure or repair ends a life: the next one starts with the step
	// after.
	var lifeStart time.Time
	if !restart.IsZero() {
		lifeStart = restart.Truncate(step).Add(step)
	}
	from := now.Add(-span)
	if lifeStart.After(from) {
		from = lifeStart
	}
	rows, start, err := History(ctx, series, a.Site, a.Code, spec.Metrics, from, now, step)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		// Nothing within the span before now: readings that stopped long
		// ago, or a history uploaded with old times. Judge the span that
		// ends at the last data, as live scoring would have then.
		if rows, start, err = s.lastSpan(ctx, series, a, spec.Metrics, lifeStart, now, step, hist); err != nil {
			return nil, err
		}
	}
	sc := Score{AssetID: a.ID, AssetType: v.AssetType, Version: v.Version, ScoredAt: now}
	// The estimate is as of the end of the last step with data.
	at := start.Add(time.Duration(len(rows)) * step)
	var alert *Alert
	switch {
	case len(rows) == 0:
		sc.Status = StatusNoData
	case len(rows) < spec.ScoreRows():
		sc.Status = StatusShortHistory
	default:
		est, err := v.Model.Predict(rows)
		if err != nil {
			return nil, err
		}
		secs := func(steps float64) *float64 { x := steps * spec.StepSeconds; return &x }
		sc.Status = StatusOK
		sc.RUL, sc.Lower, sc.Upper = secs(est.RUL), secs(est.Lower), secs(est.Upper)
		sc.Features = map[string]float64{}
		for i, n := range spec.Names() {
			sc.Features[n] = est.Features[i]
		}
		d := func(steps float64) time.Duration { return time.Duration(steps * float64(step)) }
		if at.After(now) {
			at = now
		}
		// A silent asset is estimated as of its last data, in event
		// time: what scoring would have said then.
		sc.AsOf = &at
		alert = &Alert{Asset: a, AssetType: v.AssetType, Version: v.Version, At: at, Start: start, Rows: len(rows),
			RUL: d(est.RUL), Lower: d(est.Lower), Upper: d(est.Upper), Features: sc.Features, Kind: v.Model.Kind,
			Coverage: v.Model.Coverage, Drivers: drivers(spec, sc.Features, 3)}
	}
	if err := s.Store.SaveScore(ctx, sc); err != nil {
		return nil, err
	}
	return alert, nil
}

// batchSize is how many assets of v's type are read in one query: 1 when
// Series cannot read several at once. Also 1 in effect when v's steps do
// not line up with the Unix epoch (prefetch then reads one asset at a time).
func (s *Scorer) batchSize(v Version) int {
	if _, ok := s.Series.(BatchSeriesReader); !ok || s.Batch == 1 {
		return 1
	}
	if s.Batch > 0 {
		return s.Batch
	}
	return 10
}

// stepOf is the step and the number of steps of history of v's model
// (score reads that span; prefetch reads the same one ahead of it).
func stepOf(v Version) (time.Duration, int) {
	hist := v.Model.Spec.HistorySteps
	if hist <= 0 {
		hist = 400
	}
	return time.Duration(v.Model.Spec.StepSeconds * float64(time.Second)), hist
}

// prefetch reads the recent history score reads of each asset of chunk in
// one query and returns a reader that serves those reads from it (and any
// other from s.Series); batchSize says when to.
func (s *Scorer) prefetch(ctx context.Context, v Version, chunk []AssetRef, now time.Time) (SeriesReader, error) {
	br, ok := s.Series.(BatchSeriesReader)
	step, hist := stepOf(v)
	if !ok || step <= 0 {
		return s.Series, nil
	}
	// score reads [from, now] with from ≥ now − span: History asks for
	// [from.Truncate(step), now.Truncate(step) + step).
	from := now.Add(-time.Duration(hist) * step).Truncate(step)
	to := now.Truncate(step).Add(step)
	if !onEpochStep(from, step) || !onEpochStep(to, step) {
		return s.Series, nil
	}
	keys := make([]SeriesKey, len(chunk))
	for i, a := range chunk {
		keys[i] = SeriesKey{Site: a.Site, Asset: a.Code}
	}
	set, err := br.SeriesBatch(ctx, keys, v.Model.Spec.Metrics, from, to, step)
	if err != nil {
		return nil, err
	}
	return &readAhead{next: s.Series, from: from, to: to, step: step, metrics: v.Model.Spec.Metrics, set: set}, nil
}

// onEpochStep reports whether t is a whole number of steps since the Unix
// epoch, where InfluxDB's windows start.
func onEpochStep(t time.Time, step time.Duration) bool {
	return t.UnixNano()%int64(step) == 0
}

// readAhead serves Series from one batch read of metrics in [from, to)
// by step: a read of those metrics by the same step within the range (in
// whole steps since the epoch) is the batch's samples in it, exactly what
// the read's own query gives; a read by another step within the range of
// an asset the batch has no samples of there is empty, as its query
// would be. Any other read goes to next.
type readAhead struct {
	next     SeriesReader
	from, to time.Time
	step     time.Duration
	metrics  []string
	set      map[SeriesKey]map[string][]Sample
}

func (r *readAhead) Series(ctx context.Context, site, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]Sample, error) {
	inside := !from.Before(r.from) && !to.After(r.to) && to.After(from)
	for _, m := range metrics {
		if !slices.Contains(r.metrics, m) {
			inside = false
		}
	}
	if !inside {
		return r.next.Series(ctx, site, asset, metrics, from, to, step)
	}
	set := r.set[SeriesKey{Site: site, Asset: asset}]
	if step == r.step && onEpochStep(from, step) && onEpochStep(to, step) {
		out := make(map[string][]Sample, len(metrics))
		for _, m := range metrics {
			ss := set[m]
			lo, _ := slices.BinarySearchFunc(ss, from, func(x Sample, t time.Time) int { return x.TS.Compare(t) })
			hi, _ := slices.BinarySearchFunc(ss, to, func(x Sample, t time.Time) int { return x.TS.Compare(t) })
			if hi > lo {
				out[m] = slices.Clone(ss[lo:hi])
			}
		}
		return out, nil
	}
	// Another step: empty when no reading of the metrics falls in [from,
	// to), i.e. no batch window that overlaps it has a sample.
	lo := time.Unix(0, from.UnixNano()-from.UnixNano()%int64(r.step)).UTC()
	if from.UnixNano()%int64(r.step) < 0 || lo.Before(r.from) {
		return r.next.Series(ctx, site, asset, metrics, from, to, step)
	}
	for _, m := range metrics {
		ss := set[m]
		i, _ := slices.BinarySearchFunc(ss, lo, func(x Sample, t time.Time) int { return x.TS.Compare(t) })
		if i < len(ss) && ss[i].TS.Before(to) {
			return r.next.Series(ctx, site, asset, metrics, from, to, step)
		}
	}
	return map[string][]Sample{}, nil
}
