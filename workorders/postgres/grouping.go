package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

// GroupOrders returns the open threshold and trend auto orders for a
// failure mode on the asset's neighbours: assets with the same parent, the
// asset's parent and its children, and assets of the same site and
// non-empty area (workorders.GroupStore).
func (s *Store) GroupOrders(ctx context.Context, assetID, failureMode string) ([]workorders.Order, error) {
	if !validID(assetID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `select `+orderCols+` from work_orders o
		join assets n on n.id = o.asset_id
		join assets me on me.id = $1
		where o.asset_id <> $1 and o.failure_mode = $2 and o.source in ('threshold', 'trend')
		and o.status not in ('completed', 'verified', 'closed', 'rejected', 'cancelled')
		and (n.parent_id = me.parent_id or n.id = me.parent_id or n.parent_id = me.id
			or (me.area <> '' and n.site_id = me.site_id and n.area = me.area))
		order by o.created_at limit 50`, assetID, failureMode)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Order, error) { return scanOrder(r) })
	return out, translate(err)
}
