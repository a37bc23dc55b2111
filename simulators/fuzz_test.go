package simulators

import (
	"math"
	"testing"
	"time"
)

// FuzzParseScenario: any input is either rejected with an error or gives
// a fleet whose models answer with finite values; nothing panics.
func FuzzParseScenario(f *testing.F) {
	for _, name := range []string{"demo", "eval"} {
		b, err := BuiltinScenario(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(minimal)
	f.Add(minimal + "types: [{name: valve, metrics: [{name: pos, base: 1e12, noise: 1e12, wander: 1e12}]}]\n")
	f.Add(`{seed: 1, site: S, start: "-1", interval: 1ms, assets: [{type: pump, code: P, profile: exponential, metric: vibration_rms, failure_mode: w, fail_value: 1e12, ramp: 1ms, failure_at: 1ms, tau: 1s, spike_prob: 1, spike_scale: 1e12, dropout: {every: 1ms, length: 1ms, prob: 1}}]}`)
	f.Add("seed: 1\nsite: S\nstart: now\ninterval: 1m\nassets: [{type: fan, prefix: F, count: 3, profile: step, metric: motor_current_a, failure_mode: e, fail_value: -1e12, failure_at: 1h, failure_spread: 1ms}]\n")
	f.Add("- a\n- b\n")
	f.Add("seed: -1\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScenario([]byte(in), now)
		if err != nil {
			return
		}
		if len(s.Assets) > 50 {
			s.Assets = s.Assets[:50]
		}
		for _, m := range s.Assets {
			p := m.Profile()
			for _, at := range []time.Time{s.Start, s.Start.Add(time.Hour), p.Onset, p.FailAt, p.FailAt.Add(1000 * time.Hour)} {
				r, _ := m.Reading(s.Site, at)
				for _, mv := range r.Metrics {
					if math.IsNaN(mv.Value) || math.IsInf(mv.Value, 0) {
						t.Fatalf("%s %s at %s: %v", m.Code(), mv.Name, at, mv.Value)
					}
				}
				m.Events(at.Add(-time.Hour), at)
			}
		}
		_ = s.Truth()
	})
}
