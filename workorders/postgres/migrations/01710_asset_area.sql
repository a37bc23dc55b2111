-- An asset's area within its site (a hall, a line, a rig): assets of one
-- site with the same non-empty area are neighbours for "one cause, one
-- order" grouping, as are assets sharing a parent. Empty means none.

-- +goose Up
alter table assets add column if not exists area text not null default '';
create index if not exists assets_site_area on assets (site_id, area) where area <> '';

-- +goose Down
drop index if exists assets_site_area;
alter table assets drop column if exists area;
