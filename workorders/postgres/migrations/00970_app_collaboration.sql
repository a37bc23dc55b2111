-- @mentions reach the person mentioned: a notification subscription may
-- belong to one user (their own email or chat webhook), which receives the
-- messages addressed to that user (mentions, help requests, transfers);
-- and a user's mentions are found from the comment events that list them.
-- A job may have helpers (engineers asked to join; they see the job) and a
-- pending transfer to another engineer, waiting for a planner's approval
-- unless the site's dispatch policy lets engineers transfer directly.

-- +goose Up
alter table notify_subscriptions add column user_id uuid references users (id) on delete cascade;
create index notify_subscriptions_user on notify_subscriptions (user_id) where user_id is not null;
create index work_order_events_mentions on work_order_events using gin ((data -> 'mentions') jsonb_path_ops)
    where type = 'comment';
alter table work_orders add column helper_ids uuid[] not null default '{}',
    add column transfer jsonb;
create index work_orders_helpers on work_orders using gin (helper_ids) where helper_ids <> '{}';
alter table dispatch_policies add column transfer text not null default 'approval'
    check (transfer in ('approval', 'direct'));

-- +goose Down
alter table dispatch_policies drop column transfer;
drop index work_orders_helpers;
alter table work_orders drop column transfer, drop column helper_ids;
drop index work_order_events_mentions;
drop index notify_subscriptions_user;
alter table notify_subscriptions drop column user_id;
