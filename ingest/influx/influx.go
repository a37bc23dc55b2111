// Package influx stores readings in InfluxDB and reads them back: the
// ingest pipeline's Writer (influxdb-client-go/v2's blocking write API, one
// request of line protocol a batch), the
// history reader prediction uses for warm start and backtests, the
// aggregated series the API serves, and a listing of which assets have data.
//
// It works with InfluxDB 1.8 (v2 compatibility endpoints, Flux enabled;
// bucket "db" or "db/rp", token "user:password" or empty) and 2.x.
//
// Layout (contract section 3): measurement `telemetry`, tags `site`,
// `asset` and `gateway` (when known), one float field per metric, timestamp
// the reading's ts in nanoseconds. A point is identified by measurement,
// tags and time, so writing the same reading twice changes nothing.
package influx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/openpdm/pdm/ingest"
)

// Measurement is the measurement readings are stored in.
const Measurement = "telemetry"

// Config of the client.
type Config struct {
	URL    string // PDM_INFLUX_URL, e.g. http://127.0.0.1:8086
	Token  string // PDM_INFLUX_TOKEN (1.8: "user:password" or empty)
	Bucket string // PDM_INFLUX_BUCKET (1.8: "database" or "database/retention")
	Org    string // organisation (InfluxDB 2.x only)
	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration
	// HTTPClient to use (optional).
	HTTPClient *http.Client
}

// Client talks to one InfluxDB bucket. It is safe for concurrent use.
type Client struct {
	cfg      Config
	hc       *http.Client
	writeURL string
	pingURL  string
	queryURL string // InfluxQL
	fluxCl   influxdb2.Client
	query    api.QueryAPI
	write    api.WriteAPIBlocking
	bufs     sync.Pool // *[]byte for request bodies
}

var (
	_ ingest.Writer = (*Client)(nil)
	_ ingest.Pinger = (*Client)(nil)
)

// New returns a client; it does not contact the server (see Ping).
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" || cfg.Bucket == "" {
		return nil, errors.New("influx: URL and Bucket are required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("influx: bad URL %q", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		// Bodies of hundreds of KiB: a bigger buffer means a few writes to
		// the socket per request instead of hundreds of 4 KiB.
		tr.WriteBufferSize = 256 << 10
		hc = &http.Client{Transport: tr}
	}
	base := strings.TrimRight(cfg.URL, "/")
	q := url.Values{"bucket": {cfg.Bucket}, "precision": {"ns"}}
	if cfg.Org != "" {
		q.Set("org", cfg.Org)
	}
	opts := influxdb2.DefaultOptions().SetHTTPClient(hc).SetHTTPRequestTimeout(uint(cfg.Timeout / time.Second)).
		SetPrecision(time.Nanosecond).SetMaxRetries(0)
	fc := influxdb2.NewClientWithOptions(base, cfg.Token, opts)
	return &Client{
		cfg:      cfg,
		hc:       hc,
		writeURL: base + "/api/v2/write?" + q.Encode(),
		pingURL:  base + "/ping",
		queryURL: base + "/query",
		fluxCl:   fc,
		query:    fc.QueryAPI(cfg.Org),
		write:    fc.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		bufs:     sync.Pool{New: func() any { return new([]byte) }},
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.fluxCl.Close() }

// Ping returns nil when the server answers /ping.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.pingURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("influx: ping: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("influx: ping: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Write stores readings and returns once InfluxDB has accepted them (it
// answers after its write-ahead log has them). Errors wrap
// ingest.ErrStoreRejected when InfluxDB refuses the data (HTTP 400, 413).
//
// The readings are encoded as line protocol here (AppendLine: codes and
// names are valid by construction, so there is nothing to escape, and
// floats take a fast exact path) and sent as one record through
// influxdb-client-go/v2's blocking write API (no batching or retries of its
// own: the pipeline retries). bench/ingest.md compares it with posting the
// same body directly (WriteLineProtocol): the same rate.
func (c *Client) Write(ctx context.Context, readings []ingest.Reading) error {
	if len(readings) == 0 {
		return nil
	}
	bp := c.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	for i := range readings {
		b = AppendLine(b, &readings[i])
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	err := c.write.WriteRecord(wctx, string(b[:len(b)-1]))
	cancel()
	if cap(b) <= 64<<20 {
		*bp = b[:0]
		c.bufs.Put(bp)
	}
	if err == nil {
		return nil
	}
	var he *influxhttp.Error
	if errors.As(err, &he) && (he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusRequestEntityTooLarge) {
		return fmt.Errorf("%w: influx: write: HTTP %d: %w", ingest.ErrStoreRejected, he.StatusCode, err)
	}
	return fmt.Errorf("influx: write: %w", err)
}

// WriteLineProtocol posts a line protocol body (nanosecond timestamps) to
// the bucket directly over HTTP (the benchmarks compare it with Write's
// client library). Errors wrap ingest.ErrStoreRejected when InfluxDB
// refuses the data.
func (c *Client) WriteLineProtocol(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.writeURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+c.cfg.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("influx: write: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	err = fmt.Errorf("influx: write: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge {
		return fmt.Errorf("%w: %w", ingest.ErrStoreRejected, err)
	}
	return err
}

// AppendLine appends r as one line of line protocol (nanosecond time) to
// dst. Codes and metric names are valid by construction (the decoders check
// them) and need no escaping.
func AppendLine(dst []byte, r *ingest.Reading) []byte {
	dst = append(dst, Measurement+",asset="...)
	dst = append(dst, r.Asset...)
	if r.Gateway != "" {
		dst = append(dst, ",gateway="...)
		dst = append(dst, r.Gateway...)
	}
	dst = append(dst, ",site="...)
	dst = append(dst, r.Site...)
	for i, m := range r.Metrics {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, m.Name...)
		dst = append(dst, '=')
		dst = AppendFloat(dst, m.Value)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.TS.UnixNano(), 10)
	return append(dst, '\n')
}

// pow10 holds powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// AppendFloat appends a decimal text of v that parses back to exactly v.
// Integers and numbers with up to six decimals (most sensor values) take a
// fast path several times cheaper than strconv's shortest formatting: for
// an integer m < 2^53 and k <= 6, m/10^k is one correctly rounded division
// of exact values, which is what parsing the text "m shifted by k decimals"
// yields (Clinger's fast path); so when it equals v, that text is exact.
// Anything else is formatted by strconv.
func AppendFloat(dst []byte, v float64) []byte {
	if v != 0 && v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	for k := 1; k < len(pow10) && v != 0; k++ {
		s := v * pow10[k]
		if !(math.Abs(s) < 1<<53) {
			break
		}
		m := math.Round(s)
		if m/pow10[k] != v {
			continue
		}
		if m < 0 {
			dst = append(dst, '-')
			m = -m
		}
		var buf [24]byte
		d := strconv.AppendUint(buf[:0], uint64(m), 10)
		if len(d) <= k {
			dst = append(dst, '0', '.')
			for range k - len(d) {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		dst = append(dst, d[:len(d)-k]...)
		dst = append(dst, '.')
		return append(dst, d[len(d)-k:]...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}
