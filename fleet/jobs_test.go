package fleet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestJobs: a training runs off the caller's path, one a type at a time;
// its state is readable while it runs and after, with the version it
// stored or why it failed; a lock held elsewhere keeps it waiting, and
// too long makes it fail as busy.
func TestJobs(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	j := &Jobs{Train: func(ctx context.Context, typ string, s Settings) (Version, Report, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		if typ == "few" {
			return Version{}, Report{}, ErrTooFewUnits
		}
		<-release
		return Version{AssetType: typ, Version: 3}, Report{}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { j.Run(ctx, nil); close(ran) }()

	job, err := j.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err)
	require.Equal(t, JobRunning, job.Status)
	require.Nil(t, job.Finished)
	again, err := j.Start(context.Background(), "engine", Settings{}, "ann")
	require.ErrorIs(t, err, ErrTraining)
	require.Equal(t, job.ID, again.ID, "the job under way")
	other, err := j.Start(context.Background(), "few", Settings{}, "ann")
	require.NoError(t, err, "another type trains at the same time")
	done, err := j.Wait(context.Background(), other.ID)
	require.NoError(t, err)
	require.Equal(t, JobFailed, done.Status)
	require.Equal(t, "too_few_failures", *done.Code)
	require.ErrorIs(t, done.Err(), ErrTooFewUnits)
	require.NotNil(t, done.Finished)

	got, err := j.Get(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobRunning, got.Status)
	require.Equal(t, "ann", got.RequestedBy)
	close(release)
	done, err = j.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobSucceeded, done.Status)
	require.Equal(t, 3, *done.ModelVersion)
	require.Nil(t, done.Error)
	latest, ok, err := j.Latest(context.Background(), "engine")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, job.ID, latest.ID)
	require.Equal(t, JobSucceeded, latest.Status)
	_, err = j.Get(context.Background(), "nope")
	require.ErrorIs(t, err, ErrJobNotFound)
	next, err := j.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err, "a type trains again once its job ended")
	_, err = j.Wait(context.Background(), next.ID)
	require.NoError(t, err)
	cancel()
	<-ran

	// Another replica holds the type's lock: the job waits, then trains.
	tries := 0
	locked := &Jobs{LockRetry: time.Millisecond, Train: j.Train, Lock: func(ctx context.Context, typ string, fn func(context.Context) error) (bool, error) {
		mu.Lock()
		tries++
		n := tries
		mu.Unlock()
		if n < 3 {
			return false, nil
		}
		return true, fn(ctx)
	}}
	job, err = locked.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err)
	require.Equal(t, JobWaiting, job.Status)
	done, err = locked.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobSucceeded, done.Status)
	require.Equal(t, 3, tries)

	busy := &Jobs{LockWait: time.Millisecond, LockRetry: time.Millisecond, Train: j.Train,
		Lock: func(context.Context, string, func(context.Context) error) (bool, error) { return false, nil }}
	job, err = busy.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err)
	done, err = busy.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobFailed, done.Status)
	require.True(t, errors.Is(done.Err(), ErrBusy))
	require.Equal(t, "busy", *done.Code)

	waitCtx, stop := context.WithCancel(context.Background())
	stop()
	_, err = busy.Wait(waitCtx, "nope")
	require.Error(t, err)
}

// TestJobsPhaseAndLostRunner: a running job shows the phase its training
// reports; a job whose runner stops beating is failed as runner_lost
// once its lease has passed, and the type trains again. (The same over
// PostgreSQL with two API replicas: httpapi's TestFleetJobsAcrossReplicas.)
func TestJobsPhaseAndLostRunner(t *testing.T) {
	inPhase, release := make(chan struct{}), make(chan struct{})
	j := &Jobs{Beat: time.Millisecond, Lease: time.Hour, Train: func(ctx context.Context, typ string, s Settings) (Version, Report, error) {
		ReportProgress(ctx, PhaseHistory, 3, 4)
		close(inPhase)
		<-release
		return Version{Version: 1}, Report{}, nil
	}}
	job, err := j.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err)
	<-inPhase
	require.Eventually(t, func() bool {
		got, err := j.Get(context.Background(), job.ID)
		return err == nil && got.Phase == PhaseHistory && got.Progress != nil && *got.Progress == 0.75
	}, 10*time.Second, time.Millisecond)
	close(release)
	_, err = j.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	got, err := j.Get(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobSucceeded, got.Status)
	require.Empty(t, got.Phase)

	// A runner that never beats (its heartbeat is far older than the
	// lease): the next read fails it and a new job starts.
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	stuck := make(chan struct{})
	defer close(stuck)
	lost := &Jobs{Beat: time.Hour, Lease: time.Minute, Now: clock, Train: func(ctx context.Context, typ string, s Settings) (Version, Report, error) {
		<-stuck
		return Version{}, Report{}, ctx.Err()
	}}
	first, err := lost.Start(context.Background(), "engine", Settings{}, "ann")
	require.NoError(t, err)
	_, err = lost.Start(context.Background(), "engine", Settings{}, "bob")
	require.ErrorIs(t, err, ErrTraining)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	got, err = lost.Get(context.Background(), first.ID)
	require.NoError(t, err)
	require.Equal(t, JobFailed, got.Status)
	require.Equal(t, CodeRunnerLost, *got.Code)
	require.Contains(t, *got.Error, "stopped reporting")
	next, err := lost.Start(context.Background(), "engine", Settings{}, "bob")
	require.NoError(t, err, "a lost job does not keep the type from training")
	require.NotEqual(t, first.ID, next.ID)
}
