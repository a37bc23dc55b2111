package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// TestBreachSurvivesCrashDuringPostgresOutage: readings that breach a rule
// are acknowledged while PostgreSQL is down, and `pdm serve` is killed
// with SIGKILL before PostgreSQL comes back. After a restart exactly one
// work order exists, with the event-time detection. Twice: once the
// signal waits in the spool on disk; once the spool is lost with the
// machine (a fresh data directory), and the partition's rebuild from
// InfluxDB, from where the lease row says evaluation had got to, raises
// it again.
func TestBreachSurvivesCrashDuringPostgresOutage(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	pg := startPrivatePostgres(t)
	bin := buildPDM(t)
	token := "durable-admin-" + env.ID + "-0123456789abcdef"
	dataDir := t.TempDir()
	procEnv := func(dir string) []string {
		return append(os.Environ(),
			"PDM_PG_URL="+pg.url, "PDM_INFLUX_URL="+env.InfluxURL, "PDM_INFLUX_BUCKET="+env.Bucket,
			"PDM_MQTT_URL="+env.MQTTURL, "PDM_MQTT_TOPIC_ROOT="+env.TopicRoot, "PDM_HTTP_ADDR=127.0.0.1:0",
			"PDM_SHARE_GROUP=durable-"+env.ID, "PDM_ADMIN_TOKEN="+token, "PDM_LOG_LEVEL=info",
			// Long enough that the replica keeps evaluating through the
			// outage (it stops once its leases may have moved).
			"PDM_LEASE_TTL=90s", "PDM_DATA_DIR="+dir)
	}
	name := "durable-" + env.ID
	r := startReplica(t, bin, procEnv(dataDir), name)
	api := newAPIClient(strings.TrimPrefix(r.base, "http://"), token)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var site idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "DUR", "name": "Durable",
		"location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &site))
	assets := map[string]idCode{}
	for _, code := range []string{"M-1", "M-2"} {
		var a idCode
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": code, "type": "motor",
			"name": "Motor " + code, "criticality": 3, "location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &a))
		assets[code] = a
	}
	require.NoError(t, api.do(ctx, "POST", "/rules", map[string]any{
		"name": "winding", "asset_type": "motor", "metric": "winding_temp_c", "direction": "above",
		"critical": 110.0, "for": "2m", "failure_mode": "winding_overheat", "priority": "P2",
		"estimated_duration": "1h", "enabled": true,
	}, nil))
	// The running replica reloads rules every 15 s; restart it so the
	// rule is in force at once.
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	_ = r.cmd.Wait()
	r = startReplica(t, bin, procEnv(dataDir), name)

	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "durable-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	t0 := time.Now().Add(-40 * time.Minute).Truncate(time.Minute).UTC()
	// 20 minutes: healthy for 5, then above the limit: detected at minute 7.
	series := func() []ingest.Reading {
		var rs []ingest.Reading
		for i := range 20 {
			v := 90.0
			if i >= 5 {
				v = 120 + float64(i)
			}
			rs = append(rs, ingest.Reading{TS: t0.Add(time.Duration(i) * time.Minute),
				Metrics: []ingest.Metric{{Name: "winding_temp_c", Value: v}}})
		}
		return rs
	}()
	detected := t0.Add(7 * time.Minute)
	stored := func(asset string) int {
		got, err := ts.ReadReadings(ctx, "DUR", asset, nil, t0.Add(-time.Minute), t0.Add(time.Hour))
		require.NoError(t, err)
		return len(got)
	}
	orders := func(asset string) []orderJSON {
		var page struct {
			Items []orderJSON `json:"items"`
		}
		require.NoError(t, api.do(ctx, "GET", "/work-orders?asset_id="+assets[asset].ID, nil, &page))
		return page.Items
	}

	crash := func(asset string, seq uint64) {
		t.Helper()
		// The first (healthy) reading while PostgreSQL is up, so the
		// engine knows the asset; then PostgreSQL goes and the breach
		// arrives.
		require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "DUR", asset), ingest.AppendJSON(nil, "gw", seq, series[:1]))(ctx))
		eventually(t, 30*time.Second, asset+"'s first reading evaluated", func() bool {
			return stored(asset) == 1 && r.metric(t, "pdm_partition_reorder_readings") == 0
		})
		time.Sleep(1500 * time.Millisecond) // one reorder window and a lease renewal
		pg.stop(t)
		require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "DUR", asset), ingest.AppendJSON(nil, "gw", seq+1, series[1:]))(ctx))
		eventually(t, 60*time.Second, fmt.Sprintf("%s's breach stored and its signal spooled while PostgreSQL is down", asset), func() bool {
			return stored(asset) == len(series) && r.metric(t, "pdm_signal_spool_pending") >= 1
		})
		r.kill(t)
		pg.start(t)
	}

	// 1. The spool on disk survives.
	crash("M-1", 1)
	r = startReplica(t, bin, procEnv(dataDir), name)
	api = newAPIClient(strings.TrimPrefix(r.base, "http://"), token)
	eventually(t, 60*time.Second, "M-1's order after the restart", func() bool { return len(orders("M-1")) > 0 })

	// 2. The spool is lost with the machine: the rebuild raises it again.
	crash("M-2", 10)
	r = startReplica(t, bin, procEnv(t.TempDir()), name)
	api = newAPIClient(strings.TrimPrefix(r.base, "http://"), token)
	eventually(t, 60*time.Second, "M-2's order after the restart without the spool", func() bool { return len(orders("M-2")) > 0 })

	// Exactly one order each, with the event-time detection, and nothing
	// more arrives.
	time.Sleep(3 * time.Second)
	for _, a := range []string{"M-1", "M-2"} {
		got := orders(a)
		require.Len(t, got, 1, a)
		require.Equal(t, "threshold", got[0].Source, a)
		require.NotNil(t, got[0].DetectedAt, a)
		require.Equal(t, detected, got[0].DetectedAt.UTC(), a)
	}
}
