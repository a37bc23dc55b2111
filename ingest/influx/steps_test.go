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
}
