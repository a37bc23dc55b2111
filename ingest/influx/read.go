package influx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// Point is one value of an aggregated series.
type Point struct {
	TS    time.Time `json:"ts"`
	Value float64   `json:"value"`
}

// Asset names one asset that has data.
type Asset struct {
	Site  string `json:"site"`
	Asset string `json:"asset"`
}

// fluxString quotes s as a Flux string literal.
func fluxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// fluxRange is a range() over [from, to): InfluxDB 1.8 treats stop as
// inclusive, so stop is one nanosecond before to.
func fluxRange(from, to time.Time) string {
	return `range(start: ` + fluxTime(from) + `, stop: ` + fluxTime(to.Add(-time.Nanosecond)) + `)`
}

func checkIDs(site, asset string, metrics []string) error {
	if !ingest.ValidCode(site) || !ingest.ValidCode(asset) {
		return fmt.Errorf("influx: bad site or asset code %q/%q", site, asset)
	}
	for _, m := range metrics {
		if !ingest.ValidMetricName(m) {
			return fmt.Errorf("influx: bad metric name %q", m)
		}
	}
	return nil
}

func fieldFilter(metrics []string) string {
	if len(metrics) == 0 {
		return ""
	}
	parts := make([]string, len(metrics))
	for i, m := range metrics {
		parts[i] = `r._field == "` + m + `"`
	}
	return " and (" + strings.Join(parts, " or ") + ")"
}

// ReadReadings returns the asset's readings with ts in [from, to), oldest
// first, each with the requested metrics it has (all metrics when metrics is
// empty). Values of one time are merged into one reading.
func (c *Client) ReadReadings(ctx context.Context, site, asset string, metrics []string, from, to time.Time) ([]ingest.Reading, error) {
	if err := checkIDs(site, asset, metrics); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, nil
	}
	q := `from(bucket: ` + fluxString(c.cfg.Bucket) + `)
  |> ` + fluxRange(from, to) + `
  |> filter(fn: (r) => r._measurement == "` + Measurement + `" and r.site == "` + site + `" and r.asset == "` + asset + `"` + fieldFilter(metrics) + `)
  |> keep(columns: ["_time", "_field", "_value", "gateway"])
  |> group()
  |> sort(columns: ["_time", "_field"])`
	res, err := c.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx: read readings: %w", err)
	}
	defer res.Close()
	var out []ingest.Reading
	for res.Next() {
		rec := res.Record()
		v, ok := toFloat(rec.Value())
		if !ok {
			continue
		}
		ts := rec.Time().UTC()
		n := len(out)
		if n == 0 || !out[n-1].TS.Equal(ts) {
			out = append(out, ingest.Reading{Site: site, Asset: asset, TS: ts})
			n++
		}
		r := &out[n-1]
		if g, ok := rec.ValueByKey("gateway").(string); ok && r.Gateway == "" {
			r.Gateway = g
		}
		r.Metrics = append(r.Metrics, ingest.Metric{Name: rec.Field(), Value: v})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: read readings: %w", err)
	}
	return out, nil
}

// Series returns one metric of an asset in [from, to), as the mean per
// window of length every (stamped with the window start, empty windows
// left out), or the raw values when every is zero.
func (c *Client) Series(ctx context.Context, site, asset, metric string, from, to time.Time, every time.Duration) ([]Point, error) {
	if err := checkIDs(site, asset, []string{metric}); err != nil {
		return nil, err
	}
	if every < 0 {
		return nil, errors.New("influx: negative window")
	}
	if !to.After(from) {
		return nil, nil
	}
	agg := ""
	if every > 0 {
		agg = `
  |> aggregateWindow(every: ` + fluxDuration(every) + `, fn: mean, createEmpty: false, timeSrc: "_start")`
	}
	q := `from(bucket: ` + fluxString(c.cfg.Bucket) + `)
  |> ` + fluxRange(from, to) + `
  |> filter(fn: (r) => r._measurement == "` + Measurement + `" and r.site == "` + site + `" and r.asset == "` + asset + `" and r._field == "` + metric + `")
  |> keep(columns: ["_start", "_stop", "_time", "_value"])
  |> group()` + agg + `
  |> sort(columns: ["_time"])`
	res, err := c.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx: series: %w", err)
	}
	defer res.Close()
	var out []Point
	for res.Next() {
		rec := res.Record()
		v, ok := toFloat(rec.Value())
		if !ok {
			continue
		}
		out = append(out, Point{TS: rec.Time().UTC(), Value: v})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: series: %w", err)
	}
	return out, nil
}

// Assets lists the assets with at least one of metrics (any metric when
// metrics is empty) in [from, to), sorted by site and asset.
func (c *Client) Assets(ctx context.Context, metrics []string, from, to time.Time) ([]Asset, error) {
	for _, m := range metrics {
		if !ingest.ValidMetricName(m) {
			return nil, fmt.Errorf("influx: bad metric name %q", m)
		}
	}
	if !to.After(from) {
		return nil, nil
	}
	q := `from(bucket: ` + fluxString(c.cfg.Bucket) + `)
  |> ` + fluxRange(from, to) + `
  |> filter(fn: (r) => r._measurement == "` + Measurement + `"` + fieldFilter(metrics) + `)
  |> keep(columns: ["_time", "_value", "site", "asset"])
  |> group(columns: ["site", "asset"])
  |> last()
  |> group()
  |> sort(columns: ["site", "asset"])`
	res, err := c.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx: assets: %w", err)
	}
	defer res.Close()
	var out []Asset
	for res.Next() {
		rec := res.Record()
		s, _ := rec.ValueByKey("site").(string)
		a, _ := rec.ValueByKey("asset").(string)
		if s == "" || a == "" {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Site == s && out[n-1].Asset == a {
			continue
		}
		out = append(out, Asset{Site: s, Asset: a})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: assets: %w", err)
	}
	return out, nil
}

func fluxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%dns", d.Nanoseconds())
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}
