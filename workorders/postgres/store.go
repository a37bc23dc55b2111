package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
)

// Store implements workorders.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	// fleetLead is the fleet models' default order lead (PDM_FLEET_LEAD)
	// their gates are judged by; 0: fleet.DefaultGateLead.
	fleetLead time.Duration
}

var _ workorders.Store = (*Store)(nil)

// New returns a Store over pool. The schema must be migrated (Migrate).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// WithFleetLead returns a store over the same pool whose fleet model
// versions are gated by lead (PDM_FLEET_LEAD) when their type has no lead
// of its own.
func (s *Store) WithFleetLead(lead time.Duration) *Store {
	c := *s
	c.fleetLead = lead
	return &c
}

// Pool returns the pool the store uses (for other stores of the same
// database, such as dispatch and inventory).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers; it fits a readiness check.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// translate maps driver errors to the domain's errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return workorders.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %s", workorders.ErrConflict, conflictMessage(pe))
		case "23503":
			return &workorders.ValidationError{Field: fkField(pe), Message: "refers to a record that does not exist or is still referenced", Semantic: true}
		case "23514":
			return &workorders.ValidationError{Message: "violates " + pe.ConstraintName, Semantic: true}
		case "22P02":
			return workorders.Invalid("id", "not a valid UUID")
		}
		// Any other data exception (a value out of a column's range, a NUL
		// byte, a string too long) or an exceeded limit (a tsvector, an
		// index row) is the input's fault; the API validates before it gets
		// here, this is the safety net that keeps it a 400.
		if strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54") {
			return workorders.Invalid("", "a value is out of range or malformed (%s)", pe.Code)
		}
	}
	return err
}

func conflictMessage(pe *pgconn.PgError) string {
	switch pe.ConstraintName {
	case "sites_code_key":
		return "a site with this code exists"
	case "assets_site_id_code_key":
		return "an asset with this code exists at this site"
	case "work_orders_one_open_auto":
		return "an open auto order exists for this asset and failure mode"
	}
	return pe.ConstraintName
}

func fkField(pe *pgconn.PgError) string {
	c := pe.ConstraintName
	for _, f := range []string{"site_id", "asset_id", "parent_id", "assignee_id", "rule_id", "webhook_id", "order_id"} {
		if strings.Contains(c, strings.TrimSuffix(f, "_id")) {
			return f
		}
	}
	return c
}

// utc puts times read from the database in UTC (pgx scans timestamptz in
// the process's local zone; the API speaks UTC).
func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

// utcp is utc for optional times.
func utcp(ts ...**time.Time) {
	for _, t := range ts {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
}

// validID reports whether s is a UUID; lookups of anything else find
// nothing.
func validID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}

// Cursors are opaque to clients: base64 of "unixnano|id" or of an integer.

func timeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixNano(), 10) + "|" + id))
}

func parseTimeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", workorders.Invalid("cursor", "malformed")
	}
	ns, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !validID(id) {
		return time.Time{}, "", workorders.Invalid("cursor", "malformed")
	}
	return time.Unix(0, n).UTC(), id, nil
}

func intCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func parseIntCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, workorders.Invalid("cursor", "malformed")
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, workorders.Invalid("cursor", "malformed")
	}
	return n, nil
}

func limitOf(p workorders.Page) int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// where builds a WHERE clause with numbered arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " where " + strings.Join(w.conds, " and ")
}

// enum returns an enum value (a status, source or priority) as SQL text:
// quoted in the statement when it is a plain word, else as a parameter.
func (w *where) enum(v string) string {
	if v == "" || len(v) > 40 || strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) >= 0 {
		return w.arg(v)
	}
	return "'" + v + "'"
}

func (w *where) arg(a any) string {
	w.args = append(w.args, a)
	return "$" + strconv.Itoa(len(w.args))
}

// inTx runs fn in a transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// WithLock implements workorders.Store.
func (s *Store) WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (bool, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("lock %d: %w", key, err)
	}
	var got bool
	if err := c.QueryRow(ctx, `select pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		c.Release()
		return false, fmt.Errorf("lock %d: %w", key, err)
	}
	if !got {
		c.Release()
		return false, nil
	}
	ferr := fn(ctx)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(uctx, `select pg_advisory_unlock($1)`, key); err != nil {
		// A connection that may still hold the lock must not go back to the
		// pool: closing it ends the session and frees the lock.
		_ = c.Conn().Close(uctx)
	}
	c.Release()
	return true, ferr
}

// keyset pages a list ordered by (created, key), both named as the query
// names them, ascending or descending. The cursor is the last row's pair
// (timeCursor), so a page starts right after it whatever was inserted since.
type keyset struct {
	created, key string
	desc         bool
}

// after adds to w the condition that starts the page after p's cursor
// (nothing for the first page); a malformed cursor is a validation error.
func (k keyset) after(w *where, p workorders.Page) error {
	if p.Cursor == "" {
		return nil
	}
	t, id, err := parseTimeCursor(p.Cursor)
	if err != nil {
		return err
	}
	op := ">"
	if k.desc {
		op = "<"
	}
	w.add("("+k.created+", "+k.key+") "+op+" (?, ?)", t, id)
	return nil
}

// orderLimit returns the ORDER BY of the keyset and a LIMIT of one row more
// than the page, which tells whether another page follows.
func (k keyset) orderLimit(w *where, lim int) string {
	dir := ""
	if k.desc {
		dir = " desc"
	}
	return " order by " + k.created + dir + ", " + k.key + dir + " limit " + w.arg(lim+1)
}

// cutPage drops the extra row orderLimit asked for and returns the cursor
// of the next page ("" on the last page); key gives a row's (created, key).
func cutPage[T any](out []T, lim int, key func(T) (time.Time, string)) ([]T, string) {
	if len(out) <= lim {
		return out, ""
	}
	out = out[:lim]
	t, id := key(out[lim-1])
	return out, timeCursor(t, id)
}
