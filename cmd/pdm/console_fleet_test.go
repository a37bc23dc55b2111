package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// TestConsoleFleetModel drives the fleet model's screens in Chromium
// against a real `pdm serve` (PostgreSQL, InfluxDB): run-to-failure
// histories of eight engines are uploaded as in
// TestFleetModelThroughThePlatform; a planner presses "Train now" before
// any failure is recorded and reads why it cannot train next to the
// button, then after the failures are recorded trains version 1 from the
// console; the scoring job gives a running engine an estimate and its
// asset page shows the remaining life and its 90 % interval as readable
// durations, in English and in Chinese; an engineer (the field
// technician's role) sees the panel but no Train button.
func TestConsoleFleetModel(t *testing.T) {
	env := newTestEnv(t)
	token := "fleetui-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token, "--fleet-score-every", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	newAsset := newSite(ctx, t, api, "FUI1", "Engine shop")
	failed := simulators.RunToFailure(11, simulators.RunToFailureOptions{Units: 8})
	running := simulators.RunToFailure(11, simulators.RunToFailureOptions{Units: 1, FirstUnit: 12})
	now := time.Now().UTC()
	failedAt := now.Truncate(time.Hour).Add(-48*time.Hour + 30*time.Minute)
	var ids []string
	for _, u := range failed.Units {
		id := newAsset(u.ID, "engine", "Engine "+u.ID)
		ids = append(ids, id)
		postHistory(ctx, t, api, id, failed.Sensors, u.Cycles, failedAt)
	}
	near := running.Units[0]
	nearID := newAsset("NEAR", "engine", "Engine NEAR")
	postHistory(ctx, t, api, nearID, running.Sensors, near.Cycles[:near.Life-10], now.Add(-time.Minute))

	users := map[string]string{}
	for _, role := range []string{"planner", "engineer", "viewer"} {
		var u struct {
			Token string `json:"token"`
		}
		require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Fleet " + role, "role": role}, &u))
		users[role] = u.Token
	}

	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	signIn := func(role, path string, wait string) {
		runBrowser(t, b, 30*time.Second, "sign in as "+role,
			signIn(base+path, users[role]),
			chromedp.WaitVisible(wait, chromedp.ByQuery),
		)
	}

	// No failures yet: the planner's Train now explains itself in words.
	signIn("planner", "/asset-types/engine", `[data-testid="fleet-no-model"]`)
	var trainErr string
	runBrowser(t, b, 30*time.Second, "train without failures",
		chromedp.Click(`[data-testid="fleet-train"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-train-error"][data-code="too_few_failures"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-train-error"]`, &trainErr, chromedp.ByQuery),
	)
	require.Contains(t, trainErr, "at least 6 are needed")
	require.NotContains(t, trainErr, "[object")
	var ae *apiError
	require.ErrorAs(t, api.do(ctx, "GET", "/asset-types/engine/model", nil, nil), &ae)
	require.Equal(t, http.StatusNotFound, ae.Status, "the failed training stored nothing")

	// The failures recorded, the console trains version 1.
	for _, id := range ids {
		require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/failures",
			map[string]any{"asset_id": id, "failed_at": failedAt.Format(time.RFC3339)}, nil))
	}
	// Train now starts a job (POST .../model/jobs) and polls it until it ends.
	var units, failures, source, jobLine, lastTraining, conditions, used, dropped, gateRow string
	runBrowser(t, b, 90*time.Second, "train from the console",
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid="fleet-failures"] tbody tr:nth-child(8)`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="fleet-train"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-job"][data-status="succeeded"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-job"]`, &jobLine, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-model"][data-version="1"] table`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-model"] table`, &units, chromedp.ByQuery),
		chromedp.Text(`#fleet-failures-title`, &failures, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-failures"] td[data-source="import"]`, &source, chromedp.ByQuery),
		// The model's facts: conditions, metrics used and dropped, its last training.
		chromedp.WaitVisible(`tr[data-row="training"][data-status="succeeded"]`, chromedp.ByQuery),
		chromedp.Text(`tr[data-row="training"] td`, &lastTraining, chromedp.ByQuery),
		chromedp.Text(`tr[data-row="conditions"] td`, &conditions, chromedp.ByQuery),
		chromedp.Text(`tr[data-row="used"] td`, &used, chromedp.ByQuery),
		chromedp.Text(`tr[data-row="dropped"] td`, &dropped, chromedp.ByQuery),
		// Eight failures hold out two: the version is not validated.
		chromedp.WaitVisible(`tr[data-row="gate"][data-status="not_validated"]`, chromedp.ByQuery),
		chromedp.Text(`tr[data-row="gate"] td`, &gateRow, chromedp.ByQuery),
	)
	require.Regexp(t, `^Not validated: it gives estimates but raises no orders\. Only 2 failures were held out to validate it; 6 are needed\.`, gateRow)
	require.Equal(t, "Trained version 1.", jobLine, "the job's outcome")
	require.Contains(t, lastTraining, "stored version 1")
	require.Contains(t, units, "8 (", "the model's units")
	require.Contains(t, units, "90 %", "nominal coverage")
	require.Equal(t, "Failures (8)", failures)
	require.Equal(t, "Recorded", source)
	var model struct {
		Version    int      `json:"version"`
		Units      int      `json:"n_units"`
		Conditions int      `json:"conditions"`
		Metrics    []string `json:"metrics"`
		Settings   []string `json:"settings"`
		Use        []string `json:"use"`
	}
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/model", nil, &model))
	require.Equal(t, 1, model.Version)
	require.Equal(t, 8, model.Units)
	require.NotEmpty(t, model.Use)
	require.Equal(t, strings.Join(model.Use, ", "), used, "the metrics used")
	kept := map[string]bool{}
	for _, m := range append(append([]string{}, model.Use...), model.Settings...) {
		kept[m] = true
	}
	var drop []string
	for _, m := range model.Metrics {
		if !kept[m] {
			drop = append(drop, m)
		}
	}
	if len(drop) == 0 {
		require.Equal(t, "none", dropped)
	} else {
		require.Equal(t, strings.Join(drop, ", "), dropped, "metrics less use less settings")
	}
	if model.Conditions <= 1 {
		require.Equal(t, "1 (none told apart)", conditions)
	} else {
		require.Equal(t, fmt.Sprintf("%d found from the settings", model.Conditions), conditions)
	}

	// The scoring job (every second) gives the running engine an estimate.
	var h struct {
		Fleet *struct {
			Status string   `json:"status"`
			RUL    *float64 `json:"rul_seconds"`
			Lower  *float64 `json:"rul_lower_seconds"`
			Upper  *float64 `json:"rul_upper_seconds"`
		} `json:"fleet"`
	}
	eventually(t, 60*time.Second, "the running engine's estimate", func() bool {
		h.Fleet = nil
		return api.do(ctx, "GET", "/assets/"+nearID+"/health", nil, &h) == nil && h.Fleet != nil && h.Fleet.Status == "ok"
	})
	require.NotNil(t, h.Fleet.RUL)
	require.NotNil(t, h.Fleet.Lower)
	require.NotNil(t, h.Fleet.Upper)
	require.Less(t, *h.Fleet.Lower, *h.Fleet.Upper)

	var rul, interval, link, asOf, panelGate string
	var charted []string
	runBrowser(t, b, 30*time.Second, "the asset page's fleet panel",
		chromedp.Navigate(base+"/assets/"+nearID),
		chromedp.WaitVisible(`[data-testid="fleet-panel"][data-status="ok"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-rul"]`, &rul, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-interval"]`, &interval, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-as-of"]`, &asOf, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="fleet-model-link"]`, "href", &link, nil, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-gate"]`, &panelGate, chromedp.ByQuery),
		// No rule watches the engine (the page says so): its uploaded
		// sensors are charted all the same.
		chromedp.WaitVisible(`[data-testid="no-rules"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.metric-chart .chart canvas`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll(".metric-chart figcaption strong")].map(e => e.textContent)`, &charted),
	)
	require.Equal(t, running.Sensors, charted, "every sensor the engine has, by name")

	// The charts keep the day they were asked for (drawing them once
	// narrowed the range to the data's and read it again, over and over);
	// a drag across a chart zooms every chart to the part dragged over.
	spans := `performance.getEntriesByType('resource').map(e => new URL(e.name)).filter(u => u.pathname.endsWith('/telemetry'))
		.map(u => (Date.parse(u.searchParams.get('to')) - Date.parse(u.searchParams.get('from'))) / 1000)`
	var before, after []float64
	var box []float64
	runBrowser(t, b, 30*time.Second, "the charts keep their range; a drag zooms",
		chromedp.Sleep(2*time.Second), // time for a loop to show itself
		chromedp.Evaluate(spans, &before),
		chromedp.ScrollIntoView(`.metric-chart .u-over`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const r = document.querySelector('.metric-chart .u-over').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`, &box),
	)
	require.NotEmpty(t, before)
	for _, sp := range before {
		require.Equal(t, 86400.0, sp, "every read is of the day shown: %v", before)
	}
	x0, x1, y := box[0]+box[2]*0.25, box[0]+box[2]*0.5, box[1]+box[3]/2
	runBrowser(t, b, 30*time.Second, "drag across the first chart",
		chromedp.MouseEvent(input.MouseMoved, x0, y),
		chromedp.MouseEvent(input.MousePressed, x0, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.MouseMoved, (x0+x1)/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.MouseMoved, x1, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.MouseReleased, x1, y, chromedp.ButtonLeft),
		chromedp.Poll(spans+`.some(s => s < 86400 / 2)`, nil),
		chromedp.Evaluate(spans, &after),
	)
	zoomed := after[len(after)-1]
	require.InDelta(t, 86400*0.25, zoomed, 86400*0.05, "a quarter of the chart's width: %v", after)
	require.Equal(t, "This model is not validated: its estimate raises no orders.", panelGate)
	require.Regexp(t, `^as of \d{2}/\d{2}/\d{4}, \d{2}:\d{2} · model v1$`, asOf)
	require.Equal(t, readableDuration(*h.Fleet.RUL, false), rul)
	require.Equal(t, fmt.Sprintf("90 %% interval: %s to %s", readableDuration(*h.Fleet.Lower, false),
		readableDuration(*h.Fleet.Upper, false)), interval)
	require.Equal(t, "/asset-types/engine", link)

	var title string
	runBrowser(t, b, 15*time.Second, "the panel in Chinese",
		chromedp.SetValue(`header select`, "zh-CN", chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("fleet-title").textContent === "机群模型"`, nil),
		chromedp.Text("#fleet-title", &title, chromedp.ByID),
		chromedp.Text(`[data-testid="fleet-rul"]`, &rul, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-interval"]`, &interval, chromedp.ByQuery),
	)
	require.Equal(t, "机群模型", title)
	require.Equal(t, readableDuration(*h.Fleet.RUL, true), rul)
	require.Equal(t, fmt.Sprintf("90%% 区间：%s 至 %s", readableDuration(*h.Fleet.Lower, true),
		readableDuration(*h.Fleet.Upper, true)), interval)

	// The fleet model's order for the engine near its end: its drivers and
	// its interval's coverage on the order detail (still in Chinese).
	// Eight failures are too few for the validation gate: a planner's
	// override, given on the model page with a note, lets the model raise
	// it.
	runBrowser(t, b, 30*time.Second, "the gate's override on the model page",
		chromedp.Navigate(base+"/asset-types/engine"),
		chromedp.WaitVisible(`[data-testid="fleet-gate-note"]`, chromedp.ByQuery),
		chromedp.SendKeys(`[data-testid="fleet-gate-note"]`, "eight engines are all we have", chromedp.ByQuery),
		chromedp.Click(`[data-testid="fleet-gate-override"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-row="gate"][data-status="overridden"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-gate-withdraw"]`, chromedp.ByQuery),
	)
	var gated struct {
		Gate struct {
			Status   string `json:"status"`
			Override *struct {
				Note string `json:"note"`
			} `json:"override"`
		} `json:"gate"`
	}
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/model", nil, &gated))
	require.Equal(t, "overridden", gated.Gate.Status)
	require.Equal(t, "eight engines are all we have", gated.Gate.Override.Note)
	var orders listOf[orderJSON]
	eventually(t, 60*time.Second, "the fleet model's order", func() bool {
		orders = listOf[orderJSON]{}
		return api.do(ctx, "GET", "/work-orders?asset_id="+nearID, nil, &orders) == nil && len(orders.Items) > 0
	})
	var drivers, orderInterval string
	runBrowser(t, b, 30*time.Second, "the fleet order's detail",
		chromedp.Navigate(base+"/orders/"+orders.Items[0].ID),
		chromedp.WaitVisible(`[data-testid="fleet-drivers"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-drivers"]`, &drivers, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-evidence"] .muted`, &orderInterval, chromedp.ByQuery),
	)
	var fo orderJSON
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+orders.Items[0].ID, nil, &fo))
	require.Equal(t, "fleet", fo.Evidence["model"])
	evDrivers, ok := fo.Evidence["drivers"].([]any)
	require.True(t, ok, "drivers: %v", fo.Evidence["drivers"])
	require.NotEmpty(t, evDrivers)
	var want []string
	for _, d := range evDrivers {
		m := d.(map[string]any)
		rise := m["rise"].(float64)
		sign := "+"
		if rise < 0 {
			sign = "−"
		}
		want = append(want, fmt.Sprintf("%s %s%.1fσ", m["metric"], sign, math.Abs(rise)))
	}
	require.Equal(t, "主要驱动指标："+strings.Join(want, "、"), drivers)
	require.Equal(t, 0.9, fo.Evidence["coverage"])
	require.Contains(t, orderInterval, "90% 区间：")

	// Someone else's training, started through the API while this page
	// shows the model idle, answers the planner's Train with 409: the page
	// says so in words and follows that training to its end. The test
	// holds the type's training lock, so that training waits meanwhile.
	lockConn, err := pgx.Connect(ctx, env.PGURL)
	require.NoError(t, err)
	defer lockConn.Close(context.Background())
	_, err = lockConn.Exec(ctx, `select pg_advisory_lock($1)`, lockFleetTrain("engine"))
	require.NoError(t, err)
	runBrowser(t, b, 30*time.Second, "the model page, idle",
		chromedp.Navigate(base+"/asset-types/engine"),
		chromedp.WaitVisible(`[data-testid="fleet-model"][data-version="1"] table`, chromedp.ByQuery),
		chromedp.WaitEnabled(`[data-testid="fleet-train"]`, chromedp.ByQuery),
	)
	var other struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/model/jobs", nil, &other))
	require.Equal(t, "waiting", other.Status, "for the lock the test holds")
	var busyErr, busyJob string
	runBrowser(t, b, 30*time.Second, "Train while another training waits",
		chromedp.Click(`[data-testid="fleet-train"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-train-error"][data-code="training_under_way"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-train-error"]`, &busyErr, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-job"][data-status="waiting"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="fleet-job"]`, &busyJob, chromedp.ByQuery),
	)
	require.Equal(t, "此类型已有一次训练正在进行。", busyErr, "(the console is still in Chinese)")
	require.NotEmpty(t, busyJob)
	_, err = lockConn.Exec(ctx, `select pg_advisory_unlock($1)`, lockFleetTrain("engine"))
	require.NoError(t, err)
	runBrowser(t, b, 90*time.Second, "the other training ends on the page",
		chromedp.WaitVisible(`[data-testid="fleet-job"][data-status="succeeded"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-model"][data-version="2"] table`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`[data-testid="fleet-train-error"]`, chromedp.ByQuery),
	)
	var ended struct {
		Status       string `json:"status"`
		ModelVersion *int   `json:"model_version"`
	}
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/model/jobs/"+other.ID, nil, &ended))
	require.Equal(t, "succeeded", ended.Status)
	require.Equal(t, 2, *ended.ModelVersion, "the page's single training was the other one")

	// An engineer sees the estimate but no Train button.
	var buttons int
	runBrowser(t, b, 15*time.Second, "sign out",
		chromedp.Click(`header button.ghost`, chromedp.ByQuery),
		chromedp.WaitVisible("#token", chromedp.ByID),
	)
	signIn("engineer", "/assets/"+nearID, `[data-testid="fleet-panel"][data-status="ok"]`)
	runBrowser(t, b, 15*time.Second, "the engineer on the type's model",
		chromedp.Click(`[data-testid="fleet-model-link"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="fleet-denied"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="fleet-train"]').length`, &buttons),
	)
	require.Zero(t, buttons, "no Train button for an engineer")

	// A viewer reads the model but has no Train button either.
	runBrowser(t, b, 15*time.Second, "sign out the engineer",
		chromedp.Click(`header button.ghost`, chromedp.ByQuery),
		chromedp.WaitVisible("#token", chromedp.ByID),
	)
	signIn("viewer", "/asset-types/engine", `[data-testid="fleet-model"][data-version="2"] table`)
	runBrowser(t, b, 15*time.Second, "the viewer's buttons",
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="fleet-train"]').length`, &buttons),
	)
	require.Zero(t, buttons, "no Train button for a viewer")
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/model", nil, &model))
	require.Equal(t, 2, model.Version, "nothing trained since")
}

// readableDuration is what the console shows for seconds: the two largest
// non-zero units of d, h, m, s ("3d 4h", "5h 59m"; Chinese "3天4小时").
func readableDuration(seconds float64, zh bool) string {
	s := int64(math.Round(math.Abs(seconds)))
	units := []struct {
		size   int64
		en, zh string
	}{{86400, "d", "天"}, {3600, "h", "小时"}, {60, "m", "分"}, {1, "s", "秒"}}
	var parts []string
	for _, u := range units {
		if s >= u.size || (len(parts) == 0 && u.size == 1) {
			n := s / u.size
			s -= n * u.size
			if zh {
				parts = append(parts, fmt.Sprintf("%d%s", n, u.zh))
			} else {
				parts = append(parts, fmt.Sprintf("%d%s", n, u.en))
			}
		}
		if len(parts) == 2 {
			break
		}
	}
	if zh {
		return strings.Join(parts, "")
	}
	return strings.Join(parts, " ")
}
