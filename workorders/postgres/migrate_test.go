package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders/postgres"
)

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	pool := freshDB(t)
	ctx := context.Background()
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = postgres.Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "replica %d", i)
	}
	var ext, applied int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from pg_extension where extname = 'pg_trgm'`).Scan(&ext))
	require.Equal(t, 1, ext, "pg_trgm installed")
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from goose_db_version where version_id = 1`).Scan(&applied))
	require.Equal(t, 1, applied, "migration 1 applied once")
	// Running again is a no-op.
	require.NoError(t, postgres.Migrate(ctx, pool))
}

// TestMigrateAppliesMissingLowerVersions: the core's migrations (00001+)
// and dispatch's (00200+) interleave, so a database that already has a
// higher version still gets a lower one it misses.
func TestMigrateAppliesMissingLowerVersions(t *testing.T) {
	t.Parallel()
	pool := freshDB(t)
	ctx := context.Background()
	require.NoError(t, postgres.Migrate(ctx, pool))
	_, err := pool.Exec(ctx, `drop index work_orders_assignee_time`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `delete from goose_db_version where version_id = 3`)
	require.NoError(t, err)
	require.NoError(t, postgres.Migrate(ctx, pool))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from pg_indexes where indexname = 'work_orders_assignee_time'`).Scan(&n))
	require.Equal(t, 1, n)
}
