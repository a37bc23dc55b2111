package workorders

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/openpdm/pdm/rules"
)

// AutoPriority computes an auto order's priority from the rule's priority,
// the signal (severity, kind, remaining life until the earliest predicted
// crossing measured from the signal's event time) and the asset's
// criticality (1-5):
//   - base: the rule's priority, P3 when the rule names none;
//   - a critical threshold or event signal is at least P2;
//   - a trend whose earliest crossing is under 24 h away is P1, under 72 h
//     at least P2, under 7 days at least P3;
//   - criticality 5 or 4 raises the result by one step, criticality 1
//     lowers it by one.
func AutoPriority(rulePriority Priority, sig rules.Signal, criticality int) Priority {
	r := rulePriority.Rank()
	if r == 0 {
		r = 3
	}
	switch sig.Kind {
	case rules.KindThreshold, rules.KindEvent:
		if sig.Level == rules.LevelCritical {
			r = min(r, 2)
		}
	case rules.KindTrend:
		if p := sig.Prediction; p != nil && !p.CrossingEarliest.IsZero() {
			left := p.CrossingEarliest.Sub(sig.DetectedAt)
			switch {
			case left < 24*time.Hour:
				r = 1
			case left < 72*time.Hour:
				r = min(r, 2)
			case left < 7*24*time.Hour:
				r = min(r, 3)
			}
		}
	}
	switch {
	case criticality >= 4:
		r--
	case criticality == 1:
		r++
	}
	return PriorityOfRank(r)
}

// ResponseWindow is the default time to fix for a priority when nothing
// better is known (threshold and event orders): P1 4h, P2 24h, P3 72h, P4 7d.
func ResponseWindow(p Priority) time.Duration {
	switch p {
	case P1:
		return 4 * time.Hour
	case P2:
		return 24 * time.Hour
	case P3:
		return 72 * time.Hour
	}
	return 7 * 24 * time.Hour
}

// AutoDue computes an auto order's due date. For a trend with a predicted
// crossing it is before the lower bound of the crossing: the earliest
// crossing minus the job's estimated duration and a safety margin of a
// quarter of the remaining time (never before the detection time). Other
// orders are due ResponseWindow(priority) after detection.
func AutoDue(sig rules.Signal, p Priority, estimated time.Duration) time.Time {
	if pr := sig.Prediction; sig.Kind == rules.KindTrend && pr != nil && !pr.CrossingEarliest.IsZero() {
		left := pr.CrossingEarliest.Sub(sig.DetectedAt)
		if left <= 0 {
			return sig.DetectedAt
		}
		due := pr.CrossingEarliest.Add(-estimated - left/4)
		if !due.After(sig.DetectedAt) {
			due = sig.DetectedAt.Add(left / 2)
		}
		return due.UTC()
	}
	return sig.DetectedAt.Add(ResponseWindow(p)).UTC()
}

// WantsOrder reports whether a signal raises or updates an auto order:
// critical threshold, trend and event signals do; warnings, clears and
// stale-sensor signals are only recorded.
func WantsOrder(sig rules.Signal) bool {
	if sig.Level != rules.LevelCritical {
		return false
	}
	return sig.Kind == rules.KindThreshold || sig.Kind == rules.KindTrend || sig.Kind == rules.KindEvent
}

// FailureModeOf returns the failure mode a signal's order is keyed by: the
// signal's, else the rule's, else for events "event" (or "event_<code>"
// when the evidence carries a code), else the metric.
func FailureModeOf(sig rules.Signal, rule *rules.Rule) string {
	if sig.FailureMode != "" {
		return sig.FailureMode
	}
	if rule != nil && rule.FailureMode != "" {
		return rule.FailureMode
	}
	if sig.Kind == rules.KindEvent {
		if c, ok := sig.Evidence["code"].(string); ok && c != "" {
			return "event_" + c
		}
		return "event"
	}
	if sig.Metric != "" {
		return sig.Metric
	}
	return "unknown"
}

// SignalEvidence builds the evidence JSON an order carries for a signal:
// the signal's own evidence plus, for trends, the fit (metric, window,
// points, slope, intercept, r2, limit, crossing and bounds), for
// thresholds the limit and values.
func SignalEvidence(sig rules.Signal) json.RawMessage {
	ev := map[string]any{}
	for k, v := range sig.Evidence {
		ev[k] = v
	}
	ev["kind"] = sig.Kind
	ev["level"] = sig.Level
	ev["detected_at"] = sig.DetectedAt.UTC()
	if sig.Metric != "" {
		ev["metric"] = sig.Metric
	}
	if sig.RuleID != "" {
		ev["rule_id"] = sig.RuleID
	}
	if sig.Message != "" {
		ev["message"] = sig.Message
	}
	if sig.Kind != rules.KindEvent {
		ev["limit"] = sig.Limit
		ev["value"] = sig.Value
	}
	if p := sig.Prediction; p != nil {
		ev["model"] = p.Model
		ev["window_start"] = p.WindowStart.UTC()
		ev["window_end"] = p.WindowEnd.UTC()
		ev["points"] = p.Points
		ev["slope"] = p.Slope
		ev["intercept"] = p.Intercept
		ev["r2"] = p.R2
		ev["predicted_failure_at"] = p.CrossingAt.UTC()
		ev["predicted_failure_earliest"] = p.CrossingEarliest.UTC()
		ev["predicted_failure_latest"] = p.CrossingLatest.UTC()
		ev["rul"] = p.RUL
	}
	b, err := json.Marshal(ev)
	if err != nil {
		// Evidence with values JSON cannot hold (NaN): keep what is sure.
		b, _ = json.Marshal(map[string]any{"kind": sig.Kind, "detected_at": sig.DetectedAt.UTC(), "error": err.Error()})
	}
	return b
}

// autoTitle names an auto order.
func autoTitle(sig rules.Signal, mode string, a AssetRef) string {
	switch sig.Kind {
	case rules.KindTrend:
		if sig.Metric == "" {
			// A prediction from several metrics (the fleet model): the
			// message says which model and what it estimates.
			if sig.Message != "" {
				return fmt.Sprintf("Predicted failure on %s/%s: %s", a.SiteCode, a.Code, sig.Message)
			}
			return fmt.Sprintf("Predicted %s on %s/%s", mode, a.SiteCode, a.Code)
		}
		return fmt.Sprintf("Predicted %s on %s/%s (%s)", mode, a.SiteCode, a.Code, sig.Metric)
	case rules.KindEvent:
		msg := sig.Message
		if msg == "" {
			msg = mode
		}
		return fmt.Sprintf("Critical event on %s/%s: %s", a.SiteCode, a.Code, msg)
	}
	return fmt.Sprintf("%s on %s/%s: %s beyond %g", mode, a.SiteCode, a.Code, sig.Metric, sig.Limit)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// evidenceAt is the detected_at an order's evidence holds (the signal it
// was last updated from).
func evidenceAt(ev json.RawMessage) (time.Time, bool) {
	var v struct {
		DetectedAt *time.Time `json:"detected_at"`
	}
	if json.Unmarshal(ev, &v) != nil || v.DetectedAt == nil {
		return time.Time{}, false
	}
	return *v.DetectedAt, true
}

func earlier(a, b *time.Time) *time.Time {
	if a == nil {
		return b
	}
	if b != nil && b.Before(*a) {
		return b
	}
	return a
}
