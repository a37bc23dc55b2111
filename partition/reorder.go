package partition

import (
	"slices"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// reorder holds readings for a short wall-clock window before they are
// evaluated, and releases them sorted by event time. An asset's readings
// may reach its owner out of order: several ingest replicas (and several
// concurrent InfluxDB writes in one) republish them, and a reading that
// arrives after a later one of its series would be ignored as late.
type reorder struct {
	window time.Duration
	chunks []chunk // in arrival order
	held   int
}

type chunk struct {
	at  time.Time
	rs  []ingest.Reading
	ack func() // acknowledges the message the readings came in; may be nil
	// replayed: the message arrived before its partition's rebuild read
	// history, so the rebuild replayed its readings already.
	replayed bool
}

func (r *reorder) add(c chunk) {
	r.chunks = append(r.chunks, c)
	r.held += len(c.rs)
}

// due removes and returns the readings that arrived at least window before
// now, sorted by event time (stable, so an asset's readings with equal
// times keep their order), those of replayed chunks apart, and the
// acknowledgements of their messages.
func (r *reorder) due(now time.Time) (live, replayed []ingest.Reading, acks []func()) {
	cut := now.Add(-r.window)
	i := 0
	n := 0
	for i < len(r.chunks) && !r.chunks[i].at.After(cut) {
		n += len(r.chunks[i].rs)
		i++
	}
	if i == 0 {
		return nil, nil, nil
	}
	live = make([]ingest.Reading, 0, n)
	acks = make([]func(), 0, i)
	for _, c := range r.chunks[:i] {
		if c.replayed {
			replayed = append(replayed, c.rs...)
		} else {
			live = append(live, c.rs...)
		}
		if c.ack != nil {
			acks = append(acks, c.ack)
		}
	}
	clear(r.chunks[:i])
	r.chunks = r.chunks[i:]
	r.held -= n
	byTime := func(a, b ingest.Reading) int { return a.TS.Compare(b.TS) }
	slices.SortStableFunc(live, byTime)
	slices.SortStableFunc(replayed, byTime)
	return live, replayed, acks
}
