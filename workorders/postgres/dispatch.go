package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// DispatchOrders returns the approved, unassigned orders with where they
// are (asset, else site) and who declined them. Declines with reason
// off_shift (the dispatcher's own re-dispatch) do not exclude.
func (s *Ops) DispatchOrders(ctx context.Context) ([]workorders.DispatchOrder, error) {
	rows, err := s.pool.Query(ctx, `select `+orderCols+`, coalesce(a.lat, si.lat), coalesce(a.lon, si.lon),
			coalesce((select array_agg(distinct e.data->>'declined_by') from work_order_events e
				where e.order_id = o.id and e.type = 'declined' and e.data ? 'declined_by'
				  and jsonb_typeof(e.data->'declined_by') = 'string'
				  and coalesce(e.data->>'reason', '') <> 'off_shift'), '{}')
		from work_orders o join assets a on a.id = o.asset_id join sites si on si.id = o.site_id
		where o.status = 'approved' and o.assignee_id is null
		order by o.priority, o.due_at nulls last, o.created_at`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.DispatchOrder, error) {
		var (
			d        workorders.DispatchOrder
			lat, lon *float64
		)
		// scanOrder scans exactly orderCols; wrap the row to take the rest.
		o, err := scanOrder(&tailRow{row: r, tail: []any{&lat, &lon, &d.Declined}})
		if err != nil {
			return d, err
		}
		d.Order = o
		if lat != nil && lon != nil {
			d.Position = &dispatch.Point{Lat: *lat, Lon: *lon}
		}
		return d, nil
	})
}

// tailRow appends extra scan targets after those a scan function passes.
type tailRow struct {
	row  pgx.Row
	tail []any
}

func (t *tailRow) Scan(dest ...any) error { return t.row.Scan(append(dest, t.tail...)...) }

// AssignedOrders returns orders in status assigned (not yet accepted)
// whose latest assignment the dispatcher made, for the off-shift check;
// a planner's manual assignment is left alone.
func (s *Ops) AssignedOrders(ctx context.Context) ([]workorders.Order, error) {
	rows, err := s.pool.Query(ctx, `select `+orderCols+` from work_orders o where o.status = 'assigned'
		and (select e.actor from work_order_events e where e.order_id = o.id and e.type = 'assigned'
			order by e.id desc limit 1) = 'dispatcher'
		order by o.created_at`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.Order, error) { return scanOrder(r) })
}

// OrderPosition returns where an order's job is (asset, else site); nil
// when unknown.
func (s *Ops) OrderPosition(ctx context.Context, orderID string) (*dispatch.Point, error) {
	if !validID(orderID) {
		return nil, workorders.ErrNotFound
	}
	var lat, lon *float64
	err := s.pool.QueryRow(ctx, `select coalesce(a.lat, si.lat), coalesce(a.lon, si.lon)
		from work_orders o join assets a on a.id = o.asset_id join sites si on si.id = o.site_id where o.id = $1`, orderID).
		Scan(&lat, &lon)
	if err != nil {
		return nil, translateOps(err)
	}
	if lat == nil || lon == nil {
		return nil, nil
	}
	return &dispatch.Point{Lat: *lat, Lon: *lon}, nil
}

// SaveDispatchRun stores a run with its plan.
func (s *Ops) SaveDispatchRun(ctx context.Context, r workorders.DispatchRun) (workorders.DispatchRun, error) {
	plan, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("dispatch plan: %w", err)
	}
	err = s.pool.QueryRow(ctx, `insert into dispatch_runs (trigger, started_at, finished_at, orders, engineers, assigned,
		unassigned, total_cost, plan) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
		r.Trigger, r.StartedAt, r.FinishedAt, r.Orders, r.Engineers, r.Assigned, r.Unassigned, r.TotalCost, plan).Scan(&r.ID)
	return r, translateOps(err)
}

// LatestDispatchRun returns the newest run (ErrNotFound before the first).
func (s *Ops) LatestDispatchRun(ctx context.Context) (workorders.DispatchRun, error) {
	var (
		id   int64
		plan []byte
		r    workorders.DispatchRun
	)
	err := s.pool.QueryRow(ctx, `select id, plan from dispatch_runs order by id desc limit 1`).Scan(&id, &plan)
	if err != nil {
		return r, translateOps(err)
	}
	if err := json.Unmarshal(plan, &r); err != nil {
		return r, fmt.Errorf("dispatch run %d: %w", id, err)
	}
	r.ID = id
	return r, nil
}
