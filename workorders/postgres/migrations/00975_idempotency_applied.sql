-- An Idempotency-Key is marked applied in the transaction that applies
-- its request (the one appending the order's event), so that a crash
-- between the action and storing the answer neither applies the request
-- again nor loses the key. claim identifies the request holding the key:
-- a request whose key was taken over (it looked abandoned) cannot apply.

-- +goose Up
alter table idempotency_keys add column claim text not null default '',
    add column applied boolean not null default false;

-- +goose Down
alter table idempotency_keys drop column applied, drop column claim;
