package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// Ops is the PostgreSQL store of dispatch, inventory, preventive
// schedules, KPIs and the knowledge base. It shares the ticket core's
// database and schema (Migrate applies both).
type Ops struct {
	pool *pgxpool.Pool
}

// Ops satisfies what its consumers declare: the dispatcher and inventory
// here, the HTTP routes' httpapi.OpsStore where cmd/pdm wires it.
var (
	_ workorders.DispatchStore  = (*Ops)(nil)
	_ workorders.InventoryStore = (*Ops)(nil)
)

// NewOps returns an Ops store over pool (the same pool as New's).
func NewOps(pool *pgxpool.Pool) *Ops { return &Ops{pool: pool} }

func (s *Ops) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// translateOps maps the stock invariants to ErrInsufficientStock and
// everything else like the ticket core does.
func translateOps(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.ConstraintName {
		case "stock_on_hand_nonnegative", "stock_reserved_within_on_hand", "stock_reserved_nonnegative":
			return fmt.Errorf("%w: %s", workorders.ErrInsufficientStock, pe.ConstraintName)
		case "parts_sku_key":
			return fmt.Errorf("%w: a part with this sku exists", workorders.ErrConflict)
		case "stock_locations_code_key":
			return fmt.Errorf("%w: a stock location with this code exists", workorders.ErrConflict)
		case "engineers_user_id_key":
			return fmt.Errorf("%w: another engineer has this user", workorders.ErrConflict)
		case "purchase_requests_one_open":
			return fmt.Errorf("%w: an open purchase request exists for this part and location", workorders.ErrConflict)
		case "knowledge_articles_source_order_id_key":
			return fmt.Errorf("%w: this order's resolution is already an article", workorders.ErrConflict)
		}
	}
	return translate(err)
}

// openStatuses are the statuses that count against an engineer's capacity.
var openJobStatuses = []string{"assigned", "accepted", "en_route", "on_site", "in_progress", "on_hold"}

const engineerCols = `e.id, e.name, e.user_id, e.site_id, e.skills, e.home_lat, e.home_lon, e.lat, e.lon, e.location_at,
	e.time_zone, e.shifts, e.time_off, e.max_open_jobs, e.active, e.created_at, e.updated_at,
	(select count(*) from work_orders w where e.user_id is not null and w.assignee_id = e.user_id
		and w.status in ('assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold'))::int,
	(select v.id from stock_locations v where v.engineer_id = e.id)`

func scanEngineer(r pgx.Row) (workorders.Engineer, error) {
	var (
		e                   workorders.Engineer
		skills, shifts, off []byte
		lat, lon            *float64
	)
	err := r.Scan(&e.ID, &e.Name, &e.UserID, &e.SiteID, &skills, &e.Home.Lat, &e.Home.Lon, &lat, &lon, &e.LocationAt,
		&e.TimeZone, &shifts, &off, &e.MaxOpenJobs, &e.Active, &e.CreatedAt, &e.UpdatedAt, &e.OpenJobs, &e.VanID)
	if err != nil {
		return e, err
	}
	if lat != nil && lon != nil {
		e.Location = &workorders.Location{Lat: *lat, Lon: *lon}
	}
	e.Skills = workorders.SkillLevels{}
	if err := json.Unmarshal(skills, &e.Skills); err != nil {
		return e, fmt.Errorf("engineer %s skills: %w", e.ID, err)
	}
	if err := json.Unmarshal(shifts, &e.Shifts); err != nil {
		return e, fmt.Errorf("engineer %s shifts: %w", e.ID, err)
	}
	if err := json.Unmarshal(off, &e.TimeOff); err != nil {
		return e, fmt.Errorf("engineer %s time off: %w", e.ID, err)
	}
	if e.Shifts == nil {
		e.Shifts = []dispatch.Shift{}
	}
	if e.TimeOff == nil {
		e.TimeOff = []dispatch.Interval{}
	}
	return e, nil
}

func opsPointArgs(l *workorders.Location) (any, any) {
	if l == nil {
		return nil, nil
	}
	return l.Lat, l.Lon
}

// CreateEngineer inserts an engineer and its van in one transaction.
func (s *Ops) CreateEngineer(ctx context.Context, e workorders.Engineer) (workorders.Engineer, error) {
	if e.UserID != nil && !validID(*e.UserID) {
		return e, workorders.Unprocessable("user_id", "no such user")
	}
	if e.SiteID != nil && !validID(*e.SiteID) {
		return e, workorders.Unprocessable("site_id", "no such site")
	}
	var out workorders.Engineer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if e.UserID != nil {
			var role string
			err := tx.QueryRow(ctx, `select role from users where id = $1`, *e.UserID).Scan(&role)
			if errors.Is(err, pgx.ErrNoRows) {
				return workorders.Unprocessable("user_id", "no such user")
			}
			if err != nil {
				return err
			}
			if role != string(workorders.RoleEngineer) {
				return workorders.Unprocessable("user_id", "the user's role is %s, not engineer", role)
			}
		}
		lat, lon := opsPointArgs(e.Location)
		var id string
		err := tx.QueryRow(ctx, `insert into engineers (name, user_id, site_id, skills, home_lat, home_lon, lat, lon,
				location_at, time_zone, shifts, time_off, max_open_jobs, active)
			values ($1, $2, $3, $4, $5, $6, $7, $8, case when $7::float8 is null then null else now() end, $9, $10, $11, $12, $13)
			returning id`,
			e.Name, e.UserID, e.SiteID, jsonOr(e.Skills, "{}"), e.Home.Lat, e.Home.Lon, lat, lon, e.TimeZone,
			jsonOr(e.Shifts, "[]"), jsonOr(e.TimeOff, "[]"), e.MaxOpenJobs, e.Active).Scan(&id)
		if err != nil {
			return err
		}
		// Every engineer has a van; it starts where the engineer's home is.
		if _, err := tx.Exec(ctx, `insert into stock_locations (code, name, kind, engineer_id, site_id, lat, lon)
			values ($1, $2, 'van', $3, $4, $5, $6)`,
			"van-"+strings.ReplaceAll(id, "-", ""), "Van of "+e.Name, id, e.SiteID, e.Home.Lat, e.Home.Lon); err != nil {
			return err
		}
		out, err = scanEngineer(tx.QueryRow(ctx, `select `+engineerCols+` from engineers e where e.id = $1`, id))
		return err
	})
	return out, translateOps(err)
}

// GetEngineer returns one engineer.
func (s *Ops) GetEngineer(ctx context.Context, id string) (workorders.Engineer, error) {
	if !validID(id) {
		return workorders.Engineer{}, workorders.ErrNotFound
	}
	e, err := scanEngineer(s.pool.QueryRow(ctx, `select `+engineerCols+` from engineers e where e.id = $1`, id))
	return e, translateOps(err)
}

// EngineerByUser returns the engineer a user logs in as.
func (s *Ops) EngineerByUser(ctx context.Context, userID string) (workorders.Engineer, error) {
	if !validID(userID) {
		return workorders.Engineer{}, workorders.ErrNotFound
	}
	e, err := scanEngineer(s.pool.QueryRow(ctx, `select `+engineerCols+` from engineers e where e.user_id = $1`, userID))
	return e, translateOps(err)
}

// ListEngineers pages through engineers, newest first.
func (s *Ops) ListEngineers(ctx context.Context, p workorders.Page) ([]workorders.Engineer, string, error) {
	var w where
	ks := keyset{created: "e.created_at", key: "e.id", desc: true}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+engineerCols+` from engineers e`+w.sql()+
		ks.orderLimit(&w, limit), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanEngineer)
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(v workorders.Engineer) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// ActiveEngineers returns every active engineer with a user (the ones
// dispatch may assign).
func (s *Ops) ActiveEngineers(ctx context.Context) ([]workorders.Engineer, error) {
	rows, err := s.pool.Query(ctx, `select `+engineerCols+` from engineers e
		where e.active and e.user_id is not null order by e.id`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, scanEngineer)
}

// UpdateEngineer writes an engineer's editable fields.
func (s *Ops) UpdateEngineer(ctx context.Context, e workorders.Engineer) (workorders.Engineer, error) {
	if !validID(e.ID) {
		return e, workorders.ErrNotFound
	}
	if e.UserID != nil && !validID(*e.UserID) {
		return e, workorders.Unprocessable("user_id", "no such user")
	}
	if e.SiteID != nil && !validID(*e.SiteID) {
		return e, workorders.Unprocessable("site_id", "no such site")
	}
	lat, lon := opsPointArgs(e.Location)
	tag, err := s.pool.Exec(ctx, `update engineers set name = $2, user_id = $3, site_id = $4, skills = $5,
			home_lat = $6, home_lon = $7, lat = $8, lon = $9,
			location_at = case when $8::float8 is distinct from lat or $9::float8 is distinct from lon then now() else location_at end,
			time_zone = $10, shifts = $11, time_off = $12, max_open_jobs = $13, active = $14, updated_at = now()
		where id = $1`,
		e.ID, e.Name, e.UserID, e.SiteID, jsonOr(e.Skills, "{}"), e.Home.Lat, e.Home.Lon, lat, lon, e.TimeZone,
		jsonOr(e.Shifts, "[]"), jsonOr(e.TimeOff, "[]"), e.MaxOpenJobs, e.Active)
	if err != nil {
		return e, translateOps(err)
	}
	if tag.RowsAffected() == 0 {
		return e, workorders.ErrNotFound
	}
	return s.GetEngineer(ctx, e.ID)
}

// SetEngineerLocation records an engineer's current position.
func (s *Ops) SetEngineerLocation(ctx context.Context, id string, l workorders.Location, at time.Time) (workorders.Engineer, error) {
	if !validID(id) {
		return workorders.Engineer{}, workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `update engineers set lat = $2, lon = $3, location_at = $4, updated_at = now() where id = $1`,
		id, l.Lat, l.Lon, at)
	if err != nil {
		return workorders.Engineer{}, translateOps(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.Engineer{}, workorders.ErrNotFound
	}
	return s.GetEngineer(ctx, id)
}

// DeleteEngineer removes an engineer and its van. A van with stock or
// history cannot go (ErrConflict): deactivate the engineer instead.
func (s *Ops) DeleteEngineer(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var used bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from stock_movements m join stock_locations v on v.id = m.location_id
			where v.engineer_id = $1)`, id).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: the engineer's van has stock history; set active=false instead", workorders.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `delete from stock where location_id in (select id from stock_locations where engineer_id = $1)`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from stock_locations where engineer_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `delete from engineers where id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return workorders.ErrNotFound
		}
		return nil
	})
	return translateOps(err)
}

// collect scans every row with scan.
func opsCollect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, translateOps(rows.Err())
}

func opsPlaceholders(n, from int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

func encodeCursorJSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursorJSON reads a cursor written by encodeCursorJSON; ok is false
// when it is malformed.
func decodeCursorJSON(c string, v any) (bool, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false, nil
	}
	return json.Unmarshal(b, v) == nil, nil
}
