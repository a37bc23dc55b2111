-- Live updates for the console: every change a screen shows (work orders,
-- signals, engineers, stock, purchase requests, rules, dispatch runs,
-- attachments) appends a row here from a trigger in the changing
-- transaction, and wakes listeners with NOTIFY pdm_live. Each API replica
-- reads the rows by id and streams them to its browsers (GET /api/v1/events),
-- so a change made through one replica reaches browsers on every other;
-- a reconnecting browser resumes from its Last-Event-ID. Rows older than a
-- day are pruned. Other tables join with one trigger:
--   create trigger x_live after insert or update on x
--       for each row execute function live_emit();
-- (a table without a case below emits "<table>.changed" with the row's id).

-- +goose Up
create table live_events (
    id        bigserial primary key,
    at        timestamptz not null default clock_timestamp(),
    type      text not null,
    order_id  uuid,
    -- The users (besides admins, planners and viewers) who may see the
    -- event: an order's assignee before and after the change, an
    -- engineer's own user. Empty: not for engineers.
    audience  uuid[] not null default '{}',
    data      jsonb not null default '{}'
);
create index live_events_at on live_events (at);

-- +goose StatementBegin
create function live_emit() returns trigger language plpgsql as $$
declare
    typ  text;
    oid  uuid;
    aud  uuid[] := '{}';
    body jsonb;
begin
    if tg_table_name = 'work_orders' then
        oid := new.id;
        aud := array_remove(array[new.assignee_id], null);
        if tg_op = 'INSERT' then
            typ := 'work_order.created';
        else
            if old.assignee_id is not null and old.assignee_id is distinct from new.assignee_id then
                aud := aud || old.assignee_id;
            end if;
            if new.status = 'assigned' and (old.status is distinct from new.status
                    or old.assignee_id is distinct from new.assignee_id) then
                typ := 'work_order.assigned';
            elsif old.status is distinct from new.status then
                typ := 'work_order.transitioned';
            elsif old.assignee_id is distinct from new.assignee_id then
                typ := 'work_order.assigned';
            else
                typ := 'work_order.updated';
            end if;
        end if;
        body := jsonb_build_object('id', new.id,
            'number', 'WO-' || case when new.number < 1000000 then lpad(new.number::text, 6, '0') else new.number::text end,
            'status', new.status,
            'from_status', case when tg_op = 'UPDATE' then old.status else '' end,
            'priority', new.priority, 'source', new.source, 'asset_id', new.asset_id, 'site_id', new.site_id,
            'assignee_id', new.assignee_id, 'sla_state', new.sla_state);
    elsif tg_table_name = 'signals' then
        if tg_op <> 'INSERT' then
            return null;
        end if;
        typ := 'signal.created';
        oid := new.order_id;
        body := jsonb_build_object('id', new.id, 'kind', new.kind, 'level', new.level, 'asset_id', new.asset_id,
            'rule_id', new.rule_id, 'metric', new.metric, 'order_id', new.order_id);
    elsif tg_table_name = 'attachments' then
        typ := 'work_order.updated';
        oid := new.order_id;
        select array_remove(array[w.assignee_id], null) into aud from work_orders w where w.id = new.order_id;
        body := jsonb_build_object('id', new.order_id, 'attachment_id', new.id);
    elsif tg_table_name = 'engineers' then
        typ := 'engineer.updated';
        aud := array_remove(array[new.user_id], null);
        body := jsonb_build_object('id', new.id, 'user_id', new.user_id, 'lat', new.lat, 'lon', new.lon,
            'active', new.active);
    elsif tg_table_name = 'stock_movements' then
        typ := 'stock.changed';
        oid := new.order_id;
        body := jsonb_build_object('id', new.id, 'part_id', new.part_id, 'location_id', new.location_id,
            'order_id', new.order_id);
    elsif tg_table_name = 'purchase_requests' then
        typ := 'purchase_request.changed';
        body := jsonb_build_object('id', new.id);
    elsif tg_table_name = 'dispatch_runs' then
        typ := 'dispatch.run';
        body := jsonb_build_object('id', new.id);
    elsif tg_table_name = 'rules' then
        typ := 'rule.changed';
        if tg_op = 'DELETE' then
            body := jsonb_build_object('id', old.id, 'deleted', true);
        else
            body := jsonb_build_object('id', new.id);
        end if;
    else
        typ := tg_table_name || '.changed';
        if tg_op = 'DELETE' then
            body := jsonb_build_object('id', to_jsonb(old) -> 'id', 'deleted', true);
        else
            body := jsonb_build_object('id', to_jsonb(new) -> 'id');
        end if;
    end if;
    insert into live_events (type, order_id, audience, data) values (typ, oid, aud, body);
    -- Identical notifications in one transaction fold into one.
    perform pg_notify('pdm_live', '');
    return null;
end $$;
-- +goose StatementEnd

create trigger work_orders_live after insert or update on work_orders
    for each row execute function live_emit();
create trigger signals_live after insert on signals
    for each row execute function live_emit();
create trigger attachments_live after insert on attachments
    for each row execute function live_emit();
create trigger engineers_live after insert or update on engineers
    for each row execute function live_emit();
create trigger stock_movements_live after insert on stock_movements
    for each row execute function live_emit();
create trigger purchase_requests_live after insert or update on purchase_requests
    for each row execute function live_emit();
create trigger dispatch_runs_live after insert on dispatch_runs
    for each row execute function live_emit();
create trigger rules_live after insert or update or delete on rules
    for each row execute function live_emit();

-- +goose Down
drop trigger rules_live on rules;
drop trigger dispatch_runs_live on dispatch_runs;
drop trigger purchase_requests_live on purchase_requests;
drop trigger stock_movements_live on stock_movements;
drop trigger engineers_live on engineers;
drop trigger attachments_live on attachments;
drop trigger signals_live on signals;
drop trigger work_orders_live on work_orders;
drop function live_emit();
drop table live_events;
