package ingest_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
)

// Benchmarks for scripts/bench-ingest.sh. The end-to-end ones publish to a
// private Mosquitto (large in-flight window) and write to the shared
// InfluxDB, 10 metrics a reading.

func benchReadings(n int, ts time.Time) []ingest.Reading {
	rs := make([]ingest.Reading, n)
	for i := range rs {
		rs[i].TS = ts.Add(time.Duration(i) * time.Millisecond)
		for m := 0; m < 10; m++ {
			rs[i].Metrics = append(rs[i].Metrics, ingest.Metric{Name: "metric_" + strconv.Itoa(m), Value: 1.25 * float64(i*m+1)})
		}
	}
	return rs
}

func lpPayload(rs []ingest.Reading) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, "pump "...)
		for i, m := range r.Metrics {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, strings.TrimPrefix(m.Name, "metric_")...)
			b = append(b, '=')
			b = strconv.AppendFloat(b, m.Value, 'g', -1, 64)
		}
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.TS.UnixNano(), 10)
		b = append(b, '\n')
	}
	return b
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecode measures ingest's decoders (json-*: hand-written;
// lp-*: influxdata/line-protocol/v2 with ingest's checks and tag folding)
// and, in the same run, the same payloads decoded with encoding/json
// (json-*-std) and line-protocol/v2's bare Decoder (lp-*-lib).
func BenchmarkDecode(b *testing.B) {
	now := time.Now()
	rs := benchReadings(50, now.Add(-time.Hour))
	var d ingest.Decoder
	hand := d.Decode
	for _, tc := range []struct {
		name    string
		payload []byte
		n       int
		decode  func(site, asset string, payload []byte, now time.Time) ([]ingest.Reading, error)
	}{
		{"json-1", ingest.AppendJSON(nil, "", 0, rs[:1]), 1, hand},
		{"json-50", ingest.AppendJSON(nil, "gw-1", 1, rs), 50, hand},
		{"lp-1", lpPayload(rs[:1]), 1, hand},
		{"lp-50", lpPayload(rs), 50, hand},
		{"json-1-std", ingest.AppendJSON(nil, "", 0, rs[:1]), 1, decodeJSONStd},
		{"json-50-std", ingest.AppendJSON(nil, "gw-1", 1, rs), 50, decodeJSONStd},
		{"lp-1-lib", lpPayload(rs[:1]), 1, decodeLPLib},
		{"lp-50-lib", lpPayload(rs), 50, decodeLPLib},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if got, err := tc.decode("site-1", "asset-1", tc.payload, now); err != nil || len(got) != tc.n || len(got[0].Metrics) != 10 {
				b.Fatalf("decode: %d readings, %v", len(got), err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.payload)))
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := tc.decode("site-1", "asset-1", tc.payload, now); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per reading says what a core costs even when the
			// machine is shared (wall time then includes waiting for a CPU).
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*tc.n), "cpu-ns/reading")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.n), "ns/reading")
			b.ReportMetric(float64(b.N*tc.n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkInfluxRaw is the store's own rate: line protocol straight over
// HTTP, 5,000 lines (readings of 10 fields) a request, 2 writers.
func BenchmarkInfluxRaw(b *testing.B) {
	b.Run("http", func(b *testing.B) {
		iurl := influxURL(b)
		c, err := influx.New(influx.Config{URL: iurl, Bucket: newInfluxDB(b, iurl)})
		if err != nil {
			b.Fatal(err)
		}
		benchInfluxWrites(b, c.WriteLineProtocol, 5000, 2)
	})
	// The official client's blocking write API with the same lines, to
	// compare with the direct HTTP write the Writer uses.
	b.Run("client-lib", func(b *testing.B) {
		iurl := influxURL(b)
		cl := influxdb2.NewClient(iurl, "")
		defer cl.Close()
		w := cl.WriteAPIBlocking("", newInfluxDB(b, iurl))
		benchInfluxWrites(b, func(ctx context.Context, body []byte) error {
			lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
			return w.WriteRecord(ctx, lines...)
		}, 5000, 2)
	})
}

// BenchmarkInfluxRawSweep is the store's rate by request size and writers,
// to choose the pipeline's defaults (PDM_BENCH_SWEEP=1 runs it; -benchtime
// counts requests of 5,000 lines, scaled for other sizes).
func BenchmarkInfluxRawSweep(b *testing.B) {
	if os.Getenv("PDM_BENCH_SWEEP") == "" {
		b.Skip("PDM_BENCH_SWEEP not set")
	}
	iurl := influxURL(b)
	for _, lines := range []int{5000, 10000, 20000} {
		for _, writers := range []int{2, 3, 4} {
			b.Run(fmt.Sprintf("lines=%d/writers=%d", lines, writers), func(b *testing.B) {
				c, err := influx.New(influx.Config{URL: iurl, Bucket: newInfluxDB(b, iurl)})
				if err != nil {
					b.Fatal(err)
				}
				benchInfluxWrites(b, c.WriteLineProtocol, lines, writers)
			})
		}
	}
}

func benchInfluxWrites(b *testing.B, write func(context.Context, []byte) error, lines, writers int) {
	base := time.Now().Add(-24 * time.Hour)
	var mu sync.Mutex
	next := 0
	body := func() []byte {
		mu.Lock()
		k := next
		next++
		mu.Unlock()
		rs := benchReadings(lines, base.Add(time.Duration(k*lines)*time.Millisecond))
		var out []byte
		for i := range rs {
			rs[i].Site, rs[i].Asset = "s1", "a"+strconv.Itoa(i%100)
			out = influx.AppendLine(out, &rs[i])
		}
		return out
	}
	bodies := make(chan []byte, 4)
	go func() {
		for {
			select {
			case bodies <- body():
			case <-b.Context().Done():
				return
			}
		}
	}()
	reqs := max(1, b.N*5000/lines)
	b.ResetTimer()
	var wg sync.WaitGroup
	var n sync.Mutex
	total := 0
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n.Lock()
				if total >= reqs {
					n.Unlock()
					return
				}
				total++
				n.Unlock()
				if err := write(context.Background(), <-bodies); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(reqs*lines)/b.Elapsed().Seconds(), "readings/s")
}

func benchTotal() int {
	if v, err := strconv.Atoi(os.Getenv("PDM_BENCH_READINGS")); err == nil && v > 0 {
		return v
	}
	return 100000
}

// latencyCollector records publish-to-durable latency: the first reading of
// each message carries the publish time as its ts and m0 = -1.
type latencyCollector struct {
	mu  sync.Mutex // guards lat, n
	lat []time.Duration
	n   int
}

func (c *latencyCollector) Consume(_ context.Context, rs []ingest.Reading) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(rs)
	for _, r := range rs {
		if v, ok := r.Value("metric_0"); ok && v == -1 {
			c.lat = append(c.lat, now.Sub(r.TS))
		} else if v, ok := r.Value("pump_0"); ok && v == -1 {
			c.lat = append(c.lat, now.Sub(r.TS))
		}
	}
}

// count is how many readings were handed on (written and acknowledged).
func (c *latencyCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *latencyCollector) HandleEvent(context.Context, ingest.Event) error { return nil }

// BenchmarkEndToEnd measures sustained readings/s of ingest from the broker
// to InfluxDB (acknowledged) with a backlog waiting in the broker, then
// publish-to-durable latency at half that rate.
func BenchmarkEndToEnd(b *testing.B) {
	mq := servicetest.StartMosquitto(b, "max_inflight_messages 5000")
	iurl := influxURL(b)
	for _, tc := range []struct {
		name string
		lp   bool
		per  int
	}{{"json-1", false, 1}, {"json-50", false, 50}, {"lp-1", true, 1}, {"lp-50", true, 50}} {
		b.Run(tc.name, func(b *testing.B) {
			db := newInfluxDB(b, iurl)
			root := "bench/" + randID() + "/pdm/v1"
			col := &latencyCollector{}
			opts := rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: "bench-" + randID(), cfg: benchConfig()}
			// The session (and its subscription) exists first; the backlog is
			// then published while ingest is down, so the timed part is
			// ingest alone draining the broker, not the publishers (which
			// share the 2 cores).
			r := startRigCol(b, opts, col)
			r.stop(b)
			// With 50 readings a message the drain of benchTotal readings
			// lasts only a second or two, which InfluxDB absorbs in its
			// cache and pays for later (snapshots, compaction, during the
			// latency run); five times as many make the rate a sustained one.
			total := benchTotal()
			if tc.per > 1 {
				total *= 5
			}
			msgs := total / tc.per
			const assets = 1000
			mk := func(i int, ts time.Time, marker bool) (string, []byte) {
				rs := benchReadings(tc.per, ts.Add(-time.Duration(tc.per)*time.Millisecond))
				// In time order, as a gateway sends them (out of order, every
				// batch is sorted before the hand-on: 8 % of ingest's CPU at
				// json-50 in a profile of 2026-11-30); the newest carries the
				// publish time.
				last := &rs[len(rs)-1]
				last.TS = ts
				if marker {
					last.Metrics[0].Value = -1
				}
				topic := ingest.TelemetryTopic(root, "s1", "a"+strconv.Itoa(i%assets))
				if tc.lp {
					return topic, lpPayload(rs)
				}
				return topic, ingest.AppendJSON(nil, "", 0, rs)
			}
			// Throughput: everything published as fast as the publishers go.
			topics := make([]string, msgs)
			payloads := make([][]byte, msgs)
			base := time.Now().Add(-48 * time.Hour)
			for i := range msgs {
				topics[i], payloads[i] = mk(i, base.Add(time.Duration(i/assets)*time.Duration(tc.per+1)*time.Millisecond), false)
			}
			pubs := benchPublishers(b, mq.URL, 4)
			pubStart := time.Now()
			publishAll(b, pubs, topics, payloads, time.Now(), 0)
			b.Logf("published %d messages in %v", msgs, time.Since(pubStart))
			b.ResetTimer()
			start := time.Now()
			cpu0 := cpuTime()
			stopProfile := profileDrain(b, tc.name)
			r = startRigCol(b, opts, col)
			want := float64(msgs * tc.per)
			field := "metric_1"
			if tc.lp {
				field = "pump_1"
			}
			// Polled through the consumer, not the registry: gathering the
			// registry every 5 ms was 18 % of the CPU counted as ingest's
			// (profile of 2026-11-30) and took it from InfluxDB.
			// (Readings of one asset and time in one batch are merged
			// before the hand-on, so every 0.5 s InfluxDB is asked too.)
			for i := 1; float64(col.count()) < want; i++ {
				if i%100 == 0 && countPoints(b, iurl, db, field) >= msgs*tc.per {
					break
				}
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("only %.0f of %.0f readings after 5m", counter(b, r.reg, "pdm_ingest_readings_total"), want)
				}
				time.Sleep(5 * time.Millisecond)
			}
			// The counter counts every write, so messages refused under
			// back-pressure and delivered again count twice: the drain
			// ends when InfluxDB holds every reading.
			for n := countPoints(b, iurl, db, field); n < msgs*tc.per; n = countPoints(b, iurl, db, field) {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("InfluxDB has %d readings after 5m, want %d (%.0f written, %.0f messages refused)", n, msgs*tc.per,
						counter(b, r.reg, "pdm_ingest_readings_total"), counter(b, r.reg, "pdm_ingest_refused_total"))
				}
				time.Sleep(20 * time.Millisecond)
			}
			el := time.Since(start)
			stopProfile()
			// The publishers are done, so the process's CPU time is ingest's
			// (paho, decoding, batching, HTTP to InfluxDB).
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/want, "cpu-ns/reading")
			rate := want / el.Seconds()
			logHist(b, r.reg, "pdm_ingest_batch_readings", "pdm_ingest_write_seconds", "pdm_ingest_ack_lag_seconds")
			b.ReportMetric(rate, "readings/s")
			b.ReportMetric(float64(msgs)/el.Seconds(), "msgs/s")
			b.ReportMetric(counter(b, r.reg, "pdm_ingest_refused_total"), "refused-msgs")
			if n := countPoints(b, iurl, db, field); n != msgs*tc.per {
				b.Fatalf("InfluxDB has %d readings, want %d", n, msgs*tc.per)
			}

			// Latency at half the sustained rate, for about 5 s.
			msgRate := rate / 2 / float64(tc.per)
			nl := int(msgRate * 5)
			topics, payloads = topics[:0], payloads[:0]
			interval := time.Duration(float64(time.Second) / msgRate)
			t0 := time.Now().Add(time.Second)
			for i := range nl {
				ts := t0.Add(time.Duration(i) * interval)
				tp, p := mk(i, ts, true)
				topics, payloads = append(topics, tp), append(payloads, p)
			}
			ackLag0 := histBuckets(b, r.reg, "pdm_ingest_ack_lag_seconds")
			write0 := histBuckets(b, r.reg, "pdm_ingest_write_seconds")
			sampled := make(chan string)
			sctx, stopSampling := context.WithCancel(context.Background())
			go func() { sampled <- sampleQueues(sctx, b, r.reg) }()
			pubLate := publishAll(b, pubs, topics, payloads, t0, interval)
			waitFor(b, time.Minute, "latency samples", func() bool {
				col.mu.Lock()
				defer col.mu.Unlock()
				return len(col.lat) >= nl
			})
			stopSampling()
			b.Logf("at half rate: %s", <-sampled)
			b.Logf("at half rate: %s", pubLate)
			// Where the time goes at half rate: receive to ack (ours) and
			// the write to InfluxDB; the rest of the latency is before the
			// message reaches ingest (publisher and broker).
			b.Logf("at half rate: ack lag (receive to ack) %s; write %s",
				histQuantiles(histBuckets(b, r.reg, "pdm_ingest_ack_lag_seconds"), ackLag0),
				histQuantiles(histBuckets(b, r.reg, "pdm_ingest_write_seconds"), write0))
			col.mu.Lock()
			lat := slices.Clone(col.lat)
			col.mu.Unlock()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.StopTimer()
			r.stop(b)
		})
	}
}

func benchPublishers(b testing.TB, broker string, n int) []paho.Client {
	var out []paho.Client
	for i := 0; i < n; i++ {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("benchpub-%s-%d", randID(), i)).
			SetMaxResumePubInFlight(1000).SetWriteTimeout(10 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("Mosquitto: benchmark publisher: %v", tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(100) })
		out = append(out, c)
	}
	return out
}

// publishAll publishes QoS 1 from all publishers, at most 500 unacknowledged
// each; with interval > 0, message i goes out at start + i*interval, and
// the result describes how late the publishers handed messages to their
// clients (latency the publisher side adds, not ingest).
func publishAll(b testing.TB, pubs []paho.Client, topics []string, payloads [][]byte, start time.Time, interval time.Duration) string {
	var mu sync.Mutex
	var late []time.Duration
	var wg sync.WaitGroup
	for p, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var window []paho.Token
			for i := p; i < len(topics); i += len(pubs) {
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				if interval > 0 {
					d := time.Since(start.Add(time.Duration(i) * interval))
					mu.Lock()
					late = append(late, d)
					mu.Unlock()
				}
				window = append(window, c.Publish(topics[i], 1, false, payloads[i]))
				if len(window) >= 500 {
					if !window[0].WaitTimeout(30*time.Second) || window[0].Error() != nil {
						b.Errorf("publish: %v", window[0].Error())
						return
					}
					window = window[1:]
				}
			}
			for _, t := range window {
				if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
					b.Errorf("publish: %v", t.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(late) == 0 {
		return ""
	}
	slices.Sort(late)
	return fmt.Sprintf("publisher lateness p50 %.1f ms, p99 %.1f ms", float64(late[len(late)/2].Microseconds())/1000,
		float64(late[len(late)*99/100].Microseconds())/1000)
}

// logHist logs count and mean of histograms (to see where time goes).
func logHist(b *testing.B, reg *prometheus.Registry, names ...string) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		b.Logf("%s: count %d mean %.4g", mf.GetName(), h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount()))
	}
}

// benchConfig is the pipeline's default configuration, or the batch size,
// writers and batch wait PDM_BENCH_BATCH, PDM_BENCH_WRITERS and
// PDM_BENCH_BATCH_WAIT say (to compare).
func benchConfig() ingest.Config {
	var c ingest.Config
	c.BatchSize, _ = strconv.Atoi(os.Getenv("PDM_BENCH_BATCH"))
	c.MaxConcurrentWrites, _ = strconv.Atoi(os.Getenv("PDM_BENCH_WRITERS"))
	c.BatchWait, _ = time.ParseDuration(os.Getenv("PDM_BENCH_BATCH_WAIT"))
	return c
}

// sampleQueues samples the pipeline's queue gauges every 10 ms until ctx
// ends and describes them: messages waiting for decoding, and readings
// decoded but not yet written and acknowledged.
func sampleQueues(ctx context.Context, b *testing.B, reg *prometheus.Registry) string {
	var n int
	var sumQ, maxQ, sumR, maxR float64
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if n == 0 {
				return "no queue samples"
			}
			return fmt.Sprintf("queued messages mean %.0f max %.0f; readings in flight mean %.0f max %.0f",
				sumQ/float64(n), maxQ, sumR/float64(n), maxR)
		case <-t.C:
		}
		q, r := gauge(b, reg, "pdm_ingest_queued_messages"), gauge(b, reg, "pdm_ingest_in_flight_readings")
		n++
		sumQ, sumR = sumQ+q, sumR+r
		maxQ, maxR = max(maxQ, q), max(maxR, r)
	}
}

// histBuckets returns a histogram's cumulative bucket counts by upper bound.
func histBuckets(b *testing.B, reg *prometheus.Registry, name string) map[float64]uint64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[float64]uint64)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, bk := range h.GetBucket() {
			out[bk.GetUpperBound()] = bk.GetCumulativeCount()
		}
		out[math.Inf(1)] = h.GetSampleCount()
	}
	return out
}

// histQuantiles describes the observations between two histBuckets by the
// bucket bounds their p50 and p99 fall under.
func histQuantiles(after, before map[float64]uint64) string {
	bounds := slices.Sorted(maps.Keys(after))
	n := after[math.Inf(1)] - before[math.Inf(1)]
	if n == 0 {
		return "no observations"
	}
	q := func(f float64) string {
		for _, ub := range bounds {
			if float64(after[ub]-before[ub]) >= f*float64(n) {
				return fmt.Sprintf("<= %gs", ub)
			}
		}
		return "?"
	}
	return fmt.Sprintf("n %d, p50 %s, p99 %s, max %s", n, q(0.5), q(0.99), q(1))
}

// profileDrain writes a CPU profile of the drain phase to
// $PDM_BENCH_PROFILE/<case>.pprof when that variable names a folder.
func profileDrain(b *testing.B, name string) func() {
	dir := os.Getenv("PDM_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// chanSource is an ingest.Source fed by the benchmark itself.
type chanSource struct {
	deliver chan func(ingest.Message) bool
}

func (s *chanSource) Start(_ context.Context, d func(ingest.Message) bool) error {
	s.deliver <- d
	return nil
}
func (s *chanSource) Stop()           {}
func (s *chanSource) Connected() bool { return true }

// encodeWriter encodes a batch as the InfluxDB writer does and sends it
// nowhere.
type encodeWriter struct{ bufs sync.Pool }

func (w *encodeWriter) Write(_ context.Context, rs []ingest.Reading) error {
	bp, _ := w.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	for i := range rs {
		b = influx.AppendLine(b, &rs[i])
	}
	*bp = b
	w.bufs.Put(bp)
	return nil
}

type countConsumer struct{ n atomic.Int64 }

func (c *countConsumer) Consume(_ context.Context, rs []ingest.Reading) { c.n.Add(int64(len(rs))) }

// BenchmarkPipelineCPU is ingest's own CPU per reading without the broker
// and InfluxDB: messages handed to the pipeline as the MQTT source does,
// decoded, batched, encoded as line protocol (not sent), acknowledged and
// handed on. CPU time is the process's, so the figure holds on a loaded
// machine better than any rate; the end-to-end CPU adds paho and HTTP.
func BenchmarkPipelineCPU(b *testing.B) {
	for _, tc := range []struct {
		name string
		lp   bool
		per  int
	}{{"json-1", false, 1}, {"json-50", false, 50}, {"lp-1", true, 1}, {"lp-50", true, 50}} {
		b.Run(tc.name, func(b *testing.B) {
			const assets = 1000
			msgs := 200000 / tc.per
			base := time.Now().Add(-48 * time.Hour)
			topics := make([]string, msgs)
			payloads := make([][]byte, msgs)
			for i := range msgs {
				ts := base.Add(time.Duration(i/assets) * time.Duration(tc.per+1) * time.Millisecond)
				rs := benchReadings(tc.per, ts.Add(-time.Duration(tc.per)*time.Millisecond))
				topics[i] = ingest.TelemetryTopic("pdm/v1", "s1", "a"+strconv.Itoa(i%assets))
				if tc.lp {
					payloads[i] = lpPayload(rs)
				} else {
					payloads[i] = ingest.AppendJSON(nil, "", 0, rs)
				}
			}
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				src := &chanSource{deliver: make(chan func(ingest.Message) bool, 1)}
				cons := &countConsumer{}
				p, err := ingest.NewPipeline(benchConfig(), ingest.Deps{Source: src, Writer: &encodeWriter{}, Consumer: cons})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				deliver := <-src.deliver
				var acked atomic.Int64
				ack := func() { acked.Add(1) }
				cpu0 := cpuTime()
				for i := range msgs {
					if !deliver(ingest.Message{Topic: topics[i], Payload: payloads[i], Ack: ack}) {
						b.Fatal("refused")
					}
				}
				for acked.Load() < int64(msgs) {
					time.Sleep(time.Millisecond)
				}
				cpu += cpuTime() - cpu0
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				if n := cons.n.Load(); n != int64(msgs*tc.per) {
					b.Fatalf("handed on %d readings, want %d", n, msgs*tc.per)
				}
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*msgs*tc.per), "cpu-ns/reading")
		})
	}
}
