package predict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Job re-runs prediction over InfluxDB history for every covered asset.
// Schedule (*Job).Run with robfig/cron. It catches what the streaming
// predictor cannot see: streams that stalled or live on another replica
// (history is newer than the engine's state), late readings the engine
// dropped (its late count grew), and series the engine holds no state for
// (a replica that restarted). Series the engine follows completely are
// skipped: their streaming prediction is already current. Signals go
// through the engine's outbox, so they coalesce with streaming ones.
type Job struct {
	Engine    *rules.Engine
	History   rules.History
	Assets    rules.AssetLister
	Predictor *Predictor
	Logger    *slog.Logger
	// Now is the wall clock that ends the history window (default
	// time.Now).
	Now func() time.Time
	// ListBack: assets with readings this far back are re-predicted
	// (default 7d).
	ListBack time.Duration

	mu   sync.Mutex        // guards late
	late map[[2]string]int // asset id, rule id → late count at the last run
}

// JobStats says what one run did.
type JobStats struct {
	Assets   int
	Series   int
	Skipped  int
	Signals  int
	Failures int
}

// Run re-predicts once. A failing asset is logged and counted; the
// joined errors are returned after every asset was tried.
func (j *Job) Run(ctx context.Context) error {
	_, err := j.RunStats(ctx)
	return err
}

// RunStats is Run returning what it did.
func (j *Job) RunStats(ctx context.Context) (JobStats, error) {
	var st JobStats
	now := time.Now()
	if j.Now != nil {
		now = j.Now()
	}
	log := j.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pred := j.Predictor
	if pred == nil {
		pred = New(Options{})
	}
	j.mu.Lock()
	if j.late == nil {
		j.late = map[[2]string]int{}
	}
	j.mu.Unlock()
	back := j.ListBack
	if back <= 0 {
		back = 7 * 24 * time.Hour
	}
	assets, err := j.Assets.ListAssets(ctx, now.Add(-back), now.Add(time.Minute))
	if err != nil {
		return st, fmt.Errorf("re-predict: list assets: %w", err)
	}
	var errs []error
	for _, ac := range assets {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		a, found, err := j.Engine.Lookup(ctx, ac.Site, ac.Asset)
		if err != nil {
			st.Failures++
			errs = append(errs, fmt.Errorf("%s/%s: %w", ac.Site, ac.Asset, err))
			continue
		}
		if !found {
			continue
		}
		covering := j.Engine.CoveringRules(ctx, a)
		counted := false
		for i := range covering {
			r := &covering[i]
			if r.Predict == nil || r.Critical == nil {
				continue
			}
			if !counted {
				st.Assets++
				counted = true
			}
			st.Series++
			sig, skipped, err := j.series(ctx, pred, r, a, now)
			if err != nil {
				st.Failures++
				log.Warn("re-predict failed", "asset_id", a.ID, "rule_id", r.ID, "err", err)
				errs = append(errs, fmt.Errorf("%s/%s %s: %w", ac.Site, ac.Asset, r.ID, err))
				continue
			}
			if skipped {
				st.Skipped++
			}
			if sig != nil {
				st.Signals++
				j.Engine.Outbox().Put(*sig)
			}
		}
	}
	return st, errors.Join(errs...)
}

// series re-predicts one rule on one asset from history.
func (j *Job) series(ctx context.Context, pred *Predictor, r *rules.Rule, a rules.AssetRef, now time.Time) (*rules.Signal, bool, error) {
	w := r.Predict.Window.D()
	rd, err := j.History.ReadReadings(ctx, a.Site, a.Code, []string{r.Metric}, now.Add(-2*w), now.Add(time.Minute))
	if err != nil {
		return nil, false, err
	}
	if len(rd) == 0 {
		return nil, false, nil
	}
	sort.SliceStable(rd, func(i, k int) bool { return rd[i].TS.Before(rd[k].TS) })
	lastTS := rd[len(rd)-1].TS
	// Skip what the engine already follows completely.
	key := [2]string{a.ID, r.ID}
	late := -1
	for _, st := range j.Engine.Status(a.ID) {
		if st.Rule.ID == r.ID {
			late = st.State.Late
			if !st.State.Last.TS.Before(lastTS) {
				j.mu.Lock()
				prev, seen := j.late[key]
				j.late[key] = late
				j.mu.Unlock()
				if seen && late == prev || !seen && late == 0 {
					return nil, true, nil
				}
			}
		}
	}
	so := pred.NewSeries(r, a)
	if so == nil {
		return nil, false, nil
	}
	s := so.(*Series)
	for _, x := range rd {
		if v, ok := x.Value(r.Metric); ok && x.TS.After(s.lastValue.TS) {
			s.add(x.TS, v)
		}
	}
	// As the streaming predictor, require Confirm consecutive passing fits
	// (windows ending one bucket apart).
	pts := s.Points()
	var res Result
	for k := pred.opts.Confirm - 1; k >= 0; k-- {
		if len(pts)-k < 3 {
			return nil, false, nil
		}
		res = Fit(pts[:len(pts)-k], r, pred.opts.Fit)
		if res.Prediction == nil {
			return nil, false, nil
		}
	}
	sig := TrendSignal(r, a, res, lastTS)
	sig.Evidence["source"] = "re-prediction job"
	return &sig, false, nil
}
