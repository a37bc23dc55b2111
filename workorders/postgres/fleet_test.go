package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

func TestFleetFailuresModelsAndScores(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)

	// Imported failures are idempotent on (asset, failed_at).
	a, created, err := f.store.AddFailure(ctx, f.asset.ID, at)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "pump-1", a.Asset)
	require.Equal(t, "plant1", a.Site)
	require.Equal(t, "import", a.Source)
	b, created, err := f.store.AddFailure(ctx, f.asset.ID, at)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, a.ID, b.ID)
	_, _, err = f.store.AddFailure(ctx, "00000000-0000-0000-0000-000000000001", at)
	require.ErrorIs(t, err, workorders.ErrNotFound)

	// A completed threshold order is a failure too; one closed as no
	// fault found is not.
	require.NoError(t, f.svc.HandleSignal(ctx, f.signal(rules.KindThreshold, at.Add(24*time.Hour))))
	orders, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{})
	require.NoError(t, err)
	require.Len(t, orders, 1)
	_, err = f.store.Pool().Exec(ctx, `update work_orders set status = 'completed' where id = $1`, orders[0].ID)
	require.NoError(t, err)
	other, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "pump-2", Type: "pump", Name: "Pump 2", Criticality: 3})
	require.NoError(t, err)
	sig := f.signal(rules.KindThreshold, at.Add(48*time.Hour))
	sig.Asset = "pump-2"
	require.NoError(t, f.svc.HandleSignal(ctx, sig))
	_, err = f.store.Pool().Exec(ctx, `update work_orders set status = 'closed', reason = 'no_fault_found' where asset_id = $1`, other.ID)
	require.NoError(t, err)

	// An open threshold order is a failure too (the breach of a critical
	// limit); an open manual one is not (yet).
	third, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "pump-3", Type: "pump", Name: "Pump 3", Criticality: 3})
	require.NoError(t, err)
	sig = f.signal(rules.KindThreshold, at.Add(72*time.Hour))
	sig.Asset = "pump-3"
	require.NoError(t, f.svc.HandleSignal(ctx, sig))
	_, err = f.store.Pool().Exec(ctx, `insert into work_orders (asset_id, site_id, title, source, priority, status)
		values ($1, $2, 'looks odd', 'manual', 'P3', 'approved')`, third.ID, f.site.ID)
	require.NoError(t, err)

	got, err := f.store.Failures(ctx, "pump")
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, third.ID, got[2].AssetID)
	require.Equal(t, at.Add(72*time.Hour), got[2].FailedAt)
	require.Equal(t, at, got[0].FailedAt)
	require.Equal(t, "threshold", got[1].Source)
	require.Equal(t, orders[0].ID, got[1].OrderID)
	require.Equal(t, at.Add(24*time.Hour), got[1].FailedAt)
	// Lives restart at the latest failure or repair: pump-1's order was
	// completed after its imported failure; pump-2's closed as no fault
	// found restarts nothing.
	completed := at.Add(30 * time.Hour)
	_, err = f.store.Pool().Exec(ctx, `update work_orders set completed_at = $2 where id = $1`, orders[0].ID, completed)
	require.NoError(t, err)
	restarts, err := f.store.Restarts(ctx, "pump")
	require.NoError(t, err)
	require.Equal(t, map[string]time.Time{f.asset.ID: completed}, restarts)

	types, err := f.store.FailureTypes(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"pump"}, types)
	types, err = f.store.FailureTypes(ctx, 4)
	require.NoError(t, err)
	require.Empty(t, types)

	// Models are versioned per type.
	_, err = f.store.LatestModel(ctx, "pump")
	require.ErrorIs(t, err, workorders.ErrNotFound)
	m := fleet.Model{Kind: fleet.KindRidge, Spec: fleet.Spec{Metrics: []string{"vibration_rms"}, Windows: []int{5}, Cap: 125, StepSeconds: 3600},
		Mean: []float64{1, 2, 3, 4}, Scale: []float64{1, 1, 1, 1}, Coef: []float64{0.5, 0, 0, 1}, Intercept: 60, Coverage: 0.9, Intervals: []float64{5, 10, 20}}
	for i, want := range []int{1, 2} {
		v, err := f.store.SaveModel(ctx, fleet.Version{AssetType: "pump", TrainedAt: at.Add(time.Duration(i) * time.Hour), Model: m,
			Report: fleet.Report{Kind: fleet.KindRidge, Units: 8 + i, ValidationRMSE: 12, ValidationCoverage: 0.9}})
		require.NoError(t, err)
		require.Equal(t, want, v.Version)
	}
	v, err := f.store.LatestModel(ctx, "pump")
	require.NoError(t, err)
	require.Equal(t, 2, v.Version)
	require.Equal(t, 9, v.Report.Units)
	require.Equal(t, m, v.Model)
	all, err := f.store.LatestModels(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)

	// Scores: the latest per asset.
	_, err = f.store.Score(ctx, f.asset.ID)
	require.ErrorIs(t, err, workorders.ErrNotFound)
	rul, lo, hi := 3600.0*50, 3600.0*40, 3600.0*60
	for _, st := range []string{fleet.StatusShortHistory, fleet.StatusOK} {
		sc := fleet.Score{AssetID: f.asset.ID, AssetType: "pump", Version: 2, Status: st, ScoredAt: at, Features: map[string]float64{"age": 3}}
		if st == fleet.StatusOK {
			asOf := at.Add(-time.Hour)
			sc.RUL, sc.Lower, sc.Upper, sc.AsOf = &rul, &lo, &hi, &asOf
		}
		require.NoError(t, f.store.SaveScore(ctx, sc))
	}
	sc, err := f.store.Score(ctx, f.asset.ID)
	require.NoError(t, err)
	require.Equal(t, fleet.StatusOK, sc.Status)
	require.Equal(t, rul, *sc.RUL)
	require.Equal(t, at.Add(-time.Hour), *sc.AsOf)
	require.Equal(t, 3.0, sc.Features["age"])
}

// A version's gate follows the lead its orders use now: judged at
// training by PDM_FLEET_LEAD, judged again when that default changes (a
// 30 h RMSE passes a 48 h lead, not a 24 h one), never for a type with a
// lead of its own; its latest score answers with the same gate.
func TestFleetGateFollowsTheLeadInForce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	m := fleet.Model{Kind: fleet.KindRidge, Spec: fleet.Spec{Metrics: []string{"vibration_rms"}, Windows: []int{5}, Cap: 125, StepSeconds: 3600},
		Mean: []float64{1}, Scale: []float64{1}, Coef: []float64{0.5}, Intercept: 60, Coverage: 0.9, Intervals: []float64{5, 10, 20}}
	rep := fleet.Report{Kind: fleet.KindRidge, Units: 20, CalUnits: 8, ValidationRMSE: 30, ValidationCoverage: 0.9}
	trained := fleet.JudgeGate(m, rep, 48*time.Hour)
	require.True(t, trained.Passed)
	st48 := f.store.WithFleetLead(48 * time.Hour)
	_, err := st48.SaveModel(ctx, fleet.Version{AssetType: "pump", TrainedAt: at, Model: m, Report: rep, Gate: &trained})
	require.NoError(t, err)
	rul := 3600.0 * 50
	require.NoError(t, st48.SaveScore(ctx, fleet.Score{AssetID: f.asset.ID, AssetType: "pump", Version: 1, Status: fleet.StatusOK,
		ScoredAt: at, RUL: &rul, Lower: &rul, Upper: &rul}))

	v, err := st48.LatestModel(ctx, "pump")
	require.NoError(t, err)
	require.Equal(t, fleet.GateValidated, v.Gate.Status())
	require.True(t, v.OrdersAllowed())

	st24 := f.store.WithFleetLead(24 * time.Hour)
	v, err = st24.LatestModel(ctx, "pump")
	require.NoError(t, err)
	require.Equal(t, fleet.GateNotValidated, v.Gate.Status(), "judged again by the 24 h lead")
	require.False(t, v.OrdersAllowed())
	require.Len(t, v.Gate.Reasons, 1)
	require.Equal(t, fleet.ReasonHighRMSE, v.Gate.Reasons[0].Code)
	require.Equal(t, (24 * time.Hour).Seconds(), v.Gate.Rule.MaxRMSESeconds)
	all, err := st24.LatestModels(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.False(t, all[0].OrdersAllowed(), "the scorer's list too")
	sc, err := st24.Score(ctx, f.asset.ID)
	require.NoError(t, err)
	require.Equal(t, fleet.GateNotValidated, sc.Gate.Status())

	// A type with its own lead keeps the gate that lead gave.
	own := m
	own.LeadSeconds = (72 * time.Hour).Seconds()
	g72 := fleet.JudgeGate(own, rep, 72*time.Hour)
	_, err = st48.SaveModel(ctx, fleet.Version{AssetType: "pump", TrainedAt: at.Add(time.Hour), Model: own, Report: rep, Gate: &g72})
	require.NoError(t, err)
	v, err = st24.LatestModel(ctx, "pump")
	require.NoError(t, err)
	require.Equal(t, 2, v.Version)
	require.Equal(t, fleet.GateValidated, v.Gate.Status(), "the type's own 72 h lead")
}
