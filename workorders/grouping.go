package workorders

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/openpdm/pdm/rules"
)

// EventLinked is the event a leader's order records when a signal of a
// neighbouring asset is linked to it instead of raising an order of its
// own ("one cause, one order"); EventSplit when a planner splits a linked
// asset out into its own order.
const (
	EventLinked = "linked"
	EventSplit  = "split"
)

// GroupStore is the optional store method grouping needs
// (workorders/postgres implements it): the open threshold and trend auto
// orders for a failure mode on an asset's neighbours (same parent, its
// parent, its children).
type GroupStore interface {
	GroupOrders(ctx context.Context, assetID, failureMode string) ([]Order, error)
}

// LinkShare is the largest share of the leader's slope a neighbour's
// slope may have and still be linked: a neighbour shaken by a failing
// machine rises by a fraction of its rise; a neighbour rising as fast
// (or nearly as fast) fails on its own and gets its own order.
const LinkShare = 0.75

// Leader is a candidate for "clearly failing" among an asset's group: an
// open auto order of a neighbouring asset (same parent, or parent and
// child) with the same failure mode.
type Leader struct {
	OrderID string
	AssetID string
	// DetectedAt is when the leader's order was first raised.
	DetectedAt time.Time
	// CrossingEarliest is the lower bound of the leader's predicted
	// crossing; zero for a threshold breach (already failing).
	CrossingEarliest time.Time
	// Slope is the steepest fitted slope among the leader's order's
	// trend signals (units per second; a failing machine's last fits
	// flatten as it saturates at failure); 0 when it has none.
	Slope float64
	// Breach: the leader's order was raised or updated by a critical
	// threshold breach (the metric is beyond its limit).
	Breach bool
}

// LeaderFromOrder reads the leader facts from an open auto order: its
// detection time, earliest predicted crossing and the latest evidence's
// slope and kind (callers raise Slope to the steepest of the order's
// signals). ok is false for orders that cannot lead (not an open
// auto order, no detection time).
func LeaderFromOrder(o Order) (Leader, bool) {
	if o.DetectedAt == nil || (o.Source != SourceTrend && o.Source != SourceThreshold) || !o.Status.Open() {
		return Leader{}, false
	}
	l := Leader{OrderID: o.ID, AssetID: o.AssetID, DetectedAt: *o.DetectedAt}
	if o.PredictedFailureEarliest != nil {
		l.CrossingEarliest = *o.PredictedFailureEarliest
	}
	var ev struct {
		Kind  string   `json:"kind"`
		Slope *float64 `json:"slope"`
	}
	_ = json.Unmarshal(o.Evidence, &ev)
	if ev.Slope != nil {
		l.Slope = *ev.Slope
	}
	l.Breach = ev.Kind == string(rules.KindThreshold) || o.Source == SourceThreshold
	return l, true
}

// ChooseLeader decides whether a signal of an asset without an open order
// of its own for the failure mode is linked to a neighbour's order instead
// of raising one. The rule ("clearly failing"):
//   - only trend signals are linked; a critical threshold breach or an
//     event is a failure of the asset itself and always raises its own
//     order;
//   - the leader's order was detected no later than the signal (its rise
//     started first);
//   - the leader fails first: it is in breach, or its earliest predicted
//     crossing is before the signal's;
//   - the neighbour rises by a fraction of the leader's rise: the signal's
//     slope has the leader's sign and at most LinkShare of its magnitude
//     (a leader whose latest evidence has no fitted slope leads nothing).
//
// Of several leaders the one failing first (breach, else earliest
// crossing) is chosen. ok is false when nothing leads: the signal raises
// its own order.
func ChooseLeader(sig rules.Signal, leaders []Leader) (Leader, bool) {
	p := sig.Prediction
	if sig.Kind != rules.KindTrend || p == nil || p.CrossingEarliest.IsZero() {
		return Leader{}, false
	}
	var best Leader
	found := false
	for _, l := range leaders {
		if l.DetectedAt.After(sig.DetectedAt) {
			continue
		}
		if !l.Breach && (l.CrossingEarliest.IsZero() || !l.CrossingEarliest.Before(p.CrossingEarliest)) {
			continue
		}
		if l.Slope == 0 || math.Signbit(l.Slope) != math.Signbit(p.Slope) || math.Abs(p.Slope) > LinkShare*math.Abs(l.Slope) {
			continue
		}
		if !found || leads(l, best) {
			best, found = l, true
		}
	}
	return best, found
}

// leads reports whether a fails before b.
func leads(a, b Leader) bool {
	if a.Breach != b.Breach {
		return a.Breach
	}
	return a.CrossingEarliest.Before(b.CrossingEarliest)
}

// SplitOrder splits an asset linked to an order (EventLinked) out into an
// auto order of its own, proposed, for the same failure mode, carrying the
// asset's latest linked signal as its evidence; the leader's order records
// EventSplit. From then on the asset's signals go to its own order. 422
// when the asset is not linked to the order; 409 when the asset already
// has an open auto order for the failure mode.
func (s *Service) SplitOrder(ctx context.Context, actor Actor, orderID, assetID string) (Order, error) {
	if assetID == "" {
		return Order{}, Invalid("asset_id", "required")
	}
	lead, err := s.Store.GetOrder(ctx, orderID)
	if err != nil {
		return Order{}, err
	}
	evs, err := s.Store.ListEvents(ctx, orderID)
	if err != nil {
		return Order{}, err
	}
	var sigID int64 = -1
	for _, e := range evs {
		var d struct {
			AssetID  string `json:"asset_id"`
			SignalID int64  `json:"signal_id"`
		}
		if e.Type == EventLinked && json.Unmarshal(e.Data, &d) == nil && d.AssetID == assetID {
			sigID = d.SignalID
		}
	}
	if sigID < 0 {
		return Order{}, Unprocessable("asset_id", "not linked to order %s", lead.Number)
	}
	rec, err := s.Store.GetSignal(ctx, sigID)
	if err != nil {
		return Order{}, err
	}
	a, err := s.Store.GetAsset(ctx, assetID)
	if err != nil {
		return Order{}, err
	}
	o := Order{
		AssetID: assetID, Title: fmt.Sprintf("Predicted %s on %s/%s (%s)", lead.FailureMode, a.SiteCode, a.Code, rec.Metric),
		Source: SourceTrend, FailureMode: lead.FailureMode, RuleID: lead.RuleID, Priority: lead.Priority,
		Status: StatusProposed, DueAt: lead.DueAt, RequiredSkills: lead.RequiredSkills, Parts: lead.Parts,
		EstimatedDuration: lead.EstimatedDuration, Evidence: rec.Evidence, DetectedAt: timePtr(rec.DetectedAt), SignalCount: 1,
	}
	if p := rec.Prediction; p != nil {
		o.PredictedFailureAt = timePtr(p.CrossingAt)
		o.PredictedFailureEarliest = timePtr(p.CrossingEarliest)
		o.PredictedFailureLatest = timePtr(p.CrossingLatest)
	}
	data, _ := json.Marshal(map[string]any{"split_from": lead.ID, "signal_id": sigID})
	created, err := s.Store.CreateOrder(ctx, o, Event{Type: EventCreated, ActorID: actor.ID, Actor: actor.Name, To: o.Status,
		Note: "split from " + lead.Number + " by a planner", Data: data})
	if err != nil {
		return Order{}, err
	}
	data, _ = json.Marshal(map[string]any{"asset_id": assetID, "order_id": created.ID, "number": created.Number})
	ev := Event{OrderID: lead.ID, Type: EventSplit, ActorID: actor.ID, Actor: actor.Name, Data: data,
		Note: fmt.Sprintf("%s/%s split out into %s", a.SiteCode, a.Code, created.Number)}
	if lead, err = s.Store.UpdateOrder(ctx, lead.ID, func(*Order) (Event, error) { return ev, nil }); err != nil {
		return Order{}, err
	}
	s.after(ctx, created, Event{OrderID: created.ID, Type: EventCreated, Actor: actor.Name, To: created.Status})
	s.after(ctx, lead, ev)
	return created, nil
}
