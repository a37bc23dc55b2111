package mqttpub

import (
	"context"
	"testing"
	"time"

	"github.com/openpdm/pdm/simulators"
)

// BenchmarkFleetToMosquitto publishes 1,000 assets × 5 metrics (motors),
// one simulated hour at 1-minute sampling per iteration, in batches of 10
// readings, to the shared Mosquitto with 64 messages in flight, waiting
// for every PUBACK.
func BenchmarkFleetToMosquitto(b *testing.B) {
	s, err := simulators.ParseScenario([]byte(`
seed: 1
site: B
start: -2d
duration: 1h
interval: 1m
acceleration: max
batch: 10
gateways: [gw-1]
assets:
  - {type: motor, prefix: M-, count: 1000, profile: seasonal}
`), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pub, err := Dial(ctx, Options{URL: mqttURL(), ClientID: "sim-bench-" + randHexB()})
	if err != nil {
		b.Fatalf("mosquitto at %s: %v", mqttURL(), err)
	}
	defer pub.Close()
	root := "bench/" + randHexB() + "/pdm/v1"
	var readings, messages uint64
	for b.Loop() {
		f := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: root, MaxInFlight: 64})
		if err := f.Run(ctx); err != nil {
			b.Fatal(err)
		}
		readings += f.Progress().Readings
		messages += f.Progress().Messages
	}
	b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(messages)/b.Elapsed().Seconds(), "msgs/s")
}
