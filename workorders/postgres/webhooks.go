package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

const webhookCols = `id, url, secret, event_types, active, created_at`

func scanWebhook(r pgx.Row) (workorders.Webhook, error) {
	var w workorders.Webhook
	err := r.Scan(&w.ID, &w.URL, &w.Secret, &w.EventTypes, &w.Active, &w.CreatedAt)
	utc(&w.CreatedAt)
	return w, err
}

// CreateWebhook implements workorders.Store.
func (s *Store) CreateWebhook(ctx context.Context, w workorders.Webhook) (workorders.Webhook, error) {
	out, err := scanWebhook(s.pool.QueryRow(ctx, `insert into webhooks (url, secret, event_types, active) values ($1, $2, $3, $4)
		returning `+webhookCols, w.URL, w.Secret, nonNil(w.EventTypes), w.Active))
	return out, translate(err)
}

// GetWebhook implements workorders.Store.
func (s *Store) GetWebhook(ctx context.Context, id string) (workorders.Webhook, error) {
	if !validID(id) {
		return workorders.Webhook{}, workorders.ErrNotFound
	}
	out, err := scanWebhook(s.pool.QueryRow(ctx, `select `+webhookCols+` from webhooks where id = $1`, id))
	return out, translate(err)
}

// ListWebhooks implements workorders.Store.
func (s *Store) ListWebhooks(ctx context.Context) ([]workorders.Webhook, error) {
	rows, err := s.pool.Query(ctx, `select `+webhookCols+` from webhooks order by created_at, id`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Webhook, error) { return scanWebhook(r) })
	return out, translate(err)
}

// UpdateWebhook implements workorders.Store.
func (s *Store) UpdateWebhook(ctx context.Context, w workorders.Webhook) (workorders.Webhook, error) {
	if !validID(w.ID) {
		return workorders.Webhook{}, workorders.ErrNotFound
	}
	out, err := scanWebhook(s.pool.QueryRow(ctx, `update webhooks set url = $2, secret = $3, event_types = $4, active = $5
		where id = $1 returning `+webhookCols, w.ID, w.URL, w.Secret, nonNil(w.EventTypes), w.Active))
	return out, translate(err)
}

// DeleteWebhook implements workorders.Store.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from webhooks where id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

const deliveryCols = `d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.status, d.attempts, d.next_attempt_at,
	d.last_error, d.delivered_at, d.created_at`

func scanDelivery(r pgx.Row, extra ...any) (workorders.Delivery, error) {
	var d workorders.Delivery
	var payload []byte
	dest := append([]any{&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &payload, &d.Status, &d.Attempts,
		&d.NextAttemptAt, &d.LastError, &d.DeliveredAt, &d.CreatedAt}, extra...)
	err := r.Scan(dest...)
	utc(&d.NextAttemptAt, &d.CreatedAt)
	utcp(&d.DeliveredAt)
	d.Payload = payload
	return d, err
}

// ListDeliveries implements workorders.Store (newest first).
func (s *Store) ListDeliveries(ctx context.Context, webhookID string, p workorders.Page) ([]workorders.Delivery, string, error) {
	if !validID(webhookID) {
		return nil, "", workorders.ErrNotFound
	}
	var w where
	w.add("d.webhook_id = ?", webhookID)
	if p.Cursor != "" {
		id, err := parseIntCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add("d.id < ?", id)
	}
	lim := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+deliveryCols+` from webhook_deliveries d`+w.sql()+` order by d.id desc limit `+w.arg(lim+1), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > lim {
		out = out[:lim]
		next = intCursor(out[lim-1].ID)
	}
	return out, next, nil
}

// ListAttempts implements workorders.Store (newest first).
func (s *Store) ListAttempts(ctx context.Context, webhookID string, p workorders.Page) ([]workorders.DeliveryAttempt, string, error) {
	if !validID(webhookID) {
		return nil, "", workorders.ErrNotFound
	}
	var w where
	w.add("webhook_id = ?", webhookID)
	if p.Cursor != "" {
		id, err := parseIntCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add("id < ?", id)
	}
	lim := limitOf(p)
	rows, err := s.pool.Query(ctx, `select id, delivery_id, webhook_id, event_type, at, status_code, error, duration_ms
		from webhook_attempts`+w.sql()+` order by id desc limit `+w.arg(lim+1), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.DeliveryAttempt, error) {
		var a workorders.DeliveryAttempt
		err := r.Scan(&a.ID, &a.DeliveryID, &a.WebhookID, &a.EventType, &a.At, &a.StatusCode, &a.Error, &a.DurationMS)
		utc(&a.At)
		return a, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > lim {
		out = out[:lim]
		next = intCursor(out[lim-1].ID)
	}
	return out, next, nil
}

// ClaimDeliveries implements workorders.Store: the heads of the webhooks'
// queues that are due and not leased are locked (SKIP LOCKED: concurrent
// claimers take different rows) and given a claim and a lease in one
// statement, committed before anything is sent.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]workorders.DueDelivery, error) {
	rows, err := s.pool.Query(ctx, `with due as (
			select d.id from webhook_deliveries d
			join webhooks w on w.id = d.webhook_id
			where d.status = 'pending' and d.next_attempt_at <= $1 and w.active
			and (d.leased_until is null or d.leased_until <= $1)
			and not exists (select 1 from webhook_deliveries e where e.webhook_id = d.webhook_id and e.status = 'pending' and e.id < d.id)
			order by d.id limit $3
			for update of d skip locked)
		update webhook_deliveries d set claim = gen_random_uuid(), leased_until = $2
		from due, webhooks w where d.id = due.id and w.id = d.webhook_id
		returning `+deliveryCols+`, w.url, w.secret, d.claim::text`, now, leaseUntil, limit)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.DueDelivery, error) {
		var dd workorders.DueDelivery
		d, err := scanDelivery(r, &dd.URL, &dd.Secret, &dd.Claim)
		dd.Delivery = d
		return dd, err
	})
	if err != nil {
		return nil, translate(err)
	}
	slices.SortFunc(out, func(a, b workorders.DueDelivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// RecordAttempt implements workorders.Store. The attempt is logged in any
// case; the delivery moves on only if claim still holds it (a dispatcher
// whose lease ended and was claimed again leaves it to the new holder).
func (s *Store) RecordAttempt(ctx context.Context, claim string, a workorders.DeliveryAttempt, o workorders.DeliveryOutcome) error {
	if !validID(claim) {
		return fmt.Errorf("record attempt of delivery %d: invalid claim %q", a.DeliveryID, claim)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into webhook_attempts (delivery_id, webhook_id, event_type, at, status_code, error, duration_ms)
			values ($1, $2, $3, $4, $5, $6, $7)`, a.DeliveryID, a.WebhookID, a.EventType, a.At, a.StatusCode, a.Error, a.DurationMS); err != nil {
			return err
		}
		var delivered *time.Time
		if o.Status == workorders.DeliveryDelivered {
			delivered = &a.At
		}
		_, err := tx.Exec(ctx, `update webhook_deliveries set status = $2, attempts = attempts + 1, next_attempt_at = $3,
			last_error = $4, delivered_at = $5, claim = null, leased_until = null where id = $1 and claim = $6`,
			a.DeliveryID, o.Status, o.NextAttemptAt, a.Error, delivered, claim)
		return err
	})
	return translate(err)
}

// ReleaseDelivery implements workorders.Store.
func (s *Store) ReleaseDelivery(ctx context.Context, id int64, claim string) error {
	if !validID(claim) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `update webhook_deliveries set claim = null, leased_until = null where id = $1 and claim = $2`, id, claim)
	return translate(err)
}

// PruneDeliveries implements workorders.Store: it deletes delivered and
// failed deliveries (with their attempts) finished before before, and
// attempts older than that of deliveries still pending, a bounded number
// per call.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `delete from webhook_deliveries where id in (
		select id from webhook_deliveries where status <> 'pending' and coalesce(delivered_at, next_attempt_at) < $1 limit 10000)`, before)
	if err != nil {
		return 0, translate(err)
	}
	n := int(tag.RowsAffected())
	tag, err = s.pool.Exec(ctx, `delete from webhook_attempts where id in (
		select id from webhook_attempts where at < $1 limit 10000)`, before)
	if err != nil {
		return n, translate(err)
	}
	return n + int(tag.RowsAffected()), nil
}
