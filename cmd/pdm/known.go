package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openpdm/pdm/workorders/postgres"
)

// knownAssets holds the registry's asset codes in memory, so ingest tells
// registered assets from others (the unknown-asset limit) without waiting
// on PostgreSQL. It reloads when PostgreSQL announces a change of assets or
// sites (poke) and every refresh besides. Until its first load, and
// whenever PostgreSQL cannot answer for longer, it keeps what it has: every
// asset counts as known before the first load, so nothing is rejected for
// want of the registry.
type knownAssets struct {
	store   *postgres.Store
	log     *slog.Logger
	refresh time.Duration
	set     atomic.Pointer[map[postgres.AssetCode]struct{}]
	wake    chan struct{}
}

func newKnownAssets(store *postgres.Store, log *slog.Logger) *knownAssets {
	return &knownAssets{store: store, log: log, refresh: time.Minute, wake: make(chan struct{}, 1)}
}

// Known reports whether site/asset is registered (ingest.Deps.KnownAsset);
// it answers from memory.
func (k *knownAssets) Known(site, asset string) bool {
	m := k.set.Load()
	if m == nil {
		return true
	}
	_, ok := (*m)[postgres.AssetCode{Site: site, Asset: asset}]
	return ok
}

// register adds pdm_ingest_registered_assets.
func (k *knownAssets) register(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdm_ingest_registered_assets",
		Help: "Registered asset codes ingest knows from memory (the unknown-asset limit counts the others)."},
		func() float64 {
			if m := k.set.Load(); m != nil {
				return float64(len(*m))
			}
			return -1
		}))
}

// poke asks for a reload (assets or sites changed).
func (k *knownAssets) poke() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// load reads the registry's codes once.
func (k *knownAssets) load(ctx context.Context) error {
	codes, err := k.store.AssetCodes(ctx)
	if err != nil {
		return err
	}
	m := make(map[postgres.AssetCode]struct{}, len(codes))
	for _, c := range codes {
		m[c] = struct{}{}
	}
	k.set.Store(&m)
	return nil
}

// Run reloads on every poke and every refresh until ctx ends; it returns
// nil.
func (k *knownAssets) Run(ctx context.Context) error {
	t := time.NewTicker(k.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-k.wake:
		}
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := k.load(lctx); err != nil && ctx.Err() == nil {
			k.log.Warn("registered asset codes not reloaded (ingest keeps the previous list)", "err", err)
		}
		cancel()
	}
}
