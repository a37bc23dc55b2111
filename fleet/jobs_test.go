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

	job, err := j.Start("engine", Settings{})
	require.NoError(t, err)
	require.Equal(t, JobRunning, job.Status)
	require.Nil(t, job.Finished)
	again, err := j.Start("engine", Settings{})
	require.ErrorIs(t, err, ErrTraining)
	require.Equal(t, job.ID, again.ID, "the job under way")
	other, err := j.Start("few", Settings{})
	require.NoError(t, err, "another type trains at the same time")
	done, err := j.Wait(context.Background(), other.ID)
	require.NoError(t, err)
	require.Equal(t, JobFailed, done.Status)
	require.Equal(t, "too_few_failures", *done.Code)
	require.ErrorIs(t, done.Err(), ErrTooFewUnits)
	require.NotNil(t, done.Finished)

	got, ok := j.Get(job.ID)
	require.True(t, ok)
	require.Equal(t, JobRunning, got.Status)
	close(release)
	done, err = j.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobSucceeded, done.Status)
	require.Equal(t, 3, *done.ModelVersion)
	require.Nil(t, done.Error)
	latest, ok := j.Latest("engine")
	require.True(t, ok)
	require.Equal(t, job.ID, latest.ID)
	_, ok = j.Get("nope")
	require.False(t, ok)
	next, err := j.Start("engine", Settings{})
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
	job, err = locked.Start("engine", Settings{})
	require.NoError(t, err)
	require.Equal(t, JobWaiting, job.Status)
	done, err = locked.Wait(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, JobSucceeded, done.Status)
	require.Equal(t, 3, tries)

	busy := &Jobs{LockWait: time.Millisecond, LockRetry: time.Millisecond, Train: j.Train,
		Lock: func(context.Context, string, func(context.Context) error) (bool, error) { return false, nil }}
	job, err = busy.Start("engine", Settings{})
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
