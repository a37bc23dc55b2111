package postgres

import (
	"context"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// CreateSession stores a console session for a user until expires.
func (s *Store) CreateSession(ctx context.Context, userID string, hash []byte, expires time.Time) error {
	if !validID(userID) {
		return workorders.ErrNotFound
	}
	// Expired sessions are pruned as new ones are made, so the table stays
	// as large as the sessions alive.
	if _, err := s.pool.Exec(ctx, `delete from sessions where expires_at < now()`); err != nil {
		return translate(err)
	}
	tag, err := s.pool.Exec(ctx, `insert into sessions (hash, user_id, expires_at) select $1, id, $3 from users where id = $2`,
		hash, userID, expires)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

// SessionUser returns the user of a live session, or workorders.ErrNotFound
// when the session is unknown or expired.
func (s *Store) SessionUser(ctx context.Context, hash []byte, now time.Time) (workorders.User, error) {
	var u workorders.User
	err := s.pool.QueryRow(ctx, `select u.id, u.name, u.role, u.created_at from sessions x join users u on u.id = x.user_id
		where x.hash = $1 and x.expires_at > $2`, hash, now).Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt)
	utc(&u.CreatedAt)
	return u, translate(err)
}

// DeleteSession ends a session; ending an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `delete from sessions where hash = $1`, hash)
	return translate(err)
}
