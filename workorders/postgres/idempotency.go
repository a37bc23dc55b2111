package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
)

// Idempotency stores Idempotency-Key records (table idempotency_keys), so
// that a request retried after a lost answer or a server restart is
// answered, not applied, again.
type Idempotency struct {
	pool *pgxpool.Pool
	// Stale is how long a key may stay claimed by a request that never
	// finished (its process died) before another request may take it.
	Stale time.Duration
}

// NewIdempotency returns the store over pool.
func NewIdempotency(pool *pgxpool.Pool) *Idempotency {
	return &Idempotency{pool: pool, Stale: 2 * time.Minute}
}

// Claim takes r.Key for r.UserID. It returns claimed true when this request
// is the first (or the earlier use is older than window, or its request
// died unfinished); otherwise the record of the earlier use.
func (s *Idempotency) Claim(ctx context.Context, r workorders.IdempotentRequest, window time.Duration) (workorders.IdempotentRecord, bool, error) {
	var rec workorders.IdempotentRecord
	// The upsert takes the key when it is new, expired or abandoned; the
	// row lock makes two racing requests with one key serialise here.
	// A key whose request was applied is never taken over: its answer
	// may be lost, its change is not.
	tag, err := s.pool.Exec(ctx, `insert into idempotency_keys (user_id, key, fingerprint, method, path, claim)
		values ($1, $2, $3, $4, $5, $8)
		on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, method = excluded.method,
			path = excluded.path, status = 0, content_type = '', body = null, created_at = now(),
			claim = excluded.claim, applied = false
		where idempotency_keys.created_at < now() - make_interval(secs => $6)
		   or (idempotency_keys.status = 0 and not idempotency_keys.applied
		       and idempotency_keys.created_at < now() - make_interval(secs => $7))`,
		r.UserID, r.Key, r.Fingerprint, r.Method, r.Path, window.Seconds(), s.Stale.Seconds(), r.Claim)
	if err != nil {
		return rec, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return rec, true, nil
	}
	err = s.pool.QueryRow(ctx, `select fingerprint, method, path, status, applied, content_type, coalesce(body, ''::bytea),
			created_at from idempotency_keys where user_id = $1 and key = $2`, r.UserID, r.Key).
		Scan(&rec.Fingerprint, &rec.Method, &rec.Path, &rec.Status, &rec.Applied, &rec.ContentType, &rec.Body, &rec.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted (released) between the two statements: try once more.
		return s.Claim(ctx, r, window)
	}
	if err != nil {
		return rec, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return rec, false, nil
}

// Finish stores the first request's answer.
func (s *Idempotency) Finish(ctx context.Context, userID, key string, status int, contentType string, body []byte) error {
	_, err := s.pool.Exec(ctx, `update idempotency_keys set status = $3, content_type = $4, body = $5
		where user_id = $1 and key = $2`, userID, key, status, contentType, body)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	return nil
}

// Release forgets a claimed key whose request failed without an answer
// worth keeping (a server error), so that a retry is served afresh.
func (s *Idempotency) Release(ctx context.Context, userID, key string) error {
	_, err := s.pool.Exec(ctx, `delete from idempotency_keys where user_id = $1 and key = $2 and status = 0 and not applied`,
		userID, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Purge deletes records older than before; it returns how many went.
func (s *Idempotency) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `delete from idempotency_keys where created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ErrIdempotencyTakenOver is returned by a change whose Idempotency-Key
// was taken over by a retry (the first request looked abandoned): the
// change is not applied, the retry's is.
var ErrIdempotencyTakenOver = fmt.Errorf("%w: this request's Idempotency-Key was taken over by a retry", workorders.ErrConflict)

// markApplied marks the Idempotency-Key of the request ctx belongs to as
// applied, inside tx: the key commits with the change or not at all.
func markApplied(ctx context.Context, tx pgx.Tx) error {
	m, ok := workorders.IdempotencyMarkFrom(ctx)
	if !ok {
		return nil
	}
	tag, err := tx.Exec(ctx, `update idempotency_keys set applied = true where user_id = $1 and key = $2 and claim = $3`,
		m.UserID, m.Key, m.Claim)
	if err != nil {
		return fmt.Errorf("mark idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrIdempotencyTakenOver
	}
	return nil
}
