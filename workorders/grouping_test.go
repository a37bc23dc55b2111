package workorders

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpdm/pdm/rules"
)

func trendSig(at time.Time, slope float64, crossing time.Time) rules.Signal {
	return rules.Signal{Kind: rules.KindTrend, Level: rules.LevelCritical, DetectedAt: at,
		Prediction: &rules.Prediction{Slope: slope, CrossingAt: crossing, CrossingEarliest: crossing}}
}

func TestChooseLeader(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	leader := Leader{OrderID: "o1", AssetID: "a1", DetectedAt: t0, CrossingEarliest: t0.Add(48 * time.Hour), Slope: 1e-5}
	for _, tt := range []struct {
		name    string
		sig     rules.Signal
		leaders []Leader
		want    string
	}{
		{"shaken neighbour: later, slower, crosses later", trendSig(t0.Add(time.Hour), 0.35e-5, t0.Add(200*time.Hour)), []Leader{leader}, "o1"},
		{"as fast as the leader: fails on its own", trendSig(t0.Add(time.Hour), 0.9e-5, t0.Add(60*time.Hour)), []Leader{leader}, ""},
		{"detected before the leader", trendSig(t0.Add(-time.Hour), 0.3e-5, t0.Add(200*time.Hour)), []Leader{leader}, ""},
		{"crosses before the leader", trendSig(t0.Add(time.Hour), 0.3e-5, t0.Add(24*time.Hour)), []Leader{leader}, ""},
		{"falling while the leader rises", trendSig(t0.Add(time.Hour), -0.3e-5, t0.Add(200*time.Hour)), []Leader{leader}, ""},
		{"threshold breach is its own failure", rules.Signal{Kind: rules.KindThreshold, Level: rules.LevelCritical, DetectedAt: t0.Add(time.Hour)}, []Leader{leader}, ""},
		{"leader without a slope", trendSig(t0.Add(time.Hour), 0.3e-5, t0.Add(200*time.Hour)), []Leader{{OrderID: "o2", DetectedAt: t0, Breach: true}}, ""},
		{"no leaders", trendSig(t0.Add(time.Hour), 0.3e-5, t0.Add(200*time.Hour)), nil, ""},
		{"breaching leader with a slope leads", trendSig(t0.Add(time.Hour), 0.3e-5, t0.Add(200*time.Hour)),
			[]Leader{{OrderID: "o3", DetectedAt: t0, Breach: true, Slope: 1e-5}}, "o3"},
		{"of two leaders the one failing first", trendSig(t0.Add(2*time.Hour), 0.2e-5, t0.Add(300*time.Hour)),
			[]Leader{{OrderID: "late", DetectedAt: t0, CrossingEarliest: t0.Add(90 * time.Hour), Slope: 1e-5}, leader}, "o1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ChooseLeader(tt.sig, tt.leaders)
			if tt.want == "" {
				if ok {
					t.Fatalf("linked to %s, want its own order", got.OrderID)
				}
				return
			}
			if !ok || got.OrderID != tt.want {
				t.Fatalf("leader %q (ok %v), want %q", got.OrderID, ok, tt.want)
			}
		})
	}
}

func TestLeaderFromOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cross := t0.Add(30 * time.Hour)
	ev, _ := json.Marshal(map[string]any{"kind": "trend", "slope": 2e-5})
	o := Order{ID: "o", AssetID: "a", Source: SourceTrend, Status: StatusProposed, DetectedAt: &t0, PredictedFailureEarliest: &cross, Evidence: ev}
	l, ok := LeaderFromOrder(o)
	if !ok || l.Slope != 2e-5 || !l.CrossingEarliest.Equal(cross) || l.Breach {
		t.Fatalf("leader %+v ok %v", l, ok)
	}
	o.Status = StatusCompleted
	if _, ok := LeaderFromOrder(o); ok {
		t.Fatal("a completed order leads")
	}
	o.Status, o.Source = StatusApproved, SourceManual
	if _, ok := LeaderFromOrder(o); ok {
		t.Fatal("a manual order leads")
	}
}
