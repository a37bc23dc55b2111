package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

// BenchmarkFleetOnThePlatform trains and scores through the real stores:
// 40 failed engines (10 sensors, one reading an hour, their whole lives)
// and 100 running ones cut off 5-150 h before their failure are written
// to InfluxDB, the failures recorded in PostgreSQL; one op is one
// training of the type plus one scoring run of all 140 engines (the
// trend orders of those within 48 h included). Reported: wall seconds of
// each, and the RMSE (hours) of the stored estimates of the running
// engines against their true remaining life, capped at the model's cap
// as in fleet's benchmark, how many engines due within 48 h got an order
// and how many not due within 48 h (96 h) got one, under the type's rule
// (the default margin) and, from the same estimates, under the
// lower-bound rule it replaced. Then steady scoring runs of the 140
// (orders raised: they add evidence), alternating two rounds of: one
// Flux query an asset (Batch 1) and 10 assets an InfluxQL query, each scoring 1 and 8
// assets at once: wall milliseconds an asset and minutes per 10,000
// assets (the faster of the two rounds), and for 1 at once the time
// spent waiting on InfluxDB. Last, the 100 running engines' spans read
// both ways and compared (benchInfluxQL). Run with -benchtime 1x.
func BenchmarkFleetOnThePlatform(b *testing.B) {
	env := newTestEnv(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, env.PGURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	st := postgres.New(pool)
	svc := workorders.NewService(st, nil, nil)
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	if err != nil {
		b.Fatal(err)
	}
	defer ts.Close()
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "BENCH", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	failed := simulators.RunToFailure(21, simulators.RunToFailureOptions{Units: 40})
	running := simulators.RunToFailure(21, simulators.RunToFailureOptions{Units: 100, FirstUnit: 40, Cut: true})
	now := time.Now().UTC()
	failedAt := now.Truncate(time.Hour).Add(-48*time.Hour + 30*time.Minute)
	write := func(u simulators.RunToFailureUnit, last time.Time) string {
		a, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: u.ID, Type: "engine", Name: u.ID, Criticality: 3})
		if err != nil {
			b.Fatal(err)
		}
		rds := make([]ingest.Reading, len(u.Cycles))
		for i, row := range u.Cycles {
			rd := ingest.Reading{Site: "BENCH", Asset: u.ID, TS: last.Add(-time.Duration(len(u.Cycles)-1-i) * time.Hour)}
			for k, v := range row {
				rd.Metrics = append(rd.Metrics, ingest.Metric{Name: failed.Sensors[k], Value: v})
			}
			rds[i] = rd
		}
		if err := ts.Write(ctx, rds); err != nil {
			b.Fatal(err)
		}
		return a.ID
	}
	for _, u := range failed.Units {
		id := write(u, failedAt)
		if _, _, err := st.AddFailure(ctx, id, failedAt); err != nil {
			b.Fatal(err)
		}
	}
	truth := map[string]float64{}
	for _, u := range running.Units {
		truth[write(u, now.Add(-time.Minute))] = float64(u.RUL())
	}
	c := &core{store: st, svc: svc}
	tr := c.fleetTrainer(ts)
	sc := c.fleetScorer(ts, slog.New(slog.DiscardHandler))
	var train, score time.Duration
	var alerts int
	var v fleet.Version
	// Steady runs (the orders raised, later runs add evidence),
	// alternating: the assets read one query each (Batch 1, as before
	// batching) and 10 a query, 1 and 8 assets scored at once.
	type mode struct {
		name        string
		batch, conc int
	}
	modes := []mode{{"one_c1", 1, 1}, {"batch_c1", 10, 1}, {"one_c8", 1, 8}, {"batch_c8", 10, 8}}
	const rounds = 2
	steady := map[string][]time.Duration{}
	reads := map[string][]time.Duration{}
	for b.Loop() {
		t0 := time.Now()
		if v, _, err = tr.Train(ctx, "engine", fleet.Settings{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sc.Concurrency = 8
		if alerts, err = sc.RunCount(ctx); err != nil {
			b.Fatal(err)
		}
		train, score = t1.Sub(t0), time.Since(t1)
		fmt.Fprintf(os.Stderr, "%s trained %v, first run %v\n", time.Now().Format(time.TimeOnly), train, score)
		for r := range rounds {
			for i := range modes {
				m := modes[(i+r)%len(modes)]
				ser := &timedSeries{fleetSeries: fleetSeries{ts}}
				sc.Series, sc.Batch, sc.Concurrency = ser, m.batch, m.conc
				t := time.Now()
				if _, err = sc.RunCount(ctx); err != nil {
					b.Fatal(err)
				}
				steady[m.name] = append(steady[m.name], time.Since(t))
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", time.Now().Format(time.TimeOnly), m.name, time.Since(t))
				reads[m.name] = append(reads[m.name], ser.total)
			}
		}
	}
	for _, m := range modes {
		d := slices.Min(steady[m.name])
		b.ReportMetric(d.Seconds()*1000/140, "steady_ms/asset_"+m.name)
		b.ReportMetric(d.Minutes()/140*10000, "min/10k_assets_"+m.name)
		if m.conc == 1 {
			b.ReportMetric(slices.Min(reads[m.name]).Seconds()*1000/140, "read_ms/asset_"+m.name)
		}
		b.Logf("%s: runs %v, InfluxDB reads %v", m.name, steady[m.name], reads[m.name])
	}
	benchInfluxQL(b, ctx, ts, v, now)
	// The orders of the default rule (as raised) and, from the same
	// stored estimates, of the lower-bound rule it replaced.
	var se, n, due, caught, caughtLower, wolf, wolfLower, wolf96, wolf96Lower float64
	lower := v.Model
	one := 1.0
	lower.OrderMargin = &one
	lead := (48 * time.Hour).Seconds()
	var missed []float64
	for id, rul := range truth {
		s, err := st.Score(ctx, id)
		if err != nil || s.RUL == nil {
			b.Fatalf("engine %s: no estimate (%v)", id, err)
		}
		e := *s.RUL/3600 - math.Min(rul, v.Model.Spec.Cap)
		se += e * e
		n++
		half := *s.Upper - *s.RUL
		ordered, orderedLower := v.Model.OrderDue(*s.RUL, half, lead), lower.OrderDue(*s.RUL, half, lead)
		count := func(c *float64, ok bool) {
			if ok {
				*c++
			}
		}
		if rul <= 48 {
			due++
			count(&caught, ordered)
			if !ordered {
				missed = append(missed, rul)
			}
			count(&caughtLower, orderedLower)
		} else {
			count(&wolf, ordered)
			count(&wolfLower, orderedLower)
		}
		if rul > 96 {
			count(&wolf96, ordered)
			count(&wolf96Lower, orderedLower)
		}
	}
	b.ReportMetric(train.Seconds(), "train_s")
	b.ReportMetric(score.Seconds()*1000/140, "score_ms/asset_c8")
	b.ReportMetric(math.Sqrt(se/n), "rmse_h_capped")
	b.ReportMetric(float64(alerts), "orders")
	b.ReportMetric(due, "due_48h")
	b.ReportMetric(caught, "due_with_order")
	b.ReportMetric(wolf, "orders_not_due_48h")
	b.ReportMetric(wolf96, "orders_not_due_96h")
	b.ReportMetric(caughtLower, "lower_rule_due_with_order")
	b.ReportMetric(wolfLower, "lower_rule_orders_not_due_48h")
	b.ReportMetric(wolf96Lower, "lower_rule_orders_not_due_96h")
	b.Logf("model v%d %s, %d units; %s; due without an order yet, hours left: %v", v.Version, v.Model.Kind, 40, fmt.Sprint(v.Model.Intervals), missed)
}

// timedSeries adds up the time fleetSeries waits on InfluxDB.
type timedSeries struct {
	fleetSeries
	mu    sync.Mutex
	total time.Duration
}

func (t *timedSeries) add(d time.Duration) {
	t.mu.Lock()
	t.total += d
	t.mu.Unlock()
}

func (t *timedSeries) Series(ctx context.Context, site, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]fleet.Sample, error) {
	defer func(t0 time.Time) { t.add(time.Since(t0)) }(time.Now())
	return t.fleetSeries.Series(ctx, site, asset, metrics, from, to, step)
}

func (t *timedSeries) SeriesBatch(ctx context.Context, assets []fleet.SeriesKey, metrics []string, from, to time.Time, step time.Duration) (map[fleet.SeriesKey]map[string][]fleet.Sample, error) {
	defer func(t0 time.Time) { t.add(time.Since(t0)) }(time.Now())
	return t.fleetSeries.SeriesBatch(ctx, assets, metrics, from, to, step)
}

// benchInfluxQL reads the model's span of the 100 running engines one
// Flux query an engine (SeriesSet, as scoring did) and 10 engines an
// InfluxQL query (SeriesSets, as it does), best of three each; it reports
// the milliseconds an engine and how many means differ.
func benchInfluxQL(b *testing.B, ctx context.Context, ts *influx.Client, v fleet.Version, now time.Time) {
	step := time.Duration(v.Model.Spec.StepSeconds * float64(time.Second))
	from := now.Add(-time.Duration(v.Model.Spec.HistorySteps) * step).Truncate(step)
	to := now.Truncate(step).Add(step)
	metrics := v.Model.Spec.Metrics
	var assets []influx.Asset
	for i := range 100 {
		assets = append(assets, influx.Asset{Site: "BENCH", Asset: fmt.Sprintf("U%03d", 41+i)})
	}
	best := func(f func() error) time.Duration {
		var low time.Duration
		for range 3 {
			t := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			if d := time.Since(t); low == 0 || d < low {
				low = d
			}
		}
		return low
	}
	flux := map[influx.Asset]map[string][]influx.Point{}
	one := best(func() error {
		for _, a := range assets {
			set, err := ts.SeriesSet(ctx, a.Site, a.Asset, metrics, from, to, step)
			if err != nil {
				return err
			}
			flux[a] = set
		}
		return nil
	})
	ql := map[influx.Asset]map[string][]influx.Point{}
	batch := best(func() error {
		for i := 0; i < len(assets); i += 10 {
			sets, err := ts.SeriesSets(ctx, assets[i:i+10], metrics, from, to, step)
			if err != nil {
				return err
			}
			maps.Copy(ql, sets)
		}
		return nil
	})
	var n, differ int
	for a, set := range flux {
		for m, pts := range set {
			n += len(pts)
			if !slices.Equal(pts, ql[a][m]) {
				differ++
			}
		}
	}
	b.ReportMetric(one.Seconds()*1000/100, "read_ms/asset_flux_one")
	b.ReportMetric(batch.Seconds()*1000/100, "read_ms/asset_influxql_batch10")
	b.ReportMetric(float64(differ), "series_differing")
	b.Logf("%d means of 100 engines; %d of their series differ between Flux and InfluxQL", n, differ)
}
