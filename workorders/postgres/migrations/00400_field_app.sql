-- The engineers' app: the en_route and on_site statuses between accepted
-- and in_progress; Idempotency-Key records of POST requests (a replay
-- returns the first answer and applies nothing again, also after a
-- restart); each engineer's location history (sent in batches, visible to
-- the engineer and to planners only).

-- +goose Up
alter table work_orders drop constraint work_orders_status_check;
alter table work_orders add constraint work_orders_status_check check (status in ('proposed', 'approved', 'rejected',
    'assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'cancelled'));

create table idempotency_keys (
    user_id      uuid not null references users (id) on delete cascade,
    key          text not null,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint  bytea not null,
    method       text not null,
    path         text not null,
    -- 0 while the first request is being served.
    status       int not null default 0,
    content_type text not null default '',
    body         bytea,
    created_at   timestamptz not null default now(),
    primary key (user_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);

create table engineer_locations (
    id          bigserial primary key,
    engineer_id uuid not null references engineers (id) on delete cascade,
    at          timestamptz not null,
    lat         double precision not null check (lat between -90 and 90),
    lon         double precision not null check (lon between -180 and 180),
    accuracy_m  double precision check (accuracy_m >= 0),
    received_at timestamptz not null default now(),
    unique (engineer_id, at)
);

-- +goose Down
drop table engineer_locations;
drop table idempotency_keys;
alter table work_orders drop constraint work_orders_status_check;
alter table work_orders add constraint work_orders_status_check check (status in ('proposed', 'approved', 'rejected',
    'assigned', 'accepted', 'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'cancelled'));
