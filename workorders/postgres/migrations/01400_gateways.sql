-- Edge gateways as the platform sees them: the latest retained status each
-- reported, the config the platform published to it and the agent's answer,
-- and the offline alert. A gateway appears with its first status (or
-- several replicas record the same status: the newer ts wins).

-- +goose Up
create table gateways (
    id                  uuid primary key default gen_random_uuid(),
    site_code           text not null,
    code                text not null,
    state               text not null check (state in ('online', 'offline')),
    state_since         timestamptz not null,
    status_at           timestamptz not null,
    seen_at             timestamptz not null,
    version             text not null default '',
    buffered            bigint not null default 0,
    dropped             bigint not null default 0,
    -- The agent's answer to the latest config topic payload it processed.
    agent_config_sha256 text not null default '',
    agent_config_error  text not null default '',
    -- The latest config the platform published.
    config              jsonb,
    config_sha256       text not null default '',
    config_published_at timestamptz,
    alert_since         timestamptz,
    unique (site_code, code)
);

-- Live updates when what a screen shows changes (not on every periodic
-- status that only moves the counters).
create trigger gateways_live_insert after insert on gateways
    for each row execute function live_emit();
create trigger gateways_live_update after update on gateways
    for each row when (old.state is distinct from new.state
        or old.alert_since is distinct from new.alert_since
        or old.version is distinct from new.version
        or old.agent_config_sha256 is distinct from new.agent_config_sha256
        or old.agent_config_error is distinct from new.agent_config_error
        or old.config_sha256 is distinct from new.config_sha256)
    execute function live_emit();

-- +goose Down
drop table gateways;
