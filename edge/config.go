// Package edge owns the gateway agent (pdm-edge): it collects readings from
// Modbus TCP devices and a local MQTT broker, applies local rules (deadband,
// report-by-exception, threshold alarms), keeps every reading in a bounded
// disk queue until the uplink broker acknowledges it, and forwards readings
// and device events to the platform as the contract describes.
package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
	"gopkg.in/yaml.v3"
)

// Drain orders of the queue.
const (
	DrainFIFO      = "fifo"
	DrainLiveFirst = "live_first"
)

// Defaults applied by Config.Normalize.
const (
	DefaultTopicRoot     = "pdm/v1"
	DefaultQueueBytes    = 64 << 20
	DefaultBatch         = 500
	DefaultBacklogRate   = 2000
	DefaultPollInterval  = time.Second
	DefaultModbusTimeout = 2 * time.Second
)

// Config is the agent's configuration. Its YAML form is the config file; its
// JSON form (same field names) is what the platform publishes on the
// retained config topic.
type Config struct {
	Gateway     string         `json:"gateway"`
	Site        string         `json:"site"`
	TopicRoot   string         `json:"topic_root,omitempty"`
	Uplink      Uplink         `json:"uplink"`
	Queue       QueueConfig    `json:"queue"`
	MetricsAddr string         `json:"metrics_addr,omitempty"`
	Sources     Sources        `json:"sources"`
	Rules       LocalRules     `json:"rules"`
	Status      rules.Duration `json:"status_interval,omitempty"`
}

// Uplink is the broker the agent forwards to.
type Uplink struct {
	URL      string    `json:"url"`
	ClientID string    `json:"client_id,omitempty"`
	Username string    `json:"username,omitempty"`
	Password string    `json:"password,omitempty"`
	TLS      TLSConfig `json:"tls,omitempty"`
	// MaxReconnect caps the backoff between connection attempts (default 10s).
	MaxReconnect rules.Duration `json:"max_reconnect,omitempty"`
}

// TLSConfig names PEM files for a TLS connection to the uplink broker.
type TLSConfig struct {
	CAFile             string `json:"ca_file,omitempty"`
	CertFile           string `json:"cert_file,omitempty"`
	KeyFile            string `json:"key_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// Enabled reports whether any TLS setting is present.
func (t TLSConfig) Enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.InsecureSkipVerify
}

// QueueConfig sizes the disk queue and says how it drains.
type QueueConfig struct {
	Path     string `json:"path,omitempty"`
	MaxBytes int64  `json:"max_bytes,omitempty"`
	// Drain is fifo (strict time order per asset) or live_first.
	Drain string `json:"drain,omitempty"`
	// BacklogRate is how many backlog readings per second live_first sends
	// beside live readings.
	BacklogRate int `json:"backlog_rate,omitempty"`
	// Batch is the most readings in one telemetry message.
	Batch int `json:"batch,omitempty"`
}

// Sources lists where readings come from.
type Sources struct {
	Modbus []ModbusDevice `json:"modbus,omitempty"`
	MQTT   []MQTTSource   `json:"mqtt,omitempty"`
}

// ModbusDevice is one Modbus TCP device polled by the agent.
type ModbusDevice struct {
	Name         string           `json:"name"`
	URL          string           `json:"url"` // tcp://host:port
	UnitID       uint8            `json:"unit_id"`
	PollInterval rules.Duration   `json:"poll_interval,omitempty"`
	Timeout      rules.Duration   `json:"timeout,omitempty"`
	Registers    []ModbusRegister `json:"registers"`
}

// Register types.
const (
	TypeInt16   = "int16"
	TypeUint16  = "uint16"
	TypeInt32   = "int32"
	TypeUint32  = "uint32"
	TypeFloat32 = "float32"
)

// Word orders of 32-bit values.
const (
	HighWordFirst = "high_first"
	LowWordFirst  = "low_first"
)

// Register kinds.
const (
	KindHolding = "holding"
	KindInput   = "input"
)

// ModbusRegister maps one register (or register pair) to a metric:
// value = raw*scale + offset.
type ModbusRegister struct {
	Address      uint16         `json:"address"`
	Kind         string         `json:"kind,omitempty"` // holding (default) or input
	Type         string         `json:"type"`
	WordOrder    string         `json:"word_order,omitempty"`
	Scale        *float64       `json:"scale,omitempty"` // default 1
	Offset       float64        `json:"offset,omitempty"`
	Metric       string         `json:"metric"`
	Asset        string         `json:"asset"`
	PollInterval rules.Duration `json:"poll_interval,omitempty"`
}

// MQTTSource is a local broker the devices publish JSON to.
type MQTTSource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// ClientID is the agent's client id at the local broker (default
	// pdm-edge-{gateway}-{name}); the session is persistent, so the broker
	// keeps QoS 1 messages while the agent restarts.
	ClientID string       `json:"client_id,omitempty"`
	Username string       `json:"username,omitempty"`
	Password string       `json:"password,omitempty"`
	Topics   []TopicAsset `json:"topics"`
}

// TopicAsset maps a topic filter (MQTT wildcards allowed) to an asset.
type TopicAsset struct {
	Topic string `json:"topic"`
	Asset string `json:"asset"`
}

// LocalRules are applied on the gateway before readings are queued.
type LocalRules struct {
	Deadband []Deadband `json:"deadband,omitempty"`
	Alarms   []Alarm    `json:"alarms,omitempty"`
}

// Deadband suppresses a metric's values that moved less than Band since the
// last value sent (report by exception), but sends one at least every
// MaxSilence. An empty Asset applies to every asset.
type Deadband struct {
	Asset      string         `json:"asset,omitempty"`
	Metric     string         `json:"metric"`
	Band       float64        `json:"band"`
	MaxSilence rules.Duration `json:"max_silence,omitempty"`
}

// Alarm raises a device event when a metric crosses a limit and another
// (severity info) when it comes back. An empty Asset applies to every asset.
type Alarm struct {
	Asset    string   `json:"asset,omitempty"`
	Metric   string   `json:"metric"`
	Above    *float64 `json:"above,omitempty"`
	Below    *float64 `json:"below,omitempty"`
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Message  string   `json:"message,omitempty"`
}

// LoadConfigFile reads and validates a YAML (or JSON) config file.
func LoadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfigYAML(b)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfigYAML decodes a YAML config (JSON is YAML too), rejecting
// unknown fields, then normalizes and validates it. YAML and JSON share one
// set of field names: the YAML is converted to JSON and decoded as such.
func ParseConfigYAML(b []byte) (Config, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Config{}, fmt.Errorf("decode: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return Config{}, fmt.Errorf("decode: %w", err)
	}
	c, err := ParseConfigJSON(js)
	if err != nil {
		return Config{}, err
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParseConfigJSON decodes the JSON form of the config (the config topic),
// rejecting unknown fields; it does not normalize or validate.
func ParseConfigJSON(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("decode: trailing data after the config")
	}
	return c, nil
}

// Normalize fills defaults.
func (c *Config) Normalize() {
	if c.TopicRoot == "" {
		c.TopicRoot = DefaultTopicRoot
	}
	if c.Queue.MaxBytes == 0 {
		c.Queue.MaxBytes = DefaultQueueBytes
	}
	if c.Queue.Drain == "" {
		c.Queue.Drain = DrainFIFO
	}
	if c.Queue.BacklogRate == 0 {
		c.Queue.BacklogRate = DefaultBacklogRate
	}
	if c.Queue.Batch == 0 {
		c.Queue.Batch = DefaultBatch
	}
	if c.Uplink.MaxReconnect == 0 {
		c.Uplink.MaxReconnect = rules.Duration(10 * time.Second)
	}
	if c.Status == 0 {
		c.Status = rules.Duration(10 * time.Second)
	}
	for i := range c.Sources.Modbus {
		d := &c.Sources.Modbus[i]
		if d.PollInterval == 0 {
			d.PollInterval = rules.Duration(DefaultPollInterval)
		}
		if d.Timeout == 0 {
			d.Timeout = rules.Duration(DefaultModbusTimeout)
		}
		if d.UnitID == 0 {
			d.UnitID = 1
		}
		for j := range d.Registers {
			r := &d.Registers[j]
			if r.Kind == "" {
				r.Kind = KindHolding
			}
			if r.WordOrder == "" {
				r.WordOrder = HighWordFirst
			}
			if r.PollInterval == 0 {
				r.PollInterval = d.PollInterval
			}
		}
	}
}

// Validate reports every problem of a normalized config in one error.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !ingest.ValidCode(c.Gateway) {
		bad("gateway %q: want [A-Za-z0-9_-]{1,64}", c.Gateway)
	}
	if !ingest.ValidCode(c.Site) {
		bad("site %q: want [A-Za-z0-9_-]{1,64}", c.Site)
	}
	if c.TopicRoot == "" || strings.ContainsAny(c.TopicRoot, "+#") {
		bad("topic_root %q: want a topic without wildcards", c.TopicRoot)
	}
	if c.Uplink.URL == "" {
		bad("uplink.url is required")
	}
	if c.Queue.MaxBytes < 4096 {
		bad("queue.max_bytes %d: want at least 4096", c.Queue.MaxBytes)
	}
	if c.Queue.Drain != DrainFIFO && c.Queue.Drain != DrainLiveFirst {
		bad("queue.drain %q: want fifo or live_first", c.Queue.Drain)
	}
	if c.Queue.BacklogRate < 0 {
		bad("queue.backlog_rate %d: want > 0", c.Queue.BacklogRate)
	}
	if c.Queue.Batch < 1 || c.Queue.Batch > 5000 {
		bad("queue.batch %d: want 1..5000", c.Queue.Batch)
	}
	if c.Status < rules.Duration(100*time.Millisecond) {
		bad("status_interval %s: want at least 100ms", time.Duration(c.Status))
	}
	names := map[string]bool{}
	for i, d := range c.Sources.Modbus {
		where := fmt.Sprintf("sources.modbus[%d]", i)
		if d.Name == "" {
			d.Name = d.URL
		}
		if names[d.Name] {
			bad("%s: duplicate name %q", where, d.Name)
		}
		names[d.Name] = true
		if !strings.HasPrefix(d.URL, "tcp://") {
			bad("%s: url %q: want tcp://host:port", where, d.URL)
		}
		if d.PollInterval < rules.Duration(10*time.Millisecond) {
			bad("%s: poll_interval %s: want at least 10ms", where, time.Duration(d.PollInterval))
		}
		if len(d.Registers) == 0 {
			bad("%s: no registers", where)
		}
		for j, r := range d.Registers {
			w := fmt.Sprintf("%s.registers[%d]", where, j)
			switch r.Type {
			case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeFloat32:
			default:
				bad("%s: type %q: want int16, uint16, int32, uint32 or float32", w, r.Type)
			}
			if r.Kind != KindHolding && r.Kind != KindInput {
				bad("%s: kind %q: want holding or input", w, r.Kind)
			}
			if r.WordOrder != HighWordFirst && r.WordOrder != LowWordFirst {
				bad("%s: word_order %q: want high_first or low_first", w, r.WordOrder)
			}
			if !ingest.ValidMetricName(r.Metric) {
				bad("%s: metric %q: want [a-z][a-z0-9_]{0,63}", w, r.Metric)
			}
			if !ingest.ValidCode(r.Asset) {
				bad("%s: asset %q: want [A-Za-z0-9_-]{1,64}", w, r.Asset)
			}
			if r.Scale != nil && (*r.Scale == 0 || math.IsNaN(*r.Scale) || math.IsInf(*r.Scale, 0)) {
				bad("%s: scale must be a finite non-zero number", w)
			}
			if math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0) {
				bad("%s: offset must be finite", w)
			}
			if r.PollInterval < rules.Duration(10*time.Millisecond) {
				bad("%s: poll_interval %s: want at least 10ms", w, time.Duration(r.PollInterval))
			}
		}
	}
	for i, s := range c.Sources.MQTT {
		where := fmt.Sprintf("sources.mqtt[%d]", i)
		if s.URL == "" {
			bad("%s: url is required", where)
		}
		if len(s.Topics) == 0 {
			bad("%s: no topics", where)
		}
		for j, t := range s.Topics {
			if t.Topic == "" {
				bad("%s.topics[%d]: topic is required", where, j)
			}
			if !ingest.ValidCode(t.Asset) {
				bad("%s.topics[%d]: asset %q: want [A-Za-z0-9_-]{1,64}", where, j, t.Asset)
			}
		}
	}
	for i, d := range c.Rules.Deadband {
		where := fmt.Sprintf("rules.deadband[%d]", i)
		if !ingest.ValidMetricName(d.Metric) {
			bad("%s: metric %q invalid", where, d.Metric)
		}
		if d.Asset != "" && !ingest.ValidCode(d.Asset) {
			bad("%s: asset %q invalid", where, d.Asset)
		}
		if d.Band < 0 || math.IsNaN(d.Band) || math.IsInf(d.Band, 0) {
			bad("%s: band must be a finite number >= 0", where)
		}
		if d.MaxSilence < 0 {
			bad("%s: max_silence must not be negative", where)
		}
	}
	for i, a := range c.Rules.Alarms {
		where := fmt.Sprintf("rules.alarms[%d]", i)
		if !ingest.ValidMetricName(a.Metric) {
			bad("%s: metric %q invalid", where, a.Metric)
		}
		if a.Asset != "" && !ingest.ValidCode(a.Asset) {
			bad("%s: asset %q invalid", where, a.Asset)
		}
		if (a.Above == nil) == (a.Below == nil) {
			bad("%s: want exactly one of above and below", where)
		}
		if !validEventCode(a.Code) {
			bad("%s: code %q: want 1-64 printable characters without spaces", where, a.Code)
		}
		if len(a.Message) > 1024 {
			bad("%s: message longer than 1024 bytes", where)
		}
		switch a.Severity {
		case "info", "warning", "critical":
		default:
			bad("%s: severity %q: want info, warning or critical", where, a.Severity)
		}
	}
	return errors.Join(errs...)
}

// WithRemote returns c with the parts the platform may change over the
// config topic (sources, local rules, queue drain and size, status interval)
// taken from the remote config r (sources and rules as r has them, queue and
// status settings where r sets them). The agent's identity and connection
// (gateway, site, topic root, uplink, queue path, metrics address) always
// come from the file: a remote config that names another gateway or site is
// an error. The result is normalized and validated.
func (c Config) WithRemote(r Config) (Config, error) {
	if r.Gateway != "" && r.Gateway != c.Gateway {
		return Config{}, fmt.Errorf("config is for gateway %q, this is %q", r.Gateway, c.Gateway)
	}
	if r.Site != "" && r.Site != c.Site {
		return Config{}, fmt.Errorf("config is for site %q, this gateway is in %q", r.Site, c.Site)
	}
	out := c
	out.Sources = r.Sources
	out.Rules = r.Rules
	// Queue and status settings the remote config leaves out stay as the
	// file has them.
	if r.Queue.MaxBytes != 0 {
		out.Queue.MaxBytes = r.Queue.MaxBytes
	}
	if r.Queue.Drain != "" {
		out.Queue.Drain = r.Queue.Drain
	}
	if r.Queue.BacklogRate != 0 {
		out.Queue.BacklogRate = r.Queue.BacklogRate
	}
	if r.Queue.Batch != 0 {
		out.Queue.Batch = r.Queue.Batch
	}
	if r.Status != 0 {
		out.Status = r.Status
	}
	out.Normalize()
	if err := out.Validate(); err != nil {
		return Config{}, err
	}
	return out, nil
}

// validEventCode reports whether s may be a device event's code (contract:
// 1-64 printable characters without spaces).
func validEventCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
