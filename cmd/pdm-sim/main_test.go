package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

func randHex(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mqttURL() string {
	if u := os.Getenv("PDM_MQTT_URL"); u != "" {
		return u
	}
	return "tcp://127.0.0.1:1883"
}

func TestFleetCommandPublishesAndWritesTruth(t *testing.T) {
	dir := t.TempDir()
	scen := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(scen, []byte(`
name: cmdtest
seed: 3
site: C1
start: -3d
duration: 12h
interval: 10m
acceleration: max
batch: 8
gateways: [gw-1]
assets:
  - {type: pump, prefix: P-, count: 2, profile: healthy}
  - {type: motor, code: M-1, profile: linear, metric: winding_temp_c, failure_mode: winding_overheat, fail_value: 110, onset: 1h, failure_at: 10h}
`), 0o600))
	root := "test/" + randHex(t) + "/pdm/v1"

	var mu sync.Mutex
	readings := 0
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(mqttURL()).SetClientID("sim-cmd-sub-" + randHex(t)))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mosquitto at %s not reachable: %v", mqttURL(), tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe(root+"/+/+/telemetry", 1, func(_ paho.Client, m paho.Message) {
		var p struct {
			Readings []json.RawMessage `json:"readings"`
		}
		if json.Unmarshal(m.Payload(), &p) == nil {
			mu.Lock()
			readings += len(p.Readings)
			mu.Unlock()
		}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	// The gateway's status, as the edge agent publishes it.
	var states []string
	tok = sub.Subscribe(root+"/C1/gateways/gw-1/status", 1, func(_ paho.Client, m paho.Message) {
		var st struct {
			State   string `json:"state"`
			Version string `json:"version"`
		}
		if json.Unmarshal(m.Payload(), &st) == nil {
			mu.Lock()
			states = append(states, st.State+" "+st.Version)
			mu.Unlock()
		}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	defer func() { sub.Publish(root+"/C1/gateways/gw-1/status", 1, true, []byte{}).WaitTimeout(2 * time.Second) }() // clear the retained status

	// With a token, fleet registers the scenario first (the README's
	// order: fleet, then eval, works without a separate provision).
	posts := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet {
			json.NewEncoder(w).Encode(map[string]any{"items": []any{}})
			return
		}
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		posts[r.URL.Path]++
		in["id"] = r.URL.Path + "/" + randHex(t)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(in)
	}))
	defer api.Close()

	truthPath := filepath.Join(dir, "truth.json")
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"fleet", "--scenario", scen, "--truth", truthPath, "--progress", "0", "--api", api.URL},
		env(map[string]string{"PDM_MQTT_URL": mqttURL(), "PDM_MQTT_TOPIC_ROOT": root, "PDM_ADMIN_TOKEN": "tok"}), &out, &errb)
	require.NoError(t, err, errb.String())
	require.Contains(t, out.String(), "done: assets 3, readings 216, messages 27")
	require.Contains(t, out.String(), "site C1 (/api/v1/sites/")
	require.Contains(t, out.String(), "3 assets (3 new), 0 new rules, 0 updated")
	mu.Lock()
	require.Equal(t, map[string]int{"/api/v1/sites": 1, "/api/v1/assets": 3}, posts)
	mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := readings
		mu.Unlock()
		if n >= 216 || time.Now().After(deadline) {
			require.Equal(t, 216, n, "readings that reached a subscriber of %s", root)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Online before the readings, offline when the fleet stopped.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(states) >= 2 && states[len(states)-1] == "offline pdm-sim"
	}, 10*time.Second, 10*time.Millisecond, "gateway statuses %v", states)
	mu.Lock()
	require.Equal(t, "online pdm-sim", states[0])
	mu.Unlock()

	truth, err := simulators.ReadTruth(truthPath)
	require.NoError(t, err)
	require.Equal(t, "C1", truth.Site)
	require.Len(t, truth.Assets, 3)
	require.NotNil(t, truth.End)
	require.Equal(t, truth.Start.Add(12*time.Hour), *truth.End)
	m := truth.Assets[2]
	require.Equal(t, "M-1", m.Code)
	require.True(t, m.Gradual)
	require.Equal(t, truth.Start.Add(10*time.Hour), *m.FailureAt)
}

func TestFleetCommandFailsClearly(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"fleet"}, nil, "--scenario is required"},
		{[]string{"fleet", "--scenario", "nope"}, nil, `no built-in scenario "nope"`},
		{[]string{"fleet", "--scenario", "demo", "--mqtt-url", "tcp://127.0.0.1:1"}, nil, "mqtt broker tcp://127.0.0.1:1"},
		{[]string{"eval", "--truth", "x.json"}, nil, "--token (or PDM_ADMIN_TOKEN) is required"},
		{[]string{"eval", "--truth", "x.json", "--lead", "soon"}, map[string]string{"PDM_ADMIN_TOKEN": "t"}, "--lead"},
		{[]string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{nil, nil, "no command given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := run(ctx, tt.args, env(tt.env), &bytes.Buffer{}, &bytes.Buffer{})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	truthPath := filepath.Join(dir, "truth.json")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"truth", "--scenario", "eval", "--truth", truthPath}, env(nil), &out, &bytes.Buffer{}))
	truth, err := simulators.ReadTruth(truthPath)
	require.NoError(t, err)

	// A platform that raised one early trend order per gradual failure.
	var assets, orders []map[string]any
	for i, a := range truth.Assets {
		id := "id-" + a.Code
		assets = append(assets, map[string]any{"id": id, "code": a.Code, "site_code": truth.Site})
		if a.Gradual {
			at := a.FailureAt.Add(-48 * time.Hour)
			orders = append(orders, map[string]any{"id": "o" + a.Code, "number": "WO-" + a.Code, "asset_id": id,
				"source": "trend", "failure_mode": a.FailureMode, "status": "proposed", "created_at": at,
				"detected_at": at, "predicted_failure_at": a.FailureAt.Add(time.Duration(i) * time.Hour)})
		}
	}
	var gotToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken = r.Header.Get("Authorization")
		items := orders
		if r.URL.Path == "/api/v1/assets" {
			items = assets
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items})
	}))
	defer srv.Close()

	out.Reset()
	err = run(t.Context(), []string{"eval", "--truth", truthPath, "--check"},
		env(map[string]string{"PDM_HTTP_ADDR": strings.TrimPrefix(srv.URL, "http://"), "PDM_ADMIN_TOKEN": "secret"}), &out, &bytes.Buffer{})
	require.NoError(t, err, out.String())
	require.Equal(t, "Bearer secret", gotToken)
	require.Contains(t, out.String(), "| recall (gradual failures caught ≥ 24.0 h ahead) | 1.00 (16/16) | ≥ 0.90 | ✅ |")
	require.Contains(t, out.String(), "| median lead time (gradual, 16 with an order) | 48.0 h |")
	require.Contains(t, out.String(), "| step faults detected within 24.0 h (median latency) | 0/4 (0.0 h) |")

	// Without orders the targets are missed and --check says so.
	orders = nil
	out.Reset()
	err = run(t.Context(), []string{"eval", "--truth", truthPath, "--check", "--api", srv.URL, "--token", "other"},
		env(map[string]string{"PDM_ADMIN_TOKEN": "secret"}), &out, &bytes.Buffer{})
	require.True(t, errors.Is(err, errTargetsMissed), "got %v", err)
	require.Equal(t, "Bearer other", gotToken, "the flag wins over the environment")
	require.Contains(t, out.String(), "| recall (gradual failures caught ≥ 24.0 h ahead) | 0.00 (0/16)")
}
