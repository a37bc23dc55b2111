-- Detection is split into hash partitions of the assets; each replica of
-- pdm that runs detection is a member and holds leases on its share.

-- +goose Up
create table detect_members (
    member     text primary key,
    expires_at timestamptz not null
);

create table detect_leases (
    part       integer primary key check (part >= 0),
    owner      text not null,
    expires_at timestamptz not null,
    taken_at   timestamptz not null default now(),
    -- the latest event time the owner evaluated in the partition: the
    -- next owner rebuilds from there
    watermark  timestamptz
);

-- +goose Down
drop table detect_leases;
drop table detect_members;
