package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/simulators"
)

// postHistory uploads rows of an asset as CSV (one row an hour, the last
// at last) through POST /assets/{id}/history.
// newSite creates a site and returns a func that registers an asset of it
// (code, type, name; criticality 3) and returns the asset's id.
func newSite(ctx context.Context, t *testing.T, api *apiClient, code, name string) func(code, typ, name string) string {
	t.Helper()
	var site idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": code, "name": name}, &site))
	return func(code, typ, name string) string {
		t.Helper()
		var a idCode
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": code, "type": typ,
			"name": name, "criticality": 3}, &a))
		return a.ID
	}
}

func postHistory(ctx context.Context, t *testing.T, api *apiClient, assetID string, sensors []string, rows [][]float64, last time.Time) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("ts," + strings.Join(sensors, ",") + "\n")
	for i, r := range rows {
		ts := last.Add(-time.Duration(len(rows)-1-i) * time.Hour)
		b.WriteString(ts.Format(time.RFC3339))
		for _, v := range r {
			b.WriteString("," + strconv.FormatFloat(v, 'f', 4, 64))
		}
		b.WriteString("\n")
	}
	status, body := rawPost(ctx, t, api, "/assets/"+assetID+"/history", "text/csv", b.Bytes())
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, fmt.Sprintf(`"readings":%d`, len(rows)))
}

func rawPost(ctx context.Context, t *testing.T, api *apiClient, path, ctype string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+api.token)
	req.Header.Set("Content-Type", ctype)
	resp, err := api.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestFleetModelThroughThePlatform: run-to-failure histories of twelve
// engines uploaded as CSV into InfluxDB, their failures recorded, a model
// trained through the API and stored in PostgreSQL, then retrained by the
// job; the scoring job gives
// two running engines a fleet estimate in their health answer. Twelve
// failures are too few for the validation gate: no order until a planner
// overrides it; then the engine near its end gets one trend order
// carrying the model version.
func TestFleetModelThroughThePlatform(t *testing.T) {
	env := newTestEnv(t)
	token := "fleet-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token, "--fleet-score-every", "1s", "--fleet-retrain", "3s")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	newAsset := newSite(ctx, t, api, "FLEET1", "Engine shop")
	failed := simulators.RunToFailure(11, simulators.RunToFailureOptions{Units: 12})
	running := simulators.RunToFailure(11, simulators.RunToFailureOptions{Units: 2, FirstUnit: 12})
	now := time.Now().UTC()
	failedAt := now.Truncate(time.Hour).Add(-48*time.Hour + 30*time.Minute)
	var ids []string
	for _, u := range failed.Units {
		id := newAsset(u.ID, "engine", u.ID)
		ids = append(ids, id)
		postHistory(ctx, t, api, id, failed.Sensors, u.Cycles, failedAt)
	}
	// One engine 10 cycles before its failure, one early in its life.
	near, early := running.Units[0], running.Units[1]
	nearID, earlyID := newAsset("NEAR", "engine", "NEAR"), newAsset("EARLY", "engine", "EARLY")
	last := now.Add(-time.Minute)
	postHistory(ctx, t, api, nearID, running.Sensors, near.Cycles[:near.Life-10], last)
	postHistory(ctx, t, api, earlyID, running.Sensors, early.Cycles[:40], last)
	// The same engine's history uploaded with times two months old.
	oldID := newAsset("OLD", "engine", "OLD")
	oldLast := now.Add(-60 * 24 * time.Hour).Truncate(time.Hour).Add(10 * time.Minute)
	postHistory(ctx, t, api, oldID, running.Sensors, early.Cycles[:40], oldLast)
	pumpID := newAsset("PUMP", "pump", "PUMP")

	// Bad input names every field and records nothing.
	var ae *apiError
	err := api.do(ctx, "POST", "/asset-types/engine/failures", map[string]any{"failed_at": "yesterday"}, nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusBadRequest, ae.Status, ae.Body)
	require.Contains(t, ae.Body, `"field":"asset_id"`)
	require.Contains(t, ae.Body, `"field":"failed_at"`)
	err = api.do(ctx, "POST", "/asset-types/engine/failures", map[string]any{"asset_id": pumpID,
		"failed_at": now.Add(time.Hour).Format(time.RFC3339)}, nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnprocessableEntity, ae.Status, ae.Body)
	require.Contains(t, ae.Body, `is of type \"pump\"`)
	require.Contains(t, ae.Body, `"field":"failed_at"`)
	status, body := rawPost(ctx, t, api, "/assets/"+pumpID+"/history", "text/csv", []byte("ts,%%\nnot-a-time,x\n"))
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, `"field":"line 1"`)

	// Too few failures to train; no model yet.
	err = api.do(ctx, "POST", "/asset-types/engine/model/train", nil, nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnprocessableEntity, ae.Status, ae.Body)
	require.Contains(t, ae.Body, "too_few_failures")
	err = api.do(ctx, "GET", "/asset-types/engine/model", nil, nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusNotFound, ae.Status)
	require.Contains(t, ae.Body, "no_model")

	for _, id := range ids {
		in := map[string]any{"asset_id": id, "failed_at": failedAt.Format(time.RFC3339)}
		require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/failures", in, nil))
		var again struct {
			ID string `json:"id"`
		}
		require.NoError(t, api.do(ctx, "POST", "/asset-types/engine/failures", in, &again)) // idempotent
		require.NotEmpty(t, again.ID)
	}
	var fl listOf[map[string]any]
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/failures", nil, &fl))
	require.Len(t, fl.Items, 12)

	type modelJSON struct {
		Version            int       `json:"version"`
		TrainedAt          time.Time `json:"trained_at"`
		Kind               string    `json:"kind"`
		Metrics            []string  `json:"metrics"`
		Units              int       `json:"n_units"`
		RMSESeconds        float64   `json:"validation_rmse_seconds"`
		ValidationCoverage float64   `json:"validation_coverage"`
		IntervalSeconds    []float64 `json:"interval_seconds"`
		Step               string    `json:"step"`
		OrderMargin        float64   `json:"order_margin"`
	}
	var trained, got modelJSON
	// Training reads 120 series from InfluxDB: give it the server's
	// minute rather than the client's usual 15 s on a loaded machine.
	slow := *api
	slow.hc = &http.Client{Timeout: time.Minute}
	require.NoError(t, slow.do(ctx, "POST", "/asset-types/engine/model/train", map[string]any{"order_margin": 0.9}, &trained))
	require.GreaterOrEqual(t, trained.Version, 1, "the retrain job may have been first")
	require.Equal(t, 12, trained.Units)
	require.Equal(t, failed.Sensors, trained.Metrics)
	require.Equal(t, "1h", trained.Step)
	require.Equal(t, 0.9, trained.OrderMargin)
	require.Len(t, trained.IntervalSeconds, 3)
	require.Greater(t, trained.RMSESeconds, 0.0)
	require.Less(t, trained.RMSESeconds, 50*3600.0, "validation RMSE under 50 steps")
	// The retrain job (every 3 s here) trains the next version with the
	// same settings, the order margin included (a retraining that began
	// before the POST saved may land first with the default: wait past
	// it).
	eventually(t, 90*time.Second, "a retrained version with the order margin", func() bool {
		got = modelJSON{}
		return api.do(ctx, "GET", "/asset-types/engine/model", nil, &got) == nil && got.Version > trained.Version &&
			got.OrderMargin == 0.9
	})
	require.Equal(t, trained.Metrics, got.Metrics)
	require.Equal(t, trained.Step, got.Step)
	require.Equal(t, 12, got.Units)
	require.True(t, got.TrainedAt.After(trained.TrainedAt))

	// The scoring job (every second here) puts the estimate into health.
	type healthJSON struct {
		Fleet *struct {
			ModelVersion int      `json:"model_version"`
			Status       string   `json:"status"`
			RULSeconds   *float64 `json:"rul_seconds"`
			RUL          *string  `json:"rul"`
			Lower        *float64 `json:"rul_lower_seconds"`
			Upper        *float64 `json:"rul_upper_seconds"`
		} `json:"fleet"`
	}
	var hn, he healthJSON
	eventually(t, 60*time.Second, "fleet estimates in health", func() bool {
		hn, he = healthJSON{}, healthJSON{}
		return api.do(ctx, "GET", "/assets/"+nearID+"/health", nil, &hn) == nil && hn.Fleet != nil &&
			api.do(ctx, "GET", "/assets/"+earlyID+"/health", nil, &he) == nil && he.Fleet != nil
	})
	require.Equal(t, "ok", hn.Fleet.Status)
	require.GreaterOrEqual(t, hn.Fleet.ModelVersion, 1)
	require.NotNil(t, hn.Fleet.RUL)
	require.Less(t, *hn.Fleet.Lower, 48*3600.0, "near its end: lower bound within the lead")
	require.LessOrEqual(t, *hn.Fleet.Lower, *hn.Fleet.RULSeconds)
	require.LessOrEqual(t, *hn.Fleet.RULSeconds, *hn.Fleet.Upper)
	require.Equal(t, "ok", he.Fleet.Status)
	require.Greater(t, *he.Fleet.Lower, 48*3600.0, "early in its life: no order; got %s", *he.Fleet.RUL)
	// Old data is judged where it ends (event time), not left unscored.
	var ho struct {
		Fleet *struct {
			Status     string    `json:"status"`
			AsOf       time.Time `json:"as_of"`
			RULSeconds float64   `json:"rul_seconds"`
		} `json:"fleet"`
	}
	eventually(t, 30*time.Second, "the old engine's estimate", func() bool {
		return api.do(ctx, "GET", "/assets/"+oldID+"/health", nil, &ho) == nil && ho.Fleet != nil
	})
	require.Equal(t, "ok", ho.Fleet.Status)
	require.Equal(t, oldLast.Truncate(time.Hour).Add(time.Hour), ho.Fleet.AsOf)
	require.InDelta(t, *he.Fleet.RULSeconds, ho.Fleet.RULSeconds, 1, "the same history gives the same estimate")

	// Twelve failed units hold out four: too few to validate the model.
	// It estimates, but raises no order until a planner overrides its
	// gate.
	var gated struct {
		Version int `json:"version"`
		Gate    struct {
			Status       string `json:"status"`
			RaisesOrders bool   `json:"raises_orders"`
			Reasons      []struct {
				Code string `json:"code"`
			} `json:"reasons"`
		} `json:"gate"`
	}
	require.NoError(t, api.do(ctx, "GET", "/asset-types/engine/model", nil, &gated))
	require.Equal(t, fleet.GateNotValidated, gated.Gate.Status)
	require.False(t, gated.Gate.RaisesOrders)
	require.NotEmpty(t, gated.Gate.Reasons)
	require.Equal(t, fleet.ReasonFewHeldOut, gated.Gate.Reasons[0].Code)
	var hg struct {
		Fleet *struct {
			ModelStatus  string    `json:"model_status"`
			RaisesOrders bool      `json:"raises_orders"`
			ScoredAt     time.Time `json:"scored_at"`
		} `json:"fleet"`
	}
	require.NoError(t, api.do(ctx, "GET", "/assets/"+nearID+"/health", nil, &hg))
	require.Equal(t, fleet.GateNotValidated, hg.Fleet.ModelStatus)
	require.False(t, hg.Fleet.RaisesOrders)
	// Two scoring runs after this one have had the chance to raise.
	firstScored := hg.Fleet.ScoredAt
	var scoredRuns int
	eventually(t, 60*time.Second, "two more scoring runs", func() bool {
		var h struct {
			Fleet *struct {
				ScoredAt time.Time `json:"scored_at"`
			} `json:"fleet"`
		}
		if api.do(ctx, "GET", "/assets/"+nearID+"/health", nil, &h) == nil && h.Fleet != nil && h.Fleet.ScoredAt.After(firstScored) {
			scoredRuns++
			firstScored = h.Fleet.ScoredAt
		}
		return scoredRuns >= 2
	})
	var none listOf[orderJSON]
	require.NoError(t, api.do(ctx, "GET", "/work-orders?asset_id="+nearID, nil, &none))
	require.Empty(t, none.Items, "a model that failed its gate raises no order")
	err = api.do(ctx, "PUT", "/asset-types/engine/model/gate", map[string]any{"override": true}, nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusBadRequest, ae.Status, ae.Body)
	require.Contains(t, ae.Body, `"field":"note"`)
	require.NoError(t, api.do(ctx, "PUT", "/asset-types/engine/model/gate",
		map[string]any{"override": true, "note": "twelve engines are all we have"}, &gated))
	require.Equal(t, fleet.GateOverridden, gated.Gate.Status)

	// One trend order for the engine near its end, with the model version.
	var orders []orderJSON
	eventually(t, 60*time.Second, "the fleet model's order", func() bool {
		var page listOf[orderJSON]
		if api.do(ctx, "GET", "/work-orders?asset_id="+nearID, nil, &page) != nil {
			return false
		}
		orders = page.Items
		return len(orders) > 0
	})
	o := orders[0]
	require.Equal(t, "trend", o.Source)
	require.Equal(t, fleet.FailureMode, o.FailureMode)
	require.Equal(t, "proposed", o.Status)
	require.Equal(t, "fleet", o.Evidence["model"])
	require.GreaterOrEqual(t, o.Evidence["model_version"], 1.0)
	require.Contains(t, o.Evidence, "features")
	require.Equal(t, 0.9, o.Evidence["coverage"], "the interval's nominal coverage")
	require.NotEmpty(t, o.Evidence["model_kind"])
	drivers, ok := o.Evidence["drivers"].([]any)
	require.True(t, ok, "drivers: %v", o.Evidence["drivers"])
	require.Len(t, drivers, 3, "the three metrics that moved most")
	require.Contains(t, drivers[0], "metric")
	// Later scoring runs add evidence to the same order, never a second.
	// A run on unchanged data is the same signal (as of the last data,
	// capped at now), which the ticket core drops: one more reading
	// (the engine's next cycle) makes the next run's estimate a new one,
	// also once the wall clock has left the last reading's hour.
	postHistory(ctx, t, api, nearID, running.Sensors, near.Cycles[near.Life-10:near.Life-9], time.Now().UTC())
	var detail struct {
		SignalCount int `json:"signal_count"`
	}
	eventually(t, 30*time.Second, "a second scoring run's evidence", func() bool {
		return api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &detail) == nil && detail.SignalCount >= 2
	})
	var all listOf[orderJSON]
	require.NoError(t, api.do(ctx, "GET", "/work-orders", nil, &all))
	require.Len(t, all.Items, 1, "one order, for the engine near its end")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

// postCyclesCSV uploads a unit's cycles as a stranger's CSV of the public
// benchmark would have them: a unit column, cycles counted from 1, the
// settings and sensors under their own names; the last cycle lands at
// the current hour (the default of ?last=). It returns the last cycle's
// time, the upload's To.
func postCyclesCSV(ctx context.Context, t *testing.T, api *apiClient, assetID, unit, step string, cols []string, rows [][]float64) time.Time {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("unit,time_cycles," + strings.Join(cols, ",") + "\n")
	for i, r := range rows {
		b.WriteString(unit + "," + strconv.Itoa(i+1))
		for _, v := range r {
			b.WriteString("," + strconv.FormatFloat(v, 'f', 4, 64))
		}
		b.WriteString("\n")
	}
	status, body := rawPost(ctx, t, api, "/assets/"+assetID+"/history?step="+step, "text/csv", b.Bytes())
	require.Equal(t, http.StatusOK, status, body)
	var res struct {
		Readings int       `json:"readings"`
		Metrics  []string  `json:"metrics"`
		To       time.Time `json:"to"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, len(rows), res.Readings)
	require.Equal(t, cols, res.Metrics)
	return res.To
}

// TestFleetCMAPSSShapedThroughThePlatform is the path a measurer takes
// with the public benchmark: fleets of its shape (3 settings, 21 sensors
// of which 6 are constant, six operating conditions) uploaded as CSV of
// cycles (a cycle a day), the failed units' failures recorded at their
// last cycle, a training started as a job (no step given) and followed,
// then the health answers of running units. The model trains on days
// (the readings' gap, not the hour a first training otherwise takes),
// finds the six conditions and leaves the settings and the constant
// sensors out of its features.
func TestFleetCMAPSSShapedThroughThePlatform(t *testing.T) {
	env := newTestEnv(t)
	token := "fleet-cmapss-" + env.ID + "-0123456789abcdef"
	// Scoring every hour: the training job scores the type's assets
	// before it ends.
	api, _ := startServe(t, env, token, "--fleet-score-every", "1h", "--fleet-retrain", "24h")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	newAsset := newSite(ctx, t, api, "CMAPSS", "Test cell")
	shape := simulators.RunToFailureOptions{CMAPSS: true, Conditions: 6}
	shape.Units = 10
	failed := simulators.RunToFailure(5, shape)
	shape.Units, shape.FirstUnit, shape.Cut = 2, 10, true
	running := simulators.RunToFailure(5, shape)
	for _, u := range failed.Units {
		id := newAsset(u.ID, "turbofan", u.ID)
		at := postCyclesCSV(ctx, t, api, id, u.ID, "1d", failed.Sensors, u.Cycles)
		require.NoError(t, api.do(ctx, "POST", "/asset-types/turbofan/failures",
			map[string]any{"asset_id": id, "failed_at": at.Format(time.RFC3339)}, nil))
	}
	var runIDs []string
	for _, u := range running.Units {
		id := newAsset(u.ID, "turbofan", u.ID)
		postCyclesCSV(ctx, t, api, id, u.ID, "1d", running.Sensors, u.Cycles)
		runIDs = append(runIDs, id)
	}

	var job struct {
		ID           string  `json:"id"`
		Status       string  `json:"status"`
		ModelVersion *int    `json:"model_version"`
		Error        *string `json:"error"`
	}
	require.NoError(t, api.do(ctx, "POST", "/asset-types/turbofan/model/jobs", nil, &job))
	require.NotEmpty(t, job.ID)
	eventually(t, 2*time.Minute, "the training job to end", func() bool {
		return api.do(ctx, "GET", "/asset-types/turbofan/model/jobs/"+job.ID, nil, &job) == nil &&
			(job.Status == fleet.JobSucceeded || job.Status == fleet.JobFailed)
	})
	require.Equal(t, fleet.JobSucceeded, job.Status, "error: %v", job.Error)
	var model struct {
		Version    int      `json:"version"`
		Step       string   `json:"step"`
		CapSeconds float64  `json:"cap_seconds"`
		Metrics    []string `json:"metrics"`
		Settings   []string `json:"settings"`
		Conditions int      `json:"conditions"`
		Use        []string `json:"use"`
		Units      int      `json:"n_units"`
		Training   *struct {
			ID string `json:"id"`
		} `json:"training"`
	}
	require.NoError(t, api.do(ctx, "GET", "/asset-types/turbofan/model", nil, &model))
	require.Equal(t, *job.ModelVersion, model.Version)
	require.Equal(t, 10, model.Units)
	require.Equal(t, "1d", model.Step, "the cycles' own step")
	require.Equal(t, 125*86400.0, model.CapSeconds, "125 cycles")
	require.ElementsMatch(t, failed.Sensors, model.Metrics)
	require.Equal(t, []string{"setting1", "setting2", "setting3"}, model.Settings)
	require.Equal(t, 6, model.Conditions)
	require.Len(t, model.Use, 15, "s1-s21 less the six constant ones")
	for _, m := range []string{"setting1", "s1", "s5", "s10", "s16", "s18", "s19"} {
		require.NotContains(t, model.Use, m)
	}
	require.Equal(t, job.ID, model.Training.ID)

	type healthJSON struct {
		Fleet *struct {
			Status     string   `json:"status"`
			RULSeconds *float64 `json:"rul_seconds"`
			Lower      *float64 `json:"rul_lower_seconds"`
			Upper      *float64 `json:"rul_upper_seconds"`
		} `json:"fleet"`
	}
	for i, id := range runIDs {
		var h healthJSON
		require.NoError(t, api.do(ctx, "GET", "/assets/"+id+"/health", nil, &h))
		require.NotNil(t, h.Fleet, "scored by the job that trained the model")
		require.Equal(t, "ok", h.Fleet.Status)
		require.LessOrEqual(t, *h.Fleet.Lower, *h.Fleet.RULSeconds)
		require.LessOrEqual(t, *h.Fleet.RULSeconds, *h.Fleet.Upper)
		require.LessOrEqual(t, *h.Fleet.RULSeconds, 125*86400.0, "capped at 125 cycles")
		truth := float64(running.Units[i].RUL()) * 86400
		require.LessOrEqual(t, *h.Fleet.Lower, truth+86400, "unit %d: the interval's lower bound is not past the failure", i)
	}
}
