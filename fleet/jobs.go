package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Job states.
const (
	JobWaiting   = "waiting" // for another replica's training of the type
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is one training of an asset type's model started from the API,
// run off the request path.
type Job struct {
	ID        string     `json:"id"`
	AssetType string     `json:"asset_type"`
	Status    string     `json:"status"`
	Started   time.Time  `json:"started"`
	Finished  *time.Time `json:"finished"`
	// Error says why a failed job failed (null otherwise); Code is its
	// kind: too_few_failures, no_common_metrics, nothing_varies, busy
	// (another replica kept training the type) or error.
	Error *string `json:"error"`
	Code  *string `json:"error_code"`
	// ModelVersion is the version a succeeded job stored (null before).
	ModelVersion *int `json:"model_version"`

	err  error
	done chan struct{}
}

// ErrTraining is returned by Jobs.Start when a training of the type is
// already under way on this replica.
var ErrTraining = errors.New("a training of this asset type is under way")

// ErrBusy is a job's error when another replica trained the type for
// longer than Jobs.LockWait.
var ErrBusy = errors.New("another replica kept training this asset type")

// Jobs runs trainings off the request path, one per asset type at a time
// on this replica and, through Lock, across replicas; it keeps the
// latest MaxJobs jobs in memory.
type Jobs struct {
	// Train trains and stores a version (Trainer.Train).
	Train func(ctx context.Context, assetType string, s Settings) (Version, Report, error)
	// Lock runs fn holding the type's lock if it can take it now (false
	// when another holds it); nil: no lock across replicas.
	Lock func(ctx context.Context, assetType string, fn func(ctx context.Context) error) (bool, error)
	// LockWait is how long a job waits for another replica's training of
	// the type (default 30 min), trying every LockRetry (default 5 s).
	LockWait, LockRetry time.Duration
	// MaxJobs bounds the jobs kept (default 1000).
	MaxJobs int
	Now     func() time.Time
	Log     *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	wg      sync.WaitGroup
	jobs    map[string]*Job
	order   []string
	running map[string]*Job // by asset type
	latest  map[string]*Job // by asset type
}

// Run sets the context the jobs run in (the server's lifetime: a
// training outlives the request that started it) and their logger (nil:
// Log), and waits, once ctx is done, for the jobs under way to end.
func (j *Jobs) Run(ctx context.Context, log *slog.Logger) {
	j.mu.Lock()
	j.ctx = ctx
	if log != nil {
		j.Log = log
	}
	j.mu.Unlock()
	<-ctx.Done()
	j.wg.Wait()
}

func (j *Jobs) now() time.Time {
	if j.Now != nil {
		return j.Now().UTC()
	}
	return time.Now().UTC()
}

// Start starts a training of assetType with s; it returns the job, or
// ErrTraining with the job under way.
func (j *Jobs) Start(assetType string, s Settings) (Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r := j.running[assetType]; r != nil {
		return r.view(), fmt.Errorf("%s (job %s): %w", assetType, r.ID, ErrTraining)
	}
	if j.jobs == nil {
		j.jobs, j.running, j.latest = map[string]*Job{}, map[string]*Job{}, map[string]*Job{}
	}
	ctx := j.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	job := &Job{ID: uuid.NewString(), AssetType: assetType, Status: JobRunning, Started: j.now(), done: make(chan struct{})}
	if j.Lock != nil {
		job.Status = JobWaiting
	}
	j.jobs[job.ID] = job
	j.order = append(j.order, job.ID)
	j.running[assetType] = job
	j.latest[assetType] = job
	maxJobs := j.MaxJobs
	if maxJobs <= 0 {
		maxJobs = 1000
	}
	for len(j.order) > maxJobs {
		old := j.jobs[j.order[0]]
		if old != nil && old.Finished == nil {
			break
		}
		delete(j.jobs, j.order[0])
		j.order = j.order[1:]
	}
	j.wg.Add(1)
	go j.run(ctx, job, s)
	return job.view(), nil
}

func (j *Jobs) run(ctx context.Context, job *Job, s Settings) {
	defer j.wg.Done()
	var v Version
	train := func(ctx context.Context) error {
		j.set(job, func() { job.Status = JobRunning })
		var err error
		v, _, err = j.Train(ctx, job.AssetType, s)
		return err
	}
	var err error
	if j.Lock == nil {
		err = train(ctx)
	} else {
		wait, retry := j.LockWait, j.LockRetry
		if wait <= 0 {
			wait = 30 * time.Minute
		}
		if retry <= 0 {
			retry = 5 * time.Second
		}
		var got bool
		got, err = TryLockFor(ctx, wait, retry, func(ctx context.Context) (bool, error) {
			return j.Lock(ctx, job.AssetType, train)
		})
		if err == nil && !got {
			err = ErrBusy
		}
	}
	j.mu.Lock()
	log := j.Log
	j.mu.Unlock()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j.set(job, func() {
		t := j.now()
		job.Finished = &t
		job.err = err
		if err != nil {
			job.Status = JobFailed
			msg, code := err.Error(), JobCode(err)
			job.Error, job.Code = &msg, &code
			log.WarnContext(ctx, "training job failed", "job", job.ID, "asset_type", job.AssetType, "err", err)
		} else {
			job.Status = JobSucceeded
			ver := v.Version
			job.ModelVersion = &ver
			log.InfoContext(ctx, "training job done", "job", job.ID, "asset_type", job.AssetType, "version", ver)
		}
		if j.running[job.AssetType] == job {
			delete(j.running, job.AssetType)
		}
	})
	close(job.done)
}

// JobCode is the kind of a training's error.
func JobCode(err error) string {
	switch {
	case errors.Is(err, ErrTooFewUnits):
		return "too_few_failures"
	case errors.Is(err, ErrNoMetrics):
		return "no_common_metrics"
	case errors.Is(err, ErrNothingVaries):
		return "nothing_varies"
	case errors.Is(err, ErrBusy):
		return "busy"
	}
	return "error"
}

func (j *Jobs) set(job *Job, f func()) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f()
}

// view is a copy of the job for callers (under j.mu).
func (job *Job) view() Job {
	c := *job
	return c
}

// Get returns the job with id (false when this replica has none).
func (j *Jobs) Get(id string) (Job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[id]
	if !ok {
		return Job{}, false
	}
	return job.view(), true
}

// Latest returns the latest job of assetType on this replica.
func (j *Jobs) Latest(assetType string) (Job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.latest[assetType]
	if !ok {
		return Job{}, false
	}
	return job.view(), true
}

// Err is a failed job's error (the training's, for errors.Is).
func (job Job) Err() error { return job.err }

// Wait waits for the job with id to end or ctx to be done; it returns
// the ended job (its training's error in Err), or ctx's error.
func (j *Jobs) Wait(ctx context.Context, id string) (Job, error) {
	j.mu.Lock()
	job, ok := j.jobs[id]
	j.mu.Unlock()
	if !ok {
		return Job{}, fmt.Errorf("job %s: not found", id)
	}
	select {
	case <-job.done:
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return job.view(), nil
}

// TryLockFor calls lock (which runs its work when it takes a lock, and
// says whether it did) until it takes it, returns an error, or wait has
// passed, trying every retry; false when the lock stayed with another
// holder, ctx's error when ctx ended first.
func TryLockFor(ctx context.Context, wait, retry time.Duration, lock func(ctx context.Context) (bool, error)) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		got, err := lock(ctx)
		if got || err != nil {
			return got, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(retry):
		}
	}
}
