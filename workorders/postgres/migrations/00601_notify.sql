-- Notifications (workorders/notify): the outbox every message to one
-- receiver waits in until it is sent (retries with backoff, one row per
-- receiver so one failing receiver never holds up another), and the
-- planners' subscriptions (email addresses and chat webhooks).

-- +goose Up
create table notify_outbox (
    id              bigserial primary key,
    kind            text not null,
    channel         text not null,
    target          text not null,
    order_id        uuid references work_orders (id),
    subject         text not null default '',
    body_text       text not null default '',
    body_html       text not null default '',
    status          text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
    attempts        int not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error      text not null default '',
    created_at      timestamptz not null default now(),
    sent_at         timestamptz
);
create index notify_outbox_due on notify_outbox (next_attempt_at, id) where status = 'pending';
create index notify_outbox_order on notify_outbox (order_id, id);

create table notify_subscriptions (
    id         uuid primary key default gen_random_uuid(),
    channel    text not null check (channel in ('email', 'wecom', 'dingtalk', 'slack')),
    target     text not null,
    kinds      text[] not null default '{}',
    locale     text not null default 'en',
    active     boolean not null default true,
    created_at timestamptz not null default now()
);

-- +goose Down
drop table notify_subscriptions;
drop table notify_outbox;
