package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

func countRows(t *testing.T, f *fixture, table string) int {
	t.Helper()
	var n int
	require.NoError(t, f.store.Pool().QueryRow(context.Background(), `select count(*) from `+table).Scan(&n))
	return n
}

func TestSignalDeliveredTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	sig := f.signal(rules.KindThreshold, f.now)
	_, o1, err := f.svc.HandleSignalOrder(ctx, sig)
	require.NoError(t, err)
	_, o2, err := f.svc.HandleSignalOrder(ctx, sig)
	require.NoError(t, err)
	require.Equal(t, o1.ID, o2.ID)
	require.Equal(t, 1, o2.SignalCount)
	require.Equal(t, 1, countRows(t, f, "signals"))
	require.Equal(t, 1, countRows(t, f, "work_order_events"))
	// A warning delivered twice is stored once too.
	w := f.signal(rules.KindThreshold, f.now.Add(time.Minute))
	w.Level = rules.LevelWarn
	require.NoError(t, f.svc.HandleSignal(ctx, w))
	require.NoError(t, f.svc.HandleSignal(ctx, w))
	require.Equal(t, 2, countRows(t, f, "signals"))
}

// TestSignalTransactionKilledLeavesNothing kills the database session of a
// signal's transaction after it inserted the order and before it stored
// the signal: nothing of it remains, and the retry creates exactly one
// order.
func TestSignalTransactionKilledLeavesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	pool := f.store.Pool()
	blocker, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer blocker.Rollback(ctx)
	var blockerPID int
	require.NoError(t, blocker.QueryRow(ctx, `select pg_backend_pid()`).Scan(&blockerPID))
	_, err = blocker.Exec(ctx, `lock table signals in exclusive mode`)
	require.NoError(t, err)

	sig := f.signal(rules.KindThreshold, f.now)
	done := make(chan error, 1)
	go func() { done <- f.svc.HandleSignal(ctx, sig) }()

	// Wait until the signal's transaction waits for the table lock, then kill it.
	deadline := time.Now().Add(20 * time.Second)
	var victim int
	for victim == 0 {
		require.True(t, time.Now().Before(deadline), "signal transaction never blocked")
		err := pool.QueryRow(ctx, `select pid from pg_stat_activity where datname = current_database()
			and pid <> $1 and wait_event_type = 'Lock' and query like 'insert into signals%' limit 1`, blockerPID).Scan(&victim)
		if err != nil {
			victim = 0
			time.Sleep(20 * time.Millisecond)
		}
	}
	var waitingOrders int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from work_orders`).Scan(&waitingOrders))
	require.Zero(t, waitingOrders, "the uncommitted order is invisible")
	_, err = pool.Exec(ctx, `select pg_terminate_backend($1)`, victim)
	require.NoError(t, err)
	select {
	case err := <-done:
		require.Error(t, err, "the killed transaction reports failure so the caller retries")
	case <-time.After(20 * time.Second):
		t.Fatal("HandleSignal did not return after its session was killed")
	}
	require.NoError(t, blocker.Rollback(ctx))
	require.Equal(t, 0, countRows(t, f, "work_orders"))
	require.Equal(t, 0, countRows(t, f, "signals"))
	require.Equal(t, 0, countRows(t, f, "work_order_events"))

	// The retry goes through, once.
	require.NoError(t, f.svc.HandleSignal(ctx, sig))
	require.NoError(t, f.svc.HandleSignal(ctx, sig))
	require.Equal(t, 1, countRows(t, f, "work_orders"))
	require.Equal(t, 1, countRows(t, f, "signals"))
}
