-- rules_version moved on every statement against rules, also one that
-- changed nothing (deleting or updating a rule that does not exist): a
-- 404 changed state. It now moves once per changed row.

-- +goose Up
drop trigger rules_changed on rules;
create trigger rules_changed after insert or update or delete on rules
    for each row execute function rules_bump_version();

-- +goose Down
drop trigger rules_changed on rules;
create trigger rules_changed after insert or update or delete on rules
    for each statement execute function rules_bump_version();
