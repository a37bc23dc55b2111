package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/claims"
)

var _ claims.Store = (*Ops)(nil)

// DispatchPolicies lists every dispatch policy.
func (s *Ops) DispatchPolicies(ctx context.Context) ([]claims.Policy, error) {
	rows, err := s.pool.Query(ctx, `select id, site_id, priority, mode, radius_km, transfer, updated_at from dispatch_policies
		order by site_id nulls first, priority nulls first`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, scanPolicy)
}

func scanPolicy(r pgx.Row) (claims.Policy, error) {
	var p claims.Policy
	var prio *string
	err := r.Scan(&p.ID, &p.SiteID, &prio, &p.Mode, &p.RadiusKm, &p.Transfer, &p.UpdatedAt)
	if prio != nil {
		pr := workorders.Priority(*prio)
		p.Priority = &pr
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, err
}

// PutDispatchPolicy sets the policy of p's site and priority.
func (s *Ops) PutDispatchPolicy(ctx context.Context, p claims.Policy) (claims.Policy, error) {
	if p.SiteID != nil && !validID(*p.SiteID) {
		return p, unprocessableSite()
	}
	var prio *string
	if p.Priority != nil {
		v := string(*p.Priority)
		prio = &v
	}
	out, err := scanPolicy(s.pool.QueryRow(ctx, `insert into dispatch_policies (site_id, priority, mode, radius_km, transfer)
		values ($1, $2, $3, $4, $5)
		on conflict (site_id, priority) do update set mode = excluded.mode, radius_km = excluded.radius_km,
			transfer = excluded.transfer, updated_at = now()
		returning id, site_id, priority, mode, radius_km, transfer, updated_at`, p.SiteID, prio, p.Mode, p.RadiusKm, p.Transfer))
	if isFKViolation(err) {
		return p, unprocessableSite()
	}
	return out, translateOps(err)
}

func unprocessableSite() error { return workorders.Unprocessable("site_id", "no such site") }

func isFKViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
