package rules

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
	dropped := map[string]string{} // asset id → site
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for id, m := range sh.assets {
			for _, s := range m {
				if !keep(s.asset.Site, s.asset.Code) {
					dropped[id] = s.asset.Site
					delete(sh.assets, id)
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
