package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/claims"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/mailin"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/requests"
)

// core is the ticket core as this process uses it: the pool, the store and
// the service, with the adapters other parts are bound through.
type core struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	svc   *workorders.Service
	// forgetTokens drops the API's cached tokens (set once the API exists).
	forgetTokens func()

	// The operations side: dispatch, inventory, knowledge, schedules.
	ops   httpapi.OpsConfig
	disp  *workorders.DispatchRunner
	inv   *workorders.Inventory
	sched *workorders.Scheduler
	// jobs holds the jobs' intervals (--sla-every and the like).
	jobs Config
	// field: the engineers' app's location history and ETAs.
	field httpapi.FieldConfig
	// claims: dispatch policies and claim mode.
	claims *claims.Claims
	// Customers' requests and status links (customers.go).
	reqs      *requests.Service
	notifier  *notify.Notifier
	publicURL string
	// mail is the email intake's SMTP listener (nil without PDM_MAIL_ADDR).
	mail *mailin.Server
	// live streams changes to the console (GET /api/v1/events).
	live *httpapi.Hub
	// fleetJobs runs the API's trainings off the request path (fleet.go).
	fleetJobs *fleet.Jobs
	// gateways: the edge gateways' status, config and alerts (gateways.go).
	gateways *gatewayLink
}

// openCore connects to PostgreSQL, applies the migrations (under an
// advisory lock, so replicas may start together) and builds the service.
func openCore(ctx context.Context, cfg Config, log *slog.Logger) (*core, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.PGURL)
	if err != nil {
		return nil, fmt.Errorf("postgresql: bad PDM_PG_URL: %w", err)
	}
	if !strings.Contains(cfg.PGURL, "pool_max_conns") {
		// pgxpool's default (the CPU count, at least 4) starves the API,
		// the jobs and ingest's signal delivery on small machines.
		pcfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	if err := pingWithin(ctx, cfg.StartTimeout, pool.Ping); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgresql unreachable at %s: %w", cfg.PGURL, err)
	}
	if err := postgres.MigrateLog(ctx, pool, log.With("component", "migrate")); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgresql: migrate: %w", err)
	}
	store := postgres.New(pool).WithFleetLead(cfg.FleetLead)
	svc := workorders.NewService(store, log.With("component", "workorders"), time.Now)
	svc.AllowPrivateWebhooks = cfg.WebhookAllowPrivate
	return &core{pool: pool, store: store, svc: svc}, nil
}

// enableOps builds dispatch, inventory, knowledge and preventive schedules
// (meter-based schedules read running hours from InfluxDB) and hooks them to
// the life cycle: approval and decline trigger dispatch, assignment reserves
// parts, completion consumes them.
func (c *core) enableOps(cfg Config, ts *influx.Client, log *slog.Logger) error {
	ops := postgres.NewOps(c.pool)
	c.inv = workorders.NewInventory(c.svc, ops, log.With("component", "inventory"), time.Now)
	dcfg := dispatch.DefaultConfig()
	dcfg.RoadFactor, dcfg.SpeedKmh, dcfg.LoadWeight = cfg.RoadFactor, cfg.SpeedKmh, cfg.LoadWeight
	disp, err := workorders.NewDispatchRunner(c.svc, ops, c.inv, dcfg, log.With("component", "dispatch"), time.Now)
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	disp.Interval = cfg.DispatchEvery
	c.disp = disp
	c.jobs = cfg
	c.svc.AfterTransition = disp.AfterTransition
	c.svc.CheckPartsUsed = c.inv.CheckUsed
	eta := workorders.ETAEstimator{Store: ops, Travel: dcfg}
	c.svc.EstimateETA = eta.Estimate
	c.field = httpapi.FieldConfig{Locations: ops, ETA: eta.Estimate, Mentions: c.store}
	c.claims = &claims.Claims{Store: ops, Ops: ops, Svc: c.svc, Now: time.Now}
	disp.Withhold = c.claims.Withhold
	meter := func(ctx context.Context, site, asset, metric string, from, to time.Time) ([]workorders.MeterSample, error) {
		pts, err := ts.Series(ctx, site, asset, metric, from, to, 0)
		if err != nil {
			return nil, err
		}
		out := make([]workorders.MeterSample, len(pts))
		for i, p := range pts {
			out[i] = workorders.MeterSample{TS: p.TS, Value: p.Value}
		}
		return out, nil
	}
	c.sched = workorders.NewScheduler(c.svc, ops, meter, log.With("component", "schedules"), time.Now)
	c.enableCustomers(cfg, log)
	c.ops = httpapi.OpsConfig{Store: ops, Dispatch: disp, Inventory: c.inv, KPIs: ops,
		Knowledge: workorders.NewKnowledge(c.svc, ops), Schedules: c.sched}
	return nil
}

func (c *core) Close() { c.pool.Close() }

func (c *core) Ping(ctx context.Context) error { return c.pool.Ping(ctx) }

// bootstrapAdmin ensures an admin with the given token exists, or creates
// one with a generated token when none exists; it returns the token to show
// (empty when nothing new was created).
func (c *core) bootstrapAdmin(ctx context.Context, token string) (string, error) {
	t, err := c.svc.BootstrapAdmin(ctx, token)
	if err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	return t, nil
}

// handleSignal delivers a rule's or prediction's signal to the ticket core.
// Signals the core can never accept (their asset is gone, the rule is
// invalid) are marked permanent so the outbox drops them.
func (c *core) handleSignal(ctx context.Context, s rules.Signal) error {
	err := c.svc.HandleSignal(ctx, s)
	var verr *workorders.ValidationError
	if errors.Is(err, workorders.ErrNotFound) || errors.As(err, &verr) {
		return fmt.Errorf("%w: %w", rules.ErrRejected, err)
	}
	return err
}

type assetLookup struct{ store *postgres.Store }

func (c *core) assetLookup() rules.AssetLookup { return assetLookup{c.store} }

// lookupTimeout bounds one asset lookup, so a hung PostgreSQL delays
// evaluation (the engine holds and retries the readings) instead of
// blocking the ingest hand-off.
const lookupTimeout = 3 * time.Second

func (l assetLookup) Asset(ctx context.Context, site, code string) (rules.AssetRef, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	a, err := l.store.AssetByCode(ctx, site, code)
	if errors.Is(err, workorders.ErrNotFound) {
		return rules.AssetRef{}, false, nil
	}
	if err != nil {
		return rules.AssetRef{}, false, err
	}
	return rules.AssetRef{Site: a.SiteCode, Code: a.Code, ID: a.ID, Type: a.Type}, true, nil
}

type ruleSource struct{ store *postgres.Store }

func (c *core) ruleSource() rules.RuleSource { return ruleSource{c.store} }

func (s ruleSource) Rules(ctx context.Context) ([]rules.Rule, error) {
	return s.store.EnabledRules(ctx)
}

// apiDeps is what the HTTP API is bound to besides the ticket core.
type apiDeps struct {
	log     *slog.Logger
	metrics http.Handler
	ready   func(context.Context) error
	ts      *influx.Client
	pipe    *ingest.Pipeline // nil when this process runs no ingest
	engine  *rules.Engine    // nil when this process runs no rules
	health  *predict.HealthService
	// predictor runs in backtests as it runs in the engine.
	predictor *predict.Predictor
	apiOnly   bool // false: serve only health, readiness and metrics
	console   httpapi.ConsoleConfig
	// readConcurrency is httpapi.Config.ReadConcurrency.
	readConcurrency int
	// orderCacheBytes is httpapi.Config.OrderCacheBytes.
	orderCacheBytes int64
}

func (c *core) apiHandler(d apiDeps) (http.Handler, error) {
	c.live = httpapi.NewHub(c.store, d.log.With("component", "live"))
	hcfg := httpapi.Config{
		Service:   c.svc,
		Log:       d.log.With("component", "api"),
		Ready:     d.ready,
		Metrics:   d.metrics,
		Telemetry: telemetryReader{d.ts},
		Health:    healthProvider{d.health},
		Ops:       c.ops,
		Requests:  c.requestsConfig(d.log),
		Sessions:  c.store,
		Field:     c.field,
		// Idempotency-Key records live in PostgreSQL: a retry after a
		// restart is answered, not applied again.
		Idempotency: postgres.NewIdempotency(c.pool),
		Console:     d.console,
		Live:        c.live,
		Gateways:    c.gateways.service(),
		Fleet:       c.fleetConfig(d.ts),
		Backtester: backtester{
			bt:     &rules.Backtester{History: d.ts, Observers: []rules.Observer{d.predictor}},
			assets: c.store,
		},
	}
	hcfg.ReadConcurrency = d.readConcurrency
	hcfg.OrderCacheBytes = d.orderCacheBytes
	if d.pipe != nil {
		hcfg.Rejects = rejects{d.pipe}
	}
	if c.claims != nil {
		hcfg.Claims, hcfg.Policies = c.claims, c.claims.Store
	}
	srv, err := httpapi.New(hcfg)
	if err != nil {
		return nil, err
	}
	var api http.Handler = srv
	c.forgetTokens = srv.ForgetTokens
	if d.engine != nil {
		api = applyChanges(srv, d.engine, d.log)
	}
	h, err := withWeb(api)
	if err != nil {
		return nil, err
	}
	return publicPages(c.reqs, h), nil
}

type rejects struct{ p *ingest.Pipeline }

func (r rejects) Rejects(context.Context) []httpapi.Reject {
	in := r.p.Rejects()
	out := make([]httpapi.Reject, len(in))
	for i, x := range in {
		out[i] = httpapi.Reject{At: x.Time, Topic: x.Topic, Reason: string(x.Reason), Payload: x.Payload}
	}
	return out
}

type telemetryReader struct{ c *influx.Client }

func (t telemetryReader) Telemetry(ctx context.Context, q httpapi.TelemetryQuery) ([]httpapi.Series, error) {
	if q.Metric == "" {
		return t.all(ctx, q)
	}
	pts, err := t.c.Series(ctx, q.SiteCode, q.AssetCode, q.Metric, q.From, q.To, q.Every)
	if err != nil {
		return nil, err
	}
	return []httpapi.Series{seriesOf(q.Metric, pts)}, nil
}

// all reads every metric the asset has in the range, by name: step means
// when q.Every is set, else the raw readings.
func (t telemetryReader) all(ctx context.Context, q httpapi.TelemetryQuery) ([]httpapi.Series, error) {
	var set map[string][]influx.Point
	if q.Every > 0 {
		var err error
		if set, err = t.c.SeriesAll(ctx, q.SiteCode, q.AssetCode, q.From, q.To, q.Every); err != nil {
			return nil, err
		}
	} else {
		rds, err := t.c.ReadReadings(ctx, q.SiteCode, q.AssetCode, nil, q.From, q.To)
		if err != nil {
			return nil, err
		}
		set = map[string][]influx.Point{}
		for _, r := range rds {
			for _, m := range r.Metrics {
				set[m.Name] = append(set[m.Name], influx.Point{TS: r.TS, Value: m.Value})
			}
		}
	}
	out := make([]httpapi.Series, 0, len(set))
	for _, m := range slices.Sorted(maps.Keys(set)) {
		out = append(out, seriesOf(m, set[m]))
	}
	return out, nil
}

func seriesOf(metric string, pts []influx.Point) httpapi.Series {
	s := httpapi.Series{Metric: metric, Points: make([]httpapi.Point, len(pts))}
	for i, p := range pts {
		s.Points[i] = httpapi.Point{TS: p.TS, Value: p.Value}
	}
	return s
}

// backtester finds the assets a rule covers and replays their history.
type backtester struct {
	bt     *rules.Backtester
	assets *postgres.Store
}

func (b backtester) Backtest(ctx context.Context, r rules.Rule, from, to time.Time) ([]rules.Signal, error) {
	var refs []rules.AssetRef
	if r.AssetID != "" {
		a, err := b.assets.GetAsset(ctx, r.AssetID)
		if err != nil {
			return nil, err
		}
		refs = append(refs, rules.AssetRef{Site: a.SiteCode, Code: a.Code, ID: a.ID, Type: a.Type})
	} else {
		page := workorders.Page{Limit: 500}
		for {
			as, next, err := b.assets.ListAssets(ctx, workorders.AssetFilter{Type: r.AssetType, Page: page})
			if err != nil {
				return nil, err
			}
			for _, a := range as {
				refs = append(refs, rules.AssetRef{Site: a.SiteCode, Code: a.Code, ID: a.ID, Type: a.Type})
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	res, err := b.bt.Backtest(ctx, r, refs, from, to)
	if err != nil {
		return nil, err
	}
	return res.Signals, nil
}

// startJobs schedules the ticket core's background work: the SLA job every
// minute (robfig/cron, one replica at a time through an advisory lock) and
// the webhook dispatcher.
func (c *core) startJobs(ctx context.Context, g *errgroup.Group, log *slog.Logger) {
	cl := cronLogger{log.With("component", "cron")}
	cr := cron.New(cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)), cron.WithLogger(cl))
	every := func(d time.Duration, name string, job func(context.Context) error) {
		cr.Schedule(cron.Every(d), cron.FuncJob(func() {
			if err := job(ctx); err != nil && ctx.Err() == nil {
				log.Warn("job failed", "job", name, "err", err)
			}
		}))
	}
	if c.live != nil {
		g.Go(func() error { return c.live.Run(ctx) })
	}
	if c.gateways != nil {
		g.Go(func() error { return c.gateways.Run(ctx) })
	}
	every(c.jobs.SLAEvery, "sla", workorders.NewSLAJob(c.svc).Run)
	every(c.jobs.ReorderEvery, "reorder", c.inv.ReorderJob)
	every(c.jobs.SchedulesEvery, "schedules", c.sched.Job)
	if c.jobs.DispatchRebalance == "auto" {
		every(c.jobs.DispatchEvery, "rebalance", c.disp.RebalanceJob)
	}
	cr.Start()
	g.Go(func() error { return c.disp.Loop(ctx) })
	g.Go(func() error {
		<-ctx.Done()
		<-cr.Stop().Done()
		return nil
	})
	wh := workorders.NewDispatcher(c.svc)
	g.Go(func() error { return wh.Run(ctx) })
	g.Go(func() error { return c.notifier.Run(ctx) })
	if c.mail != nil {
		g.Go(func() error { return c.mail.Run(ctx) })
	}
}

// cronLogger adapts slog to robfig/cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg, append(kv, "err", err)...)
}

// applyChanges makes rule and asset changes made through this process's API
// take effect in its rules engine at once, before the answer (other
// replicas reload on PostgreSQL's notification, see ListenDetectChanges).
func applyChanges(next http.Handler, e *rules.Engine, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		if rw.status >= 300 {
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/rules") && !strings.HasSuffix(r.URL.Path, "/backtest"):
			if err := e.Reload(r.Context()); err != nil {
				log.Warn("reload rules after a change", "err", err)
			}
		case strings.HasPrefix(r.URL.Path, "/api/v1/assets"), strings.HasPrefix(r.URL.Path, "/api/v1/sites"):
			e.ForgetAll()
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
