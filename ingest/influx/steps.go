package influx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SeriesSet returns several metrics of an asset in [from, to) in one
// query, each as the mean per window of length every (stamped with the
// window start, empty windows left out), keyed by metric. It is Series
// for many metrics at the cost of one round trip (the fleet model reads
// ten or so metrics of every asset it scores).
func (c *Client) SeriesSet(ctx context.Context, site, asset string, metrics []string, from, to time.Time, every time.Duration) (map[string][]Point, error) {
	if err := checkIDs(site, asset, metrics); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, errors.New("influx: the window must be positive")
	}
	out := make(map[string][]Point, len(metrics))
	if !to.After(from) || len(metrics) == 0 {
		return out, nil
	}
	q := `from(bucket: ` + fluxString(c.cfg.Bucket) + `)
  |> ` + fluxRange(from, to) + `
  |> filter(fn: (r) => r._measurement == "` + Measurement + `" and r.site == "` + site + `" and r.asset == "` + asset + `"` + fieldFilter(metrics) + `)
  |> keep(columns: ["_start", "_stop", "_time", "_value", "_field"])
  |> group(columns: ["_field"])
  |> aggregateWindow(every: ` + fluxDuration(every) + `, fn: mean, createEmpty: false, timeSrc: "_start")
  |> sort(columns: ["_time"])`
	res, err := c.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx: series set: %w", err)
	}
	defer res.Close()
	for res.Next() {
		rec := res.Record()
		v, ok := toFloat(rec.Value())
		if !ok {
			continue
		}
		f := strings.Clone(rec.Field())
		out[f] = append(out[f], Point{TS: rec.Time().UTC(), Value: v})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx: series set: %w", err)
	}
	return out, nil
}
