package workorders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Collaboration on a job: comments with @mentions (comments.go), helpers
// asked to join a job, and transfers of a job to another engineer.

// Event types of collaboration.
const (
	// EventHelperAdded: an engineer was asked to help (data: helper_id,
	// helper_name).
	EventHelperAdded = "helper_added"
	// EventTransferRequested: the assignee asked to hand the job to
	// another engineer and a planner must approve (data: to_user_id).
	EventTransferRequested = "transfer_requested"
	// EventTransferred: the job changed engineer (data: from_user_id,
	// to_user_id, approved_by).
	EventTransferred = "transferred"
	// EventTransferRejected: a planner refused a transfer request.
	EventTransferRejected = "transfer_rejected"
	// EventHelperRemoved: a helper left the job (data: helper_id).
	EventHelperRemoved = "helper_removed"
)

// MentionItem is one comment that mentions a user, with the order it is
// on (GET /me/mentions).
type MentionItem struct {
	Event
	OrderNumber string `json:"order_number"`
	OrderTitle  string `json:"order_title"`
	// Visible is whether the mentioned user may open the order.
	Visible bool `json:"visible"`
}

// TransferRequest is a transfer of a job to another engineer that waits
// for a planner's approval.
type TransferRequest struct {
	FromUserID  string    `json:"from_user_id"`
	ToUserID    string    `json:"to_user_id"`
	ToName      string    `json:"to_name"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	Note        string    `json:"note,omitempty"`
}

// MaxHelpers bounds the helpers of one job.
const MaxHelpers = 10

// Involves reports whether user id works on o: its assignee or a helper.
func (o Order) Involves(userID string) bool {
	return (o.AssigneeID != nil && *o.AssigneeID == userID) || slices.Contains(o.HelperIDs, userID)
}

// notInvolved reports whether an engineer actor may not see or comment on
// o (helpers may; only the assignee acts on it: notYours).
func notInvolved(a Actor, o *Order) bool {
	return a.Role == RoleEngineer && (a.ID == nil || !o.Involves(*a.ID))
}

// transferable are the statuses a job may change engineer in: before the
// work starts (it goes back to assigned, for the new engineer to accept)
// or while it is held (the new engineer resumes it).
func transferable(s Status) bool {
	switch s {
	case StatusAssigned, StatusAccepted, StatusEnRoute, StatusOnSite, StatusOnHold:
		return true
	}
	return false
}

func (s *Service) engineerUser(ctx context.Context, field, id string) (User, error) {
	u, err := s.Store.GetUser(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, Unprocessable(field, "no such user")
	}
	if err != nil {
		return User{}, err
	}
	if u.Role != RoleEngineer {
		return User{}, Unprocessable(field, "user %s is a %s, not an engineer", u.Name, u.Role)
	}
	return u, nil
}

// AddHelper asks engineer helperID to help on an open job: the helper
// then sees the job (in GET /me/jobs) and may comment on it and attach
// photos; the assignee keeps acting on it. Engineers add helpers only to
// their own jobs; adding one already there changes nothing.
func (s *Service) AddHelper(ctx context.Context, actor Actor, orderID, helperID, note string) (Order, error) {
	h, err := s.engineerUser(ctx, "user_id", helperID)
	if err != nil {
		return Order{}, err
	}
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		if notYours(actor, o) {
			return Event{}, errNotYours(orderID)
		}
		if !o.Status.Open() || o.AssigneeID == nil {
			return Event{}, fmt.Errorf("%w: order %s is %s; helpers join assigned, open jobs", ErrIllegalTransition, o.Number, o.Status)
		}
		if *o.AssigneeID == h.ID {
			return Event{}, Unprocessable("user_id", "%s is the job's engineer", h.Name)
		}
		if slices.Contains(o.HelperIDs, h.ID) {
			return Event{}, ErrNoChange
		}
		if len(o.HelperIDs) >= MaxHelpers {
			return Event{}, Unprocessable("user_id", "a job has at most %d helpers", MaxHelpers)
		}
		o.HelperIDs = append(slices.Clone(o.HelperIDs), h.ID)
		data, _ := json.Marshal(map[string]any{"helper_id": h.ID, "helper_name": h.Name})
		ev = Event{Type: EventHelperAdded, ActorID: actor.ID, Actor: actor.Name, Note: note, Data: data}
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	if ev.Type != "" {
		s.after(ctx, o, ev)
	}
	return o, nil
}

// RemoveHelper takes a helper off a job (the assignee, a planner, or the
// helper leaving).
func (s *Service) RemoveHelper(ctx context.Context, actor Actor, orderID, helperID string) (Order, error) {
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		self := actor.ID != nil && *actor.ID == helperID
		if notYours(actor, o) && !(self && slices.Contains(o.HelperIDs, helperID)) {
			return Event{}, errNotYours(orderID)
		}
		i := slices.Index(o.HelperIDs, helperID)
		if i < 0 {
			return Event{}, fmt.Errorf("%w: %s is not a helper on order %s", ErrNotFound, helperID, o.Number)
		}
		o.HelperIDs = slices.Delete(slices.Clone(o.HelperIDs), i, i+1)
		data, _ := json.Marshal(map[string]any{"helper_id": helperID})
		ev = Event{Type: EventHelperRemoved, ActorID: actor.ID, Actor: actor.Name, Data: data}
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	s.after(ctx, o, ev)
	return o, nil
}

// Transfer hands a job to engineer toID. Direct (a planner, or the site's
// policy lets engineers transfer) it changes the assignee at once;
// otherwise it records a request a planner approves or rejects
// (DecideTransfer). Engineers transfer only their own jobs, in the
// statuses before the work starts or on hold (a job in progress is held
// first); the job goes back to assigned for the new engineer to accept,
// or stays on hold for them to resume.
func (s *Service) Transfer(ctx context.Context, actor Actor, orderID, toID, note string, direct bool) (Order, error) {
	to, err := s.engineerUser(ctx, "to_user_id", toID)
	if err != nil {
		return Order{}, err
	}
	now := s.Now().UTC()
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		if notYours(actor, o) {
			return Event{}, errNotYours(orderID)
		}
		if o.AssigneeID == nil || !transferable(o.Status) {
			return Event{}, fmt.Errorf("%w: order %s is %s; a job is transferred when assigned, accepted, en route, on site or on hold (hold it first)",
				ErrIllegalTransition, o.Number, o.Status)
		}
		if *o.AssigneeID == to.ID {
			return Event{}, Unprocessable("to_user_id", "%s already has this job", to.Name)
		}
		if !direct {
			o.Transfer = &TransferRequest{FromUserID: *o.AssigneeID, ToUserID: to.ID, ToName: to.Name,
				RequestedBy: actor.Name, RequestedAt: now, Note: note}
			data, _ := json.Marshal(map[string]any{"from_user_id": *o.AssigneeID, "to_user_id": to.ID, "to_name": to.Name})
			ev = Event{Type: EventTransferRequested, ActorID: actor.ID, Actor: actor.Name, Note: note, Data: data}
			return ev, nil
		}
		ev = reassign(o, to, actor, note, "")
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	s.after(ctx, o, ev)
	return o, nil
}

// reassign moves o to engineer to and returns the transferred event.
func reassign(o *Order, to User, actor Actor, note, approvedBy string) Event {
	from := o.Status
	prev := *o.AssigneeID
	o.AssigneeID = &to.ID
	o.HelperIDs = slices.DeleteFunc(slices.Clone(o.HelperIDs), func(id string) bool { return id == to.ID })
	o.Transfer = nil
	if o.Status != StatusOnHold {
		o.Status = StatusAssigned
	}
	d := map[string]any{"from_user_id": prev, "to_user_id": to.ID, "to_name": to.Name}
	if approvedBy != "" {
		d["approved_by"] = approvedBy
	}
	data, _ := json.Marshal(d)
	return Event{Type: EventTransferred, ActorID: actor.ID, Actor: actor.Name, From: from, To: o.Status, Note: note, Data: data}
}

// DecideTransfer approves (the job changes engineer) or rejects a pending
// transfer request (planners). A request overtaken by events (the job
// was reassigned or moved on meanwhile) is 409 and cleared.
func (s *Service) DecideTransfer(ctx context.Context, actor Actor, orderID string, approve bool, note string) (Order, error) {
	if actor.Role != RoleAdmin && actor.Role != RolePlanner {
		return Order{}, fmt.Errorf("%w: planners decide transfers", ErrForbidden)
	}
	o, err := s.Store.GetOrder(ctx, orderID)
	if err != nil {
		return Order{}, err
	}
	if o.Transfer == nil {
		return Order{}, fmt.Errorf("%w: order %s has no transfer request", ErrIllegalTransition, o.Number)
	}
	to, err := s.Store.GetUser(ctx, o.Transfer.ToUserID)
	if err != nil {
		return Order{}, err
	}
	var ev Event
	stale := false
	o, err = s.Store.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		t := o.Transfer
		if t == nil || t.ToUserID != to.ID {
			return Event{}, fmt.Errorf("%w: order %s has no transfer request", ErrIllegalTransition, o.Number)
		}
		if !approve || o.AssigneeID == nil || *o.AssigneeID != t.FromUserID || !transferable(o.Status) {
			stale = approve
			o.Transfer = nil
			data, _ := json.Marshal(map[string]any{"to_user_id": t.ToUserID, "to_name": t.ToName, "stale": stale})
			ev = Event{Type: EventTransferRejected, ActorID: actor.ID, Actor: actor.Name, Note: note, Data: data}
			return ev, nil
		}
		ev = reassign(o, to, actor, note, actor.Name)
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	s.after(ctx, o, ev)
	if stale {
		return o, fmt.Errorf("%w: order %s changed since the request (now %s); the request is withdrawn", ErrConflict, o.Number, o.Status)
	}
	return o, nil
}
