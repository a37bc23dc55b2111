-- Email intake (workorders/mailin): the Message-ID of every message taken
-- in (a request or a reply), so a redelivered message changes nothing and
-- a reply finds its order; the Message-ID of every notification sent, so a
-- customer's answer to it finds its order too.

-- +goose Up
create table mail_inbound (
    message_id text primary key,
    order_id   uuid not null references work_orders (id),
    kind       text not null check (kind in ('request', 'reply')),
    sender     text not null default '',
    created_at timestamptz not null default now()
);
create index mail_inbound_order on mail_inbound (order_id);

alter table notify_outbox add column message_id text not null default '';
create index notify_outbox_message on notify_outbox (message_id) where message_id <> '';

-- +goose Down
drop index notify_outbox_message;
alter table notify_outbox drop column message_id;
drop table mail_inbound;
