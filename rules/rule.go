// Package rules owns threshold rules and the signals they raise, and the
// pure streaming evaluator that applies rules to readings in event time.
package rules

import (
	"time"
)

// Direction says which side of a limit is bad.
type Direction string

// Directions a rule may watch.
const (
	Above Direction = "above"
	Below Direction = "below"
)

// Rule binds a metric of an asset type (or of one asset) to limits. Its JSON
// form is the contract's `rules` resource.
type Rule struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	AssetType  string    `json:"asset_type,omitempty"`
	AssetID    string    `json:"asset_id,omitempty"`
	Metric     string    `json:"metric"`
	Direction  Direction `json:"direction"`
	Warn       *float64  `json:"warn,omitempty"`
	Critical   *float64  `json:"critical,omitempty"`
	For        Duration  `json:"for"`
	Hysteresis float64   `json:"hysteresis"`
	// Stale, when set, raises a stale signal once no reading of Metric has
	// arrived for that long (measured against the site's event-time
	// watermark, see Engine).
	Stale             Duration     `json:"stale,omitempty"`
	Predict           *PredictSpec `json:"predict,omitempty"`
	FailureMode       string       `json:"failure_mode"`
	Priority          string       `json:"priority"`
	Skills            []string     `json:"skills"`
	Parts             []PartQty    `json:"parts"`
	EstimatedDuration Duration     `json:"estimated_duration"`
	AutoApprove       bool         `json:"auto_approve"`
	// VerifyFor is how long after a repair the metric must stay healthy
	// before the rule's completed order is verified automatically (post-
	// repair verification); zero means the default, 24h.
	VerifyFor Duration  `json:"verify_for,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PredictSpec turns on trend prediction for a rule's metric.
type PredictSpec struct {
	Window    Duration `json:"window"`
	Horizon   Duration `json:"horizon"`
	MinR2     float64  `json:"min_r2"`
	MinPoints int      `json:"min_points"`
}

// PartQty is a quantity of a spare part by SKU.
type PartQty struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Level is the severity of a signal.
type Level string

// Signal levels.
const (
	LevelWarn     Level = "warning"
	LevelCritical Level = "critical"
	LevelClear    Level = "clear"
)

// Kind says what raised a signal.
type Kind string

// Signal kinds. Threshold, Trend and Event map to work-order sources.
const (
	KindThreshold Kind = "threshold"
	KindTrend     Kind = "trend"
	KindEvent     Kind = "event"
	KindStale     Kind = "stale"
)

// Signal is what a rule or a prediction raised about one asset's metric.
// DetectedAt is the event time of the reading that raised it.
type Signal struct {
	Kind        Kind      `json:"kind"`
	Level       Level     `json:"level"`
	RuleID      string    `json:"rule_id,omitempty"`
	Site        string    `json:"site"`
	Asset       string    `json:"asset"`
	AssetID     string    `json:"asset_id,omitempty"`
	Metric      string    `json:"metric,omitempty"`
	FailureMode string    `json:"failure_mode,omitempty"`
	Value       float64   `json:"value"`
	Limit       float64   `json:"limit"`
	DetectedAt  time.Time `json:"detected_at"`
	Message     string    `json:"message,omitempty"`
	// Prediction is set for trend signals.
	Prediction *Prediction `json:"prediction,omitempty"`
	// Evidence holds the data that justifies the signal (breach start,
	// values, fit parameters); it is stored with the signal and the order.
	Evidence map[string]any `json:"evidence,omitempty"`
}

// Prediction is a fitted trend's forecast of when a limit is crossed.
type Prediction struct {
	Model            string    `json:"model"`
	Slope            float64   `json:"slope"`
	Intercept        float64   `json:"intercept"`
	R2               float64   `json:"r2"`
	Points           int       `json:"points"`
	WindowStart      time.Time `json:"window_start"`
	WindowEnd        time.Time `json:"window_end"`
	CrossingAt       time.Time `json:"predicted_failure_at"`
	CrossingEarliest time.Time `json:"predicted_failure_earliest"`
	CrossingLatest   time.Time `json:"predicted_failure_latest"`
	RUL              Duration  `json:"rul"`
}
