-- Preventive schedules (calendar and meter based) and the knowledge base.

-- +goose Up
create table maintenance_schedules (
    id                   uuid primary key default gen_random_uuid(),
    name                 text not null check (length(name) between 1 and 200),
    asset_id             uuid references assets (id) on delete cascade,
    asset_type           text,
    kind                 text not null check (kind in ('calendar', 'meter')),
    -- calendar: every every_s seconds from starts_at.
    every_s              bigint check (every_s > 0),
    -- meter: every every_hours running hours, read from a counter metric
    -- (meter_mode 'counter', in hours) or computed from a stream as the
    -- time the metric stays above idle_above (meter_mode 'above').
    every_hours          double precision check (every_hours > 0),
    meter_metric         text,
    meter_mode           text check (meter_mode in ('counter', 'above')),
    idle_above           double precision,
    starts_at            timestamptz not null,
    -- Orders are created this long before they are due.
    lead_s               bigint not null default 0 check (lead_s >= 0),
    title                text not null,
    priority             text not null default 'P3' check (priority in ('P1', 'P2', 'P3', 'P4')),
    required_skills      text[] not null default '{}',
    parts                jsonb not null default '[]',
    estimated_duration_s bigint not null default 0 check (estimated_duration_s >= 0),
    active               boolean not null default true,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    check ((asset_id is null) <> (asset_type is null)),
    check (kind <> 'calendar' or every_s is not null),
    check (kind <> 'meter' or (every_hours is not null and meter_metric is not null and meter_mode is not null)),
    check (meter_mode is distinct from 'above' or idle_above is not null)
);

-- One row per produced occurrence. seq numbers the occurrences of a
-- schedule on an asset (calendar: period index; meter: the multiple of
-- every_hours reached); the primary key makes an occurrence happen once.
create table schedule_occurrences (
    schedule_id uuid not null references maintenance_schedules (id) on delete cascade,
    asset_id    uuid not null references assets (id) on delete cascade,
    seq         bigint not null,
    due_at      timestamptz not null,
    order_id    uuid references work_orders (id),
    meter_hours double precision,
    created_at  timestamptz not null default now(),
    primary key (schedule_id, asset_id, seq)
);

-- Running hours per asset and metric as last measured (meter schedules).
create table asset_meters (
    asset_id uuid not null references assets (id) on delete cascade,
    metric   text not null,
    hours    double precision not null check (hours >= 0),
    at       timestamptz not null,
    primary key (asset_id, metric)
);

create table knowledge_articles (
    id              uuid primary key default gen_random_uuid(),
    title           text not null check (length(title) between 1 and 300),
    body            text not null,
    failure_modes   text[] not null default '{}',
    asset_types     text[] not null default '{}',
    tags            text[] not null default '{}',
    source_order_id uuid unique references work_orders (id),
    created_by      uuid,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    -- Lower-cased title, body and tags, kept by a trigger, searched with
    -- pg_trgm (which handles CJK characters as well as Latin ones).
    search          text not null default ''
);
create index knowledge_search_trgm on knowledge_articles using gin (search gin_trgm_ops);
create index knowledge_failure_modes on knowledge_articles using gin (failure_modes);
create index knowledge_created on knowledge_articles (created_at desc, id desc);

-- +goose StatementBegin
create function knowledge_search_text() returns trigger language plpgsql as $$
begin
    new.search := lower(new.title || ' ' || new.body || ' ' || array_to_string(new.failure_modes, ' ')
        || ' ' || array_to_string(new.asset_types, ' ') || ' ' || array_to_string(new.tags, ' '));
    return new;
end $$;
-- +goose StatementEnd
create trigger knowledge_search before insert or update on knowledge_articles
    for each row execute function knowledge_search_text();

-- +goose Down
drop table knowledge_articles, asset_meters, schedule_occurrences, maintenance_schedules;
drop function knowledge_search_text;
