-- A dispatcher claims the deliveries it is about to send: the claim (a
-- random token) and its lease are committed before the request goes out,
-- so that no other dispatcher (another replica, or this one after its
-- lock connection was lost) sends them again until the lease ends. A
-- dispatcher that dies mid-send leaves the lease to expire: the delivery
-- is sent again then (at least once).

-- +goose Up
alter table webhook_deliveries add column claim uuid, add column leased_until timestamptz;

-- +goose Down
alter table webhook_deliveries drop column claim, drop column leased_until;
