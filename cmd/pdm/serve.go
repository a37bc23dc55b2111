package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/ingest/mqtt"
	pmqtt "github.com/openpdm/pdm/partition/mqtt"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/rules/spool"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// serveHooks lets tests and the demo learn what serve bound and started.
type serveHooks struct {
	// Ready is called once the API listens, with its address and the
	// admin token (empty when an admin existed already and none was given).
	Ready func(apiAddr, adminToken string)
}

// serve runs the roles of Config.Only (all when empty) until ctx ends, then
// drains in-flight work and returns nil. A dependency that cannot be
// reached at start is an error naming it. Everything is built before
// anything starts, so a failing start leaves nothing running.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer, hooks *serveHooks) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()

	// Time series store.
	ts, err := influx.New(influx.Config{URL: cfg.InfluxURL, Token: cfg.InfluxToken, Bucket: cfg.InfluxBucket})
	if err != nil {
		return fmt.Errorf("influxdb: %w", err)
	}
	defer ts.Close()
	if err := pingWithin(ctx, cfg.StartTimeout, ts.Ping); err != nil {
		return fmt.Errorf("influxdb unreachable at %s: %w", cfg.InfluxURL, err)
	}

	// The ticket core; an ingest-only replica needs no PostgreSQL.
	var core *core
	var adminToken string
	if cfg.Only != "ingest" {
		if core, err = openCore(ctx, cfg, log); err != nil {
			return err
		}
		defer core.Close()
		if err := core.enableOps(cfg, ts, log); err != nil {
			return err
		}
		if adminToken, err = core.bootstrapAdmin(ctx, cfg.AdminToken); err != nil {
			return err
		}
		if adminToken != "" && cfg.AdminToken == "" {
			fmt.Fprintf(stdout, "admin token (shown once, keep it): %s\n", adminToken)
		}
	}

	// Rules and prediction consume what ingest stored. What they raise is
	// synced to the signal spool on disk before PostgreSQL takes it.
	predictor := predict.New(predict.Options{})
	var engine *rules.Engine
	var signals *spool.Spool
	if cfg.runs("predict") {
		path := filepath.Join(cfg.DataDir, "signals-"+cfg.ClientID+".db")
		if signals, err = spool.Open(path, core.handleSignal, log.With("component", "spool")); err != nil {
			return err
		}
		defer signals.Close()
		registerSpoolMetrics(reg, signals)
		engine, err = rules.NewEngine(rules.Config{
			Assets:    core.assetLookup(),
			Rules:     core.ruleSource(),
			Signal:    signals.Put,
			Observers: []rules.Observer{predictor},
			Logger:    log.With("component", "rules"),
			MaxCodes:  cfg.MaxCodes,
			MaxAssets: cfg.MaxAssets,
			// Late readings (a replica back with its session's backlog)
			// are re-evaluated from what ingest stored.
			History:         ts,
			LateSettle:      cfg.LateSettle,
			LateMinInterval: cfg.LateMinInterval,
		})
		if err != nil {
			return err
		}
		registerEngineMetrics(reg, engine)
		registerLateMetrics(reg, engine)
		if cfg.Partitions == 0 {
			n, err := engine.WarmStart(ctx, ts, assetLister{ts}, time.Now())
			if err != nil {
				log.Warn("warm start incomplete", "err", err)
			}
			log.Info("warm start", "readings", n)
		}
	}

	// Partitioned detection: this replica evaluates the partitions it
	// holds a lease on, rebuilt from InfluxDB when it takes them.
	var det *detection
	if engine != nil && cfg.Partitions > 0 {
		if det, err = newDetection(cfg, core, engine, signals, ts, reg, log); err != nil {
			return err
		}
	}

	// Ingest. Where the registry is at hand, it tells registered assets
	// from others (the unknown-asset limit) from memory.
	var pipe *ingest.Pipeline
	var known *knownAssets
	var adopter *sessionAdopter
	if cfg.runs("ingest") || cfg.Only == "predict" {
		if core != nil {
			known = newKnownAssets(core.store, log.With("component", "ingest"))
			known.register(reg)
			lctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
			if err := known.load(lctx); err != nil {
				log.Warn("registered asset codes not loaded: every asset counts as registered until they are", "err", err)
			}
			cancel()
		}
		var closePipe func()
		var adopt func(context.Context, string) (*adoptedSession, error)
		if pipe, closePipe, adopt, err = newPipeline(cfg, ts, engine, known, reg, log); err != nil {
			return err
		}
		defer closePipe()
		if adopt != nil {
			adopter = newSessionAdopter(cfg, log, adopt)
			adopter.register(reg)
		}
	}

	// HTTP: the API, or only health, readiness and metrics for worker roles.
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	ready := func(ctx context.Context) error {
		var errs []error
		if core != nil {
			if err := core.Ping(ctx); err != nil {
				errs = append(errs, fmt.Errorf("postgresql: %w", err))
			}
		}
		if pipe != nil {
			errs = append(errs, pipe.Ready(ctx))
		} else if err := ts.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("influxdb: %w", err))
		}
		return errors.Join(errs...)
	}
	handler := workerHandler(metrics, ready)
	if cfg.runs("api") {
		core.gateways = newGatewayLink(cfg, core.store, log.With("component", "gateways"))
		handler, err = core.apiHandler(apiDeps{
			log:     log,
			metrics: metrics,
			ready:   ready,
			ts:      ts,
			pipe:    pipe,
			engine:  engine,
			health: &predict.HealthService{Engine: engine, Assets: coreAssets{core}, Rules: core.ruleSource(),
				History: ts, Predictor: predictor},
			predictor: predictor,
			console: httpapi.ConsoleConfig{MapTilesURL: cfg.MapTilesURL, MapTilesAttribution: cfg.MapTilesAttribution,
				DispatchRebalance: cfg.DispatchRebalance},
			readConcurrency: cfg.APIReadConcurrency,
			orderCacheBytes: orderCacheBytes(cfg.APIOrderCacheMB),
		})
		if err != nil {
			return err
		}
	}
	// Slow or idle clients cannot hold connections: headers within 10 s,
	// the whole request (a 10 MiB attachment) within 60 s, the answer
	// within 60 s (a long stream extends its own deadline with
	// http.ResponseController), idle keep-alives closed after 2 min.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}

	// Start.
	g, gctx := errgroup.WithContext(ctx)
	if det != nil {
		det.init(gctx, 2*cfg.StartTimeout)
		det.start(gctx, g)
	}
	if engine != nil {
		g.Go(func() error { return signals.Run(gctx) })
		g.Go(func() error { return engine.Run(gctx) })
		plog := log.With("component", "predict")
		job := &predict.Job{Engine: engine, History: ts, Assets: assetLister{ts}, Predictor: predictor, Logger: plog}
		ver := &predict.Verifier{Orders: coreAssets{core}, Rules: coreAssets{core}, Assets: coreAssets{core},
			History: ts, Verify: core.svc.Verify, Logger: plog}
		core.startPredictJobs(gctx, g, plog, job, ver, cfg.RepredictEvery, cfg.VerifyEvery)
	}
	if pipe != nil {
		g.Go(func() error { return pipe.Run(gctx) })
	}
	if adopter != nil {
		g.Go(func() error { return adopter.Run(gctx) })
	}
	if known != nil {
		g.Go(func() error { return known.Run(gctx) })
	}
	if core != nil && (engine != nil || known != nil) {
		// Rule and asset changes made through any replica reach this
		// one's engine and ingest at once, not on a periodic reload.
		g.Go(func() error { return core.store.ListenDetectChanges(gctx, detectChanged(gctx, engine, known, log)) })
	}
	if core != nil && core.forgetTokens != nil {
		// Revocations on any replica reach this one's token cache at once.
		g.Go(func() error { return core.store.ListenRevocations(gctx, core.forgetTokens) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	if cfg.runs("api") {
		// The ticket core's jobs (SLA, webhooks, dispatch, reorder,
		// schedules) run beside the API; advisory locks keep each to one
		// replica at a time.
		core.startJobs(gctx, g, log)
		core.startFleetJobs(gctx, g, log, ts)
	}

	log.Info("pdm serving", "http", ln.Addr().String(), "only", cfg.Only, "mqtt", cfg.MQTTURL, "topic_root", cfg.TopicRoot)
	if hooks != nil && hooks.Ready != nil {
		hooks.Ready(ln.Addr().String(), adminToken)
	}
	err = g.Wait()
	log.Info("pdm stopped")
	return err
}

// detectChanged applies a change announced by PostgreSQL to the rules
// engine and the registered asset codes (either may be nil).
func detectChanged(ctx context.Context, engine *rules.Engine, known *knownAssets, log *slog.Logger) func(what string) {
	return func(what string) {
		if what == postgres.ChangedAssets || what == postgres.ChangedAll {
			if engine != nil {
				engine.ForgetAll()
			}
			if known != nil {
				known.poke()
			}
		}
		if engine != nil && (what == postgres.ChangedRules || what == postgres.ChangedAll) {
			if err := engine.Reload(ctx); err != nil && ctx.Err() == nil {
				log.Warn("reload rules after a change", "err", err)
			}
		}
	}
}

// workerHandler serves what a replica without the API still answers:
// health, readiness and metrics, all without a token.
func workerHandler(metrics http.Handler, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /metrics", metrics)
	return mux
}

// newPipeline builds the MQTT → InfluxDB pipeline. With partitions, the
// readings it stores are streamed to their partition's owner (maybe this
// replica) before they are acknowledged; without, they go to this
// replica's engine. With --only predict it is an observer: its own
// subscription, nothing written; with partitions it takes only device
// events (shared among predict replicas), the readings arriving on the
// partition streams, without it sees every reading, unshared.
//
// With partitions and a share group it also returns adopt, which drains
// another replica's ingest session into the same store and streams (see
// sessionAdopter); nil otherwise.
func newPipeline(cfg Config, ts *influx.Client, engine *rules.Engine, known *knownAssets, reg prometheus.Registerer, log *slog.Logger) (
	p *ingest.Pipeline, closeW func(), adopt func(ctx context.Context, clientID string) (*adoptedSession, error), err error) {
	clientID := cfg.ClientID
	topics := ingest.Subscriptions(cfg.TopicRoot, cfg.ShareGroup)
	var w ingest.Writer = ts
	closeW = func() {}
	presence := ""
	switch {
	case cfg.Only == "predict" && cfg.Partitions > 0:
		clientID, w = cfg.ClientID+"-predict", discardWriter{}
		topics = ingest.Subscriptions(cfg.TopicRoot, cfg.ShareGroup+"-predict")[1:]
	case cfg.Only == "predict":
		clientID, w = cfg.ClientID+"-predict", discardWriter{}
		topics = ingest.Subscriptions(cfg.TopicRoot, "")
	case cfg.Partitions > 0:
		pub, err := pmqtt.NewPublisher(pmqtt.Config{URL: cfg.MQTTURL, ClientID: cfg.ClientID, TopicRoot: cfg.TopicRoot,
			Partitions: cfg.Partitions}, ts, log.With("component", "partition"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("mqtt (partition publisher): %w", err)
		}
		w, closeW = pub, pub.Close
		// A client id or group that is not one topic level cannot name a
		// presence topic (nor be adopted).
		if cfg.ShareGroup != "" && !strings.ContainsAny(clientID+cfg.ShareGroup, "/+#") {
			presence = presenceTopic(cfg, clientID)
		}
	}
	src, err := mqtt.New(mqtt.Config{URL: cfg.MQTTURL, ClientID: clientID, Topics: topics, Presence: presence,
		KeepAlive: cfg.MQTTKeepAlive}, log.With("component", "mqtt"))
	if err != nil {
		closeW()
		return nil, nil, nil, fmt.Errorf("mqtt: %w", err)
	}
	deps := ingest.Deps{Source: src, Writer: w, Registerer: reg, Logger: log.With("component", "ingest")}
	if known != nil {
		deps.KnownAsset = known.Known
	}
	if engine != nil {
		deps.Events = engine
		if cfg.Partitions == 0 {
			deps.Consumer = engine
		}
	}
	icfg := ingest.Config{TopicRoot: cfg.TopicRoot, BatchSize: cfg.BatchSize, BatchWait: cfg.BatchInterval,
		Limits: cfg.IngestLimits, IgnoreTags: cfg.IngestIgnoreTags}
	p, err = ingest.NewPipeline(icfg, deps)
	if err != nil {
		closeW()
		return nil, nil, nil, err
	}
	if presence != "" {
		adopt = func(ctx context.Context, id string) (*adoptedSession, error) {
			alog := log.With("adopted", id)
			src, err := mqtt.New(mqtt.Config{URL: cfg.MQTTURL, ClientID: id, Topics: topics, Adopted: true,
				KeepAlive: cfg.MQTTKeepAlive}, alog.With("component", "mqtt"))
			if err != nil {
				return nil, err
			}
			d := deps
			d.Source, d.Registerer, d.Logger = src, nil, alog.With("component", "ingest")
			ap, err := ingest.NewPipeline(icfg, d)
			if err != nil {
				return nil, err
			}
			actx, cancel := context.WithCancel(ctx)
			s := &adoptedSession{cancel: cancel, done: make(chan struct{}), lost: src.Lost()}
			go func() {
				defer close(s.done)
				if err := ap.Run(actx); err != nil {
					alog.Warn("adopted ingest session", "err", err)
				}
			}()
			return s, nil
		}
	}
	return p, closeW, adopt, nil
}

// discardWriter stores nothing: the predict-only role observes readings
// that an ingest replica stores.
type discardWriter struct{}

func (discardWriter) Write(context.Context, []ingest.Reading) error { return nil }

// assetLister adapts the InfluxDB series listing to the rules engine.
type assetLister struct{ c *influx.Client }

func (l assetLister) ListAssets(ctx context.Context, from, to time.Time) ([]rules.AssetCode, error) {
	as, err := l.c.Assets(ctx, nil, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]rules.AssetCode, len(as))
	for i, a := range as {
		out[i] = rules.AssetCode{Site: a.Site, Asset: a.Asset}
	}
	return out, nil
}

// pingWithin retries ping until it answers or d passes.
func pingWithin(ctx context.Context, d time.Duration, ping func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var err error
	for {
		if err = ping(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func migrate(ctx context.Context, cfg Config, stderr io.Writer) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	core, err := openCore(ctx, cfg, log)
	if err != nil {
		return err
	}
	core.Close()
	log.Info("migrations applied")
	return nil
}

// registerLateMetrics exports what the engine does with late readings.
func registerLateMetrics(reg prometheus.Registerer, e *rules.Engine) {
	counter := func(name, help string, f func(rules.LateStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(e.LateStats())) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdm_rules_late_waiting_assets",
			Help: "Assets with late readings waiting to be re-evaluated from InfluxDB."},
			func() float64 { return float64(e.LateStats().Waiting) }),
		counter("pdm_rules_late_reevaluations_total", "Assets re-evaluated from InfluxDB because readings of theirs came late.",
			func(s rules.LateStats) uint64 { return s.Reevaluated }),
		counter("pdm_rules_late_replayed_readings_total", "Readings replayed from InfluxDB by late-reading re-evaluations.",
			func(s rules.LateStats) uint64 { return s.Replayed }),
		counter("pdm_rules_late_reevaluation_failures_total", "Late-reading re-evaluations that could not read InfluxDB (retried).",
			func(s rules.LateStats) uint64 { return s.Failed }),
		counter("pdm_rules_late_dropped_total", "Late readings not re-evaluated because too many assets were waiting.",
			func(s rules.LateStats) uint64 { return s.Dropped }),
	)
}

// orderCacheBytes turns --api-order-cache-mb into httpapi.Config's
// OrderCacheBytes, where 0 is its default size and negative is off.
func orderCacheBytes(mb int) int64 {
	if mb == 0 {
		return -1
	}
	return int64(mb) << 20
}
