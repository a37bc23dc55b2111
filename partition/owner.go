package partition

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// Detector evaluates readings and keeps per-asset state (the rules
// engine).
type Detector interface {
	Consume(ctx context.Context, readings []ingest.Reading)
	// ConsumeReplayed evaluates readings a rebuild has already replayed
	// (their late copies ask for no re-evaluation).
	ConsumeReplayed(ctx context.Context, readings []ingest.Reading)
	// Drop forgets the assets keep returns false for.
	Drop(keep func(site, asset string) bool) int
}

// RebuildFunc replays history into the Detector for the assets keep
// returns true for, from their lookback before from up to now
// (rules.Engine.RebuildWhere bound to InfluxDB); it returns the readings
// replayed.
type RebuildFunc func(ctx context.Context, keep func(site, asset string) bool, from time.Time) (int, error)

// Stream subscribes to partition streams; it calls Owner.Deliver for each
// message of a subscribed partition, with a func that acknowledges the
// message (called once its readings are evaluated).
type Stream interface {
	Subscribe(p int) error
	Unsubscribe(p int) error
}

// OwnerConfig configures an Owner.
type OwnerConfig struct {
	Partitions int
	Detector   Detector
	Rebuild    RebuildFunc
	// ReorderWindow is how long readings wait before evaluation so that
	// an asset's readings that arrive out of order are put back in event
	// order (default 1s).
	ReorderWindow time.Duration
	// Pending lists the signals raised but not yet delivered (asset codes
	// and event time), so a partition's mark never passes one: if this
	// replica dies, the next owner's rebuild raises it again (optional).
	Pending func(yield func(site, asset string, at time.Time))
	Logger  *slog.Logger
	Now     func() time.Time // wall clock of the reorder window
}

// Owner runs detection for the partitions this replica holds: it is the
// Manager's Handler and the Stream's receiver. On Gain it subscribes to
// the partition's stream first and then rebuilds the partition's assets
// from history, holding the stream's readings until the rebuild is done
// (every reading is stored before it is streamed, so what the rebuild does
// not see arrives on the stream; what both see is evaluated once, the
// second copy being late). On Lose it unsubscribes and drops the state.
type Owner struct {
	cfg    OwnerConfig
	log    *slog.Logger
	stream Stream

	mu    sync.Mutex // guards parts and buf
	parts map[int]*owned
	buf   reorder

	rebuildSlots chan struct{} // bounds concurrent rebuilds

	evalMu sync.Mutex // serialises evaluation and Drop

	rebuilding  atomic.Int64
	rebuilt     atomic.Uint64 // readings replayed by rebuilds
	notOwned    atomic.Uint64 // streamed readings of partitions not held
	malformed   atomic.Uint64
	lastRebuild atomic.Int64 // nanoseconds the latest rebuild took
}

type owned struct {
	ready   bool      // rebuilt: readings go to the reorder buffer
	mark    time.Time // latest event time evaluated (or the previous owner's)
	pending []chunk   // stream messages that came during the rebuild
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewOwner returns an owner; bind its stream with SetStream before the
// Manager runs, then Run it.
func NewOwner(cfg OwnerConfig) (*Owner, error) {
	if cfg.Partitions <= 0 || cfg.Detector == nil || cfg.Rebuild == nil {
		return nil, errors.New("partition: Partitions, Detector and Rebuild are required")
	}
	if cfg.ReorderWindow <= 0 {
		cfg.ReorderWindow = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Owner{cfg: cfg, log: cfg.Logger, parts: map[int]*owned{}, buf: reorder{window: cfg.ReorderWindow},
		rebuildSlots: make(chan struct{}, 4)}, nil
}

// SetStream binds the stream the owner subscribes through.
func (o *Owner) SetStream(s Stream) { o.stream = s }

var _ Handler = (*Owner)(nil)

// Gain subscribes to p's stream and starts rebuilding p's assets from
// their lookback before mark (before now when mark is zero or later).
func (o *Owner) Gain(ctx context.Context, p int, mark time.Time) error {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st := &owned{cancel: cancel, done: make(chan struct{}), mark: mark}
	from := o.cfg.Now()
	if !mark.IsZero() && mark.Before(from) {
		from = mark
	}
	o.mu.Lock()
	o.parts[p] = st
	o.mu.Unlock()
	if err := o.stream.Subscribe(p); err != nil {
		o.mu.Lock()
		delete(o.parts, p)
		o.mu.Unlock()
		cancel()
		return err
	}
	o.rebuilding.Add(1)
	go func() {
		defer close(st.done)
		defer o.rebuilding.Add(-1)
		// A few rebuilds at a time: a replica that takes many partitions
		// at once would otherwise flood InfluxDB with queries.
		select {
		case o.rebuildSlots <- struct{}{}:
			defer func() { <-o.rebuildSlots }()
		case <-rctx.Done():
		}
		start := time.Now()
		// Stream messages that came before the rebuild reads history
		// were stored before it: the rebuild replays them.
		o.mu.Lock()
		for i := range st.pending {
			st.pending[i].replayed = true
		}
		o.mu.Unlock()
		n, err := o.cfg.Rebuild(rctx, func(site, asset string) bool { return Of(site, asset, o.cfg.Partitions) == p }, from)
		if err != nil && rctx.Err() == nil {
			o.log.Warn("partition rebuilt in part", "partition", p, "err", err)
		}
		took := time.Since(start)
		o.lastRebuild.Store(int64(took))
		o.rebuilt.Add(uint64(n))
		o.mu.Lock()
		st.ready = true
		for _, c := range st.pending {
			o.buf.add(c)
		}
		st.pending = nil
		o.mu.Unlock()
		o.log.Info("partition rebuilt", "partition", p, "readings", n, "took", took.Round(time.Millisecond))
	}()
	return nil
}

// Marks returns, per partition held, how far it is evaluated in event
// time: the latest reading evaluated, or the earliest signal raised but
// not yet delivered when that is earlier. The next owner rebuilds from
// there, so what this replica raised and never delivered is raised again.
func (o *Owner) Marks() map[int]time.Time {
	pending := map[int]time.Time{}
	if o.cfg.Pending != nil {
		o.cfg.Pending(func(site, asset string, at time.Time) {
			p := Of(site, asset, o.cfg.Partitions)
			if t, ok := pending[p]; !ok || at.Before(t) {
				pending[p] = at
			}
		})
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int]time.Time, len(o.parts))
	for p, st := range o.parts {
		m := st.mark
		if t, ok := pending[p]; ok && (m.IsZero() || t.Before(m)) {
			m = t
		}
		if !m.IsZero() {
			out[p] = m
		}
	}
	return out
}

// WaitRebuilt waits until no partition is being rebuilt or ctx ends.
func (o *Owner) WaitRebuilt(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for o.rebuilding.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Lose stops evaluating p and forgets its assets.
func (o *Owner) Lose(p int) {
	o.mu.Lock()
	st := o.parts[p]
	delete(o.parts, p)
	o.mu.Unlock()
	if st == nil {
		return
	}
	if err := o.stream.Unsubscribe(p); err != nil {
		o.log.Warn("unsubscribe partition stream", "partition", p, "err", err)
	}
	st.cancel()
	<-st.done
	o.evalMu.Lock()
	n := o.cfg.Detector.Drop(o.keep)
	o.evalMu.Unlock()
	o.log.Info("partition handed over", "partition", p, "assets_dropped", n)
}

func (o *Owner) keep(site, asset string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.parts[Of(site, asset, o.cfg.Partitions)] != nil
}

// Deliver takes one message of partition p's stream; ack acknowledges it
// once its readings are evaluated (a malformed message at once).
func (o *Owner) Deliver(p int, payload []byte, ack func()) {
	rs, err := Decode(payload)
	if err != nil {
		o.malformed.Add(1)
		o.log.Warn("malformed partition stream message", "partition", p, "err", err)
		ack()
		return
	}
	o.mu.Lock()
	st := o.parts[p]
	switch {
	case st == nil:
		// Not this replica's (any more): not acknowledged, the session
		// keeps it for the owner.
		o.notOwned.Add(uint64(len(rs)))
	case !st.ready:
		st.pending = append(st.pending, chunk{at: o.cfg.Now(), rs: rs, ack: ack})
	default:
		o.buf.add(chunk{at: o.cfg.Now(), rs: rs, ack: ack})
	}
	o.mu.Unlock()
}

// Run evaluates the readings whose reorder window has passed until ctx
// ends, then evaluates what is held and returns nil.
func (o *Owner) Run(ctx context.Context) error {
	t := time.NewTicker(max(o.cfg.ReorderWindow/4, 5*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			o.flush(context.WithoutCancel(ctx), o.cfg.Now().Add(o.cfg.ReorderWindow))
			return nil
		case <-t.C:
		}
		o.flush(ctx, o.cfg.Now())
	}
}

func (o *Owner) flush(ctx context.Context, now time.Time) {
	o.evalMu.Lock()
	defer o.evalMu.Unlock()
	o.mu.Lock()
	live, replayed, acks := o.buf.due(now)
	// Readings of a partition lost meanwhile are not this replica's any
	// more.
	mine := func(rs []ingest.Reading) []ingest.Reading {
		out := rs[:0]
		for _, r := range rs {
			if st := o.parts[Of(r.Site, r.Asset, o.cfg.Partitions)]; st != nil && st.ready {
				out = append(out, r)
				if r.TS.After(st.mark) {
					st.mark = r.TS
				}
			}
		}
		return out
	}
	live, replayed = mine(live), mine(replayed)
	o.mu.Unlock()
	if len(replayed) > 0 {
		o.cfg.Detector.ConsumeReplayed(ctx, replayed)
	}
	if len(live) > 0 {
		o.cfg.Detector.Consume(ctx, live)
	}
	for _, ack := range acks {
		ack()
	}
}

// OwnerStats is what an Owner holds and did.
type OwnerStats struct {
	Held       int    // readings in the reorder window
	Rebuilding int    // partitions being rebuilt
	Rebuilt    uint64 // readings replayed by rebuilds
	NotOwned   uint64 // streamed readings of partitions not held (dropped)
	Malformed  uint64
	// LastRebuild is how long the latest rebuild took.
	LastRebuild time.Duration
}

// Stats returns the owner's counters.
func (o *Owner) Stats() OwnerStats {
	o.mu.Lock()
	held := o.buf.held
	o.mu.Unlock()
	return OwnerStats{Held: held, Rebuilding: int(o.rebuilding.Load()), Rebuilt: o.rebuilt.Load(),
		NotOwned: o.notOwned.Load(), Malformed: o.malformed.Load(), LastRebuild: time.Duration(o.lastRebuild.Load())}
}
