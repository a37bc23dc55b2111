package ingest

import (
	"bytes"
	"strconv"
	"time"
)

// DecodeLineProtocol is the package-level DecodeLineProtocol using d's name
// cache.
func (d *Decoder) DecodeLineProtocol(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	d.Seq, d.HasSeq = 0, false
	if err := checkCommon(site, asset, payload); err != nil {
		return nil, err
	}
	p := lpParser{b: payload, d: d, now: now}
	// Each field has an '=' (tags have one too): room for all of them, so
	// the metrics slice never grows while parsing.
	return p.parse(site, asset, bytes.Count(payload, []byte{'='})+1)
}

type lpParser struct {
	b      []byte
	i      int
	line   int
	d      *Decoder
	now    time.Time
	tags   []lpTag // the current line's tags that tell series apart
	folded bool    // some line had such tags
}

type lpTag struct {
	k, v []byte
	vesc bool
}

func (p *lpParser) bad(detail string) error {
	return reject(ReasonBadLineProtocol, "line "+strconv.Itoa(p.line)+": "+detail)
}

func (p *lpParser) parse(site, asset string, sizeHint int) ([]Reading, error) {
	lines := bytes.Count(p.b, []byte{'\n'}) + 1
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
	if lines > len(spanBuf) {
		spans = make([]lineSpan, 0, lines)
	}
	b := p.b
	for p.i < len(b) {
		p.line++
		// Blank lines and comments.
		j := p.i
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r') {
			j++
		}
		if j == len(b) {
			break
		}
		if b[j] == '\n' {
			p.i = j + 1
			continue
		}
		if b[j] == '#' {
			for j < len(b) && b[j] != '\n' {
				j++
			}
			p.i = j + 1
			continue
		}
		p.i = j
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

// token scans up to an unescaped byte of stop (or the end of the line) and
// returns the raw bytes and whether they contained escapes.
func (p *lpParser) token(stopEq, stopComma, stopSpace bool) ([]byte, bool) {
	b := p.b
	start := p.i
	esc := false
	i := p.i
	for i < len(b) {
		c := b[i]
		if c == '\\' && i+1 < len(b) && b[i+1] != '\n' {
			esc = true
			i += 2
			continue
		}
		if c == '\n' || (stopEq && c == '=') || (stopComma && c == ',') || (stopSpace && (c == ' ' || c == '\t' || c == '\r')) {
			break
		}
		i++
	}
	p.i = i
	return b[start:i], esc
}

// value scans an unquoted field value (which has no escapes).
func (p *lpParser) value() []byte {
	b := p.b
	i := p.i
	for i < len(b) {
		switch b[i] {
		case ',', ' ', '\t', '\r', '\n', '\\':
			v := b[p.i:i]
			p.i = i
			return v
		}
		i++
	}
	v := b[p.i:i]
	p.i = i
	return v
}

func (p *lpParser) at(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *lpParser) spaces() bool {
	n := p.i
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t') {
		p.i++
	}
	return p.i > n
}

// lineInto parses one line at p.i, appending its numeric fields to ms.
func (p *lpParser) lineInto(ms []Metric) ([]Metric, string, time.Time, error) {
	var gw string
	meas, mesc := p.token(false, true, true)
	if len(meas) == 0 {
		return ms, "", time.Time{}, p.bad("missing measurement")
	}
	// Tags. site and asset come from the topic, gateway sets the reading's
	// gateway; every other tag tells series apart and is folded into the
	// metric names (see foldTags).
	p.tags = p.tags[:0]
	for p.at(',') {
		p.i++
		k, kesc := p.token(true, true, true)
		if !p.at('=') || len(k) == 0 {
			return ms, "", time.Time{}, p.bad("bad tag")
		}
		p.i++
		v, vesc := p.token(false, true, true)
		if len(v) == 0 {
			return ms, "", time.Time{}, p.bad("empty tag value")
		}
		switch {
		case kesc:
			p.tags = append(p.tags, lpTag{unescapeLP(k), v, vesc})
		case string(k) == "gateway":
			if vesc || !validCodeBytes(v) {
				return ms, "", time.Time{}, reject(ReasonBadID, "gateway "+strconv.Quote(clip(string(v))))
			}
			gw = p.d.name(v)
		case string(k) == "site" || string(k) == "asset" || p.d.ignoredTag(k):
		default:
			p.tags = append(p.tags, lpTag{k, v, vesc})
		}
	}
	prefix := meas
	if len(p.tags) > 0 {
		var err error
		if prefix, err = p.foldTags(meas, mesc); err != nil {
			return ms, "", time.Time{}, err
		}
		mesc = false
		p.folded = true
	}
	if !p.spaces() {
		return ms, "", time.Time{}, p.bad("missing fields")
	}
	// Fields.
	nfields := 0
	for {
		k, kesc := p.token(true, true, true)
		if !p.at('=') || len(k) == 0 {
			return ms, "", time.Time{}, p.bad("bad field")
		}
		p.i++
		nfields++
		if p.at('"') {
			if err := p.skipString(); err != nil {
				return ms, "", time.Time{}, err
			}
		} else {
			v := p.value()
			f, err := lpValue(v)
			if err != nil {
				return ms, "", time.Time{}, p.bad("field " + strconv.Quote(clip(string(k))) + ": bad value " + strconv.Quote(clip(string(v))))
			}
			name, err := p.metricName(nfields-1, prefix, k, mesc || kesc)
			if err != nil {
				return ms, "", time.Time{}, err
			}
			if err := checkValue(k, f); err != nil {
				return ms, "", time.Time{}, reject(ReasonNonFinite, "metric "+name)
			}
			ms = append(ms, Metric{Name: name, Value: f})
		}
		if p.at(',') {
			p.i++
			continue
		}
		break
	}
	// Timestamp.
	ts := p.now
	if p.spaces() && p.i < len(p.b) && p.b[p.i] != '\n' && p.b[p.i] != '\r' {
		t, _ := p.token(false, false, true)
		ns, err := strconv.ParseInt(bstr(t), 10, 64)
		if err != nil || ns < minTSNanos || ns > maxTSNanos {
			return ms, "", time.Time{}, reject(ReasonBadTS, "line "+strconv.Itoa(p.line)+": bad timestamp "+strconv.Quote(clip(string(t))))
		}
		ts = time.Unix(0, ns).UTC()
		p.spaces()
	}
	if p.at('\r') {
		p.i++
	}
	if p.i < len(p.b) {
		if p.b[p.i] != '\n' {
			return ms, "", time.Time{}, p.bad("unexpected " + strconv.QuoteRune(rune(p.b[p.i])))
		}
		p.i++
	}
	return ms, gw, ts, nil
}

// skipString skips a double-quoted string field value at p.i.
func (p *lpParser) skipString() error {
	b := p.b
	for i := p.i + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			p.i = i + 1
			return nil
		}
	}
	return p.bad("unterminated string field")
}

// metricName returns measurement_field interned, or a reject.
func (p *lpParser) metricName(j int, meas, field []byte, escaped bool) (string, error) {
	// The name seen last at this position, compared without building the
	// joined name first.
	if !escaped && j < len(p.d.recent) {
		if r := p.d.recent[j]; len(r) == len(meas)+1+len(field) && r[len(meas)] == '_' &&
			r[:len(meas)] == string(meas) && r[len(meas)+1:] == string(field) {
			return r, nil
		}
	}
	buf := append(append(append(p.d.mbuf[:0], meas...), '_'), field...)
	p.d.mbuf = buf
	if escaped {
		return "", reject(ReasonBadMetricName, strconv.Quote(clip(string(buf))))
	}
	return p.d.metricName(j, buf)
}

// lpValue parses a numeric or boolean line protocol field value.
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
func (p *lpParser) foldTags(meas []byte, mesc bool) ([]byte, error) {
	if mesc {
		return nil, reject(ReasonBadMetricName, strconv.Quote(clip(string(meas))))
	}
	tags := p.tags
	// Insertion sort by key: a line has few tags, usually sorted already.
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && bytes.Compare(tags[j].k, tags[j-1].k) < 0; j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
	buf := append(p.d.pbuf[:0], meas...)
	for _, t := range tags {
		v := t.v
		if t.vesc {
			v = unescapeLP(v)
		}
		buf = append(buf, '_')
		for _, c := range v {
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
	return buf, nil
}

// unescapeLP removes line protocol backslash escapes.
func unescapeLP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		out = append(out, b[i])
	}
	return out
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
