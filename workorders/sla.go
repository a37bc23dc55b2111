package workorders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// SLAEval is the SLA state of an order at a moment.
type SLAEval struct {
	State   string        // SLAOK, SLAAtRisk or SLABreached
	Clock   string        // "response" or "resolution": the clock that decided
	Elapsed time.Duration // on that clock
	Budget  time.Duration // of that clock
}

func slaRank(s string) int {
	switch s {
	case SLAAtRisk:
		return 1
	case SLABreached:
		return 2
	}
	return 0
}

// EvaluateSLA computes an open order's SLA state under policy p at now.
// Both clocks start at approval (creation when never approved). Response
// runs until the order is accepted; resolution until it is completed, and
// with PauseOnHold it does not run while the order is on hold. A clock is
// at risk past AtRisk of its budget and breached past the budget.
func EvaluateSLA(o Order, p SLAPolicy, now time.Time) SLAEval {
	start := o.CreatedAt
	if o.ApprovedAt != nil {
		start = *o.ApprovedAt
	}
	atRisk := p.AtRisk
	if atRisk <= 0 || atRisk >= 1 {
		atRisk = 0.8
	}
	judge := func(clock string, elapsed, budget time.Duration) SLAEval {
		e := SLAEval{State: SLAOK, Clock: clock, Elapsed: elapsed, Budget: budget}
		switch {
		case budget <= 0:
		case elapsed > budget:
			e.State = SLABreached
		case float64(elapsed) > atRisk*float64(budget):
			e.State = SLAAtRisk
		}
		return e
	}
	best := SLAEval{State: SLAOK}
	if o.AcceptedAt == nil && o.CompletedAt == nil {
		best = judge("response", now.Sub(start), p.Response.D())
	}
	if o.CompletedAt == nil {
		elapsed := now.Sub(start)
		if p.PauseOnHold {
			elapsed -= o.HeldFor.D()
			if o.OnHoldSince != nil {
				elapsed -= now.Sub(*o.OnHoldSince)
			}
		}
		if r := judge("resolution", elapsed, p.Resolve.D()); slaRank(r.State) >= slaRank(best.State) {
			best = r
		}
	}
	return best
}

// SLAJob marks open orders at risk and breached and escalates breaches:
// priority raised one step, an sla_breached event (and so a webhook). Run
// it from a cron schedule; one replica runs it at a time (advisory lock).
type SLAJob struct {
	store slaStore
	// Now is the job's clock.
	Now func() time.Time
	log *slog.Logger
}

// NewSLAJob returns the SLA job over svc, using svc's clock and logger.
func NewSLAJob(svc *Service) *SLAJob {
	return &SLAJob{store: svc.Store, Now: svc.Now, log: svc.Log}
}

// slaStore is what the SLA job reads and changes.
type slaStore interface {
	ListSLAPolicies(ctx context.Context) ([]SLAPolicy, error)
	SLACandidates(ctx context.Context, now time.Time) ([]Order, error)
	UpdateOrder(ctx context.Context, id string, fn UpdateFunc) (Order, error)
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// Run evaluates every open order once. When another replica holds the
// job's lock it returns nil without doing anything.
func (j *SLAJob) Run(ctx context.Context) error {
	ran, err := j.store.WithLock(ctx, LockSLAJob, j.run)
	if err != nil {
		return fmt.Errorf("sla job: %w", err)
	}
	if !ran {
		j.log.DebugContext(ctx, "sla job skipped: another replica runs it")
	}
	return nil
}

func (j *SLAJob) run(ctx context.Context) error {
	policies, err := j.store.ListSLAPolicies(ctx)
	if err != nil {
		return err
	}
	if len(policies) == 0 {
		return nil
	}
	byPrio := map[Priority]SLAPolicy{}
	for _, p := range policies {
		byPrio[p.Priority] = p
	}
	now := j.Now().UTC()
	orders, err := j.store.SLACandidates(ctx, now)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range orders {
		p, ok := byPrio[o.Priority]
		if !ok || slaRank(EvaluateSLA(o, p, now).State) <= slaRank(o.SLAState) {
			continue
		}
		_, err := j.store.UpdateOrder(ctx, o.ID, func(o *Order) (Event, error) {
			p, ok := byPrio[o.Priority]
			if !ok || !o.Status.Open() || o.Status == StatusProposed {
				return Event{}, ErrNoChange
			}
			ev := EvaluateSLA(*o, p, now)
			if slaRank(ev.State) <= slaRank(o.SLAState) {
				return Event{}, ErrNoChange
			}
			o.SLAState = ev.State
			data := map[string]any{"clock": ev.Clock, "elapsed": ev.Elapsed.String(), "budget": ev.Budget.String()}
			typ := EventSLAAtRisk
			note := fmt.Sprintf("%s time at risk: %s of %s", ev.Clock, ev.Elapsed.Round(time.Second), ev.Budget)
			if ev.State == SLABreached {
				typ = EventSLABreach
				before := o.Priority
				o.Priority = PriorityOfRank(o.Priority.Rank() - 1)
				data["priority"] = map[string]any{"from": before, "to": o.Priority}
				note = fmt.Sprintf("%s time breached: %s of %s; escalated %s -> %s", ev.Clock,
					ev.Elapsed.Round(time.Second), ev.Budget, before, o.Priority)
			}
			raw, _ := json.Marshal(data)
			return Event{Type: typ, Actor: "sla", Note: note, Data: raw}, nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("order %s: %w", o.ID, err))
		}
	}
	return errors.Join(errs...)
}
