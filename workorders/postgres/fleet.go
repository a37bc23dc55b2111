package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/workorders"
)

// AddFailure records an imported failure of an asset; created is false
// when the asset's failure at that time was already recorded (the stored
// one is returned). An unknown asset is workorders.ErrNotFound.
func (s *Store) AddFailure(ctx context.Context, assetID string, failedAt time.Time) (fleet.Failure, bool, error) {
	var id string
	err := s.pool.QueryRow(ctx, `insert into fleet_failures (asset_id, failed_at) values ($1, $2)
		on conflict (asset_id, failed_at) do nothing returning id::text`, assetID, failedAt.UTC()).Scan(&id)
	created := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if err != nil {
		var verr *workorders.ValidationError
		if errors.As(translate(err), &verr) && verr.Field == "asset_id" {
			return fleet.Failure{}, false, workorders.ErrNotFound
		}
		return fleet.Failure{}, false, translate(err)
	}
	row := s.pool.QueryRow(ctx, `select `+failureCols+` from fleet_failures f join assets a on a.id = f.asset_id
		join sites s on s.id = a.site_id where f.asset_id = $1 and f.failed_at = $2`, assetID, failedAt.UTC())
	f, err := scanFailure(row)
	return f, created, translate(err)
}

// failureOrder is the condition on work_orders o of an order that stands
// for a failure (see Failures).
const failureOrder = `((o.source = 'threshold' and o.status not in ('rejected', 'cancelled'))
	or (o.source in ('event', 'manual') and o.status in ('completed', 'verified', 'closed')))
	and o.reason not in ('no_fault_found', 'duplicate', 'not_actionable')`

const failureCols = `f.id::text, a.id::text, a.type, s.code, a.code, f.failed_at, 'import', '', f.created_at`

func scanFailure(row pgx.Row) (fleet.Failure, error) {
	var f fleet.Failure
	var created *time.Time
	if err := row.Scan(&f.ID, &f.AssetID, &f.AssetType, &f.Site, &f.Asset, &f.FailedAt, &f.Source, &f.OrderID, &created); err != nil {
		return fleet.Failure{}, err
	}
	f.FailedAt = f.FailedAt.UTC()
	if created != nil {
		t := created.UTC()
		f.CreatedAt = &t
	}
	return f, nil
}

// Failures lists an asset type's failure history, oldest first: the
// imported failures, the threshold orders (a breach of a critical limit,
// in any state but rejected or cancelled) and the completed corrective
// orders (event and manual orders completed, verified or closed), none
// closed as no fault found, a duplicate or not actionable; an order
// failed at its detection time (its creation when it has none). At most
// 100,000. Failures at the same time are in site and asset code order,
// not by ID, so the same history trains the same model in any database
// (the training's seeded split follows this order).
func (s *Store) Failures(ctx context.Context, assetType string) ([]fleet.Failure, error) {
	rows, err := s.pool.Query(ctx, `
		select `+failureCols+` from fleet_failures f join assets a on a.id = f.asset_id
			join sites s on s.id = a.site_id where a.type = $1
		union all
		select '', a.id::text, a.type, s.code, a.code, coalesce(o.detected_at, o.created_at), o.source, o.id::text, null
			from work_orders o join assets a on a.id = o.asset_id join sites s on s.id = a.site_id
			where a.type = $1 and `+failureOrder+`
		order by 6, 4, 5, 2 limit 100000`, assetType)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fleet.Failure, error) { return scanFailure(r) })
	return out, translate(err)
}

// FailureTypes lists the asset types with at least min failures.
func (s *Store) FailureTypes(ctx context.Context, min int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		select t from (
			select a.type t from fleet_failures f join assets a on a.id = f.asset_id
			union all
			select a.type from work_orders o join assets a on a.id = o.asset_id
				where `+failureOrder+`
		) x group by t having count(*) >= $1 order by t`, min)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err)
}

// Restarts gives, per asset of a type, when its current life began: the
// latest of its recorded failures and the completion of its corrective
// orders and of the fleet model's own orders (a repair that prevented the
// failure restarts the life too).
func (s *Store) Restarts(ctx context.Context, assetType string) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `
		select asset_id::text, max(t) from (
			select f.asset_id, f.failed_at t from fleet_failures f join assets a on a.id = f.asset_id where a.type = $1
			union all
			select o.asset_id, o.completed_at from work_orders o join assets a on a.id = o.asset_id
				where a.type = $1 and o.completed_at is not null and o.status in ('completed', 'verified', 'closed')
				and (o.source in ('threshold', 'event', 'manual') or o.failure_mode = $2)
		) x group by asset_id`, assetType, fleet.FailureMode)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var t time.Time
		if err := rows.Scan(&id, &t); err != nil {
			return nil, translate(err)
		}
		out[id] = t.UTC()
	}
	return out, translate(rows.Err())
}

// SaveModel stores a new version of an asset type's model (one more than
// the latest) and returns it.
func (s *Store) SaveModel(ctx context.Context, v fleet.Version) (fleet.Version, error) {
	m, err := json.Marshal(v.Model)
	if err != nil {
		return fleet.Version{}, fmt.Errorf("save model: %w", err)
	}
	r, err := json.Marshal(v.Report)
	if err != nil {
		return fleet.Version{}, fmt.Errorf("save model: %w", err)
	}
	step := v.Model.Spec.StepSeconds
	if step <= 0 {
		step = 1
	}
	var gate []byte
	if v.Gate != nil {
		g := *v.Gate
		g.Override = nil // the type's, kept in fleet_gate_overrides
		if gate, err = json.Marshal(g); err != nil {
			return fleet.Version{}, fmt.Errorf("save model: %w", err)
		}
	}
	rmse := v.Report.ValidationRMSE * step
	if math.IsNaN(rmse) || math.IsInf(rmse, 0) {
		rmse = -1
	}
	// Two trainings of one type at once: the primary key makes the later
	// one fail rather than overwrite; retry once on the next number.
	for attempt := 0; ; attempt++ {
		err = s.pool.QueryRow(ctx, `insert into fleet_models (asset_type, version, trained_at, n_units, validation_rmse_s,
			validation_coverage, model, report, gate)
			select $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8 from fleet_models where asset_type = $1
			returning version`, v.AssetType, v.TrainedAt.UTC(), v.Report.Units, rmse, v.Report.ValidationCoverage, m, r,
			gate).Scan(&v.Version)
		if err == nil || attempt == 1 || !errors.Is(translate(err), workorders.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fleet.Version{}, fmt.Errorf("save model: %w", translate(err))
	}
	return v, nil
}

// LatestModel returns an asset type's latest model; workorders.ErrNotFound
// when it has none.
func (s *Store) LatestModel(ctx context.Context, assetType string) (fleet.Version, error) {
	return s.scanVersion(s.pool.QueryRow(ctx, `select `+versionCols+` from fleet_models m
		left join fleet_gate_overrides g on g.asset_type = m.asset_type
		where m.asset_type = $1 order by m.version desc limit 1`, assetType))
}

// versionCols are a version's columns (fleet_models m, the type's
// override g).
const versionCols = `m.asset_type, m.version, m.trained_at, m.model, m.report, m.gate, g.by_name, g.at, g.note`

// LatestModels returns every asset type's latest model.
func (s *Store) LatestModels(ctx context.Context) ([]fleet.Version, error) {
	rows, err := s.pool.Query(ctx, `select distinct on (m.asset_type) `+versionCols+` from fleet_models m
		left join fleet_gate_overrides g on g.asset_type = m.asset_type
		order by m.asset_type, m.version desc`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fleet.Version, error) { return s.scanVersion(r) })
	return out, translate(err)
}

func (s *Store) scanVersion(row pgx.Row) (fleet.Version, error) {
	var v fleet.Version
	var m, r, g []byte
	var by, note *string
	var at *time.Time
	if err := row.Scan(&v.AssetType, &v.Version, &v.TrainedAt, &m, &r, &g, &by, &at, &note); err != nil {
		return fleet.Version{}, translate(err)
	}
	v.TrainedAt = v.TrainedAt.UTC()
	if err := json.Unmarshal(m, &v.Model); err != nil {
		return fleet.Version{}, fmt.Errorf("model %s v%d: %w", v.AssetType, v.Version, err)
	}
	if err := json.Unmarshal(r, &v.Report); err != nil {
		return fleet.Version{}, fmt.Errorf("model %s v%d report: %w", v.AssetType, v.Version, err)
	}
	gate, err := s.versionGate(v, g, by, at, note)
	if err != nil {
		return fleet.Version{}, err
	}
	v.Gate = gate
	return v, nil
}

// versionGate is a stored version's gate with its type's override, by the
// lead its orders use now (fleet.GateByLead: the model's own lead, else
// the store's fleet lead): a version stored before the gate existed, or
// judged by a default lead since changed, is judged again.
func (s *Store) versionGate(v fleet.Version, g []byte, by *string, at *time.Time, note *string) (*fleet.Gate, error) {
	var stored *fleet.Gate
	if len(g) > 0 && string(g) != "null" {
		stored = &fleet.Gate{}
		if err := json.Unmarshal(g, stored); err != nil {
			return nil, fmt.Errorf("model %s v%d gate: %w", v.AssetType, v.Version, err)
		}
	}
	gate := fleet.GateByLead(stored, v.Model, v.Report, s.fleetLead)
	if gate.Reasons == nil {
		gate.Reasons = []fleet.GateReason{}
	}
	if by != nil && at != nil && note != nil {
		gate.Override = &fleet.GateOverride{By: *by, At: at.UTC(), Note: *note}
	}
	return &gate, nil
}

// SaveScore stores an asset's latest fleet estimate.
func (s *Store) SaveScore(ctx context.Context, sc fleet.Score) error {
	f, err := json.Marshal(sc.Features)
	if err != nil {
		return fmt.Errorf("save score: %w", err)
	}
	_, err = s.pool.Exec(ctx, `insert into fleet_scores (asset_id, asset_type, version, status, scored_at, rul_s, lower_s, upper_s,
			features, as_of)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		on conflict (asset_id) do update set asset_type = excluded.asset_type, version = excluded.version,
			status = excluded.status, scored_at = excluded.scored_at, rul_s = excluded.rul_s,
			lower_s = excluded.lower_s, upper_s = excluded.upper_s, features = excluded.features, as_of = excluded.as_of`,
		sc.AssetID, sc.AssetType, sc.Version, sc.Status, sc.ScoredAt.UTC(), sc.RUL, sc.Lower, sc.Upper, f, sc.AsOf)
	return translate(err)
}

// Score returns an asset's latest fleet estimate; workorders.ErrNotFound
// when it has none.
func (s *Store) Score(ctx context.Context, assetID string) (fleet.Score, error) {
	var sc fleet.Score
	var f []byte
	var v fleet.Version
	var m, r, g []byte
	var by, note *string
	var at *time.Time
	// The gate of the version that scored, and the type's override (of
	// the model, only what judging an old version's gate needs: a kNN
	// model's points are megabytes).
	err := s.pool.QueryRow(ctx, `select sc.asset_id::text, sc.asset_type, sc.version, sc.status, sc.scored_at, sc.rul_s,
			sc.lower_s, sc.upper_s, sc.features, sc.as_of,
			jsonb_build_object('coverage', m.model->'coverage', 'lead_seconds', m.model->'lead_seconds',
				'spec', jsonb_build_object('step_seconds', m.model->'spec'->'step_seconds')),
			m.report, m.gate, g.by_name, g.at, g.note
		from fleet_scores sc left join fleet_models m on m.asset_type = sc.asset_type and m.version = sc.version
			left join fleet_gate_overrides g on g.asset_type = sc.asset_type
		where sc.asset_id = $1`, assetID).Scan(&sc.AssetID, &sc.AssetType, &sc.Version, &sc.Status,
		&sc.ScoredAt, &sc.RUL, &sc.Lower, &sc.Upper, &f, &sc.AsOf, &m, &r, &g, &by, &at, &note)
	if err != nil {
		return fleet.Score{}, translate(err)
	}
	if len(r) > 0 {
		v.AssetType, v.Version = sc.AssetType, sc.Version
		if err := json.Unmarshal(m, &v.Model); err != nil {
			return fleet.Score{}, fmt.Errorf("score %s: model: %w", assetID, err)
		}
		if err := json.Unmarshal(r, &v.Report); err != nil {
			return fleet.Score{}, fmt.Errorf("score %s: report: %w", assetID, err)
		}
		if sc.Gate, err = s.versionGate(v, g, by, at, note); err != nil {
			return fleet.Score{}, err
		}
	}
	sc.ScoredAt = sc.ScoredAt.UTC()
	if sc.AsOf != nil {
		t := sc.AsOf.UTC()
		sc.AsOf = &t
	}
	if len(f) > 0 {
		if err := json.Unmarshal(f, &sc.Features); err != nil {
			return fleet.Score{}, fmt.Errorf("score %s: %w", assetID, err)
		}
	}
	return sc, nil
}
