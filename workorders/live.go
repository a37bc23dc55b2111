package workorders

import (
	"encoding/json"
	"slices"
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
