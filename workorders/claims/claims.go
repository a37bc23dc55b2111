// Package claims owns dispatch policies per site and priority (auto,
// manual, claim) and claim mode (抢单): orders whose policy says claim are
// offered to qualified, on-shift engineers within a radius, and the first
// engineer to claim one gets it. The assignment itself goes through the
// order life cycle (workorders.Service.Act), the one place that changes
// an order's state, whose row lock makes exactly one claim win.
package claims

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// Mode is how an order finds its engineer.
type Mode string

// The modes.
const (
	ModeAuto   Mode = "auto"
	ModeManual Mode = "manual"
	ModeClaim  Mode = "claim"
)

// Policy is the dispatch policy of a site and priority; a nil SiteID or
// Priority matches any.
type Policy struct {
	ID       int64                `json:"id"`
	SiteID   *string              `json:"site_id"`
	Priority *workorders.Priority `json:"priority"`
	Mode     Mode                 `json:"mode"`
	RadiusKm float64              `json:"radius_km"`
	// Transfer says whether engineers hand jobs to colleagues directly
	// ("direct") or a planner approves each transfer ("approval").
	Transfer  Transfer  `json:"transfer"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Transfer is how a job changes engineer at an engineer's request.
type Transfer string

// The transfer policies.
const (
	TransferApproval Transfer = "approval"
	TransferDirect   Transfer = "direct"
)

// Default is the policy where no row matches: the optimizer assigns.
var Default = Policy{Mode: ModeAuto, RadiusKm: 50, Transfer: TransferApproval}

// Validate checks a policy's fields (every problem at once).
func (p *Policy) Validate() error {
	var pr workorders.Problems
	switch p.Mode {
	case ModeAuto, ModeManual, ModeClaim:
	default:
		pr.Add("mode", "must be auto, manual or claim")
	}
	switch p.Transfer {
	case "":
		p.Transfer = TransferApproval
	case TransferApproval, TransferDirect:
	default:
		pr.Add("transfer", "must be approval or direct")
	}
	if p.Priority != nil && !p.Priority.Valid() {
		pr.Add("priority", "must be P1, P2, P3 or P4")
	}
	if p.RadiusKm == 0 {
		p.RadiusKm = Default.RadiusKm
	}
	if p.RadiusKm < 0 || p.RadiusKm > 20000 {
		pr.AddSemantic("radius_km", "must be more than 0 and at most 20000")
	}
	return pr.Err()
}

// Resolve returns the most specific policy for an order of site and
// priority: site and priority, then site, then priority, then any.
func Resolve(ps []Policy, siteID string, prio workorders.Priority) Policy {
	best, score := Default, -1
	for _, p := range ps {
		s := 0
		if p.SiteID != nil {
			if *p.SiteID != siteID {
				continue
			}
			s += 2
		}
		if p.Priority != nil {
			if *p.Priority != prio {
				continue
			}
			s++
		}
		if s > score {
			best, score = p, s
		}
	}
	return best
}

// Store keeps the policies (postgres.Ops).
type Store interface {
	DispatchPolicies(ctx context.Context) ([]Policy, error)
	PutDispatchPolicy(ctx context.Context, p Policy) (Policy, error)
}

// ops is what claims read of engineers and orders (postgres.Ops).
type ops interface {
	EngineerByUser(ctx context.Context, userID string) (workorders.Engineer, error)
	DispatchOrders(ctx context.Context) ([]workorders.DispatchOrder, error)
}

// Claims serves policies, offers and claims.
type Claims struct {
	Store Store
	Ops   ops
	Svc   *workorders.Service
	Now   func() time.Time
}

// Offer is an order offered to an engineer in claim mode.
type Offer struct {
	workorders.Order
	DistanceKm *float64 `json:"distance_km"`
}

// Withhold reports whether the optimizer must leave order o to people
// (its policy is manual or claim).
func (c *Claims) Withhold(ctx context.Context, o workorders.DispatchOrder) (bool, error) {
	ps, err := c.Store.DispatchPolicies(ctx)
	if err != nil {
		return false, err
	}
	return Resolve(ps, o.SiteID, o.Priority).Mode != ModeAuto, nil
}

// why says why engineer e may not claim order o ("" when e may).
func why(e workorders.Engineer, o workorders.DispatchOrder, p Policy, now time.Time) (string, *float64) {
	if p.Mode != ModeClaim {
		return "the order is not offered for claiming (policy " + string(p.Mode) + ")", nil
	}
	if !e.Active {
		return "you are not active", nil
	}
	for _, u := range o.Declined {
		if e.UserID != nil && u == *e.UserID {
			return "you declined this order", nil
		}
	}
	for skill, lvl := range workorders.RequiredSkillLevels(o.RequiredSkills) {
		if e.Skills[skill] < lvl {
			return fmt.Sprintf("skill %s level %d required", skill, lvl), nil
		}
	}
	if len(e.Shifts) > 0 {
		av := dispatch.Availability(e.Shifts, e.Zone(), e.TimeOff, now.Add(-time.Minute), now.Add(time.Minute))
		if !dispatch.OnShift(av, now) {
			return "you are not on shift", nil
		}
	}
	var dist *float64
	if o.Position != nil {
		d := dispatch.DistanceKm(e.Position(), *o.Position)
		dist = &d
		if d > p.RadiusKm {
			return fmt.Sprintf("%.1f km away, beyond the %.0f km radius", d, p.RadiusKm), dist
		}
	}
	return "", dist
}

// Offers lists the claim-mode orders userID's engineer may claim now,
// nearest first.
func (c *Claims) Offers(ctx context.Context, userID string) ([]Offer, error) {
	e, err := c.Ops.EngineerByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("no engineer record for this user: %w", err)
	}
	ps, err := c.Store.DispatchPolicies(ctx)
	if err != nil {
		return nil, err
	}
	orders, err := c.Ops.DispatchOrders(ctx)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	out := []Offer{}
	for _, o := range orders {
		if reason, dist := why(e, o, Resolve(ps, o.SiteID, o.Priority), now); reason == "" {
			out = append(out, Offer{Order: o.Order, DistanceKm: dist})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority < out[j].Priority
		}
		return out[i].DistanceKm != nil && (out[j].DistanceKm == nil || *out[i].DistanceKm < *out[j].DistanceKm)
	})
	return out, nil
}

// Claim assigns order id to the claiming engineer (user u) if it is still
// offered to them: ErrConflict when another engineer was faster or the
// order is no longer waiting, ErrForbidden when it is not offered to u.
func (c *Claims) Claim(ctx context.Context, u workorders.User, id string) (workorders.Order, error) {
	e, err := c.Ops.EngineerByUser(ctx, u.ID)
	if err != nil {
		return workorders.Order{}, fmt.Errorf("%w: no engineer record for this user", workorders.ErrForbidden)
	}
	orders, err := c.Ops.DispatchOrders(ctx)
	if err != nil {
		return workorders.Order{}, err
	}
	var target *workorders.DispatchOrder
	for i := range orders {
		if orders[i].ID == id {
			target = &orders[i]
			break
		}
	}
	if target == nil {
		if _, err := c.Svc.GetOrder(ctx, id); err != nil {
			return workorders.Order{}, err
		}
		return workorders.Order{}, fmt.Errorf("%w: the order was claimed or assigned meanwhile", workorders.ErrConflict)
	}
	ps, err := c.Store.DispatchPolicies(ctx)
	if err != nil {
		return workorders.Order{}, err
	}
	if reason, _ := why(e, *target, Resolve(ps, target.SiteID, target.Priority), c.Now()); reason != "" {
		return workorders.Order{}, fmt.Errorf("%w: %s", workorders.ErrForbidden, reason)
	}
	uid := u.ID
	o, err := c.Svc.Act(ctx, id, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: u.ID, OnlyUnassigned: true,
		Note: "claimed", Actor: workorders.Actor{ID: &uid, Name: u.Name, Role: workorders.RolePlanner}})
	if errors.Is(err, workorders.ErrIllegalTransition) {
		return workorders.Order{}, fmt.Errorf("%w: the order was claimed or assigned meanwhile", workorders.ErrConflict)
	}
	return o, err
}

// DirectTransfer reports whether an engineer may hand order o to a
// colleague without a planner's approval (the policy of its site and
// priority says direct).
func (c *Claims) DirectTransfer(ctx context.Context, o workorders.Order) (bool, error) {
	ps, err := c.Store.DispatchPolicies(ctx)
	if err != nil {
		return false, err
	}
	return Resolve(ps, o.SiteID, o.Priority).Transfer == TransferDirect, nil
}
