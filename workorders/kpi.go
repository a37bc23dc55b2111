package workorders

import (
	"context"
	"time"
)

// KPIFilter selects the site (empty: all) and period [From, To) of KPIs.
type KPIFilter struct {
	SiteID string
	From   time.Time
	To     time.Time
}

// Validate checks the period and fills a default of the last 30 days
// before now.
func (f *KPIFilter) Validate(now time.Time) error {
	if f.To.IsZero() {
		f.To = now
	}
	if f.From.IsZero() {
		f.From = f.To.Add(-30 * 24 * time.Hour)
	}
	if !f.To.After(f.From) {
		return Unprocessable("from", "must be before to")
	}
	if f.To.Sub(f.From) > 3*366*24*time.Hour {
		return Unprocessable("from", "period at most 3 years")
	}
	return nil
}

// KPIs are the maintenance key figures of a site (or the fleet) over a
// period, all computed in SQL from the work orders, their events and the
// stock ledger. Rates are nil when their denominator is zero.
type KPIs struct {
	SiteID string    `json:"site_id,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Fleet-wide MTTR (created → completed) and repair time (started →
	// completed) of corrective orders completed in the period, and MTBF:
	// asset-hours of the period per failure.
	MTTRHours   *float64   `json:"mttr_hours"`
	RepairHours *float64   `json:"repair_hours"`
	MTBFHours   *float64   `json:"mtbf_hours"`
	Failures    int        `json:"failures"`
	Assets      []AssetKPI `json:"assets"`
	SLA         SLAKPI     `json:"sla"`
	// FirstTimeFix: completed orders never reopened and without a
	// follow-up order.
	FirstTimeFix     RateKPI       `json:"first_time_fix"`
	Backlog          []BacklogKPI  `json:"backlog"`
	Utilisation      []EngineerKPI `json:"engineer_utilisation"`
	PartsConsumption []PartKPI     `json:"parts_consumption"`
	PredictionLead   LeadKPI       `json:"prediction_lead_time"`
	Rules            []RuleKPI     `json:"rules"`
	// BySource counts the orders created in the period per source and
	// bucket (a day; a week for periods over 92 days), oldest first.
	BySource []SourceBucketKPI `json:"orders_by_source"`
	// Bucket is the length of a BySource bucket: "1d" or "7d".
	Bucket string `json:"orders_by_source_bucket"`
	// CSAT is customers' satisfaction (workorders/csat.go).
	CSAT CSATKPI `json:"csat"`
}

// SourceBucketKPI is how many orders of each source were created in one
// bucket of time.
type SourceBucketKPI struct {
	Start  time.Time      `json:"start"`
	Counts map[Source]int `json:"counts"`
	Total  int            `json:"total"`
}

// AssetKPI is per-asset reliability.
type AssetKPI struct {
	AssetID   string   `json:"asset_id"`
	Code      string   `json:"code"`
	Failures  int      `json:"failures"`
	Repairs   int      `json:"repairs"`
	MTTRHours *float64 `json:"mttr_hours"`
	MTBFHours *float64 `json:"mtbf_hours"`
}

// SLAKPI is SLA compliance of orders completed in the period.
type SLAKPI struct {
	Completed  int      `json:"completed"`
	OnTime     int      `json:"on_time"`
	Breached   int      `json:"breached"`
	Compliance *float64 `json:"compliance"`
}

// RateKPI is a count out of a total.
type RateKPI struct {
	Total int      `json:"total"`
	Count int      `json:"count"`
	Rate  *float64 `json:"rate"`
}

// BacklogKPI counts open orders of one status by age.
type BacklogKPI struct {
	Status     Status `json:"status"`
	Count      int    `json:"count"`
	Under1Day  int    `json:"age_lt_1d"`
	Days1To7   int    `json:"age_1d_7d"`
	Days7To30  int    `json:"age_7d_30d"`
	Over30Days int    `json:"age_gt_30d"`
}

// EngineerKPI is an engineer's booked labour against shift hours.
type EngineerKPI struct {
	EngineerID     string   `json:"engineer_id"`
	Name           string   `json:"name"`
	Jobs           int      `json:"jobs"`
	LabourHours    float64  `json:"labour_hours"`
	AvailableHours float64  `json:"available_hours"`
	Utilisation    *float64 `json:"utilisation"`
}

// PartKPI is consumption of one part in the period.
type PartKPI struct {
	SKU  string  `json:"sku"`
	Name string  `json:"name"`
	Qty  int     `json:"qty"`
	Cost float64 `json:"cost"`
}

// LeadKPI is how far ahead of the predicted failure trend orders were
// raised (predicted_failure_at − detected_at).
type LeadKPI struct {
	Orders      int      `json:"orders"`
	MeanHours   *float64 `json:"mean_hours"`
	MedianHours *float64 `json:"median_hours"`
}

// RuleKPI is a rule's precision: of its decided auto orders, how many were
// real (completed and not closed as no_fault_found) and how many false
// alarms (rejected or closed with reason no_fault_found).
type RuleKPI struct {
	RuleID         string   `json:"rule_id"`
	Name           string   `json:"name"`
	Orders         int      `json:"orders"`
	Confirmed      int      `json:"confirmed"`
	FalseAlarms    int      `json:"false_alarms"`
	Precision      *float64 `json:"precision"`
	FalseAlarmRate *float64 `json:"false_alarm_rate"`
	MeanLeadHours  *float64 `json:"mean_lead_hours"`
}

// KPIStore computes KPIs; postgres.Ops implements it.
type KPIStore interface {
	KPIs(ctx context.Context, f KPIFilter) (KPIs, error)
}

// The reasons reject and close take (contract section 5). No fault found
// marks a false alarm and counts against the rule's precision; other needs
// a note saying what it was.
const (
	ReasonNoFaultFound  = "no_fault_found"
	ReasonDuplicate     = "duplicate"
	ReasonNotActionable = "not_actionable"
	ReasonOther         = "other"
)

// Reasons lists the reject and close reasons.
func Reasons() []string {
	return []string{ReasonNoFaultFound, ReasonDuplicate, ReasonNotActionable, ReasonOther}
}
