package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/partition"
)

type nopWriter struct{}

func (nopWriter) Write(context.Context, []ingest.Reading) error { return nil }

func brokerURL() string {
	if u := os.Getenv("PDM_MQTT_URL"); u != "" {
		return u
	}
	return "tcp://127.0.0.1:1883"
}

func randomRoot(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "bench/" + hex.EncodeToString(b) + "/pdm/v1"
}

func batch(n, assets int, t0 time.Time) []ingest.Reading {
	rs := make([]ingest.Reading, n)
	for i := range rs {
		rs[i] = ingest.Reading{Site: "S1", Asset: fmt.Sprintf("A-%05d", i%assets), TS: t0.Add(time.Duration(i) * time.Millisecond),
			Metrics: []ingest.Metric{{Name: "vibration_rms", Value: 2.5}, {Name: "bearing_temp_c", Value: 70},
				{Name: "motor_current_a", Value: 12}, {Name: "flow_m3h", Value: 40}, {Name: "pressure_bar", Value: 4}}}
	}
	return rs
}

// BenchmarkStream measures the partition stream end to end on the real
// broker: a Publisher republishes batches of 5,000 readings (5 metrics
// each, 1,000 assets) over 32 partitions and one Stream connection per
// partition receives and decodes them. Reported: readings/s.
func BenchmarkStream(b *testing.B) {
	const parts, size = 32, 5000
	root := randomRoot(b)
	cfg := Config{URL: brokerURL(), ClientID: "bench-" + root[6:18], TopicRoot: root, Partitions: parts}
	var got atomic.Int64
	st, err := NewStream(cfg, "bench-"+root[6:18], func(_ int, payload []byte, ack func()) {
		rs, err := partition.Decode(payload)
		if err != nil {
			b.Error(err)
		}
		got.Add(int64(len(rs)))
		ack()
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for p := range parts {
		if err := st.Subscribe(p); err != nil {
			b.Fatal(err)
		}
	}
	pub, err := NewPublisher(cfg, nopWriter{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	rs := batch(size, 1000, time.Now().Add(-time.Hour))
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := pub.Write(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * size)
	for got.Load() < want {
		if time.Since(start) > time.Minute {
			b.Fatalf("received %d of %d", got.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "readings/s")
}

// BenchmarkCodec measures encoding and decoding one 5,000-reading batch.
func BenchmarkCodec(b *testing.B) {
	rs := batch(5000, 1000, time.Now())
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		buf = partition.Encode(buf[:0], rs)
		if _, err := partition.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(len(buf))/float64(len(rs)), "bytes/reading")
}
