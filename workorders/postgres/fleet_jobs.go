package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/fleet"
)

// The fleet's training jobs (fleet.JobStore): one row a job, one active
// (waiting or running) a type; times are the database's, so replicas'
// clocks do not decide whether a runner is lost.

const jobCols = `id::text, asset_type, status, phase, progress, requested_by, runner, started_at, heartbeat_at, finished_at,
	error, error_code, model_version`

func scanJob(row pgx.Row) (fleet.Job, error) {
	var j fleet.Job
	err := row.Scan(&j.ID, &j.AssetType, &j.Status, &j.Phase, &j.Progress, &j.RequestedBy, &j.Runner, &j.Started,
		&j.Heartbeat, &j.Finished, &j.Error, &j.Code, &j.ModelVersion)
	if err != nil {
		return fleet.Job{}, err
	}
	j.Started, j.Heartbeat = j.Started.UTC(), j.Heartbeat.UTC()
	if j.Finished != nil {
		t := j.Finished.UTC()
		j.Finished = &t
	}
	return j, nil
}

// expireJobs fails the active jobs (of the type or with the id where
// names) whose heartbeat is older than lease: their runner is lost.
func (s *Store) expireJobs(ctx context.Context, where string, arg any, lease time.Duration) error {
	_, err := s.pool.Exec(ctx, `update fleet_jobs set status = 'failed', phase = '', progress = null,
		finished_at = now(), error_code = '`+fleet.CodeRunnerLost+`',
		error = format('the replica running it (%s) stopped reporting: last heartbeat %s, over %s s ago', runner,
			to_char(heartbeat_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), $2::float8)
		where status in ('waiting', 'running') and heartbeat_at < now() - make_interval(secs => $2) and `+where,
		arg, lease.Seconds())
	return translate(err)
}

// CreateJob records a new active job (its start and heartbeat now, by
// the database's clock) after failing the type's lost ones; an error
// wrapping fleet.ErrTraining, with the active job, when the type has one.
func (s *Store) CreateJob(ctx context.Context, j fleet.Job, lease time.Duration) (fleet.Job, error) {
	if err := s.expireJobs(ctx, "asset_type = $1", j.AssetType, lease); err != nil {
		return fleet.Job{}, fmt.Errorf("create job: %w", err)
	}
	got, err := scanJob(s.pool.QueryRow(ctx, `insert into fleet_jobs (id, asset_type, status, phase, requested_by, runner,
			started_at, heartbeat_at)
		values ($1, $2, $3, $4, $5, $6, now(), now())
		on conflict (asset_type) where status in ('waiting', 'running') do nothing
		returning `+jobCols, j.ID, j.AssetType, j.Status, j.Phase, j.RequestedBy, j.Runner))
	if errors.Is(err, pgx.ErrNoRows) {
		active, aerr := scanJob(s.pool.QueryRow(ctx, `select `+jobCols+` from fleet_jobs
			where asset_type = $1 and status in ('waiting', 'running')`, j.AssetType))
		if aerr != nil {
			return fleet.Job{}, fmt.Errorf("create job: %w", translate(aerr))
		}
		return active, fmt.Errorf("%s (job %s): %w", j.AssetType, active.ID, fleet.ErrTraining)
	}
	if err != nil {
		return fleet.Job{}, fmt.Errorf("create job: %w", translate(err))
	}
	return got, nil
}

// BeatJob records an active job's status, phase and progress with a
// heartbeat now; false when the job is no longer active.
func (s *Store) BeatJob(ctx context.Context, id, status, phase string, progress *float64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `update fleet_jobs set status = $2, phase = $3, progress = $4, heartbeat_at = now()
		where id = $1 and status in ('waiting', 'running')`, id, status, phase, progress)
	if err != nil {
		return false, fmt.Errorf("job heartbeat: %w", translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FinishJob records an active job's end; a job already failed (as
// runner_lost) stays as it is.
func (s *Store) FinishJob(ctx context.Context, j fleet.Job) error {
	_, err := s.pool.Exec(ctx, `update fleet_jobs set status = $2, phase = '', progress = null, finished_at = now(),
			heartbeat_at = now(), error = $3, error_code = $4, model_version = $5
		where id = $1 and status in ('waiting', 'running')`, j.ID, j.Status, j.Error, j.Code, j.ModelVersion)
	if err != nil {
		return fmt.Errorf("finish job: %w", translate(err))
	}
	return nil
}

// Job returns the job with id (failed first when its runner is lost); an
// error wrapping fleet.ErrJobNotFound when there is none (a malformed id
// included).
func (s *Store) Job(ctx context.Context, id string, lease time.Duration) (fleet.Job, error) {
	if !validID(id) {
		return fleet.Job{}, fmt.Errorf("job %q: %w", id, fleet.ErrJobNotFound)
	}
	if err := s.expireJobs(ctx, "id = $1", id, lease); err != nil {
		return fleet.Job{}, err
	}
	j, err := scanJob(s.pool.QueryRow(ctx, `select `+jobCols+` from fleet_jobs where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return fleet.Job{}, fmt.Errorf("job %s: %w", id, fleet.ErrJobNotFound)
	}
	return j, translate(err)
}

// Jobs lists a type's latest limit jobs, newest first (its lost ones
// failed first).
func (s *Store) Jobs(ctx context.Context, assetType string, limit int, lease time.Duration) ([]fleet.Job, error) {
	if err := s.expireJobs(ctx, "asset_type = $1", assetType, lease); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `select `+jobCols+` from fleet_jobs where asset_type = $1
		order by started_at desc, id desc limit $2`, assetType, limit)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fleet.Job, error) { return scanJob(r) })
	return out, translate(err)
}

// SetGateOverride sets (o non-nil) or takes back (nil) the override that
// lets a type's versions that fail the validation gate raise orders.
func (s *Store) SetGateOverride(ctx context.Context, assetType string, o *fleet.GateOverride) error {
	var err error
	if o == nil {
		_, err = s.pool.Exec(ctx, `delete from fleet_gate_overrides where asset_type = $1`, assetType)
	} else {
		_, err = s.pool.Exec(ctx, `insert into fleet_gate_overrides (asset_type, by_name, at, note) values ($1, $2, $3, $4)
			on conflict (asset_type) do update set by_name = excluded.by_name, at = excluded.at, note = excluded.note`,
			assetType, o.By, o.At.UTC(), o.Note)
	}
	if err != nil {
		return fmt.Errorf("gate override: %w", translate(err))
	}
	return nil
}

var _ fleet.JobStore = (*Store)(nil)
