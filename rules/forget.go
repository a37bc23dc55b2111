package rules

import (
	"slices"
	"time"
)

// ForgetAll drops every cached asset lookup, so asset and site changes made
// elsewhere apply to the next reading.
func (e *Engine) ForgetAll() {
	e.lookupMu.Lock()
	clear(e.lookups)
	e.lookupMu.Unlock()
}

// Drop forgets the state of every asset for which keep returns false (a
// replica that hands a partition over drops its assets; the next owner
// rebuilds them from history). It returns how many assets it dropped.
func (e *Engine) Drop(keep func(site, asset string) bool) int {
	e.late.forget(keep)
	dropped := map[string]string{} // asset id → site
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for id, m := range sh.assets {
			for _, s := range m {
				if !keep(s.asset.Site, s.asset.Code) {
					dropped[id] = s.asset.Site
					delete(sh.assets, id)
					e.assets.Add(-1)
				}
				break // every series of an asset has the same codes
			}
		}
		sh.mu.Unlock()
	}
	e.sitesMu.Lock()
	for id, site := range dropped {
		if st := e.sites[site]; st != nil {
			delete(st.assets, id)
		}
	}
	e.sitesMu.Unlock()
	return len(dropped)
}

// evictLookupsLocked makes room in the lookup cache: expired entries go
// first, then arbitrary ones, a tenth of the cache at a time. lookupMu
// must be held.
func (e *Engine) evictLookupsLocked(now time.Time) {
	target := e.cfg.MaxCodes - max(e.cfg.MaxCodes/10, 1)
	n := 0
	for k, c := range e.lookups {
		if !now.Before(c.expires) {
			delete(e.lookups, k)
			n++
		}
	}
	for k := range e.lookups {
		if len(e.lookups) <= target {
			break
		}
		delete(e.lookups, k)
		n++
	}
	e.evictedCodes.Add(uint64(n))
}

// evictAssets drops the rule state of the assets whose latest reading is
// oldest until a tenth of MaxAssets is free.
func (e *Engine) evictAssets() {
	type aged struct {
		id, site string
		last     time.Time
	}
	var all []aged
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for id, m := range sh.assets {
			a := aged{id: id}
			for _, s := range m {
				a.site = s.asset.Site
				if t := s.tracker.LastTS(); t.After(a.last) {
					a.last = t
				}
			}
			all = append(all, a)
		}
		sh.mu.Unlock()
	}
	excess := len(all) - (e.cfg.MaxAssets - max(e.cfg.MaxAssets/10, 1))
	if excess <= 0 {
		return
	}
	slices.SortFunc(all, func(a, b aged) int { return a.last.Compare(b.last) })
	for _, a := range all[:excess] {
		sh := e.shardOf(a.id)
		sh.mu.Lock()
		if _, ok := sh.assets[a.id]; ok {
			delete(sh.assets, a.id)
			e.assets.Add(-1)
			e.evictedAssets.Add(1)
		}
		sh.mu.Unlock()
		e.sitesMu.Lock()
		if st := e.sites[a.site]; st != nil {
			delete(st.assets, a.id)
			if len(st.assets) == 0 {
				delete(e.sites, a.site)
			}
		}
		e.sitesMu.Unlock()
	}
	e.log.Warn("rule state of the least recently reporting assets evicted", "evicted", excess, "max_assets", e.cfg.MaxAssets)
}

// StateStats are the sizes of the engine's per-asset state and what was
// evicted to bound it.
type StateStats struct {
	Assets, Codes               int
	EvictedAssets, EvictedCodes uint64
}

// StateStats returns the engine's state sizes and evictions.
func (e *Engine) StateStats() StateStats {
	e.lookupMu.Lock()
	codes := len(e.lookups)
	e.lookupMu.Unlock()
	return StateStats{Assets: int(e.assets.Load()), Codes: codes,
		EvictedAssets: e.evictedAssets.Load(), EvictedCodes: e.evictedCodes.Load()}
}
