package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// ---- parts ----

const partCols = `p.id, p.sku, p.name, p.unit, p.unit_cost, p.lead_time_s, p.created_at, p.updated_at`

func scanPart(r pgx.Row) (workorders.Part, error) {
	var p workorders.Part
	var lead int64
	err := r.Scan(&p.ID, &p.SKU, &p.Name, &p.Unit, &p.UnitCost, &lead, &p.CreatedAt, &p.UpdatedAt)
	p.LeadTime = rules.Duration(time.Duration(lead) * time.Second)
	return p, err
}

// CreatePart adds a part to the catalogue.
func (s *Ops) CreatePart(ctx context.Context, p workorders.Part) (workorders.Part, error) {
	out, err := scanPart(s.pool.QueryRow(ctx, `insert into parts (sku, name, unit, unit_cost, lead_time_s)
		values ($1, $2, $3, $4, $5) returning `+partColsBare, p.SKU, p.Name, p.Unit, p.UnitCost, secs(p.LeadTime)))
	return out, translateOps(err)
}

const partColsBare = `id, sku, name, unit, unit_cost, lead_time_s, created_at, updated_at`

// GetPart returns a part by id or, failing that, by SKU.
func (s *Ops) GetPart(ctx context.Context, idOrSKU string) (workorders.Part, error) {
	var (
		p   workorders.Part
		err error
	)
	if validID(idOrSKU) {
		p, err = scanPart(s.pool.QueryRow(ctx, `select `+partCols+` from parts p where p.id = $1`, idOrSKU))
	} else {
		p, err = scanPart(s.pool.QueryRow(ctx, `select `+partCols+` from parts p where p.sku = $1`, idOrSKU))
	}
	return p, translateOps(err)
}

// ListParts pages through the catalogue by SKU.
func (s *Ops) ListParts(ctx context.Context, pg workorders.Page) ([]workorders.Part, string, error) {
	var w where
	if pg.Cursor != "" {
		w.add("p.sku > ?", pg.Cursor)
	}
	limit := limitOf(pg)
	rows, err := s.pool.Query(ctx, `select `+partCols+` from parts p`+w.sql()+fmt.Sprintf(` order by p.sku limit %d`, limit+1), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanPart)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].SKU
	}
	return out, next, nil
}

// UpdatePart writes a part's fields.
func (s *Ops) UpdatePart(ctx context.Context, p workorders.Part) (workorders.Part, error) {
	if !validID(p.ID) {
		return p, workorders.ErrNotFound
	}
	out, err := scanPart(s.pool.QueryRow(ctx, `update parts set sku = $2, name = $3, unit = $4, unit_cost = $5,
		lead_time_s = $6, updated_at = now() where id = $1 returning `+partColsBare,
		p.ID, p.SKU, p.Name, p.Unit, p.UnitCost, secs(p.LeadTime)))
	return out, translateOps(err)
}

// DeletePart removes a part that has no stock history.
func (s *Ops) DeletePart(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var used bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from stock_movements where part_id = $1)
			or exists (select 1 from purchase_requests where part_id = $1)`, id).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: the part has stock history", workorders.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `delete from stock where part_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `delete from parts where id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return workorders.ErrNotFound
		}
		return err
	})
	return translateOps(err)
}

// ---- stock locations ----

const locationCols = `l.id, l.code, l.name, l.kind, l.engineer_id, l.site_id, l.lat, l.lon, l.created_at`

func scanLocation(r pgx.Row) (workorders.StockLocation, error) {
	var (
		l        workorders.StockLocation
		lat, lon *float64
	)
	err := r.Scan(&l.ID, &l.Code, &l.Name, &l.Kind, &l.EngineerID, &l.SiteID, &lat, &lon, &l.CreatedAt)
	if lat != nil && lon != nil {
		l.Location = &workorders.Location{Lat: *lat, Lon: *lon}
	}
	return l, err
}

// CreateStockLocation adds a warehouse (vans come with their engineer).
func (s *Ops) CreateStockLocation(ctx context.Context, l workorders.StockLocation) (workorders.StockLocation, error) {
	if l.SiteID != nil && !validID(*l.SiteID) {
		return l, workorders.Unprocessable("site_id", "no such site")
	}
	if l.EngineerID != nil && !validID(*l.EngineerID) {
		return l, workorders.Unprocessable("engineer_id", "no such engineer")
	}
	lat, lon := opsPointArgs(l.Location)
	out, err := scanLocation(s.pool.QueryRow(ctx, `with ins as (insert into stock_locations (code, name, kind, engineer_id, site_id, lat, lon)
		values ($1, $2, $3, $4, $5, $6, $7) returning *) select `+locationCols+` from ins l`,
		l.Code, l.Name, l.Kind, l.EngineerID, l.SiteID, lat, lon))
	return out, translateOps(err)
}

// GetStockLocation returns one location.
func (s *Ops) GetStockLocation(ctx context.Context, id string) (workorders.StockLocation, error) {
	if !validID(id) {
		return workorders.StockLocation{}, workorders.ErrNotFound
	}
	l, err := scanLocation(s.pool.QueryRow(ctx, `select `+locationCols+` from stock_locations l where l.id = $1`, id))
	return l, translateOps(err)
}

// ListStockLocations pages through locations by code; kind filters.
func (s *Ops) ListStockLocations(ctx context.Context, kind string, pg workorders.Page) ([]workorders.StockLocation, string, error) {
	var w where
	if kind != "" {
		w.add("l.kind = ?", kind)
	}
	if pg.Cursor != "" {
		w.add("l.code > ?", pg.Cursor)
	}
	limit := limitOf(pg)
	rows, err := s.pool.Query(ctx, `select `+locationCols+` from stock_locations l`+w.sql()+fmt.Sprintf(` order by l.code limit %d`, limit+1), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanLocation)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].Code
	}
	return out, next, nil
}

// UpdateStockLocation writes a location's name, site and position.
func (s *Ops) UpdateStockLocation(ctx context.Context, l workorders.StockLocation) (workorders.StockLocation, error) {
	if !validID(l.ID) {
		return l, workorders.ErrNotFound
	}
	if l.SiteID != nil && !validID(*l.SiteID) {
		return l, workorders.Unprocessable("site_id", "no such site")
	}
	lat, lon := opsPointArgs(l.Location)
	out, err := scanLocation(s.pool.QueryRow(ctx, `with upd as (update stock_locations set code = $2, name = $3, site_id = $4,
		lat = $5, lon = $6 where id = $1 returning *) select `+locationCols+` from upd l`,
		l.ID, l.Code, l.Name, l.SiteID, lat, lon))
	return out, translateOps(err)
}

// DeleteStockLocation removes a warehouse without stock history.
func (s *Ops) DeleteStockLocation(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var kind string
		if err := tx.QueryRow(ctx, `select kind from stock_locations where id = $1 for update`, id).Scan(&kind); err != nil {
			return err
		}
		if kind == workorders.LocationVan {
			return fmt.Errorf("%w: a van goes with its engineer", workorders.ErrConflict)
		}
		var used bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from stock_movements where location_id = $1)
			or exists (select 1 from purchase_requests where location_id = $1)`, id).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: the location has stock history", workorders.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `delete from stock where location_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `delete from stock_locations where id = $1`, id)
		return err
	})
	return translateOps(err)
}

// Warehouses returns every warehouse as a place (without stock).
func (s *Ops) Warehouses(ctx context.Context) ([]workorders.StockPlace, error) {
	rows, err := s.pool.Query(ctx, `select id, lat, lon from stock_locations where kind = 'warehouse' order by id`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.StockPlace, error) {
		var p workorders.StockPlace
		var lat, lon *float64
		err := r.Scan(&p.ID, &lat, &lon)
		p.Kind = workorders.LocationWarehouse
		if lat != nil && lon != nil {
			p.Position = &dispatch.Point{Lat: *lat, Lon: *lon}
		}
		return p, err
	})
}

// ---- stock ----

const stockCols = `s.location_id, s.part_id, p.sku, s.on_hand, s.reserved, s.reorder_point, s.reorder_qty,
	l.code, l.kind, p.name, s.updated_at,
	(select r.id from purchase_requests r where r.part_id = s.part_id and r.location_id = s.location_id
		and r.status in ('open', 'ordered') order by r.created_at limit 1),
	(select coalesce(sum(r.qty), 0)::int from purchase_requests r where r.part_id = s.part_id
		and r.location_id = s.location_id and r.status in ('open', 'ordered'))`

func scanStock(r pgx.Row) (workorders.StockRow, error) {
	var x workorders.StockRow
	err := r.Scan(&x.LocationID, &x.PartID, &x.SKU, &x.OnHand, &x.Reserved, &x.ReorderPoint, &x.ReorderQty,
		&x.LocationCode, &x.LocationKind, &x.PartName, &x.UpdatedAt, &x.OpenRequest, &x.OnOrder)
	x.Available = x.OnHand - x.Reserved
	x.DemandByWeek = []float64{}
	return x, err
}

// ListStock pages through stock rows by (location, part). BelowReorder is
// applied by the caller, which knows the demand.
func (s *Ops) ListStock(ctx context.Context, f workorders.StockFilter) ([]workorders.StockRow, string, error) {
	var w where
	if f.LocationID != "" {
		if !validID(f.LocationID) {
			return []workorders.StockRow{}, "", nil
		}
		w.add("s.location_id = ?", f.LocationID)
	}
	if f.PartID != "" {
		if !validID(f.PartID) {
			return []workorders.StockRow{}, "", nil
		}
		w.add("s.part_id = ?", f.PartID)
	}
	if f.SKU != "" {
		w.add("p.sku = ?", f.SKU)
	}
	if f.Page.Cursor != "" {
		var c [2]string
		b, err := decodeCursorJSON(f.Page.Cursor, &c)
		if err != nil || !b || !validID(c[0]) || !validID(c[1]) {
			return nil, "", workorders.Invalid("cursor", "malformed")
		}
		w.add("(s.location_id, s.part_id) > (?, ?)", c[0], c[1])
	}
	limit := f.Page.Limit
	if limit <= 0 || limit > 5000 {
		limit = limitOf(f.Page)
	}
	rows, err := s.pool.Query(ctx, `select `+stockCols+` from stock s join parts p on p.id = s.part_id
		join stock_locations l on l.id = s.location_id`+w.sql()+
		fmt.Sprintf(` order by s.location_id, s.part_id limit %d`, limit+1), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanStock)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = encodeCursorJSON([2]string{last.LocationID, last.PartID})
	}
	return out, next, nil
}

// AllStockLevels returns every stock row (for reorder decisions).
func (s *Ops) AllStockLevels(ctx context.Context) ([]workorders.StockLevel, error) {
	rows, err := s.pool.Query(ctx, `select s.location_id, s.part_id, p.sku, s.on_hand, s.reserved, s.reorder_point, s.reorder_qty
		from stock s join parts p on p.id = s.part_id order by s.location_id, s.part_id`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.StockLevel, error) {
		var x workorders.StockLevel
		err := r.Scan(&x.LocationID, &x.PartID, &x.SKU, &x.OnHand, &x.Reserved, &x.ReorderPoint, &x.ReorderQty)
		return x, err
	})
}

// SetStockPolicy sets the reorder point and quantity of a part at a
// location, creating the (empty) stock row when needed.
func (s *Ops) SetStockPolicy(ctx context.Context, locationID, sku string, reorderPoint, reorderQty int) (workorders.StockRow, error) {
	if !validID(locationID) {
		return workorders.StockRow{}, workorders.Unprocessable("location_id", "no such location")
	}
	var out workorders.StockRow
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		partID, err := partIDBySKU(ctx, tx, sku)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `insert into stock (location_id, part_id, reorder_point, reorder_qty) values ($1, $2, $3, $4)
			on conflict (location_id, part_id) do update set reorder_point = excluded.reorder_point,
				reorder_qty = excluded.reorder_qty, updated_at = now()`, locationID, partID, reorderPoint, reorderQty); err != nil {
			return err
		}
		out, err = scanStock(tx.QueryRow(ctx, `select `+stockCols+` from stock s join parts p on p.id = s.part_id
			join stock_locations l on l.id = s.location_id where s.location_id = $1 and s.part_id = $2`, locationID, partID))
		return err
	})
	return out, translateOps(err)
}

func partIDBySKU(ctx context.Context, tx pgx.Tx, sku string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `select id from parts where sku = $1`, sku).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", workorders.Unprocessable("sku", "no part %s in the catalogue", sku)
	}
	return id, err
}

// knownParts returns the part ids of those skus the catalogue has; it
// never adds any (used parts must exist, issue #10).
func knownParts(ctx context.Context, tx pgx.Tx, skus []string) (map[string]string, error) {
	ids := map[string]string{}
	if len(skus) == 0 {
		return ids, nil
	}
	rows, err := tx.Query(ctx, `select sku, id from parts where sku = any($1)`, skus)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sku, id string
		if err := rows.Scan(&sku, &id); err != nil {
			return nil, err
		}
		ids[sku] = id
	}
	return ids, rows.Err()
}

// ensureParts returns the part ids of skus, adding unknown SKUs to the
// catalogue (named after the SKU) so shortages can be requested.
func ensureParts(ctx context.Context, tx pgx.Tx, skus []string) (map[string]string, error) {
	ids := map[string]string{}
	if len(skus) == 0 {
		return ids, nil
	}
	if _, err := tx.Exec(ctx, `insert into parts (sku, name) select x, x from unnest($1::text[]) x
		where x ~ '^[A-Za-z0-9._-]{1,64}$' on conflict (sku) do nothing`, skus); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `select sku, id from parts where sku = any($1)`, skus)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sku, id string
		if err := rows.Scan(&sku, &id); err != nil {
			return nil, err
		}
		ids[sku] = id
	}
	return ids, rows.Err()
}

// move appends one ledger entry; the database applies it to the stock and
// refuses it (ErrInsufficientStock) when an invariant would break.
type move struct {
	kind, locationID, partID string
	onHand, reserved         int
	orderID, prID, transfer  *string
	actor, note              string
}

func insertMove(ctx context.Context, tx pgx.Tx, m move) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `insert into stock_movements (kind, location_id, part_id, on_hand_delta, reserved_delta,
		order_id, purchase_request_id, transfer_id, actor, note) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id`,
		m.kind, m.locationID, m.partID, m.onHand, m.reserved, m.orderID, m.prID, m.transfer, m.actor, m.note).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("%s %d at %s: %w", m.kind, m.onHand+m.reserved, m.locationID, translateOps(err))
	}
	return id, nil
}

// ApplyStockChange records a receipt, adjustment or transfer and returns
// its ledger entries.
func (s *Ops) ApplyStockChange(ctx context.Context, c workorders.StockChange) ([]workorders.Movement, error) {
	if !validID(c.LocationID) {
		return nil, workorders.Unprocessable("location_id", "no such location")
	}
	if c.ToLocationID != "" && !validID(c.ToLocationID) {
		return nil, workorders.Unprocessable("to_location_id", "no such location")
	}
	var ids []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		partID, err := partIDBySKU(ctx, tx, c.SKU)
		if err != nil {
			return err
		}
		add := func(m move) error {
			id, err := insertMove(ctx, tx, m)
			ids = append(ids, id)
			return err
		}
		switch c.Kind {
		case workorders.MoveReceipt, workorders.MoveAdjust:
			return add(move{kind: c.Kind, locationID: c.LocationID, partID: partID, onHand: c.Qty, actor: c.Actor, note: c.Note})
		default: // transfer
			var tid string
			if err := tx.QueryRow(ctx, `select gen_random_uuid()::text`).Scan(&tid); err != nil {
				return err
			}
			if err := add(move{kind: workorders.MoveTransferOut, locationID: c.LocationID, partID: partID, onHand: -c.Qty,
				transfer: &tid, actor: c.Actor, note: c.Note}); err != nil {
				return err
			}
			return add(move{kind: workorders.MoveTransferIn, locationID: c.ToLocationID, partID: partID, onHand: c.Qty,
				transfer: &tid, actor: c.Actor, note: c.Note})
		}
	})
	if err != nil {
		return nil, translateOps(err)
	}
	rows, err := s.pool.Query(ctx, `select `+movementCols+` from stock_movements m join parts p on p.id = m.part_id
		where m.id = any($1) order by m.id`, ids)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, scanMovement)
}

const movementCols = `m.id, m.at, m.kind, m.location_id, m.part_id, p.sku, m.on_hand_delta, m.reserved_delta, m.order_id,
	m.purchase_request_id, m.transfer_id, m.actor, m.note`

func scanMovement(r pgx.Row) (workorders.Movement, error) {
	var m workorders.Movement
	err := r.Scan(&m.ID, &m.At, &m.Kind, &m.LocationID, &m.PartID, &m.SKU, &m.OnHandDelta, &m.ReservedDelta, &m.OrderID,
		&m.PurchaseRequestID, &m.TransferID, &m.Actor, &m.Note)
	return m, err
}

// ListMovements pages through the ledger, newest first.
func (s *Ops) ListMovements(ctx context.Context, f workorders.MovementFilter) ([]workorders.Movement, string, error) {
	var w where
	for _, c := range []struct{ col, v string }{{"m.location_id", f.LocationID}, {"m.part_id", f.PartID}, {"m.order_id", f.OrderID}} {
		if c.v == "" {
			continue
		}
		if !validID(c.v) {
			return []workorders.Movement{}, "", nil
		}
		w.add(c.col+" = ?", c.v)
	}
	if f.Kind != "" {
		w.add("m.kind = ?", f.Kind)
	}
	if f.Page.Cursor != "" {
		id, err := parseIntCursor(f.Page.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add("m.id < ?", id)
	}
	limit := limitOf(f.Page)
	rows, err := s.pool.Query(ctx, `select `+movementCols+` from stock_movements m join parts p on p.id = m.part_id`+
		w.sql()+fmt.Sprintf(` order by m.id desc limit %d`, limit+1), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanMovement)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = intCursor(out[len(out)-1].ID)
	}
	return out, next, nil
}

// ---- reservations ----

// lockOrderParts creates (if needed) and locks the order's parts state
// row, serialising every parts operation on one order.
func lockOrderParts(ctx context.Context, tx pgx.Tx, orderID string) (workorders.PartsState, error) {
	if _, err := tx.Exec(ctx, `insert into order_parts (order_id, state) values ($1, 'released') on conflict do nothing`, orderID); err != nil {
		return workorders.PartsState{}, translateOps(err)
	}
	return readPartsState(ctx, tx, orderID, true)
}

func readPartsState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, orderID string, lock bool) (workorders.PartsState, error) {
	st := workorders.PartsState{OrderID: orderID, Reservations: []workorders.Allocation{}, Shortages: []workorders.ShortageAt{}}
	var short []byte
	sql := `select state, resume_status, shortages, updated_at from order_parts where order_id = $1`
	if lock {
		sql += ` for update`
	}
	if err := q.QueryRow(ctx, sql, orderID).Scan(&st.State, &st.ResumeStatus, &short, &st.UpdatedAt); err != nil {
		return st, translateOps(err)
	}
	if err := json.Unmarshal(short, &st.Shortages); err != nil {
		return st, fmt.Errorf("order %s shortages: %w", orderID, err)
	}
	rows, err := q.Query(ctx, `select p.sku, r.location_id, r.qty from part_reservations r join parts p on p.id = r.part_id
		where r.order_id = $1 order by p.sku, r.location_id`, orderID)
	if err != nil {
		return st, translateOps(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a workorders.Allocation
		if err := rows.Scan(&a.SKU, &a.LocationID, &a.Qty); err != nil {
			return st, err
		}
		st.Reservations = append(st.Reservations, a)
	}
	return st, translateOps(rows.Err())
}

// OrderPartsState returns what an order holds (ErrNotFound: nothing yet).
func (s *Ops) OrderPartsState(ctx context.Context, orderID string) (workorders.PartsState, error) {
	if !validID(orderID) {
		return workorders.PartsState{}, workorders.ErrNotFound
	}
	return readPartsState(ctx, s.pool, orderID, false)
}

// ReserveOrderParts reserves an order's parts (van first, then the
// nearest warehouses) or, when anything is short, reserves nothing, marks
// the order waiting with its shortages and raises (or raises the quantity
// of) the open purchase request per part at the warehouse nearest to the
// job. It is idempotent: an order already holding its parts keeps them.
func (s *Ops) ReserveOrderParts(ctx context.Context, r workorders.ReserveRequest) (workorders.PartsState, error) {
	if !validID(r.OrderID) {
		return workorders.PartsState{}, workorders.ErrNotFound
	}
	var out workorders.PartsState
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		st, err := lockOrderParts(ctx, tx, r.OrderID)
		if err != nil {
			return err
		}
		if st.State == workorders.PartsReserved || st.State == workorders.PartsConsumed {
			out = st
			return nil
		}
		parts := workorders.MergeParts(r.Parts)
		skus := make([]string, 0, len(parts))
		for _, p := range parts {
			skus = append(skus, p.SKU)
		}
		ids, err := ensureParts(ctx, tx, skus)
		if err != nil {
			return err
		}
		partIDs := make([]string, 0, len(ids))
		for _, id := range ids {
			partIDs = append(partIDs, id)
		}
		// Lock the stock rows in one order (location, part), so concurrent
		// reservations queue instead of deadlocking.
		rows, err := tx.Query(ctx, `select s.location_id, l.kind, l.lat, l.lon, p.sku, s.on_hand - s.reserved
			from stock s join stock_locations l on l.id = s.location_id join parts p on p.id = s.part_id
			where s.part_id = any($1) and (l.kind = 'warehouse' or l.id = $2)
			order by s.location_id, s.part_id for update of s`, partIDs, r.VanID)
		if err != nil {
			return err
		}
		places := map[string]*workorders.StockPlace{}
		for rows.Next() {
			var (
				id, kind, sku string
				lat, lon      *float64
				avail         int
			)
			if err := rows.Scan(&id, &kind, &lat, &lon, &sku, &avail); err != nil {
				rows.Close()
				return err
			}
			p := places[id]
			if p == nil {
				p = &workorders.StockPlace{ID: id, Kind: kind, Available: map[string]int{}}
				if lat != nil && lon != nil {
					p.Position = &dispatch.Point{Lat: *lat, Lon: *lon}
				}
				places[id] = p
			}
			p.Available[sku] = avail
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var van *workorders.StockPlace
		var warehouses []workorders.StockPlace
		for _, p := range places {
			if r.VanID != nil && p.ID == *r.VanID {
				van = p
				continue
			}
			warehouses = append(warehouses, *p)
		}
		allocs, short := workorders.AllocateParts(parts, van, warehouses, r.At)
		if len(short) > 0 {
			return s.markWaiting(ctx, tx, r, short, ids, &out)
		}
		for _, a := range allocs {
			if _, err := insertMove(ctx, tx, move{kind: workorders.MoveReserve, locationID: a.LocationID, partID: ids[a.SKU],
				reserved: a.Qty, orderID: &r.OrderID, actor: r.Actor, note: r.Note}); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `insert into part_reservations (order_id, location_id, part_id, qty) values ($1, $2, $3, $4)
				on conflict (order_id, location_id, part_id) do update set qty = part_reservations.qty + excluded.qty`,
				r.OrderID, a.LocationID, ids[a.SKU], a.Qty); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `update order_parts set state = 'reserved', shortages = '[]', resume_status = '',
			updated_at = now() where order_id = $1`, r.OrderID); err != nil {
			return err
		}
		out, err = readPartsState(ctx, tx, r.OrderID, false)
		return err
	})
	return out, translateOps(err)
}

func (s *Ops) markWaiting(ctx context.Context, tx pgx.Tx, r workorders.ReserveRequest, short []workorders.Shortage,
	ids map[string]string, out *workorders.PartsState) error {
	rows, err := tx.Query(ctx, `select id, lat, lon from stock_locations where kind = 'warehouse'`)
	if err != nil {
		return err
	}
	var wh []workorders.StockPlace
	for rows.Next() {
		var p workorders.StockPlace
		var lat, lon *float64
		if err := rows.Scan(&p.ID, &lat, &lon); err != nil {
			rows.Close()
			return err
		}
		if lat != nil && lon != nil {
			p.Position = &dispatch.Point{Lat: *lat, Lon: *lon}
		}
		wh = append(wh, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var target string
	switch {
	case len(wh) > 0:
		target = workorders.NearestFirst(wh, r.At)[0].ID
	case r.VanID != nil:
		target = *r.VanID
	default:
		return fmt.Errorf("%w: no stock location to request parts at", workorders.ErrInsufficientStock)
	}
	shortAt := make([]workorders.ShortageAt, 0, len(short))
	for _, sh := range short {
		shortAt = append(shortAt, workorders.ShortageAt{SKU: sh.SKU, Qty: sh.Qty, LocationID: target})
	}
	if _, err := tx.Exec(ctx, `update order_parts set state = 'waiting', shortages = $2, resume_status = $3,
		updated_at = now() where order_id = $1`, r.OrderID, jsonOr(shortAt, "[]"), r.ResumeStatus); err != nil {
		return err
	}
	for _, sh := range shortAt {
		partID, ok := ids[sh.SKU]
		if !ok {
			continue // not a valid SKU: nothing can be requested
		}
		// What the waiting orders lack here, at least the reorder quantity.
		var need int
		if err := tx.QueryRow(ctx, `select coalesce(sum((x->>'qty')::int), 0) from order_parts o,
				jsonb_array_elements(o.shortages) x
			where o.state = 'waiting' and x->>'sku' = $1 and x->>'location_id' = $2`, sh.SKU, sh.LocationID).Scan(&need); err != nil {
			return err
		}
		var rq int
		_ = tx.QueryRow(ctx, `select reorder_qty from stock where location_id = $1 and part_id = $2`, sh.LocationID, partID).Scan(&rq)
		need = max(need, rq, sh.Qty)
		if _, err := tx.Exec(ctx, `insert into purchase_requests (part_id, location_id, qty, reason, order_id, note)
			values ($1, $2, $3, 'shortage', $4, $5)
			on conflict (part_id, location_id) where status in ('open', 'ordered')
			do update set qty = greatest(purchase_requests.qty, excluded.qty), updated_at = now()`,
			partID, sh.LocationID, need, r.OrderID, "parts for waiting orders"); err != nil {
			return err
		}
	}
	st, err := readPartsState(ctx, tx, r.OrderID, false)
	*out = st
	return err
}

// ReleaseOrderParts gives back everything an order holds and clears its
// waiting state; a consumed order stays consumed unless reset (a reopened
// order is a new job that needs its parts again).
func (s *Ops) ReleaseOrderParts(ctx context.Context, orderID, actor, note string, reset bool) (workorders.PartsState, error) {
	if !validID(orderID) {
		return workorders.PartsState{}, workorders.ErrNotFound
	}
	var out workorders.PartsState
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		st, err := lockOrderParts(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if err := releaseAll(ctx, tx, orderID, actor, note); err != nil {
			return err
		}
		if st.State != workorders.PartsConsumed || reset {
			if _, err := tx.Exec(ctx, `update order_parts set state = 'released', shortages = '[]', resume_status = '',
				updated_at = now() where order_id = $1`, orderID); err != nil {
				return err
			}
		}
		out, err = readPartsState(ctx, tx, orderID, false)
		return err
	})
	return out, translateOps(err)
}

func releaseAll(ctx context.Context, tx pgx.Tx, orderID, actor, note string) error {
	rows, err := tx.Query(ctx, `delete from part_reservations where order_id = $1 returning location_id, part_id, qty`, orderID)
	if err != nil {
		return err
	}
	type res struct {
		loc, part string
		qty       int
	}
	var rs []res
	for rows.Next() {
		var r res
		if err := rows.Scan(&r.loc, &r.part, &r.qty); err != nil {
			rows.Close()
			return err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(rs, func(a, b int) bool { return rs[a].loc+rs[a].part < rs[b].loc+rs[b].part })
	for _, r := range rs {
		if _, err := insertMove(ctx, tx, move{kind: workorders.MoveRelease, locationID: r.loc, partID: r.part,
			reserved: -r.qty, orderID: &orderID, actor: actor, note: note}); err != nil {
			return err
		}
	}
	return nil
}

// ConsumeOrderParts books what a completed order used: from its
// reservations first (van before warehouse), then from the van's free
// stock; the rest of the reservations is released. Used parts nobody held
// are returned as unbooked.
func (s *Ops) ConsumeOrderParts(ctx context.Context, orderID string, used []rules.PartQty, vanID *string, actor string) (workorders.PartsState, []workorders.Shortage, error) {
	if !validID(orderID) {
		return workorders.PartsState{}, nil, workorders.ErrNotFound
	}
	var (
		out      workorders.PartsState
		unbooked []workorders.Shortage
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		unbooked = nil
		st, err := lockOrderParts(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if st.State == workorders.PartsConsumed {
			out = st
			return nil
		}
		left := map[string]int{}
		var skus []string
		for _, p := range workorders.MergeParts(used) {
			left[p.SKU] = p.Qty
			skus = append(skus, p.SKU)
		}
		ids, err := knownParts(ctx, tx, skus)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `select r.location_id, r.part_id, p.sku, r.qty from part_reservations r
			join parts p on p.id = r.part_id join stock_locations l on l.id = r.location_id
			where r.order_id = $1 order by (l.kind = 'van') desc, r.location_id, r.part_id`, orderID)
		if err != nil {
			return err
		}
		type res struct {
			loc, part, sku string
			qty            int
		}
		var rs []res
		for rows.Next() {
			var r res
			if err := rows.Scan(&r.loc, &r.part, &r.sku, &r.qty); err != nil {
				rows.Close()
				return err
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rs {
			c := min(left[r.sku], r.qty)
			if c > 0 {
				if _, err := insertMove(ctx, tx, move{kind: workorders.MoveConsume, locationID: r.loc, partID: r.part,
					onHand: -c, reserved: -c, orderID: &orderID, actor: actor, note: "used on the job"}); err != nil {
					return err
				}
				left[r.sku] -= c
			}
			if rest := r.qty - c; rest > 0 {
				if _, err := insertMove(ctx, tx, move{kind: workorders.MoveRelease, locationID: r.loc, partID: r.part,
					reserved: -rest, orderID: &orderID, actor: actor, note: "not used"}); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `delete from part_reservations where order_id = $1`, orderID); err != nil {
			return err
		}
		for _, sku := range skus {
			n := left[sku]
			if n <= 0 {
				continue
			}
			if vanID != nil && ids[sku] != "" {
				var avail int
				err := tx.QueryRow(ctx, `select on_hand - reserved from stock where location_id = $1 and part_id = $2 for update`,
					*vanID, ids[sku]).Scan(&avail)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				if c := min(n, avail); c > 0 {
					if _, err := insertMove(ctx, tx, move{kind: workorders.MoveConsume, locationID: *vanID, partID: ids[sku],
						onHand: -c, orderID: &orderID, actor: actor, note: "used on the job, not reserved"}); err != nil {
						return err
					}
					n -= c
				}
			}
			if n > 0 {
				unbooked = append(unbooked, workorders.Shortage{SKU: sku, Qty: n})
			}
		}
		if _, err := tx.Exec(ctx, `update order_parts set state = 'consumed', shortages = '[]', resume_status = '',
			updated_at = now() where order_id = $1`, orderID); err != nil {
			return err
		}
		out, err = readPartsState(ctx, tx, orderID, false)
		return err
	})
	return out, unbooked, translateOps(err)
}

// WaitingOrders lists orders waiting for parts, longest waiting first.
func (s *Ops) WaitingOrders(ctx context.Context) ([]workorders.PartsState, error) {
	rows, err := s.pool.Query(ctx, `select order_id from order_parts where state = 'waiting' order by updated_at, order_id`)
	if err != nil {
		return nil, translateOps(err)
	}
	ids, err := opsCollect(rows, func(r pgx.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	out := make([]workorders.PartsState, 0, len(ids))
	for _, id := range ids {
		st, err := readPartsState(ctx, s.pool, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// OrdersNeedingParts lists open orders in assigned, accepted or in
// progress with parts but no parts state: the reservations a crash
// between assignment and reservation may have missed.
func (s *Ops) OrdersNeedingParts(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `select w.id from work_orders w
		where w.status in ('assigned', 'accepted', 'en_route', 'on_site', 'in_progress') and jsonb_array_length(w.parts) > 0
		  and not exists (select 1 from order_parts o where o.order_id = w.id and o.state in ('reserved', 'waiting', 'consumed'))
		order by w.created_at`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

// ---- purchase requests ----

const prCols = `r.id, r.part_id, p.sku, r.location_id, r.qty, r.status, r.reason, r.order_id, r.note, r.created_at,
	r.updated_at, r.received_at, r.received_qty`

func scanPR(r pgx.Row) (workorders.PurchaseRequest, error) {
	var x workorders.PurchaseRequest
	err := r.Scan(&x.ID, &x.PartID, &x.SKU, &x.LocationID, &x.Qty, &x.Status, &x.Reason, &x.OrderID, &x.Note,
		&x.CreatedAt, &x.UpdatedAt, &x.ReceivedAt, &x.ReceivedQty)
	return x, err
}

// GetPurchaseRequest returns one purchase request.
func (s *Ops) GetPurchaseRequest(ctx context.Context, id string) (workorders.PurchaseRequest, error) {
	if !validID(id) {
		return workorders.PurchaseRequest{}, workorders.ErrNotFound
	}
	x, err := scanPR(s.pool.QueryRow(ctx, `select `+prCols+` from purchase_requests r join parts p on p.id = r.part_id where r.id = $1`, id))
	return x, translateOps(err)
}

// ListPurchaseRequests pages through purchase requests, newest first.
func (s *Ops) ListPurchaseRequests(ctx context.Context, f workorders.PurchaseFilter) ([]workorders.PurchaseRequest, string, error) {
	var w where
	if f.Status != "" {
		w.add("r.status = ?", f.Status)
	}
	for _, c := range []struct{ col, v string }{{"r.part_id", f.PartID}, {"r.location_id", f.LocationID}} {
		if c.v == "" {
			continue
		}
		if !validID(c.v) {
			return []workorders.PurchaseRequest{}, "", nil
		}
		w.add(c.col+" = ?", c.v)
	}
	ks := keyset{created: "r.created_at", key: "r.id", desc: true}
	if err := ks.after(&w, f.Page); err != nil {
		return nil, "", err
	}
	limit := limitOf(f.Page)
	rows, err := s.pool.Query(ctx, `select `+prCols+` from purchase_requests r join parts p on p.id = r.part_id`+w.sql()+
		ks.orderLimit(&w, limit), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanPR)
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(v workorders.PurchaseRequest) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// EnsurePurchaseRequest raises a request for a part at a location unless
// one is open there (the partial unique index decides, so concurrent
// callers raise one). It reports whether it raised one.
func (s *Ops) EnsurePurchaseRequest(ctx context.Context, partID, locationID string, qty int, reason, note string) (workorders.PurchaseRequest, bool, error) {
	if !validID(partID) || !validID(locationID) {
		return workorders.PurchaseRequest{}, false, workorders.Unprocessable("part_id", "no such part or location")
	}
	var id string
	err := s.pool.QueryRow(ctx, `insert into purchase_requests (part_id, location_id, qty, reason, note) values ($1, $2, $3, $4, $5)
		on conflict (part_id, location_id) where status in ('open', 'ordered') do nothing returning id`,
		partID, locationID, qty, reason, note).Scan(&id)
	created := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `select id from purchase_requests where part_id = $1 and location_id = $2
			and status in ('open', 'ordered')`, partID, locationID).Scan(&id)
	}
	if err != nil {
		return workorders.PurchaseRequest{}, false, translateOps(err)
	}
	pr, err := s.GetPurchaseRequest(ctx, id)
	return pr, created, err
}

// SetPurchaseRequestStatus moves an open request to ordered or cancelled.
func (s *Ops) SetPurchaseRequestStatus(ctx context.Context, id, status string) (workorders.PurchaseRequest, error) {
	if !validID(id) {
		return workorders.PurchaseRequest{}, workorders.ErrNotFound
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var cur string
		if err := tx.QueryRow(ctx, `select status from purchase_requests where id = $1 for update`, id).Scan(&cur); err != nil {
			return err
		}
		ok := (status == workorders.PROrdered && cur == workorders.PROpen) ||
			(status == workorders.PRCancelled && (cur == workorders.PROpen || cur == workorders.PROrdered))
		if !ok {
			return fmt.Errorf("%w: a purchase request that is %s cannot become %s", workorders.ErrIllegalTransition, cur, status)
		}
		_, err := tx.Exec(ctx, `update purchase_requests set status = $2, updated_at = now() where id = $1`, id, status)
		return err
	})
	if err != nil {
		return workorders.PurchaseRequest{}, translateOps(err)
	}
	return s.GetPurchaseRequest(ctx, id)
}

// ReceivePurchaseRequest books a receipt of qty (0: the requested
// quantity) at the request's location and closes the request.
func (s *Ops) ReceivePurchaseRequest(ctx context.Context, id string, qty int, actor string) (workorders.PurchaseRequest, error) {
	if !validID(id) {
		return workorders.PurchaseRequest{}, workorders.ErrNotFound
	}
	if qty < 0 {
		return workorders.PurchaseRequest{}, workorders.Unprocessable("qty", "must be positive")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			cur, partID, loc string
			want             int
		)
		if err := tx.QueryRow(ctx, `select status, part_id, location_id, qty from purchase_requests where id = $1 for update`, id).
			Scan(&cur, &partID, &loc, &want); err != nil {
			return err
		}
		if cur != workorders.PROpen && cur != workorders.PROrdered {
			return fmt.Errorf("%w: the purchase request is %s", workorders.ErrIllegalTransition, cur)
		}
		if qty == 0 {
			qty = want
		}
		if _, err := insertMove(ctx, tx, move{kind: workorders.MoveReceipt, locationID: loc, partID: partID, onHand: qty,
			prID: &id, actor: actor, note: "purchase request received"}); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `update purchase_requests set status = 'received', received_qty = $2, received_at = now(),
			updated_at = now() where id = $1`, id, qty)
		return err
	})
	if err != nil {
		return workorders.PurchaseRequest{}, translateOps(err)
	}
	return s.GetPurchaseRequest(ctx, id)
}

// DemandSources returns open orders not yet holding parts (proposed or
// approved, or waiting), with parts, as expected consumption: trend orders
// at their predicted failure time, others at their due time (or now).
func (s *Ops) DemandSources(ctx context.Context) ([]workorders.DemandSource, error) {
	rows, err := s.pool.Query(ctx, `select w.id, w.parts, coalesce(a.lat, si.lat), coalesce(a.lon, si.lon),
			coalesce(w.predicted_failure_at, w.due_at, now())
		from work_orders w join assets a on a.id = w.asset_id join sites si on si.id = w.site_id
		where w.status in ('proposed', 'approved') and jsonb_array_length(w.parts) > 0
		  and not exists (select 1 from order_parts o where o.order_id = w.id and o.state in ('reserved', 'consumed'))`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.DemandSource, error) {
		var (
			d        workorders.DemandSource
			parts    []byte
			lat, lon *float64
		)
		if err := r.Scan(&d.OrderID, &parts, &lat, &lon, &d.ExpectedAt); err != nil {
			return d, err
		}
		if lat != nil && lon != nil {
			d.Position = &dispatch.Point{Lat: *lat, Lon: *lon}
		}
		return d, json.Unmarshal(parts, &d.Parts)
	})
}
