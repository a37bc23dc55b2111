package simulators

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunToFailure(t *testing.T) {
	full := RunToFailure(7, RunToFailureOptions{Units: 20})
	again := RunToFailure(7, RunToFailureOptions{Units: 5})
	require.Equal(t, full.Units[:5], again.Units, "a unit depends on the seed and its number only")
	require.Len(t, full.Sensors, 10)
	informative := 0
	for k := range full.Sensors {
		// Mean of the last 10 cycles against the first 10, over the fleet,
		// against the mean change from one cycle to the next.
		var d, noise float64
		for _, u := range full.Units {
			require.Len(t, u.Cycles, u.Life)
			require.Zero(t, u.RUL())
			require.GreaterOrEqual(t, u.Life, 128)
			require.LessOrEqual(t, u.Life, 360)
			n := len(u.Cycles)
			for i := range 10 {
				d += (u.Cycles[n-1-i][k] - u.Cycles[i][k]) / 10
			}
			noise += math.Abs(u.Cycles[1][k] - u.Cycles[0][k])
		}
		if math.Abs(d) > noise {
			informative++
		}
	}
	if informative != 8 {
		t.Errorf("got %d sensors that move with the wear, want 8 of 10", informative)
	}

	cut := RunToFailure(7, RunToFailureOptions{Units: 50, FirstUnit: 20, Cut: true})
	for _, u := range cut.Units {
		require.GreaterOrEqual(t, u.RUL(), 5, u.ID)
		require.LessOrEqual(t, u.RUL(), 150, u.ID)
		require.GreaterOrEqual(t, len(u.Cycles), 31, u.ID)
	}
	require.Equal(t, "U021", cut.Units[0].ID)
}
