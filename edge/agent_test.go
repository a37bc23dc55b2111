package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
	"github.com/stretchr/testify/require"
)

// mqttURL returns the shared Mosquitto's URL and fails the test naming it
// when it cannot be reached.
func mqttURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PDM_MQTT_URL")
	if u == "" {
		u = "tcp://127.0.0.1:1883"
	}
	p, err := url.Parse(u)
	require.NoError(t, err)
	c, err := net.DialTimeout("tcp", p.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("Mosquitto (PDM_MQTT_URL=%s) is not reachable: %v", u, err)
	}
	c.Close()
	return u
}

type received struct {
	topic   string
	payload []byte
}

// subscribe connects a client to broker and collects messages on filter.
func subscribe(t testing.TB, broker, filter string) (<-chan received, mqtt.Client) {
	t.Helper()
	ch := make(chan received, 100000)
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("edge-test-%d", rand.Int64())).
		SetCleanSession(true).SetOrderMatters(true)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	tok = c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		ch <- received{m.Topic(), append([]byte(nil), m.Payload()...)}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return ch, c
}

func publish(t testing.TB, c mqtt.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

type batchMsg struct {
	Gateway  string `json:"gateway"`
	Seq      uint64 `json:"seq"`
	Readings []struct {
		TS      int64              `json:"ts"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"readings"`
}

func testRoot() string { return fmt.Sprintf("test/%d/pdm/v1", rand.Int64()) }

func testConfig(t testing.TB, broker, root string) Config {
	c := Config{
		Gateway: "gw-t", Site: "site-t", TopicRoot: root,
		Uplink: Uplink{URL: broker, ClientID: fmt.Sprintf("edge-agent-%d", rand.Int64())},
		Queue:  QueueConfig{Path: filepath.Join(t.TempDir(), "q.db")},
	}
	c.Normalize()
	return c
}

func startAgent(t *testing.T, cfg Config) (*Agent, *Queue, func()) {
	t.Helper()
	q, err := OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	require.NoError(t, err)
	a, err := New(cfg, q, Options{Version: "test"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		cancel()
		require.NoError(t, <-done)
		q.Close()
	}
	return a, q, stop
}

func waitStatus(t *testing.T, ch <-chan received, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if !strings.HasSuffix(m.topic, "/status") {
				continue
			}
			var s Status
			require.NoError(t, json.Unmarshal(m.payload, &s))
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatal("timed out waiting for a status message")
		}
	}
}

func TestAgentForwardsBatchesAndStatus(t *testing.T) {
	broker := mqttURL(t)
	root := testRoot()
	ch, sub := subscribe(t, broker, root+"/#")
	cfg := testConfig(t, broker, root)
	cfg.Queue.Batch = 7
	a, q, stop := startAgent(t, cfg)
	statusTopic := StatusTopic(root, cfg.Site, cfg.Gateway)
	t.Cleanup(func() { publish(t, sub, statusTopic, true, nil) })

	waitStatus(t, ch, func(s Status) bool { return s.State == "online" && s.Version == "test" })

	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const n = 50
	for i := range n {
		r := ingest.Reading{Asset: fmt.Sprintf("a%d", i%2), TS: base.Add(time.Duration(i) * time.Second),
			Metrics: []ingest.Metric{{Name: "vibration_rms", Value: float64(i)}}}
		require.NoError(t, a.Submit(context.Background(), "test", []ingest.Reading{r}))
	}
	got := map[string][]int64{}
	var seqs []uint64
	deadline := time.After(10 * time.Second)
	for total := 0; total < n; {
		select {
		case m := <-ch:
			if !strings.HasSuffix(m.topic, "/telemetry") {
				continue
			}
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			require.Equal(t, "gw-t", b.Gateway)
			require.LessOrEqual(t, len(b.Readings), 7, "batch bound")
			seqs = append(seqs, b.Seq)
			asset := strings.Split(strings.TrimPrefix(m.topic, root+"/"), "/")[1]
			for _, r := range b.Readings {
				got[asset] = append(got[asset], r.TS)
				total++
			}
		case <-deadline:
			t.Fatalf("timed out: got %v", got)
		}
	}
	for asset, ts := range got {
		require.Len(t, ts, n/2, asset)
		for i := 1; i < len(ts); i++ {
			require.Greater(t, ts[i], ts[i-1], "%s in time order", asset)
		}
	}
	for i := 1; i < len(seqs); i++ {
		require.Equal(t, seqs[i-1]+1, seqs[i], "seq increases by one per message")
	}
	require.Eventually(t, func() bool { return q.Stats().Items == 0 }, 5*time.Second, 10*time.Millisecond,
		"acknowledged readings leave the queue")

	// A bad config is rejected, the old one kept, the error in the status.
	cfgTopic := ConfigTopic(root, cfg.Site, cfg.Gateway)
	t.Cleanup(func() { publish(t, sub, cfgTopic, true, nil) })
	publish(t, sub, cfgTopic, true, []byte(`{"rules":{"deadband":[{"metric":"Bad Name","band":1}]}}`))
	s := waitStatus(t, ch, func(s Status) bool { return s.ConfigError != "" })
	require.Contains(t, s.ConfigError, "Bad Name")
	require.Empty(t, a.Config().Rules.Deadband)

	// A good one is applied without a restart and clears the error.
	publish(t, sub, cfgTopic, true, []byte(`{"gateway":"gw-t","rules":{"deadband":[{"metric":"vibration_rms","band":100}]}}`))
	waitStatus(t, ch, func(s Status) bool { return s.ConfigError == "" && s.State == "online" })
	require.Eventually(t, func() bool { return len(a.Config().Rules.Deadband) == 1 }, 5*time.Second, 10*time.Millisecond)
	// ... and takes effect: values within the band are suppressed.
	for i := range 5 {
		r := ingest.Reading{Asset: "a9", TS: base.Add(time.Duration(i) * time.Second), Metrics: []ingest.Metric{{Name: "vibration_rms", Value: float64(i)}}}
		require.NoError(t, a.Submit(context.Background(), "test", []ingest.Reading{r}))
	}
	var a9 int
	deadline = time.After(3 * time.Second)
wait:
	for {
		select {
		case m := <-ch:
			if strings.HasSuffix(m.topic, "/a9/telemetry") {
				var b batchMsg
				require.NoError(t, json.Unmarshal(m.payload, &b))
				a9 += len(b.Readings)
			}
		case <-deadline:
			break wait
		}
	}
	require.Equal(t, 1, a9, "deadband lets only the first value through")

	stop()
	s = waitStatus(t, ch, func(s Status) bool { return s.State == "offline" })
	require.Zero(t, s.Buffered)
}

func TestAgentLiveFirst(t *testing.T) {
	broker := mqttURL(t)
	root := testRoot()
	ch, sub := subscribe(t, broker, root+"/+/+/telemetry")
	cfg := testConfig(t, broker, root)
	cfg.Queue.Drain = DrainLiveFirst
	cfg.Queue.BacklogRate = 100
	cfg.Queue.Batch = 10
	t.Cleanup(func() { publish(t, sub, StatusTopic(root, cfg.Site, cfg.Gateway), true, nil) })

	// A backlog of 200 readings queued while the agent was away.
	q, err := OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	require.NoError(t, err)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var backlog []Item
	for i := range 200 {
		backlog = append(backlog, Item{Reading: ingest.Reading{Site: cfg.Site, Asset: "old", TS: base.Add(time.Duration(i) * time.Second),
			Metrics: []ingest.Metric{{Name: "v", Value: 1}}}})
	}
	_, err = q.Append(backlog)
	require.NoError(t, err)
	require.NoError(t, q.Close())

	a, _, stop := startAgent(t, cfg)
	defer stop()
	// Wait for the first backlog message, then send a live reading.
	first := <-ch
	require.Contains(t, first.topic, "/old/")
	live := ingest.Reading{Asset: "live", TS: base.Add(time.Hour), Metrics: []ingest.Metric{{Name: "v", Value: 2}}}
	require.NoError(t, a.Submit(context.Background(), "test", []ingest.Reading{live}))
	oldSeen := 0
	var b batchMsg
	require.NoError(t, json.Unmarshal(first.payload, &b))
	oldSeen += len(b.Readings)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			if strings.Contains(m.topic, "/live/") {
				require.Less(t, oldSeen, 150, "the live reading overtakes the backlog")
				return
			}
			oldSeen += len(b.Readings)
		case <-deadline:
			t.Fatalf("live reading not seen; %d backlog readings were", oldSeen)
		}
	}
}

// TestAgentConcurrentSubmit checks that readings submitted from many
// goroutines (as several sources do) all arrive exactly once.
func TestAgentConcurrentSubmit(t *testing.T) {
	broker := mqttURL(t)
	root := testRoot()
	ch, sub := subscribe(t, broker, root+"/+/+/telemetry")
	cfg := testConfig(t, broker, root)
	t.Cleanup(func() { publish(t, sub, StatusTopic(root, cfg.Site, cfg.Gateway), true, nil) })
	a, _, stop := startAgent(t, cfg)
	defer stop()
	var wg sync.WaitGroup
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				r := ingest.Reading{Asset: fmt.Sprintf("g%d", g), TS: base.Add(time.Duration(i) * time.Millisecond),
					Metrics: []ingest.Metric{{Name: "v", Value: float64(i)}}}
				require.NoError(t, a.Submit(context.Background(), "test", []ingest.Reading{r}))
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	total := 0
	deadline := time.After(10 * time.Second)
	for total < 400 {
		select {
		case m := <-ch:
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			for _, r := range b.Readings {
				seen[fmt.Sprintf("%s/%d", m.topic, r.TS)]++
				total++
			}
		case <-deadline:
			t.Fatalf("got %d of 400", total)
		}
	}
	require.Len(t, seen, 400)
}

// startPrivateBroker starts a Mosquitto of the test's own on a free port
// with extra config lines, and stops it in cleanup.
func startPrivateBroker(t *testing.T, extra string) string {
	t.Helper()
	bin := os.Getenv("PDM_MOSQUITTO_BIN")
	if bin == "" {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Mosquitto binary (PDM_MOSQUITTO_BIN=%s) not found: %v", bin, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest none\nuser root\n%s", port, extra)), 0o600))
	cmd := exec.Command(bin, "-c", conf)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "private Mosquitto listening")
	return "tcp://" + addr
}

// TestReloadKeepsRemoteConfig checks that a new file config keeps the
// accepted remote config on top, that a restart starts from the stored
// remote config, and that a bad remote config changes nothing.
func TestReloadKeepsRemoteConfig(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1", testRoot())
	q, err := OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	require.NoError(t, err)
	a, err := New(cfg, q, Options{})
	require.NoError(t, err)
	require.NoError(t, a.applyRemote([]byte(`{"rules":{"deadband":[{"metric":"v","band":1}]},"queue":{"drain":"live_first"}}`)))
	require.Len(t, a.Config().Rules.Deadband, 1)
	require.Equal(t, DrainLiveFirst, a.Config().Queue.Drain)

	require.Error(t, a.applyRemote([]byte(`{"queue":{"drain":"random"}}`)))
	require.Equal(t, DrainLiveFirst, a.Config().Queue.Drain, "a bad remote config changes nothing")
	require.Contains(t, a.Status("online").ConfigError, "queue.drain")

	file := cfg
	file.Status = rules.Duration(5 * time.Second)
	require.NoError(t, a.Reload(file))
	require.Equal(t, 5*time.Second, a.Config().Status.D())
	require.Len(t, a.Config().Rules.Deadband, 1, "the remote config stays on top of the new file")
	require.Empty(t, a.Status("online").ConfigError)

	bad := file
	bad.Gateway = "no good"
	require.Error(t, a.Reload(bad))
	require.Equal(t, "gw-t", a.Config().Gateway)
	require.NoError(t, q.Close())

	// A restart without the broker starts from the stored remote config.
	q, err = OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	require.NoError(t, err)
	defer q.Close()
	a, err = New(cfg, q, Options{})
	require.NoError(t, err)
	require.Len(t, a.Config().Rules.Deadband, 1)
}
