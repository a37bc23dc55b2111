// Package pgtest gives the ticket core's tests a PostgreSQL database each:
// created empty (or migrated) on the server PDM_PG_URL names, dropped when
// the test ends. A server that cannot be reached fails the test, naming
// PostgreSQL; it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders/postgres"
)

// URL returns the server's URL from PDM_PG_URL (or the services script's
// default).
func URL() string {
	if u := os.Getenv("PDM_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/pdm?sslmode=disable"
}

// FreshDB creates an empty database pdm_t_<random>, drops it in cleanup and
// returns a pool on it; it fails naming PostgreSQL when the server is down.
func FreshDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("PostgreSQL: bad PDM_PG_URL: %v", err)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("PostgreSQL not reachable at %s: %v", u.Host, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pdm_t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "create database "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("PostgreSQL: create database: %v", err)
	}
	conn.Close(ctx)
	dbu := *u
	dbu.Path = "/" + name
	pool, err := pgxpool.New(ctx, dbu.String())
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("PostgreSQL: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "drop database if exists "+name+" with (force)"); err != nil {
			t.Errorf("PostgreSQL: drop %s: %v", name, err)
		}
	})
	return pool
}

// MigratedStore returns a store on a fresh, migrated database.
func MigratedStore(t testing.TB) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	pool := FreshDB(t)
	if err := postgres.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return postgres.New(pool), pool
}
