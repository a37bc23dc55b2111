-- Deliveries go out in event order per webhook: the dispatcher looks for
-- the head of each webhook's pending queue.

-- +goose Up
create index webhook_deliveries_pending on webhook_deliveries (webhook_id, id) where status = 'pending';

-- +goose Down
drop index webhook_deliveries_pending;
