package rules

// ForgetAll drops every cached asset lookup, so asset and site changes made
// elsewhere apply to the next reading.
func (e *Engine) ForgetAll() {
	e.lookupMu.Lock()
	clear(e.lookups)
	e.lookupMu.Unlock()
}
