package workorders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openpdm/pdm/workorders/dispatch"
)

// ETA is when an engineer on the way should reach an order's asset,
// estimated from the engineer's last reported location (or home when none
// was reported) with the dispatcher's travel model.
type ETA struct {
	OrderID       string    `json:"order_id"`
	At            time.Time `json:"eta"`
	DistanceKm    float64   `json:"distance_km"`
	TravelMinutes float64   `json:"travel_minutes"`
	// From says where the estimate starts: "location" (the last reported
	// position, at LocationAt) or "home".
	From       string     `json:"from"`
	LocationAt *time.Time `json:"location_at,omitempty"`
}

// etaStore is what an ETA needs from the store.
type etaStore interface {
	EngineerByUser(ctx context.Context, userID string) (Engineer, error)
	OrderPosition(ctx context.Context, orderID string) (*dispatch.Point, error)
}

// ETAEstimator estimates arrival times.
type ETAEstimator struct {
	Store  etaStore
	Travel dispatch.Config
}

// Estimate returns the ETA of the engineer (user id) at order o's asset
// as seen at now; ErrNotFound when the user has no engineer record or the
// order's asset has no known position.
func (e ETAEstimator) Estimate(ctx context.Context, o Order, userID string, now time.Time) (ETA, error) {
	eng, err := e.Store.EngineerByUser(ctx, userID)
	if err != nil {
		return ETA{}, fmt.Errorf("engineer of user %s: %w", userID, err)
	}
	pos, err := e.Store.OrderPosition(ctx, o.ID)
	if err != nil {
		return ETA{}, err
	}
	if pos == nil {
		return ETA{}, fmt.Errorf("%w: order %s's asset has no location", ErrNotFound, o.Number)
	}
	out := ETA{OrderID: o.ID, From: "home"}
	if eng.Location != nil {
		out.From, out.LocationAt = "location", eng.LocationAt
	}
	from := eng.Position()
	out.DistanceKm = dispatch.DistanceKm(from, *pos)
	travel := e.Travel.TravelTime(from, *pos)
	out.TravelMinutes = travel.Minutes()
	out.At = now.Add(travel).UTC().Truncate(time.Second)
	return out, nil
}

// etaData returns the depart event's ETA data, or nil when none can be
// estimated (no estimator, no engineer record, no asset position).
func (s *Service) etaData(ctx context.Context, o Order, a Actor, now time.Time) map[string]any {
	if s.EstimateETA == nil || o.AssigneeID == nil {
		return nil
	}
	eta, err := s.EstimateETA(ctx, o, *o.AssigneeID, now)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.Log.WarnContext(ctx, "eta", "order_id", o.ID, "err", err)
		}
		return nil
	}
	return map[string]any{"eta": eta.At, "distance_km": eta.DistanceKm, "travel_minutes": eta.TravelMinutes, "eta_from": eta.From}
}
