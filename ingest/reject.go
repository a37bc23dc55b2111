package ingest

import (
	"errors"
	"sync"
	"time"
)

// Reason is the stable code of why a message was rejected. It is the
// `reason` label of pdm_ingest_rejected_total and appears in the rejects
// list; the values never change meaning.
type Reason string

// Reject reasons.
const (
	// ReasonMalformedJSON: the payload starts with '{' but is not valid JSON
	// or not of the contract's shape (wrong types, both single and batch form).
	ReasonMalformedJSON Reason = "malformed_json"
	// ReasonBadLineProtocol: the payload is not valid InfluxDB line protocol.
	ReasonBadLineProtocol Reason = "bad_line_protocol"
	// ReasonBadID: a site, asset or gateway code does not match [A-Za-z0-9_-]{1,64}.
	ReasonBadID Reason = "bad_id"
	// ReasonBadMetricName: a metric name does not match [a-z][a-z0-9_]{0,63}
	// (for line protocol: measurement_field).
	ReasonBadMetricName Reason = "bad_metric_name"
	// ReasonNonFinite: a value is NaN or ±Inf (or overflows float64).
	ReasonNonFinite Reason = "non_finite"
	// ReasonBadTS: a timestamp is missing, not RFC 3339 / integer
	// milliseconds, or outside the range InfluxDB can store.
	ReasonBadTS Reason = "bad_ts"
	// ReasonFutureTS: a timestamp is more than MaxFutureSkew after receipt.
	ReasonFutureTS Reason = "future_ts"
	// ReasonTooLarge: the payload exceeds MaxPayloadBytes.
	ReasonTooLarge Reason = "too_large"
	// ReasonBadTopic: the topic is not {root}/{site}/{asset}/telemetry|event.
	ReasonBadTopic Reason = "bad_topic"
	// ReasonEmpty: the payload carries no reading or a reading has no metric.
	ReasonEmpty Reason = "empty"
	// ReasonBadEvent: a device event lacks a valid code or severity.
	ReasonBadEvent Reason = "bad_event"
	// ReasonSeriesCollision: two series of one message map to the same
	// metric at the same time (line protocol tags that differ only in case
	// or punctuation, or a metric repeated in one reading); storing both
	// would silently keep one.
	ReasonSeriesCollision Reason = "series_collision"
	// ReasonTooManyMetrics: a reading has more metrics than
	// Limits.MaxMetricsPerReading.
	ReasonTooManyMetrics Reason = "too_many_metrics"
	// ReasonTooManyAssetMetrics: the message would give its asset more
	// distinct metric names than Limits.MaxMetricsPerAsset.
	ReasonTooManyAssetMetrics Reason = "too_many_asset_metrics"
	// ReasonTooManyUnknownAssets: the asset is not registered and
	// Limits.MaxUnknownAssets other unregistered assets are active.
	ReasonTooManyUnknownAssets Reason = "too_many_unknown_assets"
	// ReasonDuplicateSeqConflict: the message's (gateway, seq) came before
	// with other readings (contract section 5); the first one stands.
	ReasonDuplicateSeqConflict Reason = "duplicate_seq_conflict"
	// ReasonStoreRejected: InfluxDB refused the message's points for good
	// (HTTP 400, e.g. a field type conflict with data written by others).
	ReasonStoreRejected Reason = "store_rejected"
)

// Reasons returns every reject reason.
func Reasons() []Reason {
	return []Reason{ReasonMalformedJSON, ReasonBadLineProtocol, ReasonBadID, ReasonBadMetricName,
		ReasonNonFinite, ReasonBadTS, ReasonFutureTS, ReasonTooLarge, ReasonBadTopic, ReasonEmpty,
		ReasonBadEvent, ReasonStoreRejected, ReasonSeriesCollision, ReasonTooManyMetrics,
		ReasonTooManyAssetMetrics, ReasonTooManyUnknownAssets, ReasonDuplicateSeqConflict}
}

// RejectError is returned by the decoders for input that the contract
// rejects. Reason is stable; Detail is for people.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return "rejected: " + string(e.Reason)
	}
	return "rejected: " + string(e.Reason) + ": " + e.Detail
}

func reject(r Reason, detail string) error { return &RejectError{Reason: r, Detail: detail} }

// ReasonOf returns the reject reason carried by err, or "" when err is not
// (or does not wrap) a *RejectError.
func ReasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// ErrStoreRejected is wrapped by Writer errors that retrying cannot fix: the
// store refused the data itself (not a network or availability problem).
// The pipeline then writes the batch message by message and rejects only the
// messages the store refuses.
var ErrStoreRejected = errors.New("store rejected the data")

// Reject is one rejected message as listed at GET /api/v1/ingest/rejects.
type Reject struct {
	Time    time.Time `json:"time"`
	Topic   string    `json:"topic"`
	Reason  Reason    `json:"reason"`
	Detail  string    `json:"detail,omitempty"`
	Payload string    `json:"payload"` // the first RejectPayloadBytes bytes
}

// RejectPayloadBytes is how much of a rejected payload is kept.
const RejectPayloadBytes = 512

// rejectLog keeps the latest rejects in a ring.
type rejectLog struct {
	mu   sync.Mutex // guards ring, next, full
	ring []Reject
	next int
	full bool
}

func newRejectLog(n int) *rejectLog { return &rejectLog{ring: make([]Reject, n)} }

func (l *rejectLog) add(r Reject) {
	if len(l.ring) == 0 {
		return
	}
	l.mu.Lock()
	l.ring[l.next] = r
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
}

// list returns the rejects, newest first.
func (l *rejectLog) list() []Reject {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	out := make([]Reject, 0, n)
	for i := 0; i < n; i++ {
		j := l.next - 1 - i
		if j < 0 {
			j += len(l.ring)
		}
		out = append(out, l.ring[j])
	}
	return out
}
