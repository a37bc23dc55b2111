-- GET /work-orders?status=...&sort=risk: one index holds the whole risk
-- key, so a page is an index scan that stops after limit+1 rows. The
-- failure time is the prediction, or for a breach or an event (not a trend)
-- the moment it was detected, else the creation; a trend without a
-- prediction has none (infinity, last). Criticality is negated: higher
-- first. The expressions must stay identical to riskKey in orders.go.
-- Built concurrently so that a live table is not locked for writes.

-- +goose NO TRANSACTION
-- +goose Up
create index concurrently if not exists work_orders_risk on work_orders (status, priority,
    (coalesce(predicted_failure_at, case when source = 'trend' then 'infinity'::timestamptz
        else coalesce(detected_at, created_at) end)),
    (-asset_criticality), created_at, id);

-- +goose Down
drop index concurrently if exists work_orders_risk;
