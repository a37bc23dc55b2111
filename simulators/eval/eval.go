// Package eval scores the platform's work orders against a simulated
// fleet's ground truth: did orders arrive before the failures, early
// enough, and not for healthy machines. Evaluate is pure (truth + orders →
// Report); Client reads the orders and assets over the REST API.
//
// Definitions (all times are event times, the simulation's clock):
//
//   - Only auto orders count (source threshold, trend or event); an order's
//     time is its detected_at (created_at when it has none).
//   - The observed period is [truth.start, truth.end); orders detected
//     outside it are ignored (they belong to another run).
//   - A failure counts when it happened in the observed period. Its orders
//     are the orders on that asset detected in [onset, failure + Grace];
//     the first of them gives the lead time (failure − detected_at,
//     negative when after the failure). A gradual failure (linear or
//     exponential wear) is caught when its lead is at least Lead. Recall
//     is caught / gradual failures; the median lead is over the gradual
//     failures that got any order. Step faults are reported apart (no
//     precursor: detection within Grace and its latency).
//   - False alarms: auto orders on healthy assets, and orders on failing
//     assets detected before the onset. Healthy asset-months: the time each
//     asset was healthy in the observed period (until its onset for a
//     failing one), in months of 30 days.
//   - Remaining-life error at order time: for the first trend order of a
//     failure, predicted_failure_at − actual failure, with the prediction
//     the order was raised with (its created event's evidence; the order's
//     own fields only show the latest prediction). Reported overall and per
//     degradation (median and 90th percentile of the absolute error, in
//     hours and relative to the true remaining life at order time).
//   - Duplicates: an auto order for the same (asset, failure_mode) as an
//     earlier one that was still open when the later one was created.
package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openpdm/pdm/simulators"
)

// Order is what the evaluation needs of a work order, with the asset given
// by its code (Client resolves asset ids).
type Order struct {
	Number      string
	AssetCode   string
	Source      string // threshold, trend, event, manual, schedule
	FailureMode string
	Status      string
	CreatedAt   time.Time
	DetectedAt  time.Time // zero when the order has none
	// PredictedFailureAt is the prediction the order was raised with
	// (Client reads it from the order's created event or first signal;
	// the order's latest prediction when its history has none); zero when
	// it has none.
	PredictedFailureAt time.Time
	// LatestPredictedFailureAt is the order's current prediction (the
	// contract replaces it as new evidence arrives); informational.
	LatestPredictedFailureAt time.Time
	// ClosedAt is when the order stopped being open (completed, verified,
	// closed, rejected or cancelled); zero while it is open.
	ClosedAt time.Time
}

// at returns the order's event time.
func (o Order) at() time.Time {
	if !o.DetectedAt.IsZero() {
		return o.DetectedAt
	}
	return o.CreatedAt
}

func (o Order) auto() bool {
	switch o.Source {
	case "threshold", "trend", "event":
		return true
	}
	return false
}

// Options tune Evaluate.
type Options struct {
	// Lead is the lead time an order needs to catch a failure (default 24h).
	Lead time.Duration
	// Grace is how long after a failure an order still belongs to it
	// (default 24h).
	Grace time.Duration
	// End closes the observed period when the truth has no end (an
	// open-ended run still going); default: the latest order time.
	End time.Time
}

// Targets are the acceptance figures of the evaluation scenario.
type Targets struct {
	MinRecall            float64
	MinMedianLead        time.Duration
	MaxFalseAlarmsPer100 float64
	MaxDuplicates        int
}

// DefaultTargets are issue 4's: recall ≥ 0.9 with median lead ≥ 24 h on
// gradual failures, ≤ 2 false alarms per 100 healthy asset-months, no
// duplicate orders.
func DefaultTargets() Targets {
	return Targets{MinRecall: 0.9, MinMedianLead: 24 * time.Hour, MaxFalseAlarmsPer100: 2, MaxDuplicates: 0}
}

// FailureResult is the outcome for one failing asset.
type FailureResult struct {
	Asset       string
	FailureMode string
	Degradation simulators.Degradation
	Gradual     bool
	Onset       time.Time
	FailureAt   time.Time
	// Pending: the failure lies after the observed period.
	Pending bool
	// Detected: some order in [onset, failure + grace].
	Detected bool
	// FirstOrder and its time and lead (failure − detected_at).
	FirstOrder  string
	FirstSource string
	DetectedAt  time.Time
	Lead        time.Duration
	// Caught: detected with lead ≥ Options.Lead.
	Caught bool
	// RULError is predicted − actual failure of the first trend order;
	// HasRUL says whether there was one.
	RULError time.Duration
	HasRUL   bool
	// RemainingAtOrder is failure − detected_at of that trend order.
	RemainingAtOrder time.Duration
}

// RULStats summarises the remaining-life errors at order time of a set of
// failures: absolute error in time and relative to the true remaining life
// at order time (median and 90th percentile, nearest rank), and the median
// signed error (negative: predicted too early).
type RULStats struct {
	Degradation  simulators.Degradation
	Samples      int
	MedianAbs    time.Duration
	P90Abs       time.Duration
	MedianRel    float64
	P90Rel       float64
	MedianSigned time.Duration
}

// FalseAlarm is an order that no failure explains.
type FalseAlarm struct {
	Asset, Number, Source, FailureMode string
	DetectedAt                         time.Time
}

// Report is the evaluation's result.
type Report struct {
	Lead       time.Duration
	Grace      time.Duration
	Start, End time.Time
	Assets     int
	AutoOrders int
	// IgnoredOrders: auto orders outside the observed period or for
	// assets not in the truth.
	IgnoredOrders int

	GradualFailures int
	GradualDetected int
	GradualCaught   int
	Recall          float64
	MedianLead      time.Duration

	StepFaults        int
	StepDetected      int
	MedianStepLatency time.Duration

	PendingFailures int
	// LateOrders are orders on failing assets detected after failure +
	// grace: the machine was broken, so they are no false alarm, but
	// they caught nothing either.
	LateOrders int

	FalseAlarms        []FalseAlarm
	HealthyAssetMonths float64
	FalseAlarmsPer100  float64

	RULSamples        int
	MedianAbsRULError time.Duration
	P90AbsRULError    time.Duration
	// MedianRelRULError is the median of |error| / remaining life at order.
	MedianRelRULError float64
	P90RelRULError    float64
	// RULByDegradation splits the remaining-life error by degradation
	// profile, ordered by profile name.
	RULByDegradation []RULStats

	Duplicates int
	Failures   []FailureResult
}

const month = 30 * 24 * time.Hour

// Evaluate scores orders against truth. It is pure: same inputs, same
// report.
func Evaluate(truth simulators.Truth, orders []Order, o Options) Report {
	if o.Lead == 0 {
		o.Lead = 24 * time.Hour
	}
	if o.Grace == 0 {
		o.Grace = 24 * time.Hour
	}
	r := Report{Lead: o.Lead, Grace: o.Grace, Start: truth.Start, Assets: len(truth.Assets)}
	switch {
	case truth.End != nil:
		r.End = *truth.End
	case !o.End.IsZero():
		r.End = o.End
	default:
		r.End = truth.Start
		for _, ord := range orders {
			if ord.auto() && ord.at().After(r.End) {
				r.End = ord.at().Add(time.Nanosecond)
			}
		}
	}

	byAsset := map[string][]Order{}
	known := map[string]bool{}
	for _, a := range truth.Assets {
		known[a.Code] = true
	}
	var autos []Order
	for _, ord := range orders {
		if !ord.auto() {
			continue
		}
		r.AutoOrders++
		if !known[ord.AssetCode] || ord.at().Before(r.Start) || !ord.at().Before(r.End) {
			r.IgnoredOrders++
			continue
		}
		autos = append(autos, ord)
		byAsset[ord.AssetCode] = append(byAsset[ord.AssetCode], ord)
	}
	for _, os := range byAsset {
		sort.SliceStable(os, func(i, j int) bool { return os[i].at().Before(os[j].at()) })
	}

	var leads, stepLat, absRUL []time.Duration
	var relRUL []float64
	rulBy := map[simulators.Degradation][]FailureResult{}
	var healthy time.Duration
	for _, a := range truth.Assets {
		ords := byAsset[a.Code]
		if !a.Fails() {
			healthy += r.End.Sub(r.Start)
			for _, ord := range ords {
				r.FalseAlarms = append(r.FalseAlarms, falseAlarm(a.Code, ord))
			}
			continue
		}
		onset, fail := *a.Onset, *a.FailureAt
		if onset.Before(r.End) {
			healthy += onset.Sub(r.Start)
		} else {
			healthy += r.End.Sub(r.Start)
		}
		for _, ord := range ords {
			if ord.at().Before(onset) {
				r.FalseAlarms = append(r.FalseAlarms, falseAlarm(a.Code, ord))
			}
		}
		fr := FailureResult{Asset: a.Code, FailureMode: a.FailureMode, Degradation: a.Degradation,
			Gradual: a.Gradual, Onset: onset, FailureAt: fail}
		if !fail.Before(r.End) {
			fr.Pending = true
			r.PendingFailures++
			r.Failures = append(r.Failures, fr)
			continue
		}
		for _, ord := range ords {
			t := ord.at()
			if t.After(fail.Add(o.Grace)) {
				r.LateOrders++
				continue
			}
			if t.Before(onset) {
				continue
			}
			if !fr.Detected {
				fr.Detected, fr.FirstOrder, fr.FirstSource, fr.DetectedAt = true, ord.Number, ord.Source, t
				fr.Lead = fail.Sub(t)
				fr.Caught = fr.Lead >= o.Lead
			}
			if ord.Source == "trend" && !ord.PredictedFailureAt.IsZero() && !fr.HasRUL {
				fr.HasRUL = true
				fr.RULError = ord.PredictedFailureAt.Sub(fail)
				fr.RemainingAtOrder = fail.Sub(t)
			}
		}
		if a.Gradual {
			r.GradualFailures++
			if fr.Detected {
				r.GradualDetected++
				leads = append(leads, fr.Lead)
			}
			if fr.Caught {
				r.GradualCaught++
			}
		} else {
			r.StepFaults++
			if fr.Detected {
				r.StepDetected++
				stepLat = append(stepLat, -fr.Lead)
			}
		}
		if fr.HasRUL {
			rulBy[fr.Degradation] = append(rulBy[fr.Degradation], fr)
			absRUL = append(absRUL, absDur(fr.RULError))
			if fr.RemainingAtOrder > 0 {
				relRUL = append(relRUL, math.Abs(float64(fr.RULError))/float64(fr.RemainingAtOrder))
			}
		}
		r.Failures = append(r.Failures, fr)
	}
	if r.GradualFailures > 0 {
		r.Recall = float64(r.GradualCaught) / float64(r.GradualFailures)
	}
	r.MedianLead = medianDur(leads)
	r.MedianStepLatency = medianDur(stepLat)
	r.RULSamples = len(absRUL)
	r.MedianAbsRULError = medianDur(absRUL)
	r.P90AbsRULError = p90Dur(absRUL)
	r.MedianRelRULError = median(relRUL)
	r.P90RelRULError = p90(relRUL)
	for deg, frs := range rulBy {
		r.RULByDegradation = append(r.RULByDegradation, rulStats(deg, frs))
	}
	sort.Slice(r.RULByDegradation, func(i, j int) bool {
		return r.RULByDegradation[i].Degradation < r.RULByDegradation[j].Degradation
	})
	r.HealthyAssetMonths = float64(healthy) / float64(month)
	if r.HealthyAssetMonths > 0 {
		r.FalseAlarmsPer100 = float64(len(r.FalseAlarms)) / r.HealthyAssetMonths * 100
	}
	r.Duplicates = duplicates(autos)
	return r
}

func rulStats(deg simulators.Degradation, frs []FailureResult) RULStats {
	var abs, signed []time.Duration
	var rel []float64
	for _, f := range frs {
		abs = append(abs, absDur(f.RULError))
		signed = append(signed, f.RULError)
		if f.RemainingAtOrder > 0 {
			rel = append(rel, math.Abs(float64(f.RULError))/float64(f.RemainingAtOrder))
		}
	}
	return RULStats{Degradation: deg, Samples: len(frs), MedianAbs: medianDur(abs), P90Abs: p90Dur(abs),
		MedianRel: median(rel), P90Rel: p90(rel), MedianSigned: medianDur(signed)}
}

func falseAlarm(asset string, o Order) FalseAlarm {
	return FalseAlarm{Asset: asset, Number: o.Number, Source: o.Source, FailureMode: o.FailureMode, DetectedAt: o.at()}
}

// duplicates counts orders created while an earlier order of the same
// (asset, failure_mode) was open.
func duplicates(orders []Order) int {
	groups := map[[2]string][]Order{}
	for _, o := range orders {
		k := [2]string{o.AssetCode, o.FailureMode}
		groups[k] = append(groups[k], o)
	}
	n := 0
	for _, g := range groups {
		sort.SliceStable(g, func(i, j int) bool { return g[i].CreatedAt.Before(g[j].CreatedAt) })
		for i := 1; i < len(g); i++ {
			for _, prev := range g[:i] {
				if prev.ClosedAt.IsZero() || prev.ClosedAt.After(g[i].CreatedAt) {
					n++
					break
				}
			}
		}
	}
	return n
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func median(fs []float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(fs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// p90Dur is the 90th percentile of ds (nearest rank); 0 when empty.
func p90Dur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(math.Ceil(0.9*float64(len(s))))-1]
}

// p90 is the 90th percentile of fs (nearest rank); NaN when empty.
func p90(fs []float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[int(math.Ceil(0.9*float64(len(s))))-1]
}

// Pass reports whether the report meets the targets, and what it misses.
func (r Report) Pass(t Targets) (bool, []string) {
	var miss []string
	if r.Recall < t.MinRecall {
		miss = append(miss, fmt.Sprintf("recall %.2f < %.2f", r.Recall, t.MinRecall))
	}
	if r.MedianLead < t.MinMedianLead {
		miss = append(miss, fmt.Sprintf("median lead %s < %s", hours(r.MedianLead), hours(t.MinMedianLead)))
	}
	if r.FalseAlarmsPer100 > t.MaxFalseAlarmsPer100 {
		miss = append(miss, fmt.Sprintf("false alarms %.2f > %.2f per 100 healthy asset-months", r.FalseAlarmsPer100, t.MaxFalseAlarmsPer100))
	}
	if r.Duplicates > t.MaxDuplicates {
		miss = append(miss, fmt.Sprintf("%d duplicate orders > %d", r.Duplicates, t.MaxDuplicates))
	}
	return len(miss) == 0, miss
}

func hours(d time.Duration) string {
	return fmt.Sprintf("%.1f h", d.Hours())
}

// Markdown renders the report as markdown: a summary table with the
// targets, then one row per failure and the false alarms.
func (r Report) Markdown(t Targets) string {
	var b strings.Builder
	ok := func(pass bool) string {
		if pass {
			return "✅"
		}
		return "❌"
	}
	fmt.Fprintf(&b, "Observed %s – %s, %d assets, %d auto orders (%d ignored), required lead %s.\n\n",
		r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Assets, r.AutoOrders, r.IgnoredOrders, hours(r.Lead))
	b.WriteString("| measure | value | target | |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| recall (gradual failures caught ≥ %s ahead) | %.2f (%d/%d) | ≥ %.2f | %s |\n",
		hours(r.Lead), r.Recall, r.GradualCaught, r.GradualFailures, t.MinRecall, ok(r.Recall >= t.MinRecall))
	fmt.Fprintf(&b, "| median lead time (gradual, %d with an order) | %s | ≥ %s | %s |\n",
		r.GradualDetected, hours(r.MedianLead), hours(t.MinMedianLead), ok(r.MedianLead >= t.MinMedianLead))
	fmt.Fprintf(&b, "| false alarms per 100 healthy asset-months | %.2f (%d in %.1f asset-months) | ≤ %.2f | %s |\n",
		r.FalseAlarmsPer100, len(r.FalseAlarms), r.HealthyAssetMonths, t.MaxFalseAlarmsPer100, ok(r.FalseAlarmsPer100 <= t.MaxFalseAlarmsPer100))
	if r.RULSamples > 0 {
		fmt.Fprintf(&b, "| remaining-life error at order time (median abs, relative) | %s, %.0f%% (%d trend orders) | | |\n",
			hours(r.MedianAbsRULError), 100*r.MedianRelRULError, r.RULSamples)
		for _, st := range r.RULByDegradation {
			fmt.Fprintf(&b, "| … %s wear (%d): abs error median / p90, relative median / p90, signed median | %s / %s, %.0f%% / %.0f%%, %+.1f h | | |\n",
				st.Degradation, st.Samples, hours(st.MedianAbs), hours(st.P90Abs), 100*st.MedianRel, 100*st.P90Rel, st.MedianSigned.Hours())
		}
	} else {
		b.WriteString("| remaining-life error at order time | no trend orders | | |\n")
	}
	fmt.Fprintf(&b, "| duplicate orders | %d | ≤ %d | %s |\n", r.Duplicates, t.MaxDuplicates, ok(r.Duplicates <= t.MaxDuplicates))
	fmt.Fprintf(&b, "| step faults detected within %s (median latency) | %d/%d (%s) | | |\n",
		hours(r.Grace), r.StepDetected, r.StepFaults, hours(r.MedianStepLatency))
	if r.LateOrders > 0 {
		fmt.Fprintf(&b, "| orders more than %s after their failure (not scored) | %d | | |\n", hours(r.Grace), r.LateOrders)
	}
	if r.PendingFailures > 0 {
		fmt.Fprintf(&b, "| failures after the observed period (not scored) | %d | | |\n", r.PendingFailures)
	}
	if len(r.Failures) > 0 {
		b.WriteString("\n| asset | failure | kind | failure at | first order | source | lead | caught | RUL error |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, f := range r.Failures {
			first, lead, caught, rul := "—", "—", "", "—"
			switch {
			case f.Pending:
				caught = "pending"
			case f.Detected:
				first, lead = f.FirstOrder, hours(f.Lead)
				caught = ok(f.Caught)
			default:
				caught = ok(false)
			}
			if !f.Gradual && !f.Pending {
				caught = ok(f.Detected) + " (step)"
			}
			if f.HasRUL {
				rul = fmt.Sprintf("%+.1f h", f.RULError.Hours())
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Asset, f.FailureMode, f.Degradation,
				f.FailureAt.Format(time.RFC3339), first, f.FirstSource, lead, caught, rul)
		}
	}
	if len(r.FalseAlarms) > 0 {
		b.WriteString("\n| false alarm | asset | source | failure mode | detected at |\n|---|---|---|---|---|\n")
		for _, f := range r.FalseAlarms {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.Number, f.Asset, f.Source, f.FailureMode, f.DetectedAt.Format(time.RFC3339))
		}
	}
	return b.String()
}
