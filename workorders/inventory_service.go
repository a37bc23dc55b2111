package workorders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Inventory runs the parts side of the life cycle: reserve on assignment,
// wait (on_hold, waiting_for_parts) and request what is short, resume when
// it arrives, consume on completion, release on decline or cancel, and
// reorder below the reorder point taking predicted demand into account.
type Inventory struct {
	orders inventoryOrders
	ops    InventoryStore
	// Now is the clock.
	Now func() time.Time
	// Log receives the inventory's own log lines.
	Log *slog.Logger
	// Horizon is how far ahead predicted demand counts (default 28 days).
	Horizon time.Duration
}

// inventoryOrders is what Inventory reads and changes of the ticket core.
type inventoryOrders interface {
	GetOrder(ctx context.Context, id string) (Order, error)
	UpdateOrder(ctx context.Context, id string, fn UpdateFunc) (Order, error)
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// NewInventory returns an Inventory over the ticket core and the ops store.
func NewInventory(svc *Service, ops InventoryStore, log *slog.Logger, now func() time.Time) *Inventory {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inventory{orders: svc.Store, ops: ops, Now: now, Log: log, Horizon: 28 * 24 * time.Hour}
}

// vanOf returns the van of the engineer a user is, nil when none.
func (iv *Inventory) vanOf(ctx context.Context, userID *string) (*string, error) {
	if userID == nil {
		return nil, nil
	}
	e, err := iv.ops.EngineerByUser(ctx, *userID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.VanID, nil
}

// Reserve reserves an assigned order's parts for its engineer or, when
// they are short, puts the order on hold (waiting_for_parts) and raises
// purchase requests. It is idempotent.
func (iv *Inventory) Reserve(ctx context.Context, o Order) (PartsState, error) {
	if len(MergeParts(o.Parts)) == 0 {
		return PartsState{OrderID: o.ID, State: PartsReserved, Reservations: []Allocation{}, Shortages: []ShortageAt{}}, nil
	}
	van, err := iv.vanOf(ctx, o.AssigneeID)
	if err != nil {
		return PartsState{}, err
	}
	at, err := iv.ops.OrderPosition(ctx, o.ID)
	if err != nil {
		return PartsState{}, err
	}
	st, err := iv.ops.ReserveOrderParts(ctx, ReserveRequest{OrderID: o.ID, VanID: van, Parts: o.Parts, At: at,
		ResumeStatus: string(o.Status), Actor: "inventory", Note: "reserved on assignment of " + o.Number})
	if err != nil {
		return st, fmt.Errorf("reserve parts of %s: %w", o.Number, err)
	}
	if st.State == PartsWaiting {
		if err := iv.hold(ctx, o.ID, st); err != nil {
			return st, err
		}
		iv.Log.InfoContext(ctx, "order waits for parts", "order_id", o.ID, "shortages", st.Shortages)
	}
	return st, nil
}

// hold puts an assigned, accepted or in-progress order on hold while it
// waits for parts. The contract's hold action starts from in_progress; the
// system also holds orders not started yet and resumes them to the status
// they had (ResumeStatus).
func (iv *Inventory) hold(ctx context.Context, orderID string, st PartsState) error {
	now := iv.Now().UTC()
	var parts []string
	for _, s := range st.Shortages {
		parts = append(parts, fmt.Sprintf("%s×%d", s.SKU, s.Qty))
	}
	data, _ := json.Marshal(map[string]any{"reason": HoldWaitingForParts, "shortages": st.Shortages, "resume_to": st.ResumeStatus})
	_, err := iv.orders.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		switch o.Status {
		case StatusAssigned, StatusAccepted, StatusEnRoute, StatusOnSite, StatusInProgress:
		default:
			return Event{}, ErrNoChange
		}
		from := o.Status
		o.Status = StatusOnHold
		o.HoldReason = HoldWaitingForParts
		o.OnHoldSince = &now
		return Event{Type: EventTypeForAction(ActHold, StatusOnHold), Actor: "inventory", From: from, To: StatusOnHold,
			Note: "waiting for parts: " + strings.Join(parts, ", "), Data: data}, nil
	})
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	return err
}

// Release gives back what an order holds (decline, cancel, reject).
func (iv *Inventory) Release(ctx context.Context, o Order, why string) error {
	_, err := iv.ops.ReleaseOrderParts(ctx, o.ID, "inventory", why, why == "reopened")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Consume books the parts a completed order used and releases the rest.
func (iv *Inventory) Consume(ctx context.Context, o Order) error {
	van, err := iv.vanOf(ctx, o.AssigneeID)
	if err != nil {
		return err
	}
	_, unbooked, err := iv.ops.ConsumeOrderParts(ctx, o.ID, o.PartsUsed, van, "inventory")
	if err != nil {
		return fmt.Errorf("consume parts of %s: %w", o.Number, err)
	}
	if len(unbooked) > 0 {
		iv.Log.WarnContext(ctx, "used parts not in stock", "order_id", o.ID, "unbooked", unbooked)
	}
	return nil
}

// Receive books a purchase request's delivery and resumes the orders that
// can now get their parts.
func (iv *Inventory) Receive(ctx context.Context, prID string, qty int, actor string) (PurchaseRequest, error) {
	pr, err := iv.ops.ReceivePurchaseRequest(ctx, prID, qty, actor)
	if err != nil {
		return pr, err
	}
	if _, err := iv.ResumeWaiting(ctx); err != nil {
		return pr, fmt.Errorf("received, but resuming waiting orders: %w", err)
	}
	return pr, nil
}

// ResumeWaiting retries the reservation of every order waiting for parts,
// longest waiting first, and resumes each that gets them to the status it
// had. It returns how many resumed.
func (iv *Inventory) ResumeWaiting(ctx context.Context) (int, error) {
	waiting, err := iv.ops.WaitingOrders(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range waiting {
		o, err := iv.orders.GetOrder(ctx, w.OrderID)
		if err != nil {
			return n, err
		}
		if !o.Status.Open() || o.Status != StatusOnHold {
			// Someone moved it on (cancelled, resumed by hand): stop waiting.
			if _, err := iv.ops.ReleaseOrderParts(ctx, o.ID, "inventory", "no longer waiting", false); err != nil {
				return n, err
			}
			continue
		}
		van, err := iv.vanOf(ctx, o.AssigneeID)
		if err != nil {
			return n, err
		}
		at, err := iv.ops.OrderPosition(ctx, o.ID)
		if err != nil {
			return n, err
		}
		st, err := iv.ops.ReserveOrderParts(ctx, ReserveRequest{OrderID: o.ID, VanID: van, Parts: o.Parts, At: at,
			ResumeStatus: w.ResumeStatus, Actor: "inventory", Note: "reserved after receipt for " + o.Number})
		if err != nil {
			return n, err
		}
		if st.State != PartsReserved {
			continue
		}
		if err := iv.resume(ctx, o.ID, Status(w.ResumeStatus)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (iv *Inventory) resume(ctx context.Context, orderID string, to Status) error {
	if to != StatusAssigned && to != StatusAccepted && to != StatusEnRoute && to != StatusOnSite && to != StatusInProgress {
		to = StatusAssigned
	}
	now := iv.Now().UTC()
	_, err := iv.orders.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		if o.Status != StatusOnHold || o.HoldReason != HoldWaitingForParts {
			return Event{}, ErrNoChange
		}
		if o.OnHoldSince != nil {
			o.HeldFor += rules.Duration(now.Sub(*o.OnHoldSince))
		}
		o.OnHoldSince = nil
		o.HoldReason = ""
		o.Status = to
		return Event{Type: EventTypeForAction(ActResume, to), Actor: "inventory", From: StatusOnHold, To: to,
			Note: "parts arrived"}, nil
	})
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	return err
}

// Stock lists stock rows with the expected demand from predictions and
// the quantity a purchase request would ask for now.
func (iv *Inventory) Stock(ctx context.Context, f StockFilter) ([]StockRow, string, error) {
	rows, next, err := iv.ops.ListStock(ctx, f)
	if err != nil {
		return nil, "", err
	}
	demand, err := iv.demand(ctx)
	if err != nil {
		return nil, "", err
	}
	out := rows[:0]
	for _, r := range rows {
		if d, ok := demand[[2]string{r.LocationID, r.SKU}]; ok {
			r.Demand, r.DemandByWeek = d.Qty, d.ByWeek
		}
		// What is already on order arrives before anything ordered now:
		// counting it keeps the view from inviting a double order.
		withOrdered := r.StockLevel
		withOrdered.OnHand += r.OnOrder
		r.Suggested = Reorder(withOrdered, r.Demand)
		if f.BelowReorder && r.Suggested == 0 {
			continue
		}
		out = append(out, r)
	}
	return out, next, nil
}

func (iv *Inventory) demand(ctx context.Context) (map[[2]string]Demand, error) {
	src, err := iv.ops.DemandSources(ctx)
	if err != nil {
		return nil, err
	}
	wh, err := iv.ops.Warehouses(ctx)
	if err != nil {
		return nil, err
	}
	m := map[[2]string]Demand{}
	for _, d := range PartsDemand(src, wh, iv.Now(), iv.Horizon) {
		m[[2]string{d.LocationID, d.SKU}] = d
	}
	return m, nil
}

// RunReorder raises one purchase request per part and location whose
// projected stock (available minus predicted demand) is below the reorder
// point. Repeated runs raise nothing new while a request is open. It is a
// cron job; schedule it under LockReorder.
func (iv *Inventory) RunReorder(ctx context.Context) error {
	levels, err := iv.ops.AllStockLevels(ctx)
	if err != nil {
		return err
	}
	demand, err := iv.demand(ctx)
	if err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	raise := func(partID, loc, sku string, qty int, reason, note string) error {
		pr, created, err := iv.ops.EnsurePurchaseRequest(ctx, partID, loc, qty, reason, note)
		if err != nil {
			return fmt.Errorf("reorder %s: %w", sku, err)
		}
		if created {
			iv.Log.InfoContext(ctx, "purchase request raised", "purchase_request_id", pr.ID, "sku", sku,
				"location_id", loc, "qty", qty, "reason", reason)
		}
		return nil
	}
	for _, l := range levels {
		d := demand[[2]string{l.LocationID, l.SKU}]
		seen[[2]string{l.LocationID, l.SKU}] = true
		qty := Reorder(l, d.Qty)
		if qty == 0 {
			continue
		}
		reason := PRReasonReorder
		if l.Available() >= l.ReorderPoint {
			reason = PRReasonForecast // only the prediction pushes it below
		}
		if err := raise(l.PartID, l.LocationID, l.SKU, qty, reason,
			fmt.Sprintf("available %d, expected demand %.0f, reorder point %d", l.Available(), d.Qty, l.ReorderPoint)); err != nil {
			return err
		}
	}
	// Predicted demand for parts a warehouse has never stocked.
	for k, d := range demand {
		if seen[k] {
			continue
		}
		p, err := iv.ops.GetPart(ctx, d.SKU)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		qty := Reorder(StockLevel{}, d.Qty)
		if qty == 0 {
			continue
		}
		if err := raise(p.ID, d.LocationID, d.SKU, qty, PRReasonForecast,
			fmt.Sprintf("no stock, expected demand %.0f", d.Qty)); err != nil {
			return err
		}
	}
	return nil
}

// Reconcile reserves parts for assigned orders that hold nothing (a crash
// between an assignment and its reservation) and resumes waiting orders
// whose parts have come in by other means (a transfer, an adjustment).
func (iv *Inventory) Reconcile(ctx context.Context) error {
	ids, err := iv.ops.OrdersNeedingParts(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		o, err := iv.orders.GetOrder(ctx, id)
		if err != nil {
			return err
		}
		if _, err := iv.Reserve(ctx, o); err != nil {
			return err
		}
	}
	_, err = iv.ResumeWaiting(ctx)
	return err
}

// ReorderJob is RunReorder for cron: it runs on one replica at a time
// (advisory lock LockReorder) and does nothing where another holds it.
func (iv *Inventory) ReorderJob(ctx context.Context) error {
	_, err := iv.orders.WithLock(ctx, LockReorder, iv.RunReorder)
	return err
}

// CheckUsed refuses parts an order cannot have used: SKUs not in the
// catalogue (never created here) and quantities beyond what is reserved
// for the job plus what the assignee's van holds. It changes nothing and
// returns a *ValidationError naming every offending line.
func (iv *Inventory) CheckUsed(ctx context.Context, o Order, used []rules.PartQty) error {
	if len(used) == 0 {
		return nil
	}
	reserved := map[string]int{}
	st, err := iv.ops.OrderPartsState(ctx, o.ID)
	switch {
	case err == nil:
		if st.State != PartsConsumed {
			for _, r := range st.Reservations {
				reserved[r.SKU] += r.Qty
			}
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	van, err := iv.vanOf(ctx, o.AssigneeID)
	if err != nil {
		return err
	}
	want := map[string]int{}
	for _, p := range used {
		want[p.SKU] += p.Qty
	}
	var p Problems
	checked := map[string]bool{}
	for i, u := range used {
		field := fmt.Sprintf("parts_used[%d]", i)
		if checked[u.SKU] {
			continue
		}
		checked[u.SKU] = true
		part, err := iv.ops.GetPart(ctx, u.SKU)
		if errors.Is(err, ErrNotFound) {
			p.AddSemantic(field+".sku", "no part %s in the catalogue", u.SKU)
			continue
		}
		if err != nil {
			return err
		}
		have := reserved[u.SKU]
		if van != nil {
			rows, _, err := iv.ops.ListStock(ctx, StockFilter{LocationID: *van, PartID: part.ID, Page: Page{Limit: 1}})
			if err != nil {
				return err
			}
			for _, r := range rows {
				have += max(r.Available, 0)
			}
		}
		if want[u.SKU] > have {
			p.AddSemantic(field+".qty", "%d of %s used, but only %d are reserved for this job or in the engineer's van", want[u.SKU], u.SKU, have)
		}
	}
	return p.Err()
}
