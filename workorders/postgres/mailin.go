package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/mailin"
)

var _ mailin.Store = (*Store)(nil)

// MailThread implements mailin.Store: a message received (request or
// reply) or a notification sent with one of the ids; a request merged into
// another order answers with that order.
func (s *Store) MailThread(ctx context.Context, ids []string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `select coalesce(r.merged_into, t.order_id)::text from (
			select order_id, 1 as pri from mail_inbound where message_id = any($1)
			union all
			select order_id, 2 from notify_outbox where message_id = any($1) and message_id <> '' and order_id is not null
		) t left join order_requests r on r.order_id = t.order_id order by t.pri limit 1`, ids).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", workorders.ErrNotFound
	}
	return id, translate(err)
}

// RecordMail implements mailin.Store.
func (s *Store) RecordMail(ctx context.Context, messageID, orderID, kind, sender string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `insert into mail_inbound (message_id, order_id, kind, sender) values ($1, $2, $3, $4)
		on conflict do nothing`, messageID, orderID, kind, sender)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// MailSeen implements mailin.Store.
func (s *Store) MailSeen(ctx context.Context, messageID string) (bool, error) {
	var seen bool
	err := s.pool.QueryRow(ctx, `select exists (select 1 from mail_inbound where message_id = $1)`, messageID).Scan(&seen)
	return seen, translate(err)
}
