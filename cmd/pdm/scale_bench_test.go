package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/partition"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
)

type benchRegistry struct{}

func (benchRegistry) Asset(_ context.Context, site, code string) (rules.AssetRef, bool, error) {
	return rules.AssetRef{ID: "id-" + code, Type: "pump"}, true, nil
}

type benchRules []rules.Rule

func (r benchRules) Rules(context.Context) ([]rules.Rule, error) { return r, nil }

// benchFleet is assets × 5 metrics, each metric under a threshold rule
// with a 12h prediction window; readings every 15 minutes of event time.
type benchFleet struct {
	assets int
	rules  benchRules
	codes  []string
	rng    *rand.Rand
	start  time.Time
}

func newBenchFleet(assets int) *benchFleet {
	f := &benchFleet{assets: assets, rng: rand.New(rand.NewPCG(1, 2)), start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for m := range 5 {
		warn, crit := 4.5, 7.1
		f.rules = append(f.rules, rules.Rule{ID: fmt.Sprintf("r%d", m), Name: "r", AssetType: "pump", Metric: fmt.Sprintf("m%d", m),
			Direction: rules.Above, Warn: &warn, Critical: &crit, For: rules.Duration(30 * time.Minute), Hysteresis: 0.3,
			Predict:     &rules.PredictSpec{Window: rules.Duration(12 * time.Hour), Horizon: rules.Duration(7 * 24 * time.Hour), MinR2: 0.6, MinPoints: 20},
			FailureMode: "wear", Priority: "P2", Enabled: true})
	}
	for i := range assets {
		f.codes = append(f.codes, fmt.Sprintf("a%05d", i))
	}
	return f
}

// reading i: asset i%assets at step i/assets; half the assets degrade.
func (f *benchFleet) reading(i int) ingest.Reading {
	a := i % f.assets
	ts := f.start.Add(time.Duration(i/f.assets) * 15 * time.Minute).Add(time.Duration(a) * time.Millisecond)
	h := ts.Sub(f.start).Hours()
	slope := 0.0
	if a%2 == 0 {
		slope = 0.002
	}
	rd := ingest.Reading{Site: "s1", Asset: f.codes[a], TS: ts, Metrics: make([]ingest.Metric, 5)}
	for m := range rd.Metrics {
		rd.Metrics[m] = ingest.Metric{Name: f.rules[m].Metric, Value: 2 + slope*h + 0.1*math.Sin(h/24) + 0.05*f.rng.NormFloat64()}
	}
	return rd
}

func (f *benchFleet) engine(b *testing.B) *rules.Engine {
	e, err := rules.NewEngine(rules.Config{Assets: benchRegistry{}, Rules: f.rules,
		Signal:    func(context.Context, rules.Signal) error { return nil },
		Observers: []rules.Observer{predict.New(predict.Options{})}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDetectionReplicas models partitioned detection on this machine:
// 6,000 assets × 5 metrics (threshold rules with 12h prediction windows)
// split over 32 partitions, evaluated by 1 or 3 engines (one per replica,
// each owning its rendezvous share, all in one process, one goroutine
// each), after a warm-up that fills the windows. Reported: readings/s
// through all engines, and CPU µs per reading (the cost that decides
// where scaling stops: replicas add throughput until the cores are busy).
func BenchmarkDetectionReplicas(b *testing.B) {
	for _, k := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", k), func(b *testing.B) {
			const assets, parts = 6000, 32
			f := newBenchFleet(assets)
			members := make([]string, k)
			for i := range members {
				members[i] = fmt.Sprintf("r%d", i)
			}
			owner := map[string]int{}
			for i, c := range f.codes {
				p := partition.Of("s1", c, parts)
				o := partition.OwnerOf(members, p)
				for j, m := range members {
					if m == o {
						owner[f.codes[i]] = j
					}
				}
			}
			engines := make([]*rules.Engine, k)
			for j := range engines {
				engines[j] = f.engine(b)
			}
			ctx := context.Background()
			// Batches as ingest streams them: 500 readings, split per owner.
			feed := func(from, to int) [][]ingest.Reading {
				out := make([][]ingest.Reading, k)
				for i := from; i < to; i++ {
					r := f.reading(i)
					out[owner[r.Asset]] = append(out[owner[r.Asset]], r)
				}
				return out
			}
			run := func(shares [][]ingest.Reading) {
				var wg sync.WaitGroup
				for j := range engines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sh := shares[j]
						for len(sh) > 0 {
							n := min(500, len(sh))
							engines[j].Consume(ctx, sh[:n])
							sh = sh[n:]
						}
					}()
				}
				wg.Wait()
			}
			warm := assets * 48
			for i := 0; i < warm; i += 50000 {
				run(feed(i, min(i+50000, warm)))
			}
			n := max(b.N, 1) * 500
			shares := feed(warm, warm+n)
			cpu0 := cpuTime()
			b.ResetTimer()
			run(shares)
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/reading")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkDetectionMemory measures the heap the detection state of 10,000
// assets takes (5 metrics each under a threshold rule with a 12h prediction
// window, windows full).
func BenchmarkDetectionMemory(b *testing.B) {
	for range b.N {
		const assets = 10000
		f := newBenchFleet(assets)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := f.engine(b)
		ctx := context.Background()
		batch := make([]ingest.Reading, 0, 500)
		for i := range assets * 50 {
			batch = append(batch, f.reading(i))
			if len(batch) == cap(batch) {
				e.Consume(ctx, batch)
				batch = batch[:0]
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/10k-assets")
		b.ReportMetric(float64(e.StateStats().Assets), "assets")
		runtime.KeepAlive(e)
	}
}

// BenchmarkLateReevaluation measures what a late burst costs its owner:
// 50 assets × 5 metrics (threshold rules with 12h prediction windows) have
// 3 days of 15-minute readings in a real InfluxDB; the owner evaluated them
// without hours 36-42 of each asset, which then arrive late, all at once.
// Each asset is re-evaluated once from InfluxDB (its lookback before the
// earliest late reading up to its latest). Reported per asset re-evaluated:
// wall ms, CPU ms of this process (query decoding and replay; InfluxDB's
// own work not included) and readings replayed.
func BenchmarkLateReevaluation(b *testing.B) {
	ctx := context.Background()
	url := servicetest.InfluxURL(b)
	ts, err := influx.New(influx.Config{URL: url, Bucket: servicetest.InfluxDatabase(b, url)})
	if err != nil {
		b.Fatal(err)
	}
	defer ts.Close()
	const assets, steps = 50, 3 * 96
	f := newBenchFleet(assets)
	var live, late []ingest.Reading
	for i := range assets * steps {
		rd := f.reading(i)
		if h := rd.TS.Sub(f.start).Hours(); h >= 36 && h < 42 {
			late = append(late, rd)
		} else {
			live = append(live, rd)
		}
	}
	for i := 0; i < len(live)+len(late); i += 5000 {
		all := append(live[:len(live):len(live)], late...)
		if err := ts.Write(ctx, all[i:min(i+5000, len(all))]); err != nil {
			b.Fatal(err)
		}
	}
	var wall, cpu time.Duration
	var n, replayed uint64
	for range b.N {
		e, err := rules.NewEngine(rules.Config{Assets: benchRegistry{}, Rules: f.rules,
			Signal:    func(context.Context, rules.Signal) error { return nil },
			Observers: []rules.Observer{predict.New(predict.Options{})}, History: ts,
			LateSettle: time.Nanosecond, LateMinInterval: time.Nanosecond, MaxReevaluations: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		e.Consume(ctx, live)
		e.Consume(ctx, late)
		time.Sleep(time.Millisecond) // past LateSettle
		start, cpu0 := time.Now(), cpuTime()
		got := e.ReevaluateLate(ctx)
		wall += time.Since(start)
		cpu += cpuTime() - cpu0
		if got != assets {
			b.Fatalf("re-evaluated %d assets, want %d", got, assets)
		}
		n += uint64(got)
		replayed += e.LateStats().Replayed
	}
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(n), "wall-ms/asset")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/asset")
	b.ReportMetric(float64(replayed)/float64(n), "readings/asset")
	b.ReportMetric(0, "ns/op")
}
