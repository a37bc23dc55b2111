package influx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SeriesSet returns several metrics of an asset in [from, to) in one
// query, each as the mean per window of length every (stamped with the
// window start, empty windows left out), keyed by metric. It is Series
// for many metrics at the cost of one round trip (the fleet model reads
// ten or so metrics of every asset it scores).
func (c *Client) SeriesSet(ctx context.Context, site, asset string, metrics []string, from, to time.Time, every time.Duration) (map[string][]Point, error) {
	return c.seriesSet(ctx, site, asset, metrics, false, from, to, every)
}

// SeriesAll is SeriesSet for every metric the asset has readings of in
// [from, to) (a chart of all of an asset's metrics).
func (c *Client) SeriesAll(ctx context.Context, site, asset string, from, to time.Time, every time.Duration) (map[string][]Point, error) {
	return c.seriesSet(ctx, site, asset, nil, true, from, to, every)
}

// seriesSet reads the step means of metrics, or with all of every metric.
func (c *Client) seriesSet(ctx context.Context, site, asset string, metrics []string, all bool, from, to time.Time, every time.Duration) (map[string][]Point, error) {
	if err := checkIDs(site, asset, metrics); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, errors.New("influx: the window must be positive")
	}
	if !all && len(metrics) == 0 {
		return map[string][]Point{}, nil
	}
	out := make(map[string][]Point, len(metrics))
	if !to.After(from) {
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

// SeriesSets is SeriesSet for several assets in one query: what SeriesSet
// gives each asset over the same range, keyed by asset (an asset without
// data has no entry). It asks InfluxQL (/query, InfluxDB 1.8 or a 2.x
// bucket with a DBRP mapping), which on 1.8 answers a batch of 10 assets'
// 400 hourly means of 10 metrics in about a tenth of the time one Flux
// query an asset takes (bench/predict.md); a Flux query for many assets
// is slower still than one an asset. The windows are the same whole
// steps since the epoch when from and to are whole steps, and the means
// those of the same readings: bit for bit what Flux gives when an
// asset's readings of a window come through one gateway (one series);
// through several, InfluxQL adds them in time order and Flux series by
// series, which may differ in the last bit. A failed query is an error:
// no partial result.
func (c *Client) SeriesSets(ctx context.Context, assets []Asset, metrics []string, from, to time.Time, every time.Duration) (map[Asset]map[string][]Point, error) {
	for _, a := range assets {
		if err := checkIDs(a.Site, a.Asset, metrics); err != nil {
			return nil, err
		}
	}
	if every <= 0 {
		return nil, errors.New("influx: the window must be positive")
	}
	out := make(map[Asset]map[string][]Point, len(assets))
	if !to.After(from) || len(metrics) == 0 || len(assets) == 0 {
		return out, nil
	}
	sel := make([]string, len(metrics))
	for i, m := range metrics {
		sel[i] = `mean("` + m + `") AS "` + m + `"`
	}
	q := `SELECT ` + strings.Join(sel, ", ") + ` FROM "` + Measurement + `" WHERE (` + assetWhere(assets) +
		`) AND time >= ` + strconv.FormatInt(from.UnixNano(), 10) + ` AND time < ` + strconv.FormatInt(to.UnixNano(), 10) +
		` GROUP BY time(` + fluxDuration(every) + `), "site", "asset" fill(none)`
	res, err := c.influxQL(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx: series sets: %w", err)
	}
	for _, s := range res {
		key := Asset{Site: s.Tags["site"], Asset: s.Tags["asset"]}
		set := out[key]
		if set == nil {
			set = make(map[string][]Point, len(metrics))
			out[key] = set
		}
		for _, row := range s.Values {
			if len(row) != len(s.Columns) || len(row) == 0 {
				return nil, fmt.Errorf("influx: series sets: a row of %d values for %d columns", len(row), len(s.Columns))
			}
			ns, err := strconv.ParseInt(string(row[0]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("influx: series sets: time %s: %w", row[0], err)
			}
			ts := time.Unix(0, ns).UTC()
			for k, col := range s.Columns[1:] {
				raw := row[k+1]
				if string(raw) == "null" {
					continue
				}
				v, err := strconv.ParseFloat(string(raw), 64)
				if err != nil {
					return nil, fmt.Errorf("influx: series sets: %s: %w", col, err)
				}
				set[col] = append(set[col], Point{TS: ts, Value: v})
			}
		}
	}
	return out, nil
}

// assetWhere matches the series of assets (InfluxQL), grouped by site.
func assetWhere(assets []Asset) string {
	var sites []string
	bySite := map[string][]string{}
	for _, a := range assets {
		if _, ok := bySite[a.Site]; !ok {
			sites = append(sites, a.Site)
		}
		bySite[a.Site] = append(bySite[a.Site], `"asset" = '`+a.Asset+`'`)
	}
	parts := make([]string, len(sites))
	for i, s := range sites {
		parts[i] = `("site" = '` + s + `' AND (` + strings.Join(bySite[s], " OR ") + `))`
	}
	return strings.Join(parts, " OR ")
}

// qlSeries is one series of an InfluxQL answer, values kept as JSON text
// (numbers parsed exactly by strconv).
type qlSeries struct {
	Tags    map[string]string   `json:"tags"`
	Columns []string            `json:"columns"`
	Values  [][]json.RawMessage `json:"values"`
}

// influxQL runs one InfluxQL statement through /query (times in
// nanoseconds) and returns its series.
func (c *Client) influxQL(ctx context.Context, q string) ([]qlSeries, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	db, rp, _ := strings.Cut(c.cfg.Bucket, "/")
	form := url.Values{"db": {db}, "epoch": {"ns"}, "q": {q}}
	if rp != "" {
		form.Set("rp", rp)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.queryURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user, pass, ok := strings.Cut(c.cfg.Token, ":"); ok {
		req.SetBasicAuth(user, pass)
	} else if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+c.cfg.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var body struct {
		Results []struct {
			Series []qlSeries `json:"series"`
			Error  string     `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if body.Error != "" {
		return nil, errors.New(body.Error)
	}
	if len(body.Results) != 1 {
		return nil, fmt.Errorf("%d results for one statement", len(body.Results))
	}
	if body.Results[0].Error != "" {
		return nil, errors.New(body.Results[0].Error)
	}
	return body.Results[0].Series, nil
}
