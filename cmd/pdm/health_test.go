package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/predict"
)

// The health view never reads as "failing now" when there is no
// prediction: status is present, crossing times and remaining life are
// null; with a crossing the remaining life is in seconds and readable.
func TestHealthPredictionJSON(t *testing.T) {
	none, err := json.Marshal(healthPrediction(&predict.PredictionHealth{Status: predict.ReasonNoTrend, Limit: 7}))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(none, &got))
	require.Equal(t, predict.ReasonNoTrend, got["status"])
	for _, k := range []string{"predicted_failure_at", "predicted_failure_earliest", "predicted_failure_latest", "rul", "rul_seconds"} {
		v, ok := got[k]
		require.True(t, ok, "%s present", k)
		require.Nil(t, v, "%s is null", k)
	}

	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := end.Add(143*time.Hour + 59*time.Minute + 56*time.Second)
	rul := at.Sub(end)
	lo, hi := rul/2, rul*2
	ok, err := json.Marshal(healthPrediction(&predict.PredictionHealth{Status: predict.ReasonOK, WindowEnd: &end,
		PredictedFailureAt: &at, Earliest: &at, Latest: &at, RUL: &rul, RULLower: &lo, RULUpper: &hi}))
	require.NoError(t, err)
	got = nil
	require.NoError(t, json.Unmarshal(ok, &got))
	require.Equal(t, "ok", got["status"])
	require.Equal(t, "5d 23h", got["rul"])
	require.InDelta(t, rul.Seconds(), got["rul_seconds"], 1e-6)
	require.Equal(t, at.Format(time.RFC3339), got["predicted_failure_at"])
}
