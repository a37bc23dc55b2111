package predict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/openpdm/pdm/rules"
)

// CompletedOrder is a work order that was completed and awaits
// verification.
type CompletedOrder struct {
	ID          string
	AssetID     string
	RuleID      string // empty for orders not raised by a rule
	CompletedAt time.Time
}

// CompletedOrders lists the orders in status completed (cmd binds it to
// the ticket core).
type CompletedOrders interface {
	CompletedOrders(ctx context.Context) ([]CompletedOrder, error)
}

// RuleByID returns one rule; found is false when it does not exist.
type RuleByID interface {
	Rule(ctx context.Context, id string) (r rules.Rule, found bool, err error)
}

// VerifyFunc marks an order verified with the evidence (cmd binds it to
// the ticket core's Verify).
type VerifyFunc func(ctx context.Context, orderID string, evidence map[string]any) error

// Verifier closes the loop: for each completed order raised by a rule, it
// watches the rule's metric after completion, and once the metric has
// been back in the healthy band (inside the warn limit, or critical when
// there is none, by the rule's hysteresis) for HealthyFor of event time,
// it verifies the order with the evidence. Orders without a rule, or
// whose rule or asset is gone, are left to people. Schedule (*Verifier).Run
// with robfig/cron.
type Verifier struct {
	Orders  CompletedOrders
	Rules   RuleByID
	Assets  AssetByID
	History rules.History
	Verify  VerifyFunc
	Logger  *slog.Logger
	// HealthyFor is how long the metric must stay healthy (default 24h)
	// unless the rule sets verify_for.
	HealthyFor time.Duration
	// Now is the wall clock that ends the history read (default time.Now).
	Now func() time.Time
}

// Run checks every completed order once; it returns the joined errors of
// the orders that could not be checked.
func (v *Verifier) Run(ctx context.Context) error {
	_, err := v.RunCount(ctx)
	return err
}

// RunCount is Run returning how many orders it verified.
func (v *Verifier) RunCount(ctx context.Context) (int, error) {
	log := v.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	need := v.HealthyFor
	if need <= 0 {
		need = 24 * time.Hour
	}
	orders, err := v.Orders.CompletedOrders(ctx)
	if err != nil {
		return 0, fmt.Errorf("verify: list completed orders: %w", err)
	}
	var errs []error
	n := 0
	for _, o := range orders {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if o.RuleID == "" {
			continue
		}
		ev, ok, err := v.check(ctx, o, need, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("order %s: %w", o.ID, err))
			continue
		}
		if !ok {
			continue
		}
		if err := v.Verify(ctx, o.ID, ev); err != nil {
			errs = append(errs, fmt.Errorf("verify order %s: %w", o.ID, err))
			continue
		}
		n++
		log.Info("order verified by telemetry", "order_id", o.ID, "asset_id", o.AssetID, "healthy_since", ev["healthy_since"])
	}
	return n, errors.Join(errs...)
}

// check reads the metric since completion and reports whether it has been
// healthy long enough, with the evidence.
func (v *Verifier) check(ctx context.Context, o CompletedOrder, need time.Duration, now time.Time) (map[string]any, bool, error) {
	r, found, err := v.Rules.Rule(ctx, o.RuleID)
	if err != nil || !found {
		return nil, false, err
	}
	a, found, err := v.Assets.AssetByID(ctx, o.AssetID)
	if err != nil || !found {
		return nil, false, err
	}
	rd, err := v.History.ReadReadings(ctx, a.Site, a.Code, []string{r.Metric}, o.CompletedAt, now.Add(time.Minute))
	if err != nil {
		return nil, false, err
	}
	sort.SliceStable(rd, func(i, j int) bool { return rd[i].TS.Before(rd[j].TS) })
	var samples []rules.Sample
	for _, x := range rd {
		if val, ok := x.Value(r.Metric); ok {
			samples = append(samples, rules.Sample{TS: x.TS, Value: val})
		}
	}
	if r.VerifyFor > 0 {
		need = r.VerifyFor.D() // the rule's own post-repair window
	}
	ev, ok := HealthyRun(&r, samples, need)
	if !ok {
		return nil, false, nil
	}
	ev["order_id"] = o.ID
	ev["completed_at"] = o.CompletedAt
	return ev, true, nil
}

// HealthyRun reports whether the latest stretch of samples (sorted by
// time) inside the rule's healthy band lasts at least need, and returns
// the evidence: metric, limit, healthy_since, healthy_until, healthy_for,
// readings, min, max, mean. It is pure.
func HealthyRun(r *rules.Rule, samples []rules.Sample, need time.Duration) (map[string]any, bool) {
	var limit float64
	switch {
	case r.Warn != nil:
		limit = *r.Warn
	case r.Critical != nil:
		limit = *r.Critical
	default:
		return nil, false
	}
	start := -1
	for i, s := range samples {
		if r.Direction.Cleared(s.Value, limit, r.Hysteresis) {
			if start < 0 {
				start = i
			}
		} else {
			start = -1
		}
	}
	if start < 0 {
		return nil, false
	}
	run := samples[start:]
	span := run[len(run)-1].TS.Sub(run[0].TS)
	if span < need {
		return nil, false
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range run {
		lo, hi, sum = math.Min(lo, s.Value), math.Max(hi, s.Value), sum+s.Value
	}
	return map[string]any{
		"metric":        r.Metric,
		"rule_id":       r.ID,
		"limit":         limit,
		"hysteresis":    r.Hysteresis,
		"healthy_since": run[0].TS,
		"healthy_until": run[len(run)-1].TS,
		"healthy_for":   rules.Duration(span).String(),
		"readings":      len(run),
		"min":           lo,
		"max":           hi,
		"mean":          sum / float64(len(run)),
	}, true
}
