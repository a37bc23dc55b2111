package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// TestUnknownAssetLimit: `pdm serve` knows the registered assets from
// PostgreSQL and tracks at most PDM_INGEST_MAX_UNKNOWN_ASSETS others at
// once; a message of one more is rejected (too_many_unknown_assets) and
// listed, while registered assets, the tracked unknown ones and an asset
// registered meanwhile (through a notification) keep being stored.
func TestUnknownAssetLimit(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	token := "unk-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token, "--ingest-max-unknown-assets", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := strings.TrimSuffix(api.base, "/api/v1")
	registered := func(n float64) func() bool {
		return func() bool { return metricValue(t, ctx, base, "pdm_ingest_registered_assets") == n }
	}

	var site idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "UNK", "name": "Unknowns"}, &site))
	register := func(code string) {
		t.Helper()
		var a idCode
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": code, "type": "pump",
			"name": "Pump " + code, "criticality": 3}, &a))
	}
	register("P-1")
	eventually(t, 60*time.Second, "ingest to know the registered asset", registered(1))

	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "unk-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	publish := func(asset string, i int) {
		t.Helper()
		rs := []ingest.Reading{{TS: t0.Add(time.Duration(i) * time.Second), Metrics: []ingest.Metric{{Name: "vibration_rms", Value: 1.5}}}}
		require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "UNK", asset), ingest.AppendJSON(nil, "", 0, rs))(ctx))
	}
	// Three unknown assets fill the table; a fourth is rejected; the
	// registered one and a tracked unknown one go on.
	for i, a := range []string{"U-1", "U-2", "U-3", "U-4", "P-1", "U-1"} {
		publish(a, i)
	}
	type reject struct {
		Topic  string `json:"topic"`
		Reason string `json:"reason"`
	}
	var rejects listOf[reject]
	eventually(t, 60*time.Second, "the fourth unknown asset rejected", func() bool {
		rejects = listOf[reject]{}
		return api.do(ctx, "GET", "/ingest/rejects", nil, &rejects) == nil && len(rejects.Items) > 0
	})

	// Registered meanwhile: stored from then on.
	register("LATE-1")
	eventually(t, 60*time.Second, "ingest to know the asset registered later", registered(2))
	publish("LATE-1", 10)

	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	count := func(asset string) int {
		rs, err := ts.ReadReadings(ctx, "UNK", asset, nil, t0.Add(-time.Minute), t0.Add(time.Minute))
		require.NoError(t, err)
		return len(rs)
	}
	eventually(t, 60*time.Second, "the accepted readings stored", func() bool {
		return count("U-1") == 2 && count("U-2") == 1 && count("U-3") == 1 && count("P-1") == 1 && count("LATE-1") == 1
	})
	require.Zero(t, count("U-4"), "the rejected message is not stored")
	rejects = listOf[reject]{}
	require.NoError(t, api.do(ctx, "GET", "/ingest/rejects", nil, &rejects))
	require.Equal(t, []reject{{Topic: ingest.TelemetryTopic(env.TopicRoot, "UNK", "U-4"), Reason: "too_many_unknown_assets"}}, rejects.Items)
}
