package spool

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

type receiver struct {
	mu   sync.Mutex
	got  []rules.Signal
	fail bool
}

func (r *receiver) send(_ context.Context, s rules.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("postgresql down")
	}
	r.got = append(r.got, s)
	return nil
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func sig(asset string, level rules.Level, at time.Time) rules.Signal {
	return rules.Signal{Kind: rules.KindThreshold, Level: level, RuleID: "r1", Site: "S", Asset: asset, AssetID: "id-" + asset,
		Metric: "m", FailureMode: "fm", DetectedAt: at}
}

// TestSpoolSurvivesRestart: signals put while the receiver fails are on
// disk when the process stops; the next run delivers each exactly once.
func TestSpoolSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signals.db")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rc := &receiver{fail: true}
	sp, err := Open(path, rc.send, nil)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, sp.Put(ctx, sig("A", rules.LevelCritical, t0)))
	require.NoError(t, sp.Put(ctx, sig("B", rules.LevelCritical, t0.Add(time.Minute))))
	// A newer signal with A's key supersedes it, keeping the earlier time.
	later := sig("A", rules.LevelCritical, t0.Add(time.Hour))
	later.Value = 9
	require.NoError(t, sp.Put(ctx, later))
	require.Equal(t, 2, sp.Stats().Pending)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- sp.Run(runCtx) }()
	require.Eventually(t, func() bool { return sp.Stats().Retries > 0 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, sp.Close())
	require.Zero(t, rc.count())

	// A second process on the same file: PostgreSQL is back.
	rc.fail = false
	sp, err = Open(path, rc.send, nil)
	require.NoError(t, err)
	require.Len(t, sp.sorted(), 2)
	_, err = Open(path, rc.send, nil)
	require.ErrorContains(t, err, "in use")
	runCtx, cancel = context.WithCancel(ctx)
	go func() { done <- sp.Run(runCtx) }()
	require.Eventually(t, func() bool { return rc.count() == 2 && sp.Stats().Pending == 0 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, sp.Close())
	// Detected first, delivered first: A (t0, its newer evidence) before B
	// (t0+1m), although A was put again after B.
	require.Equal(t, "A", rc.got[0].Asset, "detected first, delivered first")
	require.Equal(t, 9.0, rc.got[0].Value)
	require.Equal(t, t0, rc.got[0].DetectedAt)
	require.Equal(t, "B", rc.got[1].Asset)

	// Nothing is delivered twice.
	sp, err = Open(path, rc.send, nil)
	require.NoError(t, err)
	require.Zero(t, sp.Stats().Pending)
	require.NoError(t, sp.Close())
}

func TestSpoolDropsRejected(t *testing.T) {
	sp, err := Open(filepath.Join(t.TempDir(), "s.db"), func(context.Context, rules.Signal) error {
		return rules.ErrRejected
	}, nil)
	require.NoError(t, err)
	defer sp.Close()
	require.NoError(t, sp.Put(context.Background(), sig("A", rules.LevelWarn, time.Now())))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sp.Run(ctx) }()
	require.Eventually(t, func() bool { return sp.Stats().Rejected == 1 && sp.Stats().Pending == 0 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
