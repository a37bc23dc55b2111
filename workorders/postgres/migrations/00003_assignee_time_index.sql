-- An engineer's orders newest first without a status filter (GET
-- /work-orders?assignee_id=); built concurrently so that a live table is
-- not locked for writes.

-- +goose NO TRANSACTION
-- +goose Up
create index concurrently if not exists work_orders_assignee_time on work_orders (assignee_id, created_at desc, id desc)
    where assignee_id is not null;

-- +goose Down
drop index concurrently if exists work_orders_assignee_time;
