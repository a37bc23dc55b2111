-- Console sessions: a user's token exchanged for an HttpOnly cookie. Only
-- the SHA-256 of the session secret is stored; a session ends at its
-- expiry, at sign-out, or when its user is deleted.

-- +goose Up
create table sessions (
    hash         bytea primary key,
    user_id      uuid not null references users (id) on delete cascade,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    last_seen_at timestamptz not null default now()
);
create index sessions_user on sessions (user_id);
create index sessions_expiry on sessions (expires_at);

-- +goose Down
drop table sessions;
