package ingest

import (
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeJSON is the package-level DecodeJSON using d's name cache.
//
// The parser is hand-written for speed and strict: it accepts exactly RFC
// 8259 JSON. Unknown keys are skipped (forward compatibility); the known
// ones must have the contract's types.
func (d *Decoder) DecodeJSON(site, asset string, payload []byte, now time.Time) ([]Reading, error) {
	d.Seq, d.HasSeq = 0, false
	if err := checkCommon(site, asset, payload); err != nil {
		return nil, err
	}
	// Room for the metrics a payload of this size can hold (about 16 bytes
	// each), so the slices do not grow while parsing.
	n := len(payload)/16 + 1
	p := jsonParser{b: payload, d: d, now: now, ms: make([]Metric, 0, n), reads: make([]span, 0, n/8+1)}
	return p.top(site, asset)
}

type jsonParser struct {
	b   []byte
	i   int
	d   *Decoder
	now time.Time
	// metrics of all readings, sliced per reading at the end.
	ms    []Metric
	reads []span
	sbuf  []byte // scratch for unescaped strings
	// members of a flat object (no metrics, no readings) that are numbers
	// or booleans, and the first of them that is not a valid metric.
	flat    []Metric
	flatErr error
}

// span is one decoded reading: its time and the end index of its metrics.
type span struct {
	end int
	ts  time.Time
}

func (p *jsonParser) bad(detail string) error {
	return reject(ReasonMalformedJSON, detail+" at offset "+strconv.Itoa(p.i))
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips blanks and returns the next byte (0 at the end).
func (p *jsonParser) next() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) expect(c byte) error {
	if p.next() != c {
		return p.bad("expected " + strconv.QuoteRune(rune(c)))
	}
	p.i++
	return nil
}

func (p *jsonParser) top(site, asset string) ([]Reading, error) {
	var (
		gateway      string
		haveReadings bool
		haveSingle   bool
		ts           time.Time
		haveTS       bool
	)
	haveMetrics := false
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "gateway":
			g, err := p.str()
			if err != nil {
				return err
			}
			if !validCodeBytes(g) {
				return reject(ReasonBadID, "gateway "+strconv.Quote(clip(string(g))))
			}
			gateway = p.d.name(g)
		case "seq":
			n, err := p.num()
			if err != nil {
				return err
			}
			seq, err := strconv.ParseUint(bstr(n), 10, 64)
			if err != nil {
				return p.bad("seq is not a non-negative integer")
			}
			p.d.Seq, p.d.HasSeq = seq, true
		case "readings":
			if haveSingle || haveReadings {
				return p.bad("both readings and ts/metrics")
			}
			haveReadings = true
			return p.readings()
		case "ts":
			if haveReadings || haveTS {
				return p.bad("ts repeated or beside readings")
			}
			haveSingle, haveTS = true, true
			ts, err = p.ts()
			return err
		case "metrics":
			if haveReadings || haveMetrics {
				return p.bad("metrics repeated or beside readings")
			}
			haveSingle, haveMetrics = true, true
			return p.metrics()
		default:
			return p.flatMember(key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.bad("trailing data")
	}
	if !haveReadings && !haveMetrics && (len(p.flat) > 0 || p.flatErr != nil) {
		// A flat object (Node-RED and the like): its numbers and booleans
		// are one reading's metrics, at ts or else at the receive time.
		if p.flatErr != nil {
			return nil, p.flatErr
		}
		if !haveTS {
			ts = p.now
		}
		if err := checkCollisions(p.flat, func(yield func(int, time.Time) bool) { yield(len(p.flat), ts) }); err != nil {
			return nil, err
		}
		p.ms = append(p.ms, p.flat...)
		haveSingle, haveTS, haveMetrics = true, true, true
	}
	if haveSingle {
		if !haveTS {
			return nil, reject(ReasonBadTS, "missing ts")
		}
		if !haveMetrics {
			return nil, reject(ReasonEmpty, "no metrics")
		}
		p.reads = append(p.reads, span{end: len(p.ms), ts: ts})
	}
	if len(p.reads) == 0 {
		return nil, reject(ReasonEmpty, "no readings")
	}
	out := make([]Reading, len(p.reads))
	start := 0
	for k, r := range p.reads {
		end := r.end
		if end == start {
			return nil, reject(ReasonEmpty, "reading "+strconv.Itoa(k)+" has no metrics")
		}
		if err := checkTS(r.ts, p.now); err != nil {
			return nil, err
		}
		out[k] = Reading{Site: site, Asset: asset, Gateway: gateway, TS: r.ts, Metrics: p.ms[start:end:end]}
		start = end
	}
	return out, nil
}

// flatMember parses the value of a top-level member that is not one of the
// contract's keys. Numbers and booleans (true = 1) are kept as the metrics
// of a flat object, in case the payload turns out to be one; strings, null,
// objects and arrays are skipped (forward compatibility, and the text
// fields such objects carry).
func (p *jsonParser) flatMember(key []byte) error {
	var v float64
	switch c := p.next(); {
	case c == '-' || c >= '0' && c <= '9':
		n, err := p.num()
		if err != nil {
			return err
		}
		if v, err = parseNumber(n); err != nil || math.IsInf(v, 0) {
			if p.flatErr == nil {
				p.flatErr = reject(ReasonNonFinite, "metric "+strconv.Quote(clip(string(key))))
			}
			return nil
		}
	case c == 't' && len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true":
		p.i += 4
		v = 1
	case c == 'f' && len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false":
		p.i += 5
	default:
		return p.skip(0)
	}
	if !validMetricBytes(key) {
		if p.flatErr == nil {
			p.flatErr = reject(ReasonBadMetricName, strconv.Quote(clip(string(key))))
		}
		return nil
	}
	p.flat = append(p.flat, Metric{Name: p.d.name(key), Value: v})
	return nil
}

func (p *jsonParser) readings() error {
	if err := p.expect('['); err != nil {
		return err
	}
	if p.next() == ']' {
		p.i++
		return nil
	}
	for {
		if err := p.reading(); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.bad("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) reading() error {
	var (
		ts                  time.Time
		haveTS, haveMetrics bool
	)
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "ts":
			if haveTS {
				return p.bad("ts repeated")
			}
			haveTS = true
			ts, err = p.ts()
			return err
		case "metrics":
			if haveMetrics {
				return p.bad("metrics repeated")
			}
			haveMetrics = true
			return p.metrics()
		default:
			return p.skip(0)
		}
	})
	if err != nil {
		return err
	}
	if !haveTS {
		return reject(ReasonBadTS, "reading "+strconv.Itoa(len(p.reads))+": missing ts")
	}
	p.reads = append(p.reads, span{end: len(p.ms), ts: ts})
	return nil
}

// object parses a JSON object, calling member for each key with the parser
// positioned after the colon; member must consume the value.
func (p *jsonParser) object(member func(key []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.next() == '}' {
		p.i++
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.bad("expected ',' or '}'")
		}
	}
}

// metrics parses {"name":number,...} appending to p.ms.
func (p *jsonParser) metrics() error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.next() == '}' {
		p.i++
		return nil
	}
	for j := 0; ; j++ {
		key, err := p.str()
		if err != nil {
			return err
		}
		name, err := p.d.metricName(j, key)
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		n, err := p.num()
		if err != nil {
			return err
		}
		v, err := parseNumber(n)
		if err != nil || math.IsInf(v, 0) {
			return reject(ReasonNonFinite, "metric "+name)
		}
		p.ms = append(p.ms, Metric{Name: name, Value: v})
		switch p.next() {
		case ',':
			p.i++
			if p.next() != '"' {
				return p.bad("expected a metric name")
			}
		case '}':
			p.i++
			return nil
		default:
			return p.bad("expected ',' or '}'")
		}
	}
}

// ts parses an RFC 3339 string or an integer of Unix milliseconds.
func (p *jsonParser) ts() (time.Time, error) {
	c := p.next()
	if c == '"' {
		s, err := p.str()
		if err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, bstr(s))
		if err != nil {
			return time.Time{}, reject(ReasonBadTS, strconv.Quote(clip(string(s))))
		}
		if y := t.Year(); y < 1678 || y > 2261 {
			return time.Time{}, reject(ReasonBadTS, strconv.Quote(clip(string(s)))+" out of range")
		}
		return t.UTC(), nil
	}
	if c == '-' || c >= '0' && c <= '9' {
		n, err := p.num()
		if err != nil {
			return time.Time{}, err
		}
		ms, err := strconv.ParseInt(bstr(n), 10, 64)
		if err != nil || ms < minTSNanos/1_000_000 || ms > maxTSNanos/1_000_000 {
			return time.Time{}, reject(ReasonBadTS, string(n)+" is not integer milliseconds in range")
		}
		return msToTime(ms), nil
	}
	if err := p.skip(0); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, reject(ReasonBadTS, "ts is neither a string nor a number")
}

// num scans a JSON number and returns its bytes.
func (p *jsonParser) num() ([]byte, error) {
	p.ws()
	b, i := p.b, p.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return nil, p.bad("expected a number")
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, p.bad("expected a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			p.i = i
			return nil, p.bad("bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			p.i = i
			return nil, p.bad("bad number")
		}
	}
	p.i = i
	return b[start:i], nil
}

// str scans a JSON string and returns its unescaped contents. The result
// aliases the payload or p.sbuf and is valid until the next call.
func (p *jsonParser) str() ([]byte, error) {
	if p.next() != '"' {
		return nil, p.bad("expected a string")
	}
	p.i++
	b := p.b
	start := p.i
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return b[start:i], nil
		}
		if c == '\\' {
			p.i = i
			return p.strEscaped(start)
		}
		if c < 0x20 {
			p.i = i
			return nil, p.bad("control character in string")
		}
	}
	p.i = len(b)
	return nil, p.bad("unterminated string")
}

func (p *jsonParser) strEscaped(start int) ([]byte, error) {
	b := p.b
	out := append(p.sbuf[:0], b[start:p.i]...)
	i := p.i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.sbuf = out
			return out, nil
		case c < 0x20:
			p.i = i
			return nil, p.bad("control character in string")
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				p.i = i
				return nil, p.bad("bad \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			p.i = i
			return nil, p.bad("bad escape")
		}
	}
	p.i = len(b)
	return nil, p.bad("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxDepth bounds nesting inside skipped values.
const maxDepth = 64

// skip scans and discards any JSON value.
func (p *jsonParser) skip(depth int) error {
	if depth > maxDepth {
		return p.bad("nested too deep")
	}
	switch c := p.next(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.num()
		return err
	case c == '{':
		p.i++
		if p.next() == '}' {
			p.i++
			return nil
		}
		for {
			if _, err := p.str(); err != nil {
				return err
			}
			if err := p.expect(':'); err != nil {
				return err
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.next() {
			case ',':
				p.i++
			case '}':
				p.i++
				return nil
			default:
				return p.bad("expected ',' or '}'")
			}
		}
	case c == '[':
		p.i++
		if p.next() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.next() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return p.bad("expected ',' or ']'")
			}
		}
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return nil
			}
		}
		return p.bad("expected a value")
	}
}
