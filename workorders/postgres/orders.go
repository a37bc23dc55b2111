package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
)

const orderCols = `o.id, o.number, o.asset_id, o.site_id, o.title, o.description, o.source, o.failure_mode, o.rule_id,
	o.priority, o.status, o.created_at, o.updated_at, o.approved_at, o.due_at, o.assignee_id, o.required_skills, o.parts,
	o.estimated_duration_s, o.evidence, o.detected_at, o.predicted_failure_at, o.predicted_failure_earliest,
	o.predicted_failure_latest, o.follow_up_of, o.signal_count, o.reason, o.hold_reason, o.resolution, o.labour_s,
	o.parts_used, o.accepted_at, o.started_at, o.completed_at, o.verified_at, o.closed_at, o.on_hold_since, o.held_s,
	o.sla_state, o.status_path, o.helper_ids, o.transfer`

// orderKeyCols are what a page of versions needs (ListOrderVersions): the
// ID, the row version (xmin: the transaction that wrote this version of
// the row, new with every update), and the sort keys of the branches'
// merge and of the next page's cursor.
const orderKeyCols = `o.id, o.xmin as row_version, o.created_at, o.priority`

func scanOrder(r pgx.Row) (workorders.Order, error) { return newOrderScanner().scan(r) }

// orderScanner scans order rows into one reused set of destinations: the
// list scans 50 rows per request, and separate locals (whose addresses
// pgx keeps) and a new argument slice per row were a dozen allocations a
// row.
type orderScanner struct {
	o                        workorders.Order
	number, est, lab, held   int64
	parts, used, evidence    []byte
	transfer                 []byte
	source, priority, status string
	dest                     []any
}

func newOrderScanner() *orderScanner {
	sc := &orderScanner{}
	o := &sc.o
	// The named string types (Source, Priority, Status) are scanned as
	// strings: pgx converts into them by reflection, on every row.
	sc.dest = []any{&o.ID, &sc.number, &o.AssetID, &o.SiteID, &o.Title, &o.Description, &sc.source, &o.FailureMode, &o.RuleID,
		&sc.priority, &sc.status, &o.CreatedAt, &o.UpdatedAt, &o.ApprovedAt, &o.DueAt, &o.AssigneeID, &o.RequiredSkills, &sc.parts,
		&sc.est, &sc.evidence, &o.DetectedAt, &o.PredictedFailureAt, &o.PredictedFailureEarliest,
		&o.PredictedFailureLatest, &o.FollowUpOf, &o.SignalCount, &o.Reason, &o.HoldReason, &o.Resolution, &sc.lab,
		&sc.used, &o.AcceptedAt, &o.StartedAt, &o.CompletedAt, &o.VerifiedAt, &o.ClosedAt, &o.OnHoldSince, &sc.held,
		&o.SLAState, &o.StatusURL, &o.HelperIDs, &sc.transfer}
	return sc
}

// scan reads one row. Every destination is reset first, so that nothing
// (a pointer, a slice's array) is shared between the orders returned.
func (sc *orderScanner) scan(r pgx.Row) (workorders.Order, error) {
	sc.o = workorders.Order{}
	sc.parts, sc.used, sc.evidence, sc.transfer = nil, nil, nil, nil
	err := r.Scan(sc.dest...)
	o := sc.o
	if err != nil {
		return o, err
	}
	o.Source, o.Priority, o.Status = workorders.Source(sc.source), workorders.Priority(sc.priority), workorders.Status(sc.status)
	if o.HelperIDs == nil {
		o.HelperIDs = []string{}
	}
	if len(sc.transfer) > 0 {
		o.Transfer = new(workorders.TransferRequest)
		if err := json.Unmarshal(sc.transfer, o.Transfer); err != nil {
			return o, fmt.Errorf("order %s transfer: %w", o.ID, err)
		}
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	// The optional times were allocated by this row's scan: made UTC in place.
	for _, t := range [...]*time.Time{o.ApprovedAt, o.DueAt, o.DetectedAt, o.PredictedFailureAt, o.PredictedFailureEarliest,
		o.PredictedFailureLatest, o.AcceptedAt, o.StartedAt, o.CompletedAt, o.VerifiedAt, o.ClosedAt, o.OnHoldSince} {
		if t != nil {
			*t = t.UTC()
		}
	}
	o.Number = workorders.FormatNumber(sc.number)
	o.EstimatedDuration = rules.Duration(time.Duration(sc.est) * time.Second)
	o.LabourTime = rules.Duration(time.Duration(sc.lab) * time.Second)
	o.HeldFor = rules.Duration(time.Duration(sc.held) * time.Second)
	o.Evidence = sc.evidence
	if o.Parts, err = unmarshalParts(sc.parts); err != nil {
		return o, fmt.Errorf("order %s parts: %w", o.ID, err)
	}
	if o.PartsUsed, err = unmarshalParts(sc.used); err != nil {
		return o, fmt.Errorf("order %s parts_used: %w", o.ID, err)
	}
	if o.RequiredSkills == nil {
		o.RequiredSkills = []string{}
	}
	if o.Parts == nil {
		o.Parts = []rules.PartQty{}
	}
	return o, nil
}

// unmarshalParts decodes a parts list; the empty list, most orders',
// without the JSON decoder. (It returns the list rather than filling a
// pointer, so that the order being scanned does not escape to the heap.)
func unmarshalParts(b []byte) ([]rules.PartQty, error) {
	if string(b) == "[]" {
		return []rules.PartQty{}, nil
	}
	var ps []rules.PartQty
	err := json.Unmarshal(b, &ps)
	return ps, err
}

func jsonOr(v any, empty string) []byte {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return []byte(empty)
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func secs(d rules.Duration) int64 { return int64(d.D() / time.Second) }

func rawOr(b json.RawMessage) []byte {
	if len(b) == 0 {
		return []byte(`{}`)
	}
	return b
}

// insertOrder inserts o; the site comes from the asset.
func insertOrder(ctx context.Context, tx pgx.Tx, o workorders.Order) (workorders.Order, error) {
	if !validID(o.AssetID) {
		return o, workorders.Unprocessable("asset_id", "no such asset")
	}
	if o.RuleID != nil && !validID(*o.RuleID) {
		return o, workorders.Unprocessable("rule_id", "no such rule")
	}
	out, err := scanOrder(tx.QueryRow(ctx, `with ins as (
		insert into work_orders (asset_id, site_id, title, description, source, failure_mode, rule_id, priority, status,
			approved_at, due_at, required_skills, parts, estimated_duration_s, evidence, detected_at, predicted_failure_at,
			predicted_failure_earliest, predicted_failure_latest, follow_up_of, signal_count)
		select a.id, a.site_id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20
		from assets a where a.id = $1
		returning *)
		select `+orderCols+` from ins o`,
		o.AssetID, o.Title, o.Description, o.Source, o.FailureMode, o.RuleID, o.Priority, o.Status,
		o.ApprovedAt, o.DueAt, nonNil(o.RequiredSkills), jsonOr(o.Parts, "[]"), secs(o.EstimatedDuration), rawOr(o.Evidence),
		o.DetectedAt, o.PredictedFailureAt, o.PredictedFailureEarliest, o.PredictedFailureLatest, o.FollowUpOf, o.SignalCount))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, workorders.Unprocessable("asset_id", "no such asset")
	}
	return out, translate(err)
}

// updateOrder writes every mutable field of o.
func updateOrder(ctx context.Context, tx pgx.Tx, o workorders.Order) (workorders.Order, error) {
	out, err := scanOrder(tx.QueryRow(ctx, `with upd as (
		update work_orders set title = $2, description = $3, priority = $4, status = $5, updated_at = now(),
			approved_at = $6, due_at = $7, assignee_id = $8, required_skills = $9, parts = $10, estimated_duration_s = $11,
			evidence = $12, predicted_failure_at = $13, predicted_failure_earliest = $14, predicted_failure_latest = $15,
			signal_count = $16, reason = $17, hold_reason = $18, resolution = $19, labour_s = $20, parts_used = $21,
			accepted_at = $22, started_at = $23, completed_at = $24, verified_at = $25, closed_at = $26,
			on_hold_since = $27, held_s = $28, sla_state = $29, helper_ids = $30, transfer = $31,
			detected_at = $32, source = $33
		where id = $1 returning *)
		select `+orderCols+` from upd o`,
		o.ID, o.Title, o.Description, o.Priority, o.Status, o.ApprovedAt, o.DueAt, o.AssigneeID, nonNil(o.RequiredSkills),
		jsonOr(o.Parts, "[]"), secs(o.EstimatedDuration), rawOr(o.Evidence), o.PredictedFailureAt,
		o.PredictedFailureEarliest, o.PredictedFailureLatest, o.SignalCount, o.Reason, o.HoldReason, o.Resolution,
		secs(o.LabourTime), jsonOr(o.PartsUsed, "[]"), o.AcceptedAt, o.StartedAt, o.CompletedAt, o.VerifiedAt,
		o.ClosedAt, o.OnHoldSince, secs(o.HeldFor), o.SLAState, nonNil(o.HelperIDs), transferJSON(o.Transfer),
		o.DetectedAt, o.Source))
	return out, translate(err)
}

func transferJSON(t *workorders.TransferRequest) []byte {
	if t == nil {
		return nil
	}
	b, _ := json.Marshal(t)
	return b
}

// appendEvent inserts ev for o and, in the same transaction, one outbox
// delivery per active webhook subscribed to the event's type.
func appendEvent(ctx context.Context, tx pgx.Tx, o workorders.Order, ev workorders.Event) (workorders.Event, error) {
	if err := markApplied(ctx, tx); err != nil {
		return ev, err
	}
	ev.OrderID = o.ID
	if ev.Actor == "" {
		ev.Actor = "system"
	}
	if ev.ActorID != nil && !validID(*ev.ActorID) {
		ev.ActorID = nil
	}
	var data []byte
	if len(ev.Data) > 0 {
		data = ev.Data
	}
	err := tx.QueryRow(ctx, `insert into work_order_events (order_id, type, actor_id, actor, from_status, to_status, note, data)
		values ($1, $2, $3, $4, $5, $6, $7, $8) returning id, at`,
		o.ID, ev.Type, ev.ActorID, ev.Actor, ev.From, ev.To, ev.Note, data).Scan(&ev.ID, &ev.At)
	utc(&ev.At)
	if err != nil {
		return ev, fmt.Errorf("append event: %w", translate(err))
	}
	if notify.Wants(o, ev) {
		// Told by the notifier's relay; recorded here so that the event
		// and its notification commit together.
		if _, err := tx.Exec(ctx, `insert into notify_pending (event_id, order_id) values ($1, $2)`, ev.ID, o.ID); err != nil {
			return ev, fmt.Errorf("notify pending: %w", err)
		}
	}
	typ := "work_order." + ev.Type
	var n int
	if err := tx.QueryRow(ctx, `select count(*) from webhooks where active
		and (cardinality(event_types) = 0 or $1 = any(event_types) or '*' = any(event_types))`, typ).Scan(&n); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	if n == 0 {
		return ev, nil
	}
	payload, err := json.Marshal(map[string]any{"id": ev.ID, "type": typ, "at": ev.At.UTC(), "event": ev, "work_order": o})
	if err != nil {
		return ev, fmt.Errorf("outbox payload: %w", err)
	}
	if _, err := tx.Exec(ctx, `insert into webhook_deliveries (webhook_id, event_id, event_type, payload)
		select id, $1, $2, $3 from webhooks where active
		and (cardinality(event_types) = 0 or $2 = any(event_types) or '*' = any(event_types))`, ev.ID, typ, payload); err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	return ev, nil
}

// CreateOrder implements workorders.Store.
func (s *Store) CreateOrder(ctx context.Context, o workorders.Order, ev workorders.Event) (workorders.Order, error) {
	var out workorders.Order
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = insertOrder(ctx, tx, o); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, out, ev)
		return err
	})
	return out, translate(err)
}

// GetOrder implements workorders.Store.
func (s *Store) GetOrder(ctx context.Context, id string) (workorders.Order, error) {
	if !validID(id) {
		return workorders.Order{}, workorders.ErrNotFound
	}
	out, err := scanOrder(s.pool.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.id = $1`, id))
	return out, translate(err)
}

// ListOrders implements workorders.Store: newest first, or riskiest first
// (sort=risk), each filter served by an index.
func (s *Store) ListOrders(ctx context.Context, f workorders.OrderFilter) ([]workorders.Order, string, error) {
	out, _, next, err := s.listOrders(ctx, f, false)
	return out, next, err
}

// ListOrdersWithVersions implements workorders.VersionedOrderStore.
func (s *Store) ListOrdersWithVersions(ctx context.Context, f workorders.OrderFilter) ([]workorders.Order, []workorders.OrderVersion, string, error) {
	return s.listOrders(ctx, f, true)
}

func (s *Store) listOrders(ctx context.Context, f workorders.OrderFilter, versions bool) ([]workorders.Order, []workorders.OrderVersion, string, error) {
	q, args, lim, err := listOrdersQuery(f, false)
	if err != nil {
		return nil, nil, "", err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, "", translate(err)
	}
	sc := newOrderScanner()
	// Every row's version comes along (4 bytes); only ListOrdersWithVersions keeps them.
	var xmin uint32
	sc.dest = append(sc.dest, &xmin)
	var vs []workorders.OrderVersion
	if versions {
		vs = make([]workorders.OrderVersion, 0, lim+1)
	}
	risk := f.Sort == workorders.SortRisk
	// The risk order also reads the two computed parts of its sort key
	// (the failure time, the negated criticality), which the next page's
	// cursor needs and an order does not carry.
	var riskAt pgtype.Timestamptz
	var crit int32
	var last riskCursor
	if risk {
		sc.dest = append(sc.dest, &riskAt, &crit)
	}
	n := 0
	// Sized for the page: growing the slice row by row copied the orders
	// seven times and was half of the bytes a list request allocated.
	out, err := pgx.AppendRows(make([]workorders.Order, 0, lim+1), rows,
		func(r pgx.CollectableRow) (workorders.Order, error) {
			o, err := sc.scan(r)
			if n++; risk && n == lim && err == nil {
				last = newRiskCursor(o, riskAt, -crit)
			}
			if versions && err == nil {
				id, perr := uuid.Parse(o.ID)
				if perr != nil {
					return o, perr
				}
				vs = append(vs, workorders.OrderVersion{ID: id, Version: uint64(xmin)})
			}
			return o, err
		})
	if err != nil {
		return nil, nil, "", translate(err)
	}
	next := ""
	if len(out) > lim {
		out = out[:lim]
		if versions {
			vs = vs[:lim]
		}
		if risk {
			next = encodeCursorJSON(last)
		} else {
			next = timeCursor(out[lim-1].CreatedAt, out[lim-1].ID)
		}
	}
	return out, vs, next, nil
}

// ListOrderVersions implements workorders.VersionedOrderStore: the page of
// ListOrders, read with the same plans, but only each row's ID, version
// and sort keys.
func (s *Store) ListOrderVersions(ctx context.Context, f workorders.OrderFilter) ([]workorders.OrderVersion, string, error) {
	q, args, lim, err := listOrdersQuery(f, true)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", translate(err)
	}
	// Scanned without allocating: the ID as its 16 bytes, the priority
	// from the driver's bytes.
	var (
		id       pgtype.UUID
		prio     priorityScanner
		xmin     uint32
		created  time.Time
		riskAt   pgtype.Timestamptz
		crit     int32
		last     workorders.Order
		lastAt   pgtype.Timestamptz
		lastCrit int32
	)
	dest := []any{&id, &xmin, &created, &prio}
	risk := f.Sort == workorders.SortRisk
	if risk {
		dest = append(dest, &riskAt, &crit)
	}
	out := make([]workorders.OrderVersion, 0, lim+1)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, "", translate(err)
		}
		out = append(out, workorders.OrderVersion{ID: id.Bytes, Version: uint64(xmin)})
		if len(out) == lim {
			last = workorders.Order{ID: uuid.UUID(id.Bytes).String(), Priority: prio.p, CreatedAt: created.UTC()}
			lastAt, lastCrit = riskAt, crit
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > lim {
		out = out[:lim]
		if risk {
			next = encodeCursorJSON(newRiskCursor(last, lastAt, -lastCrit))
		} else {
			next = timeCursor(last.CreatedAt, last.ID)
		}
	}
	return out, next, nil
}

// priorityScanner scans a priority without allocating a string per row.
type priorityScanner struct{ p workorders.Priority }

func (s *priorityScanner) ScanBytes(v []byte) error {
	for _, p := range [...]workorders.Priority{workorders.P1, workorders.P2, workorders.P3, workorders.P4} {
		if string(v) == string(p) {
			s.p = p
			return nil
		}
	}
	s.p = workorders.Priority(v)
	return nil
}

// LoadOrderVersions implements workorders.VersionedOrderStore: one query
// by primary key, each row checked against its wanted version.
func (s *Store) LoadOrderVersions(ctx context.Context, want []workorders.OrderVersion) ([]workorders.Order, error) {
	if len(want) == 0 {
		return nil, nil
	}
	ids := make([]pgtype.UUID, len(want))
	at := make(map[string]int, len(want))
	for i, v := range want {
		ids[i] = pgtype.UUID{Bytes: v.ID, Valid: true}
		at[v.ID.String()] = i
	}
	rows, err := s.pool.Query(ctx, `select `+orderCols+`, o.xmin from work_orders o where o.id = any($1::uuid[])`, ids)
	if err != nil {
		return nil, translate(err)
	}
	sc := newOrderScanner()
	var xmin uint32
	sc.dest = append(sc.dest, &xmin)
	out := make([]workorders.Order, len(want))
	found := 0
	for rows.Next() {
		o, err := sc.scan(rows)
		if err != nil {
			rows.Close()
			return nil, translate(err)
		}
		i, ok := at[o.ID]
		if !ok || want[i].Version != uint64(xmin) {
			rows.Close()
			return nil, workorders.ErrVersionChanged
		}
		out[i] = o
		found++
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if found != len(want) {
		return nil, workorders.ErrVersionChanged
	}
	return out, nil
}

// riskFailureAt is the failure time of the risk order, as
// web/src/console/risk.ts failureTime: the prediction, or for an order not
// from a trend the detection, else the creation; a trend order without a
// prediction has none (infinity: last). It must stay identical to the
// expression of the index work_orders_risk (migration 01701).
const riskFailureAt = `coalesce(o.predicted_failure_at, case when o.source = 'trend' then 'infinity'::timestamptz
	else coalesce(o.detected_at, o.created_at) end)`

// riskOrder sorts riskiest first: priority (P1 first), the sooner failure
// time, the asset's higher criticality, the older order, then id. It is the
// column order of the index work_orders_risk after status.
const riskOrder = `o.priority, ` + riskFailureAt + `, -o.asset_criticality, o.created_at, o.id`

// riskCursor is the sort key of the last row of a risk page: the next page
// starts right after it, whatever was inserted or changed since. Times are
// microseconds since the epoch (PostgreSQL's precision); F is nil for
// infinity.
type riskCursor struct {
	P    string `json:"p"`
	F    *int64 `json:"f"`
	Crit int32  `json:"c"`
	T    int64  `json:"t"`
	ID   string `json:"i"`
}

func newRiskCursor(o workorders.Order, at pgtype.Timestamptz, crit int32) riskCursor {
	c := riskCursor{P: string(o.Priority), Crit: crit, T: o.CreatedAt.UnixMicro(), ID: o.ID}
	if at.InfinityModifier == pgtype.Finite {
		us := at.Time.UnixMicro()
		c.F = &us
	}
	return c
}

// args returns the keyset condition's parameters: the failure time as
// timestamptz (infinity included), the criticality negated as in the index.
func (c riskCursor) args() []any {
	at := pgtype.Timestamptz{Valid: true, InfinityModifier: pgtype.Infinity}
	if c.F != nil {
		at = pgtype.Timestamptz{Valid: true, Time: time.UnixMicro(*c.F).UTC()}
	}
	return []any{c.P, at, -c.Crit, time.UnixMicro(c.T).UTC(), c.ID}
}

func parseRiskCursor(s string) (riskCursor, error) {
	var c riskCursor
	ok, _ := decodeCursorJSON(s, &c)
	if !ok || !workorders.Priority(c.P).Valid() || c.Crit < 1 || c.Crit > 5 || !validID(c.ID) {
		return c, workorders.Invalid("cursor", "malformed")
	}
	return c, nil
}

// listOrdersQuery builds the list query (exported to tests through
// ExplainListOrders); with keys, the same query selects only orderKeyCols.
func listOrdersQuery(f workorders.OrderFilter, keys bool) (string, []any, int, error) {
	var w where
	for _, c := range []struct{ col, v string }{{"o.asset_id", f.AssetID}, {"o.site_id", f.SiteID}, {"o.assignee_id", f.AssigneeID}} {
		if c.v == "" {
			continue
		}
		if !validID(c.v) {
			return "", nil, 0, workorders.Invalid(c.col[2:], "not a valid UUID")
		}
		w.add(c.col+" = ?", c.v)
	}
	if f.Involving != "" {
		if !validID(f.Involving) {
			return "", nil, 0, workorders.Invalid("involving", "not a valid UUID")
		}
		w.add("(o.assignee_id = ? or ?::uuid = any(o.helper_ids))", f.Involving, f.Involving)
	}
	if f.Source != "" {
		w.conds = append(w.conds, "o.source = "+w.enum(f.Source))
	}
	if f.Priority != "" {
		w.conds = append(w.conds, "o.priority = "+w.enum(f.Priority))
	}
	if f.Number > 0 {
		w.add("o.number = ?", f.Number)
	}
	risk := f.Sort == workorders.SortRisk
	switch {
	case f.Page.Cursor == "":
	case risk:
		c, err := parseRiskCursor(f.Page.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		w.add("("+riskOrder+") > (?, ?::timestamptz, ?::int, ?::timestamptz, ?::uuid)", c.args()...)
	default:
		t, id, err := parseTimeCursor(f.Page.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		w.add("(o.created_at, o.id) < (?, ?)", t, id)
	}
	lim := limitOf(f.Page)
	// The limit and the enum values (status, source, priority) are written
	// into the text: with them as parameters PostgreSQL found its generic
	// plan no cheaper than a custom one and planned every execution (about
	// as long as running it); with them in the text each statement keeps a
	// generic plan whose index fits its values, and only IDs, numbers and
	// cursors are parameters (TestListQueriesUseIndexes checks the generic
	// plans).
	cols := orderCols + `, o.xmin as row_version`
	if keys {
		cols = orderKeyCols
	}
	order := ` order by o.created_at desc, o.id desc limit ` + strconv.Itoa(lim+1)
	outer := order
	statuses := f.Status
	if risk {
		cols += `, ` + riskFailureAt + ` as risk_at, -o.asset_criticality as risk_crit`
		order = ` order by ` + riskOrder + ` limit ` + strconv.Itoa(lim+1)
		// The merge of several statuses orders by the branches' output
		// columns, so that each branch's index order is kept.
		outer = ` order by o.priority, o.risk_at, o.risk_crit, o.created_at, o.id limit ` + strconv.Itoa(lim+1)
		// Riskiest first over every status is a merge of each status's
		// index-ordered scan of work_orders_risk, as below.
		if len(statuses) == 0 && f.Number == 0 {
			statuses = workorders.Statuses()
		}
	}
	if len(statuses) <= 1 {
		if len(statuses) == 1 {
			w.conds = append(w.conds, "o.status = "+w.enum(string(statuses[0])))
		}
		return `select ` + cols + ` from work_orders o` + w.sql() + order, w.args, lim, nil
	}
	// Several statuses: one index-ordered branch per status, merged. A
	// single "status = any(...)" scan would walk the time index and filter,
	// which is slow when the statuses are rare among many orders.
	base := w.sql()
	var branches []string
	for _, st := range statuses {
		cond := "o.status = " + w.enum(string(st))
		if base == "" {
			cond = " where " + cond
		} else {
			cond = base + " and " + cond
		}
		branches = append(branches, `(select `+cols+` from work_orders o`+cond+order+`)`)
	}
	q := `select o.* from (` + strings.Join(branches, " union all ") + `) o` + outer
	return q, w.args, lim, nil
}

// ExplainListOrders returns PostgreSQL's generic plan for the list query
// of f: the one a prepared statement keeps (the query is prepared and
// explained with plan_cache_mode = force_generic_plan on one connection).
func (s *Store) ExplainListOrders(ctx context.Context, f workorders.OrderFilter) (string, error) {
	return s.explainList(ctx, f, false)
}

// ExplainListOrderVersions is ExplainListOrders for ListOrderVersions.
func (s *Store) ExplainListOrderVersions(ctx context.Context, f workorders.OrderFilter) (string, error) {
	return s.explainList(ctx, f, true)
}

func (s *Store) explainList(ctx context.Context, f workorders.OrderFilter, keys bool) (string, error) {
	q, args, _, err := listOrdersQuery(f, keys)
	if err != nil {
		return "", err
	}
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case int, int64:
			lits[i] = fmt.Sprint(v)
		case int32:
			lits[i] = fmt.Sprint(v)
		case time.Time:
			lits[i] = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
		case pgtype.Timestamptz:
			lits[i] = "'infinity'"
			if v.InfinityModifier == pgtype.Finite {
				lits[i] = "'" + v.Time.UTC().Format(time.RFC3339Nano) + "'"
			}
		default:
			return "", fmt.Errorf("explain: parameter %d of type %T", i+1, a)
		}
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	// The session settings and the statement must not outlive the explain.
	defer func() { _ = c.Conn().Close(context.WithoutCancel(ctx)); c.Release() }()
	if _, err := c.Exec(ctx, "set plan_cache_mode = force_generic_plan"); err != nil {
		return "", err
	}
	if _, err := c.Exec(ctx, "prepare list_explain as "+q, pgx.QueryExecModeSimpleProtocol); err != nil {
		return "", err
	}
	execute := "explain execute list_explain"
	if len(lits) > 0 {
		execute += "(" + strings.Join(lits, ", ") + ")"
	}
	rows, err := c.Query(ctx, execute, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out, nil
}

// UpdateOrder implements workorders.Store: the row is locked (SELECT ...
// FOR UPDATE) while fn decides, so concurrent actions serialize and the
// second sees the first's result.
func (s *Store) UpdateOrder(ctx context.Context, id string, fn workorders.UpdateFunc) (workorders.Order, error) {
	if !validID(id) {
		return workorders.Order{}, workorders.ErrNotFound
	}
	var out workorders.Order
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := scanOrder(tx.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.id = $1 for update`, id))
		if err != nil {
			return translate(err)
		}
		if o.AssigneeID != nil {
			a := *o.AssigneeID
			o.AssigneeID = &a
		}
		ev, err := fn(&o)
		if err != nil {
			return err
		}
		if o.AssigneeID != nil && !validID(*o.AssigneeID) {
			return workorders.Unprocessable("assignee_id", "no such user")
		}
		if out, err = updateOrder(ctx, tx, o); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, out, ev)
		return err
	})
	if errors.Is(err, workorders.ErrNoChange) {
		o, gerr := s.GetOrder(ctx, id)
		if gerr != nil {
			return workorders.Order{}, gerr
		}
		return o, nil
	}
	return out, translate(err)
}

const eventCols = `id, order_id, type, actor_id, actor, at, from_status, to_status, note, data`

func scanEvent(r pgx.Row) (workorders.Event, error) {
	var e workorders.Event
	var data []byte
	err := r.Scan(&e.ID, &e.OrderID, &e.Type, &e.ActorID, &e.Actor, &e.At, &e.From, &e.To, &e.Note, &data)
	utc(&e.At)
	if len(data) > 0 {
		e.Data = data
	}
	return e, err
}

// ListEvents implements workorders.Store.
func (s *Store) ListEvents(ctx context.Context, orderID string) ([]workorders.Event, error) {
	if !validID(orderID) {
		return nil, workorders.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `select `+eventCols+` from work_order_events where order_id = $1 order by id`, orderID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Event, error) { return scanEvent(r) })
	return out, translate(err)
}

// LoadOrderDetail implements workorders.Store with one batch of four
// queries: one network round trip.
func (s *Store) LoadOrderDetail(ctx context.Context, id string, signals int) (workorders.OrderDetail, error) {
	if !validID(id) {
		return workorders.OrderDetail{}, workorders.ErrNotFound
	}
	var d workorders.OrderDetail
	err := func() error {
		b := &pgx.Batch{}
		b.Queue(`select `+orderCols+` from work_orders o where o.id = $1`, id).QueryRow(func(r pgx.Row) error {
			var err error
			d.Order, err = scanOrder(r)
			return err
		})
		b.Queue(`select `+eventCols+` from work_order_events where order_id = $1 order by id`, id).Query(func(rows pgx.Rows) error {
			var err error
			d.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Event, error) { return scanEvent(r) })
			return err
		})
		b.Queue(`select `+attachmentCols+` from attachments where order_id = $1 order by created_at, id`, id).Query(func(rows pgx.Rows) error {
			var err error
			d.Attachments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.AttachmentMeta, error) { return scanAttachmentMeta(r) })
			return err
		})
		b.Queue(`select `+signalCols+` from signals where order_id = $1 order by id desc limit $2`, id, signals).Query(func(rows pgx.Rows) error {
			var err error
			d.Signals, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.SignalRecord, error) { return scanSignal(r) })
			return err
		})
		return s.pool.SendBatch(ctx, b).Close()
	}()
	if err != nil {
		return workorders.OrderDetail{}, translate(err)
	}
	if d.Events == nil {
		d.Events = []workorders.Event{}
	}
	if d.Attachments == nil {
		d.Attachments = []workorders.AttachmentMeta{}
	}
	if d.Signals == nil {
		d.Signals = []workorders.SignalRecord{}
	}
	return d, nil
}

// SLACandidates implements workorders.Store: the clocks are computed in
// SQL so that only orders near or past a budget are loaded.
func (s *Store) SLACandidates(ctx context.Context, now time.Time) ([]workorders.Order, error) {
	rows, err := s.pool.Query(ctx, `with c as (
		select o.id, o.sla_state,
			case when p.at_risk > 0 and p.at_risk < 1 then p.at_risk else 0.8 end as risk,
			p.response_s, p.resolution_s,
			extract(epoch from $1 - coalesce(o.approved_at, o.created_at)) as run_s,
			case when p.pause_on_hold then o.held_s + coalesce(extract(epoch from $1 - o.on_hold_since), 0) else 0 end as paused_s,
			o.accepted_at is null as responding
		from work_orders o join sla_policies p on p.priority = o.priority
		where o.status in ('approved', 'assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold') and o.sla_state <> 'breached')
		select `+orderCols+` from c join work_orders o on o.id = c.id
		where (c.responding and c.run_s > c.response_s * (case when c.sla_state = 'ok' then c.risk else 1 end))
		   or (c.run_s - c.paused_s > c.resolution_s * (case when c.sla_state = 'ok' then c.risk else 1 end))
		order by o.created_at`, now)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Order, error) { return scanOrder(r) })
	return out, translate(err)
}
