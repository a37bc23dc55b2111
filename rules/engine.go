package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// AssetLookup resolves an asset's codes in topics to its registration.
// Asset returns found=false (and no error) for codes not registered yet;
// an error means the lookup itself failed (it is retried on a later
// reading).
type AssetLookup interface {
	Asset(ctx context.Context, site, code string) (a AssetRef, found bool, err error)
}

// RuleSource lists rules. The engine keeps only the enabled, valid ones
// and re-reads them every Config.ReloadEvery (and on Reload).
type RuleSource interface {
	Rules(ctx context.Context) ([]Rule, error)
}

// Observer adds per-series evaluation to the engine (prediction plugs in
// here). NewSeries returns nil when the observer has nothing to do for
// the rule.
type Observer interface {
	NewSeries(r *Rule, a AssetRef) SeriesObserver
}

// SeriesObserver follows one rule's metric on one asset. Observe sees only
// readings the threshold tracker accepted, so always in strictly
// increasing event time; it must be pure (no I/O, no clock). Status
// returns a snapshot for health views. The engine serialises calls.
type SeriesObserver interface {
	Observe(ts time.Time, v float64) []Signal
	Status() any
}

// Config holds an Engine's dependencies and settings.
type Config struct {
	Assets    AssetLookup
	Rules     RuleSource
	Signal    SignalFunc
	Logger    *slog.Logger
	Observers []Observer
	// Now is the wall clock; it paces rule reloads and asset cache expiry
	// only, never detection (which runs on event time). Default time.Now.
	Now func() time.Time
	// ReloadEvery is how often Run re-reads the rules (default 15s).
	ReloadEvery time.Duration
	// AssetTTL and UnknownTTL: how long a found / not-found asset lookup is
	// cached (defaults 5m and 15s).
	AssetTTL, UnknownTTL time.Duration
	// RetryMin, RetryMax and DrainTimeout tune signal delivery (Outbox).
	RetryMin, RetryMax, DrainTimeout time.Duration
	// MaxHeld bounds the readings held while their asset lookup fails
	// (default 100000); HeldRetry is how often Run retries them (default 1s).
	MaxHeld   int
	HeldRetry time.Duration
	// MaxCodes bounds the cached asset lookups, found or not (default
	// 100000): codes are chosen by whoever publishes, so beyond it the
	// expired and then arbitrary entries are evicted and counted.
	MaxCodes int
	// MaxAssets bounds the assets with rule state (default 200000); beyond
	// it the assets whose latest reading is oldest lose their state
	// (rebuilt from history if they report again) and are counted.
	MaxAssets int
	// History, when set, is read to re-evaluate assets whose readings came
	// late (see late.go); without it late readings are only counted.
	History History
	// LateSettle (default 2s), LateMaxDelay (default 10 × LateSettle),
	// LateMinInterval (default 10s), MaxReevaluations (a second, default
	// 50) and MaxLateAssets (default 10000) pace and bound re-evaluations.
	LateSettle, LateMaxDelay, LateMinInterval time.Duration
	MaxReevaluations, MaxLateAssets           int
}

const shardCount = 32

// Engine applies rules to readings as they arrive: thresholds with `for`
// and hysteresis, stale sensors, critical device events, and whatever the
// observers (prediction) add. It implements ingest.Consumer.
//
// Time: detection runs only on event time. Each series accepts readings in
// strictly increasing event time; a late reading (at or before the latest
// one seen for that asset's rule) is counted and ignored. Stale sensors are
// detected against a per-site watermark: the latest event time seen from
// any asset of the site. So a sensor is stale when its site keeps reporting
// but it does not; a site that goes silent as a whole raises nothing here
// (that is a gateway/connection matter, seen in gateway status).
//
// Signals go through an Outbox: evaluation never waits for the receiver.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	out    *Outbox
	seed   maphash.Seed
	shards [shardCount]shard

	rules                       atomic.Pointer[ruleSet]
	reloadMu                    sync.Mutex // serialises reloads
	lastLoad                    atomic.Int64
	lookupMu                    sync.Mutex // guards lookups
	lookups                     map[[2]string]cachedAsset
	sitesMu                     sync.Mutex // guards sites
	sites                       map[string]*siteState
	lateCount                   atomic.Uint64
	reraised                    atomic.Uint64
	assets                      atomic.Int64 // assets with rule state
	evictedCodes, evictedAssets atomic.Uint64
	// eventLookupsOff: until then (Unix ns) device events skip registry
	// lookups, which failed.
	eventLookupsOff atomic.Int64
	held            held // readings waiting for their asset lookup to succeed
	late            lateQueue
	lateDone        atomic.Uint64 // re-evaluations done
	lateReplayed    atomic.Uint64 // readings they replayed
	lateFailed      atomic.Uint64 // re-evaluations that failed (retried)
}

type cachedAsset struct {
	ref     AssetRef
	found   bool
	expires time.Time
}

type siteState struct {
	watermark time.Time
	checked   time.Time
	assets    map[string]struct{} // asset ids
}

type shard struct {
	mu     sync.Mutex                    // guards assets
	assets map[string]map[string]*series // asset id → rule id → series
}

type series struct {
	rule    *Rule
	asset   AssetRef
	tracker Tracker
	obs     []SeriesObserver
}

// ruleSet is an immutable index of the enabled rules.
type ruleSet struct {
	byID    map[string]*Rule
	byType  map[string][]*Rule
	byAsset map[string][]*Rule
	// staleCheck is how far the watermark must move between stale scans.
	staleCheck time.Duration
}

// NewEngine checks cfg and returns an engine. Call Run to deliver signals
// and reload rules.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Assets == nil || cfg.Rules == nil || cfg.Signal == nil {
		return nil, errors.New("rules engine: Assets, Rules and Signal are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = 15 * time.Second
	}
	if cfg.AssetTTL <= 0 {
		cfg.AssetTTL = 5 * time.Minute
	}
	if cfg.UnknownTTL <= 0 {
		cfg.UnknownTTL = 15 * time.Second
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 100_000
	}
	if cfg.HeldRetry <= 0 {
		cfg.HeldRetry = time.Second
	}
	if cfg.MaxCodes <= 0 {
		cfg.MaxCodes = 100_000
	}
	if cfg.MaxAssets <= 0 {
		cfg.MaxAssets = 200_000
	}
	if cfg.LateSettle <= 0 {
		cfg.LateSettle = 2 * time.Second
	}
	if cfg.LateMaxDelay <= 0 {
		cfg.LateMaxDelay = 10 * cfg.LateSettle
	}
	if cfg.LateMinInterval <= 0 {
		cfg.LateMinInterval = 10 * time.Second
	}
	if cfg.MaxReevaluations <= 0 {
		cfg.MaxReevaluations = 50
	}
	if cfg.MaxLateAssets <= 0 {
		cfg.MaxLateAssets = 10_000
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		out:     NewOutbox(cfg.Signal, cfg.Logger, cfg.RetryMin, cfg.RetryMax, cfg.DrainTimeout),
		seed:    maphash.MakeSeed(),
		lookups: map[[2]string]cachedAsset{},
		sites:   map[string]*siteState{},
		held:    held{max: cfg.MaxHeld},
	}
	for i := range e.shards {
		e.shards[i].assets = map[string]map[string]*series{}
	}
	return e, nil
}

// Outbox returns the engine's signal queue (for stats, and so other parts
// can deliver through the same queue).
func (e *Engine) Outbox() *Outbox { return e.out }

// Run loads the rules, then reloads them every ReloadEvery, retries held
// readings every HeldRetry and delivers signals until ctx ends; it drains
// pending signals before returning nil.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Reload(ctx); err != nil {
		e.log.Error("load rules", "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.out.Run(ctx)
	}()
	t := time.NewTicker(e.cfg.ReloadEvery)
	defer t.Stop()
	retry := time.NewTicker(e.cfg.HeldRetry)
	defer retry.Stop()
	var lateC <-chan time.Time
	if e.cfg.History != nil {
		late := time.NewTicker(e.lateTick())
		defer late.Stop()
		lateC = late.C
	}
	for {
		select {
		case <-ctx.Done():
			<-done
			if n, _ := e.HeldReadings(); n > 0 {
				e.log.Error("readings not evaluated at shutdown: their asset lookup kept failing (they stay stored)", "count", n)
			}
			return nil
		case <-retry.C:
			e.retryHeld(ctx)
		case <-lateC:
			e.ReevaluateLate(ctx)
		case <-t.C:
			if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("reload rules", "err", err)
			}
		}
	}
}

// Reload re-reads the rules now. Series of rules that changed restart from
// a clean state; series of removed or disabled rules are dropped. On error
// the previous rules stay in force.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	list, err := e.cfg.Rules.Rules(ctx)
	if err != nil {
		return fmt.Errorf("read rules: %w", err)
	}
	old := e.rules.Load()
	rs := &ruleSet{byID: map[string]*Rule{}, byType: map[string][]*Rule{}, byAsset: map[string][]*Rule{}}
	for i := range list {
		r := list[i]
		if !r.Enabled {
			continue
		}
		if err := r.Validate(); err != nil {
			e.log.Warn("skipping invalid rule", "rule_id", r.ID, "err", err)
			continue
		}
		p := &r
		if old != nil {
			if prev, ok := old.byID[r.ID]; ok && sameRule(prev, p) {
				p = prev // keep identity so series keep their state
			}
		}
		rs.byID[r.ID] = p
		if p.AssetID != "" {
			rs.byAsset[p.AssetID] = append(rs.byAsset[p.AssetID], p)
		} else {
			rs.byType[p.AssetType] = append(rs.byType[p.AssetType], p)
		}
		if p.Stale > 0 {
			c := max(p.Stale.D()/4, time.Minute)
			if rs.staleCheck == 0 || c < rs.staleCheck {
				rs.staleCheck = c
			}
		}
	}
	e.rules.Store(rs)
	e.lastLoad.Store(e.cfg.Now().UnixNano())
	// Drop series whose rule went away or changed.
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for aid, m := range sh.assets {
			for rid, s := range m {
				if rs.byID[rid] != s.rule {
					delete(m, rid)
				}
			}
			if len(m) == 0 {
				delete(sh.assets, aid)
				e.assets.Add(-1)
			}
		}
		sh.mu.Unlock()
	}
	return nil
}

// sameRule reports whether two versions of a rule evaluate the same way.
func sameRule(a, b *Rule) bool {
	if !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func (e *Engine) ruleSet(ctx context.Context) *ruleSet {
	if rs := e.rules.Load(); rs != nil {
		return rs
	}
	if err := e.Reload(ctx); err != nil {
		e.log.Error("load rules", "err", err)
		return &ruleSet{}
	}
	return e.rules.Load()
}

// lookup resolves an asset through the cache; a failed lookup is logged
// and reads as not found.
func (e *Engine) lookup(ctx context.Context, site, code string) (AssetRef, bool) {
	a, found, err := e.lookupErr(ctx, site, code)
	if err != nil {
		e.log.Warn("asset lookup failed", "site", site, "asset", code, "err", err)
	}
	return a, found
}

// Lookup resolves an asset's codes through the engine's cache.
func (e *Engine) Lookup(ctx context.Context, site, code string) (AssetRef, bool, error) {
	return e.lookupErr(ctx, site, code)
}

func (e *Engine) lookupErr(ctx context.Context, site, code string) (AssetRef, bool, error) {
	k := [2]string{site, code}
	now := e.cfg.Now()
	e.lookupMu.Lock()
	c, ok := e.lookups[k]
	e.lookupMu.Unlock()
	if ok && now.Before(c.expires) {
		return c.ref, c.found, nil
	}
	ref, found, err := e.cfg.Assets.Asset(ctx, site, code)
	if err != nil {
		return AssetRef{}, false, err
	}
	ttl := e.cfg.UnknownTTL
	if found {
		ttl = e.cfg.AssetTTL
		ref.Site, ref.Code = site, code
	}
	e.lookupMu.Lock()
	if _, ok := e.lookups[k]; !ok && len(e.lookups) >= e.cfg.MaxCodes {
		e.evictLookupsLocked(now)
	}
	e.lookups[k] = cachedAsset{ref: ref, found: found, expires: now.Add(ttl)}
	e.lookupMu.Unlock()
	return ref, found, nil
}

// ForgetAsset drops a cached lookup (call it when an asset is created,
// changed or deleted so the change applies at once).
func (e *Engine) ForgetAsset(site, code string) {
	e.lookupMu.Lock()
	delete(e.lookups, [2]string{site, code})
	e.lookupMu.Unlock()
}

func (e *Engine) shardOf(assetID string) *shard {
	return &e.shards[maphash.String(e.seed, assetID)%shardCount]
}

// Consume evaluates readings (ingest.Consumer). It never blocks on signal
// delivery. Readings whose asset lookup fails (the registry is down) are
// held and evaluated, in order, once lookups succeed again, so a database
// outage delays detection but loses none.
func (e *Engine) Consume(ctx context.Context, readings []ingest.Reading) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	e.retryHeldLocked(ctx)
	e.consume(ctx, readings, e.out.Put, &e.held, nil, time.Time{}, true)
}

var _ ingest.Consumer = (*Engine)(nil)

// consume evaluates readings in order. With hold (its mutex held by the
// caller), readings whose asset lookup fails, and the later readings of
// that asset, are held for a retry; without, they are skipped. With
// reraise (a replay of history), the threshold signals of series that are
// synced (see Tracker.Synced) go to reraise: they are the very signals the
// live evaluation raised, or would have raised had it seen the readings,
// and the receiver drops those it already has; so do those detected after
// after (readings no one evaluated before); every other signal goes to
// emit. With noteLate (live readings, not replays), an asset with late
// readings is queued for a re-evaluation from history.
func (e *Engine) consume(ctx context.Context, readings []ingest.Reading, emit func(Signal), hold *held, reraise func(Signal), after time.Time, noteLate bool) {
	rs := e.ruleSet(ctx)
	touched := map[string]time.Time{}
	// Readings of one asset often come in runs: the previous lookup is
	// reused for the same codes (one cache read per run, not per reading).
	var (
		prevSite, prevCode string
		prevRef            AssetRef
		prevOK, havePrev   bool
	)
	for _, rd := range readings {
		if hold != nil && hold.has(rd.Site, rd.Asset) {
			e.holdReading(hold, rd)
			havePrev = false
			continue
		}
		var (
			a   AssetRef
			ok  bool
			err error
		)
		fresh := true
		if havePrev && rd.Site == prevSite && rd.Asset == prevCode {
			a, ok, fresh = prevRef, prevOK, false
		} else {
			a, ok, err = e.lookupErr(ctx, rd.Site, rd.Asset)
			prevSite, prevCode, prevRef, prevOK, havePrev = rd.Site, rd.Asset, a, ok, err == nil
		}
		if err != nil {
			if hold == nil {
				e.log.Warn("asset lookup failed", "site", rd.Site, "asset", rd.Asset, "err", err)
				continue
			}
			e.log.Warn("asset lookup failed, readings held for a retry", "site", rd.Site, "asset", rd.Asset, "err", err)
			e.holdReading(hold, rd)
			continue
		}
		if !ok {
			continue
		}
		if w, ok := touched[rd.Site]; !ok || rd.TS.After(w) {
			touched[rd.Site] = rd.TS
		}
		if fresh {
			e.noteAsset(rd.Site, a.ID)
		}
		// No allocation in the usual case of type rules only.
		covering := rs.byType[a.Type]
		if own := rs.byAsset[a.ID]; len(own) > 0 {
			covering = append(own[:len(own):len(own)], covering...)
		}
		if len(covering) == 0 {
			continue
		}
		sh := e.shardOf(a.ID)
		sh.mu.Lock()
		m := sh.assets[a.ID]
		late := false
		for _, r := range covering {
			v, ok := rd.Value(r.Metric)
			if !ok {
				continue
			}
			s := m[r.ID]
			if s == nil || s.rule != r {
				s = e.series(sh, a, r)
				m = sh.assets[a.ID]
			}
			sigs, accepted := s.tracker.Step(r, a, rd.TS, v)
			if !accepted {
				e.lateCount.Add(1)
				late = true
				continue
			}
			if reraise != nil {
				for _, sg := range sigs {
					unseen := !after.IsZero() && sg.DetectedAt.After(after)
					if (s.tracker.Synced() || unseen) && sg.Kind == KindThreshold && sg.Level != LevelClear {
						reraise(sg)
					}
				}
				// A prediction from a reading no one evaluated before is
				// raised with its own detection time (re-arming it would
				// raise it at the next live reading: later, and shorter
				// of lead); others were raised back then.
				unseen := !after.IsZero() && rd.TS.After(after)
				for _, o := range s.obs {
					for _, sg := range o.Observe(rd.TS, v) {
						if unseen && RaisesOrder(sg) {
							reraise(sg)
						}
					}
				}
				continue
			}
			for _, o := range s.obs {
				sigs = append(sigs, o.Observe(rd.TS, v)...)
			}
			for _, sg := range sigs {
				emit(sg)
			}
		}
		sh.mu.Unlock()
		if late && noteLate && e.cfg.History != nil {
			e.late.note(a, rd.TS, e.cfg.Now(), e.cfg.MaxLateAssets)
		}
	}
	for site, w := range touched {
		e.advance(site, w, rs, emit)
	}
	if e.assets.Load() > int64(e.cfg.MaxAssets) {
		e.evictAssets()
	}
}

func (e *Engine) holdReading(h *held, rd ingest.Reading) {
	if h.add(rd) && h.dropped%10_000 == 1 {
		e.log.Error("too many readings held for asset lookups; oldest dropped from evaluation (they stay stored)",
			"max_held", h.max, "dropped", h.dropped)
	}
}

func (e *Engine) series(sh *shard, a AssetRef, r *Rule) *series {
	m := sh.assets[a.ID]
	if m == nil {
		m = map[string]*series{}
		sh.assets[a.ID] = m
		e.assets.Add(1)
	}
	s := m[r.ID]
	if s == nil || s.rule != r {
		s = &series{rule: r, asset: a}
		for _, o := range e.cfg.Observers {
			if so := o.NewSeries(r, a); so != nil {
				s.obs = append(s.obs, so)
			}
		}
		m[r.ID] = s
	}
	return s
}

func (e *Engine) noteAsset(site, assetID string) {
	e.sitesMu.Lock()
	st := e.sites[site]
	if st == nil {
		st = &siteState{assets: map[string]struct{}{}}
		e.sites[site] = st
	}
	st.assets[assetID] = struct{}{}
	e.sitesMu.Unlock()
}

// advance moves a site's watermark and, when it moved far enough since the
// last scan, checks the site's series for stale sensors.
func (e *Engine) advance(site string, w time.Time, rs *ruleSet, emit func(Signal)) {
	e.sitesMu.Lock()
	st := e.sites[site]
	if st == nil || !w.After(st.watermark) {
		e.sitesMu.Unlock()
		return
	}
	st.watermark = w
	if rs.staleCheck == 0 || w.Sub(st.checked) < rs.staleCheck {
		e.sitesMu.Unlock()
		return
	}
	st.checked = w
	ids := make([]string, 0, len(st.assets))
	for id := range st.assets {
		ids = append(ids, id)
	}
	e.sitesMu.Unlock()
	for _, id := range ids {
		sh := e.shardOf(id)
		sh.mu.Lock()
		for _, s := range sh.assets[id] {
			for _, sg := range s.tracker.CheckStale(s.rule, s.asset, w) {
				emit(sg)
			}
		}
		sh.mu.Unlock()
	}
}

// eventLookupTimeout bounds the asset lookup of a device event; after a
// failed one, events skip lookups (but not the cache) for eventLookupPause.
const (
	eventLookupTimeout = 500 * time.Millisecond
	eventLookupPause   = 5 * time.Second
)

var errLookupPaused = errors.New("asset lookups paused after a failure")

// eventLookup resolves an event's asset without ever waiting long on the
// registry.
func (e *Engine) eventLookup(ctx context.Context, site, code string) (AssetRef, bool, error) {
	now := e.cfg.Now()
	if now.UnixNano() < e.eventLookupsOff.Load() {
		e.lookupMu.Lock()
		c, ok := e.lookups[[2]string{site, code}]
		e.lookupMu.Unlock()
		if ok && now.Before(c.expires) {
			return c.ref, c.found, nil
		}
		return AssetRef{}, false, errLookupPaused
	}
	lctx, cancel := context.WithTimeout(ctx, eventLookupTimeout)
	defer cancel()
	a, found, err := e.lookupErr(lctx, site, code)
	if err != nil {
		e.eventLookupsOff.Store(now.Add(eventLookupPause).UnixNano())
	}
	return a, found, err
}

// HandleEvent turns a device event into a signal (ingest.EventHandler):
// a critical event becomes a KindEvent signal at LevelCritical (a
// corrective order), a warning event a LevelWarn signal (no order), an
// info event nothing. The failure mode is "device_event_" plus the code,
// so repeats of one code update one order. Unlike readings, an event is
// delivered synchronously (cmd delivers into the signal spool on disk):
// a delivery error makes ingest retry and not acknowledge the event, so
// none is lost. When the asset lookup fails, the signal carries the codes
// only. Events of unregistered assets and signals the receiver rejects
// (ErrRejected) return nil.
func (e *Engine) HandleEvent(ctx context.Context, ev ingest.Event) error {
	var lvl Level
	switch ev.Severity {
	case ingest.SeverityCritical:
		lvl = LevelCritical
	case ingest.SeverityWarning:
		lvl = LevelWarn
	default:
		return nil
	}
	// The registry may be down or hung: the signal then goes on with the
	// codes only (the receiver resolves them), so an outage never holds
	// device events, nor the telemetry behind them, up.
	a, found, err := e.eventLookup(ctx, ev.Site, ev.Asset)
	if err == nil && !found {
		return nil
	}
	msg := ev.Message
	if msg == "" {
		msg = "device event " + ev.Code
	}
	s := Signal{
		Kind:        KindEvent,
		Level:       lvl,
		Site:        ev.Site,
		Asset:       ev.Asset,
		AssetID:     a.ID,
		FailureMode: EventFailureMode(ev.Code),
		DetectedAt:  ev.TS,
		Message:     msg,
		Evidence: map[string]any{
			"code":     ev.Code,
			"severity": string(ev.Severity),
			"message":  ev.Message,
			"ts":       ev.TS,
		},
	}
	if err := e.cfg.Signal(ctx, s); err != nil && !errors.Is(err, ErrRejected) {
		return fmt.Errorf("event %s/%s %s: %w", ev.Site, ev.Asset, ev.Code, err)
	}
	return nil
}

var _ ingest.EventHandler = (*Engine)(nil)

// EventFailureMode is the failure mode of orders raised by a device event
// code.
func EventFailureMode(code string) string {
	var b strings.Builder
	b.WriteString("device_event_")
	for _, c := range strings.ToLower(code) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// LateReadings counts readings ignored because they were at or before the
// latest reading of their series.
func (e *Engine) LateReadings() uint64 { return e.lateCount.Load() }

// SeriesStatus is the state of one rule on one asset, for health views.
type SeriesStatus struct {
	Rule      Rule
	State     State
	Observers []any
}

// Status returns the state of every rule series the engine holds for an
// asset, ordered by metric and rule name.
func (e *Engine) Status(assetID string) []SeriesStatus {
	sh := e.shardOf(assetID)
	sh.mu.Lock()
	out := make([]SeriesStatus, 0, len(sh.assets[assetID]))
	for _, s := range sh.assets[assetID] {
		st := SeriesStatus{Rule: *s.rule, State: s.tracker.Snapshot()}
		for _, o := range s.obs {
			st.Observers = append(st.Observers, o.Status())
		}
		out = append(out, st)
	}
	sh.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule.Metric != out[j].Rule.Metric {
			return out[i].Rule.Metric < out[j].Rule.Metric
		}
		return out[i].Rule.Name < out[j].Rule.Name
	})
	return out
}

// LastReading returns the event time of the latest reading the engine
// accepted for an asset's rule (zero when none).
func (e *Engine) LastReading(assetID, ruleID string) time.Time {
	sh := e.shardOf(assetID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.assets[assetID][ruleID]; s != nil {
		return s.tracker.LastTS()
	}
	return time.Time{}
}

// CoveringRules returns the enabled rules that apply to an asset.
func (e *Engine) CoveringRules(ctx context.Context, a AssetRef) []Rule {
	rs := e.ruleSet(ctx)
	var out []Rule
	for _, r := range rs.byAsset[a.ID] {
		out = append(out, *r)
	}
	for _, r := range rs.byType[a.Type] {
		out = append(out, *r)
	}
	return out
}
