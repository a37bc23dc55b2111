// Package ingest owns telemetry readings: decoding MQTT payloads (JSON and
// InfluxDB line protocol), validating them, batching them and writing them
// durably before the broker is acknowledged, then handing them on in event
// time to whatever consumes them (rules, prediction).
package ingest

import (
	"context"
	"regexp"
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

var (
	codeRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	metricRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// ValidCode reports whether s may be a site, asset or gateway code.
func ValidCode(s string) bool { return codeRE.MatchString(s) }

// ValidMetricName reports whether s may be a metric name.
func ValidMetricName(s string) bool { return metricRE.MatchString(s) }

// Consumer receives readings after they are durably stored, in event-time
// order per asset. Rules and prediction implement it; cmd binds them.
type Consumer interface {
	Consume(ctx context.Context, readings []Reading)
}
