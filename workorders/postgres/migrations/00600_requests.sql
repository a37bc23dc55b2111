-- Customer requests (workorders/requests): the requester of an order that
-- came from a form, the API or email; the status links customers follow;
-- links between related orders; one survey answer per order. Orders gain
-- the source `request` and the state `merged` (a request merged into
-- another order). The state check also admits en_route and on_site, so
-- whichever of this and the engineers' app's migration runs last, both
-- life-cycle additions stay legal.

-- +goose Up
alter table work_orders drop constraint if exists work_orders_source_check;
alter table work_orders add constraint work_orders_source_check
    check (source in ('threshold', 'trend', 'event', 'manual', 'schedule', 'request'));
alter table work_orders drop constraint if exists work_orders_status_check;
alter table work_orders add constraint work_orders_status_check
    check (status in ('proposed', 'approved', 'rejected', 'assigned', 'accepted', 'en_route', 'on_site',
        'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'cancelled', 'merged'));

-- The order's current status link ("/s/{token}", '' when none), kept
-- with the order so that reading orders costs no join.
alter table work_orders add column status_path text not null default '';

create table order_requests (
    order_id      uuid primary key references work_orders (id),
    channel       text not null check (channel in ('form', 'api', 'email')),
    name          text not null default '',
    email         text not null default '',
    phone         text not null default '',
    locale        text not null default 'en',
    external_ref  text not null default '',
    client_ip     text not null default '',
    message_id    text not null default '',
    merged_into   uuid references work_orders (id),
    created_at    timestamptz not null default now()
);
create index order_requests_merged on order_requests (merged_into) where merged_into is not null;
create index order_requests_channel on order_requests (channel, created_at);
create index order_requests_message on order_requests (message_id) where message_id <> '';

-- A status link: an unguessable token for one order; revoked links answer
-- as if they never existed.
create table status_tokens (
    token       text primary key,
    order_id    uuid not null references work_orders (id),
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
create index status_tokens_order on status_tokens (order_id, created_at) where revoked_at is null;

create table order_links (
    a          uuid not null references work_orders (id),
    b          uuid not null references work_orders (id),
    created_at timestamptz not null default now(),
    created_by text not null default '',
    primary key (a, b),
    check (a < b)
);
create index order_links_b on order_links (b);

create table order_surveys (
    order_id    uuid primary key references work_orders (id),
    score       int not null check (score between 1 and 5),
    comment     text not null default '',
    answered_at timestamptz not null default now()
);

-- +goose Down
drop table order_surveys;
drop table order_links;
drop table status_tokens;
drop table order_requests;
alter table work_orders drop column status_path;
