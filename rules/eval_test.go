package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func f(v float64) *float64 { return &v }

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func pumpRule() Rule {
	return Rule{
		ID: "r1", Name: "bearing wear", AssetType: "pump", Metric: "vibration_rms",
		Direction: Above, Warn: f(4.5), Critical: f(7.1), For: Duration(5 * time.Minute),
		Hysteresis: 0.3, FailureMode: "bearing_wear", Priority: "P2", Enabled: true,
	}
}

var pump = AssetRef{Site: "s1", Code: "p1", ID: "a1", Type: "pump"}

type step struct {
	min  int
	v    float64
	want string // "" none, else kind/level joined by ","
}

func runSteps(t *testing.T, r Rule, steps []step) {
	t.Helper()
	var tr Tracker
	for i, s := range steps {
		sigs, _ := tr.Step(&r, pump, t0.Add(time.Duration(s.min)*time.Minute), s.v)
		var got []string
		for _, sg := range sigs {
			got = append(got, string(sg.Kind)+"/"+string(sg.Level))
		}
		require.Equal(t, s.want, strings.Join(got, ","), "step %d (t=%dm v=%g)", i, s.min, s.v)
	}
}

func TestTrackerForAndHysteresis(t *testing.T) {
	tests := []struct {
		name  string
		rule  func(Rule) Rule
		steps []step
	}{
		{"warn needs for", func(r Rule) Rule { return r }, []step{
			{0, 3, ""}, {1, 5, ""}, {3, 5, ""}, {6, 5, "threshold/warning"}, {7, 5, ""},
		}},
		{"breach interrupted restarts for", func(r Rule) Rule { return r }, []step{
			{0, 5, ""}, {3, 4, ""}, {6, 5, ""}, {10, 5, ""}, {11, 5, "threshold/warning"},
		}},
		{"critical after warn, then clear with hysteresis", func(r Rule) Rule { return r }, []step{
			{0, 5, ""}, {5, 5, "threshold/warning"}, {6, 8, ""}, {11, 8, "threshold/critical"},
			{12, 7.0, ""},                // inside critical but not by hysteresis
			{13, 6.7, ""},                // critical cleared, warn still active
			{14, 4.4, ""},                // inside warn, not by 0.3
			{15, 4.1, "threshold/clear"}, // all clear
			{16, 8, ""}, {21, 8, "threshold/critical"},
		}},
		{"for zero fires at once, critical suppresses warn", func(r Rule) Rule { r.For = 0; return r }, []step{
			{0, 8, "threshold/critical"}, {1, 8, ""}, {2, 1, "threshold/clear"},
		}},
		{"below direction", func(r Rule) Rule {
			r.Direction, r.Warn, r.Critical, r.For = Below, f(10), f(5), 0
			return r
		}, []step{
			{0, 11, ""}, {1, 9, "threshold/warning"}, {2, 4, "threshold/critical"}, {3, 10.1, ""}, {4, 10.4, "threshold/clear"},
		}},
		{"only critical", func(r Rule) Rule { r.Warn = nil; return r }, []step{
			{0, 5, ""}, {1, 7.2, ""}, {6, 7.2, "threshold/critical"}, {7, 6, "threshold/clear"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.rule(pumpRule()), tt.steps) })
	}
}

func TestTrackerLateReadingsIgnored(t *testing.T) {
	r := pumpRule()
	var tr Tracker
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	_, ok := tr.Step(&r, pump, at(10), 8)
	require.True(t, ok)
	// A late reading inside the limit must not reset the running `for`.
	sigs, ok := tr.Step(&r, pump, at(3), 1)
	require.False(t, ok)
	require.Empty(t, sigs)
	// A duplicate (same ts) is ignored too.
	_, ok = tr.Step(&r, pump, at(10), 1)
	require.False(t, ok)
	sigs, ok = tr.Step(&r, pump, at(15), 8)
	require.True(t, ok)
	require.Len(t, sigs, 1)
	require.Equal(t, LevelCritical, sigs[0].Level)
	require.Equal(t, at(10), sigs[0].Evidence["breach_start"])
	require.Equal(t, at(15), sigs[0].DetectedAt)
	require.Len(t, sigs[0].Evidence["values"], 2)
	st := tr.Snapshot()
	require.Equal(t, 2, st.Late)
	require.Equal(t, "critical", st.Level)
}

func TestTrackerStale(t *testing.T) {
	r := pumpRule()
	r.Stale = Duration(time.Hour)
	var tr Tracker
	require.Empty(t, tr.CheckStale(&r, pump, t0.Add(10*time.Hour)), "never seen is not stale")
	tr.Step(&r, pump, t0, 1)
	require.Empty(t, tr.CheckStale(&r, pump, t0.Add(59*time.Minute)))
	sigs := tr.CheckStale(&r, pump, t0.Add(61*time.Minute))
	require.Len(t, sigs, 1)
	require.Equal(t, KindStale, sigs[0].Kind)
	require.Equal(t, LevelWarn, sigs[0].Level)
	require.Empty(t, tr.CheckStale(&r, pump, t0.Add(2*time.Hour)), "raised once")
	got, _ := tr.Step(&r, pump, t0.Add(3*time.Hour), 1)
	require.Len(t, got, 1)
	require.Equal(t, KindStale, got[0].Kind)
	require.Equal(t, LevelClear, got[0].Level)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Rule)
		field  string // "" valid
	}{
		{"valid", func(*Rule) {}, ""},
		{"valid with predict", func(r *Rule) {
			r.Predict = &PredictSpec{Window: Duration(12 * time.Hour), Horizon: Duration(7 * 24 * time.Hour), MinR2: 0.6, MinPoints: 30}
		}, ""},
		{"no name", func(r *Rule) { r.Name = " " }, "name"},
		{"no target", func(r *Rule) { r.AssetType = "" }, "asset_type"},
		{"both targets", func(r *Rule) { r.AssetID = "x" }, "asset_id"},
		{"bad metric", func(r *Rule) { r.Metric = "Vib rms" }, "metric"},
		{"bad direction", func(r *Rule) { r.Direction = "up" }, "direction"},
		{"no limits", func(r *Rule) { r.Warn, r.Critical = nil, nil }, "critical"},
		{"warn beyond critical", func(r *Rule) { r.Warn = f(9) }, "warn"},
		{"negative hysteresis", func(r *Rule) { r.Hysteresis = -1 }, "hysteresis"},
		{"predict without critical", func(r *Rule) {
			r.Critical = nil
			r.Predict = &PredictSpec{Window: Duration(time.Hour), Horizon: Duration(time.Hour), MinPoints: 5}
		}, "predict"},
		{"predict bad r2", func(r *Rule) {
			r.Predict = &PredictSpec{Window: Duration(time.Hour), Horizon: Duration(time.Hour), MinR2: 2, MinPoints: 5}
		}, "predict.min_r2"},
		{"predict no window", func(r *Rule) {
			r.Predict = &PredictSpec{Horizon: Duration(time.Hour), MinPoints: 5}
		}, "predict.window"},
		{"bad priority", func(r *Rule) { r.Priority = "high" }, "priority"},
		{"bad part", func(r *Rule) { r.Parts = []PartQty{{SKU: "X", Qty: 0}} }, "parts[0].qty"},
		{"no failure mode", func(r *Rule) { r.FailureMode = "" }, "failure_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pumpRule()
			tt.mutate(&r)
			err := r.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			var fields []string
			for _, fe := range ve.Fields {
				fields = append(fields, fe.Field)
			}
			require.Contains(t, fields, tt.field, "error: %v", err)
		})
	}
}
