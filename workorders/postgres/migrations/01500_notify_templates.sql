-- Administrators' versions of the notification templates, one per kind,
-- locale and channel (email: subject, plain and HTML body; chat: text).
-- A kind without a row uses the default built into pdm (notify.Templates);
-- based_on is the default's version the row was edited from.

-- +goose Up
create table notify_templates (
    kind       text not null,
    locale     text not null,
    channel    text not null check (channel in ('email', 'chat')),
    subject    text not null default '',
    body_text  text not null,
    body_html  text not null default '',
    based_on   int not null,
    updated_at timestamptz not null default now(),
    primary key (kind, locale, channel)
);

-- +goose Down
drop table notify_templates;
