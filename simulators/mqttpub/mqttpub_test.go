package mqttpub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

func randHex(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func randHexB() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mqttURL() string {
	if u := os.Getenv("PDM_MQTT_URL"); u != "" {
		return u
	}
	return "tcp://127.0.0.1:1883"
}

// collector subscribes to a topic root and records what arrives.
type collector struct {
	mu       sync.Mutex                    // guards the fields below
	readings map[string]map[string]float64 // "asset@ms" -> metrics
	dups     int
	events   []string
	seqs     map[string][]uint64 // gateway -> seqs in arrival order
	bad      []string
}

type payloadJSON struct {
	Gateway  string `json:"gateway"`
	Seq      uint64 `json:"seq"`
	Readings []struct {
		TS      int64              `json:"ts"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"readings"`
}

func (c *collector) handle(_ paho.Client, m paho.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := strings.Split(m.Topic(), "/")
	asset, kind := parts[len(parts)-2], parts[len(parts)-1]
	if kind == "event" {
		c.events = append(c.events, asset+":"+string(m.Payload()))
		return
	}
	var p payloadJSON
	if err := json.Unmarshal(m.Payload(), &p); err != nil || len(p.Readings) == 0 {
		c.bad = append(c.bad, string(m.Payload()))
		return
	}
	if p.Gateway != "" {
		c.seqs[p.Gateway] = append(c.seqs[p.Gateway], p.Seq)
	}
	for _, r := range p.Readings {
		k := fmt.Sprintf("%s@%d", asset, r.TS)
		if _, ok := c.readings[k]; ok {
			c.dups++
		}
		c.readings[k] = r.Metrics
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.readings) + c.dups
}

func subscribe(t *testing.T, url, root string, clean bool) *collector {
	t.Helper()
	c := &collector{readings: map[string]map[string]float64{}, seqs: map[string][]uint64{}}
	o := paho.NewClientOptions().AddBroker(url).SetClientID("sim-test-sub-" + randHex(t)).
		SetCleanSession(clean).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOrderMatters(true).SetDefaultPublishHandler(c.handle)
	if !clean {
		o.SetOnConnectHandler(func(cl paho.Client) { cl.Subscribe(root+"/#", 1, c.handle) })
	}
	cl := paho.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mosquitto at %s not reachable: %v", url, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	st := cl.Subscribe(root+"/#", 1, c.handle)
	require.True(t, st.WaitTimeout(5*time.Second))
	require.NoError(t, st.Error())
	return c
}

const testScenario = `
seed: 77
site: T1
start: -3d
duration: 1d
interval: 5m
acceleration: max
batch: 12
gateways: [gw-1, gw-2]
assets:
  - {type: pump, prefix: P-, count: 3, profile: healthy}
  - {type: fan, prefix: F-, count: 2, profile: dropout, dropout: {every: 6h, length: 2h, prob: 0.7}}
  - {type: motor, prefix: M-, count: 2, profile: seasonal}
  - {type: fan, code: FE-1, profile: step, metric: motor_current_a, failure_mode: electrical_fault, fail_value: 20, failure_at: 10h}
  - {type: pump, code: PB-1, profile: exponential, metric: vibration_rms, failure_mode: bearing_wear, fail_value: 7.1, onset: 2h, failure_at: 20h}
`

func TestFleetPublishesExactlyTheScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := "test/" + randHex(t) + "/pdm/v1"
	col := subscribe(t, mqttURL(), root, true)

	s, err := simulators.ParseScenario([]byte(testScenario), time.Now())
	require.NoError(t, err)
	wantReadings, wantMessages, err := s.ExpectedReadings()
	require.NoError(t, err)
	require.Less(t, wantReadings, 9*288, "dropout must remove some readings")

	pub, err := Dial(ctx, Options{URL: mqttURL(), ClientID: "sim-test-pub-" + randHex(t)})
	require.NoError(t, err)
	defer pub.Close()
	f := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: root, MaxInFlight: 16})
	require.NoError(t, f.Run(ctx))

	p := f.Progress()
	require.True(t, p.Done)
	require.Equal(t, uint64(wantReadings), p.Readings)
	require.Equal(t, uint64(wantMessages), p.Messages)
	require.Equal(t, uint64(1), p.Events)
	end, _ := s.End()
	require.Equal(t, end, p.SimTime)

	for col.count() < wantReadings && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	// A marker published after the run arrives after everything the fleet
	// sent (one connection, in order), so nothing extra is still on its way.
	marker := pub.Publish(root+"/T1/zz-marker/telemetry", []byte(`{"readings":[{"ts":0,"metrics":{"x":1}}]}`))
	require.NoError(t, marker(ctx))
	for col.count() < wantReadings+1 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	delete(col.readings, "zz-marker@0")
	col.mu.Lock()
	defer col.mu.Unlock()
	require.Empty(t, col.bad)
	require.Zero(t, col.dups, "duplicate readings")
	require.Len(t, col.readings, wantReadings)
	require.Len(t, col.events, 1)
	require.Contains(t, col.events[0], `"severity":"critical"`)
	require.True(t, strings.HasPrefix(col.events[0], "FE-1:"))

	// Sequences per gateway increase by one per message.
	total := 0
	for gw, seqs := range col.seqs {
		require.Contains(t, []string{"gw-1", "gw-2"}, gw)
		for i, q := range seqs {
			require.Equal(t, uint64(i+1), q, "gateway %s message %d", gw, i)
		}
		total += len(seqs)
	}
	require.Equal(t, wantMessages, total)

	// What arrived is what the models say.
	for _, m := range s.Assets {
		ts := s.Start.Add(7 * time.Hour)
		r, ok := m.Reading(s.Site, ts)
		got, arrived := col.readings[fmt.Sprintf("%s@%d", m.Code(), ts.UnixMilli())]
		require.Equal(t, ok, arrived, m.Code())
		for _, mv := range r.Metrics {
			require.Equal(t, mv.Value, got[mv.Name], "%s %s", m.Code(), mv.Name)
		}
	}
}

func TestDialFailsNamingTheBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = Dial(context.Background(), Options{URL: "tcp://" + addr, ClientID: "x", ConnectTimeout: time.Second})
	require.Error(t, err)
	require.Contains(t, err.Error(), addr)
	_, err = Dial(context.Background(), Options{URL: "tcp://sim:s3cret@" + addr, ClientID: "x", ConnectTimeout: time.Second})
	require.ErrorContains(t, err, "sim:xxxxx@"+addr)
	require.NotContains(t, err.Error(), "s3cret")
}

// privateMosquitto starts a broker of our own (fault tests never touch
// the shared one) and returns its URL and a restart function.
func privateMosquitto(t *testing.T) (url string, stop, start func()) {
	t.Helper()
	bin := os.Getenv("PDM_MOSQUITTO_BIN")
	if bin == "" {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mosquitto binary (PDM_MOSQUITTO_BIN) not found: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"user root\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 0\n", port, dir)), 0o600))
	var cmd *exec.Cmd
	start = func() {
		cmd = exec.Command(bin, "-c", conf)
		logf, err := os.OpenFile(filepath.Join(dir, "mosquitto.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		require.NoError(t, cmd.Start())
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("private mosquitto did not come up on port %d", port)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop = func() {
		if cmd == nil {
			return
		}
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		cmd = nil
	}
	start()
	t.Cleanup(stop)
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), stop, start
}

func TestFleetLosesNothingWhenTheBrokerRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url, stop, start := privateMosquitto(t)
	root := "test/" + randHex(t) + "/pdm/v1"
	col := subscribe(t, url, root, false)

	// Paced so the restart lands in the middle: 1 day at 5m = 288 ticks,
	// at 86400/4 x the run takes about 4 s of wall time.
	sc := strings.Replace(testScenario, "acceleration: max", "acceleration: 21600", 1)
	sc = strings.Replace(sc, "batch: 12", "batch: 3", 1)
	s, err := simulators.ParseScenario([]byte(sc), time.Now())
	require.NoError(t, err)
	want, _, err := s.ExpectedReadings()
	require.NoError(t, err)

	pub, err := Dial(ctx, Options{URL: url, ClientID: "sim-test-pub-" + randHex(t), AckTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer pub.Close()
	f := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: root, MaxInFlight: 8})
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	for f.Progress().Readings < uint64(want/4) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	require.False(t, f.Progress().Done, "the fleet finished before the fault was injected")
	stop()
	time.Sleep(300 * time.Millisecond) // the broker stays down a while
	start()

	require.NoError(t, <-done)
	require.Equal(t, uint64(want), f.Progress().Readings)
	t.Logf("after the restart: %d messages sent again", f.Progress().Retries)
	for {
		col.mu.Lock()
		n := len(col.readings)
		col.mu.Unlock()
		if n >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	require.Len(t, col.readings, want, "distinct readings that reached the subscriber")
}
