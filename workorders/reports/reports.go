// Package reports owns the looking back (数据复盘): top failure modes and
// repeat failures by asset type and site, engineers' performance (jobs,
// first-time fix, MTTR, SLA, CSAT), requests by channel; and the export of
// any list as CSV or XLSX, written row by row as the rows arrive from a
// PostgreSQL cursor, so a million rows take no more memory than ten.
// Aggregates are computed in SQL behind Store (workorders/postgres).
package reports

import (
	"context"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// Filter selects the period (and optionally one site) of a report.
type Filter struct {
	SiteID string
	From   time.Time
	To     time.Time
	// RepeatWindow: a failure of the same asset and failure mode within
	// this long after the previous one is a repeat (default 30 days).
	RepeatWindow time.Duration
}

// Validate fills defaults (the last 30 days) and checks the period.
func (f *Filter) Validate(now time.Time) error {
	k := workorders.KPIFilter{SiteID: f.SiteID, From: f.From, To: f.To}
	if err := k.Validate(now); err != nil {
		return err
	}
	f.From, f.To = k.From, k.To
	if f.RepeatWindow <= 0 {
		f.RepeatWindow = 30 * 24 * time.Hour
	}
	return nil
}

// FailureMode is how often one failure mode struck assets of one type at
// one site in the period.
type FailureMode struct {
	SiteID      string `json:"site_id"`
	SiteName    string `json:"site_name"`
	AssetType   string `json:"asset_type"`
	FailureMode string `json:"failure_mode"`
	// Orders are the failures raised; Repeats those that followed another
	// of the same asset and mode within the repeat window; Assets the
	// assets struck.
	Orders  int `json:"orders"`
	Repeats int `json:"repeats"`
	Assets  int `json:"assets"`
}

// RepeatFailure is an asset that failed the same way more than once
// within the repeat window.
type RepeatFailure struct {
	AssetID     string    `json:"asset_id"`
	AssetCode   string    `json:"asset_code"`
	AssetName   string    `json:"asset_name"`
	AssetType   string    `json:"asset_type"`
	SiteName    string    `json:"site_name"`
	FailureMode string    `json:"failure_mode"`
	Orders      int       `json:"orders"`
	Repeats     int       `json:"repeats"`
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
}

// Engineer is one engineer's performance over the period: jobs completed,
// first-time fixes (no follow-up order, never reopened), mean time to
// repair (created → completed) and on site (started → completed), SLA
// (completed by due), and the customers' ratings. Rates are nil without a
// denominator.
type Engineer struct {
	UserID        string   `json:"user_id"`
	Name          string   `json:"name"`
	Jobs          int      `json:"jobs"`
	FirstTimeFix  int      `json:"first_time_fix"`
	FTFRate       *float64 `json:"first_time_fix_rate"`
	MTTRHours     *float64 `json:"mttr_hours"`
	RepairHours   *float64 `json:"repair_hours"`
	SLACompleted  int      `json:"sla_completed"`
	SLAOnTime     int      `json:"sla_on_time"`
	SLARate       *float64 `json:"sla_rate"`
	CSATResponses int      `json:"csat_responses"`
	CSATAverage   *float64 `json:"csat_average"`
	// CSAT is the share of ratings of 4 or 5.
	CSAT *float64 `json:"csat"`
}

// Channel is the requests that came in one way in the period.
type Channel struct {
	Channel  string `json:"channel"`
	Requests int    `json:"requests"`
	// Open still await review; Merged joined another order; Rejected were
	// turned down.
	Open     int `json:"open"`
	Merged   int `json:"merged"`
	Rejected int `json:"rejected"`
	// ReviewHours is the median time from the request to its review
	// (approved, merged or rejected).
	ReviewHours *float64 `json:"review_hours"`
}

// Store computes reports. Methods return a *workorders.ValidationError
// for a bad filter.
type Store interface {
	FailureModes(ctx context.Context, f Filter) ([]FailureMode, error)
	RepeatFailures(ctx context.Context, f Filter) ([]RepeatFailure, error)
	Engineers(ctx context.Context, f Filter) ([]Engineer, error)
	Channels(ctx context.Context, f Filter) ([]Channel, error)
}

// OrderQuery selects the work orders an export lists (created in
// [From, To) when given).
type OrderQuery struct {
	SiteID   string
	AssetID  string
	Status   string
	Source   string
	Priority string
	From     time.Time
	To       time.Time
}

// OrderColumns are the columns of a work-order export.
var OrderColumns = []string{"number", "id", "status", "priority", "source", "site", "asset_code", "asset_name", "asset_type",
	"title", "failure_mode", "assignee", "created_at", "due_at", "started_at", "completed_at", "sla_state", "request_channel",
	"requester"}

// RequestColumns are the columns of a request export.
var RequestColumns = []string{"number", "order_id", "channel", "status", "site", "asset_code", "title", "requester_name",
	"requester_email", "requester_phone", "external_ref", "merged_into", "created_at"}

// Streamer reads long lists through a PostgreSQL cursor, calling each for
// every row as it arrives; an error from each stops the read and is
// returned.
type Streamer interface {
	StreamOrders(ctx context.Context, q OrderQuery, each func(row []any) error) error
	StreamRequests(ctx context.Context, q OrderQuery, each func(row []any) error) error
}
