package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/postgres/pgtest"
)

func pgURL() string { return pgtest.URL() }

func freshDB(t testing.TB) *pgxpool.Pool { return pgtest.FreshDB(t) }

func migratedStore(t testing.TB) (*postgres.Store, *pgxpool.Pool) { return pgtest.MigratedStore(t) }
