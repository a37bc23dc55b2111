package simulators

import (
	"context"
	"testing"
	"time"
)

func BenchmarkModelReading(b *testing.B) {
	m, err := NewModel(1, pumpSpec("P-1", Profile{Degradation: Exponential, Metric: "vibration_rms",
		FailureMode: "bearing_wear", Onset: t0, FailAt: t0.Add(240 * time.Hour), FailValue: 7.1,
		DailyAmp: 0.05, SpikeProb: 0.01, SpikeScale: 0.5}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Reading("S", t0.Add(time.Duration(i)*time.Minute))
	}
}

// nopPub acknowledges at once: the benchmark measures the fleet itself
// (models, batching, payload encoding).
type nopPub struct{}

func (nopPub) Publish(string, []byte) func(context.Context) error {
	return func(context.Context) error { return nil }
}

// BenchmarkFleet10kAssets runs 10,000 assets × 5 metrics (motors) for one
// simulated hour at 1-minute sampling per iteration, batches of 10.
func BenchmarkFleet10kAssets(b *testing.B) {
	s, err := ParseScenario([]byte(`
seed: 1
site: B
start: 2026-01-01T00:00:00Z
duration: 1h
interval: 1m
acceleration: max
batch: 10
gateways: [gw-1, gw-2, gw-3, gw-4]
assets:
  - {type: motor, prefix: M-, count: 8000, profile: seasonal}
  - {type: motor, prefix: W-, count: 2000, profile: linear, metric: winding_temp_c, failure_mode: w, fail_value: 110, ramp: 10d, failure_at: 5d}
`), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var readings uint64
	b.ReportAllocs()
	for b.Loop() {
		f := NewFleet(s, nopPub{}, FleetOptions{})
		if err := f.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		readings += f.Progress().Readings
	}
	b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(readings*5)/b.Elapsed().Seconds(), "values/s")
}
