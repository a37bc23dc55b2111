package influx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

func testClient(t *testing.T) *Client {
	t.Helper()
	base := servicetest.InfluxURL(t)
	db := servicetest.InfluxDatabase(t, base)
	c, err := New(Config{URL: base, Bucket: db})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestWriteAndRead(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var rs []ingest.Reading
	for i := 0; i < 120; i++ {
		rs = append(rs, ingest.Reading{Site: "s1", Asset: "p1", Gateway: "gw-1", TS: t0.Add(time.Duration(i) * time.Second),
			Metrics: []ingest.Metric{{Name: "vib", Value: float64(i)}, {Name: "temp", Value: 50 + 0.5}}})
	}
	rs = append(rs, ingest.Reading{Site: "s1", Asset: "p2", TS: t0, Metrics: []ingest.Metric{{Name: "temp", Value: 1}}},
		ingest.Reading{Site: "s2", Asset: "p1", TS: t0.Add(time.Hour), Metrics: []ingest.Metric{{Name: "vib", Value: 1e-300}}})
	require.NoError(t, c.Write(ctx, rs))
	require.NoError(t, c.Write(ctx, rs[:60])) // idempotent: changes nothing

	got, err := c.ReadReadings(ctx, "s1", "p1", []string{"vib", "temp"}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 60)
	for i, r := range got {
		require.Equal(t, t0.Add(time.Duration(i)*time.Second), r.TS)
		require.Equal(t, "gw-1", r.Gateway)
		v, ok := r.Value("vib")
		require.True(t, ok)
		require.Equal(t, float64(i), v)
		v, _ = r.Value("temp")
		require.Equal(t, 50.5, v)
	}
	only, err := c.ReadReadings(ctx, "s1", "p1", []string{"vib"}, t0, t0.Add(3*time.Second))
	require.NoError(t, err)
	require.Equal(t, []ingest.Reading{
		{Site: "s1", Asset: "p1", Gateway: "gw-1", TS: t0, Metrics: []ingest.Metric{{Name: "vib", Value: 0}}},
		{Site: "s1", Asset: "p1", Gateway: "gw-1", TS: t0.Add(time.Second), Metrics: []ingest.Metric{{Name: "vib", Value: 1}}},
		{Site: "s1", Asset: "p1", Gateway: "gw-1", TS: t0.Add(2 * time.Second), Metrics: []ingest.Metric{{Name: "vib", Value: 2}}},
	}, only)

	pts, err := c.Series(ctx, "s1", "p1", "vib", t0, t0.Add(2*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Equal(t, []Point{{TS: t0, Value: 29.5}, {TS: t0.Add(time.Minute), Value: 89.5}}, pts)
	raw, err := c.Series(ctx, "s1", "p1", "vib", t0, t0.Add(2*time.Second), 0)
	require.NoError(t, err)
	require.Equal(t, []Point{{TS: t0, Value: 0}, {TS: t0.Add(time.Second), Value: 1}}, raw)

	assets, err := c.Assets(ctx, []string{"vib"}, t0, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, []Asset{{"s1", "p1"}, {"s2", "p1"}}, assets)
	assets, err = c.Assets(ctx, nil, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, []Asset{{"s1", "p1"}, {"s1", "p2"}}, assets)

	_, err = c.ReadReadings(ctx, "s 1", "p1", nil, t0, t0.Add(time.Minute))
	require.Error(t, err)
}

func TestWriteRejected(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	require.NoError(t, c.WriteLineProtocol(ctx, []byte("telemetry,asset=a,site=s x=1i 1\n")))
	err := c.Write(ctx, []ingest.Reading{{Site: "s", Asset: "a", TS: time.Unix(0, 2), Metrics: []ingest.Metric{{Name: "x", Value: 1.5}}}})
	require.Error(t, err)
	require.True(t, errors.Is(err, ingest.ErrStoreRejected), "got %v", err)

	bad, err := New(Config{URL: "http://127.0.0.1:1", Bucket: "x", Timeout: time.Second})
	require.NoError(t, err)
	err = bad.Write(ctx, []ingest.Reading{{Site: "s", Asset: "a", TS: time.Unix(0, 2), Metrics: []ingest.Metric{{Name: "x", Value: 1.5}}}})
	require.Error(t, err)
	require.False(t, errors.Is(err, ingest.ErrStoreRejected))
	require.Error(t, bad.Ping(ctx))
}
