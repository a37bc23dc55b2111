package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/edge"
	"github.com/openpdm/pdm/rules"
)

type gatewayJSON struct {
	ID          string     `json:"id"`
	SiteCode    string     `json:"site_code"`
	SiteID      string     `json:"site_id"`
	Code        string     `json:"code"`
	State       string     `json:"state"`
	StateSince  time.Time  `json:"state_since"`
	Version     string     `json:"version"`
	Buffered    int64      `json:"buffered"`
	ConfigState string     `json:"config_state"`
	ConfigError string     `json:"config_error"`
	AlertSince  *time.Time `json:"alert_since"`
	Config      struct {
		Gateway string `json:"gateway"`
		Site    string `json:"site"`
	} `json:"config"`
	Assets []struct {
		Code string `json:"code"`
		ID   string `json:"id"`
	} `json:"assets"`
}

func findGateway(ctx context.Context, api *apiClient, code string) (gatewayJSON, bool) {
	var l listOf[gatewayJSON]
	if err := api.do(ctx, "GET", "/gateways", nil, &l); err != nil {
		return gatewayJSON{}, false
	}
	for _, g := range l.Items {
		if g.Code == code {
			return g, true
		}
	}
	return gatewayJSON{}, false
}

// TestGatewaysStatusConfigAndOfflineAlert runs a real edge agent against
// the real broker beside a real `pdm serve`: the gateway appears with its
// retained status; an invalid config is refused naming every bad field and
// nothing is published; a valid one is published retained, the agent
// applies it without a restart and pdm shows it applied with the gateway's
// assets; an agent's rejection is shown with its error; a stopped agent is
// offline and, past the limit, alerts.
func TestGatewaysStatusConfigAndOfflineAlert(t *testing.T) {
	env := newTestEnv(t)
	token := "gateways-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token, "--gateway-offline-after", "2s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1",
		"location": map[string]float64{"lat": 31.3, "lon": 120.7}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 4, "location": map[string]float64{"lat": 31.32, "lon": 120.72}}, &pump))

	// The agent, as pdm-edge runs it, with its config file's settings.
	cfg := edge.Config{Gateway: "gw-1", Site: "S1", TopicRoot: env.TopicRoot,
		Uplink: edge.Uplink{URL: env.MQTTURL, ClientID: "edge-" + env.ID},
		Queue:  edge.QueueConfig{Path: filepath.Join(t.TempDir(), "q.db")},
		Status: rules.Duration(500 * time.Millisecond)}
	cfg.Normalize()
	q, err := edge.OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	require.NoError(t, err)
	agent, err := edge.New(cfg, q, edge.Options{Version: "edge-1.4.2"})
	require.NoError(t, err)
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(actx) }()
	defer func() {
		stopAgent()
		<-agentDone
		q.Close()
	}()

	var gw gatewayJSON
	eventually(t, 30*time.Second, "the gateway appears online", func() bool {
		g, ok := findGateway(ctx, api, "gw-1")
		gw = g
		return ok && g.State == "online"
	})
	require.Equal(t, "S1", gw.SiteCode)
	require.Equal(t, site.ID, gw.SiteID)
	require.Equal(t, "edge-1.4.2", gw.Version)
	require.Equal(t, "none", gw.ConfigState)

	// Invalid: every problem named at once, nothing published.
	bad := map[string]any{
		"uplink": map[string]any{"url": "tcp://elsewhere:1883"},
		"sources": map[string]any{"modbus": []any{map[string]any{"name": "plc", "url": "http://plc", "registers": []any{
			map[string]any{"address": 1, "type": "int16", "metric": "flow", "asset": "P-1"}}}}},
		"rules": map[string]any{"alarms": []any{map[string]any{"metric": "flow", "above": 3, "code": "HI", "severity": "loud"}}},
	}
	err = api.do(ctx, "PUT", "/gateways/"+gw.ID+"/config", bad, nil)
	var ae *apiError
	require.True(t, errors.As(err, &ae), "want an API error, got %v", err)
	require.Equal(t, 422, ae.Status, ae.Body)
	var eb struct {
		Error struct {
			Fields []struct{ Field, Message string } `json:"fields"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(ae.Body), &eb))
	fields := map[string]bool{}
	for _, f := range eb.Error.Fields {
		fields[f.Field] = true
	}
	for _, f := range []string{"uplink", "sources.modbus[0].url", "rules.alarms[0].severity"} {
		require.True(t, fields[f], "want field %s in %s", f, ae.Body)
	}
	err = api.do(ctx, "PUT", "/gateways/"+gw.ID+"/config", map[string]any{"site": "S2"}, nil)
	require.True(t, errors.As(err, &ae) && ae.Status == 422, "another site: %v", err)
	require.Equal(t, 404, statusOfErr(api.do(ctx, "PUT", "/gateways/00000000-0000-0000-0000-000000000000/config",
		map[string]any{}, nil)))
	g, _ := findGateway(ctx, api, "gw-1")
	require.Equal(t, "none", g.ConfigState, "a refused config is not published")

	// Valid: published, applied by the agent without a restart.
	good := map[string]any{
		"sources": map[string]any{"mqtt": []any{map[string]any{"name": "line", "url": env.MQTTURL,
			"client_id": "edge-src-" + env.ID, "topics": []any{map[string]any{"topic": "plant/" + env.ID + "/p1", "asset": "P-1"}}}}},
		"rules": map[string]any{"deadband": []any{map[string]any{"metric": "vibration_rms", "band": 0.05}}},
	}
	require.NoError(t, api.do(ctx, "PUT", "/gateways/"+gw.ID+"/config", good, &g))
	require.Equal(t, "gw-1", g.Config.Gateway)
	require.Equal(t, "S1", g.Config.Site)
	eventually(t, 30*time.Second, "the agent applies the config", func() bool {
		c := agent.Config()
		return len(c.Sources.MQTT) == 1 && len(c.Rules.Deadband) == 1
	})
	eventually(t, 30*time.Second, "pdm shows the config applied", func() bool {
		g, _ = findGateway(ctx, api, "gw-1")
		return g.ConfigState == "applied"
	})
	require.Len(t, g.Assets, 1)
	require.Equal(t, "P-1", g.Assets[0].Code)
	require.Equal(t, pump.ID, g.Assets[0].ID)
	var one gatewayJSON
	require.NoError(t, api.do(ctx, "GET", "/gateways/"+gw.ID, nil, &one))
	require.Equal(t, "applied", one.ConfigState)

	// The console: a planner sees the gateway, its applied config and its
	// asset; a bad edit is refused with the fields named next to it.
	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))
	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	row := `tr[data-gateway="gw-1"]`
	runBrowser(t, b, 60*time.Second, "sign in and open the gateways",
		signIn(base+"/gateways", planner.Token),
		chromedp.WaitVisible(row+` [data-testid="gw-config"][data-config="applied"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+` a[href="/assets/`+pump.ID+`"]`, chromedp.ByQuery),
		chromedp.Click(row+` button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#gw-config-text`, chromedp.ByID),
		chromedp.SetValue(`#gw-config-text`, `{"sources":{"modbus":[{"name":"plc","url":"http://plc","registers":[]}]}}`, chromedp.ByID),
		chromedp.Click(`[data-testid="gw-editor"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="gw-errors"] li[data-field="sources.modbus[0].url"]`, chromedp.ByQuery),
	)

	// An agent that rejects the platform's config (an older agent that
	// does not know a field) answers with the payload's hash and its error.
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(env.MQTTURL).SetClientID("old-agent-" + env.ID))
	tok := pub.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second) && tok.Error() == nil, "connect: %v", tok.Error())
	defer pub.Disconnect(100)
	publish := func(topic string, v any, retained bool) {
		b, _ := json.Marshal(v)
		tk := pub.Publish(topic, 1, retained, b)
		require.True(t, tk.WaitTimeout(10*time.Second) && tk.Error() == nil, "publish: %v", tk.Error())
	}
	statusTopic := env.TopicRoot + "/S1/gateways/gw-old/status"
	t.Cleanup(func() { pub.Publish(statusTopic, 1, true, []byte{}).WaitTimeout(5 * time.Second) })
	publish(statusTopic, map[string]any{"state": "online", "ts": time.Now().UTC(), "version": "0.9"}, true)
	var old gatewayJSON
	eventually(t, 30*time.Second, "the old agent appears", func() bool {
		var ok bool
		old, ok = findGateway(ctx, api, "gw-old")
		return ok
	})
	require.NoError(t, api.do(ctx, "PUT", "/gateways/"+old.ID+"/config", good, &old))
	require.Equal(t, "pending", old.ConfigState)
	var payload []byte
	msgs := make(chan []byte, 1)
	sub := pub.Subscribe(env.TopicRoot+"/S1/gateways/gw-old/config", 1, func(_ paho.Client, m paho.Message) {
		select {
		case msgs <- m.Payload():
		default:
		}
	})
	require.True(t, sub.WaitTimeout(10*time.Second) && sub.Error() == nil)
	select {
	case payload = <-msgs:
	case <-time.After(30 * time.Second):
		t.Fatal("the config is not retained on the config topic")
	}
	t.Cleanup(func() {
		pub.Publish(env.TopicRoot+"/S1/gateways/gw-old/config", 1, true, []byte{}).WaitTimeout(5 * time.Second)
	})
	sum := sha256.Sum256(payload)
	publish(statusTopic, map[string]any{"state": "online", "ts": time.Now().UTC(), "version": "0.9",
		"config_sha256": hex.EncodeToString(sum[:]), "config_error": "decode: unknown field \"deadband\""}, true)
	eventually(t, 30*time.Second, "pdm shows the rejection", func() bool {
		old, _ = findGateway(ctx, api, "gw-old")
		return old.ConfigState == "rejected"
	})
	require.Contains(t, old.ConfigError, "unknown field")

	// Stopped: offline (the agent's last status), then the alert.
	stopAgent()
	require.NoError(t, <-agentDone)
	agentDone <- nil
	eventually(t, 30*time.Second, "the gateway goes offline and alerts", func() bool {
		g, _ = findGateway(ctx, api, "gw-1")
		return g.State == "offline" && g.AlertSince != nil
	})
	require.False(t, g.AlertSince.Before(g.StateSince.Add(-time.Second)), "alert since %s, offline since %s", g.AlertSince, g.StateSince)
	runBrowser(t, b, 60*time.Second, "the alert shows in the console",
		chromedp.WaitVisible(`[data-testid="gw-alert-badge"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+` [data-testid="gw-state"][data-state="alert"]`, chromedp.ByQuery),
	)
	old, _ = findGateway(ctx, api, "gw-old")
	require.Nil(t, old.AlertSince, "an online gateway does not alert")
}

func statusOfErr(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	if err == nil {
		return 200
	}
	return -1
}
