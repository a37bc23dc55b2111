package simulators

import (
	"testing"
	"time"

	"github.com/openpdm/pdm/rules"
)

// firstHold returns the first time the metric has been above limit for
// at least hold (event time, consecutive readings), or zero.
func firstHold(m *Model, metric string, limit float64, hold time.Duration, from, to time.Time, every time.Duration) time.Time {
	var since time.Time
	for ts := from; ts.Before(to); ts = ts.Add(every) {
		v, ok := m.Value(metric, ts)
		if !ok {
			continue // a silent sensor neither breaks nor extends a breach
		}
		if v <= limit {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = ts
		}
		if ts.Sub(since) >= hold {
			return ts
		}
	}
	return time.Time{}
}

// TestScenariosAreFair checks the built-in scenarios against their own
// rules: healthy behaviour (noise, cycles, spikes, dropout) never holds a
// critical limit, and every failure crosses it close to its failure time,
// so what the platform is scored on is in the data.
func TestScenariosAreFair(t *testing.T) {
	for _, name := range []string{"eval", "demo"} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadScenario(name, now)
			if err != nil {
				t.Fatal(err)
			}
			end, ok := s.End()
			if !ok {
				end = s.Start.Add(3 * 24 * time.Hour)
			}
			for _, m := range s.Assets {
				p := m.Profile()
				for _, r := range s.Rules {
					if r.AssetType != m.Type().Name || r.Direction != rules.Above {
						continue
					}
					healthyUntil := end
					if p.Degradation != None {
						healthyUntil = p.Onset
					}
					if at := firstHold(m, r.Metric, *r.Critical, r.For.D(), s.Start, healthyUntil, s.Interval); !at.IsZero() {
						t.Errorf("%s (%s): healthy %s holds above critical %g at %s", m.Code(), p.Name, r.Metric, *r.Critical, at)
					}
					if at := firstHold(m, r.Metric, *r.Warn, r.For.D(), s.Start, healthyUntil, s.Interval); !at.IsZero() {
						t.Errorf("%s (%s): healthy %s holds above warn %g at %s", m.Code(), p.Name, r.Metric, *r.Warn, at)
					}
					if p.Degradation == None || p.Metric != r.Metric || p.FailAt.After(end) {
						continue
					}
					at := firstHold(m, r.Metric, *r.Critical, r.For.D(), p.Onset, end, s.Interval)
					early, late := p.FailAt.Add(-24*time.Hour), p.FailAt.Add(12*time.Hour)
					if p.Degradation == Step {
						early, late = p.FailAt, p.FailAt.Add(r.For.D()+s.Interval)
					}
					if at.IsZero() || at.Before(early) || at.After(late) {
						t.Errorf("%s (%s): %s holds above %g at %v, want near the failure at %s", m.Code(), p.Name, r.Metric, *r.Critical, at, p.FailAt)
					}
				}
			}
		})
	}
}
