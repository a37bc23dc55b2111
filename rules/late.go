package rules

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// Late readings nobody evaluated.
//
// A reading at or before the latest one its series has evaluated is late:
// the series cannot take it without going back in time. Many late readings
// are copies the engine has seen already (a rebuild replayed them from
// history and the partition stream delivers them again); some are not: a
// replica that was down comes back and ingests what its broker session
// kept for it, days late in event time. With Config.History set, the
// engine re-evaluates an asset whose live readings came late: it reads the
// asset's history from its lookback before the earliest late reading up to
// the latest reading it has evaluated (ingest stores every reading before
// anyone evaluates it), replays it into fresh state, and raises with their
// own event times the signals detected from the earliest late reading on,
// as a rebuild does: the ticket core drops those it already has and folds
// the others into the open order of their asset and failure mode.
//
// Late readings of an asset are coalesced, so a late burst costs one
// replay: the asset is re-evaluated once its late readings have stopped
// for LateSettle (or LateMaxDelay after the first), no more often than
// every LateMinInterval, at most MaxReevaluations a second; at most
// MaxLateAssets assets wait (the late readings of others are counted in
// LateStats and ignored, as without History).

// lateAsset is an asset waiting to be re-evaluated.
type lateAsset struct {
	ref    AssetRef
	from   time.Time // event time of the earliest late reading
	first  time.Time // wall clock: first late reading of this burst
	latest time.Time // wall clock: latest late reading
}

// lateQueue holds the assets waiting to be re-evaluated.
type lateQueue struct {
	mu      sync.Mutex
	assets  map[string]*lateAsset // asset id →
	done    map[string]time.Time  // asset id → wall clock of its latest re-evaluation
	dropped uint64                // late readings of assets that found the queue full
}

// note records a late reading of a.
func (q *lateQueue) note(a AssetRef, ts, now time.Time, maxAssets int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.assets == nil {
		q.assets = map[string]*lateAsset{}
		q.done = map[string]time.Time{}
	}
	la := q.assets[a.ID]
	if la == nil {
		if len(q.assets) >= maxAssets {
			q.dropped++
			return
		}
		la = &lateAsset{ref: a, from: ts, first: now}
		q.assets[a.ID] = la
	}
	if ts.Before(la.from) {
		la.from = ts
	}
	la.latest = now
}

// due removes and returns, oldest burst first, at most n assets ready for
// re-evaluation at now.
func (q *lateQueue) due(now time.Time, settle, maxDelay, minInterval time.Duration, n int) []lateAsset {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, t := range q.done {
		if now.Sub(t) >= minInterval {
			delete(q.done, id)
		}
	}
	var ready []*lateAsset
	for id, la := range q.assets {
		if _, recent := q.done[id]; recent {
			continue
		}
		if now.Sub(la.latest) >= settle || now.Sub(la.first) >= maxDelay {
			ready = append(ready, la)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].first.Before(ready[j].first) })
	if len(ready) > n {
		ready = ready[:n]
	}
	out := make([]lateAsset, len(ready))
	for i, la := range ready {
		out[i] = *la
		delete(q.assets, la.ref.ID)
		q.done[la.ref.ID] = now
	}
	return out
}

// forget drops the waiting assets keep returns false for.
func (q *lateQueue) forget(keep func(site, asset string) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, la := range q.assets {
		if !keep(la.ref.Site, la.ref.Code) {
			delete(q.assets, id)
		}
	}
}

// LateStats is what the engine did with late readings.
type LateStats struct {
	// Readings: late readings ignored by their series (a re-evaluation
	// takes them from history).
	Readings uint64
	// Waiting: assets waiting to be re-evaluated.
	Waiting int
	// Reevaluated: re-evaluations done; Replayed: readings they replayed;
	// Failed: re-evaluations that could not read history (retried).
	Reevaluated, Replayed, Failed uint64
	// Dropped: late readings of assets that found the queue full
	// (MaxLateAssets), not re-evaluated.
	Dropped uint64
}

// LateStats returns the engine's late-reading counters.
func (e *Engine) LateStats() LateStats {
	e.late.mu.Lock()
	waiting, dropped := len(e.late.assets), e.late.dropped
	e.late.mu.Unlock()
	return LateStats{Readings: e.lateCount.Load(), Waiting: waiting, Reevaluated: e.lateDone.Load(),
		Replayed: e.lateReplayed.Load(), Failed: e.lateFailed.Load(), Dropped: dropped}
}

// ConsumeReplayed evaluates readings a rebuild has replayed already (a
// partition's stream delivers again what was stored before the rebuild
// read it): those that are late for their series are ignored without
// asking for a re-evaluation.
func (e *Engine) ConsumeReplayed(ctx context.Context, readings []ingest.Reading) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	e.retryHeldLocked(ctx)
	e.consume(ctx, readings, e.out.Put, &e.held, nil, time.Time{}, false)
}

// ReevaluateLate re-evaluates, now, the assets whose late readings have
// settled (Run calls it every tick; tests call it directly). It returns
// how many assets it re-evaluated.
func (e *Engine) ReevaluateLate(ctx context.Context) int {
	if e.cfg.History == nil {
		return 0
	}
	every := e.lateTick()
	budget := max(1, int(float64(e.cfg.MaxReevaluations)*every.Seconds()))
	due := e.late.due(e.cfg.Now(), e.cfg.LateSettle, e.cfg.LateMaxDelay, e.cfg.LateMinInterval, budget)
	n := 0
	for _, la := range due {
		if ctx.Err() != nil {
			return n
		}
		if err := e.reevaluate(ctx, la); err != nil {
			if ctx.Err() != nil {
				return n
			}
			e.lateFailed.Add(1)
			e.log.Warn("re-evaluation of late readings failed; retried", "site", la.ref.Site, "asset", la.ref.Code, "err", err)
			// Back in the queue, from the same reading: tried again after
			// LateMinInterval.
			e.late.note(la.ref, la.from, e.cfg.Now(), e.cfg.MaxLateAssets)
			continue
		}
		n++
	}
	return n
}

func (e *Engine) lateTick() time.Duration {
	return min(max(e.cfg.LateSettle/4, 50*time.Millisecond), time.Second)
}

// latestOf returns the event time of the latest reading any series of the
// asset has evaluated (zero when the engine holds no state for it).
func (e *Engine) latestOf(assetID string) time.Time {
	sh := e.shardOf(assetID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var t time.Time
	for _, s := range sh.assets[assetID] {
		if l := s.tracker.LastTS(); l.After(t) {
			t = l
		}
	}
	return t
}

// reevaluate replays la's asset from history into fresh state (see the
// comment at the top of this file).
func (e *Engine) reevaluate(ctx context.Context, la lateAsset) error {
	a := la.ref
	covering := e.CoveringRules(ctx, a)
	if len(covering) == 0 {
		return nil
	}
	lb, names := lookbackOf(covering)
	upTo := e.latestOf(a.ID)
	if upTo.IsZero() {
		return nil // dropped or evicted meanwhile: a rebuild covers it
	}
	from := la.from.Add(-lb)
	// The history is read outside the lock (evaluation goes on); what was
	// evaluated meanwhile is read under it.
	rd, err := e.cfg.History.ReadReadings(ctx, a.Site, a.Code, names, from, upTo.Add(time.Nanosecond))
	if err != nil {
		return err
	}
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	now := e.latestOf(a.ID)
	if now.IsZero() {
		return nil
	}
	if now.After(upTo) {
		more, err := e.cfg.History.ReadReadings(ctx, a.Site, a.Code, names, upTo.Add(time.Nanosecond), now.Add(time.Nanosecond))
		if err != nil {
			return err
		}
		rd = append(rd, more...)
	}
	if len(rd) == 0 {
		return nil // nothing stored to replay: the state stays
	}
	sort.SliceStable(rd, func(i, j int) bool { return rd[i].TS.Before(rd[j].TS) })
	sh := e.shardOf(a.ID)
	sh.mu.Lock()
	if _, ok := sh.assets[a.ID]; ok {
		delete(sh.assets, a.ID)
		e.assets.Add(-1)
	}
	sh.mu.Unlock()
	// Readings at or after the earliest late one were not all evaluated:
	// what they raise is raised with its own time.
	e.consume(ctx, rd, func(Signal) {}, nil, e.reraise, la.from.Add(-time.Nanosecond), false)
	e.lateDone.Add(1)
	e.lateReplayed.Add(uint64(len(rd)))
	e.log.Debug("late readings re-evaluated", "site", a.Site, "asset", a.Code, "from", la.from, "readings", len(rd))
	return nil
}

// lookbackOf returns the longest lookback of rules and their metrics,
// sorted.
func lookbackOf(rules []Rule) (time.Duration, []string) {
	lb := time.Duration(0)
	metrics := map[string]struct{}{}
	for i := range rules {
		lb = max(lb, Lookback(&rules[i]))
		metrics[rules[i].Metric] = struct{}{}
	}
	names := make([]string, 0, len(metrics))
	for m := range metrics {
		names = append(names, m)
	}
	sort.Strings(names)
	return lb, names
}
