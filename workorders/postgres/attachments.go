package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

const attachmentCols = `id, order_id, kind, filename, content_type, size, signer_name, created_by, created_at`

func scanAttachmentMeta(r pgx.Row) (workorders.AttachmentMeta, error) {
	var a workorders.AttachmentMeta
	err := r.Scan(&a.ID, &a.OrderID, &a.Kind, &a.Filename, &a.ContentType, &a.Size, &a.SignerName, &a.CreatedBy, &a.CreatedAt)
	utc(&a.CreatedAt)
	return a, err
}

// AddAttachment implements workorders.Store.
func (s *Store) AddAttachment(ctx context.Context, a workorders.Attachment, ev workorders.Event) (workorders.AttachmentMeta, error) {
	if !validID(a.OrderID) {
		return workorders.AttachmentMeta{}, workorders.ErrNotFound
	}
	var out workorders.AttachmentMeta
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := scanOrder(tx.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.id = $1`, a.OrderID))
		if err != nil {
			return err
		}
		out, err = scanAttachmentMeta(tx.QueryRow(ctx, `insert into attachments (order_id, kind, filename, content_type, size,
			signer_name, data, created_by) values ($1, $2, $3, $4, $5, $6, $7, $8) returning `+attachmentCols,
			a.OrderID, a.Kind, a.Filename, a.ContentType, len(a.Data), a.SignerName, a.Data, a.CreatedBy))
		if err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, o, ev)
		return err
	})
	return out, translate(err)
}

// GetAttachment implements workorders.Store.
func (s *Store) GetAttachment(ctx context.Context, orderID, id string) (workorders.Attachment, error) {
	if !validID(orderID) || !validID(id) {
		return workorders.Attachment{}, workorders.ErrNotFound
	}
	var a workorders.Attachment
	err := s.pool.QueryRow(ctx, `select `+attachmentCols+`, data from attachments where order_id = $1 and id = $2`, orderID, id).
		Scan(&a.ID, &a.OrderID, &a.Kind, &a.Filename, &a.ContentType, &a.Size, &a.SignerName, &a.CreatedBy, &a.CreatedAt, &a.Data)
	utc(&a.CreatedAt)
	return a, translate(err)
}

// ListAttachments implements workorders.Store.
func (s *Store) ListAttachments(ctx context.Context, orderID string) ([]workorders.AttachmentMeta, error) {
	if !validID(orderID) {
		return nil, workorders.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `select `+attachmentCols+` from attachments where order_id = $1 order by created_at, id`, orderID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.AttachmentMeta, error) { return scanAttachmentMeta(r) })
	return out, translate(err)
}

// ListSLAPolicies implements workorders.Store.
func (s *Store) ListSLAPolicies(ctx context.Context) ([]workorders.SLAPolicy, error) {
	rows, err := s.pool.Query(ctx, `select priority, response_s, resolution_s, pause_on_hold, at_risk, updated_at
		from sla_policies order by priority`)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.SLAPolicy, error) {
		var p workorders.SLAPolicy
		var resp, res int64
		err := r.Scan(&p.Priority, &resp, &res, &p.PauseOnHold, &p.AtRisk, &p.UpdatedAt)
		utc(&p.UpdatedAt)
		p.Response = rules.Duration(time.Duration(resp) * time.Second)
		p.Resolve = rules.Duration(time.Duration(res) * time.Second)
		return p, err
	})
	return out, translate(err)
}

// PutSLAPolicy implements workorders.Store (insert or replace).
func (s *Store) PutSLAPolicy(ctx context.Context, p workorders.SLAPolicy) (workorders.SLAPolicy, error) {
	err := s.pool.QueryRow(ctx, `insert into sla_policies (priority, response_s, resolution_s, pause_on_hold, at_risk)
		values ($1, $2, $3, $4, $5) on conflict (priority) do update set response_s = excluded.response_s,
		resolution_s = excluded.resolution_s, pause_on_hold = excluded.pause_on_hold, at_risk = excluded.at_risk,
		updated_at = now() returning updated_at`,
		p.Priority, secs(p.Response), secs(p.Resolve), p.PauseOnHold, p.AtRisk).Scan(&p.UpdatedAt)
	utc(&p.UpdatedAt)
	return p, translate(err)
}

// DeleteSLAPolicy implements workorders.Store.
func (s *Store) DeleteSLAPolicy(ctx context.Context, priority workorders.Priority) error {
	tag, err := s.pool.Exec(ctx, `delete from sla_policies where priority = $1`, priority)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}
