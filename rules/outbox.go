package rules

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// SignalFunc delivers one signal (cmd binds it to the ticket core's
// HandleSignal). An error wrapping ErrRejected drops the signal (it can
// never succeed); any other error is retried with backoff.
type SignalFunc func(ctx context.Context, s Signal) error

// ErrRejected marks a delivery error as permanent: the receiver will never
// accept this signal (for example the asset was deleted), so retrying is
// pointless and the signal is dropped with a log line.
var ErrRejected = errors.New("signal rejected")

// outboxKey identifies signals that supersede each other: a newer signal
// with the same key replaces an undelivered older one.
type outboxKey struct {
	kind        Kind
	level       Level
	ruleID      string
	asset       string
	metric      string
	failureMode string
}

func keyOf(s Signal) outboxKey {
	asset := s.AssetID
	if asset == "" {
		asset = s.Site + "/" + s.Asset
	}
	return outboxKey{s.Kind, s.Level, s.RuleID, asset, s.Metric, s.FailureMode}
}

// OutboxStats counts what an Outbox did.
type OutboxStats struct {
	Pending    int
	Delivered  uint64
	Superseded uint64
	Rejected   uint64
	Retries    uint64
}

// Outbox decouples evaluation from delivery. Put never blocks: evaluation
// (and so ingest) goes on while the receiver is down. Nothing is dropped
// for lack of room: an undelivered signal is replaced only by a newer one
// with the same kind, level, rule, asset and metric (the newer carries the
// latest evidence, which is what the receiver would keep anyway, and the
// earliest DetectedAt of the two), so the
// queue is bounded by the number of distinct keys, not by time. Delivery
// is in order of each key's first undelivered signal (a prediction raised
// before a breach reaches the receiver first, also when it was raised
// again since, as a rebuild does in one burst); failures are retried with
// exponential backoff. What is still queued when the process dies is lost;
// the re-prediction job and the rebuild from history raise it again.
type Outbox struct {
	send     SignalFunc
	log      *slog.Logger
	retryMin time.Duration
	retryMax time.Duration
	drain    time.Duration

	mu       sync.Mutex // guards queue, index, stats, inflight
	queue    *list.List // of Signal, oldest update first
	index    map[outboxKey]*list.Element
	stats    OutboxStats
	inflight *Signal // being delivered
	wake     chan struct{}
}

// NewOutbox returns an outbox delivering through send. retryMin and
// retryMax bound the backoff (defaults 200ms and 30s); drain is how long
// Run keeps delivering after its context ends (default 10s).
func NewOutbox(send SignalFunc, log *slog.Logger, retryMin, retryMax, drain time.Duration) *Outbox {
	if retryMin <= 0 {
		retryMin = 200 * time.Millisecond
	}
	if retryMax < retryMin {
		retryMax = 30 * time.Second
	}
	if drain <= 0 {
		drain = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{
		send: send, log: log, retryMin: retryMin, retryMax: retryMax, drain: drain,
		queue: list.New(), index: map[outboxKey]*list.Element{}, wake: make(chan struct{}, 1),
	}
}

// Put queues a signal for delivery and returns at once.
func (o *Outbox) Put(s Signal) {
	k := keyOf(s)
	o.mu.Lock()
	if el, ok := o.index[k]; ok {
		// Keep the earliest detection: it is what lead time is measured
		// from when the receiver opens an order from this signal. And its
		// place in the queue.
		if old := el.Value.(Signal); old.DetectedAt.Before(s.DetectedAt) {
			s.DetectedAt = old.DetectedAt
		}
		el.Value = s
		o.stats.Superseded++
	} else {
		o.index[k] = o.queue.PushBack(s)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Stats returns counters and the queue length.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.stats
	st.Pending = o.queue.Len()
	return st
}

func (o *Outbox) pop() (Signal, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	el := o.queue.Front()
	if el == nil {
		return Signal{}, false
	}
	s := o.queue.Remove(el).(Signal)
	delete(o.index, keyOf(s))
	o.inflight = &s
	return s, true
}

// Each calls fn for every signal not yet delivered (queued or being
// delivered), under the outbox's lock: fn must not call the outbox.
func (o *Outbox) Each(fn func(Signal)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for el := o.queue.Front(); el != nil; el = el.Next() {
		fn(el.Value.(Signal))
	}
	if o.inflight != nil {
		fn(*o.inflight)
	}
}

// requeue puts a failed signal back at the front unless a newer one with
// the same key arrived meanwhile.
func (o *Outbox) requeue(s Signal) {
	k := keyOf(s)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight = nil
	o.stats.Retries++
	if _, ok := o.index[k]; ok {
		o.stats.Superseded++
		return
	}
	o.index[k] = o.queue.PushFront(s)
}

// Run delivers queued signals until ctx ends, then keeps delivering for the
// drain time so a clean shutdown loses nothing that can be delivered. It
// returns nil.
func (o *Outbox) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		if ctx.Err() != nil {
			o.drainQueue(context.WithoutCancel(ctx))
			return nil
		}
		s, ok := o.pop()
		if !ok {
			select {
			case <-ctx.Done():
			case <-o.wake:
			}
			continue
		}
		if !o.deliver(ctx, s) {
			backoff = min(max(backoff*2, o.retryMin), o.retryMax)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		backoff = 0
	}
}

// deliver sends one signal and reports success; a failure is requeued.
func (o *Outbox) deliver(ctx context.Context, s Signal) bool {
	err := o.send(ctx, s)
	if err == nil || errors.Is(err, ErrRejected) {
		o.mu.Lock()
		o.inflight = nil
		o.mu.Unlock()
	}
	switch {
	case err == nil:
		o.mu.Lock()
		o.stats.Delivered++
		o.mu.Unlock()
		return true
	case errors.Is(err, ErrRejected):
		o.mu.Lock()
		o.stats.Rejected++
		o.mu.Unlock()
		o.log.Warn("signal rejected, dropped", "asset_id", s.AssetID, "rule_id", s.RuleID, "kind", s.Kind, "err", err)
		return true
	default:
		o.log.Warn("signal delivery failed, will retry", "asset_id", s.AssetID, "rule_id", s.RuleID, "kind", s.Kind, "err", err)
		o.requeue(s)
		return false
	}
}

func (o *Outbox) drainQueue(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, o.drain)
	defer cancel()
	for ctx.Err() == nil {
		s, ok := o.pop()
		if !ok {
			return
		}
		if !o.deliver(ctx, s) {
			t := time.NewTimer(o.retryMin)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	if n := o.Stats().Pending; n > 0 {
		o.log.Error("signals undelivered at shutdown", "count", n)
	}
}
