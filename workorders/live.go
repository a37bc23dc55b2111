package workorders

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// LiveEvent is one change a console screen shows, as recorded by the
// database in the changing transaction (live_events): its id orders the
// stream, Type names what changed ("work_order.created",
// "work_order.transitioned", "work_order.assigned", "work_order.updated",
// "signal.created", "engineer.updated", "stock.changed",
// "purchase_request.changed", "dispatch.run", "rule.changed", or
// "<table>.changed"), Data carries the ids a client needs to refresh.
type LiveEvent struct {
	ID      int64     `json:"id"`
	Type    string    `json:"type"`
	At      time.Time `json:"at"`
	OrderID string    `json:"order_id,omitempty"`
	// Audience lists the users besides admins, planners and viewers who
	// may see the event (an order's assignees, an engineer's own user).
	Audience []string        `json:"-"`
	Data     json.RawMessage `json:"data"`
}

// VisibleTo reports whether u may see e: engineers only what concerns
// their own orders and themselves, every other role everything.
func (e LiveEvent) VisibleTo(u User) bool {
	if u.Role != RoleEngineer {
		return true
	}
	return slices.Contains(e.Audience, u.ID)
}

// OfferChange reports whether e may change what engineers are offered in
// claim mode: an order became, or stopped being, approved (and so
// unassigned). Engineers outside its audience are told only that offers
// changed (LiveOffersChanged), never the order's details.
func (e LiveEvent) OfferChange() bool {
	if !strings.HasPrefix(e.Type, "work_order.") || len(e.Data) == 0 {
		return false
	}
	var d struct {
		Status     string `json:"status"`
		FromStatus string `json:"from_status"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return false
	}
	return d.Status == string(StatusApproved) || d.FromStatus == string(StatusApproved)
}

// LiveOffersChanged is the event type engineers get for an OfferChange of
// an order not theirs: reload GET /me/offers.
const LiveOffersChanged = "offers.changed"
