// Package postgres is the PostgreSQL store of the ticket core: the embedded
// goose migrations and the pgx implementation of workorders.Store.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the advisory lock goose holds while migrating, so
// replicas starting at once migrate one after the other.
const migrationLockID = 0x70646d0000

// Migrate applies every pending migration under a PostgreSQL session
// advisory lock. Several processes may call it at once: one migrates, the
// others wait and then find nothing to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := migrate(ctx, pool, nil)
	return err
}

// MigrateLog is Migrate logging each applied migration to log.
func MigrateLog(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := migrate(ctx, pool, log)
	return err
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return 0, fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true),
		// The ticket core numbers its migrations 00001-00199 and dispatch,
		// inventory and knowledge 00200+, so a database may well have 00200
		// before the core's next one: apply missing lower versions too.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		if log != nil {
			log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return len(res), nil
}
