package simulators

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// On a shared rig the neighbours of a wearing bearing rise with it by
// their share of its degradation and stay below the limit; they are
// healthy in the truth. An asset on a healthy rig does not move.
func TestRigNeighboursShakeWithTheFailingBearing(t *testing.T) {
	s, err := LoadScenario("rig", now)
	require.NoError(t, err)
	byCode := map[string]*Model{}
	for _, m := range s.Assets {
		byCode[m.Code()] = m
	}
	src, nb, calm := byCode["RA-B1"], byCode["RA-N002"], byCode["HA-001"]
	require.NotNil(t, src)
	require.NotNil(t, nb)
	require.NotNil(t, calm)
	fail := src.Profile().FailAt
	early := s.Start.Add(2 * 24 * time.Hour)
	// Mean over a day of readings (noise averages out).
	mean := func(m *Model, around time.Time) float64 {
		var sum float64
		n := 0
		for ts := around.Add(-12 * time.Hour); ts.Before(around.Add(12 * time.Hour)); ts = ts.Add(10 * time.Minute) {
			sum += m.value(0, ts)
			n++
		}
		return sum / float64(n)
	}
	_, ok := nb.Type().Metric("vibration_rms")
	require.True(t, ok)
	require.Equal(t, "vibration_rms", nb.metrics[0].spec.Name, "the test reads metric 0")
	rise := mean(nb, fail.Add(-12*time.Hour)) - mean(nb, early)
	srcRise := mean(src, fail.Add(-12*time.Hour)) - mean(src, early)
	require.InDelta(t, 0.35*srcRise, rise, 0.15, "the neighbour rises by its share (source rose %.2f)", srcRise)
	require.Less(t, mean(nb, fail), 7.1, "and stays below the limit")
	require.InDelta(t, 0, mean(calm, fail)-mean(calm, early), 0.15, "a healthy rig does not move")
	for _, a := range s.Truth().Assets {
		if a.Code == "RA-N002" {
			require.False(t, a.Fails(), "neighbours are healthy in the truth")
		}
	}
}

func TestRigShakeValidation(t *testing.T) {
	base := `name: x
seed: 1
site: S
start: -10d
duration: 5d
interval: 1h
assets:
  - {type: pump, code: B1, profile: exponential, metric: vibration_rms, failure_mode: w, fail_value: 7.1, ramp: 3d, failure_at: 4d}
`
	for _, tc := range []struct{ extra, want string }{
		{"  - {type: pump, code: N1, profile: healthy, shakes_with: {asset: NOPE, share: 0.3}}\n", "not in the scenario"},
		{"  - {type: pump, code: N1, profile: healthy, shakes_with: {asset: B1, share: 0}}\n", "share"},
		{"  - {type: pump, code: N1, profile: healthy, shakes_with: {asset: N1, share: 0.3}}\n", "itself"},
		{"  - {type: pump, code: N1, profile: healthy}\n  - {type: pump, code: N2, profile: healthy, shakes_with: {asset: N1, share: 0.3}}\n", "not a gradually degrading"},
	} {
		_, err := ParseScenario([]byte(base+tc.extra), now)
		require.ErrorContains(t, err, tc.want)
	}
}
