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

func TestDispatchRunAssignsBatchAndExplains(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	near := f.engineer(t, "near", workorders.Location{Lat: 48.11, Lon: 11.5}, workorders.SkillLevels{"vibration": 1})
	far := f.engineer(t, "far", workorders.Location{Lat: 48.6, Lon: 11.5}, workorders.SkillLevels{"vibration": 3, "electrical": 2})
	off := f.engineer(t, "off", workorders.Location{Lat: 48.1, Lon: 11.5}, workorders.SkillLevels{"vibration": 3})
	off.TimeOff = []dispatch.Interval{{Start: f.now.Add(-time.Hour), End: f.now.Add(72 * time.Hour)}}
	_, err := f.ops.UpdateEngineer(ctx, off)
	require.NoError(t, err)

	basic := f.order(t, "basic", nil, "vibration")
	expert := f.order(t, "expert", nil, "vibration:2")
	elec := f.order(t, "electrical", nil, "electrical:2", "vibration")

	run, ran, err := f.disp.Run(ctx, "test")
	require.NoError(t, err)
	require.True(t, ran)
	require.Equal(t, 3, run.Orders)
	require.Equal(t, 3, run.Assigned)
	got := map[string]string{}
	for _, j := range run.Jobs {
		got[j.OrderID] = j.EngineerName
		require.NotEmpty(t, j.Why)
		require.NotNil(t, j.TravelMinutes)
		require.NotNil(t, j.SLASlackMinutes)
		if j.OrderID == basic.ID {
			require.Equal(t, 1, j.Excluded[dispatch.ReasonShift], "the engineer on leave is never a candidate")
		}
	}
	require.Equal(t, map[string]string{basic.ID: "near", expert.ID: "far", elec.ID: "far"}, got)
	for id, who := range got {
		o, err := f.svc.GetOrder(ctx, id)
		require.NoError(t, err)
		require.Equal(t, workorders.StatusAssigned, o.Status)
		want := near.UserID
		if who == "far" {
			want = far.UserID
		}
		require.Equal(t, *want, *o.AssigneeID)
	}

	plan, err := f.disp.CurrentPlan(ctx)
	require.NoError(t, err)
	require.Len(t, plan.Current, 3)
	require.NotNil(t, plan.LastRun)
	require.Equal(t, run.ID, plan.LastRun.ID)

	// A decline sends the order back; the next run gives it to someone
	// else and never back to the engineer who declined.
	u := *near.UserID
	_, err = f.svc.Act(ctx, basic.ID, workorders.ActionRequest{Action: workorders.ActDecline, Reason: "too busy",
		Actor: workorders.Actor{ID: &u, Name: "near", Role: workorders.RoleEngineer}})
	require.NoError(t, err)
	run, _, err = f.disp.Run(ctx, "declined")
	require.NoError(t, err)
	require.Equal(t, 1, run.Orders)
	require.Equal(t, "far", run.Jobs[0].EngineerName)
	require.Equal(t, 1, run.Jobs[0].Excluded[dispatch.ReasonDeclined])

	// Nothing to do: an empty run.
	run, _, err = f.disp.Run(ctx, "again")
	require.NoError(t, err)
	require.Zero(t, run.Orders)
}

func TestDispatchOneRunnerAcrossReplicas(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	f.engineer(t, "e1", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	f.order(t, "job", nil)
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := f.store.WithLock(ctx, workorders.LockDispatch, func(ctx context.Context) error {
			close(held)
			<-release
			return nil
		})
		done <- err
	}()
	<-held
	_, ran, err := f.disp.Run(ctx, "second replica")
	require.NoError(t, err)
	require.False(t, ran, "a second runner must not dispatch while the lock is held")
	close(release)
	require.NoError(t, <-done)
	run, ran, err := f.disp.Run(ctx, "after")
	require.NoError(t, err)
	require.True(t, ran)
	require.Equal(t, 1, run.Assigned)
}

func TestOffShiftRedispatch(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	a := f.engineer(t, "a", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	o := f.order(t, "job", nil)
	run, _, err := f.disp.Run(ctx, "test")
	require.NoError(t, err)
	require.Equal(t, 1, run.Assigned)
	manual := f.order(t, "planner's choice", nil)
	_, err = f.svc.Act(ctx, manual.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *a.UserID, Actor: f.admin})
	require.NoError(t, err)
	// a goes on leave; b is around.
	a.TimeOff = []dispatch.Interval{{Start: f.now.Add(-time.Hour), End: f.now.Add(48 * time.Hour)}}
	_, err = f.ops.UpdateEngineer(ctx, a)
	require.NoError(t, err)
	f.engineer(t, "b", workorders.Location{Lat: 48.2, Lon: 11.5}, nil)
	run, _, err = f.disp.Run(ctx, "periodic")
	require.NoError(t, err)
	require.Equal(t, 1, run.Assigned)
	require.Equal(t, o.ID, run.Jobs[0].OrderID)
	require.Equal(t, "b", run.Jobs[0].EngineerName)
	evs, err := f.svc.ListEvents(ctx, o.ID)
	require.NoError(t, err)
	var declined bool
	for _, e := range evs {
		if e.Type == "declined" && e.Actor == "dispatcher" {
			declined = true
		}
	}
	require.True(t, declined, "the off-shift re-dispatch is recorded as the dispatcher's decline")
	// The planner's manual assignment is respected.
	got, err := f.svc.GetOrder(ctx, manual.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Equal(t, *a.UserID, *got.AssigneeID)
}

// TestPartsFollowTheOrder walks the parts through the life cycle: reserve
// on assignment (van first, then the nearest warehouse), wait on hold with
// one purchase request when short, resume on receipt, consume what was used
// and release the rest on completion.
func TestPartsFollowTheOrder(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	near := f.warehouse(t, "NEAR", &workorders.Location{Lat: 48.12, Lon: 11.5})
	farWh := f.warehouse(t, "FAR", &workorders.Location{Lat: 49.5, Lon: 11.5})
	f.part(t, "BRG")
	e := f.engineer(t, "eng", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	f.receive(t, *e.VanID, "BRG", 1)
	f.receive(t, farWh.ID, "BRG", 1)

	o := f.order(t, "bearing", []rules.PartQty{{SKU: "BRG", Qty: 3}})
	o2 := f.order(t, "bearing too", []rules.PartQty{{SKU: "BRG", Qty: 1}})
	engActor := workorders.Actor{ID: e.UserID, Name: "eng", Role: workorders.RoleEngineer}
	_, err := f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *e.UserID, Actor: f.admin})
	require.NoError(t, err)

	// 3 needed, 2 in stock: nothing reserved, the order waits.
	got, err := f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusOnHold, got.Status)
	require.Equal(t, workorders.HoldWaitingForParts, got.HoldReason)
	st, err := f.ops.OrderPartsState(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.PartsWaiting, st.State)
	require.Equal(t, []workorders.ShortageAt{{SKU: "BRG", Qty: 1, LocationID: near.ID}}, st.Shortages)
	_, res := f.stock(t, *e.VanID, "BRG")
	require.Zero(t, res)
	// It was never started, so the engineer cannot resume it into work.
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActResume, Actor: engActor})
	require.ErrorIs(t, err, workorders.ErrIllegalTransition)
	got, err = f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusOnHold, got.Status, "a refused resume changes nothing")

	// The second order waits too (the first holds nothing, but the
	// reservation is all-or-nothing per order and 1 unit is on the van).
	_, err = f.svc.Act(ctx, o2.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *e.UserID, Actor: f.admin})
	require.NoError(t, err)
	got2, err := f.svc.GetOrder(ctx, o2.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got2.Status, "one unit on the van is enough for the second order")

	prs, _, err := f.ops.ListPurchaseRequests(ctx, workorders.PurchaseFilter{Status: workorders.PROpen})
	require.NoError(t, err)
	require.Len(t, prs, 1, "one open request per part and location")
	require.Equal(t, near.ID, prs[0].LocationID, "requested at the warehouse nearest to the job")

	// Receiving resumes the waiting order, to the status it had.
	_, err = f.inv.Receive(ctx, prs[0].ID, 5, "test")
	require.NoError(t, err)
	got, err = f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Empty(t, got.HoldReason)
	st, err = f.ops.OrderPartsState(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.PartsReserved, st.State)
	// The van's unit went to o2 first; o takes near (nearest) then far.
	require.Equal(t, []workorders.Allocation{{SKU: "BRG", LocationID: near.ID, Qty: 3}}, st.Reservations)

	// Engineer does the job, uses 2 of 3.
	for _, a := range []workorders.Action{workorders.ActAccept, workorders.ActStart} {
		_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: a, Actor: engActor})
		require.NoError(t, err)
	}
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActComplete, Actor: engActor,
		Resolution: "replaced bearings", PartsUsed: []rules.PartQty{{SKU: "BRG", Qty: 2}}})
	require.NoError(t, err)
	onHand, res := f.stock(t, near.ID, "BRG")
	require.Equal(t, []int{3, 0}, []int{onHand, res}, "5 received, 2 consumed, 1 released")
	st, err = f.ops.OrderPartsState(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.PartsConsumed, st.State)

	// Cancelling o2 releases the van's unit.
	_, err = f.svc.Act(ctx, o2.ID, workorders.ActionRequest{Action: workorders.ActCancel, Reason: "not needed", Actor: f.admin})
	require.NoError(t, err)
	onHand, res = f.stock(t, *e.VanID, "BRG")
	require.Equal(t, []int{1, 0}, []int{onHand, res})
	f.checkLedger(t)

	moves, _, err := f.ops.ListMovements(ctx, workorders.MovementFilter{OrderID: o.ID})
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, m := range moves {
		kinds[m.Kind]++
	}
	require.Equal(t, map[string]int{"reserve": 1, "consume": 1, "release": 1}, kinds)

	// Reopened, the order is a new job: the next assignment reserves again.
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActReopen, Actor: f.admin})
	require.NoError(t, err)
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *e.UserID, Actor: f.admin})
	require.NoError(t, err)
	st, err = f.ops.OrderPartsState(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.PartsReserved, st.State)
	f.checkLedger(t)
}

func TestReorderUsesPredictedDemandOnce(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	wh := f.warehouse(t, "W1", &workorders.Location{Lat: 48.1, Lon: 11.5})
	f.part(t, "BRG")
	f.part(t, "SEAL")
	f.receive(t, wh.ID, "BRG", 4)
	f.receive(t, wh.ID, "SEAL", 1)
	_, err := f.ops.SetStockPolicy(ctx, wh.ID, "BRG", 2, 10)
	require.NoError(t, err)
	_, err = f.ops.SetStockPolicy(ctx, wh.ID, "SEAL", 2, 5)
	require.NoError(t, err)

	// Static reorder point only: SEAL (1 < 2) is reordered, BRG (4) not.
	require.NoError(t, f.inv.RunReorder(ctx))
	prs, _, err := f.ops.ListPurchaseRequests(ctx, workorders.PurchaseFilter{})
	require.NoError(t, err)
	require.Len(t, prs, 1)
	require.Equal(t, "SEAL", prs[0].SKU)
	require.Equal(t, workorders.PRReasonReorder, prs[0].Reason)

	// A prediction (a trend order for the asset) names 3 bearings within
	// the horizon: 4 - 3 = 1 < 2, so BRG is reordered for the forecast.
	f.order(t, "predicted bearing failure", []rules.PartQty{{SKU: "BRG", Qty: 3}})
	rows, _, err := f.inv.Stock(ctx, workorders.StockFilter{SKU: "BRG"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, 3.0, rows[0].Demand)
	require.Equal(t, 10, rows[0].Suggested)
	require.NoError(t, f.inv.RunReorder(ctx))
	require.NoError(t, f.inv.RunReorder(ctx)) // idempotent
	prs, _, err = f.ops.ListPurchaseRequests(ctx, workorders.PurchaseFilter{Status: workorders.PROpen})
	require.NoError(t, err)
	require.Len(t, prs, 2)
	bySKU := map[string]workorders.PurchaseRequest{}
	for _, p := range prs {
		bySKU[p.SKU] = p
	}
	require.Equal(t, workorders.PRReasonForecast, bySKU["BRG"].Reason)
	require.Equal(t, 10, bySKU["BRG"].Qty)

	// A manual second request for the same part and location conflicts.
	p, err := f.ops.GetPart(ctx, "BRG")
	require.NoError(t, err)
	_, created, err := f.ops.EnsurePurchaseRequest(ctx, p.ID, wh.ID, 1, workorders.PRReasonManual, "")
	require.NoError(t, err)
	require.False(t, created)
	_, err = f.pool.Exec(ctx, `insert into purchase_requests (part_id, location_id, qty, reason) values ($1, $2, 1, 'manual')`, p.ID, wh.ID)
	require.ErrorContains(t, err, "purchase_requests_one_open")
}

// TestApprovalTriggersDispatch: with the loop running, approving an order
// (here: creating a manual order, which starts approved) gets it assigned
// without a manual run or a timer tick.
func TestApprovalTriggersDispatch(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.disp.Interval = time.Hour // only kicks
	done := make(chan error, 1)
	go func() { done <- f.disp.Loop(ctx) }()
	e := f.engineer(t, "e1", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	o := f.order(t, "job", nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := f.svc.GetOrder(context.Background(), o.ID)
		require.NoError(t, err)
		if got.Status == workorders.StatusAssigned {
			require.Equal(t, *e.UserID, *got.AssigneeID)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s after 20 s", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
}

// TestCrashBetweenAssignAndReserve: the assignment commits but the
// process dies before the parts hook runs (simulated by unbinding the
// hook). The next periodic run reserves the parts.
func TestCrashBetweenAssignAndReserve(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	wh := f.warehouse(t, "W1", &workorders.Location{Lat: 48.1, Lon: 11.5})
	f.part(t, "BRG")
	f.receive(t, wh.ID, "BRG", 2)
	e := f.engineer(t, "e1", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	o := f.order(t, "job", []rules.PartQty{{SKU: "BRG", Qty: 2}})
	f.svc.AfterTransition = nil // the crash
	_, err := f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *e.UserID, Actor: f.admin})
	require.NoError(t, err)
	_, res := f.stock(t, wh.ID, "BRG")
	require.Zero(t, res, "nothing reserved yet")
	f.svc.AfterTransition = f.disp.AfterTransition // restarted
	_, ran, err := f.disp.Run(ctx, "periodic")
	require.NoError(t, err)
	require.True(t, ran)
	_, res = f.stock(t, wh.ID, "BRG")
	require.Equal(t, 2, res)
	st, err := f.ops.OrderPartsState(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.PartsReserved, st.State)
	// Reconciling again changes nothing (idempotent).
	require.NoError(t, f.inv.Reconcile(ctx))
	_, res = f.stock(t, wh.ID, "BRG")
	require.Equal(t, 2, res)
	f.checkLedger(t)
}
