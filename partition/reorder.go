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
}

func (r *reorder) add(now time.Time, rs []ingest.Reading, ack func()) {
	r.chunks = append(r.chunks, chunk{at: now, rs: rs, ack: ack})
	r.held += len(rs)
}

// due removes and returns the readings that arrived at least window before
// now, sorted by event time (stable, so an asset's readings with equal
// times keep their order), and the acknowledgements of their messages.
func (r *reorder) due(now time.Time) ([]ingest.Reading, []func()) {
	cut := now.Add(-r.window)
	i := 0
	n := 0
	for i < len(r.chunks) && !r.chunks[i].at.After(cut) {
		n += len(r.chunks[i].rs)
		i++
	}
	if i == 0 {
		return nil, nil
	}
	out := make([]ingest.Reading, 0, n)
	acks := make([]func(), 0, i)
	for _, c := range r.chunks[:i] {
		out = append(out, c.rs...)
		if c.ack != nil {
			acks = append(acks, c.ack)
		}
	}
	clear(r.chunks[:i])
	r.chunks = r.chunks[i:]
	r.held -= n
	slices.SortStableFunc(out, func(a, b ingest.Reading) int { return a.TS.Compare(b.TS) })
	return out, acks
}
