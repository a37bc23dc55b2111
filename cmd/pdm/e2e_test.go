package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// startServe runs `pdm serve` in-process against env and returns the API
// client and a stop func that asserts a clean shutdown.
func startServe(t testing.TB, env *testEnv, token string, args ...string) (*apiClient, func()) {
	t.Helper()
	cfg, err := parseConfig("serve", append([]string{"--http-addr", "127.0.0.1:0"}, args...),
		env.getenv(map[string]string{"PDM_ADMIN_TOKEN": token}), io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, io.Discard, logs, &serveHooks{Ready: func(addr, _ string) { ready <- addr }})
	}()
	// Benchmarks serve copies of a 1,000,000-order database whose pending
	// migrations take a minute or more (01700 rewrites every order once).
	wait := 60 * time.Second
	if _, bench := t.(*testing.B); bench {
		wait = 5 * time.Minute
	}
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v\n%s", err, logs.String())
	case <-time.After(wait):
		t.Fatalf("serve not ready after %s\n%s", wait, logs.String())
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "serve must shut down cleanly")
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not stop within 30s\n%s", logs.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return newAPIClient(addr, token), stop
}

type orderJSON struct {
	ID             string         `json:"id"`
	Number         string         `json:"number"`
	AssetID        string         `json:"asset_id"`
	SiteID         string         `json:"site_id"`
	Title          string         `json:"title"`
	Source         string         `json:"source"`
	FailureMode    string         `json:"failure_mode"`
	RuleID         string         `json:"rule_id"`
	Priority       string         `json:"priority"`
	Status         string         `json:"status"`
	CreatedAt      time.Time      `json:"created_at"`
	DueAt          *time.Time     `json:"due_at"`
	DetectedAt     *time.Time     `json:"detected_at"`
	RequiredSkills []string       `json:"required_skills"`
	Parts          []partJSON     `json:"parts"`
	Evidence       map[string]any `json:"evidence"`
}

type partJSON struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// TestEndToEnd walks the thin path on the real services: readings published
// over MQTT are written to InfluxDB, a threshold rule fires in event time,
// and one proposed work order with its evidence is visible over the API.
func TestEndToEnd(t *testing.T) {
	env := newTestEnv(t)
	token := "e2e-admin-" + env.ID + "-0123456789abcdef"
	api, stop := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Planner's setup through the API.
	var site idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "PLANT1", "name": "Plant 1",
		"location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &site))
	var asset idCode
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &asset))
	var rule struct {
		ID string `json:"id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/rules", map[string]any{
		"name": "pump bearing wear", "asset_type": "pump", "metric": "vibration_rms",
		"direction": "above", "warn": 4.5, "critical": 7.1, "for": "5m", "hysteresis": 0.3,
		"failure_mode": "bearing_wear", "priority": "P2", "skills": []string{"vibration"},
		"parts": []map[string]any{{"sku": "BRG-6205", "qty": 2}}, "estimated_duration": "2h",
		"auto_approve": false, "enabled": true,
	}, &rule))

	// A gateway publishes an hour of readings in event time: healthy, then
	// a breach of the critical limit from minute 30 on.
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "e2e-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Minute).UTC()
	breach := t0.Add(30 * time.Minute)
	var readings []ingest.Reading
	for i := range 60 {
		v := 3.0 + 0.01*float64(i)
		if i >= 30 {
			v = 8.0 + 0.01*float64(i)
		}
		readings = append(readings, ingest.Reading{TS: t0.Add(time.Duration(i) * time.Minute),
			Metrics: []ingest.Metric{{Name: "vibration_rms", Value: v}, {Name: "bearing_temp_c", Value: 60}}})
	}
	publish := func(topic string, payload []byte) {
		t.Helper()
		require.NoError(t, pub.Publish(topic, payload)(ctx))
	}
	topic := ingest.TelemetryTopic(env.TopicRoot, "PLANT1", "P-1")
	for i := 0; i < len(readings); i += 10 {
		publish(topic, ingest.AppendJSON(nil, "gw-1", uint64(i/10+1), readings[i:i+10]))
	}
	// A reading of an asset nobody registered yet is stored all the same.
	publish(ingest.TelemetryTopic(env.TopicRoot, "PLANT1", "NEW-9"),
		[]byte(`{"ts":"`+t0.Format(time.RFC3339)+`","metrics":{"vibration_rms":1.5}}`))
	// A malformed message is rejected, listed, and does not stop ingest.
	publish(topic, []byte(`{"ts": oops`))

	// One proposed order, with its evidence.
	var orders listOf[orderJSON]
	eventually(t, 60*time.Second, "the auto work order", func() bool {
		orders = listOf[orderJSON]{}
		return api.do(ctx, "GET", "/work-orders", nil, &orders) == nil && len(orders.Items) > 0
	})
	require.Len(t, orders.Items, 1)
	o := orders.Items[0]
	require.Regexp(t, regexp.MustCompile(`^WO-\d{6}$`), o.Number)
	require.Equal(t, "proposed", o.Status)
	require.Equal(t, "threshold", o.Source)
	require.Equal(t, asset.ID, o.AssetID)
	require.Equal(t, site.ID, o.SiteID)
	require.Equal(t, rule.ID, o.RuleID)
	require.Equal(t, "bearing_wear", o.FailureMode)
	require.Equal(t, []string{"vibration"}, o.RequiredSkills)
	require.Equal(t, []partJSON{{SKU: "BRG-6205", Qty: 2}}, o.Parts)
	require.NotEmpty(t, o.Title)
	require.NotNil(t, o.DueAt)
	require.NotNil(t, o.DetectedAt)
	// Event time: the limit held for `for` (5m) from the breach start.
	require.True(t, !o.DetectedAt.Before(breach.Add(5*time.Minute)) && !o.DetectedAt.After(breach.Add(6*time.Minute)),
		"detected_at %s, want 5–6 minutes after the breach at %s", o.DetectedAt, breach)
	require.EqualValues(t, 7.1, o.Evidence["limit"])

	// Every reading is in InfluxDB, by query.
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	countReadings := func(asset string) int {
		rs, err := ts.ReadReadings(ctx, "PLANT1", asset, nil, t0.Add(-time.Hour), time.Now().Add(time.Minute))
		require.NoError(t, err)
		return len(rs)
	}
	eventually(t, 30*time.Second, "60 readings of P-1 in InfluxDB", func() bool { return countReadings("P-1") == 60 })
	got, err := ts.ReadReadings(ctx, "PLANT1", "P-1", []string{"vibration_rms"}, breach, breach.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 1)
	v, _ := got[0].Value("vibration_rms")
	require.InDelta(t, 8.30, v, 1e-9)
	eventually(t, 30*time.Second, "the unregistered asset's reading", func() bool { return countReadings("NEW-9") == 1 })

	// The reject is listed with its reason.
	var rejects listOf[struct {
		Topic  string `json:"topic"`
		Reason string `json:"reason"`
	}]
	require.NoError(t, api.do(ctx, "GET", "/ingest/rejects", nil, &rejects))
	require.Len(t, rejects.Items, 1)
	require.Equal(t, topic, rejects.Items[0].Topic)
	require.Equal(t, "malformed_json", rejects.Items[0].Reason)

	// A redelivered batch changes nothing: same readings, still one order.
	publish(topic, ingest.AppendJSON(nil, "gw-1", 4, readings[30:40]))
	publish(topic, ingest.AppendJSON(nil, "gw-1", 6, readings[50:60]))
	// A marker published after the duplicates tells when they were handled.
	publish(ingest.TelemetryTopic(env.TopicRoot, "PLANT1", "MARK"),
		[]byte(`{"ts":"`+t0.Format(time.RFC3339)+`","metrics":{"vibration_rms":0}}`))
	eventually(t, 30*time.Second, "the marker after the redelivery", func() bool { return countReadings("MARK") == 1 })
	require.Equal(t, 60, countReadings("P-1"))
	orders = listOf[orderJSON]{}
	require.NoError(t, api.do(ctx, "GET", "/work-orders?"+url.Values{"asset_id": {asset.ID}}.Encode(), nil, &orders))
	require.Len(t, orders.Items, 1)

	// The asset's health shows the latest value and the rule's state.
	var health struct {
		Metrics []struct {
			Metric    string   `json:"metric"`
			Value     *float64 `json:"value"`
			RuleState string   `json:"rule_state"`
		} `json:"metrics"`
	}
	require.NoError(t, api.do(ctx, "GET", "/assets/"+asset.ID+"/health", nil, &health))
	var found bool
	for _, m := range health.Metrics {
		if m.Metric == "vibration_rms" {
			found = true
			require.NotNil(t, m.Value)
			require.InDelta(t, 8.59, *m.Value, 1e-9)
			require.Equal(t, "critical", m.RuleState)
		}
	}
	require.True(t, found, "health lists vibration_rms: %+v", health)

	// Metrics need no token and show the pipeline and the rules engine.
	resp, err := http.Get(api.base[:len(api.base)-len("/api/v1")] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, m := range []string{"pdm_ingest_readings_total", `pdm_ingest_rejected_total{reason="malformed_json"} 1`, "pdm_rules_signals_delivered_total", "pdm_rules_outbox_pending 0"} {
		require.Contains(t, string(body), m)
	}

	// Without a token the API says 401; health needs none.
	req, _ := http.NewRequestWithContext(ctx, "GET", api.base+"/work-orders", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	stop()
}
