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

// TestRunToFailureCMAPSS: the public benchmark's shape, three settings
// and 21 sensors, six of them constant and one nearly so within a
// condition; with six conditions every sensor's level moves with the
// condition.
func TestRunToFailureCMAPSS(t *testing.T) {
	one := RunToFailure(3, RunToFailureOptions{Units: 10, CMAPSS: true})
	require.Len(t, one.Sensors, 24)
	require.Equal(t, []string{"setting1", "setting2", "setting3"}, one.Settings)
	require.Equal(t, "s1", one.Sensors[3])
	require.Equal(t, "s21", one.Sensors[23])
	constant, moving := 0, 0
	for k := 3; k < 24; k++ {
		seen := map[float64]bool{}
		var d, noise float64
		for _, u := range one.Units {
			require.Len(t, u.Cycles[0], 24)
			n := len(u.Cycles)
			for i, r := range u.Cycles {
				seen[r[k]] = true
				if i < 10 {
					d -= r[k] / 10
				} else if i >= n-10 {
					d += r[k] / 10
				}
			}
			noise += math.Abs(u.Cycles[1][k] - u.Cycles[0][k])
		}
		switch {
		case len(seen) == 1:
			constant++
		case len(seen) > 2 && math.Abs(d) > noise:
			moving++
		}
	}
	require.Equal(t, 6, constant, "s1, s5, s10, s16, s18, s19")
	require.Equal(t, 14, moving, "all but the constant ones and s6 move with the wear")

	six := RunToFailure(3, RunToFailureOptions{Units: 3, CMAPSS: true, Conditions: 6})
	levels := map[float64]bool{}
	alts := map[int]bool{}
	for _, u := range six.Units {
		for _, r := range u.Cycles {
			levels[r[3]] = true // s1: constant within a condition
			alts[int(math.Round(r[0]))] = true
		}
	}
	require.Len(t, levels, 6, "s1 takes one level per condition")
	require.Len(t, alts, 6, "setting1 names the condition")
	require.Equal(t, one.Units[0].Life, RunToFailure(3, RunToFailureOptions{Units: 1, CMAPSS: true}).Units[0].Life)
}
