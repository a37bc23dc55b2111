package ingest_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

// Fault tests: a service fails mid-stream and afterwards every reading is in
// InfluxDB, counted exactly. Services that are stopped are private
// instances of the test (never the shared ones).

// streamer publishes n single readings (10 metrics each) to assets a0..a3
// from a goroutine, at a pace that lets the test inject a fault mid-stream.
type streamer struct {
	published atomic.Int64
	done      chan struct{}
}

func stream(t *testing.T, c paho.Client, root string, n int) *streamer {
	s := &streamer{done: make(chan struct{})}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	go func() {
		defer close(s.done)
		for i := 0; i < n; i++ {
			r := ingest.Reading{TS: base.Add(time.Duration(i) * time.Millisecond)}
			for m := 0; m < 10; m++ {
				r.Metrics = append(r.Metrics, ingest.Metric{Name: fmt.Sprintf("m%d", m), Value: float64(i)})
			}
			topic := ingest.TelemetryTopic(root, "s1", fmt.Sprintf("a%d", i%4))
			payload := ingest.AppendJSON(nil, "", 0, []ingest.Reading{r})
			for attempt := 0; ; attempt++ {
				tok := c.Publish(topic, 1, false, payload)
				if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
					break
				}
				if attempt > 200 {
					t.Errorf("Mosquitto: publish kept failing: %v", tok.Error())
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			s.published.Add(1)
			if i%20 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return s
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].Counter != nil {
			return mf.GetMetric()[0].Counter.GetValue()
		}
	}
	return 0
}

func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].Gauge != nil {
			return mf.GetMetric()[0].Gauge.GetValue()
		}
	}
	return 0
}

func waitCount(t *testing.T, base, db string, want int, d time.Duration) {
	t.Helper()
	got := -1
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if n, err := countPointsErr(base, db, "m0"); err == nil {
			got = n
			if n == want {
				return
			}
			require.LessOrEqual(t, n, want, "more points than readings published")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("InfluxDB has %d readings, want %d", got, want)
}

func TestFaultInfluxRestart(t *testing.T) {
	t.Parallel()
	inf := servicetest.StartInfluxd(t)
	db := newInfluxDB(t, inf.URL)
	// A private broker too: while InfluxDB is down the broker must queue
	// the whole backlog for the session (max_queued_messages 0); the
	// shared one drops QoS 1 messages beyond its default 1000.
	broker := servicetest.StartMosquitto(t, "max_inflight_messages 5000").URL
	root := "test/" + randID() + "/pdm/v1"
	// The broker's in-flight window (5000) is larger than what the
	// pipeline queues (MaxInFlight 500), so during the outage delivery
	// blocks: memory stays bounded and nothing is lost.
	cfg := ingest.Config{BatchSize: 200, MaxInFlight: 500, MaxConcurrentWrites: 2}
	r := startRig(t, rigOpts{broker: broker, influxURL: inf.URL, db: db, root: root, clientID: "ingest-" + randID(), cfg: cfg})
	const n = 3000
	s := stream(t, publisher(t, broker), root, n)

	waitFor(t, 30*time.Second, "first readings stored", func() bool {
		c, err := countPointsErr(inf.URL, db, "m0")
		return err == nil && c > 0 && s.published.Load() >= n/4
	})
	inf.Stop()
	maxInFlight, maxQueued := 0.0, 0.0
	waitFor(t, 30*time.Second, "publishing to go on while InfluxDB is down", func() bool {
		maxInFlight = max(maxInFlight, gauge(t, r.reg, "pdm_ingest_in_flight_readings"))
		maxQueued = max(maxQueued, gauge(t, r.reg, "pdm_ingest_queued_messages"))
		return s.published.Load() >= n*3/4 && counter(t, r.reg, "pdm_ingest_write_errors_total") >= 3
	})
	require.Error(t, r.p.Ready(t.Context()), "not ready while InfluxDB is down")
	// Bounded: the batches the writers hold and one being filled, and the queue.
	require.LessOrEqual(t, maxInFlight, float64(cfg.BatchSize*(cfg.MaxConcurrentWrites+2)))
	require.LessOrEqual(t, maxQueued, float64(cfg.MaxInFlight))
	inf.Start()
	<-s.done
	waitCount(t, inf.URL, db, n, 60*time.Second)
	require.Greater(t, counter(t, r.reg, "pdm_ingest_write_errors_total"), 0.0, "the outage was seen")
	waitFor(t, 10*time.Second, "ready again", func() bool { return r.p.Ready(t.Context()) == nil })
}

func TestFaultBrokerRestart(t *testing.T) {
	t.Parallel()
	mq := servicetest.StartMosquitto(t, "max_inflight_messages 5000")
	iurl := influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	r := startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: "ingest-" + randID(),
		cfg: ingest.Config{BatchSize: 200}})
	const n = 3000
	s := stream(t, publisher(t, mq.URL), root, n)

	waitFor(t, 30*time.Second, "first readings stored", func() bool {
		c, err := countPointsErr(iurl, db, "m0")
		return err == nil && c > 0 && s.published.Load() >= n/3
	})
	mq.Stop()
	waitFor(t, 10*time.Second, "the pipeline to see the broker gone", func() bool { return r.p.Ready(t.Context()) != nil })
	mq.Start()
	<-s.done
	waitCount(t, iurl, db, n, 60*time.Second)
	require.NoError(t, r.p.Ready(t.Context()))
}

func TestFaultReplicasShareTheStream(t *testing.T) {
	t.Parallel()
	broker, iurl := mqttURL(t), influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	group := "g" + randID()
	var rigs []*rig
	for i := 0; i < 3; i++ {
		rigs = append(rigs, startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, share: group,
			clientID: fmt.Sprintf("ingest-%s-%d", group, i)}))
	}
	const n = 3000
	s := stream(t, publisher(t, broker), root, n)
	<-s.done
	waitCount(t, iurl, db, n, 60*time.Second)
	// A replica counts a batch after InfluxDB has it and the broker got
	// the acknowledgements: wait for the counters too.
	waitFor(t, 10*time.Second, "every replica to count what it wrote", func() bool {
		sum := 0.0
		for _, r := range rigs {
			sum += counter(t, r.reg, "pdm_ingest_readings_total")
		}
		return sum >= n
	})
	total := 0.0
	for i, r := range rigs {
		got := counter(t, r.reg, "pdm_ingest_readings_total")
		t.Logf("replica %d wrote %.0f readings", i, got)
		require.Greater(t, got, n*0.2, "replica %d got too little of the stream", i)
		require.Less(t, got, n*0.5, "replica %d got too much of the stream", i)
		total += got
	}
	require.Equal(t, float64(n), total, "each message handled by exactly one replica")
}
