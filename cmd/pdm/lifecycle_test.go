package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// TestOrderToCompletion follows an auto order through the whole ticket
// core as wired in serve: a rule raises it, a planner approves, dispatch
// assigns the only qualified engineer on shift and reserves the parts from
// the warehouse, the engineer accepts, starts and completes it through
// /me/jobs, and the used parts leave the stock.
func TestOrderToCompletion(t *testing.T) {
	env := newTestEnv(t)
	token := "life-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var site, asset, part, wh idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S2", "name": "Site 2",
		"location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "M-7", "type": "motor",
		"name": "Motor 7", "criticality": 3, "location": map[string]float64{"lat": 48.11, "lon": 11.61}}, &asset))
	require.NoError(t, api.do(ctx, "POST", "/rules", map[string]any{
		"name": "winding", "asset_type": "motor", "metric": "winding_temp_c", "direction": "above",
		"critical": 110.0, "for": "2m", "failure_mode": "winding_overheat", "priority": "P2",
		"skills": []string{"electrical"}, "parts": []map[string]any{{"sku": "FAN-1", "qty": 1}},
		"estimated_duration": "1h", "enabled": true,
	}, nil))
	require.NoError(t, api.do(ctx, "POST", "/parts", map[string]any{"sku": "FAN-1", "name": "Cooling fan", "unit": "pcs"}, &part))
	require.NoError(t, api.do(ctx, "POST", "/stock-locations", map[string]any{"code": "WH-1", "name": "Main store",
		"site_id": site.ID, "location": map[string]float64{"lat": 48.1, "lon": 11.6}}, &wh))
	require.NoError(t, api.do(ctx, "POST", "/stock/movements", map[string]any{"kind": "receipt", "location_id": wh.ID,
		"sku": "FAN-1", "qty": 3}, nil))

	// Two engineers: only one has the skill.
	var shifts []map[string]string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		shifts = append(shifts, map[string]string{"day": d, "start": "00:00", "end": "23:59"})
	}
	var engUser struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Eva", "role": "engineer"}, &engUser))
	var eva, mech idCode
	require.NoError(t, api.do(ctx, "POST", "/engineers", map[string]any{"name": "Eva", "user_id": engUser.ID,
		"skills": map[string]int{"electrical": 3}, "home": map[string]float64{"lat": 48.2, "lon": 11.7},
		"shifts": shifts, "max_open_jobs": 5}, &eva))
	require.NoError(t, api.do(ctx, "POST", "/engineers", map[string]any{"name": "Max",
		"skills": map[string]int{"vibration": 3}, "home": map[string]float64{"lat": 48.1, "lon": 11.6},
		"shifts": shifts, "max_open_jobs": 5}, &mech))

	// The motor overheats.
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: env.MQTTURL, ClientID: "life-pub-" + env.ID})
	require.NoError(t, err)
	defer pub.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	var rs []ingest.Reading
	for i := range 10 {
		rs = append(rs, ingest.Reading{TS: t0.Add(time.Duration(i) * time.Minute),
			Metrics: []ingest.Metric{{Name: "winding_temp_c", Value: 120}}})
	}
	require.NoError(t, pub.Publish(ingest.TelemetryTopic(env.TopicRoot, "S2", "M-7"), ingest.AppendJSON(nil, "gw", 1, rs))(ctx))

	var o orderJSON
	eventually(t, 60*time.Second, "the auto order", func() bool {
		var l listOf[orderJSON]
		if api.do(ctx, "GET", "/work-orders", nil, &l) != nil || len(l.Items) == 0 {
			return false
		}
		o = l.Items[0]
		return true
	})
	require.Equal(t, "proposed", o.Status)

	// The engineer may not approve; the planner (admin) does.
	eng := api.as(engUser.Token)
	err = eng.do(ctx, "POST", "/work-orders/"+o.ID+"/approve", map[string]any{}, nil)
	var aerr *apiError
	require.ErrorAs(t, err, &aerr)
	require.Equal(t, http.StatusForbidden, aerr.Status)
	require.NoError(t, api.do(ctx, "POST", "/work-orders/"+o.ID+"/approve", map[string]any{"note": "confirmed on site camera"}, nil))

	// Dispatch assigns Eva (the only one with the skill) and reserves the fan.
	var assigned struct {
		Status     string  `json:"status"`
		AssigneeID *string `json:"assignee_id"`
	}
	eventually(t, 30*time.Second, "dispatch to assign the order", func() bool {
		return api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &assigned) == nil && assigned.Status == "assigned"
	})
	require.NotNil(t, assigned.AssigneeID)
	require.Equal(t, engUser.ID, *assigned.AssigneeID)
	stock := func() (onHand, reserved int) {
		var l listOf[struct {
			LocationID string `json:"location_id"`
			SKU        string `json:"sku"`
			OnHand     int    `json:"on_hand"`
			Reserved   int    `json:"reserved"`
		}]
		require.NoError(t, api.do(ctx, "GET", "/stock?location_id="+wh.ID, nil, &l))
		for _, s := range l.Items {
			if s.SKU == "FAN-1" && s.LocationID == wh.ID {
				return s.OnHand, s.Reserved
			}
		}
		t.Fatalf("no FAN-1 stock at WH-1: %+v", l.Items)
		return 0, 0
	}
	// The reservation follows the assignment's commit (AfterTransition).
	var onHand, reserved int
	eventually(t, 15*time.Second, "the fan reserved for the job", func() bool {
		onHand, reserved = stock()
		return reserved == 1
	})
	require.Equal(t, 3, onHand)

	// Eva works the job through her own API.
	var jobs listOf[orderJSON]
	require.NoError(t, eng.do(ctx, "GET", "/me/jobs", nil, &jobs))
	require.Len(t, jobs.Items, 1)
	require.Equal(t, o.ID, jobs.Items[0].ID)
	for _, step := range []struct {
		action string
		body   map[string]any
	}{
		{"accept", map[string]any{}},
		{"start", map[string]any{}},
		{"complete", map[string]any{"resolution": "replaced the cooling fan", "labour_time": "45m",
			"parts_used": []map[string]any{{"sku": "FAN-1", "qty": 1}}}},
	} {
		require.NoError(t, eng.do(ctx, "POST", "/work-orders/"+o.ID+"/"+step.action, step.body, nil), step.action)
	}
	// Completing twice is an illegal transition: 409, nothing changes.
	err = eng.do(ctx, "POST", "/work-orders/"+o.ID+"/complete", map[string]any{"resolution": "again"}, nil)
	require.ErrorAs(t, err, &aerr)
	require.Equal(t, http.StatusConflict, aerr.Status)

	var done struct {
		Status string `json:"status"`
		Events []struct {
			To string `json:"to"`
		} `json:"events"`
	}
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &done))
	require.Equal(t, "completed", done.Status)
	var path []string
	for _, e := range done.Events {
		if e.To != "" && (len(path) == 0 || path[len(path)-1] != e.To) {
			path = append(path, e.To)
		}
	}
	require.Equal(t, []string{"proposed", "approved", "assigned", "accepted", "in_progress", "completed"}, path)
	onHand, reserved = stock()
	require.Equal(t, 2, onHand, "the used fan left the stock")
	require.Equal(t, 0, reserved)
}
