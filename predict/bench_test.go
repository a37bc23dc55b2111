package predict

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
)

// BenchmarkPredictorObserve is the streaming predictor's cost per reading
// of one series (bucketing, eviction and the amortised refits) with a 72h
// window: a degrading series (its fits run every model) and a healthy one
// (its fits stop at the closed-form pre-checks), sampled every minute or
// every 15 minutes.
func BenchmarkPredictorObserve(b *testing.B) {
	for _, c := range []struct {
		name  string
		every time.Duration
		slope float64
	}{
		{"degrading/every=1m", time.Minute, 0.002},
		{"degrading/every=15m", 15 * time.Minute, 0.002},
		{"healthy/every=1m", time.Minute, 0},
		{"healthy/every=15m", 15 * time.Minute, 0},
	} {
		every := c.every
		b.Run(c.name, func(b *testing.B) {
			r := vibRule()
			s := New(Options{}).NewSeries(&r, testAsset).(*Series)
			rng := rand.New(rand.NewPCG(1, 2))
			ts := seriesStart
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ts = ts.Add(every)
				h := ts.Sub(seriesStart).Hours()
				v := base + c.slope*h + noise*rng.NormFloat64()
				s.Observe(ts, v)
			}
		})
	}
}

// BenchmarkFit is one fit of a full 72-bucket window of a degrading
// series (all three models).
func BenchmarkFit(b *testing.B) {
	r := vibRule()
	pts := make([]Point, 72)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pts {
		pts[i] = Point{TS: seriesStart.Add(time.Duration(i) * time.Hour), Value: base + 0.05*float64(i) + noise*rng.NormFloat64(), N: 4}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Fit(pts, &r, FitOptions{})
	}
}

type benchAssets struct{ n int }

func (a benchAssets) Asset(_ context.Context, site, code string) (rules.AssetRef, bool, error) {
	return rules.AssetRef{ID: "id-" + code, Type: "pump"}, true, nil
}

// BenchmarkEngineThroughput feeds 10,000 assets × 5 metrics (every metric
// covered by a threshold rule with prediction) through the rules engine
// with the predictor, in batches of 500 readings, each asset reporting
// every 15 minutes of event time, after a warm-up that fills every
// 72h window (2.88M readings). One op is one reading of 5 metrics. Half
// the assets degrade slowly on every metric (a slope that never gets
// near the limit within the horizon), half are flat noise.
func BenchmarkEngineThroughput(b *testing.B) {
	const assets, metrics = 10000, 5
	var rs ruleList
	for m := 0; m < metrics; m++ {
		r := vibRule()
		r.ID = fmt.Sprintf("r%d", m)
		r.Metric = fmt.Sprintf("m%d", m)
		rs = append(rs, r)
	}
	e, err := rules.NewEngine(rules.Config{Assets: benchAssets{}, Rules: rs,
		Signal:    func(context.Context, rules.Signal) error { return nil },
		Observers: []rules.Observer{New(Options{})}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	codes := make([]string, assets)
	for i := range codes {
		codes[i] = fmt.Sprintf("a%05d", i)
	}
	batch := make([]ingest.Reading, 0, 500)
	rng := rand.New(rand.NewPCG(3, 4))
	step := 15 * time.Minute
	i := 0
	next := func() {
		a := i % assets
		ts := seriesStart.Add(time.Duration(i/assets) * step).Add(time.Duration(a) * time.Millisecond)
		h := ts.Sub(seriesStart).Hours()
		slope := 0.0
		if a%2 == 0 {
			slope = 0.0005
		}
		rd := ingest.Reading{Site: "s1", Asset: codes[a], TS: ts, Metrics: make([]ingest.Metric, metrics)}
		for m := range rd.Metrics {
			rd.Metrics[m] = ingest.Metric{Name: rs[m].Metric, Value: base + slope*h + 0.1*math.Sin(h/24) + noise*rng.NormFloat64()}
		}
		batch = append(batch, rd)
		if len(batch) == cap(batch) {
			e.Consume(ctx, batch)
			batch = batch[:0]
		}
		i++
	}
	for i < assets*72*4 {
		next()
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		next()
		n++
	}
	e.Consume(ctx, batch)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(n*metrics)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkEngineDense is issue 15's case: 100 assets × 5 predicted
// metrics sampled every second (12 h windows, so a refit every 7.5 min of
// event time), through the rules engine with and without the predictor,
// in batches of 500 readings. One op is one reading of 5 metrics; the
// difference between the two is what detection costs per reading.
func BenchmarkEngineDense(b *testing.B) {
	for _, withPredict := range []bool{false, true} {
		b.Run(fmt.Sprintf("predict=%v", withPredict), func(b *testing.B) {
			const assets, metrics = 100, 5
			var rs ruleList
			for m := 0; m < metrics; m++ {
				r := vibRule()
				r.ID = fmt.Sprintf("r%d", m)
				r.Metric = fmt.Sprintf("m%d", m)
				r.Predict.Window = rules.Duration(12 * time.Hour)
				if !withPredict {
					r.Predict = nil
				}
				rs = append(rs, r)
			}
			var obs []rules.Observer
			if withPredict {
				obs = []rules.Observer{New(Options{})}
			}
			e, err := rules.NewEngine(rules.Config{Assets: benchAssets{}, Rules: rs,
				Signal: func(context.Context, rules.Signal) error { return nil }, Observers: obs})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			codes := make([]string, assets)
			for i := range codes {
				codes[i] = fmt.Sprintf("a%05d", i)
			}
			batch := make([]ingest.Reading, 0, 500)
			rng := rand.New(rand.NewPCG(3, 4))
			i := 0
			next := func() {
				a := i % assets
				ts := seriesStart.Add(time.Duration(i/assets) * time.Second)
				h := ts.Sub(seriesStart).Hours()
				rd := ingest.Reading{Site: "s1", Asset: codes[a], TS: ts, Metrics: make([]ingest.Metric, metrics)}
				for m := range rd.Metrics {
					rd.Metrics[m] = ingest.Metric{Name: rs[m].Metric, Value: base + 0.0005*h + 0.1*math.Sin(h/24) + noise*rng.NormFloat64()}
				}
				batch = append(batch, rd)
				if len(batch) == cap(batch) {
					e.Consume(ctx, batch)
					batch = batch[:0]
				}
				i++
			}
			for i < assets*13*3600 {
				next()
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				next()
				n++
			}
			e.Consume(ctx, batch)
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
