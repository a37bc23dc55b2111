package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/rules/spool"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// lockVerifier keeps the verification job to one replica at a time (the
// ticket core's keys are 0x70646d00xx and 0x70646d01xx).
const lockVerifier int64 = 0x70646d0200

// startPredictJobs schedules the re-prediction over InfluxDB history (each
// replica re-predicts what its own engine covers) and the verification of
// completed orders from post-repair telemetry (one replica at a time).
func (c *core) startPredictJobs(ctx context.Context, g *errgroup.Group, log *slog.Logger, job *predict.Job, ver *predict.Verifier, every, verifyEvery time.Duration) {
	cl := cronLogger{log.With("component", "cron")}
	cr := cron.New(cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)), cron.WithLogger(cl))
	cr.Schedule(cron.Every(every), cron.FuncJob(func() {
		if err := job.Run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("re-prediction job", "err", err)
		}
	}))
	cr.Schedule(cron.Every(verifyEvery), cron.FuncJob(func() {
		_, err := c.store.WithLock(ctx, lockVerifier, ver.Run)
		if err != nil && ctx.Err() == nil {
			log.Warn("verification job", "err", err)
		}
	}))
	cr.Start()
	g.Go(func() error {
		<-ctx.Done()
		<-cr.Stop().Done()
		return nil
	})
}

// coreAssets resolves assets by id for prediction.
type coreAssets struct{ c *core }

func (a coreAssets) AssetByID(ctx context.Context, id string) (rules.AssetRef, bool, error) {
	x, err := a.c.store.GetAsset(ctx, id)
	if errors.Is(err, workorders.ErrNotFound) {
		return rules.AssetRef{}, false, nil
	}
	var verr *workorders.ValidationError
	if errors.As(err, &verr) { // not a UUID: no such asset
		return rules.AssetRef{}, false, nil
	}
	if err != nil {
		return rules.AssetRef{}, false, err
	}
	return rules.AssetRef{Site: x.SiteCode, Code: x.Code, ID: x.ID, Type: x.Type}, true, nil
}

func (a coreAssets) Rule(ctx context.Context, id string) (rules.Rule, bool, error) {
	r, err := a.c.store.GetRule(ctx, id)
	if errors.Is(err, workorders.ErrNotFound) {
		return rules.Rule{}, false, nil
	}
	if err != nil {
		return rules.Rule{}, false, err
	}
	return r, true, nil
}

// CompletedOrders lists completed orders awaiting verification.
func (a coreAssets) CompletedOrders(ctx context.Context) ([]predict.CompletedOrder, error) {
	var out []predict.CompletedOrder
	p := workorders.Page{Limit: 500}
	for {
		os, next, err := a.c.svc.AwaitingVerification(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			co := predict.CompletedOrder{ID: o.ID, AssetID: o.AssetID}
			if o.RuleID != nil {
				co.RuleID = *o.RuleID
			}
			if o.CompletedAt != nil {
				co.CompletedAt = *o.CompletedAt
			}
			out = append(out, co)
		}
		if next == "" {
			return out, nil
		}
		p.Cursor = next
	}
}

// healthProvider adapts prediction's health view to the API's.
type healthProvider struct{ h *predict.HealthService }

func (p healthProvider) Health(ctx context.Context, a workorders.AssetRef) ([]httpapi.MetricHealth, error) {
	ah, err := p.h.Health(ctx, a.ID)
	if errors.Is(err, predict.ErrUnknownAsset) {
		return nil, workorders.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.MetricHealth, 0, len(ah.Metrics))
	for _, m := range ah.Metrics {
		mh := httpapi.MetricHealth{Metric: m.Metric, RuleID: m.RuleID, RuleState: m.State}
		if m.Latest != nil {
			v, ts := m.Latest.Value, m.Latest.TS
			mh.Value, mh.TS = &v, &ts
		}
		if ph := m.Prediction; ph != nil {
			mh.Prediction = healthPrediction(ph)
		}
		out = append(out, mh)
	}
	return out, nil
}

// healthPrediction is the API's form of a prediction: status always,
// crossing times and remaining life null when there is no crossing.
func healthPrediction(ph *predict.PredictionHealth) *httpapi.HealthPrediction {
	out := &httpapi.HealthPrediction{Status: ph.Status, Model: ph.Model, Slope: ph.Slope, Intercept: ph.Intercept,
		R2: ph.R2, Points: ph.Points, Limit: ph.Limit, WindowStart: ph.WindowStart, WindowEnd: ph.WindowEnd,
		PredictedFailureAt: ph.PredictedFailureAt, Earliest: ph.Earliest, Latest: ph.Latest}
	if out.Status == "" {
		out.Status = predict.ReasonFewPoints
	}
	secs := func(d *time.Duration) *float64 {
		if d == nil {
			return nil
		}
		v := d.Seconds()
		return &v
	}
	out.RULSeconds, out.RULLowerSeconds, out.RULUpperSeconds = secs(ph.RUL), secs(ph.RULLower), secs(ph.RULUpper)
	if ph.RUL != nil {
		s := predict.Readable(*ph.RUL)
		out.RUL = &s
	}
	return out
}

// registerSpoolMetrics exposes the signal spool on /metrics.
func registerSpoolMetrics(reg prometheus.Registerer, s *spool.Spool) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdm_signal_spool_pending", Help: "Signals synced to disk and waiting for PostgreSQL."},
			func() float64 { return float64(s.Stats().Pending) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdm_signal_spool_delivered_total", Help: "Signals the ticket core took from the spool."},
			func() float64 { return float64(s.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdm_signal_spool_retries_total", Help: "Failed deliveries from the spool that were retried."},
			func() float64 { return float64(s.Stats().Retries) }),
	)
}

// registerEngineMetrics exposes the rules engine's queues on /metrics.
func registerEngineMetrics(reg prometheus.Registerer, e *rules.Engine) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("pdm_rules_outbox_pending", "Signals waiting for delivery to the ticket core.",
			func() float64 { return float64(e.Outbox().Stats().Pending) }),
		counter("pdm_rules_signals_delivered_total", "Signals delivered to the ticket core.",
			func() float64 { return float64(e.Outbox().Stats().Delivered) }),
		counter("pdm_rules_signal_retries_total", "Failed signal deliveries that were retried.",
			func() float64 { return float64(e.Outbox().Stats().Retries) }),
		gauge("pdm_rules_held_readings", "Readings waiting for their asset lookup to succeed.",
			func() float64 { h, _ := e.HeldReadings(); return float64(h) }),
		counter("pdm_rules_held_dropped_total", "Readings dropped from evaluation because too many were held.",
			func() float64 { _, d := e.HeldReadings(); return float64(d) }),
		counter("pdm_rules_late_readings_total", "Readings ignored by rules because they were not newer than their series.",
			func() float64 { return float64(e.LateReadings()) }),
		gauge("pdm_rules_tracked_assets", "Assets with rule state in this replica (bounded by PDM_DETECT_MAX_ASSETS).",
			func() float64 { return float64(e.StateStats().Assets) }),
		counter("pdm_rules_evicted_assets_total", "Assets whose rule state was evicted to stay within PDM_DETECT_MAX_ASSETS.",
			func() float64 { return float64(e.StateStats().EvictedAssets) }),
		gauge("pdm_rules_cached_codes", "Asset codes whose registry lookup is cached (bounded by PDM_DETECT_MAX_CODES).",
			func() float64 { return float64(e.StateStats().Codes) }),
		counter("pdm_rules_evicted_codes_total", "Cached asset-code lookups evicted to stay within PDM_DETECT_MAX_CODES.",
			func() float64 { return float64(e.StateStats().EvictedCodes) }),
		counter("pdm_rules_reraised_signals_total", "Signals raised again by rebuilds from history (the ticket core drops those it has).",
			func() float64 { return float64(e.Reraised()) }),
	)
}
