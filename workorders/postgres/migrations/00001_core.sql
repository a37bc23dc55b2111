-- The ticket core: users, sites, assets, rules, signals, work orders and
-- their append-only events, attachments, SLA policies, webhooks (outbox).
-- Migrations 00001-00199 belong to the ticket core, 00200+ to dispatch,
-- inventory, schedules, KPIs and knowledge.

-- +goose Up
create extension if not exists pg_trgm;

create table users (
    id         uuid primary key default gen_random_uuid(),
    name       text not null check (length(name) between 1 and 200),
    role       text not null check (role in ('admin', 'planner', 'engineer', 'viewer')),
    created_at timestamptz not null default now()
);

create table api_tokens (
    hash       bytea primary key,
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now()
);
create index api_tokens_user on api_tokens (user_id);

create table sites (
    id         uuid primary key default gen_random_uuid(),
    code       text not null unique check (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    name       text not null,
    lat        double precision,
    lon        double precision,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table assets (
    id          uuid primary key default gen_random_uuid(),
    site_id     uuid not null references sites (id),
    code        text not null check (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    type        text not null,
    name        text not null,
    criticality int not null check (criticality between 1 and 5),
    lat         double precision,
    lon         double precision,
    parent_id   uuid references assets (id) on delete set null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    unique (site_id, code),
    check (parent_id is null or parent_id <> id)
);
create index assets_type on assets (type);

create table rules (
    id           uuid primary key default gen_random_uuid(),
    name         text not null,
    asset_type   text,
    asset_id     uuid references assets (id) on delete cascade,
    metric       text not null,
    failure_mode text not null default '',
    enabled      boolean not null default true,
    spec         jsonb not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    check ((asset_type is null) <> (asset_id is null))
);

-- rules_version grows with every change of rules, so evaluators can reload
-- cheaply when it moves.
create table rules_version (
    one     boolean primary key default true check (one),
    version bigint not null
);
insert into rules_version (version) values (0);

-- +goose StatementBegin
create function rules_bump_version() returns trigger language plpgsql as $$
begin
    update rules_version set version = version + 1;
    return null;
end $$;
-- +goose StatementEnd
create trigger rules_changed after insert or update or delete on rules
    for each statement execute function rules_bump_version();

create table signals (
    id           bigserial primary key,
    kind         text not null,
    level        text not null,
    rule_id      uuid references rules (id) on delete set null,
    site_code    text not null default '',
    asset_code   text not null default '',
    asset_id     uuid references assets (id) on delete set null,
    metric       text not null default '',
    failure_mode text not null default '',
    value        double precision not null default 0,
    limit_value  double precision not null default 0,
    detected_at  timestamptz not null,
    message      text not null default '',
    prediction   jsonb,
    evidence     jsonb not null default '{}',
    order_id     uuid,
    created_at   timestamptz not null default now()
);
create index signals_asset on signals (asset_id, id desc);
create index signals_rule on signals (rule_id, id desc);
create index signals_order on signals (order_id, id desc) where order_id is not null;

create sequence work_order_number;

create table work_orders (
    id                         uuid primary key default gen_random_uuid(),
    number                     bigint not null unique default nextval('work_order_number'),
    asset_id                   uuid not null references assets (id),
    site_id                    uuid not null references sites (id),
    title                      text not null,
    description                text not null default '',
    source                     text not null check (source in ('threshold', 'trend', 'event', 'manual', 'schedule')),
    failure_mode               text not null default '',
    rule_id                    uuid references rules (id) on delete set null,
    priority                   text not null check (priority in ('P1', 'P2', 'P3', 'P4')),
    status                     text not null check (status in ('proposed', 'approved', 'rejected', 'assigned',
                                   'accepted', 'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'cancelled')),
    created_at                 timestamptz not null default now(),
    updated_at                 timestamptz not null default now(),
    approved_at                timestamptz,
    due_at                     timestamptz,
    assignee_id                uuid references users (id),
    required_skills            text[] not null default '{}',
    parts                      jsonb not null default '[]',
    estimated_duration_s       bigint not null default 0,
    evidence                   jsonb not null default '{}',
    detected_at                timestamptz,
    predicted_failure_at       timestamptz,
    predicted_failure_earliest timestamptz,
    predicted_failure_latest   timestamptz,
    follow_up_of               uuid references work_orders (id),
    signal_count               int not null default 0,
    reason                     text not null default '',
    hold_reason                text not null default '',
    resolution                 text not null default '',
    labour_s                   bigint not null default 0,
    parts_used                 jsonb not null default '[]',
    accepted_at                timestamptz,
    started_at                 timestamptz,
    completed_at               timestamptz,
    verified_at                timestamptz,
    closed_at                  timestamptz,
    on_hold_since              timestamptz,
    held_s                     bigint not null default 0,
    sla_state                  text not null default 'ok' check (sla_state in ('ok', 'at_risk', 'breached'))
);

-- At most one open auto order per (asset, failure mode), enforced here.
create unique index work_orders_one_open_auto on work_orders (asset_id, failure_mode)
    where source in ('threshold', 'trend', 'event')
      and status not in ('completed', 'verified', 'closed', 'rejected', 'cancelled');

-- List queries: newest first with (created_at, id) cursors, per filter.
create index work_orders_created on work_orders (created_at desc, id desc);
create index work_orders_status on work_orders (status, created_at desc, id desc);
create index work_orders_asset on work_orders (asset_id, created_at desc, id desc);
create index work_orders_site on work_orders (site_id, status, created_at desc, id desc);
create index work_orders_assignee on work_orders (assignee_id, status, created_at desc, id desc)
    where assignee_id is not null;
create index work_orders_priority on work_orders (priority, status, created_at desc, id desc);
create index work_orders_source on work_orders (source, status, created_at desc, id desc);
create index work_orders_repeat on work_orders (asset_id, failure_mode, completed_at desc)
    where completed_at is not null;

create table work_order_events (
    id         bigserial primary key,
    order_id   uuid not null references work_orders (id),
    type       text not null,
    actor_id   uuid,
    actor      text not null default '',
    at         timestamptz not null default now(),
    from_status text not null default '',
    to_status  text not null default '',
    note       text not null default '',
    data       jsonb
);
create index work_order_events_order on work_order_events (order_id, id);

-- Events are append-only: the database refuses to change or remove them.
-- +goose StatementBegin
create function work_order_events_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'work order events are append-only (% refused)', tg_op
        using errcode = 'P0001';
end $$;
-- +goose StatementEnd
create trigger work_order_events_no_update before update or delete on work_order_events
    for each row execute function work_order_events_immutable();
create trigger work_order_events_no_truncate before truncate on work_order_events
    for each statement execute function work_order_events_immutable();

create table attachments (
    id           uuid primary key default gen_random_uuid(),
    order_id     uuid not null references work_orders (id),
    kind         text not null check (kind in ('photo', 'signature', 'document')),
    filename     text not null default '',
    content_type text not null,
    size         bigint not null,
    signer_name  text not null default '',
    data         bytea not null,
    created_by   uuid,
    created_at   timestamptz not null default now()
);
create index attachments_order on attachments (order_id, created_at);

create table sla_policies (
    priority      text primary key check (priority in ('P1', 'P2', 'P3', 'P4')),
    response_s    bigint not null check (response_s > 0),
    resolution_s  bigint not null check (resolution_s > 0),
    pause_on_hold boolean not null default true,
    at_risk       double precision not null default 0.8,
    updated_at    timestamptz not null default now()
);

create table webhooks (
    id          uuid primary key default gen_random_uuid(),
    url         text not null,
    secret      text not null,
    event_types text[] not null default '{}',
    active      boolean not null default true,
    created_at  timestamptz not null default now()
);

-- The outbox: one row per (webhook, event), written in the event's
-- transaction.
create table webhook_deliveries (
    id              bigserial primary key,
    webhook_id      uuid not null references webhooks (id) on delete cascade,
    event_id        bigint not null references work_order_events (id),
    event_type      text not null,
    payload         jsonb not null,
    status          text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts        int not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error      text not null default '',
    delivered_at    timestamptz,
    created_at      timestamptz not null default now()
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at, id) where status = 'pending';
create index webhook_deliveries_hook on webhook_deliveries (webhook_id, id desc);

create table webhook_attempts (
    id          bigserial primary key,
    delivery_id bigint not null references webhook_deliveries (id) on delete cascade,
    webhook_id  uuid not null references webhooks (id) on delete cascade,
    event_type  text not null,
    at          timestamptz not null,
    status_code int not null default 0,
    error       text not null default '',
    duration_ms bigint not null default 0
);
create index webhook_attempts_hook on webhook_attempts (webhook_id, id desc);

-- +goose Down
drop table webhook_attempts, webhook_deliveries, webhooks, sla_policies, attachments;
drop trigger work_order_events_no_truncate on work_order_events;
drop table work_order_events, work_orders, signals, rules, rules_version, assets, sites, api_tokens, users;
drop function work_order_events_immutable, rules_bump_version;
drop sequence if exists work_order_number;
