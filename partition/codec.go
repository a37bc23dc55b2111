package partition

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// codecVersion starts every encoded batch; a new layout gets a new one.
const codecVersion = 1

// ErrCodec is returned for a payload that is not an encoded batch.
var ErrCodec = errors.New("partition: malformed batch")

// Encode appends readings to b in the stream's binary layout: version,
// count, then per reading site, asset, gateway, Unix nanoseconds and the
// metrics (name, IEEE 754 bits). Strings are length-prefixed.
func Encode(b []byte, rs []ingest.Reading) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for i := range rs {
		r := &rs[i]
		b = appendString(b, r.Site)
		b = appendString(b, r.Asset)
		b = appendString(b, r.Gateway)
		b = binary.AppendVarint(b, r.TS.UnixNano())
		b = binary.AppendUvarint(b, uint64(len(r.Metrics)))
		for _, m := range r.Metrics {
			b = appendString(b, m.Name)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Value))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decode reads a batch written by Encode. Site and asset strings repeat
// across a batch and are shared, not copied per reading.
func Decode(b []byte) ([]ingest.Reading, error) {
	d := decoder{b: b}
	if d.byte() != codecVersion {
		return nil, ErrCodec
	}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, ErrCodec
	}
	out := make([]ingest.Reading, 0, n)
	var lastSite, lastAsset, lastGW string
	for range n {
		var r ingest.Reading
		r.Site = d.str(&lastSite)
		r.Asset = d.str(&lastAsset)
		r.Gateway = d.str(&lastGW)
		r.TS = time.Unix(0, d.varint()).UTC()
		nm := d.uvarint()
		if d.err != nil || nm > uint64(len(d.b)) {
			return nil, ErrCodec
		}
		r.Metrics = make([]ingest.Metric, nm)
		for j := range r.Metrics {
			r.Metrics[j].Name = d.str(nil)
			r.Metrics[j].Value = math.Float64frombits(d.u64())
		}
		if d.err != nil {
			return nil, ErrCodec
		}
		out = append(out, r)
	}
	if len(d.b) != 0 {
		return nil, ErrCodec
	}
	return out, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = ErrCodec, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// str reads a string; with last, an equal string is shared with the
// previous one instead of allocated again.
func (d *decoder) str(last *string) string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	raw := d.b[:n]
	d.b = d.b[n:]
	if last != nil && *last == string(raw) {
		return *last
	}
	s := string(raw)
	if last != nil {
		*last = s
	}
	return s
}
