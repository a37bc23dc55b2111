package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpdm/pdm/edge"
	"github.com/openpdm/pdm/ingest"
)

// BenchmarkCatchUpToInflux measures the catch-up after an outage end to
// end: an agent with a backlog of 20,000 readings (6 metrics each, 10
// assets) forwards it over the shared Mosquitto to the platform's ingest
// pipeline, and the clock stops when InfluxDB holds every reading.
func BenchmarkCatchUpToInflux(b *testing.B) {
	brokerURL := sharedMQTT(b)
	iurl := influxURL(b)
	const n = 20000
	names := []string{"vibration_rms", "bearing_temp_c", "motor_current_a", "pressure_bar", "flow_m3h", "running_hours"}
	for b.Loop() {
		b.StopTimer()
		db := newInfluxDB(b, iurl)
		root := "test/" + randID() + "/pdm/v1"
		startIngest(b, brokerURL, iurl, db, root)
		dir := b.TempDir()
		cfg := edge.Config{Gateway: "gw-bench", Site: "bench", TopicRoot: root,
			Uplink: edge.Uplink{URL: brokerURL, ClientID: "edge-bench-" + randID()},
			Queue:  edge.QueueConfig{Path: filepath.Join(dir, "q.db")}}
		cfg.Normalize()
		q, err := edge.OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
		if err != nil {
			b.Fatal(err)
		}
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		items := make([]edge.Item, 0, 1000)
		for i := 0; i < n; i++ {
			ms := make([]ingest.Metric, len(names))
			for j, nm := range names {
				ms[j] = ingest.Metric{Name: nm, Value: float64(i + j)}
			}
			items = append(items, edge.Item{Reading: ingest.Reading{Site: "bench", Asset: fmt.Sprintf("pump-%d", i%10),
				TS: base.Add(time.Duration(i/10) * 100 * time.Millisecond), Metrics: ms}})
			if len(items) == cap(items) {
				if _, err := q.Append(items); err != nil {
					b.Fatal(err)
				}
				items = items[:0]
			}
		}
		a, err := edge.New(cfg, q, edge.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- a.Run(ctx) }()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, err := countInflux(iurl, db, "vibration_rms")
			if err == nil && got >= n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("InfluxDB holds %d of %d readings after 2 minutes (err %v)", got, n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		q.Close()
		clearRetained(b, brokerURL, edge.StatusTopic(root, cfg.Site, cfg.Gateway))
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "readings/s")
}
