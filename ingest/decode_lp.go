package ingest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// DecodeLineProtocol is the package-level DecodeLineProtocol using d's name
// cache. The syntax is read by influxdata/line-protocol/v2's Decoder; this
// file adds what pdm makes of it: metric names, tag folding, the
// series_collision check and the reject reasons.
func (d *Decoder) DecodeLineProtocol(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	d.Seq, d.HasSeq = 0, false
	if err := checkCommon(site, asset, payload); err != nil {
		return nil, err
	}
	if bytes.IndexByte(payload, '\t') >= 0 {
		// Tabs separate like spaces (as before the library, which knows
		// only spaces); the library then reads a copy.
		payload = bytes.ReplaceAll(payload, []byte{'\t'}, []byte{' '})
	}
	p := lpParser{b: payload, dec: lineprotocol.NewDecoderWithBytes(payload), d: d, now: now}
	// Each field has an '=' (tags have one too): room for all of them, so
	// the metrics slice never grows while parsing.
	return p.parse(site, asset, bytes.Count(payload, []byte{'='})+1)
}

type lpParser struct {
	b      []byte
	dec    *lineprotocol.Decoder
	entry  int // the current entry (non-blank, non-comment line), from 1
	d      *Decoder
	now    time.Time
	tags   []lpTag // the current line's tags that tell series apart
	folded bool    // some line had such tags
	prefix []byte  // the current line's metric name prefix
	field  int     // the current line's fields so far
}

// lpTag is a tag as the library returns it (unescaped); the slices stay
// valid until the next entry.
type lpTag struct{ k, v []byte }

// bad is a reject for a line the library read but pdm does not accept.
func (p *lpParser) bad(detail string) error {
	return reject(ReasonBadLineProtocol, "entry "+strconv.Itoa(p.entry)+": "+detail)
}

// libErr turns a syntax error of the library into a reject. A timestamp
// that is not an integer is bad_ts; a NaN or Inf literal (which the
// library does not read as a number) is non_finite; anything else is
// bad_line_protocol.
func (p *lpParser) libErr(err error, inTime bool) error {
	var de *lineprotocol.DecodeError
	if !errors.As(err, &de) {
		return reject(ReasonBadLineProtocol, err.Error())
	}
	where := "line " + strconv.FormatInt(de.Line, 10) + ":" + strconv.Itoa(de.Column) + ": "
	msg := de.Err.Error()
	switch {
	case inTime && strings.HasPrefix(msg, "invalid timestamp"):
		return reject(ReasonBadTS, where+msg)
	case strings.HasPrefix(msg, "field value has unrecognized type"):
		if k, v := p.fieldAt(de.Line, de.Column); len(v) > 0 && p.prefix != nil {
			if f, err := lpValue(v); err == nil && checkValue(nil, f) != nil {
				// As for a number: the name is checked first.
				name, err := p.metricName(p.field, p.prefix, k)
				if err != nil {
					return err
				}
				return reject(ReasonNonFinite, "metric "+name)
			}
		}
	}
	return reject(ReasonBadLineProtocol, where+msg)
}

// fieldAt returns the field key and the unquoted value that starts at
// line:column (both from 1) of the payload.
func (p *lpParser) fieldAt(line int64, column int) (key, value []byte) {
	b := p.b
	for ; line > 1; line-- {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, nil
		}
		b = b[i+1:]
	}
	if column < 3 || column > len(b) || b[column-2] != '=' {
		return nil, nil
	}
	value = b[column-1:]
	if i := bytes.IndexAny(value, ", \t\r\n"); i >= 0 {
		value = value[:i]
	}
	k := column - 2
	for k > 0 && !((b[k-1] == ',' || b[k-1] == ' ') && (k < 2 || b[k-2] != '\\')) {
		k--
	}
	return b[k : column-2], value
}

func (p *lpParser) parse(site, asset string, sizeHint int) ([]Reading, error) {
	type lineSpan struct {
		span
		gw string
	}
	var spanBuf [8]lineSpan // most payloads have a few lines: no allocation
	var (
		ms    = make([]Metric, 0, sizeHint)
		spans = spanBuf[:0]
		any   bool
	)
	for p.dec.Next() {
		p.entry++
		start := len(ms)
		var err error
		var gw string
		var ts time.Time
		ms, gw, ts, err = p.lineInto(ms)
		if err != nil {
			return nil, err
		}
		any = true
		if len(ms) == start {
			continue // only string fields
		}
		spans = append(spans, lineSpan{span{len(ms), ts}, gw})
	}
	if len(spans) == 0 {
		if any {
			return nil, reject(ReasonEmpty, "no numeric fields")
		}
		return nil, reject(ReasonEmpty, "no lines")
	}
	if p.folded {
		if err := checkCollisions(ms, func(yield func(int, time.Time) bool) {
			for _, sp := range spans {
				if !yield(sp.end, sp.ts) {
					return
				}
			}
		}); err != nil {
			return nil, err
		}
	}
	out := make([]Reading, len(spans))
	start := 0
	for k, sp := range spans {
		if err := checkTS(sp.ts, p.now); err != nil {
			return nil, err
		}
		out[k] = Reading{Site: site, Asset: asset, Gateway: sp.gw, TS: sp.ts, Metrics: ms[start:sp.end:sp.end]}
		start = sp.end
	}
	return out, nil
}

// lineInto reads the decoder's current entry, appending its numeric fields
// to ms.
func (p *lpParser) lineInto(ms []Metric) ([]Metric, string, time.Time, error) {
	dec := p.dec
	meas, err := dec.Measurement()
	if err != nil {
		return ms, "", time.Time{}, p.libErr(err, false)
	}
	// Tags. site and asset come from the topic, gateway sets the reading's
	// gateway; every other tag tells series apart and is folded into the
	// metric names (see foldTags).
	var gw string
	p.tags = p.tags[:0]
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return ms, "", time.Time{}, p.libErr(err, false)
		}
		if k == nil {
			break
		}
		switch {
		case string(k) == "gateway":
			if !validCodeBytes(v) {
				return ms, "", time.Time{}, reject(ReasonBadID, "gateway "+strconv.Quote(clip(string(v))))
			}
			gw = p.d.name(v)
		case string(k) == "site" || string(k) == "asset" || p.d.ignoredTag(k):
		default:
			p.tags = append(p.tags, lpTag{k, v})
		}
	}
	prefix := meas
	if len(p.tags) > 0 {
		prefix = p.foldTags(meas)
		p.folded = true
	}
	p.prefix, p.field = prefix, 0
	defer func() { p.prefix = nil }()
	// Fields.
	nfields := 0
	for {
		k, kind, v, err := dec.NextFieldBytes()
		if err != nil {
			return ms, "", time.Time{}, p.libErr(err, false)
		}
		if k == nil {
			break
		}
		nfields++
		p.field = nfields
		var f float64
		switch kind {
		case lineprotocol.String:
			continue
		case lineprotocol.Int:
			var n int64
			n, err = strconv.ParseInt(bstr(v), 10, 64)
			f = float64(n)
		case lineprotocol.Uint:
			var n uint64
			n, err = strconv.ParseUint(bstr(v), 10, 64)
			f = float64(n)
		default: // Float, Bool
			f, err = lpValue(v)
		}
		if err != nil {
			return ms, "", time.Time{}, p.bad("field " + strconv.Quote(clip(string(k))) + ": bad value " + strconv.Quote(clip(string(v))))
		}
		name, err := p.metricName(nfields-1, prefix, k)
		if err != nil {
			return ms, "", time.Time{}, err
		}
		if err := checkValue(k, f); err != nil {
			return ms, "", time.Time{}, reject(ReasonNonFinite, "metric "+name)
		}
		ms = append(ms, Metric{Name: name, Value: f})
	}
	if nfields == 0 {
		return ms, "", time.Time{}, p.bad("missing fields")
	}
	// Timestamp.
	t, err := dec.TimeBytes()
	if err != nil {
		return ms, "", time.Time{}, p.libErr(err, true)
	}
	ts := p.now
	if t != nil {
		ns, err := strconv.ParseInt(bstr(t), 10, 64)
		if err != nil || ns < minTSNanos || ns > maxTSNanos {
			return ms, "", time.Time{}, reject(ReasonBadTS, "entry "+strconv.Itoa(p.entry)+": bad timestamp "+strconv.Quote(clip(string(t))))
		}
		ts = time.Unix(0, ns).UTC()
	}
	return ms, gw, ts, nil
}

// metricName returns measurement_field interned, or a reject.
func (p *lpParser) metricName(j int, meas, field []byte) (string, error) {
	buf := append(append(append(p.d.mbuf[:0], meas...), '_'), field...)
	p.d.mbuf = buf
	return p.d.metricName(j, buf)
}

// lpValue parses a numeric or boolean line protocol field value (the
// library has checked only its first byte and its i/u suffix).
func lpValue(v []byte) (float64, error) {
	if len(v) == 0 {
		return 0, errBadValue
	}
	switch last := v[len(v)-1]; last {
	case 'i':
		n, err := strconv.ParseInt(bstr(v[:len(v)-1]), 10, 64)
		return float64(n), err
	case 'u':
		n, err := strconv.ParseUint(bstr(v[:len(v)-1]), 10, 64)
		return float64(n), err
	}
	if f, ok := fastNumber(v); ok {
		return f, nil
	}
	switch string(v) {
	case "t", "T", "true", "True", "TRUE":
		return 1, nil
	case "f", "F", "false", "False", "FALSE":
		return 0, nil
	}
	for _, c := range v {
		if c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return 0, errBadValue // strconv extensions InfluxDB does not accept
		}
	}
	f, err := slowFloat(v)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && f != 0 {
			return f, nil // ±Inf: reported as non_finite
		}
		return 0, err
	}
	return f, nil
}

var errBadValue = &strconv.NumError{Func: "lpValue", Err: strconv.ErrSyntax}

// foldTags returns the metric name prefix of a line whose tags tell series
// apart: the measurement, then the value of each such tag in the order of
// the tag keys, joined by '_'. A value is lower-cased and every byte other
// than [a-z0-9] becomes '_' (so cpu=cpu-total gives cpu_cpu_total). Telegraf's
//
//	cpu,cpu=cpu0,host=h1 usage_idle=98.5
//
// thus becomes metric cpu_cpu0_h1_usage_idle (cpu_cpu0_usage_idle when host
// is an ignored tag, see Limits.IgnoreTags). Two series of one message that
// fold to the same metric at the same time are rejected
// (ReasonSeriesCollision), never merged.
func (p *lpParser) foldTags(meas []byte) []byte {
	tags := p.tags
	// Insertion sort by key: a line has few tags, usually sorted already.
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && bytes.Compare(tags[j].k, tags[j-1].k) < 0; j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
	buf := append(p.d.pbuf[:0], meas...)
	for _, t := range tags {
		buf = append(buf, '_')
		v := t.v
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c == '\\' && i+1 < len(v) {
				// A backslash the library keeps (it escapes only ',', '='
				// and ' ') is dropped, the byte after it kept.
				i++
				c = v[i]
			}
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				c = '_'
			}
			buf = append(buf, c)
		}
	}
	p.d.pbuf = buf
	return buf
}

// checkCollisions rejects a message in which one metric name appears twice
// at the same time: two series that fold to one name would otherwise
// overwrite each other in InfluxDB. spans yields the end index in ms and the
// time of each reading.
func checkCollisions(ms []Metric, spans func(yield func(end int, ts time.Time) bool)) error {
	type key struct {
		name string
		ts   int64
	}
	seen := make(map[key]struct{}, len(ms))
	start := 0
	var err error
	spans(func(end int, ts time.Time) bool {
		for _, m := range ms[start:end] {
			k := key{m.Name, ts.UnixNano()}
			if _, dup := seen[k]; dup {
				err = reject(ReasonSeriesCollision, "metric "+m.Name+" twice at "+ts.UTC().Format(time.RFC3339Nano))
				return false
			}
			seen[k] = struct{}{}
		}
		start = end
		return true
	})
	return err
}
