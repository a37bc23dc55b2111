package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

// CreateUser implements workorders.Store.
func (s *Store) CreateUser(ctx context.Context, name string, role workorders.Role, tokenHash []byte) (workorders.User, error) {
	var u workorders.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `insert into users (name, role) values ($1, $2) returning id, name, role, created_at`,
			name, role).Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt); err != nil {
			return err
		}
		utc(&u.CreatedAt)
		_, err := tx.Exec(ctx, `insert into api_tokens (hash, user_id) values ($1, $2)`, tokenHash, u.ID)
		return err
	})
	return u, translate(err)
}

// GetUser implements workorders.Store.
func (s *Store) GetUser(ctx context.Context, id string) (workorders.User, error) {
	if !validID(id) {
		return workorders.User{}, workorders.ErrNotFound
	}
	var u workorders.User
	err := s.pool.QueryRow(ctx, `select id, name, role, created_at from users where id = $1`, id).
		Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt)
	utc(&u.CreatedAt)
	return u, translate(err)
}

// ListUsers implements workorders.Store.
func (s *Store) ListUsers(ctx context.Context, p workorders.Page) ([]workorders.User, string, error) {
	var w where
	ks := keyset{created: "created_at", key: "id"}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	lim := limitOf(p)
	rows, err := s.pool.Query(ctx, `select id, name, role, created_at from users`+w.sql()+
		ks.orderLimit(&w, lim), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.User, error) {
		var u workorders.User
		err := r.Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt)
		utc(&u.CreatedAt)
		return u, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	out, next := cutPage(out, lim, func(v workorders.User) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// UserByTokenHash implements workorders.Store.
func (s *Store) UserByTokenHash(ctx context.Context, hash []byte) (workorders.User, error) {
	var u workorders.User
	err := s.pool.QueryRow(ctx, `select u.id, u.name, u.role, u.created_at from api_tokens t join users u on u.id = t.user_id
		where t.hash = $1`, hash).Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt)
	utc(&u.CreatedAt)
	return u, translate(err)
}

// AddToken implements workorders.Store.
func (s *Store) AddToken(ctx context.Context, userID string, hash []byte) error {
	if !validID(userID) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `insert into api_tokens (hash, user_id) select $1, id from users where id = $2`, hash, userID)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

// RevokeTokens implements workorders.Store.
func (s *Store) RevokeTokens(ctx context.Context, userID string) (int, error) {
	if !validID(userID) {
		return 0, workorders.ErrNotFound
	}
	if _, err := s.GetUser(ctx, userID); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `delete from api_tokens where user_id = $1`, userID)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

// EnsureAdmin implements workorders.Store.
func (s *Store) EnsureAdmin(ctx context.Context, hash []byte, onlyIfNone bool) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock($1)`, workorders.LockBootstrap); err != nil {
			return err
		}
		if onlyIfNone {
			var any bool
			if err := tx.QueryRow(ctx, `select exists (select 1 from users where role = 'admin')`).Scan(&any); err != nil {
				return err
			}
			if any {
				return nil
			}
		}
		var owner string
		err := tx.QueryRow(ctx, `select user_id from api_tokens where hash = $1`, hash).Scan(&owner)
		if err == nil {
			_, err = tx.Exec(ctx, `update users set role = 'admin' where id = $1 and role <> 'admin'`, owner)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var id string
		err = tx.QueryRow(ctx, `select id from users where name = 'admin' and role = 'admin' order by created_at limit 1`).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `insert into users (name, role) values ('admin', 'admin') returning id`).Scan(&id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `insert into api_tokens (hash, user_id) values ($1, $2)`, hash, id); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, translate(err)
}
