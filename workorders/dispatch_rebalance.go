package workorders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openpdm/pdm/workorders/dispatch"
)

// Rebalance is what re-optimizing the dispatcher's open assignments would
// change: orders the dispatcher assigned that nobody accepted yet are
// planned again together with the waiting ones, and each such order whose
// best engineer changed is a move. CostBefore prices the current
// assignments (the same orders, each pinned to its engineer) and
// CostAfter the re-optimized plan, in the dispatcher's cost model; the
// moves are worth it when CostAfter is lower.
type Rebalance struct {
	At         time.Time `json:"at"`
	CostBefore float64   `json:"cost_before"`
	CostAfter  float64   `json:"cost_after"`
	// Saving is CostBefore - CostAfter (positive: the moves lower the cost).
	Saving float64 `json:"saving"`
	Moves  []Move  `json:"moves"`
	// Movable counts the assigned, not yet accepted orders considered.
	Movable int `json:"movable"`
}

// Move is one assigned order the optimizer would give to another engineer.
type Move struct {
	OrderID          string  `json:"order_id"`
	Number           string  `json:"number"`
	Priority         string  `json:"priority"`
	FromEngineerID   string  `json:"from_engineer_id"`
	FromEngineerName string  `json:"from_engineer_name"`
	ToEngineerID     string  `json:"to_engineer_id"`
	ToEngineerName   string  `json:"to_engineer_name"`
	CostBefore       float64 `json:"cost_before"`
	CostAfter        float64 `json:"cost_after"`
	Why              string  `json:"why"`
}

// minSaving is the least total cost a rebalance must save to be proposed
// or applied (noise in the cost model is not worth a reassignment).
const minSaving = 0.01

// Rebalance plans the dispatcher's assigned-but-not-accepted orders again
// with the waiting ones, changing nothing.
func (d *DispatchRunner) Rebalance(ctx context.Context) (Rebalance, error) {
	now := d.Now().UTC()
	out := Rebalance{At: now, Moves: []Move{}}
	engineers, err := d.ops.ActiveEngineers(ctx)
	if err != nil {
		return out, err
	}
	byUser := map[string]Engineer{}
	byID := map[string]Engineer{}
	for _, e := range engineers {
		byUser[*e.UserID], byID[e.ID] = e, e
	}
	assigned, err := d.ops.AssignedOrders(ctx)
	if err != nil {
		return out, err
	}
	var movable []DispatchOrder
	current := map[string]string{} // order id → engineer id
	held := map[string]int{}       // engineer id → movable orders held
	for _, o := range assigned {
		if o.AssigneeID == nil {
			continue
		}
		e, ok := byUser[*o.AssigneeID]
		if !ok {
			continue
		}
		pos, err := d.ops.OrderPosition(ctx, o.ID)
		if err != nil {
			return out, err
		}
		movable = append(movable, DispatchOrder{Order: o, Position: pos})
		current[o.ID] = e.ID
		held[e.ID]++
	}
	out.Movable = len(movable)
	if len(movable) == 0 {
		return out, nil
	}
	waiting, err := d.ops.DispatchOrders(ctx)
	if err != nil {
		return out, err
	}
	orders := append(append([]DispatchOrder{}, movable...), waiting...)
	in := make([]dispatch.Engineer, 0, len(engineers))
	for _, e := range engineers {
		in = append(in, dispatch.Engineer{ID: e.ID, Skills: e.Skills, Location: e.Position(),
			Available: d.availability(e, now), Open: max(e.OpenJobs-held[e.ID], 0), MaxOpen: e.MaxOpenJobs})
	}
	free := make([]dispatch.Order, len(orders))
	pinned := make([]dispatch.Order, len(orders))
	for i, o := range orders {
		free[i] = dispatchInput(o, byUser)
		pinned[i] = free[i]
		if eid, ok := current[o.ID]; ok {
			pinned[i].Exclude = nil
			for _, e := range engineers {
				if e.ID != eid {
					pinned[i].Exclude = append(pinned[i].Exclude, e.ID)
				}
			}
		}
	}
	before, err := dispatch.Solve(d.cfg, now, pinned, in)
	if err != nil {
		return out, err
	}
	after, err := dispatch.Solve(d.cfg, now, free, in)
	if err != nil {
		return out, err
	}
	out.CostBefore, out.CostAfter = before.TotalCost, after.TotalCost
	out.Saving = before.TotalCost - after.TotalCost
	if out.Saving < minSaving {
		return out, nil
	}
	for i, o := range movable {
		from, to := current[o.ID], after.Choices[i].EngineerID
		if to == "" || to == from {
			continue
		}
		m := Move{OrderID: o.ID, Number: o.Number, Priority: string(o.Priority), FromEngineerID: from,
			FromEngineerName: byID[from].Name, ToEngineerID: to, ToEngineerName: byID[to].Name, Why: after.Choices[i].Why}
		if c := before.Choices[i].Cost; c != nil {
			m.CostBefore = c.Total
		}
		if c := after.Choices[i].Cost; c != nil {
			m.CostAfter = c.Total
		}
		out.Moves = append(out.Moves, m)
	}
	return out, nil
}

// dispatchInput is an order as the solver sees it.
func dispatchInput(o DispatchOrder, byUser map[string]Engineer) dispatch.Order {
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
	return do
}

// ApplyMoves reassigns each (order, engineer) move under the dispatch
// lock, as actor; an order no longer assigned-and-not-accepted, or an
// engineer who is gone, is skipped and said so. ran is false when another
// replica holds the lock.
func (d *DispatchRunner) ApplyMoves(ctx context.Context, actor Actor, moves [][2]string) (DispatchRun, bool, error) {
	return d.applyPairs(ctx, actor, moves, applyKind{trigger: "rebalance", verb: "reassign", since: "the proposal",
		order: func(ctx context.Context, id string) (Order, string, error) {
			o, err := d.orders.GetOrder(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound):
				return o, "no such order", nil
			case err != nil:
				return o, "", err
			case o.Status != StatusAssigned:
				return o, fmt.Sprintf("%s is %s now, no longer only assigned", o.Number, o.Status), nil
			}
			return o, "", nil
		},
		held: func(o Order, e Engineer) string {
			if o.AssigneeID != nil && *o.AssigneeID == *e.UserID {
				return e.Name + " holds it already"
			}
			return ""
		},
		request: func(userID string) ActionRequest {
			return ActionRequest{Action: ActAssign, Actor: actor, AssigneeID: userID,
				Note: "moved by the optimizer (lower total cost), approved by " + actor.Name}
		}})
}

// RebalanceJob applies the optimizer's moves on its own (the setting
// PDM_DISPATCH_REBALANCE=auto): when re-planning the dispatcher's
// assigned, not yet accepted orders lowers the total cost, they move.
func (d *DispatchRunner) RebalanceJob(ctx context.Context) error {
	rb, err := d.Rebalance(ctx)
	if err != nil || len(rb.Moves) == 0 {
		return err
	}
	moves := make([][2]string, len(rb.Moves))
	for i, m := range rb.Moves {
		moves[i] = [2]string{m.OrderID, m.ToEngineerID}
	}
	run, _, err := d.ApplyMoves(ctx, System("dispatcher"), moves)
	if err == nil {
		d.Log.InfoContext(ctx, "rebalanced", "moves", run.Assigned, "saving", rb.Saving)
	}
	return err
}
