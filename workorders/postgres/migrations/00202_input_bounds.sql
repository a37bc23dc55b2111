-- Bounds the API enforces since issue #10, held by the database as well so
-- that no stored value can break a KPI sum.

-- +goose Up
update parts set unit_cost = 1e9 where unit_cost > 1e9;
alter table parts add constraint parts_unit_cost_max check (unit_cost <= 1e9);

-- +goose Down
alter table parts drop constraint parts_unit_cost_max;
