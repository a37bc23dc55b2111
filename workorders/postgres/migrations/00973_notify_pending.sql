-- Notifications told in the event's own transaction: an event that tells
-- someone something is recorded here with it (appendEvent), and the
-- notifier's relay turns it into outbox messages and deletes it in one
-- transaction, so a committed event is never left untold nor told twice.

-- +goose Up
create table notify_pending (
    event_id   bigint primary key references work_order_events (id),
    order_id   uuid not null references work_orders (id),
    attempts   int not null default 0,
    next_at    timestamptz not null default now(),
    last_error text not null default ''
);
create index notify_pending_due on notify_pending (next_at, event_id);

-- +goose Down
drop table notify_pending;
