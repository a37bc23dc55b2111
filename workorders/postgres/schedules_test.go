package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// TestMeterScheduleOncePerOccurrence runs a meter schedule (running hours
// computed from a motor-current stream) from two replicas at once: each
// occurrence gives exactly one order.
func TestMeterScheduleOncePerOccurrence(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	start := f.now.Add(-48 * time.Hour)
	// The stream: the motor runs (current 10 A) every other 5-minute
	// sample, so running hours grow at half the wall clock.
	var mu sync.Mutex
	reads := 0
	meter := func(ctx context.Context, site, asset, metric string, from, to time.Time) ([]workorders.MeterSample, error) {
		mu.Lock()
		reads++
		mu.Unlock()
		require.Equal(t, "plant1", site)
		require.Equal(t, "motor_current", metric)
		var out []workorders.MeterSample
		for ts := start; ts.Before(to); ts = ts.Add(5 * time.Minute) {
			if ts.Before(from) {
				continue
			}
			v := 0.2
			if (ts.Sub(start)/(5*time.Minute))%2 == 0 {
				v = 10
			}
			out = append(out, workorders.MeterSample{TS: ts, Value: v})
		}
		return out, nil
	}
	idle := 1.0
	pump := "pump"
	s := workorders.Schedule{Name: "bearing regrease", AssetType: &pump, Kind: workorders.ScheduleMeter, EveryHours: 10,
		MeterMetric: "motor_current", MeterMode: workorders.MeterAbove, IdleAbove: &idle, StartsAt: start,
		Parts: []rules.PartQty{{SKU: "GREASE", Qty: 1}}, Active: true}
	require.NoError(t, workorders.ValidateSchedule(&s))
	s, err := f.ops.CreateSchedule(ctx, s)
	require.NoError(t, err)

	a := workorders.NewScheduler(f.svc, f.ops, meter, nil, func() time.Time { return f.now })
	b := workorders.NewScheduler(f.svc, f.ops, meter, nil, func() time.Time { return f.now })
	var wg sync.WaitGroup
	results := make([]workorders.ScheduleRunResult, 2)
	for i, sc := range []*workorders.Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := sc.Run(ctx)
			if !errors.Is(err, workorders.ErrConflict) { // the other replica holds the lock
				require.NoError(t, err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	created := len(results[0].Created) + len(results[1].Created)
	// 48 h of stream, half running: ~24 running hours ≥ 2×10 → occurrence 2
	// (the latest; earlier ones are not produced again as a burst).
	require.Equal(t, 1, created, "results %+v", results)
	occ, _, err := f.ops.ListOccurrences(ctx, s.ID, workorders.Page{})
	require.NoError(t, err)
	require.Len(t, occ, 1)
	require.Equal(t, int64(2), occ[0].Seq)
	require.InDelta(t, 24, *occ[0].MeterHours, 0.2)
	o, err := f.svc.GetOrder(ctx, *occ[0].OrderID)
	require.NoError(t, err)
	require.Equal(t, workorders.SourceSchedule, o.Source)
	require.Equal(t, workorders.StatusApproved, o.Status)

	// Nothing new until the meter passes 30 h.
	r, err := a.Run(ctx)
	require.NoError(t, err)
	require.Empty(t, r.Created)
	f.mu.Lock()
	f.now = f.now.Add(13 * time.Hour) // +6.5 running hours → ~30.5
	f.mu.Unlock()
	r, err = a.Run(ctx)
	require.NoError(t, err)
	require.Len(t, r.Created, 1)
	require.NotZero(t, reads)
}

// TestScheduleClaimWithoutOrderIsCompleted: a crash after claiming an
// occurrence but before creating its order leaves a claim; the next run
// creates the order for it, once.
func TestScheduleClaimWithoutOrderIsCompleted(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	s := workorders.Schedule{Name: "monthly", AssetID: &f.asset.ID, Kind: workorders.ScheduleCalendar,
		Every: rules.Duration(30 * 24 * time.Hour), StartsAt: f.now.Add(-time.Hour), Active: true}
	require.NoError(t, workorders.ValidateSchedule(&s))
	s, err := f.ops.CreateSchedule(ctx, s)
	require.NoError(t, err)
	claimed, err := f.ops.ClaimOccurrence(ctx, workorders.Occurrence{ScheduleID: s.ID, AssetID: f.asset.ID, Seq: 0, DueAt: s.StartsAt})
	require.NoError(t, err)
	require.True(t, claimed) // ...and the process dies here
	sc := workorders.NewScheduler(f.svc, f.ops, nil, nil, func() time.Time { return f.now })
	res, err := sc.Run(ctx)
	require.NoError(t, err)
	require.Len(t, res.Created, 1)
	res, err = sc.Run(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Created)
	list, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{Source: "schedule"})
	require.NoError(t, err)
	require.Len(t, list, 1)
}
