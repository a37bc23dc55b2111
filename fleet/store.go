package fleet

import (
	"time"
)

// Failure is one failure of an asset: imported (POST
// /asset-types/{type}/failures) or a completed corrective order.
type Failure struct {
	ID        string    `json:"id,omitempty"`
	AssetID   string    `json:"asset_id"`
	AssetType string    `json:"asset_type"`
	Site      string    `json:"site_code"`
	Asset     string    `json:"asset_code"`
	FailedAt  time.Time `json:"failed_at"`
	// Source is "import" or the order's source (threshold, event, manual).
	Source string `json:"source"`
	// OrderID is the order a failure comes from ("" when imported).
	OrderID   string     `json:"order_id,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// Version is one stored model of an asset type.
type Version struct {
	AssetType string    `json:"asset_type"`
	Version   int       `json:"version"`
	TrainedAt time.Time `json:"trained_at"`
	Model     Model     `json:"-"`
	Report    Report    `json:"-"`
	// Gate is the version's validation gate (JudgeGate): a version that
	// fails it gives estimates but raises no orders, unless overridden.
	// Nil only for a version not read from a store (see OrdersAllowed).
	Gate *Gate `json:"-"`
}

// Score is an asset's latest fleet estimate.
type Score struct {
	AssetID   string    `json:"-"`
	AssetType string    `json:"-"`
	Version   int       `json:"model_version"`
	Status    string    `json:"status"`
	ScoredAt  time.Time `json:"scored_at"`
	// AsOf is the end of the last step with data, which the remaining
	// life counts from (nil unless Status is ok).
	AsOf *time.Time `json:"as_of"`
	// RUL, Lower and Upper are seconds (nil unless Status is ok).
	RUL      *float64           `json:"rul_seconds"`
	Lower    *float64           `json:"lower_seconds"`
	Upper    *float64           `json:"upper_seconds"`
	Features map[string]float64 `json:"features,omitempty"`
	// Gate is the gate of the version that scored (read with the score;
	// nil when that version is gone).
	Gate *Gate `json:"-"`
}

// FailureMode keys the orders a fleet model raises: one open order per
// asset for the end of its learnt remaining life.
const FailureMode = "fleet_remaining_life"

// Score statuses: ok, or why there is no estimate.
const (
	StatusOK           = "ok"
	StatusShortHistory = "short_history"
	// StatusNoData: no readings of the model's metrics in the last five
	// years, or none since the asset's last failure or repair.
	StatusNoData = "no_data"
)
