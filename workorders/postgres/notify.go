package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
)

var _ notify.Store = (*Store)(nil)

// Enqueue implements notify.Store.
func (s *Store) Enqueue(ctx context.Context, ms []notify.Message) error {
	rows := make([][]any, len(ms))
	for i, m := range ms {
		rows[i] = []any{m.Kind, m.Channel, m.Target, m.OrderID, m.Subject, m.Text, m.HTML, m.MessageID}
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"notify_outbox"},
		[]string{"kind", "channel", "target", "order_id", "subject", "body_text", "body_html", "message_id"}, pgx.CopyFromRows(rows))
	return translate(err)
}

// Claim implements notify.Store: due messages are leased by moving their
// next attempt past the lease, so a crashed sender's messages come back.
func (s *Store) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]notify.Message, error) {
	rows, err := s.pool.Query(ctx, `with due as (
			select id from notify_outbox where status = 'pending' and next_attempt_at <= $1
			order by next_attempt_at, id limit $2 for update skip locked)
		update notify_outbox o set next_attempt_at = $3 from due where o.id = due.id
		returning o.id, o.kind, o.channel, o.target, o.order_id, o.subject, o.body_text, o.body_html, o.status,
			o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at, o.message_id`, now, limit, now.Add(lease))
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, scanMessage)
	return out, translate(err)
}

func scanMessage(r pgx.CollectableRow) (notify.Message, error) {
	var m notify.Message
	err := r.Scan(&m.ID, &m.Kind, &m.Channel, &m.Target, &m.OrderID, &m.Subject, &m.Text, &m.HTML, &m.Status,
		&m.Attempts, &m.NextAttemptAt, &m.LastError, &m.CreatedAt, &m.SentAt, &m.MessageID)
	utc(&m.NextAttemptAt, &m.CreatedAt)
	return m, err
}

// Done implements notify.Store.
func (s *Store) Done(ctx context.Context, id int64, status string, next time.Time, errText string) error {
	_, err := s.pool.Exec(ctx, `update notify_outbox set status = $2, attempts = attempts + 1,
		next_attempt_at = case when $2 = 'pending' then $3 else next_attempt_at end, last_error = $4,
		sent_at = case when $2 = 'sent' then now() else sent_at end where id = $1`, id, status, next, errText)
	return translate(err)
}

// Outbox lists messages, newest first (status "" for all).
func (s *Store) Outbox(ctx context.Context, status string, limit int) ([]notify.Message, error) {
	rows, err := s.pool.Query(ctx, `select id, kind, channel, target, order_id, subject, body_text, body_html, status,
		attempts, next_attempt_at, last_error, created_at, sent_at, message_id from notify_outbox
		where $1 = '' or status = $1 order by id desc limit $2`, status, limit)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, scanMessage)
	return out, translate(err)
}

// Subscriptions implements notify.Store.
func (s *Store) Subscriptions(ctx context.Context) ([]notify.Subscription, error) {
	rows, err := s.pool.Query(ctx, `select id, user_id, channel, target, kinds, locale, active, created_at from notify_subscriptions
		order by created_at, id`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notify.Subscription, error) {
		var v notify.Subscription
		err := r.Scan(&v.ID, &v.UserID, &v.Channel, &v.Target, &v.Kinds, &v.Locale, &v.Active, &v.CreatedAt)
		utc(&v.CreatedAt)
		return v, err
	})
	return out, translate(err)
}

// CreateSubscription stores a subscription.
func (s *Store) CreateSubscription(ctx context.Context, v notify.Subscription) (notify.Subscription, error) {
	if v.Kinds == nil {
		v.Kinds = []string{}
	}
	err := s.pool.QueryRow(ctx, `insert into notify_subscriptions (channel, target, kinds, locale, active, user_id)
		values ($1, $2, $3, $4, $5, $6) returning id, created_at`, v.Channel, v.Target, v.Kinds, v.Locale, v.Active, v.UserID).
		Scan(&v.ID, &v.CreatedAt)
	utc(&v.CreatedAt)
	return v, translate(err)
}

// DeleteSubscription removes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from notify_subscriptions where id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return translate(err)
}

// Recipients implements notify.Store: the requesters of the order and of
// the requests merged into it.
func (s *Store) Recipients(ctx context.Context, orderID string) ([]notify.Recipient, error) {
	rows, err := s.pool.Query(ctx, `select r.email, r.locale, o.status_path from order_requests r
		join work_orders o on o.id = r.order_id
		where r.order_id = $1 or r.merged_into = $1`, orderID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notify.Recipient, error) {
		var v notify.Recipient
		return v, r.Scan(&v.Email, &v.Locale, &v.StatusURL)
	})
	return out, translate(err)
}

// Facts implements notify.Store.
func (s *Store) Facts(ctx context.Context, orderID string) (notify.Facts, error) {
	var (
		f      notify.Facts
		number int64
		eng    string
	)
	err := s.pool.QueryRow(ctx, `select o.number, o.title, si.name, a.name, coalesce(u.name, ''), o.priority
		from work_orders o join sites si on si.id = o.site_id join assets a on a.id = o.asset_id
		left join users u on u.id = o.assignee_id where o.id = $1`, orderID).
		Scan(&number, &f.Title, &f.SiteName, &f.AssetName, &eng, &f.Priority)
	f.Number = workorders.FormatNumber(number)
	f.Engineer = firstName(eng)
	return f, translate(err)
}

var _ notify.PendingStore = (*Store)(nil)

// PendingEvents implements notify.PendingStore.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]notify.Pending, error) {
	rows, err := s.pool.Query(ctx, `select p.event_id, e.type, e.actor_id, e.actor, e.at, e.from_status, e.to_status, e.note,
			e.data, `+orderCols+`
		from notify_pending p join work_order_events e on e.id = p.event_id join work_orders o on o.id = p.order_id
		where p.next_at <= now() order by p.next_at, p.event_id limit $1`, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []notify.Pending
	for rows.Next() {
		var p notify.Pending
		e := &p.Event
		o, err := scanOrder(rowFunc(func(dest ...any) error {
			return rows.Scan(append([]any{&p.EventID, &e.Type, &e.ActorID, &e.Actor, &e.At, &e.From, &e.To, &e.Note, &e.Data},
				dest...)...)
		}))
		if err != nil {
			return nil, translate(err)
		}
		e.ID, e.OrderID, p.Order = p.EventID, o.ID, o
		utc(&e.At)
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

// ResolvePending implements notify.PendingStore.
func (s *Store) ResolvePending(ctx context.Context, eventID int64, ms []notify.Message) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `delete from notify_pending where event_id = $1`, eventID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		rows := make([][]any, len(ms))
		for i, m := range ms {
			rows[i] = []any{m.Kind, m.Channel, m.Target, m.OrderID, m.Subject, m.Text, m.HTML, m.MessageID}
		}
		if len(rows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"notify_outbox"},
				[]string{"kind", "channel", "target", "order_id", "subject", "body_text", "body_html", "message_id"},
				pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
		done = true
		return nil
	})
	return done, translate(err)
}

// DeferPending implements notify.PendingStore: retried after a minute,
// dropped after ten tries.
func (s *Store) DeferPending(ctx context.Context, eventID int64, errText string) error {
	if len(errText) > 500 {
		errText = errText[:500]
	}
	_, err := s.pool.Exec(ctx, `update notify_pending set attempts = attempts + 1, next_at = now() + interval '1 minute',
		last_error = $2 where event_id = $1`, eventID, errText)
	if err != nil {
		return translate(err)
	}
	_, err = s.pool.Exec(ctx, `delete from notify_pending where event_id = $1 and attempts >= 10`, eventID)
	return translate(err)
}
