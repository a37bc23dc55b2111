package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// Job phases while a job is active (Job.Phase).
const (
	PhaseWaiting = "waiting_for_lock"
	PhaseHistory = "reading_history" // Progress: failed units read / all
	PhaseFitting = "fitting"
	PhaseScoring = "scoring"
)

// CodeRunnerLost is the error code of a job whose runner stopped
// beating (its replica died or lost the database) for longer than the
// lease: the job is failed and the type may train again.
const CodeRunnerLost = "runner_lost"

// Job is one training of an asset type's model started from the API,
// run off the request path by one replica and recorded in the JobStore,
// so every replica answers for it.
type Job struct {
	ID        string     `json:"id"`
	AssetType string     `json:"asset_type"`
	Status    string     `json:"status"`
	Started   time.Time  `json:"started"`
	Finished  *time.Time `json:"finished"`
	// Phase is what an active job is doing (waiting_for_lock,
	// reading_history, fitting, scoring; "" once it ended) and Progress
	// the share of the phase done, 0 to 1 (null when not known).
	Phase    string   `json:"phase"`
	Progress *float64 `json:"progress"`
	// RequestedBy names who started the job (the user's name).
	RequestedBy string `json:"requested_by"`
	// Runner names the replica that runs it; Heartbeat is the runner's
	// last sign of life (a job active with a heartbeat older than the
	// lease is failed as runner_lost).
	Runner    string    `json:"runner"`
	Heartbeat time.Time `json:"heartbeat_at"`
	// Error says why a failed job failed (null otherwise); Code is its
	// kind: too_few_failures, no_common_metrics, nothing_varies, busy
	// (another replica kept training the type), runner_lost,
	// interrupted (its replica shut down) or error.
	Error *string `json:"error"`
	Code  *string `json:"error_code"`
	// ModelVersion is the version a succeeded job stored (null before).
	ModelVersion *int `json:"model_version"`

	err error
}

// JobStore keeps the jobs where every replica reads them (PostgreSQL's
// fleet_jobs in cmd; memJobs when none is set). Reads first fail the
// active jobs whose heartbeat is older than lease (runner_lost).
type JobStore interface {
	// CreateJob records a new active job; an error wrapping ErrTraining
	// and the type's active job when it has one.
	CreateJob(ctx context.Context, j Job, lease time.Duration) (Job, error)
	// BeatJob records an active job's status, phase and progress and a
	// heartbeat now; false when the job is no longer active (it was
	// failed as runner_lost meanwhile).
	BeatJob(ctx context.Context, id, status, phase string, progress *float64) (bool, error)
	// FinishJob records an active job's end (Status, Finished, Error,
	// Code, ModelVersion); nothing when it is no longer active.
	FinishJob(ctx context.Context, j Job) error
	// Job returns the job with id; an error wrapping ErrJobNotFound when
	// there is none.
	Job(ctx context.Context, id string, lease time.Duration) (Job, error)
	// Jobs lists a type's latest jobs, newest first.
	Jobs(ctx context.Context, assetType string, limit int, lease time.Duration) ([]Job, error)
}

// ErrTraining is returned by Jobs.Start when a training of the type is
// already under way (on any replica).
var ErrTraining = errors.New("a training of this asset type is under way")

// ErrBusy is a job's error when another replica trained the type for
// longer than Jobs.LockWait.
var ErrBusy = errors.New("another replica kept training this asset type")

// ErrJobNotFound is returned for an unknown job id.
var ErrJobNotFound = errors.New("no such training job")

// errLost ends a training whose job was failed as runner_lost while it
// ran (its heartbeats did not reach the store in time).
var errLost = errors.New("the job was reported lost while it ran")

// Jobs runs trainings off the request path, one per asset type at a time
// across replicas (Store's one active job a type, and Lock), and records
// them in Store with a heartbeat every Beat.
type Jobs struct {
	// Train trains and stores a version (Trainer.Train); it reports its
	// phase through ReportProgress.
	Train func(ctx context.Context, assetType string, s Settings) (Version, Report, error)
	// Lock runs fn holding the type's lock if it can take it now (false
	// when another holds it); nil: no lock across replicas.
	Lock func(ctx context.Context, assetType string, fn func(ctx context.Context) error) (bool, error)
	// Store records the jobs (nil: this replica's memory only).
	Store JobStore
	// Runner names this replica in its jobs (default: a random id).
	Runner string
	// Beat is how often a running job records a heartbeat (default 10 s)
	// and Lease how old a heartbeat may be before the job counts as lost
	// (default 1 min).
	Beat, Lease time.Duration
	// LockWait is how long a job waits for another replica's training of
	// the type (default 30 min), trying every LockRetry (default 5 s).
	LockWait, LockRetry time.Duration
	Now                 func() time.Time
	Log                 *slog.Logger

	mu    sync.Mutex
	ctx   context.Context
	wg    sync.WaitGroup
	mem   *memJobs
	local map[string]*localJob // the jobs this replica runs or ran, for Wait
	order []string
}

// localJob is a job this replica runs: its end, for Wait.
type localJob struct {
	done chan struct{}
	end  Job
}

// maxLocal bounds the ended jobs kept for Wait.
const maxLocal = 1000

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

func (j *Jobs) store() JobStore {
	if j.Store != nil {
		return j.Store
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mem == nil {
		j.mem = &memJobs{now: j.now}
	}
	return j.mem
}

func (j *Jobs) lease() time.Duration {
	if j.Lease > 0 {
		return j.Lease
	}
	return time.Minute
}

func (j *Jobs) beat() time.Duration {
	if j.Beat > 0 {
		return j.Beat
	}
	return 10 * time.Second
}

func (j *Jobs) log() *slog.Logger {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Log
}

// Start records and starts a training of assetType with s, asked by
// by; it returns the job, or an error wrapping ErrTraining with the
// type's active job.
func (j *Jobs) Start(ctx context.Context, assetType string, s Settings, by string) (Job, error) {
	j.mu.Lock()
	if j.Runner == "" {
		j.Runner = "replica-" + uuid.NewString()[:8]
	}
	runCtx := j.ctx
	j.mu.Unlock()
	if runCtx == nil {
		runCtx = context.Background()
	}
	now := j.now()
	job := Job{ID: uuid.NewString(), AssetType: assetType, Status: JobRunning, Phase: PhaseHistory, Started: now,
		Heartbeat: now, RequestedBy: by, Runner: j.Runner}
	if j.Lock != nil {
		job.Status, job.Phase = JobWaiting, PhaseWaiting
	}
	job, err := j.store().CreateJob(ctx, job, j.lease())
	if err != nil {
		return job, err
	}
	lj := &localJob{done: make(chan struct{})}
	j.mu.Lock()
	if j.local == nil {
		j.local = map[string]*localJob{}
	}
	j.local[job.ID] = lj
	j.order = append(j.order, job.ID)
	for i := 0; len(j.order) > maxLocal && i < len(j.order); {
		select {
		case <-j.local[j.order[i]].done: // ended: forget it
			delete(j.local, j.order[i])
			j.order = slices.Delete(j.order, i, i+1)
		default: // still running: keep it
			i++
		}
	}
	j.wg.Add(1)
	j.mu.Unlock()
	go j.run(runCtx, job, s, lj)
	return job, nil
}

// tracker keeps an active job's phase and progress for its heartbeats.
type tracker struct {
	mu       sync.Mutex
	status   string
	phase    string
	progress *float64
	changed  chan struct{} // a phase or status changed: beat now
}

func (t *tracker) set(status, phase string, progress *float64) {
	t.mu.Lock()
	moved := (status != "" && status != t.status) || phase != t.phase
	if status != "" {
		t.status = status
	}
	t.phase, t.progress = phase, progress
	t.mu.Unlock()
	if moved {
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
}

func (t *tracker) get() (string, string, *float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.phase, t.progress
}

func (j *Jobs) run(ctx context.Context, job Job, s Settings, lj *localJob) {
	defer j.wg.Done()
	defer close(lj.done)
	log := j.log()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tr := &tracker{status: job.Status, phase: job.Phase, changed: make(chan struct{}, 1)}
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		tick := time.NewTicker(j.beat())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-tr.changed:
			}
			status, phase, progress := tr.get()
			active, err := j.store().BeatJob(ctx, job.ID, status, phase, progress)
			switch {
			case err != nil && ctx.Err() == nil:
				log.WarnContext(ctx, "training job heartbeat", "job", job.ID, "err", err)
			case err == nil && !active:
				log.WarnContext(ctx, "training job reported lost while it ran: stopping it", "job", job.ID)
				cancel(errLost)
				return
			}
		}
	}()
	trainCtx := WithProgress(ctx, func(phase string, done, total int) {
		var p *float64
		if total > 0 {
			x := float64(done) / float64(total)
			p = &x
		}
		tr.set("", phase, p)
	})
	var v Version
	train := func(ctx context.Context) error {
		tr.set(JobRunning, PhaseHistory, nil)
		var err error
		v, _, err = j.Train(ctx, job.AssetType, s)
		return err
	}
	var err error
	if j.Lock == nil {
		err = train(trainCtx)
	} else {
		wait, retry := j.LockWait, j.LockRetry
		if wait <= 0 {
			wait = 30 * time.Minute
		}
		if retry <= 0 {
			retry = 5 * time.Second
		}
		var got bool
		got, err = TryLockFor(trainCtx, wait, retry, func(ctx context.Context) (bool, error) {
			return j.Lock(ctx, job.AssetType, train)
		})
		if err == nil && !got {
			err = ErrBusy
		}
	}
	if cause := context.Cause(ctx); errors.Is(cause, errLost) {
		err = cause
	}
	cancel(nil)
	<-beatDone
	t := j.now()
	job.Finished = &t
	job.err = err
	job.Phase, job.Progress = "", nil
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
	// The end is recorded even when the server is shutting down.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if !errors.Is(err, errLost) {
		if ferr := j.store().FinishJob(fctx, job); ferr != nil {
			log.WarnContext(ctx, "training job: recording its end", "job", job.ID, "err", ferr)
		}
	}
	if got, gerr := j.store().Job(fctx, job.ID, j.lease()); gerr == nil {
		got.err = err
		job = got
	}
	j.mu.Lock()
	lj.end = job
	j.mu.Unlock()
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
	case errors.Is(err, errLost):
		return CodeRunnerLost
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return "error"
}

// Get returns the job with id, from any replica; an error wrapping
// ErrJobNotFound when there is none.
func (j *Jobs) Get(ctx context.Context, id string) (Job, error) {
	return j.store().Job(ctx, id, j.lease())
}

// List returns assetType's latest limit jobs, newest first.
func (j *Jobs) List(ctx context.Context, assetType string, limit int) ([]Job, error) {
	return j.store().Jobs(ctx, assetType, limit, j.lease())
}

// Latest returns the latest job of assetType (false when it has none).
func (j *Jobs) Latest(ctx context.Context, assetType string) (Job, bool, error) {
	js, err := j.List(ctx, assetType, 1)
	if err != nil || len(js) == 0 {
		return Job{}, false, err
	}
	return js[0], true, nil
}

// Err is a failed job's error (the training's, for errors.Is; only on
// the replica that ran it).
func (job Job) Err() error { return job.err }

// Wait waits for the job with id, run by this replica, to end or ctx to
// be done; it returns the ended job (its training's error in Err), or
// ctx's error.
func (j *Jobs) Wait(ctx context.Context, id string) (Job, error) {
	j.mu.Lock()
	lj, ok := j.local[id]
	j.mu.Unlock()
	if !ok {
		return Job{}, fmt.Errorf("job %s: not run here: %w", id, ErrJobNotFound)
	}
	select {
	case <-lj.done:
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return lj.end, nil
}

// progressKey carries a training's progress report in its context.
type progressKey struct{}

// WithProgress returns ctx carrying f, which ReportProgress calls.
func WithProgress(ctx context.Context, f func(phase string, done, total int)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress reports a training's phase and how much of it is done
// (total 0: not known) to the job running it, if any.
func ReportProgress(ctx context.Context, phase string, done, total int) {
	if f, ok := ctx.Value(progressKey{}).(func(string, int, int)); ok {
		f(phase, done, total)
	}
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

// memJobs is the JobStore of a replica without one: its memory.
type memJobs struct {
	mu   sync.Mutex
	now  func() time.Time
	jobs []Job // oldest first
}

func (m *memJobs) expire(lease time.Duration) {
	now := m.now()
	for i := range m.jobs {
		x := &m.jobs[i]
		if (x.Status == JobWaiting || x.Status == JobRunning) && now.Sub(x.Heartbeat) > lease {
			lostJob(x, now)
		}
	}
}

// lostJob makes x failed as runner_lost at now.
func lostJob(x *Job, now time.Time) {
	msg, code := fmt.Sprintf("the replica running it (%s) stopped reporting (last heartbeat %s)", x.Runner,
		x.Heartbeat.Format(time.RFC3339)), CodeRunnerLost
	x.Status, x.Phase, x.Progress, x.Finished, x.Error, x.Code = JobFailed, "", nil, &now, &msg, &code
}

func (m *memJobs) CreateJob(_ context.Context, j Job, lease time.Duration) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(lease)
	for _, x := range m.jobs {
		if x.AssetType == j.AssetType && (x.Status == JobWaiting || x.Status == JobRunning) {
			return x, fmt.Errorf("%s (job %s): %w", j.AssetType, x.ID, ErrTraining)
		}
	}
	m.jobs = append(m.jobs, j)
	if len(m.jobs) > maxLocal {
		m.jobs = slices.Delete(m.jobs, 0, len(m.jobs)-maxLocal)
	}
	return j, nil
}

func (m *memJobs) BeatJob(_ context.Context, id, status, phase string, progress *float64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.jobs {
		x := &m.jobs[i]
		if x.ID == id {
			if x.Status != JobWaiting && x.Status != JobRunning {
				return false, nil
			}
			x.Status, x.Phase, x.Progress, x.Heartbeat = status, phase, progress, m.now()
			return true, nil
		}
	}
	return false, nil
}

func (m *memJobs) FinishJob(_ context.Context, j Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.jobs {
		x := &m.jobs[i]
		if x.ID == j.ID && (x.Status == JobWaiting || x.Status == JobRunning) {
			x.Status, x.Phase, x.Progress, x.Finished = j.Status, "", nil, j.Finished
			x.Error, x.Code, x.ModelVersion, x.Heartbeat = j.Error, j.Code, j.ModelVersion, m.now()
		}
	}
	return nil
}

func (m *memJobs) Job(_ context.Context, id string, lease time.Duration) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(lease)
	for _, x := range m.jobs {
		if x.ID == id {
			return x, nil
		}
	}
	return Job{}, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
}

func (m *memJobs) Jobs(_ context.Context, assetType string, limit int, lease time.Duration) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(lease)
	var out []Job
	for i := len(m.jobs) - 1; i >= 0 && len(out) < limit; i-- {
		if m.jobs[i].AssetType == assetType {
			out = append(out, m.jobs[i])
		}
	}
	return out, nil
}
