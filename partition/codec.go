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

// Decode reads a batch written by Encode. Strings that repeat across the
// batch (sites, assets, gateways, metric names) are shared, and the
// metrics of all readings share one backing array.
func Decode(b []byte) ([]ingest.Reading, error) {
	d := decoder{b: b, strs: map[string]string{}}
	if d.byte() != codecVersion {
		return nil, ErrCodec
	}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, ErrCodec
	}
	out := make([]ingest.Reading, n)
	var ms []ingest.Metric
	for i := range out {
		r := &out[i]
		r.Site = d.str()
		r.Asset = d.str()
		r.Gateway = d.str()
		r.TS = time.Unix(0, d.varint()).UTC()
		nm := d.uvarint()
		if d.err != nil || nm > uint64(len(d.b)) {
			return nil, ErrCodec
		}
		if uint64(cap(ms)-len(ms)) < nm {
			// Room for this reading's metrics and, at a guess, as many
			// for each reading left.
			ms = make([]ingest.Metric, 0, nm*uint64(len(out)-i))
		}
		start := len(ms)
		for range nm {
			name := d.str()
			ms = append(ms, ingest.Metric{Name: name, Value: math.Float64frombits(d.u64())})
		}
		if nm > 0 {
			r.Metrics = ms[start:len(ms):len(ms)]
		}
		if d.err != nil {
			return nil, ErrCodec
		}
	}
	if len(d.b) != 0 {
		return nil, ErrCodec
	}
	return out, nil
}

type decoder struct {
	b    []byte
	err  error
	strs map[string]string // interned strings of this batch
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

// str reads a string, shared with an equal one read before.
func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	raw := d.b[:n]
	d.b = d.b[n:]
	if s, ok := d.strs[string(raw)]; ok {
		return s
	}
	s := string(raw)
	d.strs[s] = s
	return s
}
