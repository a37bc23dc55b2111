package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

// Mentions returns the newest comments that mention userID (up to
// limit), found through the comment events' mentions index.
func (s *Store) Mentions(ctx context.Context, userID string, limit int) ([]workorders.MentionItem, error) {
	if !validID(userID) {
		return []workorders.MentionItem{}, nil
	}
	who, _ := json.Marshal([]map[string]string{{"user_id": userID}})
	rows, err := s.pool.Query(ctx, `select e.id, e.order_id, e.type, e.actor_id, e.actor, e.at, e.from_status, e.to_status,
			e.note, e.data, o.number, o.title, (o.assignee_id = $1 or $1 = any(o.helper_ids))
		from work_order_events e join work_orders o on o.id = e.order_id
		where e.type = 'comment' and e.data -> 'mentions' @> $2::jsonb
		order by e.id desc limit $3`, userID, who, limit)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.MentionItem, error) {
		var (
			m      workorders.MentionItem
			data   []byte
			number int64
		)
		err := r.Scan(&m.ID, &m.OrderID, &m.Type, &m.ActorID, &m.Actor, &m.At, &m.From, &m.To, &m.Note, &data,
			&number, &m.OrderTitle, &m.Visible)
		utc(&m.At)
		m.Data = data
		m.OrderNumber = workorders.FormatNumber(number)
		return m, err
	})
	if out == nil {
		out = []workorders.MentionItem{}
	}
	return out, translate(err)
}
