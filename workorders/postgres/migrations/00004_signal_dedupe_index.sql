-- Finds a signal delivered again (same asset and event time) so that it
-- changes nothing.

-- +goose NO TRANSACTION
-- +goose Up
create index concurrently if not exists signals_asset_time on signals (asset_id, detected_at);

-- +goose Down
drop index concurrently if exists signals_asset_time;
