package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// liveChannel is the NOTIFY channel live_emit() wakes listeners on.
const liveChannel = "pdm_live"

// LiveAfter returns up to limit live events with ids above after, oldest
// first.
func (s *Store) LiveAfter(ctx context.Context, after int64, limit int) ([]workorders.LiveEvent, error) {
	rows, err := s.pool.Query(ctx, `select e.id, e.at, e.type, coalesce(e.order_id::text, ''),
			(e.audience || coalesce(w.helper_ids, '{}'))::text[], e.data
		from live_events e left join work_orders w on w.id = e.order_id
		where e.id > $1 order by e.id limit $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("live events: %w", translate(err))
	}
	defer rows.Close()
	var out []workorders.LiveEvent
	for rows.Next() {
		var e workorders.LiveEvent
		var data []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Type, &e.OrderID, &e.Audience, &data); err != nil {
			return nil, fmt.Errorf("live events: %w", err)
		}
		e.At = e.At.UTC()
		e.Data = data
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("live events: %w", translate(err))
	}
	return out, nil
}

// LiveBounds returns the smallest and largest live event id kept (0, 0
// when there is none).
func (s *Store) LiveBounds(ctx context.Context) (first, last int64, err error) {
	err = s.pool.QueryRow(ctx, `select coalesce(min(id), 0), coalesce(max(id), 0) from live_events`).Scan(&first, &last)
	if err != nil {
		return 0, 0, fmt.Errorf("live bounds: %w", translate(err))
	}
	return first, last, nil
}

// PruneLive deletes live events recorded before t and returns how many.
func (s *Store) PruneLive(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `delete from live_events where at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune live events: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

// ListenLive holds one connection listening on the live channel and calls
// wake after each notification until ctx ends (nil) or the connection
// fails (the error; the caller listens again).
func (s *Store) ListenLive(ctx context.Context, wake func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The connection carries a LISTEN: never hand it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "listen "+liveChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	wake() // events may have been recorded while nobody listened
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listen: %w", err)
		}
		wake()
	}
}
