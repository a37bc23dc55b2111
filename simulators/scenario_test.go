package simulators

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 22, 21, 30, 15, 0, time.UTC)

func TestBuiltinScenarios(t *testing.T) {
	demo, err := LoadScenario("demo", now)
	require.NoError(t, err)
	require.Len(t, demo.Assets, 20)
	require.Equal(t, now.Add(-36*time.Hour).Truncate(time.Minute), demo.Start)
	_, open := demo.End()
	require.False(t, open, "demo runs until stopped")
	var degrading []string
	for _, m := range demo.Assets {
		if m.Profile().Degradation != None {
			degrading = append(degrading, m.Code())
		}
	}
	require.Equal(t, []string{"P-101", "M-201"}, degrading)
	require.Len(t, demo.Rules, 2)
	require.Equal(t, 7.1, *demo.Rules[0].Critical)
	require.Equal(t, 12*time.Hour, demo.Rules[0].Predict.Window.D())

	ev, err := LoadScenario("eval", now)
	require.NoError(t, err)
	require.Len(t, ev.Assets, 50)
	end, ok := ev.End()
	require.True(t, ok)
	require.Equal(t, 60*24*time.Hour, end.Sub(ev.Start))
	require.False(t, end.After(now), "eval must end before the wall clock")
	require.Equal(t, float64(0), ev.Acceleration)
	counts := map[Degradation]int{}
	for _, m := range ev.Assets {
		p := m.Profile()
		counts[p.Degradation]++
		if p.Degradation != None {
			require.True(t, p.FailAt.After(ev.Start.Add(4*24*time.Hour)) && p.FailAt.Before(end), "%s fails at %s, outside the run", m.Code(), p.FailAt)
			require.False(t, p.Onset.Before(ev.Start), "%s onset %s before start", m.Code(), p.Onset)
		}
	}
	require.Equal(t, map[Degradation]int{None: 30, Exponential: 10, Linear: 6, Step: 4}, counts)
}

func TestLoadScenario(t *testing.T) {
	s, err := LoadScenario("load", now)
	require.NoError(t, err)
	require.Len(t, s.Assets, 10000)
	for _, m := range s.Assets {
		require.Len(t, m.Type().Metrics, 5, m.Code())
	}
	end, ok := s.End()
	require.True(t, ok)
	require.False(t, end.After(now))
}

func TestFailureSpreadIsDeterministicAndSpread(t *testing.T) {
	a, err := LoadScenario("eval", now)
	require.NoError(t, err)
	b, err := LoadScenario("eval", now)
	require.NoError(t, err)
	var prev time.Time
	for i := range a.Assets {
		pa, pb := a.Assets[i].Profile(), b.Assets[i].Profile()
		require.Equal(t, pa.FailAt, pb.FailAt)
		if pa.Degradation == Exponential {
			require.True(t, pa.FailAt.After(prev), "failures of a group are in order")
			prev = pa.FailAt
		}
	}
}

const minimal = `
seed: 1
site: S1
start: 2026-03-01T00:00:00Z
duration: 2h
interval: 1m
assets:
  - {type: pump, code: P-1, profile: healthy}
`

func TestParseScenarioRejectsBadInput(t *testing.T) {
	_, err := ParseScenario([]byte(minimal), now)
	require.NoError(t, err)
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", ``, "empty scenario"},
		{"not yaml", `{{{`, "parse"},
		{"unknown key", minimal + "colour: red\n", "field colour not found"},
		{"typo in asset", `
seed: 1
site: S1
start: now
interval: 1m
assets: [{type: pump, code: P-1, profil: healthy}]`, "field profil not found"},
		{"no seed", `
site: S1
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: healthy}]`, "seed: required"},
		{"bad site", `
seed: 1
site: "a b"
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: healthy}]`, "site"},
		{"bad start", `
seed: 1
site: S
start: yesterday
interval: 1m
assets: [{type: pump, code: P-1, profile: healthy}]`, "start"},
		{"no interval", `
seed: 1
site: S
start: now
assets: [{type: pump, code: P-1, profile: healthy}]`, "interval: required"},
		{"bad acceleration", `
seed: 1
site: S
start: now
interval: 1m
acceleration: fast
assets: [{type: pump, code: P-1, profile: healthy}]`, "acceleration"},
		{"unknown type", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: turbine, code: T-1, profile: healthy}]`, `type "turbine": unknown (have fan, motor, pump)`},
		{"unknown profile", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: wobbly}]`, "profile \"wobbly\": unknown"},
		{"duplicate code", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-001, profile: healthy}, {type: pump, prefix: P-, count: 2, profile: healthy}]`, "used twice"},
		{"failure on healthy", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: healthy, failure_at: 3h}]`, "failure_at: only for degrading"},
		{"degrading without failure", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: linear, metric: vibration_rms, failure_mode: wear}]`, "needs metric, failure_mode, failure_at and fail_value"},
		{"onset after failure", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: linear, metric: vibration_rms, failure_mode: wear, failure_at: 3h, onset: 4h, fail_value: 7}]`, "onset must be before"},
		{"bad metric", `
seed: 1
site: S
start: now
interval: 1m
assets: [{type: pump, code: P-1, profile: step, metric: vibration, failure_mode: wear, failure_at: 3h, fail_value: 7}]`, "not a metric of type pump"},
		{"bad rule", minimal + "rules: [{name: r, asset_type: pump, metric: x, for: soon}]\n", "rules[0]"},
		{"bad custom type", minimal + "types: [{name: valve, metrics: [{name: Pos}]}]\n", "invalid metric name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.yaml), now)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCustomTypeAndRelativeTimes(t *testing.T) {
	s, err := ParseScenario([]byte(`
seed: 9
site: S
start: -2d
interval: 30s
acceleration: 3600
batch: 5
types:
  - name: valve
    metrics:
      - {name: position_pct, base: 50, noise: 0.5, min: 0}
      - {name: running_hours, base: 100, counter: true}
assets:
  - {type: valve, code: V-1, profile: linear, metric: position_pct, failure_mode: stuck, fail_value: 5, onset: 1d, failure_at: 2026-11-22T00:00:00Z}
`), now)
	require.NoError(t, err)
	require.Equal(t, 3600.0, s.Acceleration)
	require.Equal(t, now.Add(-48*time.Hour).Truncate(time.Minute), s.Start)
	p := s.Assets[0].Profile()
	require.Equal(t, s.Start.Add(24*time.Hour), p.Onset)
	require.Equal(t, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), p.FailAt)
}

func TestLoadScenarioPrefersAFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo"), []byte(minimal), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "eval"), 0o700))
	t.Chdir(dir)
	s, err := LoadScenario("demo", now)
	require.NoError(t, err)
	require.Equal(t, "S1", s.Site, "a file named demo wins over the built-in")
	s, err = LoadScenario("eval", now)
	require.NoError(t, err)
	require.Equal(t, "EVAL", s.Site, "a directory named eval does not")
	_, err = LoadScenario("nope", now)
	require.ErrorContains(t, err, `no built-in scenario "nope"`)
	_, err = LoadScenario("./nope.yaml", now)
	require.ErrorContains(t, err, "nope.yaml")
}
