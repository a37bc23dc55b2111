package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// ListOrderVersions returns ListOrders' pages (same orders, same order,
// same cursors) as versions, and LoadOrderVersions those orders, each only
// at its version: any write to the row, through the service or not, is a
// new version.
func TestOrderVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	base := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 12 {
		due := base.Add(time.Duration(i) * time.Hour)
		o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: fmt.Sprint("order ", i),
			DueAt: &due, Priority: workorders.Priority(fmt.Sprint("P", 1+i%4))})
		require.NoError(t, err)
		if i%3 == 0 {
			_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActCancel, Actor: f.admin})
			require.NoError(t, err)
		}
	}
	pool := f.store.Pool()
	// Orders of the same instant: the pages' ties are broken by ID.
	_, err := pool.Exec(ctx, `update work_orders set created_at = $1 where title in ('order 4', 'order 5', 'order 6')`, base)
	require.NoError(t, err)

	for _, flt := range []workorders.OrderFilter{
		{},
		{Status: []workorders.Status{workorders.StatusApproved}},
		{Status: []workorders.Status{workorders.StatusApproved, workorders.StatusCancelled}},
		{Priority: "P2"},
		{Sort: workorders.SortRisk},
		{Sort: workorders.SortRisk, Status: []workorders.Status{workorders.StatusApproved, workorders.StatusCancelled}},
	} {
		t.Run(fmt.Sprint(flt.Status, flt.Priority, flt.Sort), func(t *testing.T) {
			flt.Page.Limit = 5
			pages := 0
			for {
				want, wantNext, err := f.store.ListOrders(ctx, flt)
				require.NoError(t, err)
				got, next, err := f.store.ListOrderVersions(ctx, flt)
				require.NoError(t, err)
				require.Equal(t, wantNext, next)
				require.Len(t, got, len(want))
				for i := range want {
					require.Equal(t, want[i].ID, got[i].ID.String(), "row %d of page %d", i, pages)
				}
				loaded, err := f.store.LoadOrderVersions(ctx, got)
				require.NoError(t, err)
				require.Equal(t, want, loaded)
				whole, versions, wholeNext, err := f.store.ListOrdersWithVersions(ctx, flt)
				require.NoError(t, err)
				require.Equal(t, want, whole)
				require.Equal(t, got, versions)
				require.Equal(t, wantNext, wholeNext)
				pages++
				if next == "" {
					break
				}
				flt.Page.Cursor = next
			}
			require.Greater(t, pages, 0)
		})
	}

	page, _, err := f.store.ListOrderVersions(ctx, workorders.OrderFilter{Status: []workorders.Status{workorders.StatusApproved}})
	require.NoError(t, err)
	require.Len(t, page, 8)
	v := page[0]
	_, err = f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{v})
	require.NoError(t, err)

	// Through the service: a new version; the old one is not loaded.
	_, err = f.svc.EditOrder(ctx, f.admin, v.ID.String(), workorders.OrderEdit{Title: ptr("edited")})
	require.NoError(t, err)
	v2 := versionOf(t, f, v.ID)
	require.NotEqual(t, v.Version, v2.Version)
	_, err = f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{page[1], v})
	require.ErrorIs(t, err, workorders.ErrVersionChanged)
	got, err := f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{page[1], v2})
	require.NoError(t, err)
	require.Equal(t, "edited", got[1].Title)
	require.Equal(t, page[1].ID.String(), got[0].ID)

	// Plain SQL (another process, a migration): a new version too.
	_, err = pool.Exec(ctx, `update work_orders set title = 'by SQL' where id = $1`, v.ID)
	require.NoError(t, err)
	_, err = f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{v2})
	require.ErrorIs(t, err, workorders.ErrVersionChanged)
	v3 := versionOf(t, f, v.ID)
	require.NotEqual(t, v2.Version, v3.Version)

	// Frozen by VACUUM, a row keeps its version.
	_, err = pool.Exec(ctx, `vacuum (freeze) work_orders`)
	require.NoError(t, err)
	require.Equal(t, v3, versionOf(t, f, v.ID))
	got, err = f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{v3})
	require.NoError(t, err)
	require.Equal(t, "by SQL", got[0].Title)

	// Gone, or never there: changed.
	_, err = f.store.LoadOrderVersions(ctx, []workorders.OrderVersion{{ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"),
		Version: v3.Version}})
	require.ErrorIs(t, err, workorders.ErrVersionChanged)
}

func versionOf(t *testing.T, f *fixture, id uuid.UUID) workorders.OrderVersion {
	t.Helper()
	page, _, err := f.store.ListOrderVersions(context.Background(), workorders.OrderFilter{Page: workorders.Page{Limit: 100}})
	require.NoError(t, err)
	for _, v := range page {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("order %s not listed", id)
	return workorders.OrderVersion{}
}
