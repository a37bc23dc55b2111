package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
