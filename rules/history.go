package rules

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// History reads stored readings of one asset (the InfluxDB reader in
// ingest/influx satisfies it). Readings come back in any order; metrics
// limits which fields are read.
type History interface {
	ReadReadings(ctx context.Context, site, asset string, metrics []string, from, to time.Time) ([]ingest.Reading, error)
}

// AssetCode is an asset's codes in topics.
type AssetCode struct {
	Site  string
	Asset string
}

// AssetLister lists the assets that have readings between from and to.
type AssetLister interface {
	ListAssets(ctx context.Context, from, to time.Time) ([]AssetCode, error)
}

// AssetListerFunc adapts a function to an AssetLister (cmd wraps the
// InfluxDB client's asset listing with it).
type AssetListerFunc func(ctx context.Context, from, to time.Time) ([]AssetCode, error)

// ListAssets calls f.
func (f AssetListerFunc) ListAssets(ctx context.Context, from, to time.Time) ([]AssetCode, error) {
	return f(ctx, from, to)
}

// Lookback is how much history rebuilds a rule's state: one and a half
// prediction windows (see below), twice the `for` duration and the stale
// time, at least one hour.
func Lookback(r *Rule) time.Duration {
	d := max(time.Hour, 2*r.For.D(), r.Stale.D()+time.Hour)
	if r.Predict != nil {
		// The window and, before it, the refits a prediction's
		// confirmation looks back on (a quarter of the window, kept for
		// one and a half): a rebuild from any point raises what one
		// process that saw every reading would have.
		d = max(d, r.Predict.Window.D()*3/2)
	}
	return d
}

// WarmStart rebuilds the engine's state from history so that `for` timers
// and prediction windows resume at once after a start: every asset with
// readings in the longest lookback before now is rebuilt (see Rebuild).
// Run it before ingest starts consuming. It returns the number of readings
// replayed; a failing asset is logged and skipped, and the joined errors
// are returned at the end.
func (e *Engine) WarmStart(ctx context.Context, h History, l AssetLister, now time.Time) (int, error) {
	return e.RebuildWhere(ctx, h, l, now, now, nil)
}

// RebuildWhere rebuilds the assets with readings between the longest
// lookback before from and to for which keep returns true (all when keep
// is nil), replaying each from its lookback before from up to to; a
// replica that takes over a partition rebuilds that partition's assets
// from where its previous owner had got to in event time.
func (e *Engine) RebuildWhere(ctx context.Context, h History, l AssetLister, from, to time.Time, keep func(site, asset string) bool) (int, error) {
	rs := e.ruleSet(ctx)
	longest := time.Duration(0)
	for _, r := range rs.byID {
		longest = max(longest, Lookback(r))
	}
	if longest == 0 {
		return 0, nil
	}
	if from.After(to) {
		from = to
	}
	assets, err := l.ListAssets(ctx, from.Add(-longest), to)
	if err != nil {
		return 0, fmt.Errorf("rebuild: list assets: %w", err)
	}
	if keep != nil {
		// A new slice: the lister may share its result among callers.
		var mine []AssetCode
		for _, a := range assets {
			if keep(a.Site, a.Asset) {
				mine = append(mine, a)
			}
		}
		assets = mine
	}
	return e.Rebuild(ctx, h, assets, from, to)
}

// Rebuild replays each asset's readings from its lookback before from up
// to to (the lookback before now when from and to are now) through the
// engine, so
// that `for` timers, hysteresis and prediction windows hold what they
// would hold had the engine seen the readings live. Assets that are not
// registered or not covered by a rule are skipped.
//
// What the replay raises: a threshold signal of a series that is synced
// (a reading back inside its limits came before, see Tracker.Synced) is
// exactly what the live evaluation raised or would have raised from those
// readings, with the same event time, so it is queued again: the ticket
// core drops one it already has, and one that was lost (the process
// crashed before delivering it, the replica that owned the asset died) is
// delivered now. So is a threshold signal or a prediction raised by a
// reading after from, synced or not, with that reading's time: no one
// evaluated the reading before. Other signals are muted: a breach that
// began before the lookback was raised back then; predictions are
// re-armed and raised again by the next reading if they still hold.
// Readings already consumed are
// never overwritten (late readings are ignored per series). It returns the
// number of readings replayed; a failing asset is logged and skipped, and
// the joined errors are returned at the end.
func (e *Engine) Rebuild(ctx context.Context, h History, assets []AssetCode, from, to time.Time) (int, error) {
	var errs []error
	n := 0
	ids := map[string]struct{}{}
	for _, ac := range assets {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		a, ok := e.lookup(ctx, ac.Site, ac.Asset)
		if !ok {
			continue
		}
		covering := e.CoveringRules(ctx, a)
		if len(covering) == 0 {
			continue
		}
		lb := time.Duration(0)
		metrics := map[string]struct{}{}
		for i := range covering {
			lb = max(lb, Lookback(&covering[i]))
			metrics[covering[i].Metric] = struct{}{}
		}
		names := make([]string, 0, len(metrics))
		for m := range metrics {
			names = append(names, m)
		}
		sort.Strings(names)
		rd, err := h.ReadReadings(ctx, ac.Site, ac.Asset, names, from.Add(-lb), to)
		if err != nil {
			e.log.Warn("rebuild: read history", "site", ac.Site, "asset", ac.Asset, "err", err)
			errs = append(errs, fmt.Errorf("%s/%s: %w", ac.Site, ac.Asset, err))
			continue
		}
		sort.SliceStable(rd, func(i, j int) bool { return rd[i].TS.Before(rd[j].TS) })
		e.consume(ctx, rd, func(Signal) {}, nil, func(s Signal) {
			// Readings after from were never evaluated: what they raise
			// is raised now even when the series is not synced (better a
			// signal the ticket core folds into an open order than a lost
			// one).
			e.reraise(s)
		}, from, false)
		ids[a.ID] = struct{}{}
		n += len(rd)
	}
	e.rearm(func(id string) bool { _, ok := ids[id]; return ok })
	return n, errors.Join(errs...)
}

// reraise queues a signal a rebuild raised again and counts it.
func (e *Engine) reraise(s Signal) {
	e.reraised.Add(1)
	e.out.Put(s)
}

// Reraised counts the signals rebuilds queued again (most of them the
// ticket core already had).
func (e *Engine) Reraised() uint64 { return e.reraised.Load() }

// Rearmer is implemented by series observers that remember what they
// raised; after a warm start the engine calls Rearm so that what they
// muted during the replay is raised again when it still holds.
type Rearmer interface {
	Rearm()
}

func (e *Engine) rearm(which func(assetID string) bool) {
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for id, m := range sh.assets {
			if !which(id) {
				continue
			}
			for _, s := range m {
				for _, o := range s.obs {
					if r, ok := o.(Rearmer); ok {
						r.Rearm()
					}
				}
			}
		}
		sh.mu.Unlock()
	}
}

// MaxBacktestPeriod bounds how much history one backtest replays.
const MaxBacktestPeriod = 366 * 24 * time.Hour

// WouldOrder is a work order a backtest would have opened: the first
// order-raising signal per (asset, failure mode); later ones would only
// have updated it.
type WouldOrder struct {
	AssetID     string      `json:"asset_id"`
	Site        string      `json:"site"`
	Asset       string      `json:"asset"`
	RuleID      string      `json:"rule_id,omitempty"`
	FailureMode string      `json:"failure_mode"`
	Source      Kind        `json:"source"`
	DetectedAt  time.Time   `json:"detected_at"`
	Prediction  *Prediction `json:"prediction,omitempty"`
	Updates     int         `json:"updates"`
}

// BacktestResult is what a rule would have raised over a period.
type BacktestResult struct {
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Assets   int          `json:"assets"`
	Readings int          `json:"readings"`
	Signals  []Signal     `json:"signals"`
	Orders   []WouldOrder `json:"orders"`
}

// RaisesOrder reports whether a signal opens (or updates) a work order:
// critical threshold, trend and event signals do.
func RaisesOrder(s Signal) bool {
	return s.Level == LevelCritical && (s.Kind == KindThreshold || s.Kind == KindTrend || s.Kind == KindEvent)
}

// Backtester replays history through one rule, changing nothing.
type Backtester struct {
	History   History
	Observers []Observer // the same observers the Engine runs (prediction)
}

// Backtest replays [from, to) of each asset's history through r (saved or
// draft; it need not be enabled) and returns the signals and orders it
// would have raised. r is validated first (a *ValidationError when bad).
// The caller chooses the assets (those r covers).
func (b *Backtester) Backtest(ctx context.Context, r Rule, assets []AssetRef, from, to time.Time) (BacktestResult, error) {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return BacktestResult{}, err
	}
	if !from.Before(to) {
		return BacktestResult{}, &ValidationError{Fields: []FieldError{{Field: "to", Message: "must be after from"}}}
	}
	if to.Sub(from) > MaxBacktestPeriod {
		return BacktestResult{}, &ValidationError{Fields: []FieldError{{Field: "from", Message: "period is longer than 366d"}}}
	}
	res := BacktestResult{From: from, To: to, Assets: len(assets), Signals: []Signal{}, Orders: []WouldOrder{}}
	orders := map[string]int{} // asset id + failure mode → index in res.Orders
	for _, a := range assets {
		rd, err := b.History.ReadReadings(ctx, a.Site, a.Code, []string{r.Metric}, from, to)
		if err != nil {
			return BacktestResult{}, fmt.Errorf("backtest %s/%s: %w", a.Site, a.Code, err)
		}
		sort.SliceStable(rd, func(i, j int) bool { return rd[i].TS.Before(rd[j].TS) })
		res.Readings += len(rd)
		sigs := Replay(&r, a, rd, b.Observers)
		for _, s := range sigs {
			res.Signals = append(res.Signals, s)
			if !RaisesOrder(s) {
				continue
			}
			k := a.ID + "\x00" + s.FailureMode
			if i, ok := orders[k]; ok {
				res.Orders[i].Updates++
				if s.Prediction != nil {
					res.Orders[i].Prediction = s.Prediction
				}
				continue
			}
			orders[k] = len(res.Orders)
			res.Orders = append(res.Orders, WouldOrder{
				AssetID: a.ID, Site: a.Site, Asset: a.Code, RuleID: r.ID, FailureMode: s.FailureMode,
				Source: s.Kind, DetectedAt: s.DetectedAt, Prediction: s.Prediction,
			})
		}
	}
	return res, nil
}

// Replay runs readings (sorted by event time) of one asset through one rule
// and the observers and returns every signal raised, as the Engine would.
// Stale sensors are checked against the asset's own readings: a gap longer
// than the rule's stale time raises a stale signal when the next reading
// arrives. It is pure.
func Replay(r *Rule, a AssetRef, readings []ingest.Reading, observers []Observer) []Signal {
	var t Tracker
	var obs []SeriesObserver
	for _, o := range observers {
		if so := o.NewSeries(r, a); so != nil {
			obs = append(obs, so)
		}
	}
	var out []Signal
	for _, rd := range readings {
		v, ok := rd.Value(r.Metric)
		if !ok {
			continue
		}
		out = append(out, t.CheckStale(r, a, rd.TS)...)
		sigs, accepted := t.Step(r, a, rd.TS, v)
		if !accepted {
			continue
		}
		out = append(out, sigs...)
		for _, o := range obs {
			out = append(out, o.Observe(rd.TS, v)...)
		}
	}
	return out
}
