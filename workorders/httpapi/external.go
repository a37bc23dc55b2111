package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// Reject is one rejected ingest message.
type Reject struct {
	At      time.Time `json:"at"`
	Topic   string    `json:"topic"`
	Reason  string    `json:"reason"`
	Payload string    `json:"payload"` // the first 512 bytes
}

// RejectsLister returns the latest rejected ingest messages, newest first.
type RejectsLister interface {
	Rejects(ctx context.Context) []Reject
}

// TelemetryQuery asks for an asset's series. Metric "" means every metric;
// Every 0 means raw points.
type TelemetryQuery struct {
	SiteCode  string
	AssetCode string
	Metric    string
	From, To  time.Time
	Every     time.Duration
}

// Point is one value of a series.
type Point struct {
	TS    time.Time `json:"ts"`
	Value float64   `json:"value"`
}

// Series is one metric's points.
type Series struct {
	Metric string  `json:"metric"`
	Points []Point `json:"points"`
	// Every is the averaging window when the points are downsampled.
	Every string `json:"every,omitempty"`
}

// TelemetryReader reads series from the time-series store; it returns an
// error when the store cannot be queried.
type TelemetryReader interface {
	Telemetry(ctx context.Context, q TelemetryQuery) ([]Series, error)
}

// MetricHealth is one metric's health: latest value, rule state and the
// current prediction (nil when none).
type MetricHealth struct {
	Metric     string            `json:"metric"`
	Value      *float64          `json:"value"`
	TS         *time.Time        `json:"ts"`
	RuleID     string            `json:"rule_id,omitempty"`
	RuleState  string            `json:"rule_state"`
	Prediction *HealthPrediction `json:"prediction"`
}

// AssetHealth is the health endpoint's answer.
type AssetHealth struct {
	AssetID string         `json:"asset_id"`
	Site    string         `json:"site"`
	Asset   string         `json:"asset"`
	Metrics []MetricHealth `json:"metrics"`
	// Fleet is the asset type's fleet model's latest estimate (absent
	// when the type has no model yet).
	Fleet *FleetHealth `json:"fleet,omitempty"`
}

// HealthProvider gives an asset's per-metric health.
type HealthProvider interface {
	Health(ctx context.Context, asset workorders.AssetRef) ([]MetricHealth, error)
}

// Backtester replays [from, to) of history through rule and returns the
// signals it would have raised, changing nothing.
type Backtester interface {
	Backtest(ctx context.Context, rule rules.Rule, from, to time.Time) ([]rules.Signal, error)
}

// BacktestOrder is an order a backtest would have raised (one per asset and
// failure mode, later signals update it).
type BacktestOrder struct {
	Site               string              `json:"site"`
	Asset              string              `json:"asset"`
	AssetID            string              `json:"asset_id,omitempty"`
	FailureMode        string              `json:"failure_mode"`
	Source             workorders.Source   `json:"source"`
	Priority           workorders.Priority `json:"priority"`
	DetectedAt         time.Time           `json:"detected_at"`
	PredictedFailureAt *time.Time          `json:"predicted_failure_at,omitempty"`
	Signals            int                 `json:"signals"`
}

// BacktestResult is the backtest endpoints' answer.
type BacktestResult struct {
	Signals []rules.Signal  `json:"signals"`
	Orders  []BacktestOrder `json:"orders"`
}

func (s *Server) ingestRoutes() {
	s.handle(Route{Method: "GET", Path: "/ingest/rejects", Roles: readers(), Tag: "ingest",
		Summary: "The latest 1,000 rejected ingest messages", Response: "RejectList"}, func(c *gin.Context) {
		if s.cfg.Rejects == nil {
			s.fail(c, fmt.Errorf("ingest rejects: %w (no ingest in this process)", errNotConfigured))
			return
		}
		c.JSON(http.StatusOK, list(s.cfg.Rejects.Rejects(c.Request.Context()), ""))
	})
}

func (s *Server) assetRef(c *gin.Context) (workorders.AssetRef, error) {
	a, err := s.svc.GetAsset(c.Request.Context(), c.Param("id"))
	if err != nil {
		return workorders.AssetRef{}, err
	}
	return workorders.AssetRef{ID: a.ID, SiteCode: a.SiteCode, Code: a.Code, Type: a.Type, Criticality: a.Criticality}, nil
}

func (s *Server) telemetry(c *gin.Context) {
	if s.cfg.Telemetry == nil {
		s.fail(c, fmt.Errorf("telemetry: %w (no time-series reader)", errNotConfigured))
		return
	}
	a, err := s.assetRef(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	q := TelemetryQuery{SiteCode: a.SiteCode, AssetCode: a.Code, Metric: c.Query("metric")}
	if q.From, q.To, err = queryRange(c); err != nil {
		s.fail(c, err)
		return
	}
	if q.To.IsZero() {
		q.To = time.Now().UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if !q.From.Before(q.To) {
		s.fail(c, workorders.Unprocessable("from", "must be before to"))
		return
	}
	if e := c.Query("every"); e != "" {
		d, err := rules.ParseDuration(e)
		if err != nil || d <= 0 {
			s.fail(c, workorders.Invalid("every", "must be a duration such as 1m"))
			return
		}
		q.Every = d.D()
	}
	if q.Every == 0 {
		// Downsample on the server: at most max_points per series.
		maxPoints := defaultMaxPoints
		if v := c.Query("max_points"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 10 || n > 100000 {
				s.fail(c, workorders.Invalid("max_points", "must be an integer from 10 to 100000"))
				return
			}
			maxPoints = n
		}
		q.Every = autoEvery(q.To.Sub(q.From), maxPoints)
	}
	series, err := s.cfg.Telemetry.Telemetry(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	if q.Every > 0 {
		for i := range series {
			series[i].Every = rules.Duration(q.Every).String()
		}
	}
	c.JSON(http.StatusOK, list(series, ""))
}

// defaultMaxPoints is how many points a telemetry read returns at most
// per series when the client names neither every nor max_points: enough
// for a chart as wide as a screen, twice over.
const defaultMaxPoints = 4000

// niceSteps are the averaging windows a downsampled read uses.
var niceSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// autoEvery returns the smallest nice window that keeps a range within
// maxPoints, or 0 (raw readings) when readings a second apart would fit.
func autoEvery(span time.Duration, maxPoints int) time.Duration {
	if maxPoints <= 0 || span <= time.Duration(maxPoints)*time.Second {
		return 0
	}
	want := span / time.Duration(maxPoints)
	for _, st := range niceSteps {
		if st >= want {
			return st
		}
	}
	days := (want + 24*time.Hour - 1) / (24 * time.Hour)
	return days * 24 * time.Hour
}

func (s *Server) health(c *gin.Context) {
	if s.cfg.Health == nil {
		s.fail(c, fmt.Errorf("health: %w (no prediction in this process)", errNotConfigured))
		return
	}
	a, err := s.assetRef(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ms, err := s.cfg.Health.Health(c.Request.Context(), a)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ms == nil {
		ms = []MetricHealth{}
	}
	c.JSON(http.StatusOK, AssetHealth{AssetID: a.ID, Site: a.SiteCode, Asset: a.Code, Metrics: ms,
		Fleet: s.fleetHealth(c.Request.Context(), a.ID)})
}

type backtestIn struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type draftBacktestIn struct {
	Rule rules.Rule `json:"rule"`
	From time.Time  `json:"from"`
	To   time.Time  `json:"to"`
}

func (s *Server) backtestSaved(c *gin.Context) {
	var in backtestIn
	if err := s.decode(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.svc.GetRule(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.runBacktest(c, r, in.From, in.To)
}

func (s *Server) backtestDraft(c *gin.Context) {
	var in draftBacktestIn
	if err := s.decode(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.Rule.Priority == "" {
		in.Rule.Priority = string(workorders.P3)
	}
	if err := workorders.ValidateRule(in.Rule); err != nil {
		s.fail(c, err)
		return
	}
	s.runBacktest(c, in.Rule, in.From, in.To)
}

func (s *Server) runBacktest(c *gin.Context, r rules.Rule, from, to time.Time) {
	if s.cfg.Backtester == nil {
		s.fail(c, fmt.Errorf("backtest: %w (no history reader)", errNotConfigured))
		return
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		s.fail(c, workorders.Unprocessable("from", "from and to are required and from must be before to"))
		return
	}
	if to.Sub(from) > 366*24*time.Hour {
		s.fail(c, workorders.Unprocessable("to", "at most one year per backtest"))
		return
	}
	sigs, err := s.cfg.Backtester.Backtest(c.Request.Context(), r, from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	if sigs == nil {
		sigs = []rules.Signal{}
	}
	ctx := c.Request.Context()
	crit := map[string]int{}
	criticality := func(assetID string) int {
		if v, ok := crit[assetID]; ok {
			return v
		}
		v := 3 // an asset deleted since keeps the default
		if a, err := s.svc.GetAsset(ctx, assetID); err == nil {
			v = a.Criticality
		}
		crit[assetID] = v
		return v
	}
	c.JSON(http.StatusOK, BacktestResult{Signals: sigs, Orders: wouldRaise(r, sigs, criticality)})
}

// wouldRaise applies the auto-order rules to backtest signals without
// storing anything: one order per (asset, failure mode), later signals
// raise its priority; each priced with its asset's own criticality.
func wouldRaise(r rules.Rule, sigs []rules.Signal, criticality func(assetID string) int) []BacktestOrder {
	type key struct{ site, asset, mode string }
	byKey := map[key]*BacktestOrder{}
	var order []key
	sorted := append([]rules.Signal(nil), sigs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].DetectedAt.Before(sorted[j].DetectedAt) })
	for _, sig := range sorted {
		if !workorders.WantsOrder(sig) {
			continue
		}
		mode := workorders.FailureModeOf(sig, &r)
		k := key{sig.Site, sig.Asset, mode}
		prio := workorders.AutoPriority(workorders.Priority(r.Priority), sig, criticality(sig.AssetID))
		o := byKey[k]
		if o == nil {
			o = &BacktestOrder{Site: sig.Site, Asset: sig.Asset, AssetID: sig.AssetID, FailureMode: mode,
				Source: workorders.Source(sig.Kind), Priority: prio, DetectedAt: sig.DetectedAt}
			byKey[k] = o
			order = append(order, k)
		}
		o.Priority = workorders.Higher(o.Priority, prio)
		o.Signals++
		if sig.Prediction != nil && !sig.Prediction.CrossingAt.IsZero() {
			t := sig.Prediction.CrossingAt
			o.PredictedFailureAt = &t
		}
	}
	out := make([]BacktestOrder, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}
