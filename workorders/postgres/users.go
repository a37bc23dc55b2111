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

// TokensChannel is the PostgreSQL notification channel on which token
// revocations are announced to every replica.
const TokensChannel = "pdm_tokens"

// UserByTokenHash implements workorders.Store: expired tokens are unknown.
// It records the token's use at most once a minute.
func (s *Store) UserByTokenHash(ctx context.Context, hash []byte) (workorders.User, error) {
	var (
		u        workorders.User
		lastUsed *time.Time
	)
	err := s.pool.QueryRow(ctx, `select u.id, u.name, u.role, u.created_at, t.last_used_at from api_tokens t
		join users u on u.id = t.user_id
		where t.hash = $1 and (t.expires_at is null or t.expires_at > now())`, hash).
		Scan(&u.ID, &u.Name, &u.Role, &u.CreatedAt, &lastUsed)
	if err != nil {
		return u, translate(err)
	}
	utc(&u.CreatedAt)
	if lastUsed == nil || time.Since(*lastUsed) > time.Minute {
		if _, err := s.pool.Exec(ctx, `update api_tokens set last_used_at = now() where hash = $1`, hash); err != nil {
			return u, translate(err)
		}
	}
	return u, nil
}

// AddToken implements workorders.Store.
func (s *Store) AddToken(ctx context.Context, userID string, hash []byte, o workorders.TokenOptions) error {
	if !validID(userID) {
		return workorders.ErrNotFound
	}
	return translate(s.inTx(ctx, func(tx pgx.Tx) error {
		if o.Replace {
			if err := revokeWhere(ctx, tx, `user_id = $1`, userID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `insert into api_tokens (hash, user_id, expires_at) select $1, id, $3 from users where id = $2`,
			hash, userID, o.ExpiresAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return workorders.ErrNotFound
		}
		return nil
	}))
}

// revokeWhere deletes the tokens matching cond, remembers their hashes as
// revoked and announces the revocation to every replica (delivered when
// the transaction commits).
func revokeWhere(ctx context.Context, tx pgx.Tx, cond string, args ...any) error {
	tag, err := tx.Exec(ctx, `with gone as (delete from api_tokens where `+cond+` returning hash)
		insert into revoked_tokens (hash) select hash from gone on conflict do nothing`, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		_, err = tx.Exec(ctx, `select pg_notify($1, 'revoked')`, TokensChannel)
	}
	return err
}

// ListTokens implements workorders.Store.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]workorders.TokenInfo, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `select encode(substring(hash from 1 for 4), 'hex'), created_at, expires_at, last_used_at, bootstrap
		from api_tokens where user_id = $1 order by created_at`, userID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.TokenInfo, error) {
		var t workorders.TokenInfo
		err := r.Scan(&t.ID, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.Bootstrap)
		utc(&t.CreatedAt)
		utcp(&t.ExpiresAt, &t.LastUsedAt)
		return t, err
	})
	return out, translate(err)
}

// RevokeTokens implements workorders.Store.
func (s *Store) RevokeTokens(ctx context.Context, userID string) (int, error) {
	if !validID(userID) {
		return 0, workorders.ErrNotFound
	}
	if _, err := s.GetUser(ctx, userID); err != nil {
		return 0, err
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `select count(*) from api_tokens where user_id = $1`, userID).Scan(&n); err != nil {
			return err
		}
		return revokeWhere(ctx, tx, `user_id = $1`, userID)
	})
	return n, translate(err)
}

// ListenRevocations calls forget whenever any replica revokes tokens (and
// after every (re)connection, when a notice may have been missed) until
// ctx ends. It reconnects after errors.
func (s *Store) ListenRevocations(ctx context.Context, forget func()) error {
	for {
		err := s.listen(ctx, forget)
		if ctx.Err() != nil {
			return nil
		}
		forget()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		_ = err
	}
}

func (s *Store) listen(ctx context.Context, forget func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `listen `+TokensChannel); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, `unlisten *`)
	}()
	forget()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		forget()
	}
}

// EnsureAdmin implements workorders.Store: the token from PDM_ADMIN_TOKEN
// is marked bootstrap; registering a new one retires the previous
// bootstrap tokens, and a revoked one is never registered again.
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
		} else {
			var revoked bool
			if err := tx.QueryRow(ctx, `select exists (select 1 from revoked_tokens where hash = $1)`, hash).Scan(&revoked); err != nil {
				return err
			}
			if revoked {
				return workorders.ErrTokenRevoked
			}
			if err := revokeWhere(ctx, tx, `bootstrap and hash <> $1`, hash); err != nil {
				return err
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
		if _, err := tx.Exec(ctx, `insert into api_tokens (hash, user_id, bootstrap) values ($1, $2, $3)`, hash, id, !onlyIfNone); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, translate(err)
}
