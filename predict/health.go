package predict

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/openpdm/pdm/rules"
)

// AssetByID resolves a registered asset by id. found is false (with no
// error) when there is no such asset.
type AssetByID interface {
	AssetByID(ctx context.Context, id string) (a rules.AssetRef, found bool, err error)
}

// ErrUnknownAsset is returned for an asset id that is not registered.
var ErrUnknownAsset = errors.New("unknown asset")

// AssetHealth is the answer of GET /assets/{id}/health: per metric the
// latest value, the rule state and the current prediction.
type AssetHealth struct {
	AssetID string         `json:"asset_id"`
	Metrics []MetricHealth `json:"metrics"`
}

// MetricHealth is one rule's view of one metric of an asset.
type MetricHealth struct {
	Metric    string          `json:"metric"`
	RuleID    string          `json:"rule_id"`
	RuleName  string          `json:"rule_name"`
	Direction rules.Direction `json:"direction"`
	Warn      *float64        `json:"warn,omitempty"`
	Critical  *float64        `json:"critical,omitempty"`
	// Latest is the latest reading (nil when none is known).
	Latest *rules.Sample `json:"latest"`
	// State is ok, warning, critical, stale, or unknown (no readings).
	State      string     `json:"state"`
	StateSince *time.Time `json:"state_since,omitempty"`
	// Prediction is set for rules with `predict`.
	Prediction *PredictionHealth `json:"prediction,omitempty"`
}

// PredictionHealth is the current prediction of one metric. Status is "ok"
// when the fit passes every gate and crosses within the horizon, else
// the gate that stopped it (insufficient_points, low_r2,
// no_trend_towards_limit, slope_not_significant, beyond_horizon, ...); the
// fit's slope and r2 are shown whenever a fit was made, the crossing and
// remaining life whenever the fit crosses the limit.
type PredictionHealth struct {
	Status             string     `json:"status"`
	Model              string     `json:"model,omitempty"`
	Slope              float64    `json:"slope"`
	Intercept          float64    `json:"intercept"`
	R2                 float64    `json:"r2"`
	Points             int        `json:"points"`
	WindowStart        *time.Time `json:"window_start,omitempty"`
	WindowEnd          *time.Time `json:"window_end,omitempty"`
	Limit              float64    `json:"limit"`
	PredictedFailureAt *time.Time `json:"predicted_failure_at,omitempty"`
	Earliest           *time.Time `json:"predicted_failure_earliest,omitempty"`
	Latest             *time.Time `json:"predicted_failure_latest,omitempty"`
	// RUL and its bounds run from the window end to the crossing and to
	// the interval's edges; nil when the fit does not cross the limit.
	RUL      *time.Duration `json:"-"`
	RULLower *time.Duration `json:"-"`
	RULUpper *time.Duration `json:"-"`
}

// Readable formats a remaining life for people: the two largest units,
// rounded down ("5d 23h", "3h 20m", "45m 10s", "30s"; "0s" for none).
func Readable(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	units := []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.d {
			continue
		}
		out := fmt.Sprintf("%d%s", d/u.d, u.s)
		if i+1 < len(units) {
			if r := (d % u.d) / units[i+1].d; r > 0 {
				out += fmt.Sprintf(" %d%s", r, units[i+1].s)
			}
		}
		return out
	}
	return "0s"
}

// HealthService answers health questions from the engine's live state
// and, for rules the engine holds no state for (an API-only replica, or no
// reading since start), from history.
type HealthService struct {
	// Engine is the live rules engine; nil on replicas that do not run it.
	Engine *rules.Engine
	Assets AssetByID
	Rules  rules.RuleSource
	// History may be nil; then rules without live state show "unknown".
	History   rules.History
	Predictor *Predictor
	// Now is the clock for history reads (default time.Now).
	Now func() time.Time
}

// Health returns an asset's health; ErrUnknownAsset when the asset does
// not exist.
func (h *HealthService) Health(ctx context.Context, assetID string) (AssetHealth, error) {
	a, found, err := h.Assets.AssetByID(ctx, assetID)
	if err != nil {
		return AssetHealth{}, fmt.Errorf("health %s: %w", assetID, err)
	}
	if !found {
		return AssetHealth{}, fmt.Errorf("health %s: %w", assetID, ErrUnknownAsset)
	}
	all, err := h.Rules.Rules(ctx)
	if err != nil {
		return AssetHealth{}, fmt.Errorf("health %s: %w", assetID, err)
	}
	live := map[string]rules.SeriesStatus{}
	if h.Engine != nil {
		for _, st := range h.Engine.Status(assetID) {
			live[st.Rule.ID] = st
		}
	}
	pred := h.Predictor
	if pred == nil {
		pred = New(Options{})
	}
	out := AssetHealth{AssetID: assetID, Metrics: []MetricHealth{}}
	for i := range all {
		r := all[i]
		if !r.Enabled || !r.Covers(a.ID, a.Type) {
			continue
		}
		mh := MetricHealth{Metric: r.Metric, RuleID: r.ID, RuleName: r.Name, Direction: r.Direction,
			Warn: r.Warn, Critical: r.Critical, State: "unknown"}
		var state rules.State
		var ps *SeriesStatus
		if st, ok := live[r.ID]; ok {
			state = st.State
			for _, o := range st.Observers {
				if s, ok := o.(SeriesStatus); ok {
					ps = &s
				}
			}
		} else if h.History != nil {
			state, ps, err = h.fromHistory(ctx, pred, &r, a)
			if err != nil {
				return AssetHealth{}, fmt.Errorf("health %s: %w", assetID, err)
			}
		}
		if !state.Last.TS.IsZero() {
			last := state.Last
			mh.Latest = &last
			mh.State = state.Level
			if !state.Since.IsZero() {
				since := state.Since
				mh.StateSince = &since
			}
		}
		if r.Predict != nil && ps != nil {
			mh.Prediction = predictionHealth(ps.Fit)
		}
		out.Metrics = append(out.Metrics, mh)
	}
	sort.Slice(out.Metrics, func(i, j int) bool {
		if out.Metrics[i].Metric != out.Metrics[j].Metric {
			return out.Metrics[i].Metric < out.Metrics[j].Metric
		}
		return out.Metrics[i].RuleName < out.Metrics[j].RuleName
	})
	return out, nil
}

// fromHistory rebuilds one rule's state from its lookback of history.
func (h *HealthService) fromHistory(ctx context.Context, pred *Predictor, r *rules.Rule, a rules.AssetRef) (rules.State, *SeriesStatus, error) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	rd, err := h.History.ReadReadings(ctx, a.Site, a.Code, []string{r.Metric}, now.Add(-rules.Lookback(r)), now.Add(time.Minute))
	if err != nil {
		return rules.State{}, nil, err
	}
	sort.SliceStable(rd, func(i, j int) bool { return rd[i].TS.Before(rd[j].TS) })
	var tr rules.Tracker
	var s *Series
	if so := pred.NewSeries(r, a); so != nil {
		s = so.(*Series)
	}
	for _, x := range rd {
		v, ok := x.Value(r.Metric)
		if !ok {
			continue
		}
		if _, ok := tr.Step(r, a, x.TS, v); ok && s != nil {
			s.add(x.TS, v)
		}
	}
	if s == nil {
		return tr.Snapshot(), nil, nil
	}
	s.last = Fit(s.Points(), r, pred.opts.Fit)
	st := s.Status().(SeriesStatus)
	return tr.Snapshot(), &st, nil
}

func predictionHealth(res Result) *PredictionHealth {
	ph := &PredictionHealth{Status: res.Reason, Model: res.Model, Slope: res.Slope, Intercept: res.Intercept,
		R2: res.R2, Points: res.Points, Limit: res.Limit}
	if !res.Start.IsZero() {
		s, e := res.Start, res.End
		ph.WindowStart, ph.WindowEnd = &s, &e
	}
	dur := func(d time.Duration) *time.Duration {
		v := max(d, 0)
		return &v
	}
	if p := res.Prediction; p != nil {
		c, e, l := p.CrossingAt, p.CrossingEarliest, p.CrossingLatest
		ph.PredictedFailureAt, ph.Earliest, ph.Latest = &c, &e, &l
		ph.RUL = dur(c.Sub(p.WindowEnd))
		ph.RULLower = dur(e.Sub(p.WindowEnd))
		ph.RULUpper = dur(l.Sub(p.WindowEnd))
	} else if !res.Crossing.IsZero() {
		c := res.Crossing
		ph.PredictedFailureAt = &c
		ph.RUL = dur(c.Sub(res.End))
	}
	return ph
}
