package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

type fixture struct {
	svc   *workorders.Service
	store *postgres.Store
	site  workorders.Site
	asset workorders.Asset
	rule  rules.Rule
	admin workorders.Actor
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, _ := migratedStore(t)
	f := &fixture{store: store, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = workorders.NewService(store, nil, func() time.Time { return f.now })
	ctx := context.Background()
	var err error
	f.site, err = f.svc.CreateSite(ctx, workorders.Site{Code: "plant1", Name: "Plant 1"})
	require.NoError(t, err)
	f.asset, err = f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "pump-1", Type: "pump", Name: "Pump 1", Criticality: 3})
	require.NoError(t, err)
	crit, warn := 7.1, 4.5
	f.rule, err = f.svc.CreateRule(ctx, rules.Rule{Name: "bearing wear", AssetType: "pump", Metric: "vibration_rms",
		Direction: rules.Above, Warn: &warn, Critical: &crit, FailureMode: "bearing_wear", Priority: "P3",
		Skills: []string{"vibration"}, Parts: []rules.PartQty{{SKU: "BRG-6205", Qty: 2}},
		EstimatedDuration: rules.Duration(2 * time.Hour), Enabled: true})
	require.NoError(t, err)
	u, _, err := f.svc.CreateUser(ctx, "alice", workorders.RoleAdmin)
	require.NoError(t, err)
	f.admin = workorders.ActorOf(u)
	return f
}

func (f *fixture) signal(kind rules.Kind, at time.Time) rules.Signal {
	return rules.Signal{Kind: kind, Level: rules.LevelCritical, RuleID: f.rule.ID, Site: "plant1", Asset: "pump-1",
		Metric: "vibration_rms", Value: 7.5, Limit: 7.1, DetectedAt: at,
		Evidence: map[string]any{"breach_start": at.Add(-5 * time.Minute), "values": []float64{7.2, 7.5}}}
}

func TestHandleSignalCreatesOneOrderPerFailureMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)

	// A warning only records the signal.
	warn := f.signal(rules.KindThreshold, at)
	warn.Level = rules.LevelWarn
	require.NoError(t, f.svc.HandleSignal(ctx, warn))
	list, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{})
	require.NoError(t, err)
	require.Empty(t, list)

	// Critical trend signal: a proposed trend order with the prediction.
	tr := f.signal(rules.KindTrend, at)
	tr.Prediction = &rules.Prediction{Model: "linear", Slope: 0.1, R2: 0.9, Points: 40,
		WindowStart: at.Add(-12 * time.Hour), WindowEnd: at,
		CrossingAt: at.Add(96 * time.Hour), CrossingEarliest: at.Add(80 * time.Hour), CrossingLatest: at.Add(120 * time.Hour)}
	_, o, err := f.svc.HandleSignalOrder(ctx, tr)
	require.NoError(t, err)
	require.NotNil(t, o)
	require.Equal(t, workorders.StatusProposed, o.Status)
	require.Equal(t, workorders.SourceTrend, o.Source)
	require.Equal(t, "bearing_wear", o.FailureMode)
	require.Equal(t, workorders.P3, o.Priority)
	require.Equal(t, f.site.ID, o.SiteID)
	require.Equal(t, []string{"vibration"}, o.RequiredSkills)
	require.Equal(t, []rules.PartQty{{SKU: "BRG-6205", Qty: 2}}, o.Parts)
	require.True(t, o.DetectedAt.Equal(at))
	require.True(t, o.PredictedFailureEarliest.Equal(at.Add(80*time.Hour)))
	require.True(t, o.DueAt.Before(at.Add(80*time.Hour)), "due %v before earliest crossing", o.DueAt)
	require.Regexp(t, `^WO-\d{6}$`, o.Number)

	// New evidence (a threshold breach) updates the same order: priority raised.
	_, o2, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, at.Add(time.Hour)))
	require.NoError(t, err)
	require.Equal(t, o.ID, o2.ID)
	require.Equal(t, workorders.P2, o2.Priority)
	require.Equal(t, 2, o2.SignalCount)
	require.True(t, o2.PredictedFailureEarliest.Equal(at.Add(80*time.Hour)), "keeps the latest prediction")

	list, _, err = f.svc.ListOrders(ctx, workorders.OrderFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	d, err := f.svc.OrderDetail(ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, d.Events, 2)
	require.Equal(t, workorders.EventEvidence, d.Events[1].Type)
	require.Len(t, d.Signals, 2)

	// Signals of an unknown asset are stored, no order.
	unk := f.signal(rules.KindThreshold, at)
	unk.Asset = "nope"
	require.NoError(t, f.svc.HandleSignal(ctx, unk))
	sigs, _, err := f.svc.ListSignals(ctx, workorders.SignalFilter{})
	require.NoError(t, err)
	require.Len(t, sigs, 4)
}

// A signal of a reading that came late (re-evaluated in event time) and
// shows the fault before the order's detection moves the detection (and
// the source) to it; it never replaces the newer evidence or prediction.
func TestLateEarlierSignalMovesDetection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	trend := func(at time.Time, crossing time.Duration) rules.Signal {
		s := f.signal(rules.KindTrend, at)
		s.Prediction = &rules.Prediction{Model: "linear", Slope: 0.1, R2: 0.9, Points: 40,
			WindowStart: at.Add(-12 * time.Hour), WindowEnd: at, CrossingAt: at.Add(crossing),
			CrossingEarliest: at.Add(crossing - 10*time.Hour), CrossingLatest: at.Add(crossing + 10*time.Hour)}
		return s
	}
	// The live copy: a threshold breach opens the order at +30 h.
	_, o, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, at.Add(30*time.Hour)))
	require.NoError(t, err)
	require.Equal(t, workorders.SourceThreshold, o.Source)
	// A newer trend signal: the latest evidence, detection unchanged.
	newer := trend(at.Add(31*time.Hour), 20*time.Hour)
	_, o, err = f.svc.HandleSignalOrder(ctx, newer)
	require.NoError(t, err)
	require.True(t, o.DetectedAt.Equal(at.Add(30*time.Hour)), "detected %v", o.DetectedAt)
	require.True(t, o.PredictedFailureAt.Equal(newer.Prediction.CrossingAt))
	// The late one: readings of +0 h re-evaluated after both.
	late := trend(at, 60*time.Hour)
	_, o2, err := f.svc.HandleSignalOrder(ctx, late)
	require.NoError(t, err)
	require.Equal(t, o.ID, o2.ID, "folded into the open order")
	require.Equal(t, 3, o2.SignalCount)
	require.True(t, o2.DetectedAt.Equal(at), "detected %v, want the late reading's %v", o2.DetectedAt, at)
	require.Equal(t, workorders.SourceTrend, o2.Source, "raised first by the trend")
	require.True(t, o2.PredictedFailureAt.Equal(newer.Prediction.CrossingAt), "keeps the newer prediction, got %v", o2.PredictedFailureAt)
	require.Contains(t, string(o2.Evidence), at.Add(31*time.Hour).Format(time.RFC3339), "keeps the newer evidence")
	require.True(t, o2.DueAt.Equal(*o.DueAt) || o2.DueAt.Before(*o.DueAt), "due never later")
	d, err := f.svc.OrderDetail(ctx, o.ID)
	require.NoError(t, err)
	require.Contains(t, d.Events[len(d.Events)-1].Note, "detected earlier, at "+at.Format(time.RFC3339))
	// Read back from the store, not only the returned copy.
	got, err := f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.True(t, got.DetectedAt.Equal(at))
	require.Equal(t, workorders.SourceTrend, got.Source)
	// The same late signal again changes nothing.
	_, o3, err := f.svc.HandleSignalOrder(ctx, late)
	require.NoError(t, err)
	require.Equal(t, 3, o3.SignalCount)
	// History from weeks before (imported later) is evidence, not this
	// order's detection.
	_, o4, err := f.svc.HandleSignalOrder(ctx, trend(at.Add(-workorders.LateDetectionSpan-time.Hour), 60*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, o4.SignalCount)
	require.True(t, o4.DetectedAt.Equal(at), "detected %v", o4.DetectedAt)
}

func TestConcurrentSignalsMakeOneOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.svc.HandleSignal(ctx, f.signal(rules.KindThreshold, at.Add(time.Duration(i)*time.Minute)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	list, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, 8, list[0].SignalCount)
}

func TestOpenAutoOrderUniqueInDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, _, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, f.now))
	require.NoError(t, err)
	// Bypassing the code path, the partial unique index still refuses a second open auto order.
	_, err = f.store.Pool().Exec(ctx, `insert into work_orders (asset_id, site_id, title, source, failure_mode, priority, status)
		values ($1, $2, 'dup', 'threshold', 'bearing_wear', 'P3', 'proposed')`, f.asset.ID, f.site.ID)
	require.ErrorContains(t, err, "work_orders_one_open_auto")
}

func TestAutoApproveAndRepeatFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.rule.AutoApprove = true
	_, err := f.svc.UpdateRule(ctx, f.rule)
	require.NoError(t, err)
	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	_, o, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, at))
	require.NoError(t, err)
	require.Equal(t, workorders.StatusApproved, o.Status)
	eng, _, err := f.svc.CreateUser(ctx, "bob", workorders.RoleEngineer)
	require.NoError(t, err)
	for _, a := range []workorders.ActionRequest{
		{Action: workorders.ActAssign, AssigneeID: eng.ID}, {Action: workorders.ActAccept}, {Action: workorders.ActStart},
		{Action: workorders.ActComplete, Resolution: "replaced bearing", LabourTime: rules.Duration(time.Hour)},
	} {
		a.Actor = f.admin
		_, err := f.svc.Act(ctx, o.ID, a)
		require.NoError(t, err, a.Action)
	}
	waiting, _, err := f.svc.AwaitingVerification(ctx, workorders.Page{})
	require.NoError(t, err)
	require.Len(t, waiting, 1)
	// Completed at f.now (2026-03-01); the failure comes back 5 days later.
	_, o2, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, f.now.Add(5*24*time.Hour)))
	require.NoError(t, err)
	require.NotEqual(t, o.ID, o2.ID)
	require.NotNil(t, o2.FollowUpOf)
	require.Equal(t, o.ID, *o2.FollowUpOf)
	require.NoError(t, f.svc.Verify(ctx, o.ID, map[string]any{"healthy_for": "24h"}))
	require.ErrorIs(t, f.svc.Verify(ctx, o.ID, nil), workorders.ErrIllegalTransition)
}

func TestConcurrentApprovalsOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, o, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, f.now))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActApprove, Actor: f.admin})
		}()
	}
	wg.Wait()
	ok, illegal := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, workorders.ErrIllegalTransition):
			illegal++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, illegal)
	evs, err := f.svc.ListEvents(ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, evs, 2, "created + one approval")
}

func TestIllegalTransitionChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, o, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, f.now))
	require.NoError(t, err)
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActComplete, Actor: f.admin})
	require.ErrorIs(t, err, workorders.ErrIllegalTransition)
	got, err := f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, o.Status, got.Status)
	require.True(t, o.UpdatedAt.Equal(got.UpdatedAt))
	evs, err := f.svc.ListEvents(ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

func TestEventsAreAppendOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, o, err := f.svc.HandleSignalOrder(ctx, f.signal(rules.KindThreshold, f.now))
	require.NoError(t, err)
	_, err = f.store.Pool().Exec(ctx, `update work_order_events set note = 'x' where order_id = $1`, o.ID)
	require.ErrorContains(t, err, "append-only")
	_, err = f.store.Pool().Exec(ctx, `delete from work_order_events where order_id = $1`, o.ID)
	require.ErrorContains(t, err, "append-only")
	_, err = f.store.Pool().Exec(ctx, `truncate work_order_events cascade`)
	require.ErrorContains(t, err, "append-only")
}

func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	store, _ := migratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	ctx := context.Background()
	tok, err := svc.BootstrapAdmin(ctx, "")
	require.NoError(t, err)
	require.NotEmpty(t, tok)
	u, err := svc.Authenticate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, workorders.RoleAdmin, u.Role)
	again, err := svc.BootstrapAdmin(ctx, "")
	require.NoError(t, err)
	require.Empty(t, again, "generated only at first start")
	fixed := "fixed-admin-token-0123456789"
	_, err = svc.BootstrapAdmin(ctx, fixed)
	require.NoError(t, err)
	_, err = svc.BootstrapAdmin(ctx, fixed)
	require.NoError(t, err, "idempotent")
	u2, err := svc.Authenticate(ctx, fixed)
	require.NoError(t, err)
	require.Equal(t, u.ID, u2.ID)
	_, err = svc.Authenticate(ctx, "wrong")
	require.ErrorIs(t, err, workorders.ErrUnauthenticated)
}

func TestRulesVersionMoves(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	v1, err := f.svc.RulesVersion(ctx)
	require.NoError(t, err)
	f.rule.Enabled = false
	_, err = f.svc.UpdateRule(ctx, f.rule)
	require.NoError(t, err)
	v2, err := f.svc.RulesVersion(ctx)
	require.NoError(t, err)
	require.Greater(t, v2, v1)
	en, err := f.svc.EnabledRules(ctx)
	require.NoError(t, err)
	require.Empty(t, en)
	ref, err := f.svc.AssetByCode(ctx, "plant1", "pump-1")
	require.NoError(t, err)
	require.Equal(t, workorders.AssetRef{ID: f.asset.ID, SiteCode: "plant1", Code: "pump-1", Type: "pump", Criticality: 3}, ref)
}
