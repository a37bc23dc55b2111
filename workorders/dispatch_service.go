package workorders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openpdm/pdm/workorders/dispatch"
)

// DispatchRunner assigns approved, unassigned orders to engineers as one
// minimum-cost batch (workorders/dispatch), on approval, on decline, on
// demand and periodically, with one runner across replicas (an advisory
// lock). Through AfterTransition it also drives the parts side
// (Inventory) of assignment, decline, completion and cancellation.
type DispatchRunner struct {
	svc    *Service // assigns and declines (Act)
	orders dispatchOrders
	ops    DispatchStore
	inv    *Inventory
	cfg    dispatch.Config
	// Now is the clock.
	Now func() time.Time
	// Log receives the dispatcher's own log lines.
	Log *slog.Logger
	// Interval is how often Loop runs without a trigger (default 1 min).
	Interval time.Duration
	// Withhold, when set, leaves the orders it returns true for to people
	// (dispatch policy manual or claim; workorders/claims).
	Withhold func(ctx context.Context, o DispatchOrder) (bool, error)
	kick     chan string
}

// dispatchOrders is what the dispatcher reads of the ticket core (and its
// lock).
type dispatchOrders interface {
	GetOrder(ctx context.Context, id string) (Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, string, error)
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// NewDispatchRunner returns a DispatchRunner. inv may be nil (no parts handling).
func NewDispatchRunner(svc *Service, ops DispatchStore, inv *Inventory, cfg dispatch.Config, log *slog.Logger, now func() time.Time) (*DispatchRunner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispatch config: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DispatchRunner{svc: svc, orders: svc.Store, ops: ops, inv: inv, cfg: cfg, Now: now, Log: log, Interval: time.Minute,
		kick: make(chan string, 1)}, nil
}

// Config returns the cost model.
func (d *DispatchRunner) Config() dispatch.Config { return d.cfg }

// Kick asks Loop for a run soon; it never blocks.
func (d *DispatchRunner) Kick(reason string) {
	select {
	case d.kick <- reason:
	default:
	}
}

// Loop runs dispatch whenever kicked and every Interval until ctx ends.
// Run it in one goroutine per process; the advisory lock keeps replicas
// from dispatching at once.
func (d *DispatchRunner) Loop(ctx context.Context) error {
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		trigger := "periodic"
		select {
		case <-ctx.Done():
			return nil
		case r := <-d.kick:
			trigger = r
		case <-t.C:
		}
		if _, _, err := d.Run(ctx, trigger); err != nil && ctx.Err() == nil {
			d.Log.ErrorContext(ctx, "dispatch run failed", "trigger", trigger, "err", err)
		}
	}
}

// Run dispatches once under the dispatch lock. ran is false when another
// replica holds the lock (then nothing happens here).
func (d *DispatchRunner) Run(ctx context.Context, trigger string) (DispatchRun, bool, error) {
	var out DispatchRun
	ran, err := d.orders.WithLock(ctx, LockDispatch, func(ctx context.Context) error {
		var err error
		out, err = d.run(ctx, trigger)
		return err
	})
	return out, ran, err
}

// availability is when e is on shift from now over the horizon; an
// engineer without shifts counts as always on shift.
func (d *DispatchRunner) availability(e Engineer, now time.Time) []dispatch.Interval {
	end := now.Add(d.cfg.Horizon)
	if len(e.Shifts) == 0 {
		av := []dispatch.Interval{{Start: now, End: end}}
		for _, off := range e.TimeOff {
			av = subtractInterval(av, off)
		}
		return av
	}
	return dispatch.Availability(e.Shifts, e.Zone(), e.TimeOff, now, end)
}

func subtractInterval(iv []dispatch.Interval, off dispatch.Interval) []dispatch.Interval {
	var out []dispatch.Interval
	for _, x := range iv {
		if !off.Start.Before(x.End) || !off.End.After(x.Start) {
			out = append(out, x)
			continue
		}
		if off.Start.After(x.Start) {
			out = append(out, dispatch.Interval{Start: x.Start, End: off.Start})
		}
		if off.End.Before(x.End) {
			out = append(out, dispatch.Interval{Start: off.End, End: x.End})
		}
	}
	return out
}

func (d *DispatchRunner) run(ctx context.Context, trigger string) (DispatchRun, error) {
	now := d.Now().UTC()
	run := DispatchRun{Trigger: trigger, StartedAt: now, Jobs: []PlannedJob{}}
	if trigger == "periodic" && d.inv != nil {
		// Repair what a crash between an assignment and its reservation
		// left, and resume orders whose parts came in by other means.
		if err := d.inv.Reconcile(ctx); err != nil {
			run.Errors = append(run.Errors, "reconcile parts: "+err.Error())
		}
	}
	engineers, err := d.ops.ActiveEngineers(ctx)
	if err != nil {
		return run, err
	}
	byUser := map[string]Engineer{}
	av := map[string][]dispatch.Interval{}
	for _, e := range engineers {
		byUser[*e.UserID] = e
		av[e.ID] = d.availability(e, now)
	}
	// Assigned orders whose engineer will not be on shift before the due
	// time go back to the pool (declined by the dispatcher, reason
	// off_shift, which does not bar the engineer from them later).
	if err := d.redispatchOffShift(ctx, byUser, av, now, &run); err != nil {
		return run, err
	}
	b, err := d.solveBatch(ctx, now, byUser, av)
	if err != nil {
		return run, err
	}
	orders, byID, plan := b.orders, b.byID, b.plan
	run.Orders, run.Engineers, run.TotalCost = len(orders), len(byID), plan.TotalCost
	for i, ch := range plan.Choices {
		o := orders[i]
		job := PlannedJob{OrderID: o.ID, Number: o.Number, Priority: string(o.Priority), DueAt: o.DueAt,
			Candidates: ch.Candidates, Feasible: ch.Feasible, Excluded: ch.Excluded, Why: ch.Why, Outcome: "unassigned"}
		if ch.EngineerID != "" {
			e := byID[ch.EngineerID]
			job.EngineerID, job.EngineerName, job.AssigneeID, job.Cost = e.ID, e.Name, *e.UserID, ch.Cost
			job.TravelMinutes = &ch.Cost.TravelMinutes
			if o.DueAt != nil {
				job.SLASlackMinutes = &ch.Cost.SLASlackMinutes
			}
			_, err := d.svc.Act(ctx, o.ID, ActionRequest{Action: ActAssign, Actor: System("dispatcher"),
				AssigneeID: *e.UserID, Note: ch.Why, OnlyUnassigned: true})
			switch {
			case err == nil:
				job.Outcome = "assigned"
				run.Assigned++
			case errors.Is(err, ErrIllegalTransition) || errors.Is(err, ErrNotFound):
				// Changed while we planned (assigned by hand, cancelled).
				job.Outcome = "skipped"
				job.Why += "; skipped: " + err.Error()
			default:
				job.Outcome = "failed"
				run.Errors = append(run.Errors, fmt.Sprintf("assign %s: %v", o.Number, err))
			}
		}
		if job.Outcome == "unassigned" {
			run.Unassigned++
		}
		run.Jobs = append(run.Jobs, job)
	}
	run.FinishedAt = d.Now().UTC()
	run.Config = map[string]any{"road_factor": d.cfg.RoadFactor, "speed_kmh": d.cfg.SpeedKmh,
		"lateness_weight": d.cfg.LatenessWeight, "load_weight": d.cfg.LoadWeight, "horizon": d.cfg.Horizon.String()}
	if run.Orders == 0 && len(run.Errors) == 0 && trigger == "periodic" {
		return run, nil // an idle tick leaves no record
	}
	saved, err := d.ops.SaveDispatchRun(ctx, run)
	if err != nil {
		return run, err
	}
	if run.Orders > 0 {
		d.Log.InfoContext(ctx, "dispatch run", "trigger", trigger, "orders", run.Orders, "assigned", run.Assigned,
			"unassigned", run.Unassigned, "total_cost", run.TotalCost)
	}
	return saved, nil
}

// batch is one solved dispatch batch.
type batch struct {
	orders []DispatchOrder
	byID   map[string]Engineer
	plan   dispatch.Plan
}

// solveBatch prices and solves every approved, unassigned order against
// the active engineers (byUser and av are updated with the engineers'
// current loads), changing nothing.
func (d *DispatchRunner) solveBatch(ctx context.Context, now time.Time, byUser map[string]Engineer, av map[string][]dispatch.Interval) (batch, error) {
	orders, err := d.ops.DispatchOrders(ctx)
	if err != nil {
		return batch{}, err
	}
	if d.Withhold != nil {
		kept := orders[:0]
		for _, o := range orders {
			held, err := d.Withhold(ctx, o)
			if err != nil {
				return batch{}, err
			}
			if !held {
				kept = append(kept, o)
			}
		}
		orders = kept
	}
	// Engineers' loads are read after the off-shift pass changed them.
	engineers, err := d.ops.ActiveEngineers(ctx)
	if err != nil {
		return batch{}, err
	}
	in := make([]dispatch.Engineer, 0, len(engineers))
	byID := map[string]Engineer{}
	for _, e := range engineers {
		byID[e.ID] = e
		byUser[*e.UserID] = e
		if _, ok := av[e.ID]; !ok {
			av[e.ID] = d.availability(e, now)
		}
		in = append(in, dispatch.Engineer{ID: e.ID, Skills: e.Skills, Location: e.Position(),
			Available: av[e.ID], Open: e.OpenJobs, MaxOpen: e.MaxOpenJobs})
	}
	in2 := make([]dispatch.Order, 0, len(orders))
	for _, o := range orders {
		do := dispatch.Order{ID: o.ID, Priority: o.Priority.Rank(), Skills: RequiredSkillLevels(o.RequiredSkills),
			Duration: o.EstimatedDuration.D()}
		if do.Duration == 0 {
			do.Duration = time.Hour
		}
		if o.DueAt != nil {
			do.DueAt = *o.DueAt
		}
		if o.Position != nil {
			do.Location = *o.Position
		} else {
			do.Unlocated = true
		}
		for _, u := range o.Declined {
			if e, ok := byUser[u]; ok {
				do.Exclude = append(do.Exclude, e.ID)
			}
		}
		in2 = append(in2, do)
	}
	plan, err := dispatch.Solve(d.cfg, now, in2, in)
	if err != nil {
		return batch{}, err
	}
	return batch{orders: orders, byID: byID, plan: plan}, nil
}

// Preview is what a dispatch run would do now, changing nothing: every
// job's outcome is "proposed" or "unassigned", with its cost and reasons.
func (d *DispatchRunner) Preview(ctx context.Context) (DispatchRun, error) {
	now := d.Now().UTC()
	run := DispatchRun{Trigger: "preview", StartedAt: now, Jobs: []PlannedJob{}}
	b, err := d.solveBatch(ctx, now, map[string]Engineer{}, map[string][]dispatch.Interval{})
	if err != nil {
		return run, err
	}
	run.Orders, run.Engineers, run.TotalCost = len(b.orders), len(b.byID), b.plan.TotalCost
	for i, ch := range b.plan.Choices {
		o := b.orders[i]
		job := PlannedJob{OrderID: o.ID, Number: o.Number, Priority: string(o.Priority), DueAt: o.DueAt,
			Candidates: ch.Candidates, Feasible: ch.Feasible, Excluded: ch.Excluded, Why: ch.Why, Outcome: "unassigned"}
		if ch.EngineerID != "" {
			e := b.byID[ch.EngineerID]
			job.EngineerID, job.EngineerName, job.AssigneeID, job.Cost = e.ID, e.Name, *e.UserID, ch.Cost
			job.TravelMinutes = &ch.Cost.TravelMinutes
			if o.DueAt != nil {
				job.SLASlackMinutes = &ch.Cost.SLASlackMinutes
			}
			job.Outcome = "proposed"
			run.Assigned++
		} else {
			run.Unassigned++
		}
		run.Jobs = append(run.Jobs, job)
	}
	run.FinishedAt = d.Now().UTC()
	return run, nil
}

func (d *DispatchRunner) redispatchOffShift(ctx context.Context, byUser map[string]Engineer, av map[string][]dispatch.Interval, now time.Time, run *DispatchRun) error {
	assigned, err := d.ops.AssignedOrders(ctx)
	if err != nil {
		return err
	}
	for _, o := range assigned {
		if o.AssigneeID == nil {
			continue
		}
		e, ok := byUser[*o.AssigneeID]
		if !ok {
			continue // not a dispatchable engineer: a manual choice, respected
		}
		var due time.Time
		if o.DueAt != nil {
			due = *o.DueAt
		}
		deadline := dispatch.ShiftDeadline(d.cfg, now, due)
		if start, ok := firstStart(av[e.ID], now); ok && start.Before(deadline) {
			continue
		}
		_, err := d.svc.Act(ctx, o.ID, ActionRequest{Action: ActDecline, Actor: System("dispatcher"), Reason: "off_shift",
			Note: fmt.Sprintf("%s is not on shift before the due time; re-dispatching", e.Name)})
		if err != nil && !errors.Is(err, ErrIllegalTransition) {
			run.Errors = append(run.Errors, fmt.Sprintf("re-dispatch %s: %v", o.Number, err))
		}
	}
	return nil
}

func firstStart(av []dispatch.Interval, now time.Time) (time.Time, bool) {
	for _, iv := range av {
		if !iv.End.After(now) {
			continue
		}
		if iv.Start.After(now) {
			return iv.Start, true
		}
		return now, true
	}
	return time.Time{}, false
}

// AfterTransition reacts to committed transitions: approval, reopening,
// decline and new approved orders trigger dispatch; assignment reserves
// parts (or holds the order for them); decline, cancel and reject release
// them; completion consumes them. Bind it to Service.AfterTransition.
// Failures are logged; Reconcile (run periodically) repairs what they
// missed.
func (d *DispatchRunner) AfterTransition(ctx context.Context, o Order, e Event) {
	var err error
	switch o.Status {
	case StatusApproved:
		if d.inv != nil && (e.Type == "declined" || e.Type == "reopened") {
			err = d.inv.Release(ctx, o, e.Type)
		}
		d.Kick(e.Type)
	case StatusAssigned:
		if d.inv != nil && e.Type == string(StatusAssigned) {
			if e.From == StatusAssigned {
				// Reassigned: what was reserved for the previous engineer's
				// van goes back before the new engineer's reservation.
				err = d.inv.Release(ctx, o, "reassigned")
			}
			if err == nil {
				_, err = d.inv.Reserve(ctx, o)
			}
		}
	case StatusCompleted:
		if d.inv != nil {
			err = d.inv.Consume(ctx, o)
		}
	case StatusCancelled, StatusRejected:
		if d.inv != nil {
			err = d.inv.Release(ctx, o, string(o.Status))
		}
	}
	if err != nil {
		d.Log.ErrorContext(ctx, "parts after transition", "order_id", o.ID, "status", o.Status, "err", err)
	}
}

// Plan is what `GET /dispatch/plan` shows: the open assignments with
// travel and SLA slack, and the latest run with its explanations.
type Plan struct {
	GeneratedAt time.Time    `json:"generated_at"`
	Current     []CurrentJob `json:"current"`
	LastRun     *DispatchRun `json:"last_run"`
}

// CurrentJob is one open, assigned order now.
type CurrentJob struct {
	OrderID         string     `json:"order_id"`
	Number          string     `json:"number"`
	Status          Status     `json:"status"`
	Priority        Priority   `json:"priority"`
	AssigneeID      string     `json:"assignee_id"`
	EngineerID      string     `json:"engineer_id,omitempty"`
	EngineerName    string     `json:"engineer_name,omitempty"`
	DueAt           *time.Time `json:"due_at"`
	TravelMinutes   *float64   `json:"travel_minutes"`
	SLASlackMinutes *float64   `json:"sla_slack_minutes"`
}

// CurrentPlan builds the plan view.
func (d *DispatchRunner) CurrentPlan(ctx context.Context) (Plan, error) {
	now := d.Now().UTC()
	p := Plan{GeneratedAt: now, Current: []CurrentJob{}}
	run, err := d.ops.LatestDispatchRun(ctx)
	switch {
	case err == nil:
		p.LastRun = &run
	case !errors.Is(err, ErrNotFound):
		return p, err
	}
	engineers, err := d.ops.ActiveEngineers(ctx)
	if err != nil {
		return p, err
	}
	byUser := map[string]Engineer{}
	for _, e := range engineers {
		byUser[*e.UserID] = e
	}
	page := Page{Limit: 500}
	for range 20 {
		orders, next, err := d.orders.ListOrders(ctx, OrderFilter{
			Status: []Status{StatusAssigned, StatusAccepted, StatusEnRoute, StatusOnSite, StatusInProgress, StatusOnHold}, Page: page})
		if err != nil {
			return p, err
		}
		for _, o := range orders {
			if o.AssigneeID == nil {
				continue
			}
			j := CurrentJob{OrderID: o.ID, Number: o.Number, Status: o.Status, Priority: o.Priority,
				AssigneeID: *o.AssigneeID, DueAt: o.DueAt}
			e, ok := byUser[*o.AssigneeID]
			if ok {
				j.EngineerID, j.EngineerName = e.ID, e.Name
				pos, err := d.ops.OrderPosition(ctx, o.ID)
				if err != nil {
					return p, err
				}
				travel := 0.0
				if pos != nil && o.Status != StatusInProgress && o.Status != StatusOnSite {
					travel = d.cfg.TravelTime(e.Position(), *pos).Minutes()
				}
				j.TravelMinutes = &travel
				if o.DueAt != nil {
					finish := now.Add(time.Duration(travel * float64(time.Minute))).Add(o.EstimatedDuration.D())
					slack := o.DueAt.Sub(finish).Minutes()
					j.SLASlackMinutes = &slack
				}
			}
			p.Current = append(p.Current, j)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return p, nil
}
