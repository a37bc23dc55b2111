package rules

import (
	"context"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// held keeps the readings Consume could not evaluate because their asset
// lookup failed (the asset registry, PostgreSQL, was unreachable). They are
// evaluated, in order, once a lookup succeeds again: before the next batch
// and on Run's retry tick. While an asset has held readings, its newer
// readings queue behind them so each series still sees event time in
// order. At most max readings are held; beyond that the oldest are
// dropped from evaluation (they stay stored) and counted.
type held struct {
	mu      sync.Mutex // serialises live evaluation and retries; guards the fields
	queue   []ingest.Reading
	assets  map[[2]string]int // site, code → held readings
	max     int
	dropped uint64
}

func (h *held) has(site, code string) bool { return h.assets[[2]string{site, code}] > 0 }

// add holds rd and reports whether it had to drop the oldest held reading.
func (h *held) add(rd ingest.Reading) bool {
	if h.assets == nil {
		h.assets = map[[2]string]int{}
	}
	dropped := false
	if len(h.queue) >= h.max {
		old := h.queue[0]
		h.queue[0] = ingest.Reading{}
		h.queue = h.queue[1:]
		k := [2]string{old.Site, old.Asset}
		if h.assets[k]--; h.assets[k] <= 0 {
			delete(h.assets, k)
		}
		h.dropped++
		dropped = true
	}
	h.queue = append(h.queue, rd)
	h.assets[[2]string{rd.Site, rd.Asset}]++
	return dropped
}

// take empties the hold and returns what it held, oldest first.
func (h *held) take() []ingest.Reading {
	q := h.queue
	h.queue = nil
	clear(h.assets)
	return q
}

// retryHeldLocked re-evaluates the held readings; those whose lookup still
// fails are held again, in order. h.mu must be held.
func (e *Engine) retryHeldLocked(ctx context.Context) {
	if len(e.held.queue) == 0 {
		return
	}
	q := e.held.take()
	e.consume(ctx, q, e.out.Put, &e.held, nil, time.Time{}, true)
	if n := len(e.held.queue); n < len(q) {
		e.log.Info("held readings evaluated after asset lookups recovered", "evaluated", len(q)-n, "still_held", n)
	}
}

// retryHeld re-evaluates held readings (Run calls it on its retry tick).
func (e *Engine) retryHeld(ctx context.Context) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	e.retryHeldLocked(ctx)
}

// HeldReadings returns how many readings wait for their asset lookup to
// succeed, and how many were dropped from evaluation because too many were
// held.
func (e *Engine) HeldReadings() (held int, dropped uint64) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	return len(e.held.queue), e.held.dropped
}
