package edge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// benchItems returns n readings of 6 metrics over 10 assets.
func benchItems(n int, base time.Time) []Item {
	names := []string{"vibration_rms", "bearing_temp_c", "motor_current_a", "pressure_bar", "flow_m3h", "running_hours"}
	out := make([]Item, n)
	for i := range out {
		ms := make([]ingest.Metric, len(names))
		for j, nm := range names {
			ms[j] = ingest.Metric{Name: nm, Value: float64(i*10 + j)}
		}
		out[i] = Item{Reading: ingest.Reading{Site: "plant-1", Asset: fmt.Sprintf("pump-%d", i%10),
			TS: base.Add(time.Duration(i) * time.Second), Metrics: ms}}
	}
	return out
}

// BenchmarkQueueAppend appends batches of 100 readings (one fsync each), as
// a gateway with 100 readings per poll does.
func BenchmarkQueueAppend(b *testing.B) {
	q, _ := openTestQueue(b, 1<<30)
	items := benchItems(100, time.Unix(0, 0))
	b.ResetTimer()
	for b.Loop() {
		if _, err := q.Append(items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkQueueAppendConcurrent appends single readings from 8 goroutines:
// bbolt's batching commits them together.
func BenchmarkQueueAppendConcurrent(b *testing.B) {
	q, _ := openTestQueue(b, 1<<30)
	items := benchItems(1, time.Unix(0, 0))
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := append([]Item(nil), items...)
		for pb.Next() {
			if _, err := q.Append(mine); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkQueueReplay reads the queue oldest first in rounds of 4000 and
// deletes each round, as the uplink does after PUBACKs.
func BenchmarkQueueReplay(b *testing.B) {
	q, _ := openTestQueue(b, 1<<30)
	const n = 20000
	items := benchItems(n, time.Unix(0, 0))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < n; i += 1000 {
			if _, err := q.Append(items[i : i+1000]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for {
			got, err := q.Peek(0, 4000)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			keys := make([]uint64, len(got))
			for i, it := range got {
				keys[i] = it.Key
			}
			if err := q.Delete(keys, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkCatchUp measures how fast an agent empties a backlog of 20,000
// readings (6 metrics each, 10 assets) into the shared Mosquitto once the
// broker is reachable: the catch-up rate after an outage, PUBACK included.
func BenchmarkCatchUp(b *testing.B) {
	broker := mqttURL(b)
	const n = 20000
	for b.Loop() {
		b.StopTimer()
		root := testRoot()
		cfg := testConfig(b, broker, root)
		q, err := OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
		if err != nil {
			b.Fatal(err)
		}
		items := benchItems(n, time.Now().Add(-24*time.Hour))
		for i := 0; i < n; i += 1000 {
			if _, err := q.Append(items[i : i+1000]); err != nil {
				b.Fatal(err)
			}
		}
		a, err := New(cfg, q, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- a.Run(ctx) }()
		for q.Stats().Items > 0 {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		clearRetained(b, broker, StatusTopic(root, cfg.Site, cfg.Gateway))
		q.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "readings/s")
}

func clearRetained(tb testing.TB, broker, topic string) {
	_, c := subscribe(tb, broker, "test/none")
	publish(tb, c, topic, true, nil)
}
