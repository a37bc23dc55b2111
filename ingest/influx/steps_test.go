package influx

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

// SeriesSet gives in one query what Series gives metric by metric.
func TestSeriesSetMatchesSeries(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var rs []ingest.Reading
	for i := range 180 {
		rd := ingest.Reading{Site: "s1", Asset: "p1", TS: t0.Add(time.Duration(i) * time.Second),
			Metrics: []ingest.Metric{{Name: "vib", Value: float64(i)}}}
		if i >= 60 { // temp starts a minute later
			rd.Metrics = append(rd.Metrics, ingest.Metric{Name: "temp", Value: 50 + float64(i%7)})
		}
		rs = append(rs, rd)
	}
	rs = append(rs, ingest.Reading{Site: "s1", Asset: "p2", TS: t0, Metrics: []ingest.Metric{{Name: "vib", Value: 99}}})
	require.NoError(t, c.Write(ctx, rs))

	got, err := c.SeriesSet(ctx, "s1", "p1", []string{"vib", "temp", "none"}, t0, t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 2, "a metric without data has no entry")
	for _, m := range []string{"vib", "temp"} {
		want, err := c.Series(ctx, "s1", "p1", m, t0, t0.Add(3*time.Minute), time.Minute)
		require.NoError(t, err)
		require.Equal(t, want, got[m], m)
	}
	require.Len(t, got["vib"], 3)
	require.Len(t, got["temp"], 2)
	require.Equal(t, []Point{{TS: t0, Value: 29.5}, {TS: t0.Add(time.Minute), Value: 89.5}, {TS: t0.Add(2 * time.Minute), Value: 149.5}}, got["vib"])

	_, err = c.SeriesSet(ctx, "s1", "p1", []string{"Bad"}, t0, t0.Add(time.Minute), time.Minute)
	require.Error(t, err)
	_, err = c.SeriesSet(ctx, "s1", "p1", []string{"vib"}, t0, t0.Add(time.Minute), 0)
	require.Error(t, err)

	// SeriesAll: every metric the asset has, as SeriesSet gives them by name.
	all, err := c.SeriesAll(ctx, "s1", "p1", t0, t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Equal(t, got, all)
	all, err = c.SeriesAll(ctx, "s1", "p2", t0, t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Equal(t, map[string][]Point{"vib": {{TS: t0, Value: 99}}}, all, "another asset's readings only")
	_, err = c.SeriesAll(ctx, "s1", "p1", t0, t0.Add(time.Minute), 0)
	require.Error(t, err)
}

// SeriesSets (InfluxQL, several assets) gives each asset exactly what
// SeriesSet (Flux) gives it when its readings come through one gateway
// (one series); through two, a window's mean adds the same readings in
// another order (InfluxQL in time order, Flux series by series), so it
// may differ in the last bit.
func TestSeriesSetsMatchSeriesSet(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	assets := []Asset{{Site: "s1", Asset: "p1"}, {Site: "s1", Asset: "p2"}, {Site: "s2", Asset: "p1"}, {Site: "s2", Asset: "none"}}
	var rs []ingest.Reading
	for k, a := range assets[:3] {
		for i := range 300 {
			rd := ingest.Reading{Site: a.Site, Asset: a.Asset, TS: t0.Add(time.Duration(i*7) * time.Second),
				Metrics: []ingest.Metric{{Name: "vib", Value: float64(i)/3 + float64(k)}}}
			if i%5 != 0 {
				rd.Metrics = append(rd.Metrics, ingest.Metric{Name: "temp", Value: 50.1 + float64(i%7)/10})
			}
			if k == 1 {
				rd.Gateway = []string{"g1", "g2"}[i%2]
			}
			rs = append(rs, rd)
		}
	}
	require.NoError(t, c.Write(ctx, rs))
	metrics := []string{"vib", "temp", "absent"}
	from, to := t0.Add(-time.Minute), t0.Add(40*time.Minute)
	got, err := c.SeriesSets(ctx, assets, metrics, from, to, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 3, "an asset without data has no entry")
	for _, a := range assets[:3] {
		want, err := c.SeriesSet(ctx, a.Site, a.Asset, metrics, from, to, time.Minute)
		require.NoError(t, err)
		require.Len(t, want["vib"], 35)
		if a.Asset != "p2" || a.Site != "s1" {
			require.Equal(t, want, got[a], "%v", a)
			continue
		}
		require.Len(t, got[a], len(want))
		for m, pts := range want {
			require.Len(t, got[a][m], len(pts), m)
			for i, p := range pts {
				require.Equal(t, p.TS, got[a][m][i].TS)
				require.InEpsilon(t, p.Value, got[a][m][i].Value, 1e-14, "%s %v", m, p.TS)
			}
		}
	}

	_, err = c.SeriesSets(ctx, []Asset{{Site: "s1", Asset: "p'1"}}, metrics, from, to, time.Minute)
	require.Error(t, err)
	dead, err := New(Config{URL: "http://127.0.0.1:1", Bucket: c.cfg.Bucket})
	require.NoError(t, err)
	_, err = dead.SeriesSets(ctx, assets, metrics, from, to, time.Minute)
	require.Error(t, err)
}
