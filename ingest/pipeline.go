package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// Message is one message from the broker. The pipeline calls Ack exactly
// once when the message is durably handled: its readings are stored, its
// event handled, or its reject recorded. A message that is never acked is
// delivered again by the broker (at-least-once).
type Message struct {
	Topic    string
	Payload  []byte
	Received time.Time
	Ack      func()
}

// Source delivers broker messages to the pipeline. ingest/mqtt implements it
// with a persistent paho session and manual acknowledgement.
type Source interface {
	// Start connects, subscribes and from then on calls deliver for each
	// message until Stop. When the pipeline's queue is full, deliver waits
	// for room (at most Config.QueueWait; not at all while the pipeline is
	// stuck, see QueueWait), so a source that reads the network in the
	// calling goroutine pushes back on the broker through TCP. deliver
	// returns false when it has not taken the message (no room in time,
	// or stopping); the source must then leave it unacknowledged and have
	// the broker deliver it again later (ingest/mqtt reconnects once the
	// queue has room, and the broker resends what is unacknowledged).
	// Start returns an error when the broker cannot be reached.
	Start(ctx context.Context, deliver func(Message) bool) error
	// Stop sends pending acknowledgements and disconnects.
	Stop()
	// Connected reports whether the broker session is up.
	Connected() bool
}

// Writer stores readings durably (ingest/influx implements it).
type Writer interface {
	// Write returns nil only when every reading is durably stored; it
	// blocks until then or until ctx is done. Writing the same readings
	// again must change nothing. An error wrapping ErrStoreRejected means
	// the store refused the data and a retry would fail the same way; any
	// other error is retried with backoff.
	Write(ctx context.Context, readings []Reading) error
}

// Pinger is implemented by a Writer that can tell whether its store is up;
// Ready uses it.
type Pinger interface {
	// Ping returns nil when the store answers.
	Ping(ctx context.Context) error
}

// Config tunes the pipeline. Zero fields take the defaults.
type Config struct {
	// TopicRoot is the contract's topic root (default "pdm/v1").
	TopicRoot string
	// BatchSize is the most readings written in one request (default 5000).
	BatchSize int
	// BatchWait is how long a batch may wait to fill up while writes are
	// busy (default 50ms). When a writer is idle and no message is waiting,
	// a batch is written at once, so latency stays low at low load.
	BatchWait time.Duration
	// MaxConcurrentWrites is how many batches are written at once (default
	// 3; on 2 cores InfluxDB 1.8 took somewhat more with 3 than with 2, see
	// bench/ingest.md). Up to 4 times as many written batches may wait for
	// a slow write before them to be acknowledged in order.
	MaxConcurrentWrites int
	// MaxInFlight is how many received messages may wait for decoding
	// (default 10000); beyond it delivery waits for room (QueueWait). The
	// broker's in-flight window (Mosquitto max_inflight_messages) does not
	// bound what arrives: Mosquitto 2.0.11 let 55,000 messages be
	// unacknowledged at once under a window of 5,000 when acknowledgements
	// came a second after delivery (bench/ingest.md), so the queue's bound
	// is held by waiting, not by the window.
	MaxInFlight int
	// MaxQueuedBytes bounds the payload bytes of messages waiting for
	// decoding (default 256 MiB), like MaxInFlight. Together with
	// MaxInFlight and BatchSize it bounds the memory ingest holds. It must
	// hold a broker window of large messages: at 64 MiB only ~2,800
	// messages of 50 readings (24 KB each) fit under Mosquitto's 5,000,
	// and a drain refused 14,499 of 20,000 (none at 256 MiB).
	MaxQueuedBytes int
	// QueueWait is how long delivery of a message waits for room in a
	// full queue before it is refused (default 2s): a queue that moves
	// takes it, with TCP back-pressure on the broker meanwhile; one that
	// does not move in that time means the pipeline is stuck (InfluxDB
	// down), and the message is refused and delivered again later. Once
	// a wait has timed out, delivery refuses at once until the queue
	// takes a message again, so the source's network loop (which also
	// reads keep-alive answers) waits at most once per stall.
	QueueWait time.Duration
	// RetryMin and RetryMax bound the exponential backoff of failed writes
	// and event handling (defaults 100ms and 5s).
	RetryMin, RetryMax time.Duration
	// DrainTimeout is how long Run keeps writing after its context is
	// cancelled before it gives up; whatever is not written by then is not
	// acknowledged and comes again (default 15s).
	DrainTimeout time.Duration
	// MaxRejects is how many recent rejects are kept (default 1000).
	MaxRejects int
	// IgnoreTags are line protocol tags dropped instead of folded into
	// metric names (see Decoder.IgnoreTags).
	IgnoreTags []string
	// Limits bound what publishers can make ingest remember.
	Limits Limits
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.TopicRoot == "" {
		c.TopicRoot = "pdm/v1"
	}
	def(&c.BatchSize, 5000)
	def(&c.MaxConcurrentWrites, 3)
	def(&c.MaxInFlight, 10000)
	def(&c.MaxQueuedBytes, 256<<20)
	def(&c.MaxRejects, 1000)
	defd(&c.BatchWait, 50*time.Millisecond)
	defd(&c.QueueWait, 2*time.Second)
	defd(&c.RetryMin, 100*time.Millisecond)
	defd(&c.RetryMax, 5*time.Second)
	defd(&c.DrainTimeout, 15*time.Second)
	return c
}

// Deps are the pipeline's collaborators.
type Deps struct {
	Source Source // required
	Writer Writer // required
	// Consumer gets readings after they are stored and acknowledged, in
	// event-time order per asset (optional).
	Consumer Consumer
	// Events handles device events (optional: without it events are
	// validated, logged and acknowledged).
	Events EventHandler
	// Registerer gets the pdm_ingest_* metrics (optional).
	Registerer prometheus.Registerer
	// KnownAsset reports whether an asset is registered (optional; it must
	// answer from memory, without blocking). With it, unregistered assets
	// are tracked up to Limits.MaxUnknownAssets.
	KnownAsset func(site, asset string) bool
	Logger     *slog.Logger     // optional (discard)
	Now        func() time.Time // optional (time.Now); the receive clock
}

// Pipeline moves messages from a Source through decoding and batching to a
// Writer, acknowledges them after the write and hands the readings on.
type Pipeline struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	m    *metrics
	rej  *rejectLog

	in       chan Message
	queued   *semaphore.Weighted // payload bytes waiting for decoding
	stuck    atomic.Bool         // a wait for room timed out, nothing taken since
	stopping chan struct{}
	running  atomic.Bool
	started  atomic.Bool   // the source is started and Run not yet returned
	busy     atomic.Int32  // writers busy with a batch
	idle     chan struct{} // a writer finished a batch
}

// NewPipeline returns a pipeline; Run starts it.
func NewPipeline(cfg Config, deps Deps) (*Pipeline, error) {
	if deps.Source == nil || deps.Writer == nil {
		return nil, errors.New("ingest: pipeline needs a Source and a Writer")
	}
	cfg = cfg.withDefaults()
	cfg.Limits = cfg.Limits.withDefaults()
	p := &Pipeline{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now, rej: newRejectLog(cfg.MaxRejects)}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	p.m = m
	return p, nil
}

// Rejects returns the latest rejected messages, newest first.
func (p *Pipeline) Rejects() []Reject { return p.rej.list() }

// Ready returns nil when the broker session is up and the store answers,
// otherwise an error naming what is down (for /readyz).
func (p *Pipeline) Ready(ctx context.Context) error {
	if !p.started.Load() {
		return errors.New("ingest: not running")
	}
	if !p.deps.Source.Connected() {
		return errors.New("ingest: MQTT broker not connected")
	}
	if pg, ok := p.deps.Writer.(Pinger); ok {
		if err := pg.Ping(ctx); err != nil {
			return fmt.Errorf("ingest: InfluxDB: %w", err)
		}
	}
	return nil
}

// batch is a group of messages written together.
type batch struct {
	msgs     []Message
	readings []Reading
	ends     []int // end index in readings of each message's readings
	dead     []bool
	ok       bool
	done     chan struct{}
}

type eventItem struct {
	msg Message
	ev  Event
}

// Run connects the source and moves messages until ctx is cancelled; it
// then stops taking messages, writes and acknowledges what it holds (for at
// most DrainTimeout), disconnects and returns nil. It returns an error when
// the source cannot start. Run may be called once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("ingest: pipeline already ran")
	}
	defer p.running.Store(false)
	p.in = make(chan Message, p.cfg.MaxInFlight)
	p.stopping = make(chan struct{})
	p.idle = make(chan struct{}, 1)

	// Work in flight continues after ctx ends, for at most DrainTimeout.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopDrain := context.AfterFunc(ctx, func() {
		close(p.stopping)
		time.AfterFunc(p.cfg.DrainTimeout, wcancel)
	})
	defer stopDrain()

	// Payload bytes waiting for decoding are bounded, like their number.
	p.queued = semaphore.NewWeighted(int64(p.cfg.MaxQueuedBytes))
	deliver := func(m Message) bool { return p.deliver(ctx, m) }

	toWrite := make(chan *batch)
	// Batches are acknowledged in order. While one write is slow (InfluxDB
	// stalls a request now and then), the other writers go on writing the
	// batches behind it, up to 4 per writer, so that the slow one's end
	// acknowledges all of them at once instead of starting their writes
	// only then. This bounds the readings held to about
	// (4*MaxConcurrentWrites+2)*BatchSize.
	ordered := make(chan *batch, 4*p.cfg.MaxConcurrentWrites)
	toConsume := make(chan []Reading, 16)
	events := make(chan eventItem, 1024)

	var wg sync.WaitGroup
	var writers sync.WaitGroup
	for range p.cfg.MaxConcurrentWrites {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for b := range toWrite {
				p.write(wctx, b) // busy was counted up by the batcher
				p.busy.Add(-1)
				close(b.done)
				select {
				case p.idle <- struct{}{}:
				default:
				}
			}
		}()
	}
	wg.Add(3)
	go func() { // committer: acks in batch order, hands on in order
		defer wg.Done()
		defer close(toConsume)
		for b := range ordered {
			<-b.done
			p.commit(b, toConsume)
		}
	}()
	go func() { // consumer hand-off
		defer wg.Done()
		p.consume(wctx, toConsume)
	}()
	go func() { // device events
		defer wg.Done()
		for it := range events {
			p.handleEvent(wctx, it)
		}
	}()

	// The batch loop runs before the source starts: a persistent session's
	// stored messages arrive before the subscription is confirmed (which
	// Start waits for, and which the source reads only after them), and
	// delivery into a full queue waits for the loop to take from it.
	lctx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		p.batchLoop(lctx, toWrite, ordered, events)
		close(toWrite)
		close(ordered)
		close(events)
	}()
	shutdown := func() {
		<-loopDone
		writers.Wait()
		wg.Wait()
	}
	if err := p.deps.Source.Start(ctx, deliver); err != nil {
		if ctx.Err() != nil {
			// Stopped while the source was still connecting: a clean
			// shutdown (what was taken is drained like at any stop).
			shutdown()
			p.log.Info("ingest stopped before the source started", "err", err)
			return nil
		}
		// Not connected: what was taken cannot be acknowledged, and is
		// delivered again; no need to write it.
		stopLoop()
		wcancel()
		shutdown()
		return fmt.Errorf("ingest: start source: %w", err)
	}
	p.started.Store(true)
	defer p.started.Store(false)
	p.log.Info("ingest running", "topic_root", p.cfg.TopicRoot, "batch_size", p.cfg.BatchSize)

	shutdown()
	p.deps.Source.Stop()
	p.log.Info("ingest stopped")
	return nil
}

// weight is what a queued message counts against MaxQueuedBytes.
func (p *Pipeline) weight(m Message) int64 {
	return int64(min(len(m.Payload), p.cfg.MaxQueuedBytes))
}

// deliver queues a message from the Source. When the queue is full it
// waits for room for at most QueueWait (not at all while the pipeline is
// stuck); it reports false when it has not taken the message: no room in
// time, or the pipeline is stopping (ctx is Run's). The message is then
// not acknowledged and the broker delivers it again.
func (p *Pipeline) deliver(ctx context.Context, m Message) bool {
	if m.Received.IsZero() {
		m.Received = p.now()
	}
	select {
	case <-p.stopping:
		return false
	default:
	}
	w := p.weight(m)
	if p.queued.TryAcquire(w) {
		select {
		case p.in <- m:
			p.taken()
			return true
		default:
			p.queued.Release(w)
		}
	}
	if !p.stuck.Load() {
		wctx, cancel := context.WithTimeout(ctx, p.cfg.QueueWait)
		defer cancel()
		if p.queued.Acquire(wctx, w) == nil {
			select {
			case p.in <- m:
				p.taken()
				return true
			case <-wctx.Done():
				p.queued.Release(w)
			}
		}
		if ctx.Err() != nil {
			return false // stopping, not stuck
		}
		p.stuck.Store(true)
		p.log.Warn("ingest: the queue stayed full, refusing messages until it moves (the broker delivers them again)",
			"queue_wait", p.cfg.QueueWait, "queued_messages", len(p.in))
	}
	p.m.refused.Inc()
	return false
}

// taken counts a queued message and ends a stall.
func (p *Pipeline) taken() {
	p.m.inFlightMsgs.Inc()
	if p.stuck.CompareAndSwap(true, false) {
		p.log.Info("ingest: the queue takes messages again")
	}
}

// batchLoop decodes messages into batches and hands them to the writers.
//
// Group commit: when nothing is waiting and no write is under way, a batch
// goes out at once (low latency at low load). Otherwise it grows, because
// bigger writes are much cheaper for InfluxDB, until it is full (BatchSize),
// or BatchWait has passed and a writer is free, or a write finishes and
// nothing is waiting. Only a full batch waits for a writer; the waiting
// bounds memory (back-pressure reaches the broker through its in-flight
// window).
func (p *Pipeline) batchLoop(ctx context.Context, toWrite, ordered chan<- *batch, events chan<- eventItem) {
	dec := Decoder{IgnoreTags: p.cfg.IgnoreTags}
	trk := newTracker(p.cfg.Limits, p.deps.KnownAsset, p.m)
	cur := p.newBatch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	timerOn, overdue := false, false
	maxBusy := int32(p.cfg.MaxConcurrentWrites)
	flush := func() {
		if len(cur.msgs) == 0 {
			return
		}
		if timerOn {
			timer.Stop()
			timerOn = false
		}
		overdue = false
		p.busy.Add(1)
		ordered <- cur
		toWrite <- cur
		cur = p.newBatch()
	}
	add := func(m Message) {
		p.m.inFlightMsgs.Dec()
		p.handle(&dec, trk, m, cur, events)
		p.queued.Release(p.weight(m))
		if len(cur.readings) >= p.cfg.BatchSize {
			flush()
			return
		}
		if len(cur.msgs) > 0 && !timerOn && !overdue {
			timer.Reset(p.cfg.BatchWait)
			timerOn = true
		}
		if len(p.in) == 0 && p.busy.Load() == 0 {
			flush()
		}
	}
	for {
		select {
		case m := <-p.in:
			add(m)
		case <-timer.C:
			timerOn = false
			if p.busy.Load() < maxBusy {
				flush()
			} else {
				overdue = true
			}
		case <-p.idle:
			if overdue || (len(p.in) == 0 && p.busy.Load() == 0) {
				flush()
			}
		case <-ctx.Done():
			for {
				select {
				case m := <-p.in:
					add(m)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (p *Pipeline) newBatch() *batch {
	return &batch{done: make(chan struct{})}
}

// handle decodes one message into b, or rejects it, or queues its event.
func (p *Pipeline) handle(dec *Decoder, trk *tracker, m Message, b *batch, events chan<- eventItem) {
	site, asset, kind := ParseTopic(p.cfg.TopicRoot, m.Topic)
	switch kind {
	case KindTelemetry:
		p.m.msgTelemetry.Inc()
		rs, err := dec.Decode(site, asset, m.Payload, m.Received)
		if err == nil {
			err = trk.admit(site, asset, rs, dec.Seq, dec.HasSeq, m.Received)
		}
		if err != nil {
			p.reject(m, err)
			return
		}
		m.Payload = nil // not needed any more; let it go
		if b.msgs == nil {
			// Size the batch for the messages already waiting, so that it
			// need not grow (and copy) while it fills at high load, and
			// stays small at low load.
			nm := min(1+len(p.in), p.cfg.BatchSize/max(len(rs), 1)+1)
			b.msgs = make([]Message, 0, nm)
			b.ends = make([]int, 0, nm)
			b.readings = make([]Reading, 0, min(nm*len(rs), p.cfg.BatchSize+len(rs)))
		}
		b.msgs = append(b.msgs, m)
		b.readings = append(b.readings, rs...)
		b.ends = append(b.ends, len(b.readings))
		p.m.inFlightReadings.Add(float64(len(rs)))
	case KindEvent:
		p.m.msgEvent.Inc()
		ev, err := DecodeEvent(site, asset, m.Payload, m.Received)
		if err != nil {
			p.reject(m, err)
			return
		}
		events <- eventItem{msg: m, ev: ev}
	default:
		p.m.msgOther.Inc()
		p.reject(m, reject(ReasonBadTopic, m.Topic))
	}
}

// reject records a rejected message and acknowledges it: a reject left
// unacknowledged would hold a slot of the broker's in-flight window forever.
func (p *Pipeline) reject(m Message, err error) {
	reason := ReasonOf(err)
	if reason == "" {
		reason = ReasonMalformedJSON
	}
	n := min(len(m.Payload), RejectPayloadBytes)
	r := Reject{Time: m.Received.UTC(), Topic: m.Topic, Reason: reason, Detail: err.Error(), Payload: string(m.Payload[:n])}
	p.rej.add(r)
	p.m.rejected.WithLabelValues(string(reason)).Inc()
	p.log.Debug("ingest reject", "topic", m.Topic, "reason", reason, "err", err)
	p.ack(m)
}

func (p *Pipeline) ack(m Message) {
	if m.Ack != nil {
		m.Ack()
	}
	lag := p.now().Sub(m.Received).Seconds()
	p.m.ackLag.Observe(lag)
	p.m.lag.Set(lag)
}

// write stores b, retrying transient failures until ctx ends. A batch the
// store refuses is written message by message; refused messages are
// rejected.
func (p *Pipeline) write(ctx context.Context, b *batch) {
	if len(b.readings) == 0 {
		b.ok = true
		return
	}
	p.m.batchReadings.Observe(float64(len(b.readings)))
	err := p.writeRetry(ctx, b.readings)
	if err == nil {
		b.ok = true
		return
	}
	if !errors.Is(err, ErrStoreRejected) {
		return // ctx ended: not acknowledged, comes again
	}
	p.log.Warn("ingest: store refused a batch, writing it message by message", "err", err)
	b.dead = make([]bool, len(b.msgs))
	start := 0
	for i, end := range b.ends {
		rs := b.readings[start:end]
		start = end
		if len(rs) == 0 {
			continue
		}
		err := p.writeRetry(ctx, rs)
		switch {
		case err == nil:
		case errors.Is(err, ErrStoreRejected):
			b.dead[i] = true
		default:
			return
		}
	}
	b.ok = true
}

// writeRetry writes until success, a permanent error or the end of ctx.
func (p *Pipeline) writeRetry(ctx context.Context, rs []Reading) error {
	backoff := p.cfg.RetryMin
	for {
		start := time.Now()
		err := p.deps.Writer.Write(ctx, rs)
		p.m.writeSeconds.Observe(time.Since(start).Seconds())
		if err == nil || errors.Is(err, ErrStoreRejected) {
			return err
		}
		p.m.writeErrors.Inc()
		p.log.Warn("ingest: write failed, retrying", "err", err, "readings", len(rs), "backoff", backoff)
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, p.cfg.RetryMax)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// commit acknowledges a written batch and queues its readings for the
// consumer.
func (p *Pipeline) commit(b *batch, toConsume chan<- []Reading) {
	p.m.inFlightReadings.Sub(float64(len(b.readings)))
	if !b.ok {
		return
	}
	written := b.readings
	if b.dead != nil {
		written = written[:0:0]
		start := 0
		for i, end := range b.ends {
			if b.dead[i] {
				m := b.msgs[i]
				p.reject(m, reject(ReasonStoreRejected, "InfluxDB refused the points"))
			} else {
				written = append(written, b.readings[start:end]...)
			}
			start = end
		}
	}
	for i, m := range b.msgs {
		if b.dead != nil && b.dead[i] {
			continue
		}
		p.ack(m)
	}
	p.m.readings.Add(float64(len(written)))
	if p.deps.Consumer != nil && len(written) > 0 {
		toConsume <- written
	}
}

type assetKey struct{ site, asset string }

// consume hands readings on in event-time order per asset. A batch whose
// readings are already in order per asset (the usual case: an asset's
// messages arrive in order) is handed on as it is; otherwise it is sorted by
// asset and time and readings of one asset with the same time are merged.
// Readings not newer than the last one handed on for their asset are
// counted (late) and handed on all the same: whether one is late is a
// question per series (asset and metric), which the rules engine answers,
// so a backfill of one metric, or of history replayed after the asset was
// registered, is evaluated and not dropped here. The last times of at most
// Limits.MaxAssets assets are remembered (least recently seen forgotten
// first).
func (p *Pipeline) consume(ctx context.Context, in <-chan []Reading) {
	last := newLRU[assetKey, time.Time]()
	seen := make(map[assetKey]time.Time) // per batch, reused
	for rs := range in {
		clear(seen)
		ordered := true
		for i := range rs {
			k := assetKey{rs[i].Site, rs[i].Asset}
			if t, ok := seen[k]; ok && !rs[i].TS.After(t) {
				ordered = false
				break
			}
			seen[k] = rs[i].TS
		}
		if !ordered {
			slices.SortStableFunc(rs, func(a, b Reading) int {
				if c := cmp.Compare(a.Site, b.Site); c != 0 {
					return c
				}
				if c := cmp.Compare(a.Asset, b.Asset); c != 0 {
					return c
				}
				return a.TS.Compare(b.TS)
			})
		}
		out := rs[:0]
		for _, r := range rs {
			if n := len(out); !ordered && n > 0 && out[n-1].Site == r.Site && out[n-1].Asset == r.Asset && out[n-1].TS.Equal(r.TS) {
				prev := &out[n-1]
				prev.Metrics = append(prev.Metrics[:len(prev.Metrics):len(prev.Metrics)], r.Metrics...)
				continue
			}
			k := assetKey{r.Site, r.Asset}
			if t, ok := last.get(k); ok {
				if !r.TS.After(*t) {
					p.m.late.Inc()
				} else {
					*t = r.TS
				}
			} else {
				last.add(k, r.TS)
				for last.len() > p.cfg.Limits.MaxAssets {
					last.removeOldest()
				}
			}
			out = append(out, r)
		}
		if len(out) > 0 {
			p.deps.Consumer.Consume(ctx, out)
		}
	}
}

// handleEvent runs the event handler until it succeeds, then acknowledges.
func (p *Pipeline) handleEvent(ctx context.Context, it eventItem) {
	if p.deps.Events == nil {
		p.log.Info("device event", "site", it.ev.Site, "asset", it.ev.Asset, "code", it.ev.Code, "severity", it.ev.Severity)
		p.ack(it.msg)
		return
	}
	backoff := p.cfg.RetryMin
	for {
		err := p.deps.Events.HandleEvent(ctx, it.ev)
		if err == nil {
			p.ack(it.msg)
			return
		}
		p.m.eventErrors.Inc()
		p.log.Warn("ingest: event handler failed, retrying", "site", it.ev.Site, "asset", it.ev.Asset, "code", it.ev.Code, "err", err)
		if !sleepCtx(ctx, backoff) {
			return // not acknowledged: comes again
		}
		backoff = min(backoff*2, p.cfg.RetryMax)
	}
}
