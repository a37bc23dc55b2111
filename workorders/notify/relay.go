package notify

import (
	"context"
	"fmt"

	"github.com/openpdm/pdm/workorders"
)

// Pending is an order's event recorded, in the event's own transaction,
// for the relay to turn into messages.
type Pending struct {
	EventID int64
	Order   workorders.Order
	Event   workorders.Event
}

// PendingStore holds the events that still have to be told (the store
// records them with the event when Wants says so).
type PendingStore interface {
	// PendingEvents returns up to limit due events, oldest first.
	PendingEvents(ctx context.Context, limit int) ([]Pending, error)
	// ResolvePending enqueues ms and forgets the event in one transaction;
	// it reports false (and enqueues nothing) when another relay did it.
	ResolvePending(ctx context.Context, eventID int64, ms []Message) (bool, error)
	// DeferPending retries the event later; after many tries it is dropped.
	DeferPending(ctx context.Context, eventID int64, errText string) error
}

// Poke makes Run relay and send at once (bind it to the life cycle's
// AfterTransition when Pending is set).
func (n *Notifier) Poke() { n.poke() }

// Relay turns the recorded events into outbox messages, each event's in
// one transaction with forgetting it, so none is told twice or lost; it
// returns how many it told.
func (n *Notifier) Relay(ctx context.Context) (int, error) {
	if n.Pending == nil {
		return 0, nil
	}
	ps, err := n.Pending.PendingEvents(ctx, 100)
	if err != nil {
		return 0, fmt.Errorf("pending events: %w", err)
	}
	told := 0
	for _, p := range ps {
		ms, err := n.eventMessages(ctx, p.Order, p.Event)
		if err == nil {
			var ok bool
			if ok, err = n.Pending.ResolvePending(ctx, p.EventID, ms); err == nil && ok {
				told++
				if len(ms) > 0 {
					n.poke()
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return told, nil
			}
			n.log.WarnContext(ctx, "notify: relay", "order_id", p.Order.ID, "event_id", p.EventID, "err", err)
			if derr := n.Pending.DeferPending(ctx, p.EventID, err.Error()); derr != nil {
				return told, derr
			}
		}
	}
	return told, nil
}
