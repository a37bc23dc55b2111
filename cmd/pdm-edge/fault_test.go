package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/edge"
	"github.com/openpdm/pdm/simulators"
	simmodbus "github.com/openpdm/pdm/simulators/modbus"
	"github.com/stretchr/testify/require"
)

// recorder subscribes to everything under a topic root with a persistent
// session and records telemetry in the order the broker delivers it, which
// is the order the platform receives it.
type recorder struct {
	mu      sync.Mutex         // guards the fields below
	order   map[string][]int64 // asset -> ts (ms) in arrival order, duplicates included
	seqs    []uint64
	status  edge.Status
	nstatus int
}

func startRecorder(t *testing.T, brokerURL, root string) *recorder {
	t.Helper()
	r := &recorder{order: map[string][]int64{}}
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("rec-" + randID()).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(300 * time.Millisecond).
		SetOrderMatters(true)
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(root+"/#", 1, r.handle)
	})
	c := paho.NewClient(o)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return r
}

func (r *recorder) handle(_ paho.Client, m paho.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := strings.Split(m.Topic(), "/")
	switch parts[len(parts)-1] {
	case "telemetry":
		var b struct {
			Gateway  string `json:"gateway"`
			Seq      uint64 `json:"seq"`
			Readings []struct {
				TS int64 `json:"ts"`
			} `json:"readings"`
		}
		if err := json.Unmarshal(m.Payload(), &b); err != nil {
			panic(fmt.Sprintf("agent sent invalid JSON: %v", err))
		}
		asset := parts[len(parts)-2]
		r.seqs = append(r.seqs, b.Seq)
		for _, rd := range b.Readings {
			r.order[asset] = append(r.order[asset], rd.TS)
		}
	case "status":
		if len(m.Payload()) > 0 {
			var st edge.Status
			if json.Unmarshal(m.Payload(), &st) == nil {
				r.status = st
				r.nstatus++
			}
		}
	}
}

func (r *recorder) lastStatus() edge.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// checkFIFO fails unless, per asset, every reading the broker delivered is
// either newer than all before it or a redelivery of one seen before.
func (r *recorder) checkFIFO(t *testing.T) map[string]map[int64]bool {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]map[int64]bool{}
	for asset, ts := range r.order {
		seen[asset] = map[int64]bool{}
		var last int64
		for i, x := range ts {
			if seen[asset][x] {
				continue // at-least-once: a resend of an unacknowledged message
			}
			require.Greater(t, x, last, "asset %s: reading %d (ts %d) arrived after a newer one (ts %d)", asset, i, x, last)
			seen[asset][x] = true
			last = x
		}
	}
	return seen
}

type rig struct {
	broker  *servicetest.Mosquitto
	influx  string
	db      string
	root    string
	rec     *recorder
	dev     *simmodbus.Device
	bin     string
	config  string
	queue   string
	metrics int
}

// newRig wires a simulated Modbus device (two pumps) → pdm-edge → a private
// Mosquitto → the platform's ingest pipeline → InfluxDB.
func newRig(t *testing.T, queueBytes int64) *rig {
	t.Helper()
	r := &rig{broker: servicetest.StartMosquitto(t, "max_inflight_messages 1000"), influx: influxURL(t), root: "test/" + randID() + "/pdm/v1"}
	r.db = newInfluxDB(t, r.influx)
	startIngest(t, r.broker.URL, r.influx, r.db, r.root)
	r.rec = startRecorder(t, r.broker.URL, r.root)

	start := time.Now().Add(-24 * time.Hour)
	var models []*simulators.Model
	for _, code := range []string{"pump-1", "pump-2"} {
		m, err := simulators.NewModel(11, simulators.AssetSpec{Code: code, Type: simulators.BuiltinTypes()["pump"], Start: start})
		require.NoError(t, err)
		models = append(models, m)
	}
	regs := simmodbus.Layout(models, 100)
	dev, err := simmodbus.Start(simmodbus.Config{Addr: "127.0.0.1:0", UnitID: 1, Models: models, Registers: regs})
	require.NoError(t, err)
	t.Cleanup(func() { dev.Close() })
	r.dev = dev

	dir := t.TempDir()
	r.queue = filepath.Join(dir, "queue.db")
	var sb strings.Builder
	fmt.Fprintf(&sb, "gateway: gw-fault\nsite: site-f\ntopic_root: %s\nstatus_interval: 500ms\n", r.root)
	fmt.Fprintf(&sb, "uplink:\n  url: %s\n  client_id: edge-%s\n  max_reconnect: 300ms\n", r.broker.URL, randID())
	fmt.Fprintf(&sb, "queue:\n  path: %s\n  max_bytes: %d\n  drain: fifo\n  batch: 50\n", r.queue, queueBytes)
	fmt.Fprintf(&sb, "sources:\n  modbus:\n    - name: sim\n      url: %s\n      unit_id: 1\n      poll_interval: 50ms\n      registers:\n", dev.URL())
	for _, g := range regs {
		fmt.Fprintf(&sb, "        - {address: %d, type: float32, metric: %s, asset: %s}\n", g.Address, g.Metric, g.Asset)
	}
	r.config = filepath.Join(dir, "edge.yaml")
	require.NoError(t, os.WriteFile(r.config, []byte(sb.String()), 0o600))
	r.bin = buildAgent(t)
	r.metrics = servicetest.FreePort(t)
	return r
}

func (r *rig) agent(t *testing.T) *agentProc { return startAgentProc(t, r.bin, r.config, r.metrics) }

func waitMetric(t *testing.T, a *agentProc, name string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	waitFor(t, 30*time.Second, name, func() bool {
		x, err := a.metric(name)
		v = x
		return err == nil && ok(x)
	})
	return v
}

// waitQuiet waits until the agent takes no more readings and its queue is
// empty. A poll already under way when the device stops may still enqueue
// after the queue first reads empty, so "empty" alone is not final: the
// count of items sent must also hold still across several poll
// intervals while the queue stays empty.
func waitQuiet(t *testing.T, a *agentProc) {
	t.Helper()
	last, stableSince := -1.0, time.Time{}
	waitFor(t, 60*time.Second, "the agent quiet with an empty queue", func() bool {
		got, err := a.metric("pdm_edge_items_sent_total")
		if err != nil {
			return false
		}
		items, err := a.metric("pdm_edge_queue_items")
		if err != nil {
			return false
		}
		if got != last || items != 0 {
			last, stableSince = got, time.Now()
			return false
		}
		return time.Since(stableSince) >= 2*time.Second
	})
}

func (r *rig) influxCount(t *testing.T) int {
	n, err := countInflux(r.influx, r.db, "vibration_rms")
	require.NoError(t, err)
	return n
}

// TestFaultBrokerOutageAndSIGKILL stops the broker with data flowing,
// SIGKILLs the agent during the outage, starts it again, restores the
// broker, and checks that every reading the agent took arrives in InfluxDB,
// counted exactly, and in time order per asset as received (fifo).
func TestFaultBrokerOutageAndSIGKILL(t *testing.T) {
	t.Parallel()
	r := newRig(t, 64<<20)
	a := r.agent(t)
	waitFor(t, 30*time.Second, "readings flowing into InfluxDB", func() bool { return r.influxCount(t) >= 20 })

	t.Log("data flowing; stopping the broker")
	r.broker.Stop()
	waitMetric(t, a, "pdm_edge_uplink_connected", func(v float64) bool { return v == 0 })
	waitMetric(t, a, "pdm_edge_queue_items", func(v float64) bool { return v >= 40 })
	t.Log("SIGKILL the agent during the outage")
	a.kill(t) // SIGKILL during the outage

	a = r.agent(t)
	before := waitMetric(t, a, "pdm_edge_queue_items", func(v float64) bool { return v >= 40 })
	waitMetric(t, a, "pdm_edge_queue_items", func(v float64) bool { return v >= before+20 })
	t.Log("restoring the broker")
	r.broker.Start()

	// Data keeps flowing for a moment after the restore, then the device
	// goes quiet so the count is final.
	waitMetric(t, a, "pdm_edge_uplink_connected", func(v float64) bool { return v == 1 })
	require.NoError(t, r.dev.Stop())
	waitQuiet(t, a)
	t.Log("queue drained")
	a.term(t)

	q, err := edge.OpenQueue(r.queue, 64<<20)
	require.NoError(t, err)
	taken := int(q.LastKey()) // every reading the agent ever queued has a key
	st := q.Stats()
	require.NoError(t, q.Close())
	require.Zero(t, st.Items)
	require.Zero(t, st.Dropped)

	waitFor(t, 30*time.Second, fmt.Sprintf("%d readings in InfluxDB", taken), func() bool { return r.influxCount(t) >= taken })
	require.Equal(t, taken, r.influxCount(t), "every reading arrives, counted exactly")

	seen := r.rec.checkFIFO(t)
	stored := influxTimes(t, r.influx, r.db, "vibration_rms")
	total := 0
	for asset, ts := range stored {
		require.Len(t, seen[asset], len(ts), "asset %s: what the broker delivered is what InfluxDB holds", asset)
		for _, x := range ts {
			require.True(t, seen[asset][x], "asset %s ts %d stored but not delivered", asset, x)
		}
		total += len(ts)
	}
	require.Equal(t, taken, total)
	require.Len(t, stored, 2)
	t.Logf("readings taken %d, all in InfluxDB and in order", taken)
}

// TestFaultSmallQueueDropsOldest fills a too-small queue during an outage
// and checks that only the oldest readings are dropped and that the status
// message reports how many.
func TestFaultSmallQueueDropsOldest(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8<<10)
	a := r.agent(t)
	waitFor(t, 30*time.Second, "readings flowing into InfluxDB", func() bool { return r.influxCount(t) >= 10 })

	r.broker.Stop()
	waitMetric(t, a, "pdm_edge_uplink_connected", func(v float64) bool { return v == 0 })
	sent, err := a.metric("pdm_edge_items_sent_total")
	require.NoError(t, err)
	waitMetric(t, a, "pdm_edge_queue_dropped_total", func(v float64) bool { return v >= 30 })
	a.kill(t)

	q, err := edge.OpenQueue(r.queue, 8<<10)
	require.NoError(t, err)
	items, err := q.Peek(0, 1<<20)
	require.NoError(t, err)
	last := q.LastKey()
	st := q.Stats()
	require.NoError(t, q.Close())
	require.NotEmpty(t, items)
	for i, it := range items {
		require.Equal(t, last-uint64(len(items)-1-i), it.Key, "the queue holds exactly the newest readings")
	}
	require.Equal(t, int64(last)-int64(sent)-int64(len(items)), st.Dropped,
		"every reading is sent, kept or counted as dropped")

	require.NoError(t, r.dev.Stop()) // no new readings: the count is final
	r.broker.Start()
	a = r.agent(t)
	waitMetric(t, a, "pdm_edge_queue_items", func(v float64) bool { return v == 0 })
	waitFor(t, 10*time.Second, "status reporting the drops", func() bool {
		s := r.rec.lastStatus()
		return s.State == "online" && s.Buffered == 0 && s.Dropped == st.Dropped
	})
	a.term(t)

	want := int(last) - int(st.Dropped)
	t.Logf("queue drained; want %d readings in InfluxDB", want)
	waitFor(t, 30*time.Second, fmt.Sprintf("%d readings in InfluxDB", want), func() bool {
		n := r.influxCount(t)
		if n < want {
			r.rec.mu.Lock()
			t.Logf("influx %d, delivered %d+%d", n, len(r.rec.order["pump-1"]), len(r.rec.order["pump-2"]))
			r.rec.mu.Unlock()
			time.Sleep(time.Second)
		}
		return n >= want
	})
	stored := influxTimes(t, r.influx, r.db, "vibration_rms")
	kept := map[string]map[int64]bool{}
	for _, it := range items {
		if kept[it.Reading.Asset] == nil {
			kept[it.Reading.Asset] = map[int64]bool{}
		}
		kept[it.Reading.Asset][it.Reading.TS.UnixMilli()] = true
	}
	for asset, ts := range stored {
		var minKept int64 = 1 << 62
		for x := range kept[asset] {
			minKept = min(minKept, x)
		}
		have := map[int64]bool{}
		for _, x := range ts {
			have[x] = true
			if !kept[asset][x] {
				require.Less(t, x, minKept, "asset %s: a reading older than the kept ones arrived: only sent ones may", asset)
			}
		}
		for x := range kept[asset] {
			require.True(t, have[x], "asset %s: kept reading %d lost", asset, x)
		}
	}
	got := r.influxCount(t)
	// A message the broker delivered but could not acknowledge before it
	// stopped is both stored and (as the oldest in the queue) dropped.
	require.GreaterOrEqual(t, got, want)
	require.LessOrEqual(t, got, want+100)
	t.Logf("readings taken %d, dropped %d (reported), stored %d", last, st.Dropped, got)
}

// clearRetained removes a retained message the test left on the broker.
func clearRetained(tb testing.TB, brokerURL, topic string) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID("clr-" + randID()))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		tb.Errorf("clear retained %s: cannot connect", topic)
		return
	}
	defer c.Disconnect(100)
	c.Publish(topic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
}
