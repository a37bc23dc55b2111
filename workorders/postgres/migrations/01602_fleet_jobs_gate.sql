-- Fleet training jobs every replica can read, and the validation gate
-- (issue 15): a job is recorded with its state, phase, who asked and
-- the runner's heartbeat; one job a type is active at a time (a job
-- whose heartbeat is older than the lease is failed as runner_lost, so
-- the type may train again). Each model version records its gate (did
-- it pass the validation rule, and why not); an operator's override
-- lets a type's versions that fail it raise orders.

-- +goose Up
create table fleet_jobs (
    id            uuid primary key,
    asset_type    text not null,
    status        text not null check (status in ('waiting', 'running', 'succeeded', 'failed')),
    phase         text not null default '',
    progress      double precision,
    requested_by  text not null default '',
    runner        text not null default '',
    started_at    timestamptz not null,
    heartbeat_at  timestamptz not null default now(),
    finished_at   timestamptz,
    error         text,
    error_code    text,
    model_version int
);
create unique index fleet_jobs_one_active on fleet_jobs (asset_type) where status in ('waiting', 'running');
create index fleet_jobs_type_started on fleet_jobs (asset_type, started_at desc);

alter table fleet_models add column gate jsonb;

create table fleet_gate_overrides (
    asset_type text primary key,
    by_name    text not null,
    at         timestamptz not null,
    note       text not null
);

-- +goose Down
drop table fleet_gate_overrides;
alter table fleet_models drop column gate;
drop table fleet_jobs;
