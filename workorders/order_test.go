package workorders

import (
	"errors"
	"testing"
	"time"

	"github.com/openpdm/pdm/rules"
)

func TestNextFollowsTheContractDrawing(t *testing.T) {
	legal := map[Action]map[Status]Status{
		ActApprove:  {StatusProposed: StatusApproved},
		ActReject:   {StatusProposed: StatusRejected},
		ActAssign:   {StatusApproved: StatusAssigned, StatusAssigned: StatusAssigned}, // reassign (issue #14)
		ActAccept:   {StatusAssigned: StatusAccepted},
		ActDecline:  {StatusAssigned: StatusApproved},
		ActDepart:   {StatusAccepted: StatusEnRoute},
		ActArrive:   {StatusEnRoute: StatusOnSite},
		ActStart:    {StatusAccepted: StatusInProgress, StatusEnRoute: StatusInProgress, StatusOnSite: StatusInProgress},
		ActHold:     {StatusInProgress: StatusOnHold},
		ActResume:   {StatusOnHold: StatusInProgress},
		ActComplete: {StatusInProgress: StatusCompleted},
		ActVerify:   {StatusCompleted: StatusVerified},
		ActClose:    {StatusVerified: StatusClosed},
		ActCancel: {StatusProposed: StatusCancelled, StatusApproved: StatusCancelled, StatusAssigned: StatusCancelled,
			StatusAccepted: StatusCancelled, StatusEnRoute: StatusCancelled, StatusOnSite: StatusCancelled,
			StatusInProgress: StatusCancelled, StatusOnHold: StatusCancelled},
		ActReopen: {StatusRejected: StatusApproved, StatusCancelled: StatusApproved, StatusCompleted: StatusApproved,
			StatusVerified: StatusApproved, StatusClosed: StatusApproved},
	}
	for _, a := range Actions() {
		for _, from := range Statuses() {
			to, err := Next(from, a)
			want, ok := legal[a][from]
			if ok {
				if err != nil || to != want {
					t.Errorf("%s from %s: got %s, %v, want %s", a, from, to, err, want)
				}
			} else if !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("%s from %s: got %s, %v, want ErrIllegalTransition", a, from, to, err)
			}
		}
	}
	if _, err := Next(StatusProposed, "explode"); err == nil {
		t.Error("unknown action accepted")
	}
}

func TestAutoPriorityAndDue(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	trend := func(left time.Duration) rules.Signal {
		return rules.Signal{Kind: rules.KindTrend, Level: rules.LevelCritical, DetectedAt: at,
			Prediction: &rules.Prediction{CrossingAt: at.Add(left * 2), CrossingEarliest: at.Add(left), CrossingLatest: at.Add(left * 3)}}
	}
	thr := rules.Signal{Kind: rules.KindThreshold, Level: rules.LevelCritical, DetectedAt: at}
	tests := []struct {
		name string
		rule Priority
		sig  rules.Signal
		crit int
		want Priority
	}{
		{"threshold critical is at least P2", P3, thr, 3, P2},
		{"rule P1 stays", P1, thr, 3, P1},
		{"criticality 5 raises", P3, thr, 5, P1},
		{"criticality 1 lowers", P4, rules.Signal{Kind: rules.KindTrend, Level: rules.LevelCritical, DetectedAt: at}, 1, P4},
		{"trend under a day", P4, trend(20 * time.Hour), 3, P1},
		{"trend under three days", P4, trend(48 * time.Hour), 3, P2},
		{"trend under a week", P4, trend(100 * time.Hour), 3, P3},
		{"trend far away keeps rule", P4, trend(20 * 24 * time.Hour), 3, P4},
		{"no rule priority means P3", "", trend(20 * 24 * time.Hour), 3, P3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AutoPriority(tt.rule, tt.sig, tt.crit); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	for _, left := range []time.Duration{time.Hour, 30 * time.Hour, 10 * 24 * time.Hour} {
		sig := trend(left)
		due := AutoDue(sig, P2, 2*time.Hour)
		if !due.Before(sig.Prediction.CrossingEarliest) || due.Before(at) {
			t.Errorf("left %s: due %s not in [detected, earliest crossing)", left, due)
		}
	}
	if got := AutoDue(thr, P1, 0); !got.Equal(at.Add(4 * time.Hour)) {
		t.Errorf("threshold due: got %s, want detection + 4h", got)
	}
}

func TestWebhookEventTypesCoverTransitions(t *testing.T) {
	types := map[string]bool{}
	for _, tp := range WebhookEventTypes() {
		types[tp] = true
	}
	for _, want := range []string{"work_order.created", "work_order.approved", "work_order.declined", "work_order.held",
		"work_order.resumed", "work_order.completed", "work_order.sla_breached", "work_order.reopened"} {
		if !types[want] {
			t.Errorf("missing %s", want)
		}
	}
}

// TestAutoTitleNamesWhatPredicted: a metric's trend names the metric; a
// prediction from several metrics (the fleet model, no metric) names the
// model's estimate instead of an empty "()" and the internal mode.
func TestAutoTitleNamesWhatPredicted(t *testing.T) {
	a := AssetRef{SiteCode: "S1", Code: "P-7"}
	for _, tt := range []struct {
		sig  rules.Signal
		mode string
		want string
	}{
		{rules.Signal{Kind: rules.KindTrend, Metric: "vibration_rms"}, "bearing_wear", "Predicted bearing_wear on S1/P-7 (vibration_rms)"},
		{rules.Signal{Kind: rules.KindTrend, Message: "fleet model v2 of pump: remaining life 30h"}, "fleet_remaining_life",
			"Predicted failure on S1/P-7: fleet model v2 of pump: remaining life 30h"},
		{rules.Signal{Kind: rules.KindTrend}, "fleet_remaining_life", "Predicted fleet_remaining_life on S1/P-7"},
		{rules.Signal{Kind: rules.KindThreshold, Metric: "temp_c", Limit: 90}, "overheat", "overheat on S1/P-7: temp_c beyond 90"},
	} {
		if got := autoTitle(tt.sig, tt.mode, a); got != tt.want {
			t.Errorf("autoTitle(%+v) = %q, want %q", tt.sig, got, tt.want)
		}
	}
}
