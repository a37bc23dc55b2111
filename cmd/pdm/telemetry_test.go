package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// GET /assets/{id}/telemetry reads one metric, or without `metric` every
// metric the asset has in the range, sorted by name: raw over a range
// that fits, averaged over a longer one.
func TestTelemetryOfEveryMetric(t *testing.T) {
	env := newTestEnv(t)
	token := "telemetry-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "TL1", "name": "Plant"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Pump", "criticality": 3}, &pump))
	// Two hours of a reading a minute: vibration throughout, temperature
	// in the second hour only.
	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	var b strings.Builder
	b.WriteString("ts,vibration_rms,temperature\n")
	for i := 119; i >= 0; i-- {
		ts := end.Add(-time.Duration(i) * time.Minute)
		temp := ""
		if i < 60 {
			temp = fmt.Sprint(40 + i%3)
		}
		fmt.Fprintf(&b, "%s,%d,%s\n", ts.Format(time.RFC3339), i, temp)
	}
	status, body := rawPost(ctx, t, api, "/assets/"+pump.ID+"/history", "text/csv", []byte(b.String()))
	require.Equal(t, 200, status, body)

	type series struct {
		Metric string `json:"metric"`
		Every  string `json:"every"`
		Points []struct {
			Value float64 `json:"value"`
		} `json:"points"`
	}
	read := func(q url.Values) []series {
		var out listOf[series]
		require.NoError(t, api.do(ctx, "GET", "/assets/"+pump.ID+"/telemetry?"+q.Encode(), nil, &out))
		return out.Items
	}
	span := func(d time.Duration) url.Values {
		return url.Values{"from": {end.Add(-d).Format(time.RFC3339)}, "to": {end.Add(time.Second).Format(time.RFC3339)}}
	}
	// The last half hour, raw: both metrics, by name.
	got := read(span(30 * time.Minute))
	require.Len(t, got, 2)
	require.Equal(t, "temperature", got[0].Metric)
	require.Equal(t, "vibration_rms", got[1].Metric)
	require.Len(t, got[0].Points, 31)
	require.Len(t, got[1].Points, 31)
	require.Empty(t, got[1].Every, "raw readings")
	require.Equal(t, 0.0, got[1].Points[30].Value, "the latest vibration")
	// A day with at most 20 points a series: averaged, still both.
	q := span(24 * time.Hour)
	q.Set("max_points", "20")
	got = read(q)
	require.Len(t, got, 2)
	for _, s := range got {
		require.NotEmpty(t, s.Every, s.Metric)
		require.LessOrEqual(t, len(s.Points), 20, s.Metric)
		require.NotEmpty(t, s.Points, s.Metric)
	}
	// One metric by name.
	q = span(30 * time.Minute)
	q.Set("metric", "temperature")
	got = read(q)
	require.Len(t, got, 1)
	require.Equal(t, "temperature", got[0].Metric)
	// An asset without readings: no series.
	var empty idCode
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-2", "type": "pump",
		"name": "Pump 2", "criticality": 3}, &empty))
	var none listOf[series]
	require.NoError(t, api.do(ctx, "GET", "/assets/"+empty.ID+"/telemetry", nil, &none))
	require.Empty(t, none.Items)
}
