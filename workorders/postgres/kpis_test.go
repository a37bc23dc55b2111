package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

func TestKPIs(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Second)
	f.mu.Lock()
	f.now = start
	f.mu.Unlock()
	advance := func(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

	crit := 7.1
	rule, err := f.svc.CreateRule(ctx, rules.Rule{Name: "bearing wear", AssetType: "pump", Metric: "vibration_rms",
		Direction: rules.Above, Critical: &crit, FailureMode: "bearing_wear", Priority: "P2", Enabled: true})
	require.NoError(t, err)
	e := f.engineer(t, "eng", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	var shifts []dispatch.Shift
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		shifts = append(shifts, dispatch.Shift{Day: d, Start: "00:00", End: "00:00"}) // around the clock
	}
	e.Shifts = shifts
	_, err = f.ops.UpdateEngineer(ctx, e)
	require.NoError(t, err)
	eng := workorders.Actor{ID: e.UserID, Name: "eng", Role: workorders.RoleEngineer}
	sig := func(kind rules.Kind, at time.Time) rules.Signal {
		return rules.Signal{Kind: kind, Level: rules.LevelCritical, RuleID: rule.ID, Site: "plant1", Asset: "pump-1",
			Metric: "vibration_rms", Value: 7.5, Limit: 7.1, DetectedAt: at}
	}
	act := func(id string, a workorders.Action, actor workorders.Actor, mod ...func(*workorders.ActionRequest)) {
		req := workorders.ActionRequest{Action: a, Actor: actor}
		for _, m := range mod {
			m(&req)
		}
		_, err := f.svc.Act(ctx, id, req)
		require.NoError(t, err, "%s", a)
	}

	// A: a real failure, repaired in 3 hours with 2 hours of labour.
	_, a, err := f.svc.HandleSignalOrder(ctx, sig(rules.KindThreshold, start))
	require.NoError(t, err)
	act(a.ID, workorders.ActApprove, f.admin)
	act(a.ID, workorders.ActAssign, f.admin, func(r *workorders.ActionRequest) { r.AssigneeID = *e.UserID })
	act(a.ID, workorders.ActAccept, eng)
	advance(time.Hour)
	act(a.ID, workorders.ActStart, eng)
	advance(2 * time.Hour)
	f.part(t, "BRG-6205")
	f.receive(t, *e.VanID, "BRG-6205", 2)
	act(a.ID, workorders.ActComplete, eng, func(r *workorders.ActionRequest) {
		r.Resolution = "replaced"
		r.LabourTime = rules.Duration(2 * time.Hour)
		r.PartsUsed = []rules.PartQty{{SKU: "BRG-6205", Qty: 1}}
	})
	// B: the failure mode comes back (a follow-up of A, so A was not a
	// first-time fix) and turns out to be a false alarm.
	_, b, err := f.svc.HandleSignalOrder(ctx, sig(rules.KindThreshold, f.now))
	require.NoError(t, err)
	require.NotNil(t, b.FollowUpOf)
	act(b.ID, workorders.ActReject, f.admin, func(r *workorders.ActionRequest) { r.Reason = workorders.ReasonNoFaultFound })
	// C: a trend order predicting the failure 96 hours ahead.
	tr := sig(rules.KindTrend, f.now)
	tr.Prediction = &rules.Prediction{Model: "linear", R2: 0.9, Points: 40, CrossingAt: f.now.Add(96 * time.Hour),
		CrossingEarliest: f.now.Add(80 * time.Hour), CrossingLatest: f.now.Add(120 * time.Hour)}
	_, c, err := f.svc.HandleSignalOrder(ctx, tr)
	require.NoError(t, err)
	require.Equal(t, workorders.SourceTrend, c.Source)
	// D: a manual order still open.
	f.order(t, "inspect", nil)

	k, err := f.ops.KPIs(ctx, workorders.KPIFilter{From: start.Add(-time.Hour), To: start.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, k.Failures, "the false alarm and the prediction are not failures")
	require.NotNil(t, k.MTTRHours)
	require.InDelta(t, 3, *k.MTTRHours, 0.05)
	require.InDelta(t, 2, *k.RepairHours, 0.05)
	require.InDelta(t, 25, *k.MTBFHours, 0.01, "one asset, 25 hours, one failure")
	require.Equal(t, workorders.SLAKPI{Completed: 1, OnTime: 1, Compliance: ptr(1.0)}, k.SLA)
	require.Equal(t, workorders.RateKPI{Total: 1, Count: 0, Rate: ptr(0.0)}, k.FirstTimeFix)
	backlog := map[workorders.Status]int{}
	for _, x := range k.Backlog {
		backlog[x.Status] = x.Count
		require.Equal(t, x.Count, x.Under1Day)
	}
	require.Equal(t, map[workorders.Status]int{workorders.StatusProposed: 1, workorders.StatusApproved: 1}, backlog)
	require.Len(t, k.Utilisation, 1)
	require.InDelta(t, 2, k.Utilisation[0].LabourHours, 1e-9)
	require.InDelta(t, 25, k.Utilisation[0].AvailableHours, 1e-9)
	require.InDelta(t, 2.0/25, *k.Utilisation[0].Utilisation, 1e-9)
	require.Equal(t, []workorders.PartKPI{{SKU: "BRG-6205", Name: "BRG-6205", Qty: 1}}, k.PartsConsumption)
	require.Equal(t, 1, k.PredictionLead.Orders)
	require.InDelta(t, 96, *k.PredictionLead.MeanHours, 1e-6)
	require.Len(t, k.Rules, 1)
	r := k.Rules[0]
	require.Equal(t, []int{3, 1, 1}, []int{r.Orders, r.Confirmed, r.FalseAlarms})
	require.InDelta(t, 0.5, *r.Precision, 1e-9)
	require.InDelta(t, 0.5, *r.FalseAlarmRate, 1e-9)

	// Orders by source, in day buckets over the period.
	require.Equal(t, "1d", k.Bucket)
	bySource, total := map[workorders.Source]int{}, 0
	for _, b := range k.BySource {
		require.Equal(t, b.Start, b.Start.Truncate(24*time.Hour), "a bucket starts at a UTC midnight")
		for src, n := range b.Counts {
			bySource[src] += n
		}
		total += b.Total
	}
	require.Equal(t, map[workorders.Source]int{workorders.SourceThreshold: 2, workorders.SourceTrend: 1, workorders.SourceManual: 1}, bySource)
	require.Equal(t, 4, total)
	long, err := f.ops.KPIs(ctx, workorders.KPIFilter{From: start.Add(-200 * 24 * time.Hour), To: start.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "7d", long.Bucket)

	// Another site sees nothing; a bad period is refused.
	other, err := f.svc.CreateSite(ctx, workorders.Site{Code: "plant2", Name: "Plant 2"})
	require.NoError(t, err)
	k, err = f.ops.KPIs(ctx, workorders.KPIFilter{SiteID: other.ID, From: start.Add(-time.Hour), To: start.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Zero(t, k.Failures)
	require.Empty(t, k.Rules)
	require.Nil(t, k.SLA.Compliance)
	bad := workorders.KPIFilter{From: start, To: start.Add(-time.Hour)}
	require.Error(t, bad.Validate(start))
}

func ptr[T any](v T) *T { return &v }
