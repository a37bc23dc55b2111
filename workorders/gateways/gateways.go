// Package gateways owns the platform's view of the edge gateways: their
// retained status (online or offline since when, readings buffered and
// dropped, version), the configuration the platform publishes to them on the
// retained config topic (validated first, as the agent would), the agent's
// answer to it (applied, or rejected with the error), and the alert raised
// when a gateway stays offline longer than a set time. Persistence sits
// behind Store (workorders/postgres implements it) and the broker behind
// Publisher (cmd/pdm binds paho).
package gateways

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openpdm/pdm/edge"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/workorders"
)

// States of a gateway.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// States of the latest published config.
const (
	ConfigNone     = "none"     // the platform never published one
	ConfigPending  = "pending"  // published, no answer from the agent yet
	ConfigApplied  = "applied"  // the agent applied it
	ConfigRejected = "rejected" // the agent kept its previous config (ConfigError says why)
)

// Gateway is one edge gateway as the platform knows it.
type Gateway struct {
	ID       string `json:"id"`
	SiteCode string `json:"site_code"`
	// SiteID is the site whose code the gateway reports (empty when no
	// site has that code).
	SiteID string `json:"site_id"`
	Code   string `json:"code"`
	// State is online or offline (its retained status) and StateSince
	// when it became so, as the platform saw it.
	State      string    `json:"state" schema:"enum=online|offline"`
	StateSince time.Time `json:"state_since"`
	// StatusAt is the time the gateway put in its latest status.
	StatusAt time.Time `json:"status_at"`
	Version  string    `json:"version"`
	Buffered int64     `json:"buffered"`
	Dropped  int64     `json:"dropped"`
	// Config is the latest config the platform published (null if none),
	// ConfigSHA256 the hash of that payload, ConfigState the agent's answer
	// and ConfigError its reason for a rejection.
	Config            json.RawMessage `json:"config"`
	ConfigSHA256      string          `json:"config_sha256"`
	ConfigPublishedAt *time.Time      `json:"config_published_at"`
	ConfigState       string          `json:"config_state" schema:"enum=none|pending|applied|rejected"`
	ConfigError       string          `json:"config_error"`
	// AlertSince is set while the gateway has been offline longer than
	// the platform's limit (PDM_GATEWAY_OFFLINE_AFTER): when it went offline.
	AlertSince *time.Time `json:"alert_since"`
	// Assets are the assets its config reads (codes, and the asset's id
	// when it is registered at the gateway's site).
	Assets []Asset `json:"assets"`
}

// Asset is an asset a gateway's config reads.
type Asset struct {
	Code string `json:"code"`
	ID   string `json:"id"`
}

// Status is the retained status message of a gateway (contract section 2,
// with the agent's config answer).
type Status struct {
	State        string    `json:"state"`
	TS           time.Time `json:"ts"`
	Version      string    `json:"version"`
	Buffered     int64     `json:"buffered"`
	Dropped      int64     `json:"dropped"`
	ConfigError  string    `json:"config_error"`
	ConfigSHA256 string    `json:"config_sha256"`
}

// Store keeps gateways.
type Store interface {
	// Gateways lists every gateway by site code and code.
	Gateways(ctx context.Context) ([]Gateway, error)
	// Gateway returns one gateway by id (ErrNotFound).
	Gateway(ctx context.Context, id string) (Gateway, error)
	// RecordStatus stores a status of the gateway (site, code) unless a
	// newer one is stored, creating the gateway on its first status; now is
	// when it arrived.
	RecordStatus(ctx context.Context, site, code string, st Status, now time.Time) error
	// SetConfig stores the config published for gateway id (pending).
	SetConfig(ctx context.Context, id string, cfg json.RawMessage, sum string, at time.Time) error
	// MarkOffline sets the alert of gateways offline since before cutoff
	// and clears it on the others; it returns the gateways newly alerted.
	MarkOffline(ctx context.Context, cutoff time.Time) ([]Gateway, error)
}

// Publisher publishes a retained message at QoS 1 and returns once the
// broker has it (an error when it cannot be reached).
type Publisher interface {
	PublishRetained(ctx context.Context, topic string, payload []byte) error
}

// Service is the gateways' use cases.
type Service struct {
	Store     Store
	Publisher Publisher
	TopicRoot string
	// OfflineAfter is how long a gateway may be offline before it alerts.
	OfflineAfter time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// ConfigTopic is the retained config topic of a gateway.
func (s *Service) ConfigTopic(g Gateway) string {
	return edge.ConfigTopic(s.TopicRoot, g.SiteCode, g.Code)
}

// PutConfig validates a config for gateway id as the agent would, publishes
// it retained on the gateway's config topic and records it as pending.
// Identity and connection settings (uplink, queue path, metrics address)
// stay the gateway's own and may not be set; gateway and site, when given,
// must be the gateway's.
func (s *Service) PutConfig(ctx context.Context, id string, c edge.Config) (Gateway, error) {
	g, err := s.Store.Gateway(ctx, id)
	if err != nil {
		return Gateway{}, err
	}
	payload, err := s.validate(g, c)
	if err != nil {
		return Gateway{}, err
	}
	if s.Publisher == nil {
		return Gateway{}, fmt.Errorf("%w: no MQTT broker is configured to publish the config", workorders.ErrConflict)
	}
	if err := s.Publisher.PublishRetained(ctx, s.ConfigTopic(g), payload); err != nil {
		return Gateway{}, fmt.Errorf("%w: the config was not published, the broker did not take it: %v", ErrBroker, err)
	}
	sum := sha256.Sum256(payload)
	if err := s.Store.SetConfig(ctx, id, payload, hex.EncodeToString(sum[:]), s.now()); err != nil {
		return Gateway{}, err
	}
	s.Log.InfoContext(ctx, "gateway config published", "gateway_id", id, "site", g.SiteCode, "gateway", g.Code)
	return s.Store.Gateway(ctx, id)
}

// ErrBroker marks a config the broker did not take.
var ErrBroker = errors.New("broker unavailable")

// validate returns the payload to publish: the config with the gateway's
// site and code, or a *workorders.ValidationError naming every problem.
func (s *Service) validate(g Gateway, c edge.Config) ([]byte, error) {
	var p workorders.Problems
	if c.Gateway != "" && c.Gateway != g.Code {
		p.AddSemantic("gateway", "is %q; this gateway is %q", c.Gateway, g.Code)
	}
	if c.Site != "" && c.Site != g.SiteCode {
		p.AddSemantic("site", "is %q; this gateway is in %q", c.Site, g.SiteCode)
	}
	if c.TopicRoot != "" {
		p.AddSemantic("topic_root", "is the gateway's own setting (its config file); leave it out")
	}
	if c.Uplink != (edge.Uplink{}) {
		p.AddSemantic("uplink", "is the gateway's own setting (its config file); leave it out")
	}
	if c.Queue.Path != "" {
		p.AddSemantic("queue.path", "is the gateway's own setting (its config file); leave it out")
	}
	if c.MetricsAddr != "" {
		p.AddSemantic("metrics_addr", "is the gateway's own setting (its config file); leave it out")
	}
	c.Gateway, c.Site = g.Code, g.SiteCode
	// Validate as the agent will after merging it over its file: identity
	// and uplink come from the file, so stand-ins fill them here.
	check := c
	check.Uplink = edge.Uplink{URL: "tcp://gateway-file:1883"}
	check.Normalize()
	if err := check.Validate(); err != nil {
		for _, e := range splitJoined(err) {
			field, msg := fieldOf(e)
			p.AddSemantic(field, "%s", msg)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	out, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return out, nil
}

// splitJoined returns the messages of an errors.Join error.
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// fieldOf splits an agent validation message ("sources.modbus[0]: url ...:
// want ...") into the field it concerns and the rest.
func fieldOf(msg string) (string, string) {
	head, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return "body", msg
	}
	head = strings.TrimSpace(head)
	// "sources.modbus[0]: url "x": want ..." names a field inside.
	if word, tail, ok := strings.Cut(rest, " "); ok && strings.Contains(head, "[") && isFieldWord(word) {
		return head + "." + word, tail
	}
	if !strings.Contains(head, " ") {
		return head, rest
	}
	// "queue.drain "x"" or "uplink.url is required": the first word.
	word, tail, _ := strings.Cut(head, " ")
	if isFieldWord(word) {
		return word, strings.TrimSpace(tail + ": " + rest)
	}
	return "body", msg
}

func isFieldWord(w string) bool {
	switch w {
	case "", "want", "no", "duplicate":
		return false
	}
	for _, r := range w {
		if !(r == '_' || r == '.' || r == '[' || r == ']' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// RecordStatus stores a status message from topic
// {root}/{site}/gateways/{gateway}/status. Malformed messages are logged
// and dropped (a gateway cannot be answered on MQTT).
func (s *Service) RecordStatus(ctx context.Context, topic string, payload []byte) error {
	site, code, ok := s.parseStatusTopic(topic)
	if !ok {
		return fmt.Errorf("status topic %q: not {root}/{site}/gateways/{gateway}/status", topic)
	}
	if len(payload) == 0 {
		return nil // a cleared retained message
	}
	var st Status
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("status of %s/%s: %w", site, code, err)
	}
	if st.State != StateOnline && st.State != StateOffline {
		return fmt.Errorf("status of %s/%s: state %q: want online or offline", site, code, st.State)
	}
	now := s.now()
	if st.TS.IsZero() || st.TS.After(now.Add(5*time.Minute)) {
		st.TS = now
	}
	return s.Store.RecordStatus(ctx, site, code, st, now)
}

func (s *Service) parseStatusTopic(topic string) (site, code string, ok bool) {
	rest, found := strings.CutPrefix(topic, s.TopicRoot+"/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[1] != "gateways" || parts[3] != "status" {
		return "", "", false
	}
	if !ingest.ValidCode(parts[0]) || !ingest.ValidCode(parts[2]) {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// StatusFilter is the topic filter of every gateway's status.
func (s *Service) StatusFilter() string { return s.TopicRoot + "/+/gateways/+/status" }

// CheckOffline raises the alert of every gateway offline longer than
// OfflineAfter (and clears it on gateways back online). It is the job
// cmd runs every few seconds.
func (s *Service) CheckOffline(ctx context.Context) error {
	alerted, err := s.Store.MarkOffline(ctx, s.now().Add(-s.OfflineAfter))
	if err != nil {
		return err
	}
	for _, g := range alerted {
		s.Log.WarnContext(ctx, "gateway offline", "gateway_id", g.ID, "site", g.SiteCode, "gateway", g.Code,
			"since", g.StateSince)
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// AssetsOf returns the asset codes a config reads, in order of appearance.
func AssetsOf(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	c, err := edge.ParseConfigJSON(raw)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, d := range c.Sources.Modbus {
		for _, r := range d.Registers {
			add(r.Asset)
		}
	}
	for _, m := range c.Sources.MQTT {
		for _, t := range m.Topics {
			add(t.Asset)
		}
	}
	return out
}
