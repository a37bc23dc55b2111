package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Options are the agent's dependencies besides its config and queue.
type Options struct {
	Logger  *slog.Logger
	Now     func() time.Time // clock for polled readings and status; default time.Now
	Version string           // reported in the status message
}

// Status is the contract's gateway status message.
type Status struct {
	State    string    `json:"state"`
	TS       time.Time `json:"ts"`
	Version  string    `json:"version"`
	Buffered int64     `json:"buffered"`
	Dropped  int64     `json:"dropped"`
	// ConfigError is the reason the latest config was rejected (the agent
	// keeps running on the previous one); empty when it was applied.
	ConfigError string `json:"config_error,omitempty"`
	// ConfigSHA256 is the hex SHA-256 of the latest config topic payload
	// the agent processed (applied, or rejected with ConfigError), so the
	// platform can tell which of its configs the answer is about.
	ConfigSHA256 string `json:"config_sha256,omitempty"`
}

// Agent is the gateway agent: it runs the sources, applies local rules,
// queues readings on disk and forwards them to the uplink broker.
type Agent struct {
	log     *slog.Logger
	now     func() time.Time
	version string
	q       *Queue
	m       *agentMetrics

	mu        sync.Mutex // guards file, remote, cfg, configErr, configSum, rules
	file      Config     // the config file's settings: the base for remote configs
	remote    *Config    // the remote config accepted last, nil if none
	cfg       Config     // the config in effect
	configErr string
	configSum string // hex SHA-256 of the latest remote payload processed
	rules     *localRules

	remoteIn    chan []byte   // config topic payloads, latest wins
	reload      chan struct{} // sources must restart with a.cfg
	statusKick  chan struct{} // publish the status now
	drainChange chan struct{} // queue settings changed
}

// New returns an agent for a validated config and an open queue. If the
// queue holds a remote config accepted earlier, the agent starts from it.
func New(cfg Config, q *Queue, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Agent{
		log:         opts.Logger,
		now:         opts.Now,
		version:     opts.Version,
		q:           q,
		file:        cfg,
		cfg:         cfg,
		rules:       newLocalRules(cfg.Rules),
		remoteIn:    make(chan []byte, 1),
		reload:      make(chan struct{}, 1),
		statusKick:  make(chan struct{}, 1),
		drainChange: make(chan struct{}, 1),
	}
	a.m = newAgentMetrics(q)
	if saved := q.LoadConfig(); saved != nil {
		if err := a.applyRemote(saved); err != nil {
			a.log.Warn("stored remote config not applied", "err", err)
		}
	}
	if err := q.SetMaxBytes(a.cfg.Queue.MaxBytes); err != nil {
		return nil, err
	}
	return a, nil
}

// Config returns the config in effect.
func (a *Agent) Config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

// Status returns the current status message with the given state.
func (a *Agent) Status(state string) Status {
	s := a.q.Stats()
	a.mu.Lock()
	defer a.mu.Unlock()
	return Status{
		State:        state,
		TS:           a.now().UTC(),
		Version:      a.version,
		Buffered:     s.Items,
		Dropped:      s.Dropped,
		ConfigError:  a.configErr,
		ConfigSHA256: a.configSum,
	}
}

// MetricsHandler serves the agent's Prometheus metrics (cmd mounts it on
// /metrics of the local metrics port).
func (a *Agent) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{})
}

// Submit applies the local rules to readings and stores what remains, and
// the device events the rules raise, durably in the queue. It returns when
// they are on disk.
func (a *Agent) Submit(ctx context.Context, source string, readings []ingest.Reading) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	items := make([]Item, 0, len(readings))
	var suppressed int
	for _, r := range readings {
		r.Site = a.cfg.Site
		r.Gateway = a.cfg.Gateway
		out, ok, events := a.rules.apply(r)
		for _, e := range events {
			items = append(items, Item{IsEvent: true, Event: e})
		}
		suppressed += len(r.Metrics) - len(out.Metrics)
		if ok {
			items = append(items, Item{Reading: out})
		}
	}
	a.mu.Unlock()
	a.m.received.WithLabelValues(source).Add(float64(len(readings)))
	a.m.suppressed.Add(float64(suppressed))
	if _, err := a.q.Append(items); err != nil {
		return err
	}
	for _, it := range items {
		if it.IsEvent {
			a.m.events.Inc()
		}
	}
	return nil
}

// Reload applies a new file config (e.g. on SIGHUP), with the remote config
// accepted last (if any) on top of it: a bad one is rejected and the old one
// kept. Identity and uplink changes take effect at the next connection.
func (a *Agent) Reload(cfg Config) error {
	err := cfg.Validate()
	eff := cfg
	a.mu.Lock()
	remote := a.remote
	a.mu.Unlock()
	if err == nil && remote != nil {
		eff, err = cfg.WithRemote(*remote)
	}
	if err != nil {
		a.RejectConfig(err)
		return fmt.Errorf("config rejected: %w", err)
	}
	a.mu.Lock()
	a.file = cfg
	a.mu.Unlock()
	a.setConfig(eff)
	return nil
}

// applyRemote applies a config topic payload on top of the file config.
func (a *Agent) applyRemote(payload []byte) error {
	sum := sha256.Sum256(payload)
	a.mu.Lock()
	a.configSum = hex.EncodeToString(sum[:])
	a.mu.Unlock()
	r, err := ParseConfigJSON(payload)
	if err == nil {
		a.mu.Lock()
		file := a.file
		a.mu.Unlock()
		var c Config
		c, err = file.WithRemote(r)
		if err == nil {
			a.mu.Lock()
			a.remote = &r
			a.mu.Unlock()
			a.setConfig(c)
			if serr := a.q.SaveConfig(payload); serr != nil {
				a.log.Warn("remote config not stored", "err", serr)
			}
			return nil
		}
	}
	a.RejectConfig(err)
	return err
}

// RejectConfig records that a config was rejected: the agent keeps the
// previous one and reports err in its status message.
func (a *Agent) RejectConfig(err error) {
	a.m.configRejected.Inc()
	a.mu.Lock()
	a.configErr = err.Error()
	a.mu.Unlock()
	a.log.Warn("config rejected, keeping the previous one", "err", err)
	kick(a.statusKick)
}

func (a *Agent) setConfig(c Config) {
	a.mu.Lock()
	old := a.cfg
	a.cfg = c
	a.configErr = ""
	a.rules.setConfig(c.Rules)
	a.mu.Unlock()
	if !reflect.DeepEqual(old.Sources, c.Sources) {
		kick(a.reload)
	}
	if old.Queue != c.Queue {
		if err := a.q.SetMaxBytes(c.Queue.MaxBytes); err != nil {
			a.log.Warn("queue bound not changed", "err", err)
		}
		kick(a.drainChange)
	}
	a.m.configApplied.Inc()
	a.log.Info("config applied", "modbus_devices", len(c.Sources.Modbus), "mqtt_sources", len(c.Sources.MQTT),
		"deadbands", len(c.Rules.Deadband), "alarms", len(c.Rules.Alarms), "drain", c.Queue.Drain)
	kick(a.statusKick)
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run runs the sources and the uplink until ctx ends, then publishes the
// offline status and returns. It returns nil on a clean shutdown.
func (a *Agent) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.runSources(ctx) })
	g.Go(func() error { return a.runUplink(ctx) })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case p := <-a.remoteIn:
				if err := a.applyRemote(p); err == nil {
					a.log.Info("remote config accepted")
				}
			}
		}
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// runSources runs the configured sources, restarting them when the config
// changes.
func (a *Agent) runSources(ctx context.Context) error {
	for {
		cfg := a.Config()
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, d := range cfg.Sources.Modbus {
			p := newModbusPoller(d, a.log, a.now, a.Submit, a.m.sourceErrors.WithLabelValues(sourceName("modbus", d.Name, d.URL)))
			wg.Go(func() { p.run(sctx) })
		}
		for _, s := range cfg.Sources.MQTT {
			src := newMQTTSource(s, cfg.Gateway, a.log, a.now, a.Submit, a.m.sourceErrors.WithLabelValues(sourceName("mqtt", s.Name, s.URL)))
			wg.Go(func() { src.run(sctx) })
		}
		select {
		case <-ctx.Done():
		case <-a.reload:
		}
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func sourceName(kind, name, url string) string {
	if name == "" {
		name = url
	}
	return kind + ":" + name
}

// agentMetrics are the agent's Prometheus metrics on its own registry.
type agentMetrics struct {
	reg            *prometheus.Registry
	received       *prometheus.CounterVec
	suppressed     prometheus.Counter
	events         prometheus.Counter
	sent           prometheus.Counter
	messages       prometheus.Counter
	publishErrors  prometheus.Counter
	connected      prometheus.Gauge
	sourceErrors   *prometheus.CounterVec
	configApplied  prometheus.Counter
	configRejected prometheus.Counter
}

func newAgentMetrics(q *Queue) *agentMetrics {
	reg := prometheus.NewRegistry()
	m := &agentMetrics{
		reg: reg,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdm_edge_readings_received_total", Help: "Readings taken from sources.",
		}, []string{"source"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_values_suppressed_total", Help: "Metric values suppressed by deadband / report by exception.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_events_total", Help: "Device events raised by local alarms.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_items_sent_total", Help: "Readings and events acknowledged by the uplink broker.",
		}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_messages_sent_total", Help: "Messages acknowledged by the uplink broker.",
		}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_publish_errors_total", Help: "Uplink sessions ended by a publish or connection error.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_edge_uplink_connected", Help: "1 while connected to the uplink broker.",
		}),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdm_edge_source_errors_total", Help: "Source errors (failed polls, rejected payloads).",
		}, []string{"source"}),
		configApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_config_applied_total", Help: "Configs applied.",
		}),
		configRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_edge_config_rejected_total", Help: "Configs rejected (the previous one was kept).",
		}),
	}
	reg.MustRegister(m.received, m.suppressed, m.events, m.sent, m.messages, m.publishErrors,
		m.connected, m.sourceErrors, m.configApplied, m.configRejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pdm_edge_queue_items", Help: "Readings and events waiting in the disk queue.",
		}, func() float64 { return float64(q.Stats().Items) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pdm_edge_queue_bytes", Help: "Stored size of the disk queue.",
		}, func() float64 { return float64(q.Stats().Bytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "pdm_edge_queue_dropped_total", Help: "Oldest items dropped because the queue was full.",
		}, func() float64 { return float64(q.Stats().Dropped) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// statusJSON encodes a status message.
func statusJSON(s Status) []byte {
	b, _ := json.Marshal(s) // a Status always encodes
	return b
}
