package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

const ruleCols = `id, enabled, spec, created_at, updated_at`

func scanRule(r pgx.Row) (rules.Rule, error) {
	var (
		v       rules.Rule
		id      string
		enabled bool
		spec    []byte
	)
	var c, u = &v.CreatedAt, &v.UpdatedAt
	if err := r.Scan(&id, &enabled, &spec, c, u); err != nil {
		return rules.Rule{}, err
	}
	created, updated := v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	if err := json.Unmarshal(spec, &v); err != nil {
		return rules.Rule{}, fmt.Errorf("rule %s: %w", id, err)
	}
	v.ID, v.Enabled, v.CreatedAt, v.UpdatedAt = id, enabled, created, updated
	return v, nil
}

func ruleArgs(r rules.Rule) (assetType, assetID *string, spec []byte, err error) {
	if r.AssetType != "" {
		assetType = &r.AssetType
	}
	if r.AssetID != "" {
		if !validID(r.AssetID) {
			return nil, nil, nil, workorders.Unprocessable("asset_id", "no such asset")
		}
		assetID = &r.AssetID
	}
	r.ID = ""
	spec, err = json.Marshal(r)
	return assetType, assetID, spec, err
}

// CreateRule implements workorders.Store.
func (s *Store) CreateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	at, aid, spec, err := ruleArgs(r)
	if err != nil {
		return rules.Rule{}, err
	}
	out, err := scanRule(s.pool.QueryRow(ctx, `insert into rules (name, asset_type, asset_id, metric, failure_mode, enabled, spec)
		values ($1, $2, $3, $4, $5, $6, $7) returning `+ruleCols, r.Name, at, aid, r.Metric, r.FailureMode, r.Enabled, spec))
	return out, translate(err)
}

// GetRule implements workorders.Store.
func (s *Store) GetRule(ctx context.Context, id string) (rules.Rule, error) {
	if !validID(id) {
		return rules.Rule{}, workorders.ErrNotFound
	}
	out, err := scanRule(s.pool.QueryRow(ctx, `select `+ruleCols+` from rules where id = $1`, id))
	return out, translate(err)
}

// ListRules implements workorders.Store.
func (s *Store) ListRules(ctx context.Context, p workorders.Page) ([]rules.Rule, string, error) {
	var w where
	ks := keyset{created: "created_at", key: "id"}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	lim := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+ruleCols+` from rules`+w.sql()+ks.orderLimit(&w, lim), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rules.Rule, error) { return scanRule(r) })
	if err != nil {
		return nil, "", translate(err)
	}
	out, next := cutPage(out, lim, func(v rules.Rule) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// UpdateRule implements workorders.Store.
func (s *Store) UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	if !validID(r.ID) {
		return rules.Rule{}, workorders.ErrNotFound
	}
	id := r.ID
	at, aid, spec, err := ruleArgs(r)
	if err != nil {
		return rules.Rule{}, err
	}
	out, err := scanRule(s.pool.QueryRow(ctx, `update rules set name = $2, asset_type = $3, asset_id = $4, metric = $5,
		failure_mode = $6, enabled = $7, spec = $8, updated_at = now() where id = $1 returning `+ruleCols,
		id, r.Name, at, aid, r.Metric, r.FailureMode, r.Enabled, spec))
	return out, translate(err)
}

// DeleteRule implements workorders.Store.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from rules where id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

// EnabledRules implements workorders.Store.
func (s *Store) EnabledRules(ctx context.Context) ([]rules.Rule, error) {
	rows, err := s.pool.Query(ctx, `select `+ruleCols+` from rules where enabled order by created_at, id`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rules.Rule, error) { return scanRule(r) })
	return out, translate(err)
}

// RulesVersion implements workorders.Store.
func (s *Store) RulesVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `select version from rules_version`).Scan(&v)
	return v, translate(err)
}
