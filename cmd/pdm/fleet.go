package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// Advisory locks keep the fleet's retraining and scoring to one replica
// at a time (the ticket core's keys are 0x70646d00xx to 0x70646d02xx).
const (
	lockFleetRetrain int64 = 0x70646d0300
	lockFleetScore   int64 = 0x70646d0301
)

// fleetSeries reads InfluxDB for the fleet package: an asset at a time
// (Series) or a batch of assets in one query (SeriesBatch).
type fleetSeries struct{ c *influx.Client }

var _ fleet.BatchSeriesReader = fleetSeries{}

func (f fleetSeries) Series(ctx context.Context, site, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]fleet.Sample, error) {
	set, err := f.c.SeriesSet(ctx, site, asset, metrics, from, to, step)
	if err != nil {
		return nil, err
	}
	return samplesOf(set), nil
}

// samplesOf converts one asset's InfluxDB step means to fleet samples.
func samplesOf(set map[string][]influx.Point) map[string][]fleet.Sample {
	out := make(map[string][]fleet.Sample, len(set))
	for m, pts := range set {
		ss := make([]fleet.Sample, len(pts))
		for i, p := range pts {
			ss[i] = fleet.Sample{TS: p.TS, Value: p.Value}
		}
		out[m] = ss
	}
	return out
}

func (f fleetSeries) SeriesBatch(ctx context.Context, assets []fleet.SeriesKey, metrics []string, from, to time.Time, step time.Duration) (map[fleet.SeriesKey]map[string][]fleet.Sample, error) {
	keys := make([]influx.Asset, len(assets))
	for i, a := range assets {
		keys[i] = influx.Asset{Site: a.Site, Asset: a.Asset}
	}
	sets, err := f.c.SeriesSets(ctx, keys, metrics, from, to, step)
	if err != nil {
		return nil, err
	}
	out := make(map[fleet.SeriesKey]map[string][]fleet.Sample, len(sets))
	for k, set := range sets {
		out[fleet.SeriesKey{Site: k.Site, Asset: k.Asset}] = samplesOf(set)
	}
	return out, nil
}

func (f fleetSeries) Metrics(ctx context.Context, site, asset string, from, to time.Time) ([]string, error) {
	rds, err := f.c.ReadReadings(ctx, site, asset, nil, from, to)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rds {
		for _, m := range r.Metrics {
			if !slices.Contains(out, m.Name) {
				out = append(out, m.Name)
			}
		}
	}
	return out, nil
}

// ReadingTimes gives the distinct times of an asset's readings in [from, to).
func (f fleetSeries) ReadingTimes(ctx context.Context, site, asset string, from, to time.Time) ([]time.Time, error) {
	rds, err := f.c.ReadReadings(ctx, site, asset, nil, from, to)
	if err != nil {
		return nil, err
	}
	// Oldest first already; readings of one time through two gateways
	// are two readings.
	out := make([]time.Time, 0, len(rds))
	for _, r := range rds {
		out = append(out, r.TS)
	}
	return slices.CompactFunc(out, time.Time.Equal), nil
}

// fleetAssets lists the registered assets of a type.
type fleetAssets struct{ c *core }

func (a fleetAssets) AssetsOfType(ctx context.Context, assetType string) ([]fleet.AssetRef, error) {
	var out []fleet.AssetRef
	page := workorders.Page{Limit: 500}
	for {
		as, next, err := a.c.store.ListAssets(ctx, workorders.AssetFilter{Type: assetType, Page: page})
		if err != nil {
			return nil, err
		}
		for _, x := range as {
			out = append(out, fleet.AssetRef{ID: x.ID, Site: x.SiteCode, Code: x.Code})
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

func (c *core) fleetTrainer(ts *influx.Client) *fleet.Trainer {
	return &fleet.Trainer{Store: c.store, Series: fleetSeries{ts}, Metrics: fleetSeries{ts}, Times: fleetSeries{ts},
		IsNotFound: func(err error) bool { return errors.Is(err, workorders.ErrNotFound) },
		Now:        time.Now, Lead: c.jobs.FleetLead}
}

// lockFleetTrain is the advisory lock of a type's training from the API:
// one a type (the upper half is this lock's, the lower the type's hash).
func lockFleetTrain(assetType string) int64 {
	h := fnv.New32a()
	h.Write([]byte(assetType))
	return int64(0x70646d05)<<32 | int64(h.Sum32())
}

// fleetConfig wires the fleet routes of the API: trainings run as jobs
// (startFleetJobs gives them the server's lifetime), one a type at a time
// across replicas.
func (c *core) fleetConfig(ts *influx.Client) httpapi.FleetConfig {
	tr := c.fleetTrainer(ts)
	// A job scores the type's assets with the version it stored before
	// it ends: once it has succeeded, the health answers carry the new
	// model's estimates (the scoring job would take up to
	// PDM_FLEET_SCORE_EVERY).
	train := func(ctx context.Context, assetType string, s fleet.Settings) (fleet.Version, fleet.Report, error) {
		v, rep, err := tr.Train(ctx, assetType, s)
		if err != nil {
			return v, rep, err
		}
		fleet.ReportProgress(ctx, fleet.PhaseScoring, 0, 0)
		sc := c.fleetScorer(ts, slog.New(slog.DiscardHandler))
		sc.Only = assetType
		// Under the scoring job's lock, so the two never raise for one
		// asset at once; a scoring run under way is waited for up to a
		// minute, then left to score the new version next time. An
		// asset's scoring error is the scoring job's to report: the
		// model stands.
		_, _ = fleet.TryLockFor(ctx, time.Minute, time.Second, func(ctx context.Context) (bool, error) {
			return c.store.WithLock(ctx, lockFleetScore, func(ctx context.Context) error {
				_, _ = sc.RunCount(ctx)
				return nil
			})
		})
		return v, rep, nil
	}
	// Jobs are recorded in PostgreSQL: any replica answers for them, and
	// one whose replica stops beating for a minute is failed as
	// runner_lost.
	host, _ := os.Hostname()
	c.fleetJobs = &fleet.Jobs{Train: train, Store: c.store, Runner: fmt.Sprintf("%s/%d", host, os.Getpid()),
		Lock: func(ctx context.Context, assetType string, fn func(context.Context) error) (bool, error) {
			return c.store.WithLock(ctx, lockFleetTrain(assetType), fn)
		}}
	return httpapi.FleetConfig{Store: c.store, Scores: c.store, Writer: ts, Jobs: c.fleetJobs}
}

// fleetScorer scores assets with their type's model and raises a trend
// order through the ticket core when the type's order rule puts the
// remaining life within the lead (fleet.Model.OrderDue).
func (c *core) fleetScorer(ts *influx.Client, log *slog.Logger) *fleet.Scorer {
	return &fleet.Scorer{Store: c.store, Assets: fleetAssets{c}, Series: fleetSeries{ts}, Lead: c.jobs.FleetLead,
		Concurrency: c.jobs.FleetScoreConcurrency, Batch: c.jobs.FleetScoreBatch, Now: time.Now, Log: log, Raise: func(ctx context.Context, a fleet.Alert) error {
			return c.handleSignal(ctx, fleetSignal(a))
		}}
}

// fleetSignal is the trend signal of an alert: the order's evidence holds
// the model version, the estimate and the features.
func fleetSignal(a fleet.Alert) rules.Signal {
	return rules.Signal{Kind: rules.KindTrend, Level: rules.LevelCritical, Site: a.Asset.Site, Asset: a.Asset.Code,
		AssetID: a.Asset.ID, FailureMode: fleet.FailureMode, Value: a.Lower.Seconds(), DetectedAt: a.At,
		Message: fmt.Sprintf("fleet model v%d of %s: remaining life %s (90 %% interval %s to %s)", a.Version, a.AssetType,
			rules.Duration(a.RUL.Round(time.Minute)), rules.Duration(a.Lower.Round(time.Minute)), rules.Duration(a.Upper.Round(time.Minute))),
		Prediction: &rules.Prediction{Model: "fleet", Points: a.Rows, WindowStart: a.Start, WindowEnd: a.At,
			CrossingAt: a.At.Add(a.RUL), CrossingEarliest: a.At.Add(a.Lower), CrossingLatest: a.At.Add(a.Upper),
			RUL: rules.Duration(a.RUL)},
		Evidence: map[string]any{"model_version": a.Version, "asset_type": a.AssetType, "model_kind": a.Kind,
			"coverage": a.Coverage, "as_of": a.At, "rul_seconds": a.RUL.Seconds(),
			"rul_lower_seconds": a.Lower.Seconds(), "rul_upper_seconds": a.Upper.Seconds(), "drivers": a.Drivers,
			"features": a.Features}}
}

// startFleetJobs retrains every asset type with enough failures every
// PDM_FLEET_RETRAIN and scores every asset every PDM_FLEET_SCORE_EVERY,
// each on one replica at a time.
func (c *core) startFleetJobs(ctx context.Context, g *errgroup.Group, log *slog.Logger, ts *influx.Client) {
	log = log.With("component", "fleet")
	if c.fleetJobs != nil {
		g.Go(func() error {
			c.fleetJobs.Run(ctx, log)
			return nil
		})
	}
	tr := c.fleetTrainer(ts)
	sc := c.fleetScorer(ts, log)
	cl := cronLogger{log}
	cr := cron.New(cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)), cron.WithLogger(cl))
	retrain := func(ctx context.Context) error {
		types, err := c.store.FailureTypes(ctx, fleet.MinUnits)
		if err != nil {
			return err
		}
		for _, t := range types {
			v, rep, err := tr.Train(ctx, t, fleet.Settings{Retrain: true})
			if errors.Is(err, fleet.ErrSuperseded) {
				log.Info("retrain superseded", "asset_type", t, "err", err)
				continue
			}
			if err != nil {
				log.Warn("retrain", "asset_type", t, "err", err)
				continue
			}
			log.Info("retrained", "asset_type", t, "version", v.Version, "kind", rep.Kind, "n_units", rep.Units,
				"validation_rmse_steps", rep.ValidationRMSE, "validation_coverage", rep.ValidationCoverage,
				"gate", v.Gate.Status())
		}
		return nil
	}
	cr.Schedule(cron.Every(c.jobs.FleetRetrain), cron.FuncJob(func() {
		if _, err := c.store.WithLock(ctx, lockFleetRetrain, retrain); err != nil && ctx.Err() == nil {
			log.Warn("job failed", "job", "fleet_retrain", "err", err)
		}
	}))
	cr.Schedule(cron.Every(c.jobs.FleetScoreEvery), cron.FuncJob(func() {
		if _, err := c.store.WithLock(ctx, lockFleetScore, sc.Run); err != nil && ctx.Err() == nil {
			log.Warn("job failed", "job", "fleet_score", "err", err)
		}
	}))
	cr.Start()
	g.Go(func() error {
		<-ctx.Done()
		<-cr.Stop().Done()
		return nil
	})
}
