package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/openpdm/pdm/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

// mqttSource subscribes to a local broker the devices publish JSON to. A
// message is acknowledged to the local broker only after its readings are
// in the disk queue. Messages are queued in arrival order; those that
// arrive while a commit is running are committed together (one fsync), so
// the rate is bounded by the broker's in-flight window, not by the disk.
type mqttSource struct {
	cfg     MQTTSource
	gateway string
	name    string
	log     *slog.Logger
	now     func() time.Time
	submit  submitFunc
	errs    prometheus.Counter
	pending chan decoded // handler → commitLoop, in arrival order
}

func newMQTTSource(cfg MQTTSource, gateway string, log *slog.Logger, now func() time.Time, submit submitFunc, errs prometheus.Counter) *mqttSource {
	name := sourceName("mqtt", cfg.Name, cfg.URL)
	return &mqttSource{cfg: cfg, gateway: gateway, name: name, log: log.With("source", name), now: now, submit: submit, errs: errs,
		pending: make(chan decoded, 1024)}
}

func (s *mqttSource) run(ctx context.Context) {
	o := mqtt.NewClientOptions()
	o.AddBroker(s.cfg.URL)
	id := s.cfg.ClientID
	if id == "" {
		id = "pdm-edge-" + s.gateway + "-" + s.cfg.Name
	}
	o.SetClientID(id)
	o.SetUsername(s.cfg.Username)
	o.SetPassword(s.cfg.Password)
	o.SetCleanSession(false) // the local broker keeps QoS 1 messages while the agent restarts
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetConnectRetryInterval(time.Second)
	o.SetMaxReconnectInterval(10 * time.Second)
	o.SetAutoAckDisabled(true)
	o.SetOrderMatters(true) // per topic order, and ack after queueing
	filters := map[string]byte{}
	for _, t := range s.cfg.Topics {
		filters[t.Topic] = 1
	}
	o.SetOnConnectHandler(func(c mqtt.Client) {
		c.SubscribeMultiple(filters, s.handle(ctx))
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		s.log.Warn("local broker connection lost", "err", err)
	})
	c := mqtt.NewClient(o)
	c.Connect()
	s.commitLoop(ctx)
	c.Disconnect(250)
}

// decoded is a message waiting to be queued and acknowledged.
type decoded struct {
	msg      mqtt.Message
	readings []ingest.Reading
}

// maxGroup bounds the readings committed together.
const maxGroup = 5000

// commitLoop queues decoded messages in arrival order, as many at a time as
// have arrived, and acknowledges each after its commit.
func (s *mqttSource) commitLoop(ctx context.Context) {
	var group []decoded
	var readings []ingest.Reading
	for {
		group, readings = group[:0], readings[:0]
		select {
		case <-ctx.Done():
			return
		case d := <-s.pending:
			group = append(group, d)
			readings = append(readings, d.readings...)
		}
	more:
		for len(readings) < maxGroup {
			select {
			case d := <-s.pending:
				group = append(group, d)
				readings = append(readings, d.readings...)
			default:
				break more
			}
		}
		if err := s.submit(ctx, s.name, readings); err != nil {
			if ctx.Err() == nil {
				s.errs.Inc()
				s.log.Error("queue readings", "err", err)
			}
			continue // not acknowledged: the broker redelivers after reconnect
		}
		for _, d := range group {
			d.msg.Ack()
		}
	}
}

// asset returns the asset mapped to a topic (first matching filter).
func (s *mqttSource) asset(topic string) (string, bool) {
	for _, t := range s.cfg.Topics {
		if topicMatches(t.Topic, topic) {
			return t.Asset, true
		}
	}
	return "", false
}

func (s *mqttSource) handle(ctx context.Context) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) {
		asset, ok := s.asset(m.Topic())
		if !ok {
			m.Ack()
			return
		}
		readings, err := DecodeDeviceJSON(m.Payload(), asset, s.now())
		if err != nil {
			s.errs.Inc()
			s.log.Warn("payload rejected", "topic", m.Topic(), "err", err)
			m.Ack() // a bad payload never gets better
			return
		}
		select {
		case s.pending <- decoded{msg: m, readings: readings}:
		case <-ctx.Done():
		}
	}
}

// topicMatches reports whether topic matches an MQTT filter with + and #.
func topicMatches(filter, topic string) bool {
	f := strings.Split(filter, "/")
	t := strings.Split(topic, "/")
	for i, p := range f {
		if p == "#" {
			return true
		}
		if i >= len(t) || (p != "+" && p != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// DecodeDeviceJSON decodes a device's JSON payload into readings of asset.
// It accepts the contract's telemetry forms ({"ts":..,"metrics":{..}} and
// {"readings":[..]}) and a flat object whose numeric fields are metrics
// ({"ts":..,"temp_c":21.5}); ts is RFC 3339 or Unix milliseconds and
// defaults to now. Invalid names and non-finite values reject the payload.
func DecodeDeviceJSON(b []byte, asset string, now time.Time) ([]ingest.Reading, error) {
	if len(b) > ingest.MaxPayloadBytes {
		return nil, fmt.Errorf("payload of %d bytes over %d", len(b), ingest.MaxPayloadBytes)
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if raw, ok := obj["readings"]; ok {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("readings: %w", err)
		}
		out := make([]ingest.Reading, 0, len(list))
		for i, o := range list {
			r, err := decodeObject(o, asset, now)
			if err != nil {
				return nil, fmt.Errorf("readings[%d]: %w", i, err)
			}
			out = append(out, r)
		}
		return out, nil
	}
	r, err := decodeObject(obj, asset, now)
	if err != nil {
		return nil, err
	}
	return []ingest.Reading{r}, nil
}

func decodeObject(obj map[string]json.RawMessage, asset string, now time.Time) (ingest.Reading, error) {
	r := ingest.Reading{Asset: asset, TS: now.UTC().Truncate(time.Millisecond)}
	if raw, ok := obj["ts"]; ok {
		ts, err := decodeTS(raw)
		if err != nil {
			return r, err
		}
		r.TS = ts
	}
	fields := obj
	if raw, ok := obj["metrics"]; ok {
		fields = nil
		if err := json.Unmarshal(raw, &fields); err != nil {
			return r, fmt.Errorf("metrics: %w", err)
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		if k == "ts" && obj["metrics"] == nil {
			continue
		}
		if k == "gateway" || k == "seq" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var v float64
		if err := json.Unmarshal(fields[k], &v); err != nil {
			if obj["metrics"] == nil {
				continue // flat form: non-numeric fields are not metrics
			}
			return r, fmt.Errorf("metric %q: not a number", k)
		}
		if !ingest.ValidMetricName(k) {
			return r, fmt.Errorf("metric name %q: want [a-z][a-z0-9_]{0,63}", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return r, fmt.Errorf("metric %q: not finite", k)
		}
		r.Metrics = append(r.Metrics, ingest.Metric{Name: k, Value: v})
	}
	if len(r.Metrics) == 0 {
		return r, errors.New("no metrics")
	}
	if r.TS.After(now.Add(ingest.MaxFutureSkew)) {
		return r, fmt.Errorf("ts %s is in the future", r.TS.Format(time.RFC3339))
	}
	return r, nil
}

func decodeTS(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("ts: %w", err)
		}
		return t.UTC(), nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, errors.New("ts: want an RFC 3339 string or Unix milliseconds")
	}
	return time.UnixMilli(ms).UTC(), nil
}
