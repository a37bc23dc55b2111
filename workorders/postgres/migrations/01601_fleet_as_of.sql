-- The time a fleet estimate refers to: the end of the asset's last step
-- with data (the remaining life counts from it), which may lie before the
-- scoring when readings arrive late or have stopped.

-- +goose Up
alter table fleet_scores add column as_of timestamptz;

-- +goose Down
alter table fleet_scores drop column as_of;
