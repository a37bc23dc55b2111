package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
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
// lower-bound rule it replaced. Then three more scoring runs of the 140
// (orders raised: they add evidence), scoring 1, 8 and 16 assets at
// once: wall milliseconds an asset and minutes per 10,000 assets. Run
// with -benchtime 1x.
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
	steady := map[int]time.Duration{}
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
		// Steady state (the orders raised, later runs add evidence):
		// one run scoring an asset at a time, then 8 and 16 at once.
		for _, conc := range []int{1, 8, 16} {
			sc.Concurrency = conc
			t := time.Now()
			if _, err = sc.RunCount(ctx); err != nil {
				b.Fatal(err)
			}
			steady[conc] = time.Since(t)
		}
	}
	for conc, d := range steady {
		b.ReportMetric(d.Seconds()*1000/140, fmt.Sprintf("steady_ms/asset_c%d", conc))
		b.ReportMetric(d.Minutes()/140*10000, fmt.Sprintf("min/10k_assets_c%d", conc))
	}
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
