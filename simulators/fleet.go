package simulators

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// Publisher sends messages at QoS 1. Publish starts sending and returns a
// wait function that blocks until the broker acknowledged the message
// (nil), sending failed (the error) or ctx is done (ctx's error). The fleet
// bounds how many messages are outstanding and sends a failed one again.
// simulators/mqttpub implements it with paho.
type Publisher interface {
	Publish(topic string, payload []byte) (wait func(ctx context.Context) error)
}

// FleetOptions tune a Fleet. Zero values take the defaults.
type FleetOptions struct {
	// TopicRoot is the contract's topic root (default "pdm/v1").
	TopicRoot string
	// MaxInFlight bounds the messages sent but not yet acknowledged
	// (default 64): the fleet never runs ahead of what the broker takes.
	MaxInFlight int
	// MaxRate caps the readings sent per wall-clock second (0: the
	// scenario's max_rate, and no cap when that is 0 too). A broker
	// acknowledges a message when it has queued it, not when a subscriber
	// has it: Mosquitto drops messages for a subscriber whose queue is
	// full (max_queued_messages, 1000 by default), so a replay at full
	// speed must not outrun what the platform ingests.
	MaxRate float64
	// Now is the wall clock (default time.Now). Simulated time never
	// passes it, so readings are never in the future.
	Now func() time.Time
	// Sleep waits d or until ctx is done (default: a timer); tests pair
	// it with Now to run a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets retries and the end of a run (default: discard).
	Logger *slog.Logger
}

// Progress is a snapshot of a running fleet.
type Progress struct {
	Assets   int
	Readings uint64 // readings acknowledged by the broker
	Messages uint64 // telemetry messages acknowledged
	Events   uint64 // device events acknowledged
	Retries  uint64 // messages sent again after a failed send
	// SimTime is the simulated time published up to (exclusive).
	SimTime time.Time
	// Elapsed is the wall time since Run started.
	Elapsed time.Duration
	Done    bool
}

// Rate returns the readings acknowledged per wall-clock second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Readings) / p.Elapsed.Seconds()
}

// Fleet publishes a scenario's readings and device events in simulated time
// through a Publisher. Build it with NewFleet, start it with Run (once),
// read Progress from any goroutine.
type Fleet struct {
	s    *Scenario
	pub  Publisher
	opts FleetOptions

	readings, messages, events, retries atomic.Uint64
	simNanos, startNanos                atomic.Int64
	done                                atomic.Bool
	// buffered counts, per gateway (Scenario.Gateways' order), the
	// readings sent but not yet acknowledged.
	buffered []atomic.Int64
}

// NewFleet returns a fleet for the scenario that publishes through pub.
func NewFleet(s *Scenario, pub Publisher, opts FleetOptions) *Fleet {
	if opts.TopicRoot == "" {
		opts.TopicRoot = "pdm/v1"
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRate <= 0 {
		opts.MaxRate = s.MaxRate
	}
	f := &Fleet{s: s, pub: pub, opts: opts, buffered: make([]atomic.Int64, len(s.Gateways))}
	f.simNanos.Store(s.Start.UnixNano())
	return f
}

// Progress returns a snapshot of the run; safe to call while Run runs.
func (f *Fleet) Progress() Progress {
	p := Progress{
		Assets:   len(f.s.Assets),
		Readings: f.readings.Load(),
		Messages: f.messages.Load(),
		Events:   f.events.Load(),
		Retries:  f.retries.Load(),
		SimTime:  time.Unix(0, f.simNanos.Load()).UTC(),
		Done:     f.done.Load(),
	}
	if st := f.startNanos.Load(); st != 0 {
		p.Elapsed = f.opts.Now().Sub(time.Unix(0, st))
	}
	return p
}

// Buffered returns the readings of the gateway's assets sent but not yet
// acknowledged by the broker (0 for a gateway the scenario lacks): what
// the gateway's status reports as buffered.
func (f *Fleet) Buffered(gateway string) int64 {
	for i, g := range f.s.Gateways {
		if g == gateway {
			return f.buffered[i].Load()
		}
	}
	return 0
}

type pending struct {
	topic    string
	payload  []byte
	wait     func(context.Context) error
	readings int
	event    bool
	gw       int // index+1 in Scenario.Gateways; 0: none
}

// Run publishes the scenario until its end, or until ctx is done for an
// open-ended one. Readings are sent per asset in batches of up to
// Scenario.Batch readings, in simulated-time order, paced by the
// acceleration and never ahead of the wall clock. It returns nil at the end
// of the scenario or when ctx is cancelled (after waiting up to 5 s for
// outstanding acknowledgements), and an error only if a message could not
// be handed over before that.
func (f *Fleet) Run(ctx context.Context) error {
	s := f.s
	log := f.opts.Logger
	wallStart := f.opts.Now()
	f.startNanos.Store(wallStart.UnixNano())
	defer f.done.Store(true)

	end, bounded := s.End()
	seq := make([]uint64, len(s.Gateways))
	var queue []pending // FIFO of outstanding messages
	var buf []ingest.Reading

	// wake is the wall time at which simulated time t may be published.
	wake := func(t time.Time) time.Time {
		w := t
		if s.Acceleration > 0 {
			a := wallStart.Add(time.Duration(float64(t.Sub(s.Start)) / s.Acceleration))
			if a.After(w) {
				w = a
			}
		}
		return w
	}
	settle := func(ctx context.Context, p pending) error {
		for attempt := 0; ; attempt++ {
			err := p.wait(ctx)
			if err == nil {
				if p.event {
					f.events.Add(1)
				} else {
					f.messages.Add(1)
					f.readings.Add(uint64(p.readings))
					if p.gw > 0 {
						f.buffered[p.gw-1].Add(-int64(p.readings))
					}
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.retries.Add(1)
			log.Warn("publish failed, sending again", "topic", p.topic, "attempt", attempt+1, "err", err)
			if err := f.opts.Sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
			p.wait = f.pub.Publish(p.topic, p.payload)
		}
	}
	send := func(ctx context.Context, p pending) error {
		if len(queue) >= f.opts.MaxInFlight {
			if err := settle(ctx, queue[0]); err != nil {
				return err
			}
			queue[0] = pending{}
			queue = queue[1:]
		}
		p.wait = f.pub.Publish(p.topic, p.payload)
		if p.gw > 0 && !p.event {
			f.buffered[p.gw-1].Add(int64(p.readings))
		}
		queue = append(queue, p)
		return nil
	}
	// settleAll waits for every outstanding message: before the fleet
	// sleeps (so progress is current while it idles) and at the end.
	settleAll := func(ctx context.Context) error {
		for len(queue) > 0 {
			if err := settle(ctx, queue[0]); err != nil {
				return fmt.Errorf("fleet: %d messages not acknowledged: %w", len(queue), err)
			}
			queue[0] = pending{}
			queue = queue[1:]
		}
		return nil
	}
	drain := func() error {
		dctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
		}
		return settleAll(dctx)
	}
	idle := func(d time.Duration) error {
		if err := settleAll(ctx); err != nil {
			return err
		}
		return f.opts.Sleep(ctx, d)
	}

	next := s.Start
	lastEvent := s.Start.Add(-time.Nanosecond) // events published up to here (inclusive)
	var sent uint64                            // readings handed to the publisher
	for {
		if bounded && !next.Before(end) {
			break
		}
		now := f.opts.Now()
		if f.opts.MaxRate > 0 {
			if w := wallStart.Add(time.Duration(math.Ceil(float64(sent) / f.opts.MaxRate * float64(time.Second)))); w.After(now) {
				if err := idle(w.Sub(now)); err != nil {
					break
				}
				continue
			}
		}
		if w := wake(next); w.After(now) {
			if err := idle(w.Sub(now)); err != nil {
				break
			}
			continue
		}
		// A full batch when its last tick may be published; otherwise, if
		// the wall clock (not the acceleration) holds it back, what the
		// wall clock allows; otherwise wait for the full batch.
		n := s.Batch
		if bounded {
			if left := int((end.Sub(next) + s.Interval - 1) / s.Interval); left < n {
				n = left
			}
		}
		if last := next.Add(time.Duration(n-1) * s.Interval); wake(last).After(now) {
			if last.After(now) {
				n = 1 + int(now.Sub(next)/s.Interval)
			} else {
				if err := idle(wake(last).Sub(now)); err != nil {
					break
				}
				continue
			}
		}
		last := next.Add(time.Duration(n-1) * s.Interval)
		k, err := f.publishWindow(ctx, next, n, lastEvent, last, seq, &buf, send)
		sent += uint64(k)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		lastEvent = last
		next = last.Add(s.Interval)
		f.simNanos.Store(next.UnixNano())
	}
	err := drain()
	log.Info("fleet stopped", "readings", f.readings.Load(), "messages", f.messages.Load(),
		"events", f.events.Load(), "sim_time", next)
	return err
}

// publishWindow sends, for each asset, the readings of n ticks from first
// as one message, then the device events in (evFrom, evTo]. It returns the
// number of readings sent.
func (f *Fleet) publishWindow(ctx context.Context, first time.Time, n int, evFrom, evTo time.Time,
	seq []uint64, buf *[]ingest.Reading, send func(context.Context, pending) error) (int, error) {
	s := f.s
	total := 0
	for i, m := range s.Assets {
		rs := (*buf)[:0]
		for k := 0; k < n; k++ {
			if r, ok := m.Reading(s.Site, first.Add(time.Duration(k)*s.Interval)); ok {
				rs = append(rs, r)
			}
		}
		*buf = rs
		if len(rs) > 0 {
			gw := s.Gateway(i)
			var sq uint64
			gwIndex := 0
			if gw != "" {
				gi := i % len(s.Gateways)
				seq[gi]++
				sq = seq[gi]
				gwIndex = gi + 1
			}
			payload := ingest.AppendJSON(nil, gw, sq, rs)
			p := pending{topic: ingest.TelemetryTopic(f.opts.TopicRoot, s.Site, m.Code()), payload: payload, readings: len(rs), gw: gwIndex}
			if err := send(ctx, p); err != nil {
				return total, err
			}
			total += len(rs)
		}
		for _, ev := range m.Events(evFrom, evTo) {
			payload, err := json.Marshal(eventJSON{TS: ev.TS.UnixMilli(), Code: ev.Code, Severity: ev.Severity, Message: ev.Message})
			if err != nil {
				return total, err
			}
			p := pending{topic: ingest.EventTopic(f.opts.TopicRoot, s.Site, m.Code()), payload: payload, event: true}
			if err := send(ctx, p); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// eventJSON is the contract's device event payload.
type eventJSON struct {
	TS       int64  `json:"ts"`
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message,omitempty"`
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 6)
	return min(d, 5*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
