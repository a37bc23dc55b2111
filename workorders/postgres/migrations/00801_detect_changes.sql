-- Every replica's rules engine caches the enabled rules and its asset
-- lookups. A change made through one replica reaches the others at once
-- through a notification on pdm_detect (payload 'rules' or 'assets'), not
-- on their next periodic reload: a replica that owns an asset's partition
-- must evaluate its readings against the rules of the moment, as a single
-- replica does.

-- +goose Up
-- +goose StatementBegin
create function detect_changed() returns trigger language plpgsql as $$
begin
    -- Identical notifications in one transaction fold into one.
    perform pg_notify('pdm_detect', tg_argv[0]);
    return null;
end $$;
-- +goose StatementEnd

create trigger rules_detect after insert or update or delete or truncate on rules
    for each statement execute function detect_changed('rules');
create trigger assets_detect after insert or update or delete or truncate on assets
    for each statement execute function detect_changed('assets');
create trigger sites_detect after insert or update or delete or truncate on sites
    for each statement execute function detect_changed('assets');

-- +goose Down
drop trigger sites_detect on sites;
drop trigger assets_detect on assets;
drop trigger rules_detect on rules;
drop function detect_changed();
