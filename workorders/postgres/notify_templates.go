package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
)

var _ notify.TemplateSource = (*Store)(nil)

// CustomTemplates implements notify.TemplateSource: the administrators'
// templates (the defaults live in code).
func (s *Store) CustomTemplates(ctx context.Context) ([]notify.Template, error) {
	rows, err := s.pool.Query(ctx, `select kind, locale, channel, subject, body_text, body_html, based_on, updated_at
		from notify_templates order by kind, locale, channel`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notify.Template, error) {
		var t notify.Template
		err := r.Scan(&t.Kind, &t.Locale, &t.Channel, &t.Subject, &t.Text, &t.HTML, &t.BasedOn, &t.UpdatedAt)
		if t.UpdatedAt != nil {
			u := t.UpdatedAt.UTC()
			t.UpdatedAt = &u
		}
		t.Custom = true
		return t, err
	})
	return out, translate(err)
}

// PutTemplate stores a custom template (checked by the caller), replacing
// the one before.
func (s *Store) PutTemplate(ctx context.Context, t notify.Template) error {
	_, err := s.pool.Exec(ctx, `insert into notify_templates (kind, locale, channel, subject, body_text, body_html, based_on)
		values ($1, $2, $3, $4, $5, $6, $7)
		on conflict (kind, locale, channel) do update set subject = excluded.subject, body_text = excluded.body_text,
			body_html = excluded.body_html, based_on = excluded.based_on, updated_at = now()`,
		t.Kind, t.Locale, t.Channel, t.Subject, t.Text, t.HTML, t.BasedOn)
	return translate(err)
}

// DeleteTemplate removes a custom template (the default applies again);
// ErrNotFound when there was none.
func (s *Store) DeleteTemplate(ctx context.Context, kind, locale, channel string) error {
	tag, err := s.pool.Exec(ctx, `delete from notify_templates where kind = $1 and locale = $2 and channel = $3`,
		kind, locale, channel)
	if err == nil && tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return translate(err)
}
