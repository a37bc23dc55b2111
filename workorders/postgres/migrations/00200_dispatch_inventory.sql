-- Dispatch and spare parts: engineers, dispatch runs, the parts catalogue,
-- stock locations (warehouses and one van per engineer), stock with its
-- invariants, the append-only movements ledger, reservations per order and
-- purchase requests.

-- +goose Up
create table engineers (
    id            uuid primary key default gen_random_uuid(),
    name          text not null check (length(name) between 1 and 200),
    -- The user the engineer logs in as; work orders are assigned to it.
    user_id       uuid unique references users (id) on delete set null,
    site_id       uuid references sites (id) on delete set null,
    skills        jsonb not null default '{}' check (jsonb_typeof(skills) = 'object'),
    home_lat      double precision not null check (home_lat between -90 and 90),
    home_lon      double precision not null check (home_lon between -180 and 180),
    lat           double precision check (lat between -90 and 90),
    lon           double precision check (lon between -180 and 180),
    location_at   timestamptz,
    time_zone     text not null default 'UTC',
    shifts        jsonb not null default '[]' check (jsonb_typeof(shifts) = 'array'),
    time_off      jsonb not null default '[]' check (jsonb_typeof(time_off) = 'array'),
    max_open_jobs int not null default 5 check (max_open_jobs between 1 and 1000),
    active        boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    check ((lat is null) = (lon is null))
);

-- One row per dispatch run, with the plan and its explanations.
create table dispatch_runs (
    id          bigserial primary key,
    trigger     text not null,
    started_at  timestamptz not null,
    finished_at timestamptz not null,
    orders      int not null,
    engineers   int not null,
    assigned    int not null,
    unassigned  int not null,
    total_cost  double precision not null,
    plan        jsonb not null
);

create table parts (
    id          uuid primary key default gen_random_uuid(),
    sku         text not null unique check (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text not null check (length(name) between 1 and 200),
    unit        text not null default 'pcs',
    unit_cost   double precision not null default 0 check (unit_cost >= 0),
    lead_time_s bigint not null default 604800 check (lead_time_s >= 0),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table stock_locations (
    id          uuid primary key default gen_random_uuid(),
    code        text not null unique check (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    name        text not null,
    kind        text not null check (kind in ('warehouse', 'van')),
    engineer_id uuid unique references engineers (id) on delete restrict,
    site_id     uuid references sites (id) on delete set null,
    lat         double precision check (lat between -90 and 90),
    lon         double precision check (lon between -180 and 180),
    created_at  timestamptz not null default now(),
    -- A van belongs to exactly one engineer; a warehouse to none.
    constraint stock_locations_van_engineer check ((kind = 'van') = (engineer_id is not null)),
    check ((lat is null) = (lon is null))
);

-- Stock per location and part. on_hand and reserved change only through
-- the ledger (stock_movements' trigger); the checks make any movement that
-- would break an invariant fail, and with it its whole transaction.
create table stock (
    location_id   uuid not null references stock_locations (id) on delete restrict,
    part_id       uuid not null references parts (id) on delete restrict,
    on_hand       int not null default 0,
    reserved      int not null default 0,
    reorder_point int not null default 0 check (reorder_point >= 0),
    reorder_qty   int not null default 0 check (reorder_qty >= 0),
    updated_at    timestamptz not null default now(),
    primary key (location_id, part_id),
    constraint stock_on_hand_nonnegative check (on_hand >= 0),
    constraint stock_reserved_nonnegative check (reserved >= 0),
    constraint stock_reserved_within_on_hand check (reserved <= on_hand)
);
create index stock_part on stock (part_id);

create table stock_movements (
    id                  bigserial primary key,
    at                  timestamptz not null default now(),
    kind                text not null check (kind in ('receipt', 'reserve', 'release', 'consume',
                            'transfer_out', 'transfer_in', 'adjust')),
    location_id         uuid not null references stock_locations (id),
    part_id             uuid not null references parts (id),
    on_hand_delta       int not null,
    reserved_delta      int not null,
    order_id            uuid references work_orders (id),
    purchase_request_id uuid,
    transfer_id         uuid,
    actor               text not null default '',
    note                text not null default '',
    check (on_hand_delta <> 0 or reserved_delta <> 0)
);
create index stock_movements_loc_part on stock_movements (location_id, part_id, id);
create index stock_movements_order on stock_movements (order_id, id) where order_id is not null;
create index stock_movements_at on stock_movements (at, id);

-- +goose StatementBegin
create function stock_movement_apply() returns trigger language plpgsql as $$
begin
    -- Update first: an upsert would check the delta row itself against the
    -- constraints before finding the existing row.
    loop
        update stock
           set on_hand = on_hand + new.on_hand_delta,
               reserved = reserved + new.reserved_delta,
               updated_at = now()
         where location_id = new.location_id and part_id = new.part_id;
        if found then
            return null;
        end if;
        begin
            insert into stock (location_id, part_id, on_hand, reserved)
            values (new.location_id, new.part_id, new.on_hand_delta, new.reserved_delta);
            return null;
        exception when unique_violation then
            -- A concurrent first movement created the row: update it.
        end;
    end loop;
end $$;

create function stock_movements_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'stock movements are append-only (% refused)', tg_op using errcode = 'P0001';
end $$;

-- Quantities may change only from within the ledger trigger (depth > 1).
create function stock_guard() returns trigger language plpgsql as $$
begin
    if pg_trigger_depth() < 2 then
        if tg_op = 'INSERT' and (new.on_hand <> 0 or new.reserved <> 0) then
            raise exception 'stock quantities change only through stock_movements' using errcode = 'P0001';
        end if;
        if tg_op = 'UPDATE' and (new.on_hand <> old.on_hand or new.reserved <> old.reserved) then
            raise exception 'stock quantities change only through stock_movements' using errcode = 'P0001';
        end if;
    end if;
    return new;
end $$;
-- +goose StatementEnd

create trigger stock_movements_apply after insert on stock_movements
    for each row execute function stock_movement_apply();
create trigger stock_movements_no_update before update or delete on stock_movements
    for each row execute function stock_movements_immutable();
create trigger stock_movements_no_truncate before truncate on stock_movements
    for each statement execute function stock_movements_immutable();
create trigger stock_quantities_guard before insert or update on stock
    for each row execute function stock_guard();

-- What an order holds: its reservations (one row per location and part)
-- and its parts state.
create table part_reservations (
    order_id    uuid not null references work_orders (id),
    location_id uuid not null references stock_locations (id),
    part_id     uuid not null references parts (id),
    qty         int not null check (qty > 0),
    primary key (order_id, location_id, part_id)
);

create table order_parts (
    order_id      uuid primary key references work_orders (id),
    state         text not null check (state in ('reserved', 'waiting', 'consumed', 'released')),
    -- Where a waiting order goes back to when its parts arrive.
    resume_status text not null default '',
    -- Where a waiting order's shortages are requested: [{sku, qty, location_id}].
    shortages     jsonb not null default '[]',
    updated_at    timestamptz not null default now()
);
create index order_parts_waiting on order_parts (updated_at) where state = 'waiting';

create table purchase_requests (
    id           uuid primary key default gen_random_uuid(),
    part_id      uuid not null references parts (id),
    location_id  uuid not null references stock_locations (id),
    qty          int not null check (qty > 0),
    status       text not null default 'open' check (status in ('open', 'ordered', 'received', 'cancelled')),
    reason       text not null check (reason in ('reorder_point', 'shortage', 'forecast', 'manual')),
    order_id     uuid references work_orders (id),
    note         text not null default '',
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    received_at  timestamptz,
    received_qty int
);
-- One open purchase request per part and location: raising is idempotent.
create unique index purchase_requests_one_open on purchase_requests (part_id, location_id)
    where status in ('open', 'ordered');
create index purchase_requests_created on purchase_requests (created_at desc, id desc);

-- +goose Down
drop table purchase_requests, order_parts, part_reservations;
drop trigger stock_movements_no_truncate on stock_movements;
drop table stock_movements, stock, stock_locations, parts, dispatch_runs, engineers;
drop function stock_movement_apply, stock_movements_immutable, stock_guard;
