package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Sample is one value of a metric: the mean over the step starting at TS.
type Sample struct {
	TS    time.Time
	Value float64
}

// SeriesReader reads metrics of an asset as means per step in [from,
// to), empty steps left out, keyed by metric (the InfluxDB client binds
// it, one query per call).
type SeriesReader interface {
	Series(ctx context.Context, site, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]Sample, error)
}

// MetricLister names the metrics an asset has readings of in [from, to).
type MetricLister interface {
	Metrics(ctx context.Context, site, asset string, from, to time.Time) ([]string, error)
}

// TimeLister gives the distinct times of an asset's readings (any
// metric) in [from, to), oldest first.
type TimeLister interface {
	ReadingTimes(ctx context.Context, site, asset string, from, to time.Time) ([]time.Time, error)
}

// ModelStore is what the trainer reads and writes.
type ModelStore interface {
	// Failures lists an asset type's failures, oldest first.
	Failures(ctx context.Context, assetType string) ([]Failure, error)
	// SaveModel stores the next version of a type's model.
	SaveModel(ctx context.Context, v Version) (Version, error)
	// LatestModel returns a type's latest model; an error wrapping a
	// not-found error when there is none (see Trainer.IsNotFound).
	LatestModel(ctx context.Context, assetType string) (Version, error)
}

// Settings choose what a training learns from; zero fields take the
// latest model's, else the defaults.
type Settings struct {
	// Metrics are the metrics used (default: those at least 80 % of the
	// failed units have readings of in the step before their failure).
	Metrics []string `json:"metrics,omitempty"`
	// Settings are the operating-setting metrics among Metrics (default:
	// the latest model's, else those IsSetting names).
	Settings []string `json:"settings,omitempty"`
	// Step is the time a row of the history stands for (default 1 h, or
	// the failed units' usual gap between readings when longer: see
	// Trainer.Times).
	Step time.Duration `json:"-"`
	// History is how far before each failure the history reaches (default
	// 400 steps); an earlier failure of the same asset cuts it short.
	History time.Duration `json:"-"`
	// Cap is the remaining-life cap in steps (default 125).
	Cap float64 `json:"cap,omitempty"`
	// Lead, when set, is the type's own order lead (the scorer's Lead
	// otherwise).
	Lead time.Duration `json:"-"`
	// OrderMargin, when set, is the type's order rule (Model.OrderMargin:
	// 0 orders on the point estimate, 1 on the interval's lower bound).
	OrderMargin *float64 `json:"-"`
	// Trees, when set, is whether the trees and ensembles are candidates
	// (Options.Trees; default: the latest model's, else off).
	Trees *bool `json:"-"`
	// Retrain marks the retrain job's training: it stores nothing when
	// another version was stored while it ran (ErrSuperseded).
	Retrain bool `json:"-"`
}

// Trainer trains and stores asset types' models from their failures and
// the histories before them.
type Trainer struct {
	Store   ModelStore
	Series  SeriesReader
	Metrics MetricLister
	// Times, when set, lets a first training without a step find it: the
	// median gap between the failed units' readings before their failure
	// when it is over an hour (a reading or cycle a day trains on days,
	// not on hours filled with the last value).
	Times TimeLister
	// IsNotFound tells the store's not-found error.
	IsNotFound func(error) bool
	Now        func() time.Time
	Options    Options
	// Lead is the order lead of types that set none (the scorer's): the
	// gate wants a validation RMSE within it (default DefaultGateLead).
	Lead time.Duration
}

// ErrNoMetrics is returned when the failed units share no metric.
var ErrNoMetrics = errors.New("the failed units have no metric in common")

// ErrSuperseded is returned by a retraining (Settings.Retrain) when
// another version was stored while it trained: that version, perhaps
// trained with new settings, stands.
var ErrSuperseded = errors.New("another version was stored while this retraining ran")

// Train trains a new version of assetType's model and stores it. Too
// few failures with history is an error wrapping ErrTooFewUnits; a
// retraining overtaken by another training stores nothing and
// returns ErrSuperseded, so it cannot put the old settings back over new
// ones (s.Retrain).
func (t *Trainer) Train(ctx context.Context, assetType string, s Settings) (Version, Report, error) {
	prevVersion := 0
	if prev, err := t.Store.LatestModel(ctx, assetType); err == nil {
		prevVersion = prev.Version
		if len(s.Metrics) == 0 {
			s.Metrics = prev.Model.Spec.Metrics
			if s.Settings == nil {
				s.Settings = prev.Model.Spec.Settings
			}
		}
		if s.Step <= 0 && prev.Model.Spec.StepSeconds > 0 {
			s.Step = time.Duration(prev.Model.Spec.StepSeconds * float64(time.Second))
		}
		if s.Cap <= 0 {
			s.Cap = prev.Model.Spec.Cap
		}
		if s.History <= 0 && s.Step > 0 && prev.Model.Spec.HistorySteps > 0 {
			s.History = time.Duration(prev.Model.Spec.HistorySteps) * s.Step
		}
		if s.Lead <= 0 {
			s.Lead = time.Duration(prev.Model.LeadSeconds * float64(time.Second))
		}
		if s.OrderMargin == nil {
			s.OrderMargin = prev.Model.OrderMargin
		}
		if s.Trees == nil {
			tr := prev.Model.WithTrees
			s.Trees = &tr
		}
	} else if t.IsNotFound == nil || !t.IsNotFound(err) {
		return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
	}
	if s.Cap <= 0 {
		s.Cap = DefaultCap
	}
	failures, err := t.Store.Failures(ctx, assetType)
	if err != nil {
		return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
	}
	if len(failures) < MinUnits {
		return Version{}, Report{}, fmt.Errorf("%d failures, need %d: %w", len(failures), MinUnits, ErrTooFewUnits)
	}
	if s.Step <= 0 {
		if s.Step, err = t.defaultStep(ctx, failures); err != nil {
			return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
		}
	}
	if s.History <= 0 {
		s.History = 400 * s.Step
	}
	if len(s.Metrics) == 0 {
		if s.Metrics, err = t.commonMetrics(ctx, failures, s.Step); err != nil {
			return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
		}
	}
	spec := Spec{Metrics: s.Metrics, Settings: s.Settings, Cap: s.Cap, StepSeconds: s.Step.Seconds(),
		HistorySteps: int(s.History / s.Step)}.withDefaults()
	var units []Unit
	prevEnd := map[string]time.Time{}
	for i, f := range failures {
		ReportProgress(ctx, PhaseHistory, i, len(failures))
		from := f.FailedAt.Add(-s.History)
		if p, ok := prevEnd[f.AssetID]; ok && p.After(from) {
			from = p
		}
		prevEnd[f.AssetID] = f.FailedAt
		rows, _, err := History(ctx, t.Series, f.Site, f.Asset, spec.Metrics, from, f.FailedAt, s.Step)
		if err != nil {
			return Version{}, Report{}, fmt.Errorf("train %s: history of %s/%s: %w", assetType, f.Site, f.Asset, err)
		}
		units = append(units, Unit{ID: f.Site + "/" + f.Asset + "@" + f.FailedAt.Format(time.RFC3339), Rows: rows})
	}
	ReportProgress(ctx, PhaseFitting, 0, 0)
	opts := t.Options
	if s.Trees != nil {
		opts.Trees = *s.Trees
	}
	m, rep, err := Train(units, spec, opts)
	if err != nil {
		return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
	}
	m.LeadSeconds = s.Lead.Seconds()
	m.OrderMargin = s.OrderMargin
	m.WithTrees = opts.Trees
	if s.Retrain {
		latest, err := t.Store.LatestModel(ctx, assetType)
		switch {
		case err == nil && latest.Version != prevVersion:
			return Version{}, Report{}, fmt.Errorf("train %s: v%d stored meanwhile: %w", assetType, latest.Version, ErrSuperseded)
		case err != nil && (t.IsNotFound == nil || !t.IsNotFound(err)):
			return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
		}
	}
	// The gate judges the version by the lead its orders will use (the
	// type's override is the store's, kept apart from the versions).
	lead := s.Lead
	if lead <= 0 {
		lead = t.Lead
	}
	gate := JudgeGate(m, rep, lead)
	v, err := t.Store.SaveModel(ctx, Version{AssetType: assetType, TrainedAt: t.Now().UTC(), Model: m, Report: rep, Gate: &gate})
	if err != nil {
		return Version{}, Report{}, fmt.Errorf("train %s: %w", assetType, err)
	}
	return v, rep, nil
}

// commonMetrics are the metrics that at least 80 % of the failed units
// (the latest 50) have readings of in the step before their failure,
// sorted: a unit whose data stopped early does not veto a metric.
func (t *Trainer) commonMetrics(ctx context.Context, failures []Failure, step time.Duration) ([]string, error) {
	count := map[string]int{}
	n := 0
	for _, f := range failures[max(0, len(failures)-50):] {
		ms, err := t.Metrics.Metrics(ctx, f.Site, f.Asset, f.FailedAt.Add(-step), f.FailedAt.Add(time.Nanosecond))
		if err != nil {
			return nil, err
		}
		n++
		for _, m := range ms {
			count[m]++
		}
	}
	var out []string
	for m, c := range count {
		if float64(c) >= 0.8*float64(n) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoMetrics
	}
	slices.Sort(out)
	return out, nil
}

// History reads an asset's metrics in [from, to] as rows of one step each,
// steps aligned to multiples of step since the Unix epoch: a step with no
// value of a metric carries the previous value forward; steps before the
// first and after the last value of any metric are left out. It also
// returns the start of the first row's step.
func History(ctx context.Context, r SeriesReader, site, asset string, metrics []string, from, to time.Time, step time.Duration) ([][]float64, time.Time, error) {
	// Rows are aligned to whole steps since the Unix epoch, so the
	// histories of different assets line up the same way.
	end := to.Truncate(step)
	start := from.Truncate(step)
	n := int(end.Sub(start)/step) + 1
	if n <= 0 {
		return nil, time.Time{}, nil
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, len(metrics))
		for k := range rows[i] {
			rows[i][k] = math.NaN()
		}
	}
	set, err := r.Series(ctx, site, asset, metrics, start, end.Add(step), step)
	if err != nil {
		return nil, time.Time{}, err
	}
	for k, m := range metrics {
		for _, s := range set[m] {
			i := int(s.TS.Sub(start) / step)
			if i >= 0 && i < n {
				rows[i][k] = s.Value
			}
		}
	}
	first, last := -1, -1
	for i, r := range rows {
		for k, v := range r {
			if !math.IsNaN(v) {
				last = i
				if first < 0 {
					first = i
				}
			} else if i > 0 {
				r[k] = rows[i-1][k]
			}
		}
	}
	if first < 0 {
		return nil, time.Time{}, nil
	}
	return rows[first : last+1], start.Add(time.Duration(first) * step), nil
}

// defaultStep is a first training's step when none is given: an hour,
// or the median gap between the readings of the latest failed units (up
// to 8) before their failure when that is longer, rounded (StepOfGap).
// Each unit is read back from its failure over a window growing eightfold
// from 10 minutes until it holds 24 readings (at most about five years),
// so dense data costs a short read.
func (t *Trainer) defaultStep(ctx context.Context, failures []Failure) (time.Duration, error) {
	if t.Times == nil {
		return time.Hour, nil
	}
	const want, longest = 24, 5 * 365 * 24 * time.Hour
	var gaps []time.Duration
	for _, f := range failures[max(0, len(failures)-8):] {
		var ts []time.Time
		for w := 10 * time.Minute; ; w *= 8 {
			var err error
			if ts, err = t.Times.ReadingTimes(ctx, f.Site, f.Asset, f.FailedAt.Add(-w), f.FailedAt.Add(time.Nanosecond)); err != nil {
				return 0, fmt.Errorf("reading times of %s/%s: %w", f.Site, f.Asset, err)
			}
			if len(ts) >= want || w >= longest {
				break
			}
		}
		gaps = appendGaps(gaps, ts)
	}
	return StepOfGap(gaps), nil
}

// appendGaps appends the gaps between successive distinct times of ts
// (oldest first) to gaps.
func appendGaps(gaps []time.Duration, ts []time.Time) []time.Duration {
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d > 0 {
			gaps = append(gaps, d)
		}
	}
	return gaps
}

// medianOf is the median of ds (not empty); ds is left as it was.
func medianOf(ds []time.Duration) time.Duration {
	g := slices.Clone(ds)
	slices.Sort(g)
	med := g[len(g)/2]
	if len(g)%2 == 0 {
		med = (g[len(g)/2-1] + med) / 2
	}
	return med
}

// MedianGap is the median gap between the distinct times of ts (in any
// order); false with fewer than two distinct times.
func MedianGap(ts []time.Time) (time.Duration, bool) {
	s := slices.Clone(ts)
	slices.SortFunc(s, time.Time.Compare)
	gaps := appendGaps(nil, s)
	if len(gaps) == 0 {
		return 0, false
	}
	return medianOf(gaps), true
}

// niceSteps are the steps a gap near one of them (within 5 %) is rounded to.
var niceSteps = []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour,
	8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour}

// StepOfGap is the training step for readings with these gaps: an hour
// when the median gap is an hour or less (or there are none), else the
// median rounded to a nearby whole step (1h-3d, 7d) or to the minute, at
// most 7 days.
func StepOfGap(gaps []time.Duration) time.Duration {
	if len(gaps) == 0 {
		return time.Hour
	}
	med := medianOf(gaps)
	if med <= time.Hour {
		return time.Hour
	}
	for _, n := range niceSteps {
		if d := med - n; d >= -n/20 && d <= n/20 {
			return n
		}
	}
	return min(med.Round(time.Minute), 7*24*time.Hour)
}
