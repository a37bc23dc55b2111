package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// The run-to-failure proof on a fixed seed: train on 100 failed units,
// test on 100 other units cut off before failure. The fleet model must
// beat a plain linear regression on the same features and its 90 %
// interval must cover 85-95 % of the test units.
func TestFleetModelBeatsLinearWithCalibratedInterval(t *testing.T) {
	ev, err := evaluate(1, 100, 100)
	require.NoError(t, err)
	t.Logf("chosen %s (lambda %g, k %d), cv %v", ev.report.Kind, ev.report.Lambda, ev.report.K, ev.report.CV)
	t.Logf("fleet RMSE %.1f (capped %.1f), linear %.1f (capped %.1f), coverage %.2f width %.1f, trend %.1f on %d/%d %v",
		ev.fleetRMSE, ev.fleetRMSECapped, ev.linearRMSE, ev.linearRMSECapped, ev.coverage, ev.width,
		ev.trendRMSE, ev.trendPredicts, ev.testUnits, ev.trendReasons)
	if ev.fleetRMSE >= ev.linearRMSE {
		t.Errorf("fleet RMSE %.1f, want under the linear baseline's %.1f", ev.fleetRMSE, ev.linearRMSE)
	}
	if ev.fleetRMSECapped >= ev.linearRMSECapped {
		t.Errorf("fleet RMSE (capped truth) %.1f, want under the linear baseline's %.1f", ev.fleetRMSECapped, ev.linearRMSECapped)
	}
	if ev.coverage < 0.85 || ev.coverage > 0.95 {
		t.Errorf("coverage %.2f, want within [0.85, 0.95]", ev.coverage)
	}
	if ev.report.ValidationCoverage < 0.8 || ev.report.ValidationCoverage > 1 {
		t.Errorf("validation coverage %.2f, want near 0.9", ev.report.ValidationCoverage)
	}
	if ev.report.TrainUnits+ev.report.CalUnits != 100 || ev.report.CalUnits != 30 {
		t.Errorf("split %d train + %d calibration, want 70 + 30", ev.report.TrainUnits, ev.report.CalUnits)
	}
}

func TestConformalQuantile(t *testing.T) {
	res := make([]float64, 99)
	for i := range res {
		res[i] = float64(i + 1) // |residuals| 1..99, some negative
		if i%2 == 0 {
			res[i] = -res[i]
		}
	}
	tests := []struct {
		name     string
		res      []float64
		coverage float64
		want     float64
	}{
		{"90 % of 99", res, 0.9, 90}, // ⌈100·0.9⌉ = 90th smallest
		{"50 % of 99", res, 0.5, 50},
		{"too few for 90 %", res[:5], 0.9, math.Inf(1)},
		{"none", nil, 0.9, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConformalQuantile(tt.res, tt.coverage); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	s := Spec{Metrics: []string{"a", "b"}, Windows: []int{3}}
	rows := [][]float64{{1, 5}, {2, 5}, {4, math.NaN()}, {6, 5}}
	got := s.Features(rows, 3, nil)
	// a over rows 1..3: 2, 4, 6 → mean 4, slope 2, sd 2; rise 4 − 3.25
	// (the first ten rows: 1, 2, 4, 6); b: 5, 5 (gap) → mean 5, slope 0,
	// sd 0, rise 0; age 4.
	want := []float64{4, 2, 2, 0.75, 5, 0, 0, 0, 4}
	require.Len(t, got, s.Width())
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-9, "feature %s", s.Names()[i])
	}
	// A window longer than the history takes what there is.
	got = s.Features(rows, 0, got)
	require.Equal(t, []float64{1, 0, 0, 0, 5, 0, 0, 0, 1}, got)
}

func TestRidgeRecoversALine(t *testing.T) {
	// y = 3 + 2·x0 − x1 exactly: OLS must find it, and the JSON round
	// trip must score the same.
	spec := Spec{Metrics: []string{"x0", "x1"}, Cap: 1e9}
	var x [][]float64
	var y []float64
	for i := range 50 {
		a, b := float64(i%7), float64(i%11)
		x = append(x, []float64{a, b})
		y = append(y, 3+2*a-b)
	}
	ms, err := fitRidges(spec, x, y, []float64{0})
	require.NoError(t, err)
	m := ms[0]
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var back Model
	require.NoError(t, json.Unmarshal(b, &back))
	z := make([]float64, 2)
	for i := range x {
		require.InDelta(t, math.Max(0, y[i]), back.predict(x[i], z), 1e-6)
	}
}

func TestTrainRejects(t *testing.T) {
	spec := Spec{Metrics: []string{"a"}}
	short := Unit{ID: "short", Rows: make([][]float64, 9)}
	for i := range short.Rows {
		short.Rows[i] = []float64{float64(i)}
	}
	_, _, err := Train([]Unit{short, short, short, short, short, short, short}, spec, Options{})
	require.ErrorIs(t, err, ErrTooFewUnits)

	wide := Unit{ID: "wide", Rows: make([][]float64, 40)}
	for i := range wide.Rows {
		wide.Rows[i] = []float64{1, 2}
	}
	_, _, err = Train([]Unit{wide}, spec, Options{})
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrTooFewUnits), fmt.Sprint(err))

	_, _, err = Train(nil, Spec{}, Options{})
	require.ErrorContains(t, err, "no metrics")
}

func TestDrivers(t *testing.T) {
	spec := Spec{Metrics: []string{"a", "b", "c", "d", "setting1"}, Use: []string{"a", "b", "c", "d"}}
	got := drivers(spec, map[string]float64{"a_rise": 0.5, "b_rise": -3, "c_rise": 2, "d_rise": 1, "setting1_rise": 9}, 3)
	require.Equal(t, []Driver{{"b", -3}, {"c", 2}, {"d", 1}}, got)
}

// TestNormFindsConditions: FD002's six operating conditions are found
// from the settings, FD001's single one (settings that only jitter) is
// one; the settings and the constant sensors make no features.
func TestNormFindsConditions(t *testing.T) {
	for _, conds := range []int{1, 6} {
		f := simulators.RunToFailure(9, simulators.RunToFailureOptions{Units: 10, CMAPSS: true, Conditions: conds})
		for seed := range uint64(3) {
			nm := fitNorm(toUnits(f), f.Sensors, f.Settings, seed)
			require.Len(t, nm.Centers, conds, "seed %d", seed)
			require.Len(t, nm.Use, 15, "21 sensors less s1, s5, s10, s16, s18, s19")
			for _, k := range nm.Use {
				require.NotContains(t, []string{"setting1", "setting2", "setting3", "s1", "s5", "s10", "s16", "s18", "s19"}, f.Sensors[k])
			}
			// Normalised, every used column is about N(0, 1) per condition.
			rows := nm.Apply(f.Units[0].Cycles)
			require.Len(t, rows[0], 15)
		}
	}
}

// TestPredictNormalisesOnlyWhatFeaturesRead: the estimate from the
// rows Features reads equals the one from the whole history normalised.
func TestPredictNormalisesOnlyWhatFeaturesRead(t *testing.T) {
	f := simulators.RunToFailure(4, simulators.RunToFailureOptions{Units: 12, CMAPSS: true, Conditions: 6})
	m, _, err := Train(toUnits(f), Spec{Metrics: f.Sensors}, Options{Seed: 4})
	require.NoError(t, err)
	rows := f.Units[0].Cycles[:120]
	est, err := m.Predict(rows)
	require.NoError(t, err)
	want := m.Spec.Features(m.Norm.Apply(rows), len(rows)-1, nil)
	require.InDeltaSlice(t, want, est.Features, 1e-9)
}
