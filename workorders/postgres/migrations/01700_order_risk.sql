-- The review queue ranks orders riskiest first over all matching orders
-- (GET /work-orders?sort=risk): priority, then the sooner failure time,
-- then the asset's higher criticality, then the older order. Criticality
-- lives on assets; it is copied onto each order (asset_criticality) so that
-- one index (01701) holds the whole sort key and a page stops after
-- limit+1 rows. Triggers keep the copy in step: an order takes its asset's
-- criticality when inserted or moved to another asset, and a change of an
-- asset's criticality rewrites its orders in the same transaction (each
-- such order then emits work_order.updated: its rank changed).

-- +goose Up
alter table work_orders add column asset_criticality int;

-- The backfill is not a change anyone watches: no live event per order.
alter table work_orders disable trigger work_orders_live;
update work_orders o set asset_criticality = a.criticality from assets a where a.id = o.asset_id;
alter table work_orders enable trigger work_orders_live;
alter table work_orders alter column asset_criticality set not null;

-- +goose StatementBegin
create function work_orders_take_criticality() returns trigger language plpgsql as $$
begin
    select a.criticality into new.asset_criticality from assets a where a.id = new.asset_id;
    return new;
end $$;
-- +goose StatementEnd
create trigger work_orders_criticality before insert or update of asset_id on work_orders
    for each row execute function work_orders_take_criticality();

-- +goose StatementBegin
create function assets_push_criticality() returns trigger language plpgsql as $$
begin
    update work_orders set asset_criticality = new.criticality
        where asset_id = new.id and asset_criticality <> new.criticality;
    return null;
end $$;
-- +goose StatementEnd
create trigger assets_criticality after update of criticality on assets
    for each row when (old.criticality is distinct from new.criticality)
    execute function assets_push_criticality();

-- +goose Down
drop trigger assets_criticality on assets;
drop function assets_push_criticality();
drop trigger work_orders_criticality on work_orders;
drop function work_orders_take_criticality();
alter table work_orders drop column asset_criticality;
