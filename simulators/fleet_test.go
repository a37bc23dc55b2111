package simulators

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a wall clock that moves only when the fleet sleeps.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

type sent struct {
	topic   string
	payload []byte
	wall    time.Time
}

// fakePub records messages; fail says whether the n-th wait fails.
type fakePub struct {
	mu    sync.Mutex // guards msgs and n
	msgs  []sent
	n     int
	fail  func(n int) bool
	clock func() time.Time
}

func (p *fakePub) Publish(topic string, payload []byte) func(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	n := p.n
	if p.fail != nil && p.fail(n) {
		return func(context.Context) error { return errors.New("injected failure") }
	}
	p.msgs = append(p.msgs, sent{topic, payload, p.clock()})
	return func(context.Context) error { return nil }
}

type readingJSON struct {
	TS      int64              `json:"ts"`
	Metrics map[string]float64 `json:"metrics"`
}

type batchJSON struct {
	Gateway  string        `json:"gateway"`
	Seq      uint64        `json:"seq"`
	Readings []readingJSON `json:"readings"`
}

// decodeTelemetry reads both the single and the batch form.
func decodeTelemetry(t *testing.T, b []byte) batchJSON {
	t.Helper()
	var out batchJSON
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	if out.Readings == nil {
		var r readingJSON
		require.NoError(t, json.Unmarshal(b, &r))
		out.Readings = []readingJSON{r}
	}
	return out
}

func parseScenario(t *testing.T, y string, now time.Time) *Scenario {
	t.Helper()
	s, err := ParseScenario([]byte(y), now)
	require.NoError(t, err)
	return s
}

const fleetYAML = `
seed: 5
site: S1
start: -2d
duration: 1d
interval: 10m
acceleration: max
batch: 6
gateways: [gw-1]
assets:
  - {type: pump, prefix: P-, count: 2, profile: healthy}
  - {type: fan, code: FE-1, profile: step, metric: motor_current_a, failure_mode: electrical_fault, fail_value: 20, failure_at: 5h}
`

func TestFleetRetriesFailedSendsAndCountsOnce(t *testing.T) {
	clk := &fakeClock{now: now}
	s := parseScenario(t, fleetYAML, now)
	pub := &fakePub{fail: func(n int) bool { return n%5 == 0 }, clock: clk.Now}
	f := NewFleet(s, pub, FleetOptions{Now: clk.Now, Sleep: clk.Sleep, MaxInFlight: 3, TopicRoot: "r/pdm/v1"})
	require.NoError(t, f.Run(context.Background()))

	wantR, wantM, err := s.ExpectedReadings()
	require.NoError(t, err)
	p := f.Progress()
	require.Equal(t, uint64(wantR), p.Readings)
	require.Equal(t, uint64(wantM), p.Messages)
	require.Equal(t, uint64(1), p.Events)
	require.NotZero(t, p.Retries)
	require.True(t, p.Done)

	// Every reading exactly once among the successful sends, batches of 6.
	seen := map[string]bool{}
	var seqs []uint64
	for _, m := range pub.msgs {
		if strings.HasSuffix(m.topic, "/event") {
			require.Equal(t, "r/pdm/v1/S1/FE-1/event", m.topic)
			var ev map[string]any
			require.NoError(t, json.Unmarshal(m.payload, &ev))
			require.Equal(t, "critical", ev["severity"])
			require.Equal(t, float64(s.Start.Add(5*time.Hour).UnixMilli()), ev["ts"])
			continue
		}
		b := decodeTelemetry(t, m.payload)
		require.Equal(t, "gw-1", b.Gateway)
		require.Len(t, b.Readings, 6)
		seqs = append(seqs, b.Seq)
		asset := strings.Split(m.topic, "/")[4]
		for _, r := range b.Readings {
			k := asset + time.UnixMilli(r.TS).String()
			require.False(t, seen[k], "reading %s sent twice", k)
			seen[k] = true
		}
	}
	require.Len(t, seen, wantR)
	// Sequence numbers: one per message; a message sent again keeps its own.
	slices.Sort(seqs)
	for i, q := range seqs {
		require.Equal(t, uint64(i+1), q)
	}
}

func TestFleetNeverRunsAheadOfTheWallClock(t *testing.T) {
	clk := &fakeClock{now: now}
	s := parseScenario(t, `
seed: 1
site: S1
start: -1h
interval: 1m
acceleration: 600
batch: 10
assets: [{type: pump, code: P-1, profile: healthy}]
`, now)
	ctx, cancel := context.WithCancel(context.Background())
	pub := &fakePub{clock: clk.Now}
	f := NewFleet(s, pub, FleetOptions{Now: clk.Now, Sleep: func(c context.Context, d time.Duration) error {
		// Stop once the fleet has lived 10 minutes in real time.
		if clk.Now().After(now.Add(16 * time.Minute)) {
			cancel()
		}
		return clk.Sleep(c, d)
	}})
	require.NoError(t, f.Run(ctx))

	var catchUp, live int
	var last int64
	for _, m := range pub.msgs {
		b := decodeTelemetry(t, m.payload)
		for _, r := range b.Readings {
			require.Greater(t, r.TS, last, "out of order")
			last = r.TS
			ts := time.UnixMilli(r.TS)
			require.False(t, ts.After(m.wall), "reading at %s sent at wall time %s", ts, m.wall)
			// Accelerated phase: simulated time runs 600x, at most.
			maxSim := s.Start.Add(m.wall.Sub(now) * 600)
			require.False(t, ts.After(maxSim), "reading at %s ahead of the acceleration", ts)
		}
		if len(b.Readings) == 10 {
			catchUp++
		} else {
			require.Len(t, b.Readings, 1, "once live, readings go out one by one")
			live++
		}
	}
	require.Equal(t, 6, catchUp, "the first hour goes out in full batches")
	require.GreaterOrEqual(t, live, 10)
	// 1 h of simulated time at 600x takes 6 s of wall time.
	require.Equal(t, now.Add(6*time.Second-6*time.Second/60), pub.msgs[5].wall)
}

func TestFleetStopsOnCancel(t *testing.T) {
	s := parseScenario(t, `
seed: 1
site: S1
start: -1h
interval: 1s
acceleration: 1
assets: [{type: pump, code: P-1, profile: healthy}]
`, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	pub := &fakePub{clock: time.Now}
	done := make(chan error)
	f := NewFleet(s, pub, FleetOptions{})
	go func() { done <- f.Run(ctx) }()
	for f.Progress().Readings == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
	require.True(t, f.Progress().Done)
}

func TestFleetMaxRate(t *testing.T) {
	clk := &fakeClock{now: now}
	s := parseScenario(t, fleetYAML+"max_rate: 50\n", now) // 3 assets × 144 ticks = 432 readings
	pub := &fakePub{clock: clk.Now}
	f := NewFleet(s, pub, FleetOptions{Now: clk.Now, Sleep: clk.Sleep})
	require.NoError(t, f.Run(context.Background()))
	require.Equal(t, uint64(432), f.Progress().Readings)
	// Readings sent before a window (all assets, same wall time) never
	// exceed 50 per elapsed second.
	sent, before := 0, 0
	var wall time.Time
	for _, m := range pub.msgs {
		if strings.HasSuffix(m.topic, "/event") {
			continue
		}
		if m.wall != wall {
			wall, before = m.wall, sent
		}
		elapsed := m.wall.Sub(now).Seconds()
		require.LessOrEqual(t, float64(before), 50*elapsed+1e-9, "at %gs", elapsed)
		sent += len(decodeTelemetry(t, m.payload).Readings)
	}
	last := pub.msgs[len(pub.msgs)-1].wall.Sub(now)
	require.InDelta(t, 432.0/50-18.0/50, last.Seconds(), 1e-6, "the last window goes out when the rate allows")

	// The option overrides the scenario.
	clk2 := &fakeClock{now: now}
	f2 := NewFleet(s, &fakePub{clock: clk2.Now}, FleetOptions{Now: clk2.Now, Sleep: clk2.Sleep, MaxRate: 1e9})
	require.NoError(t, f2.Run(context.Background()))
	require.Less(t, clk2.Now().Sub(now), time.Second)
}
