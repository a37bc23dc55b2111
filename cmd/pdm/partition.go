package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/partition"
	pmqtt "github.com/openpdm/pdm/partition/mqtt"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/rules/spool"
	"github.com/openpdm/pdm/workorders/postgres"
)

// detection is partitioned detection as this replica takes part in it:
// the lease manager, the owner of its partitions and their stream.
type detection struct {
	mgr    *partition.Manager
	owner  *partition.Owner
	stream *pmqtt.Stream
}

// newDetection binds the rules engine to partition leases in PostgreSQL
// and to the partition streams on the broker. Nothing runs until start.
func newDetection(cfg Config, c *core, engine *rules.Engine, signals *spool.Spool, ts *influx.Client, reg prometheus.Registerer, log *slog.Logger) (*detection, error) {
	plog := log.With("component", "partition")
	lister := &memoLister{l: assetLister{ts}, ttl: 5 * time.Second}
	owner, err := partition.NewOwner(partition.OwnerConfig{
		Partitions: cfg.Partitions,
		Detector:   engine,
		Rebuild: func(ctx context.Context, keep func(site, asset string) bool, from time.Time) (int, error) {
			return engine.RebuildWhere(ctx, ts, lister, from, time.Now(), keep)
		},
		ReorderWindow: cfg.ReorderWindow,
		Pending: func(yield func(site, asset string, at time.Time)) {
			each := func(s rules.Signal) { yield(s.Site, s.Asset, s.DetectedAt) }
			engine.Outbox().Each(each)
			signals.Each(each)
		},
		Logger: plog,
	})
	if err != nil {
		return nil, err
	}
	stream, err := pmqtt.NewStream(pmqtt.Config{URL: cfg.MQTTURL, ClientID: cfg.ClientID, TopicRoot: cfg.TopicRoot,
		Partitions: cfg.Partitions}, sessionPrefix(cfg), owner.Deliver, plog)
	if err != nil {
		return nil, fmt.Errorf("mqtt (partition stream): %w", err)
	}
	owner.SetStream(stream)
	mgr, err := partition.NewManager(partition.ManagerConfig{Store: postgres.NewLeases(c.pool), Handler: owner,
		Member: cfg.ClientID, Partitions: cfg.Partitions, TTL: cfg.LeaseTTL, Logger: plog})
	if err != nil {
		stream.Close()
		return nil, err
	}
	d := &detection{mgr: mgr, owner: owner, stream: stream}
	d.register(reg)
	return d, nil
}

// init takes this replica's first share of the partitions and waits until
// they are rebuilt (at most the start timeout), so ingest starts on warm
// state.
func (d *detection) init(ctx context.Context, timeout time.Duration) {
	d.mgr.Start(ctx)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = d.owner.WaitRebuilt(wctx)
}

// start runs the owner and the lease manager; when ctx ends the manager
// hands the partitions over, then the stream disconnects.
func (d *detection) start(ctx context.Context, g *errgroup.Group) {
	g.Go(func() error { return d.owner.Run(ctx) })
	g.Go(func() error {
		err := d.mgr.Run(ctx)
		d.stream.Close()
		return err
	})
}

func (d *detection) register(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("pdm_partitions_owned", "Detection partitions this replica holds.",
			func() float64 { return float64(d.mgr.Stats().Owned) }),
		gauge("pdm_partition_members", "Live replicas taking part in detection, as of the last lease renewal.",
			func() float64 { return float64(d.mgr.Stats().Members) }),
		counter("pdm_partition_gains_total", "Partitions this replica took over.",
			func() float64 { return float64(d.mgr.Stats().Gains) }),
		counter("pdm_partition_losses_total", "Partitions this replica handed over or lost.",
			func() float64 { return float64(d.mgr.Stats().Losses) }),
		counter("pdm_partition_lease_failures_total", "Lease renewals or acquisitions that failed (PostgreSQL unreachable).",
			func() float64 { return float64(d.mgr.Stats().Failures) }),
		gauge("pdm_partition_reorder_readings", "Streamed readings waiting in the reorder window.",
			func() float64 { return float64(d.owner.Stats().Held) }),
		gauge("pdm_partition_rebuilding", "Partitions being rebuilt from InfluxDB.",
			func() float64 { return float64(d.owner.Stats().Rebuilding) }),
		counter("pdm_partition_rebuilt_readings_total", "Readings replayed from InfluxDB by partition rebuilds.",
			func() float64 { return float64(d.owner.Stats().Rebuilt) }),
		gauge("pdm_partition_last_rebuild_seconds", "How long the latest partition rebuild took.",
			func() float64 { return d.owner.Stats().LastRebuild.Seconds() }),
		counter("pdm_partition_not_owned_readings_total", "Streamed readings of partitions this replica does not hold (dropped).",
			func() float64 { return float64(d.owner.Stats().NotOwned) }),
		counter("pdm_partition_malformed_total", "Partition stream messages that did not decode.",
			func() float64 { return float64(d.owner.Stats().Malformed) }),
	)
}

// memoLister shares one InfluxDB asset listing among the rebuilds of the
// partitions a replica takes at once.
type memoLister struct {
	l   rules.AssetLister
	ttl time.Duration

	mu   sync.Mutex // guards the fields below; held while listing
	at   time.Time
	from time.Time
	list []rules.AssetCode
}

func (m *memoLister) ListAssets(ctx context.Context, from, to time.Time) ([]rules.AssetCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.list != nil && time.Since(m.at) < m.ttl && !from.Before(m.from) {
		return m.list, nil
	}
	list, err := m.l.ListAssets(ctx, from, to)
	if err != nil {
		return nil, err
	}
	m.at, m.from, m.list = time.Now(), from, list
	return list, nil
}

// sessionPrefix names the deployment's partition sessions in the broker:
// every replica of one deployment must use the same (the share group, the
// same on every replica, unless partitions are named with
// PDM_PARTITION_SESSION).
func sessionPrefix(cfg Config) string {
	if cfg.PartitionSession != "" {
		return cfg.PartitionSession
	}
	if cfg.ShareGroup != "" {
		return cfg.ShareGroup
	}
	return "pdm"
}

// presenceTopic is where an ingest session of the share group says whether
// its client is connected ("1") or not ("0", its will). Four levels under
// the root: no telemetry or event subscription matches it.
func presenceTopic(cfg Config, clientID string) string {
	return cfg.TopicRoot + "/_members/" + cfg.ShareGroup + "/" + clientID + "/presence"
}

// adoptedSession is another replica's ingest session this one drains.
type adoptedSession struct {
	cancel context.CancelFunc
	done   chan struct{}   // the pipeline returned
	lost   <-chan struct{} // its connection ended
}

// sessionAdopter takes over the ingest sessions of replicas that are away.
//
// Each replica's ingest session is persistent and a member of the `$share`
// group, and Mosquitto goes on giving it its share of the messages while
// its client is away: those readings would wait, unstored and unevaluated,
// until it came back. Every ingest connection keeps a retained presence
// message ("1" while connected, "0" as its will); for each session whose
// client is away, the live replica that rendezvous hashing picks connects
// with that session's client id (no automatic reconnect) and ingests its
// share, backlog first. When the client comes back it connects, the broker
// drops the adopter's connection, and what the adopter had not
// acknowledged goes to the client: at least once either way.
type sessionAdopter struct {
	cfg   Config
	log   *slog.Logger
	start func(ctx context.Context, clientID string) (*adoptedSession, error)

	mu       sync.Mutex // guards presence
	presence map[string]bool
	changed  chan struct{} // cap 1

	held      map[string]*adoptedSession // used by Run only
	retryAt   map[string]time.Time       // used by Run only
	adoptions atomic.Uint64
	holding   atomic.Int64
}

func newSessionAdopter(cfg Config, log *slog.Logger, start func(ctx context.Context, clientID string) (*adoptedSession, error)) *sessionAdopter {
	return &sessionAdopter{cfg: cfg, log: log.With("component", "adopt"), start: start, presence: map[string]bool{},
		changed: make(chan struct{}, 1), held: map[string]*adoptedSession{}, retryAt: map[string]time.Time{}}
}

// Run follows the presence messages and adopts and releases sessions
// until ctx ends, then releases what it holds.
func (a *sessionAdopter) Run(ctx context.Context) error {
	prefix := a.cfg.TopicRoot + "/_members/" + a.cfg.ShareGroup + "/"
	o := paho.NewClientOptions().AddBroker(a.cfg.MQTTURL).SetClientID(a.cfg.ClientID + "-members").
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(5 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(prefix+"+/presence", 1, func(_ paho.Client, m paho.Message) {
				id := strings.TrimSuffix(strings.TrimPrefix(m.Topic(), prefix), "/presence")
				a.mu.Lock()
				if len(m.Payload()) == 0 {
					delete(a.presence, id)
				} else {
					a.presence[id] = string(m.Payload()) == "1"
				}
				a.mu.Unlock()
				select {
				case a.changed <- struct{}{}:
				default:
				}
			})
		})
	c := paho.NewClient(o)
	c.Connect() // retried in the background until it connects
	defer c.Disconnect(250)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for id := range a.held {
				a.release(id)
			}
			return nil
		case <-t.C:
		case <-a.changed:
		}
		a.reconcile(ctx)
	}
}

// chosen returns the live member rendezvous hashing gives session id to.
func chosen(live []string, id string) string {
	best, bestH := "", uint64(0)
	for _, m := range live {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(id))
		if v := h.Sum64(); best == "" || v > bestH {
			best, bestH = m, v
		}
	}
	return best
}

func (a *sessionAdopter) reconcile(ctx context.Context) {
	self := a.cfg.ClientID
	a.mu.Lock()
	live := []string{self}
	var away []string
	up := map[string]bool{}
	for id, on := range a.presence {
		up[id] = on
		switch {
		case id == self:
		case on:
			live = append(live, id)
		default:
			away = append(away, id)
		}
	}
	a.mu.Unlock()
	now := time.Now()
	for id, s := range a.held {
		ended := false
		select {
		case <-s.lost:
			ended = true
		case <-s.done:
			ended = true
		default:
		}
		if ended || up[id] || chosen(live, id) != self {
			a.release(id)
			if ended {
				a.retryAt[id] = now.Add(5 * time.Second)
			}
		}
	}
	for _, id := range away {
		if a.held[id] != nil || chosen(live, id) != self || now.Before(a.retryAt[id]) {
			continue
		}
		s, err := a.start(ctx, id)
		if err != nil {
			a.log.Warn("adopting an away replica's ingest session failed; retried", "client_id", id, "err", err)
			a.retryAt[id] = now.Add(5 * time.Second)
			continue
		}
		a.held[id] = s
		a.holding.Add(1)
		a.adoptions.Add(1)
		a.log.Info("adopted the ingest session of a replica that is away", "client_id", id)
	}
}

// release stops draining session id (its pipeline acknowledges what it
// wrote and disconnects).
func (a *sessionAdopter) release(id string) {
	s := a.held[id]
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
	delete(a.held, id)
	a.holding.Add(-1)
	a.log.Info("released an adopted ingest session", "client_id", id)
}

func (a *sessionAdopter) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdm_ingest_adopted_sessions",
			Help: "Ingest sessions of away replicas this replica drains."},
			func() float64 { return float64(a.holding.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdm_ingest_session_adoptions_total",
			Help: "Ingest sessions of away replicas this replica took over."},
			func() float64 { return float64(a.adoptions.Load()) }),
	)
}
