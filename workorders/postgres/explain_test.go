package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// TestListQueriesUseIndexes seeds 30,000 orders and checks that every list
// filter is answered from an index, never by a sequential scan.
func TestListQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	pool := f.store.Pool()
	_, err := pool.Exec(ctx, `insert into assets (site_id, code, type, name, criticality)
		select $1, 'a' || g, 'pump', 'asset', 3 from generate_series(1, 300) g`, f.site.ID)
	require.NoError(t, err)
	eng, _, err := f.svc.CreateUser(ctx, "eng", workorders.RoleEngineer)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `insert into work_orders (asset_id, site_id, title, source, failure_mode, priority, status,
			created_at, assignee_id)
		select ids[1 + g % array_length(ids, 1)], $1, 'seed',
			(array['threshold','trend','event','manual','schedule'])[1 + g % 5], 'mode_' || g,
			(array['P1','P2','P3','P4'])[1 + g % 4],
			case when g % 20 = 0 then 'proposed' when g % 20 = 1 then 'approved' when g % 20 = 2 then 'in_progress' else 'closed' end,
			now() - (g || ' minutes')::interval,
			case when g % 20 = 2 then $2::uuid end
		from generate_series(1, 30000) g, (select array_agg(id order by code) ids from assets) a`, f.site.ID, eng.ID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `analyze`)
	require.NoError(t, err)

	filters := []struct {
		name string
		f    workorders.OrderFilter
	}{
		{"none", workorders.OrderFilter{}},
		{"status", workorders.OrderFilter{Status: []workorders.Status{workorders.StatusProposed}}},
		{"statuses", workorders.OrderFilter{Status: []workorders.Status{workorders.StatusProposed, workorders.StatusApproved}}},
		{"asset", workorders.OrderFilter{AssetID: f.asset.ID}},
		{"site+status", workorders.OrderFilter{SiteID: f.site.ID, Status: []workorders.Status{workorders.StatusApproved}}},
		{"assignee", workorders.OrderFilter{AssigneeID: eng.ID}},
		{"assignee+status", workorders.OrderFilter{AssigneeID: eng.ID, Status: []workorders.Status{workorders.StatusInProgress}}},
		{"priority+status", workorders.OrderFilter{Priority: "P1", Status: []workorders.Status{workorders.StatusApproved}}},
		{"source+status", workorders.OrderFilter{Source: "trend", Status: []workorders.Status{workorders.StatusProposed}}},
		{"source", workorders.OrderFilter{Source: "manual"}},
		{"priority", workorders.OrderFilter{Priority: "P2"}},
		{"number", workorders.OrderFilter{Number: 1234}},
		{"risk+status", workorders.OrderFilter{Status: []workorders.Status{workorders.StatusProposed}, Sort: workorders.SortRisk}},
		{"risk+statuses", workorders.OrderFilter{Status: []workorders.Status{workorders.StatusProposed, workorders.StatusApproved},
			Sort: workorders.SortRisk}},
		{"risk", workorders.OrderFilter{Sort: workorders.SortRisk}},
		{"risk+status+cursor", workorders.OrderFilter{Status: []workorders.Status{workorders.StatusProposed}, Sort: workorders.SortRisk,
			Page: workorders.Page{Cursor: riskCursorOf(t, f)}}},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := f.store.ExplainListOrders(ctx, tt.f)
			require.NoError(t, err)
			// The page of versions (the list through httpapi's cache)
			// reads the same rows the same way.
			keys, err := f.store.ExplainListOrderVersions(ctx, tt.f)
			require.NoError(t, err)
			require.Equal(t, planNodes(plan), planNodes(keys), "orders:\n%s\nversions:\n%s", plan, keys)
			require.NotContains(t, plan, "Seq Scan", plan)
			require.Contains(t, plan, "Index", plan)
			if tt.f.Sort == workorders.SortRisk {
				// Read in the index's order and stopped at the limit:
				// no sort of the matching orders.
				require.Contains(t, plan, "work_orders_risk", plan)
				require.NotContains(t, plan, "Sort  (", plan)
				require.True(t, strings.HasPrefix(plan, "Limit"), plan)
			}
			if testing.Verbose() {
				t.Log("\n" + strings.TrimSpace(plan))
			}
		})
	}
}

// planNodes is a plan's nodes and the indexes they use, without costs and
// widths.
func planNodes(plan string) []string {
	var out []string
	for _, l := range strings.Split(plan, "\n") {
		if i := strings.Index(l, "  (cost="); i >= 0 {
			out = append(out, l[:i])
		}
	}
	return out
}

// riskCursorOf returns the cursor after the first page of proposed orders
// riskiest first.
func riskCursorOf(t *testing.T, f *fixture) string {
	t.Helper()
	_, next, err := f.store.ListOrders(context.Background(), workorders.OrderFilter{
		Status: []workorders.Status{workorders.StatusProposed}, Sort: workorders.SortRisk, Page: workorders.Page{Limit: 10}})
	require.NoError(t, err)
	require.NotEmpty(t, next)
	return next
}
