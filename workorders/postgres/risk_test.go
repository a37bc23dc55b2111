package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// riskFixture is a site with assets of criticality 1 to 5 and a way to
// insert proposed orders with any risk key straight into the table.
type riskFixture struct {
	*fixture
	assets []string       // by criticality-1
	crit   map[string]int // asset id -> criticality, as the test last set it
	rnd    *rand.Rand
	n      int
}

func newRiskFixture(t *testing.T) *riskFixture {
	f := &riskFixture{fixture: newFixture(t), crit: map[string]int{}, rnd: rand.New(rand.NewPCG(14, 1))}
	for c := 1; c <= 5; c++ {
		a, err := f.svc.CreateAsset(context.Background(), workorders.Asset{SiteID: f.site.ID, Code: fmt.Sprint("risk-", c),
			Type: "pump", Name: "Pump", Criticality: c})
		require.NoError(t, err)
		f.assets = append(f.assets, a.ID)
		f.crit[a.ID] = c
	}
	return f
}

// insert adds one proposed order with a random risk key drawn from few
// values, so that every tie-break is exercised: priority, source, a
// prediction or none, a detection or none, the asset.
func (f *riskFixture) insert(t *testing.T) {
	t.Helper()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	hours := func() *time.Time {
		at := base.Add(time.Duration(f.rnd.IntN(3)) * time.Hour)
		return &at
	}
	var predicted, detected *time.Time
	if f.rnd.IntN(3) == 0 {
		predicted = hours()
	}
	if f.rnd.IntN(2) == 0 {
		detected = hours()
	}
	f.n++
	// created_at distinct per order and among the detection times' range.
	created := base.Add(time.Duration(f.rnd.IntN(3))*time.Hour + time.Duration(f.n)*time.Second)
	_, err := f.store.Pool().Exec(context.Background(), `insert into work_orders (asset_id, site_id, title, source,
			failure_mode, priority, status, created_at, detected_at, predicted_failure_at)
		values ($1, $2, 'risk', $3, $4, $5, 'proposed', $6, $7, $8)`,
		f.assets[f.rnd.IntN(5)], f.site.ID, []string{"threshold", "trend", "event", "manual"}[f.rnd.IntN(4)],
		fmt.Sprint("mode-", f.n), fmt.Sprint("P", 1+f.rnd.IntN(4)), created, detected, predicted)
	require.NoError(t, err)
}

// byRisk is web/src/console/risk.ts byRisk, written again: priority, the
// sooner failure time (the prediction, or for a non-trend order the
// detection, else the creation; none: last), the higher criticality, the
// older order.
func (f *riskFixture) less(a, b workorders.Order) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if fa, fb := failureTime(a), failureTime(b); fa != fb {
		return fa < fb
	}
	if ca, cb := f.crit[a.AssetID], f.crit[b.AssetID]; ca != cb {
		return ca > cb
	}
	return a.CreatedAt.Before(b.CreatedAt)
}

// failureTime is risk.ts failureTime: the prediction, or for a non-trend
// order the detection, else the creation; none (+Inf) for a trend order
// without a prediction.
func failureTime(o workorders.Order) float64 {
	switch {
	case o.PredictedFailureAt != nil:
		return float64(o.PredictedFailureAt.UnixMicro())
	case o.Source == workorders.SourceTrend:
		return math.Inf(1)
	case o.DetectedAt != nil:
		return float64(o.DetectedAt.UnixMicro())
	}
	return float64(o.CreatedAt.UnixMicro())
}

// all pages through status=proposed&sort=risk with limit, calling between
// pages after each page.
func (f *riskFixture) all(t *testing.T, limit int, between func()) []workorders.Order {
	t.Helper()
	var out []workorders.Order
	cursor := ""
	for range 1000 {
		page, next, err := f.store.ListOrders(context.Background(), workorders.OrderFilter{
			Status: []workorders.Status{workorders.StatusProposed}, Sort: workorders.SortRisk,
			Page: workorders.Page{Limit: limit, Cursor: cursor}})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit)
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
		if between != nil {
			between()
		}
	}
	t.Fatal("more than 1000 pages: the cursor does not advance")
	return nil
}

func ids(os []workorders.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID
	}
	return out
}

// TestListOrdersByRisk: sort=risk ranks as the console's byRisk does, over
// pages, and follows a change of an asset's criticality.
func TestListOrdersByRisk(t *testing.T) {
	t.Parallel()
	f := newRiskFixture(t)
	ctx := context.Background()
	for range 120 {
		f.insert(t)
	}
	got := f.all(t, 7, nil)
	require.Len(t, got, 120)
	want := append([]workorders.Order(nil), got...)
	sort.SliceStable(want, func(i, j int) bool { return f.less(want[i], want[j]) })
	require.Equal(t, ids(want), ids(got))
	// Every tie-break was needed: some neighbours differ only by
	// criticality, some only by age.
	var byCrit, byAge int
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Priority != b.Priority || failureTime(a) != failureTime(b) {
			continue
		}
		if f.crit[a.AssetID] != f.crit[b.AssetID] {
			byCrit++
		} else {
			byAge++
		}
	}
	require.Positive(t, byCrit, "some neighbours ranked by criticality")
	require.Positive(t, byAge, "some neighbours ranked by age")

	// The least critical asset becomes the most critical: its orders move
	// up within their ties, in the same transaction as the asset's change.
	a, err := f.store.GetAsset(ctx, f.assets[0])
	require.NoError(t, err)
	a.Criticality = 5
	_, err = f.store.UpdateAsset(ctx, a)
	require.NoError(t, err)
	f.crit[a.ID] = 5
	got = f.all(t, 50, nil)
	want = append(want[:0], got...)
	sort.SliceStable(want, func(i, j int) bool { return f.less(want[i], want[j]) })
	require.Equal(t, ids(want), ids(got))
	var crit int
	require.NoError(t, f.store.Pool().QueryRow(ctx, `select min(asset_criticality) from work_orders where asset_id = $1`,
		a.ID).Scan(&crit))
	require.Equal(t, 5, crit)
}

// TestListOrdersByRiskPagesWhileInserting: while orders are inserted
// between pages, every order that existed before the first page comes
// exactly once, no order twice, and the pages keep the ranking.
func TestListOrdersByRiskPagesWhileInserting(t *testing.T) {
	t.Parallel()
	f := newRiskFixture(t)
	for range 80 {
		f.insert(t)
	}
	before := f.all(t, 500, nil)
	require.Len(t, before, 80)
	got := f.all(t, 6, func() {
		for range 3 {
			f.insert(t)
		}
	})
	seen := map[string]int{}
	for i, o := range got {
		seen[o.ID]++
		require.Equal(t, 1, seen[o.ID], "order %s listed twice", o.ID)
		if i > 0 {
			require.True(t, f.less(got[i-1], o), "orders %d and %d out of order", i-1, i)
		}
	}
	for _, o := range before {
		require.Equal(t, 1, seen[o.ID], "order %s, there before the first page", o.ID)
	}
	require.Greater(t, len(got), 80, "some orders inserted behind the cursor were listed too")
}

// A cursor of the other order, or garbage, is a malformed cursor.
func TestListOrdersByRiskCursor(t *testing.T) {
	t.Parallel()
	f := newRiskFixture(t)
	for range 3 {
		f.insert(t)
	}
	_, newest, err := f.store.ListOrders(context.Background(), workorders.OrderFilter{Page: workorders.Page{Limit: 1}})
	require.NoError(t, err)
	require.NotEmpty(t, newest)
	for _, c := range []string{newest, "eyJwIjoiUDkifQ", "!!"} {
		_, _, err = f.store.ListOrders(context.Background(), workorders.OrderFilter{Sort: workorders.SortRisk,
			Page: workorders.Page{Limit: 1, Cursor: c}})
		var ve *workorders.ValidationError
		require.ErrorAs(t, err, &ve, c)
		require.Equal(t, "cursor", ve.Field)
	}
}
