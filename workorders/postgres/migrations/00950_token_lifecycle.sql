-- Token life cycle (issue #10): optional expiry, last use, which token came
-- from PDM_ADMIN_TOKEN, and the hashes of revoked tokens, so that a revoked
-- bootstrap token is never registered again.

-- +goose Up
alter table api_tokens add column expires_at timestamptz;
alter table api_tokens add column last_used_at timestamptz;
alter table api_tokens add column bootstrap boolean not null default false;

create table revoked_tokens (
    hash       bytea primary key,
    revoked_at timestamptz not null default now()
);

-- +goose Down
drop table revoked_tokens;
alter table api_tokens drop column bootstrap, drop column last_used_at, drop column expires_at;
