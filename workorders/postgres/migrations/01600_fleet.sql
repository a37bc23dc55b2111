-- The fleet's failure history and its learnt remaining-life models (issue
-- 15, package fleet): failures imported per asset (POST
-- /asset-types/{type}/failures; completed corrective orders count too, read
-- from work_orders), versioned models per asset type, and each asset's
-- latest fleet estimate (its health answer's fleet block).

-- +goose Up
create table fleet_failures (
    id         uuid primary key default gen_random_uuid(),
    asset_id   uuid not null references assets (id) on delete cascade,
    failed_at  timestamptz not null,
    created_at timestamptz not null default now(),
    unique (asset_id, failed_at)
);

create table fleet_models (
    asset_type          text not null,
    version             int not null,
    trained_at          timestamptz not null,
    n_units             int not null,
    validation_rmse_s   double precision not null,
    validation_coverage double precision not null,
    model               jsonb not null,
    report              jsonb not null,
    primary key (asset_type, version)
);

create table fleet_scores (
    asset_id    uuid primary key references assets (id) on delete cascade,
    asset_type  text not null,
    version     int not null,
    status      text not null,
    scored_at   timestamptz not null,
    rul_s       double precision,
    lower_s     double precision,
    upper_s     double precision,
    features    jsonb not null default '{}'
);

-- +goose Down
drop table fleet_scores;
drop table fleet_models;
drop table fleet_failures;
