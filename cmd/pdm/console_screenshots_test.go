//go:build screenshots

package main

// `make screenshots` regenerates docs/screenshots/*.png: a real `pdm
// serve` on the real services, seeded like `make demo` and fed by the
// demo fleet until predictions and orders exist, photographed screen by
// screen in Debian's Chromium. It is a generator (build tag screenshots),
// not part of `make test`; the browser tests prove the journeys.

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

var screenshotDir = flag.String("screenshots", "", "directory the PNGs are written to (default: a temporary one)")

func TestConsoleScreenshots(t *testing.T) {
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	env := newTestEnv(t)
	token := "screens-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token, "--gateway-offline-after", "1m")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	scen, err := simulators.LoadScenario("demo", time.Now())
	require.NoError(t, err)
	addr := strings.TrimSuffix(strings.TrimPrefix(api.base, "http://"), "/api/v1")
	_, err = seedDemoSite(ctx, api, addr, token, scen)
	require.NoError(t, err)
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "screens-fleet-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	fleet := simulators.NewFleet(scen, pub, simulators.FleetOptions{TopicRoot: env.TopicRoot, Logger: slog.New(slog.DiscardHandler)})
	fctx, stopFleet := context.WithCancel(ctx)
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(fctx) }()
	defer func() { stopFleet(); <-fleetDone }()

	// The gateways the fleet names report their status (one is offline).
	mq := paho.NewClient(paho.NewClientOptions().AddBroker(env.MQTTURL).SetClientID("screens-gw-" + env.ID))
	tok := mq.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second) && tok.Error() == nil, "connect: %v", tok.Error())
	defer mq.Disconnect(100)
	for i, gw := range scen.Gateways {
		state := "online"
		if i == 1 {
			state = "offline"
		}
		b, _ := json.Marshal(map[string]any{"state": state, "ts": time.Now().UTC(), "version": "1.4.2",
			"buffered": 120 * i, "dropped": 0})
		topic := env.TopicRoot + "/" + scen.Site + "/gateways/" + gw + "/status"
		require.True(t, mq.Publish(topic, 1, true, b).WaitTimeout(10*time.Second))
		t.Cleanup(func() { mq.Publish(topic, 1, true, []byte{}).WaitTimeout(5 * time.Second) })
	}

	// Wait until the fleet has raised orders (the pump's threshold order
	// about a minute in) and a manual one is waiting for dispatch.
	var orders listOf[orderJSON]
	eventually(t, 4*time.Minute, "the demo raises orders", func() bool {
		return api.do(ctx, "GET", "/work-orders?limit=50", nil, &orders) == nil && len(orders.Items) >= 2
	})
	first := orders.Items[0]
	for _, o := range orders.Items {
		if o.Source == "threshold" || o.Source == "trend" {
			first = o
			break
		}
	}
	var assets listOf[idCode]
	require.NoError(t, api.do(ctx, "GET", "/assets?code=P-101", nil, &assets))
	require.NotEmpty(t, assets.Items)
	engineID := seedFleetModel(ctx, t, api)

	b := newBrowser(t)
	base := "http://" + addr
	runBrowser(t, b, 60*time.Second, "sign in",
		emulation.SetDeviceMetricsOverride(1440, 900, 1, false),
		signIn(base+"/review", token),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
	)
	shots := []struct{ name, path, ready string }{
		{"review", "/review", "#review-title"},
		{"order-detail", "/orders/" + first.Number, ".chart canvas"},
		{"orders", "/orders", "#main h1"},
		{"dispatch", "/dispatch", `[data-testid="dispatch-map"] .leaflet-interactive`},
		{"kpis", "/kpis", "#main h1"},
		{"assets", "/assets", "#main h1"},
		{"asset", "/assets/" + assets.Items[0].ID, ".chart canvas"},
		{"rules", "/rules", "#rules-title"},
		{"inventory", "/inventory", `[data-testid="stock"]`},
		{"schedules", "/schedules", `[data-testid="calendar"]`},
		{"gateways", "/gateways", `tr[data-gateway]`},
		{"fleet-model", "/asset-types/engine", `[data-testid="fleet-model"] table`},
		{"fleet-asset", "/assets/" + engineID, `[data-testid="fleet-panel"][data-status="ok"]`},
	}
	for _, s := range shots {
		var png []byte
		runBrowser(t, b, 60*time.Second, "screenshot "+s.name,
			chromedp.Navigate(base+s.path),
			chromedp.WaitVisible(s.ready, chromedp.ByQuery),
			chromedp.Sleep(1500*time.Millisecond), // charts and tiles settle; a picture, not an assertion
			chromedp.CaptureScreenshot(&png),
		)
		require.Greater(t, len(png), 10_000, "%s: an empty picture", s.name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, s.name+".png"), png, 0o644))
	}
	// The Chinese interface.
	var png []byte
	runBrowser(t, b, 60*time.Second, "screenshot in Chinese",
		chromedp.Navigate(base+"/review"),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
		chromedp.SetValue(`header select`, "zh-CN", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('header select').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.CaptureScreenshot(&png),
	)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "review-zh.png"), png, 0o644))
	t.Logf("%d screenshots in %s", len(shots)+1, dir)
}

// seedFleetModel gives the screenshots a fleet model: 30 simulated
// engines' run-to-failure histories uploaded and their failures recorded
// (an engine type beside the demo's site), a version trained, and a
// running engine 20 cycles from its failure scored. It returns that
// engine's id.
func seedFleetModel(ctx context.Context, t *testing.T, api *apiClient) string {
	t.Helper()
	newAsset := newSite(ctx, t, api, "ENG", "Engine shop")
	failed := simulators.RunToFailure(21, simulators.RunToFailureOptions{Units: 30})
	running := simulators.RunToFailure(21, simulators.RunToFailureOptions{Units: 1, FirstUnit: 30})
	now := time.Now().UTC()
	for i, u := range failed.Units {
		id := newAsset(u.ID, "engine", "Engine "+u.ID)
		at := now.Truncate(time.Hour).Add(-time.Duration(48+24*i)*time.Hour + 30*time.Minute)
		postHistory(ctx, t, api, id, failed.Sensors, u.Cycles, at)
		require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/failures",
			map[string]any{"asset_id": id, "failed_at": at.Format(time.RFC3339)}, nil))
	}
	u := running.Units[0]
	id := newAsset("E-"+u.ID, "engine", "Engine E-"+u.ID)
	postHistory(ctx, t, api, id, running.Sensors, u.Cycles[:u.Life-20], now.Add(-time.Minute))
	require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/model/train", map[string]any{}, nil))
	eventually(t, time.Minute, "the running engine's estimate", func() bool {
		var h struct {
			Fleet *struct {
				Status string `json:"status"`
			} `json:"fleet"`
		}
		return api.do(ctx, "GET", "/assets/"+id+"/health", nil, &h) == nil && h.Fleet != nil && h.Fleet.Status == "ok"
	})
	return id
}
