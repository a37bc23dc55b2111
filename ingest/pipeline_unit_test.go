package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// Unit tests of the pipeline's logic with hand-written fakes; the real
// broker and InfluxDB are exercised in pipeline_test.go and fault_test.go.

type fakeSource struct {
	mu      sync.Mutex // guards deliver, acked
	deliver func(Message) bool
	acked   map[string]int
}

func (s *fakeSource) Start(_ context.Context, d func(Message) bool) error {
	s.mu.Lock()
	s.deliver, s.acked = d, map[string]int{}
	s.mu.Unlock()
	return nil
}
func (s *fakeSource) Stop()           {}
func (s *fakeSource) Connected() bool { return true }
func (s *fakeSource) send(topic, payload string) {
	s.mu.Lock()
	d := s.deliver
	s.mu.Unlock()
	m := Message{Topic: topic, Payload: []byte(payload), Ack: func() {
		s.mu.Lock()
		s.acked[payload]++
		s.mu.Unlock()
	}}
	for !d(m) { // refused: the broker would deliver it again
		time.Sleep(time.Millisecond)
	}
}
func (s *fakeSource) ackCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.acked {
		n += v
	}
	return n
}

// fakeWriter refuses readings with metric "poison" for good and fails the
// first transient writes.
type fakeWriter struct {
	mu        sync.Mutex // guards stored, transient
	stored    []Reading
	transient int
}

func (w *fakeWriter) Write(_ context.Context, rs []Reading) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.transient > 0 {
		w.transient--
		return errors.New("connection refused")
	}
	for _, r := range rs {
		if _, ok := r.Value("poison"); ok {
			return fmt.Errorf("HTTP 400: %w", ErrStoreRejected)
		}
	}
	w.stored = append(w.stored, rs...)
	return nil
}

type sliceConsumer struct {
	mu  sync.Mutex // guards got
	got []Reading
}

func (c *sliceConsumer) Consume(_ context.Context, rs []Reading) {
	c.mu.Lock()
	c.got = append(c.got, rs...)
	c.mu.Unlock()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPipelineOrderRetryAndPoison(t *testing.T) {
	src := &fakeSource{}
	w := &fakeWriter{transient: 3}
	cons := &sliceConsumer{}
	p, err := NewPipeline(Config{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, BatchWait: time.Hour, BatchSize: 1000},
		Deps{Source: src, Writer: w, Consumer: cons, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitUntil(t, "start", func() bool { return p.Ready(ctx) == nil })

	topic := "pdm/v1/s/a/telemetry"
	src.send(topic, `{"ts":3000,"metrics":{"v":3}}`)
	src.send(topic, `{"ts":1000,"metrics":{"v":1}}`) // late within its batch: sorted
	src.send(topic, `{"ts":1000,"metrics":{"w":1}}`) // same time: merged
	src.send(topic, `{"ts":5000,"metrics":{"poison":1}}`)
	src.send("pdm/v1/s/b/telemetry", `{"ts":2000,"metrics":{"v":2}}`)
	src.send("pdm/v1/s/a/nope", `x`)
	waitUntil(t, "acks", func() bool { return src.ackCount() == 6 })
	src.send(topic, `{"ts":2000,"metrics":{"v":2}}`) // older than what was handed on: stored only
	src.send(topic, `{"ts":4000,"metrics":{"v":4}}`)
	waitUntil(t, "acks", func() bool { return src.ackCount() == 8 })
	cancel()
	require.NoError(t, <-done)

	w.mu.Lock()
	require.Len(t, w.stored, 6, "all but the poison stored")
	w.mu.Unlock()
	rej := p.Rejects()
	require.Len(t, rej, 2)
	require.Equal(t, ReasonBadTopic, rej[1].Reason)
	require.Equal(t, ReasonStoreRejected, rej[0].Reason)

	cons.mu.Lock()
	defer cons.mu.Unlock()
	var got []string
	for _, r := range cons.got {
		got = append(got, fmt.Sprintf("%s@%d:%d", r.Asset, r.TS.UnixMilli(), len(r.Metrics)))
	}
	// Everything stored is handed on, late ones too: lateness is judged per
	// series by the rules engine (TestConsumeOrder pins the order).
	require.Contains(t, got, "a@4000:1")
	require.Contains(t, got, "b@2000:1")
	require.Contains(t, got, "a@2000:1", "a reading late for its asset is handed on all the same")
	require.NotContains(t, strings.Join(got, " "), "a@5000", "the poison message is not handed on")
}

func TestPipelineDrainGivesUpWithoutAck(t *testing.T) {
	src := &fakeSource{}
	w := &fakeWriter{transient: 1 << 30} // store down for good
	p, err := NewPipeline(Config{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, DrainTimeout: 50 * time.Millisecond},
		Deps{Source: src, Writer: w})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitUntil(t, "start", func() bool { return p.Ready(ctx) == nil })
	src.send("pdm/v1/s/a/telemetry", `{"ts":1000,"metrics":{"v":1}}`)
	waitUntil(t, "a write attempt", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.transient < 1<<30 })
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, 0, src.ackCount(), "an unwritten message must not be acknowledged")
}

func TestConsumeOrder(t *testing.T) {
	p, err := NewPipeline(Config{}, Deps{Source: &fakeSource{}, Writer: &fakeWriter{}, Consumer: &sliceConsumer{}})
	require.NoError(t, err)
	r := func(asset string, ms int64, metric string) Reading {
		return Reading{Site: "s", Asset: asset, TS: time.UnixMilli(ms), Metrics: []Metric{{Name: metric, Value: 1}}}
	}
	in := make(chan []Reading, 4)
	in <- []Reading{r("a", 3000, "v"), r("b", 2000, "v"), r("a", 1000, "v"), r("a", 1000, "w")}
	// Late and duplicate for the asset: handed on all the same, since
	// lateness is judged per series by the rules engine (a backfill of one
	// metric, or a replay after registration, must be evaluated).
	in <- []Reading{r("a", 2000, "v"), r("a", 3000, "v"), r("b", 2500, "v")}
	in <- []Reading{r("a", 4000, "v")}
	in <- []Reading{r("b", 2600, "v"), r("a", 5000, "v"), r("b", 2700, "v")} // in order per asset: as it is
	close(in)
	p.consume(context.Background(), in)
	var got []string
	for _, x := range p.deps.Consumer.(*sliceConsumer).got {
		got = append(got, fmt.Sprintf("%s@%d:%d", x.Asset, x.TS.UnixMilli(), len(x.Metrics)))
	}
	require.Equal(t, []string{"a@1000:2", "a@3000:1", "b@2000:1", "a@2000:1", "a@3000:1", "b@2500:1", "a@4000:1", "b@2600:1", "a@5000:1", "b@2700:1"}, got)
}

// gateWriter holds every write until gate is closed.
type gateWriter struct {
	fakeWriter
	gate chan struct{}
}

func (w *gateWriter) Write(ctx context.Context, rs []Reading) error {
	select {
	case <-w.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.fakeWriter.Write(ctx, rs)
}

// TestDeliverWaitsThenRefusesWhileStuck: a full queue makes delivery wait
// QueueWait; when nothing moves in that time the message is refused, and
// so is the next one at once (the source's network loop must not wait
// message after message); once the queue moves, delivery takes messages
// again and every one is acknowledged.
func TestDeliverWaitsThenRefusesWhileStuck(t *testing.T) {
	src := &fakeSource{}
	w := &gateWriter{gate: make(chan struct{})}
	const wait = time.Second
	p, err := NewPipeline(Config{MaxInFlight: 1, BatchSize: 1, MaxConcurrentWrites: 1, QueueWait: wait},
		Deps{Source: src, Writer: w, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitUntil(t, "start", func() bool { return p.Ready(ctx) == nil })

	msg := func(i int) Message {
		return Message{Topic: "pdm/v1/s/a/telemetry", Payload: fmt.Appendf(nil, `{"ts":%d,"metrics":{"v":1}}`, 1000+i), Ack: func() {
			src.mu.Lock()
			src.acked[fmt.Sprint(i)]++
			src.mu.Unlock()
		}}
	}
	// One message in the writer, one in a batch waiting for it, one queued:
	// the next finds the queue full and nothing moving.
	taken := 0
	start := time.Now()
	for i := 0; ; i++ {
		if !src.deliver(msg(i)) {
			break
		}
		taken++
		require.Less(t, taken, 10, "the queue never filled")
	}
	require.GreaterOrEqual(t, time.Since(start), wait, "a full queue is waited for before refusing")
	require.True(t, p.stuck.Load())
	start = time.Now()
	require.False(t, src.deliver(msg(100)), "stuck: refused")
	require.Less(t, time.Since(start), wait, "stuck: refused without waiting again")

	var m dto.Metric
	require.NoError(t, p.m.refused.Write(&m))
	require.Equal(t, float64(2), m.GetCounter().GetValue(), "refused: the first after its wait, the next at once")

	close(w.gate)
	waitUntil(t, "the queue to take a message again", func() bool { return src.deliver(msg(101)) })
	require.False(t, p.stuck.Load())
	waitUntil(t, "acks", func() bool { return src.ackCount() == taken+1 })
	cancel()
	require.NoError(t, <-done)
}
