package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// The list scans every row into the same destinations: each order must
// still come back with its own values (times, slices, evidence), nothing
// shared with or overwritten by the next row.
func TestListOrdersRowsShareNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	base := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	want := map[string]workorders.Order{}
	for i := range 4 {
		due := base.Add(time.Duration(i) * time.Hour)
		in := workorders.NewOrder{AssetID: f.asset.ID, Title: fmt.Sprint("order ", i), DueAt: &due}
		if i%2 == 0 {
			in.RequiredSkills = []string{fmt.Sprint("skill", i)}
			in.Parts = []rules.PartQty{{SKU: fmt.Sprint("SKU-", i), Qty: i + 1}}
		}
		o, err := f.svc.CreateOrder(ctx, f.admin, in)
		require.NoError(t, err)
		want[o.ID] = o
	}
	got, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{})
	require.NoError(t, err)
	require.Len(t, got, 4)
	for i, o := range got {
		require.Equal(t, want[o.ID], o, "order %d as created", i)
		for _, p := range got[:i] {
			require.NotSame(t, p.DueAt, o.DueAt)
		}
	}
	// Changing one answer leaves the others as they were.
	*got[0].DueAt = base.Add(-time.Hour)
	got[0].RequiredSkills = append(got[0].RequiredSkills[:0], "changed")
	for _, o := range got[1:] {
		require.Equal(t, want[o.ID], o)
	}
}
