// Package ingest owns telemetry readings: decoding MQTT payloads (JSON and
// InfluxDB line protocol), validating them, batching them and writing them
// durably before the broker is acknowledged, then handing them on in event
// time to whatever consumes them (rules, prediction).
//
// The pipeline (Pipeline) takes its messages from a Source (ingest/mqtt
// implements one with paho) and stores readings through a Writer
// (ingest/influx implements one); cmd wires them together.
package ingest

import (
	"context"
	"time"
)

// Reading is one timestamped set of metric values from one asset. TS is the
// reading's own event time; everything downstream uses it, never the clock.
type Reading struct {
	Site    string
	Asset   string
	Gateway string // empty when unknown
	TS      time.Time
	Metrics []Metric
}

// Metric is one named value of a reading.
type Metric struct {
	Name  string
	Value float64
}

// Value returns the value of the named metric and whether the reading has it.
func (r Reading) Value(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// Limits from the contract (section 2).
const (
	MaxPayloadBytes = 256 << 10
	MaxFutureSkew   = 5 * time.Minute
)

// ValidCode reports whether s may be a site, asset or gateway code:
// [A-Za-z0-9_-]{1,64}.
func ValidCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isCodeByte(s[i]) {
			return false
		}
	}
	return true
}

func validCodeBytes(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !isCodeByte(c) {
			return false
		}
	}
	return true
}

func isCodeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ValidMetricName reports whether s may be a metric name: [a-z][a-z0-9_]{0,63}.
func ValidMetricName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isMetricByte(s[i]) {
			return false
		}
	}
	return true
}

func validMetricBytes(b []byte) bool {
	if len(b) == 0 || len(b) > 64 || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	for _, c := range b[1:] {
		if !isMetricByte(c) {
			return false
		}
	}
	return true
}

func isMetricByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}

// Consumer receives readings after they are durably stored, in event-time
// order per asset. Rules and prediction implement it; cmd binds them.
type Consumer interface {
	Consume(ctx context.Context, readings []Reading)
}

// ConsumerFunc adapts a function to a Consumer.
type ConsumerFunc func(ctx context.Context, readings []Reading)

// Consume calls f.
func (f ConsumerFunc) Consume(ctx context.Context, readings []Reading) { f(ctx, readings) }
