package ingest

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Decode decodes a telemetry payload of one asset, choosing the format by
// its first non-blank byte: '{' is JSON, anything else line protocol. now is
// the receive time (the future check and line protocol without timestamps
// use it). A rejected payload returns a *RejectError.
func Decode(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	var d Decoder
	return d.Decode(site, asset, payload, now)
}

// DecodeJSON decodes the contract's JSON telemetry payload (single reading
// or batch) of one asset. A rejected payload returns a *RejectError and no
// readings: a message is accepted or rejected as a whole.
func DecodeJSON(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	var d Decoder
	return d.DecodeJSON(site, asset, payload, now)
}

// DecodeLineProtocol decodes an InfluxDB line protocol payload of one asset:
// field f of measurement m becomes metric m_f; integer, unsigned and boolean
// fields become numbers (true = 1); string fields are ignored; a `gateway`
// tag sets the reading's gateway, `site` and `asset` tags are ignored (the
// topic names them) and every other tag is folded into the metric name
// (see foldTags), so series never merge. Timestamps are nanoseconds; a line
// without one gets now. A rejected payload returns a *RejectError and no
// readings.
func DecodeLineProtocol(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	var d Decoder
	return d.DecodeLineProtocol(site, asset, payload, now)
}

// Decoder decodes telemetry payloads. Its zero value is ready to use. A
// Decoder remembers metric names it has seen (up to a bound) so that decoding
// them again allocates nothing; it is not safe for concurrent use.
type Decoder struct {
	// IgnoreTags are line protocol tags that do not tell series apart and
	// are dropped instead of folded into metric names (for example "host"
	// when one Telegraf publishes each asset's topic). site, asset and
	// gateway are never folded.
	IgnoreTags []string

	// Seq and HasSeq are the JSON payload's seq after a Decode (HasSeq is
	// false for payloads without one and for line protocol).
	Seq    uint64
	HasSeq bool

	names  map[string]string
	recent []string // the names seen last at each position of a reading
	mbuf   []byte
	pbuf   []byte
}

func (d *Decoder) ignoredTag(k []byte) bool {
	for _, t := range d.IgnoreTags {
		if t == string(k) {
			return true
		}
	}
	return false
}

// maxInterned bounds the decoder's memory of metric names.
const maxInterned = 4096

// Decode is the package-level Decode using d's name cache.
func (d *Decoder) Decode(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	for _, c := range payload {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c == '{' {
			return d.DecodeJSON(site, asset, payload, now)
		}
		break
	}
	return d.DecodeLineProtocol(site, asset, payload, now)
}

func checkCommon(site, asset string, payload []byte) error {
	if len(payload) > MaxPayloadBytes {
		return reject(ReasonTooLarge, strconv.Itoa(len(payload))+" bytes")
	}
	if !ValidCode(site) {
		return reject(ReasonBadID, "site "+strconv.Quote(clip(site)))
	}
	if !ValidCode(asset) {
		return reject(ReasonBadID, "asset "+strconv.Quote(clip(asset)))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// name returns b as an interned string.
func (d *Decoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.names == nil {
		d.names = make(map[string]string)
	}
	if len(d.names) < maxInterned {
		d.names[s] = s
	}
	return s
}

// metricName validates and interns the j-th metric name of a reading.
// Readings of a batch usually repeat the same names in the same order, so
// the name seen last at position j is tried first.
func (d *Decoder) metricName(j int, b []byte) (string, error) {
	if j < len(d.recent) && d.recent[j] == string(b) {
		return d.recent[j], nil
	}
	if !validMetricBytes(b) {
		return "", reject(ReasonBadMetricName, strconv.Quote(clip(string(b))))
	}
	s := d.name(b)
	if j < 64 {
		for len(d.recent) <= j {
			d.recent = append(d.recent, "")
		}
		d.recent[j] = s
	}
	return s, nil
}

// Bounds of what InfluxDB can store (it reserves the extremes).
const (
	minTSNanos = math.MinInt64 + 2
	maxTSNanos = math.MaxInt64 - 1
)

func checkTS(ts, now time.Time) error {
	if ts.After(now.Add(MaxFutureSkew)) {
		return reject(ReasonFutureTS, ts.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func checkValue(name []byte, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return reject(ReasonNonFinite, "metric "+string(name))
	}
	return nil
}

// bstr views b as a string without copying; only for calls that do not
// keep the string (strconv parsing, which copies on error).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
