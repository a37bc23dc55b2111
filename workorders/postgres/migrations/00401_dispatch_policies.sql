-- Dispatch policy per site and priority: auto (the optimizer assigns),
-- manual (a planner assigns) or claim (qualified, on-shift engineers
-- within radius_km see the order and the first to claim it gets it).
-- A null site or priority matches any; the most specific row wins.

-- +goose Up
create table dispatch_policies (
    id         bigserial primary key,
    site_id    uuid references sites (id) on delete cascade,
    priority   text check (priority in ('P1', 'P2', 'P3', 'P4')),
    mode       text not null check (mode in ('auto', 'manual', 'claim')),
    radius_km  double precision not null default 50 check (radius_km > 0 and radius_km <= 20000),
    updated_at timestamptz not null default now(),
    unique nulls not distinct (site_id, priority)
);

-- +goose Down
drop table dispatch_policies;
