package partition

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LeaseStore keeps the members and the partition leases. Expiry follows
// the store's own clock, so replicas' clocks need not agree. Every method
// returns an error when the store cannot be reached; the Manager then
// changes nothing.
type LeaseStore interface {
	// Renew records member as alive for ttl, extends the leases it holds
	// by ttl, records marks (per partition, the latest event time member
	// evaluated) and returns the live members and the partitions member
	// holds.
	Renew(ctx context.Context, member string, ttl time.Duration, marks map[int]time.Time) (members []string, held []int, err error)
	// Acquire takes those of parts that are free or expired for member
	// and returns the ones it holds afterwards with their marks (zero
	// when the partition was never evaluated).
	Acquire(ctx context.Context, member string, parts []int, ttl time.Duration) (map[int]time.Time, error)
	// Release frees parts if member holds them.
	Release(ctx context.Context, member string, parts []int) error
	// Leave removes member and frees every lease it holds.
	Leave(ctx context.Context, member string) error
}

// Handler is told when this replica gains or loses a partition. Gain gets
// how far the previous owner evaluated the partition in event time (zero
// when unknown) and returns an error when the replica cannot take the
// partition (its stream could not be subscribed): the lease is released
// again. Marks returns how far this replica evaluated its partitions.
type Handler interface {
	Gain(ctx context.Context, p int, mark time.Time) error
	Lose(p int)
	Marks() map[int]time.Time
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Store      LeaseStore
	Handler    Handler
	Member     string // this replica's stable, unique name
	Partitions int
	// TTL is how long a lease lasts without renewal (default 15s); the
	// manager renews every TTL/3. A replica that dies is replaced after at
	// most TTL + TTL/3.
	TTL    time.Duration
	Logger *slog.Logger
}

// Manager holds this replica's share of the partitions: it renews its
// leases, takes the partitions that rendezvous hashing gives it among the
// live members once they are free, and hands over those it should no
// longer hold (a member joined). When the store cannot be reached it keeps
// what it holds until a TTL has passed since its last renewal, then stops
// evaluating them (another replica may hold them by then); their streams
// wait in the broker, and the partitions are taken and rebuilt again when
// the store answers. Detection of a partition is thus delayed, never
// split between two replicas and never lost.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	mu    sync.Mutex // guards owned
	owned map[int]bool

	gains, losses, failures atomic.Uint64
	members                 atomic.Int64
	started                 atomic.Bool
	renewed                 time.Time // last successful renewal; used by tick only
}

// NewManager checks cfg and returns a manager; Run starts it.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Store == nil || cfg.Handler == nil || cfg.Member == "" || cfg.Partitions <= 0 {
		return nil, errors.New("partition: Store, Handler, Member and Partitions are required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: cfg.Logger, owned: map[int]bool{}}, nil
}

// Run keeps the leases until ctx ends, then hands every partition over
// (Lose, then release) and leaves, so the other members take them at once.
// It returns nil.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.TTL / 3)
	defer t.Stop()
	if !m.started.Load() {
		m.tick(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			m.leave()
			return nil
		case <-t.C:
		}
		m.tick(ctx)
	}
}

// Start takes this replica's first share of the partitions now (Run goes
// on from there), so that a replica can wait for its partitions to be
// rebuilt before it starts ingesting.
func (m *Manager) Start(ctx context.Context) {
	m.started.Store(true)
	m.tick(ctx)
}

// Owned returns the partitions this replica holds, in order.
func (m *Manager) Owned() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, 0, len(m.owned))
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// ManagerStats counts what a Manager did.
type ManagerStats struct {
	Owned, Members          int
	Gains, Losses, Failures uint64
}

// Stats returns the manager's counters.
func (m *Manager) Stats() ManagerStats {
	m.mu.Lock()
	n := len(m.owned)
	m.mu.Unlock()
	return ManagerStats{Owned: n, Members: int(m.members.Load()), Gains: m.gains.Load(), Losses: m.losses.Load(), Failures: m.failures.Load()}
}

func (m *Manager) tick(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, m.cfg.TTL/3)
	members, held, err := m.cfg.Store.Renew(rctx, m.cfg.Member, m.cfg.TTL, m.cfg.Handler.Marks())
	cancel()
	if err != nil {
		m.failures.Add(1)
		owned := m.Owned()
		if len(owned) > 0 && time.Since(m.renewed) >= m.cfg.TTL {
			// The leases may have moved: stop, so two replicas never
			// evaluate one partition. Its stream waits in the broker.
			m.log.Error("partition leases expired unrenewed; detection of their partitions stops until the lease store answers",
				"err", err, "partitions", owned)
			for _, p := range owned {
				m.lose(p)
			}
			return
		}
		m.log.Warn("partition leases not renewed", "err", err, "owned", len(owned))
		return
	}
	m.renewed = time.Now()
	m.members.Store(int64(len(members)))
	if !slices.Contains(members, m.cfg.Member) {
		members = append(members, m.cfg.Member)
	}
	heldSet := map[int]bool{}
	for _, p := range held {
		heldSet[p] = true
	}
	// Partitions taken by another member (this one could not renew in
	// time) and partitions another member should hold now.
	var release []int
	for _, p := range m.Owned() {
		switch {
		case !heldSet[p]:
			m.log.Warn("partition lease lost to another replica", "partition", p)
			m.lose(p)
		case OwnerOf(members, p) != m.cfg.Member:
			m.lose(p)
			release = append(release, p)
		}
	}
	if len(release) > 0 {
		rctx, cancel := context.WithTimeout(ctx, m.cfg.TTL/3)
		if err := m.cfg.Store.Release(rctx, m.cfg.Member, release); err != nil {
			m.log.Warn("release partitions (they expire instead)", "err", err)
		}
		cancel()
		m.log.Info("partitions handed over", "partitions", release, "members", len(members))
	}
	// Held leases this replica does not know of (a restart under the same
	// name): take them up.
	var want []int
	for p := range m.cfg.Partitions {
		if OwnerOf(members, p) == m.cfg.Member && !m.owns(p) {
			want = append(want, p)
		}
	}
	if len(want) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(ctx, m.cfg.TTL/3)
	got, err := m.cfg.Store.Acquire(actx, m.cfg.Member, want, m.cfg.TTL)
	cancel()
	if err != nil {
		m.failures.Add(1)
		m.log.Warn("acquire partitions", "err", err)
		return
	}
	var failed, taken []int
	for _, p := range want {
		mark, ok := got[p]
		if !ok {
			continue
		}
		taken = append(taken, p)
		if err := m.cfg.Handler.Gain(ctx, p, mark); err != nil {
			m.log.Error("cannot take partition, releasing it", "partition", p, "err", err)
			failed = append(failed, p)
			continue
		}
		m.mu.Lock()
		m.owned[p] = true
		m.mu.Unlock()
		m.gains.Add(1)
	}
	if len(taken) > 0 {
		m.log.Info("partitions taken", "partitions", taken, "members", len(members))
	}
	if len(failed) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.TTL/3)
		_ = m.cfg.Store.Release(rctx, m.cfg.Member, failed)
		cancel()
	}
}

func (m *Manager) owns(p int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owned[p]
}

func (m *Manager) lose(p int) {
	m.mu.Lock()
	delete(m.owned, p)
	m.mu.Unlock()
	m.cfg.Handler.Lose(p)
	m.losses.Add(1)
}

func (m *Manager) leave() {
	owned := m.Owned()
	for _, p := range owned {
		m.lose(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.Leave(ctx, m.cfg.Member); err != nil {
		m.log.Warn("leave: partitions expire instead of being handed over at once", "err", err)
		return
	}
	if len(owned) > 0 {
		m.log.Info("partitions released on shutdown", "partitions", owned)
	}
}
