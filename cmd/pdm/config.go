package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/workorders/mailin"
)

// Config is every setting of pdm. Each has a flag and an environment
// variable (the contract's names); the flag wins.
type Config struct {
	HTTPAddr     string
	MQTTURL      string
	TopicRoot    string
	InfluxURL    string
	InfluxBucket string
	InfluxToken  string
	PGURL        string
	AdminToken   string
	// Customers' pages and notifications (customers.go).
	PublicURL, SMTPAddr, SMTPFrom string
	// Email intake (workorders/mailin): the SMTP listener's address
	// (empty: none), its mailboxes (address=SITE[/ASSET],...), the largest
	// message and the messages one sender may send an hour.
	MailAddr      string
	MailMailboxes string
	MailMaxBytes  int
	MailPerHour   int
	// LabelFont lists the fonts asset labels are drawn with (PDM_LABEL_FONT).
	LabelFont string

	Only       string // "" (all roles), "ingest", "api", "predict"
	ShareGroup string // MQTT shared subscription group; empty: no sharing
	ClientID   string // MQTT client id of this replica (stable across restarts)
	LogLevel   string
	LogFormat  string // text or json

	StartTimeout time.Duration // how long to wait for a dependency at start

	BatchSize     int
	BatchInterval time.Duration

	// Ingest bounds (ingest.Limits) and line protocol tags not folded into
	// metric names.
	IngestLimits     ingest.Limits
	IngestIgnoreTags []string

	// Dispatch cost model: travel time is great-circle distance × RoadFactor
	// / SpeedKmh; LoadWeight weighs an engineer's open jobs.
	RoadFactor, SpeedKmh, LoadWeight float64

	// Detection across replicas: assets hash into Partitions partitions
	// (0: every replica evaluates what it ingests itself, for a single
	// replica); each is owned by one replica at a time through a lease of
	// LeaseTTL; readings wait ReorderWindow at their owner to be put back
	// in event order.
	Partitions int
	LeaseTTL   time.Duration
	// PartitionSession prefixes the broker sessions of the partition
	// streams (default: the share group).
	PartitionSession string
	ReorderWindow    time.Duration
	// An asset whose readings came late is re-evaluated from InfluxDB
	// once they have stopped for LateSettle, at most every
	// LateMinInterval.
	LateSettle, LateMinInterval time.Duration
	// MQTTKeepAlive of the ingest session: a replica whose connection
	// dies without a word (its host dropped off the network) is seen as
	// away, and its session adopted, 1.5 keep-alives later.
	MQTTKeepAlive time.Duration

	// Bounds of the detection state: asset codes looked up (found or
	// not) and assets with rule state.
	MaxCodes, MaxAssets int

	// DataDir holds the signal spool (signals-{client id}.db).
	DataDir string

	RepredictEvery time.Duration // re-prediction over history
	VerifyEvery    time.Duration // verification of completed orders
	// The fleet model (cmd/pdm/fleet.go): retraining, scoring, order lead.
	FleetRetrain, FleetScoreEvery, FleetLead time.Duration
	// FleetScoreConcurrency is how many assets fleet scoring scores at once.
	FleetScoreConcurrency int
	// FleetScoreBatch is how many assets' histories scoring reads in one
	// InfluxQL query (1: one Flux query an asset, for an InfluxDB 2.x
	// bucket without a DBRP mapping).
	FleetScoreBatch int

	// How often the ticket core's jobs run (each on one replica at a time).
	SLAEvery       time.Duration // SLA at-risk, breach and escalation
	ReorderEvery   time.Duration // purchase requests below reorder points
	SchedulesEvery time.Duration // preventive schedules' orders
	DispatchEvery  time.Duration // periodic dispatch (besides the triggered runs)
	// DispatchRebalance is what happens when re-planning assigned, not yet
	// accepted orders lowers the total cost: propose (the board shows the
	// moves for a planner to approve), auto (they move) or off.
	DispatchRebalance string
	// GatewayOfflineAfter is how long a gateway may be offline before the
	// console shows its alert.
	GatewayOfflineAfter time.Duration

	// MapTilesURL is a map tile server for the console ({z}/{x}/{y});
	// empty: the console's offline base layer only.
	MapTilesURL string
	// MapTilesAttribution is shown on the map with the tiles.
	MapTilesAttribution string
	// WebhookAllowPrivate lets webhooks target private networks.
	WebhookAllowPrivate bool
	// APIReadConcurrency bounds the order list, detail and /me/jobs
	// requests served at once (httpapi.Config.ReadConcurrency).
	APIReadConcurrency int
	// GCPercent is the garbage collector's target (runtime/debug
	// SetGCPercent) when the GOGC variable is not set: 400 by default, as
	// the order lists' tail latency measured best (bench/tickets.md); 0
	// leaves Go's default (100).
	GCPercent int
	// APIOrderCacheMB bounds the cache of rendered orders the order lists
	// answer from, in MiB (httpapi.Config.OrderCacheBytes); 0 turns it off.
	APIOrderCacheMB int

	// Demo only.
	Scenario string
	Seed     bool
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("pdm "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	fs.StringVar(&c.HTTPAddr, "http-addr", envOr(getenv, "PDM_HTTP_ADDR", "127.0.0.1:8080"), "REST API address (PDM_HTTP_ADDR)")
	fs.StringVar(&c.MQTTURL, "mqtt-url", envOr(getenv, "PDM_MQTT_URL", "tcp://127.0.0.1:1883"), "MQTT broker URL (PDM_MQTT_URL)")
	fs.DurationVar(&c.MQTTKeepAlive, "mqtt-keepalive", envDuration(getenv, "PDM_MQTT_KEEPALIVE", 30*time.Second), "MQTT keep-alive of the ingest session; the broker drops a silent connection after 1.5 of it (PDM_MQTT_KEEPALIVE)")
	fs.StringVar(&c.TopicRoot, "mqtt-topic-root", envOr(getenv, "PDM_MQTT_TOPIC_ROOT", "pdm/v1"), "MQTT topic root (PDM_MQTT_TOPIC_ROOT)")
	fs.StringVar(&c.InfluxURL, "influx-url", envOr(getenv, "PDM_INFLUX_URL", "http://127.0.0.1:8086"), "InfluxDB URL (PDM_INFLUX_URL)")
	fs.StringVar(&c.InfluxBucket, "influx-bucket", envOr(getenv, "PDM_INFLUX_BUCKET", "pdm"), "InfluxDB bucket, on 1.8 database/retention (PDM_INFLUX_BUCKET)")
	fs.StringVar(&c.InfluxToken, "influx-token", envOr(getenv, "PDM_INFLUX_TOKEN", ""), "InfluxDB token, on 1.8 user:password (PDM_INFLUX_TOKEN)")
	fs.StringVar(&c.PGURL, "pg-url", envOr(getenv, "PDM_PG_URL", "postgres:///pdm?host=/var/run/postgresql"), "PostgreSQL connection string (PDM_PG_URL)")
	fs.StringVar(&c.AdminToken, "admin-token", envOr(getenv, "PDM_ADMIN_TOKEN", ""), "bootstrap admin bearer token; generated and printed once when empty (PDM_ADMIN_TOKEN)")
	fs.StringVar(&c.PublicURL, "public-url", envOr(getenv, "PDM_PUBLIC_URL", ""), "this server's public address for links in messages, e.g. https://pdm.example.com (PDM_PUBLIC_URL)")
	fs.StringVar(&c.SMTPAddr, "smtp-addr", envOr(getenv, "PDM_SMTP_ADDR", ""), "SMTP relay host:port for notification email; empty sends none (PDM_SMTP_ADDR)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", envOr(getenv, "PDM_SMTP_FROM", "pdm@localhost"), "sender address of notification email (PDM_SMTP_FROM)")
	fs.StringVar(&c.MailAddr, "mail-addr", envOr(getenv, "PDM_MAIL_ADDR", ""), "SMTP listener for emailed requests, e.g. :2525; empty: none (PDM_MAIL_ADDR)")
	fs.StringVar(&c.MailMailboxes, "mail-mailboxes", envOr(getenv, "PDM_MAIL_MAILBOXES", ""), "mailboxes the SMTP listener accepts and their sites: service@pdm.example.com=PLANT1,pump7@pdm.example.com=PLANT1/P-7 (PDM_MAIL_MAILBOXES)")
	fs.IntVar(&c.MailMaxBytes, "mail-max-bytes", envInt(getenv, "PDM_MAIL_MAX_BYTES", 25<<20), "largest email accepted, bytes (PDM_MAIL_MAX_BYTES)")
	fs.IntVar(&c.MailPerHour, "mail-per-hour", envInt(getenv, "PDM_MAIL_PER_HOUR", 20), "emails one sender address may send an hour (PDM_MAIL_PER_HOUR)")
	fs.StringVar(&c.LabelFont, "label-font", envOr(getenv, "PDM_LABEL_FONT", ""), "font files for asset labels, separated by ':'; each character is drawn with the first that has it; empty: DejaVu Sans and Droid Sans Fallback from their Debian packages (PDM_LABEL_FONT)")
	fs.StringVar(&c.Only, "only", envOr(getenv, "PDM_ONLY", ""), "run one role only: ingest, api or predict (PDM_ONLY)")
	fs.StringVar(&c.ShareGroup, "share-group", envOr(getenv, "PDM_SHARE_GROUP", "pdm-ingest"), "MQTT shared subscription group; empty to subscribe unshared (PDM_SHARE_GROUP)")
	fs.StringVar(&c.ClientID, "client-id", envOr(getenv, "PDM_CLIENT_ID", "pdm-"+host), "MQTT client id of this replica, stable across restarts (PDM_CLIENT_ID)")
	fs.StringVar(&c.MapTilesURL, "map-tiles-url", envOr(getenv, "PDM_MAP_TILES_URL", ""), "map tile server URL template with {z}/{x}/{y} for the console; empty: offline base layer only (PDM_MAP_TILES_URL)")
	fs.StringVar(&c.MapTilesAttribution, "map-tiles-attribution", envOr(getenv, "PDM_MAP_TILES_ATTRIBUTION", ""), "attribution shown with the map tiles (PDM_MAP_TILES_ATTRIBUTION)")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "PDM_LOG_LEVEL", "info"), "log level: debug, info, warn, error (PDM_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(getenv, "PDM_LOG_FORMAT", "text"), "log format: text or json (PDM_LOG_FORMAT)")
	fs.DurationVar(&c.StartTimeout, "start-timeout", 15*time.Second, "how long to wait at start for PostgreSQL and InfluxDB to answer")
	fs.IntVar(&c.BatchSize, "batch-size", 5000, "readings per InfluxDB write")
	fs.DurationVar(&c.BatchInterval, "batch-interval", 100*time.Millisecond, "longest a reading waits for its batch")
	fs.IntVar(&c.IngestLimits.MaxMetricsPerReading, "ingest-max-metrics-per-reading", envInt(getenv, "PDM_INGEST_MAX_METRICS_PER_READING", 500), "metrics one reading may carry (PDM_INGEST_MAX_METRICS_PER_READING)")
	fs.IntVar(&c.IngestLimits.MaxMetricsPerAsset, "ingest-max-metrics-per-asset", envInt(getenv, "PDM_INGEST_MAX_METRICS_PER_ASSET", 1000), "distinct metric names one asset may have (PDM_INGEST_MAX_METRICS_PER_ASSET)")
	fs.IntVar(&c.IngestLimits.MaxAssets, "ingest-max-assets", envInt(getenv, "PDM_INGEST_MAX_ASSETS", 100_000), "assets whose state ingest remembers, least recently seen forgotten first (PDM_INGEST_MAX_ASSETS)")
	fs.IntVar(&c.IngestLimits.MaxSeries, "ingest-max-series", envInt(getenv, "PDM_INGEST_MAX_SERIES", 500_000), "(asset, metric) names ingest remembers (PDM_INGEST_MAX_SERIES)")
	fs.IntVar(&c.IngestLimits.MaxUnknownAssets, "ingest-max-unknown-assets", envInt(getenv, "PDM_INGEST_MAX_UNKNOWN_ASSETS", 10_000), "unregistered assets tracked at once (PDM_INGEST_MAX_UNKNOWN_ASSETS)")
	fs.DurationVar(&c.IngestLimits.UnknownAssetIdle, "ingest-unknown-asset-idle", envDuration(getenv, "PDM_INGEST_UNKNOWN_ASSET_IDLE", 10*time.Minute), "an unregistered asset silent this long gives its place among the tracked ones to another (PDM_INGEST_UNKNOWN_ASSET_IDLE)")
	fs.IntVar(&c.IngestLimits.MaxGateways, "ingest-max-gateways", envInt(getenv, "PDM_INGEST_MAX_GATEWAYS", 4096), "gateways whose recent seq numbers are checked for conflicts (PDM_INGEST_MAX_GATEWAYS)")
	ignoreTags := fs.String("ingest-ignore-tags", envOr(getenv, "PDM_INGEST_IGNORE_TAGS", ""), "comma-separated line protocol tags dropped instead of folded into metric names, e.g. host (PDM_INGEST_IGNORE_TAGS)")
	fs.Float64Var(&c.RoadFactor, "dispatch-road-factor", envFloat(getenv, "PDM_DISPATCH_ROAD_FACTOR", 1.3), "road distance per great-circle distance (PDM_DISPATCH_ROAD_FACTOR)")
	fs.Float64Var(&c.SpeedKmh, "dispatch-speed-kmh", envFloat(getenv, "PDM_DISPATCH_SPEED_KMH", 50), "average travel speed in km/h (PDM_DISPATCH_SPEED_KMH)")
	fs.Float64Var(&c.LoadWeight, "dispatch-load-weight", envFloat(getenv, "PDM_DISPATCH_LOAD_WEIGHT", 30), "cost in minutes per open job an engineer already has (PDM_DISPATCH_LOAD_WEIGHT)")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "PDM_DATA_DIR", defaultDataDir(getenv)), "directory of the signal spool: raised signals wait there, synced to disk, until PostgreSQL takes them (PDM_DATA_DIR)")
	fs.IntVar(&c.MaxCodes, "detect-max-codes", envInt(getenv, "PDM_DETECT_MAX_CODES", 100_000), "asset codes whose registry lookup detection caches, found or not; beyond, the oldest are evicted and counted (PDM_DETECT_MAX_CODES)")
	fs.IntVar(&c.MaxAssets, "detect-max-assets", envInt(getenv, "PDM_DETECT_MAX_ASSETS", 200_000), "assets with rule state per replica; beyond, the least recently reporting lose it and are counted (PDM_DETECT_MAX_ASSETS)")
	fs.IntVar(&c.Partitions, "partitions", envInt(getenv, "PDM_PARTITIONS", 32), "detection partitions shared out among replicas through leases in PostgreSQL; 0: each replica evaluates what it ingests (one replica only) (PDM_PARTITIONS)")
	fs.StringVar(&c.PartitionSession, "partition-session", envOr(getenv, "PDM_PARTITION_SESSION", ""), "prefix of the broker sessions of the partition streams, the same on every replica (default: the share group) (PDM_PARTITION_SESSION)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", envDuration(getenv, "PDM_LEASE_TTL", 15*time.Second), "how long a partition lease lasts unrenewed: a dead replica's partitions move after at most 4/3 of it (PDM_LEASE_TTL)")
	fs.DurationVar(&c.LateSettle, "late-settle", envDuration(getenv, "PDM_LATE_SETTLE", 2*time.Second), "an asset whose readings came late is re-evaluated from InfluxDB once they have stopped coming for this long (PDM_LATE_SETTLE)")
	fs.DurationVar(&c.LateMinInterval, "late-min-interval", envDuration(getenv, "PDM_LATE_MIN_INTERVAL", 10*time.Second), "the least time between two re-evaluations of one asset's late readings (PDM_LATE_MIN_INTERVAL)")
	fs.DurationVar(&c.ReorderWindow, "reorder-window", envDuration(getenv, "PDM_REORDER_WINDOW", time.Second), "how long streamed readings wait at their partition's owner to be put back in event order (PDM_REORDER_WINDOW)")
	fs.DurationVar(&c.RepredictEvery, "repredict-every", 10*time.Minute, "how often prediction re-runs over InfluxDB history")
	fs.DurationVar(&c.VerifyEvery, "verify-every", 5*time.Minute, "how often completed orders are checked for automatic verification")
	fs.DurationVar(&c.FleetRetrain, "fleet-retrain", envDuration(getenv, "PDM_FLEET_RETRAIN", 24*time.Hour), "how often every asset type with enough failures gets a new fleet model (PDM_FLEET_RETRAIN)")
	fs.DurationVar(&c.FleetScoreEvery, "fleet-score-every", envDuration(getenv, "PDM_FLEET_SCORE_EVERY", 15*time.Minute), "how often every asset of a type with a fleet model is scored (PDM_FLEET_SCORE_EVERY)")
	fs.IntVar(&c.FleetScoreConcurrency, "fleet-score-concurrency", envInt(getenv, "PDM_FLEET_SCORE_CONCURRENCY", 8), "how many assets fleet scoring scores at once (PDM_FLEET_SCORE_CONCURRENCY)")
	fs.IntVar(&c.FleetScoreBatch, "fleet-score-batch", envInt(getenv, "PDM_FLEET_SCORE_BATCH", 10), "how many assets' histories fleet scoring reads in one InfluxQL query; 1 reads each asset with Flux (PDM_FLEET_SCORE_BATCH)")
	fs.DurationVar(&c.FleetLead, "fleet-lead", envDuration(getenv, "PDM_FLEET_LEAD", 48*time.Hour), "a fleet model raises an order when an asset's remaining life less the type's order margin (default 0.7) times its interval's half-width is within this (PDM_FLEET_LEAD)")
	fs.DurationVar(&c.SLAEvery, "sla-every", envDuration(getenv, "PDM_SLA_EVERY", time.Minute), "how often SLA clocks are checked for at-risk, breach and escalation (PDM_SLA_EVERY)")
	fs.DurationVar(&c.ReorderEvery, "reorder-every", envDuration(getenv, "PDM_REORDER_EVERY", 15*time.Minute), "how often stock below its reorder point raises purchase requests (PDM_REORDER_EVERY)")
	fs.DurationVar(&c.SchedulesEvery, "schedules-every", envDuration(getenv, "PDM_SCHEDULES_EVERY", 5*time.Minute), "how often preventive schedules raise their due orders (PDM_SCHEDULES_EVERY)")
	fs.StringVar(&c.DispatchRebalance, "dispatch-rebalance", envOr(getenv, "PDM_DISPATCH_REBALANCE", "propose"), "when re-planning assigned, not yet accepted orders lowers the total cost: propose (a planner approves the moves on the board), auto (they move every --dispatch-every) or off (PDM_DISPATCH_REBALANCE)")
	fs.DurationVar(&c.GatewayOfflineAfter, "gateway-offline-after", envDuration(getenv, "PDM_GATEWAY_OFFLINE_AFTER", 10*time.Minute), "how long an edge gateway may be offline before it raises an alert (PDM_GATEWAY_OFFLINE_AFTER)")
	fs.DurationVar(&c.DispatchEvery, "dispatch-every", envDuration(getenv, "PDM_DISPATCH_EVERY", time.Minute), "how often dispatch runs besides the runs approvals and declines trigger (PDM_DISPATCH_EVERY)")
	fs.IntVar(&c.APIReadConcurrency, "api-read-concurrency", envInt(getenv, "PDM_API_READ_CONCURRENCY", 0),
		"order list, detail and /me/jobs requests served at once, the others wait in arrival order; 0: twice the CPUs (PDM_API_READ_CONCURRENCY)")
	fs.IntVar(&c.GCPercent, "gc-percent", envInt(getenv, "PDM_GC_PERCENT", 400),
		"the garbage collector's target (as GOGC, which overrides it when set): heap growth between collections, in percent; 0: Go's default (PDM_GC_PERCENT)")
	fs.IntVar(&c.APIOrderCacheMB, "api-order-cache-mb", envInt(getenv, "PDM_API_ORDER_CACHE_MB", 64),
		"MiB of rendered orders the order lists answer from (about 1 KiB an order); 0: no cache (PDM_API_ORDER_CACHE_MB)")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", envOr(getenv, "PDM_WEBHOOK_ALLOW_PRIVATE", "") == "true",
		"let webhooks target loopback, link-local, private and multicast addresses (PDM_WEBHOOK_ALLOW_PRIVATE=true)")
	if name == "demo" {
		fs.StringVar(&c.Scenario, "scenario", "", "fleet scenario YAML (default: the built-in demo scenario)")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, tag := range strings.Split(*ignoreTags, ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			c.IngestIgnoreTags = append(c.IngestIgnoreTags, tag)
		}
	}
	if l := c.IngestLimits; l.MaxMetricsPerReading <= 0 || l.MaxMetricsPerAsset <= 0 || l.MaxAssets <= 0 || l.MaxSeries <= 0 || l.MaxUnknownAssets <= 0 || l.MaxGateways <= 0 {
		return c, fmt.Errorf("the --ingest-max-* limits (or their PDM_INGEST_MAX_* variables) must be positive integers")
	}
	if c.IngestLimits.UnknownAssetIdle <= 0 {
		return c, fmt.Errorf("--ingest-unknown-asset-idle (PDM_INGEST_UNKNOWN_ASSET_IDLE) must be a positive duration, such as 10m")
	}
	for name, d := range map[string]time.Duration{"sla-every": c.SLAEvery, "reorder-every": c.ReorderEvery,
		"schedules-every": c.SchedulesEvery, "dispatch-every": c.DispatchEvery, "gateway-offline-after": c.GatewayOfflineAfter} {
		if d < time.Second || d > 24*time.Hour {
			return c, fmt.Errorf("--%s (or its PDM_ variable) must be a duration between 1s and 24h, such as 5m", name)
		}
	}
	for name, d := range map[string]time.Duration{"fleet-retrain": c.FleetRetrain, "fleet-score-every": c.FleetScoreEvery, "fleet-lead": c.FleetLead} {
		if d < time.Second || d > 366*24*time.Hour {
			return c, fmt.Errorf("--%s (or its PDM_ variable) must be a duration between 1s and 366d, such as 24h", name)
		}
	}
	if c.BatchSize <= 0 || c.BatchInterval <= 0 || c.RepredictEvery <= 0 || c.VerifyEvery <= 0 || c.StartTimeout <= 0 {
		return c, fmt.Errorf("--batch-size, --batch-interval, --repredict-every, --verify-every and --start-timeout must be positive")
	}
	if c.MaxCodes <= 0 || c.MaxAssets <= 0 {
		return c, fmt.Errorf("--detect-max-codes (PDM_DETECT_MAX_CODES) and --detect-max-assets (PDM_DETECT_MAX_ASSETS) must be positive")
	}
	if c.FleetScoreConcurrency < 1 || c.FleetScoreBatch < 1 || c.FleetScoreBatch > 1000 {
		return c, fmt.Errorf("--fleet-score-concurrency (PDM_FLEET_SCORE_CONCURRENCY) must be positive and --fleet-score-batch (PDM_FLEET_SCORE_BATCH) 1-1000")
	}
	if c.MQTTKeepAlive < time.Second {
		return c, fmt.Errorf("--mqtt-keepalive (PDM_MQTT_KEEPALIVE) must be at least 1s")
	}
	if c.LateSettle <= 0 || c.LateMinInterval <= 0 {
		return c, fmt.Errorf("--late-settle (PDM_LATE_SETTLE) and --late-min-interval (PDM_LATE_MIN_INTERVAL) must be positive")
	}
	if c.Partitions < 0 || c.Partitions > 4096 || c.LeaseTTL < 3*time.Second || c.ReorderWindow <= 0 {
		return c, fmt.Errorf("--partitions (PDM_PARTITIONS) must be 0-4096, --lease-ttl (PDM_LEASE_TTL) at least 3s and --reorder-window (PDM_REORDER_WINDOW) positive")
	}
	for name, v := range map[string]float64{"dispatch-road-factor": c.RoadFactor, "dispatch-speed-kmh": c.SpeedKmh, "dispatch-load-weight": c.LoadWeight} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return c, fmt.Errorf("--%s (or its PDM_ variable) must be a number", name)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("--public-url (PDM_PUBLIC_URL) must be an absolute http(s) URL such as https://pdm.example.com")
		}
	}
	if c.MailAddr != "" {
		mbs, err := mailin.ParseMailboxes(c.MailMailboxes)
		if err != nil {
			return c, fmt.Errorf("--mail-mailboxes (PDM_MAIL_MAILBOXES): %w", err)
		}
		if len(mbs) == 0 {
			return c, fmt.Errorf("--mail-addr (PDM_MAIL_ADDR) needs --mail-mailboxes (PDM_MAIL_MAILBOXES), such as service@pdm.example.com=PLANT1")
		}
	}
	if c.GCPercent < 0 {
		return c, fmt.Errorf("--gc-percent (PDM_GC_PERCENT) must be 0 (Go's default) or a positive percentage")
	}
	if c.APIOrderCacheMB < 0 {
		return c, fmt.Errorf("--api-order-cache-mb (PDM_API_ORDER_CACHE_MB) must be 0 (no cache) or a positive number of MiB")
	}
	if c.APIReadConcurrency < 0 {
		return c, fmt.Errorf("--api-read-concurrency (PDM_API_READ_CONCURRENCY) must be 0 (twice the CPUs) or a positive integer")
	}
	if c.MailMaxBytes < 64<<10 || c.MailPerHour <= 0 {
		return c, fmt.Errorf("--mail-max-bytes (PDM_MAIL_MAX_BYTES) must be at least 65536 and --mail-per-hour (PDM_MAIL_PER_HOUR) positive")
	}
	switch c.DispatchRebalance {
	case "propose", "auto", "off":
	default:
		return c, fmt.Errorf("--dispatch-rebalance (PDM_DISPATCH_REBALANCE) must be propose, auto or off, not %q", c.DispatchRebalance)
	}
	switch c.Only {
	case "", "ingest", "api", "predict":
	default:
		return c, fmt.Errorf("--only must be ingest, api or predict, not %q", c.Only)
	}
	return c, nil
}

// envInt reads an integer variable; a malformed value gives -1, which the
// validation reports.
func envInt(getenv func(string) string, key string, def int) int {
	if v := getenv(key); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1
	}
	return def
}

// envDuration reads a duration variable; a malformed value gives -1,
// which the validation reports.
func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if v := getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		return -1
	}
	return def
}

// envFloat reads a float variable; a malformed value falls back to def and
// is reported by the flag's validation (the dispatch config validates).
func envFloat(getenv func(string) string, key string, def float64) float64 {
	if v := getenv(key); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
		return math.NaN()
	}
	return def
}

// defaultDataDir is $XDG_STATE_HOME/pdm, else ~/.local/state/pdm, else a
// pdm-data directory in the working directory.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "pdm")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "pdm")
	}
	return "pdm-data"
}

func (c Config) runs(role string) bool { return c.Only == "" || c.Only == role }

func newLogger(c Config, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("bad log level %q", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad log format %q (text or json)", c.LogFormat)
}
