package httpapi

import "time"

// HealthPrediction is one metric's current prediction in the health view.
// Status is always present: "ok" when the fit passed every gate and
// crosses the limit within the horizon, otherwise the gate that stopped it
// (insufficient_points, window_not_covered, low_r2,
// no_trend_towards_limit, slope_not_significant, beyond_horizon,
// not_sustained, levelling_off, step_change, not_confirmed,
// crossing_receding, already_beyond_limit, fit_failed). The
// crossing times and remaining life are null when the fit does not cross
// the limit; with a status other than ok they may still be set (a crossing
// beyond the horizon), and then no order follows from them.
type HealthPrediction struct {
	Status      string     `json:"status"`
	Model       string     `json:"model,omitempty"`
	Slope       float64    `json:"slope"`
	Intercept   float64    `json:"intercept"`
	R2          float64    `json:"r2"`
	Points      int        `json:"points"`
	Limit       float64    `json:"limit"`
	WindowStart *time.Time `json:"window_start"`
	WindowEnd   *time.Time `json:"window_end"`
	// PredictedFailureAt is when the fit crosses the critical limit;
	// Earliest and Latest are where the prediction interval's edges do.
	PredictedFailureAt *time.Time `json:"predicted_failure_at"`
	Earliest           *time.Time `json:"predicted_failure_earliest"`
	Latest             *time.Time `json:"predicted_failure_latest"`
	// RULSeconds is the remaining life from the window end to the
	// crossing; RUL the same in a readable form ("5d 23h").
	RULSeconds      *float64 `json:"rul_seconds"`
	RUL             *string  `json:"rul"`
	RULLowerSeconds *float64 `json:"rul_lower_seconds"`
	RULUpperSeconds *float64 `json:"rul_upper_seconds"`
}
