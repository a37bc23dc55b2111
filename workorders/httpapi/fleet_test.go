package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// recordingWriter keeps what a history upload writes (InfluxDB's side is
// the cmd/pdm test's).
type recordingWriter struct {
	mu  sync.Mutex // guards got
	got []ingest.Reading
}

func (w *recordingWriter) Write(_ context.Context, rs []ingest.Reading) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, rs...)
	return nil
}

func newFleetEnv(t *testing.T, train func(context.Context, string, fleet.Settings) (fleet.Version, fleet.Report, error)) (*env, *postgres.Store, *recordingWriter) {
	t.Helper()
	var store *postgres.Store
	w := &recordingWriter{}
	e := newEnv(t, func(c *httpapi.Config) {
		store = c.Service.Store.(*postgres.Store)
		c.Fleet = httpapi.FleetConfig{Store: store, Scores: store, Writer: w, Train: train,
			Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }}
		c.Health = noMetrics{}
	})
	return e, store, w
}

// noMetrics is a health provider without rules: the answer is the fleet
// block alone.
type noMetrics struct{}

func (noMetrics) Health(context.Context, workorders.AssetRef) ([]httpapi.MetricHealth, error) {
	return nil, nil
}

func (e *env) upload(method, path, token, ctype, body string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func fleetFieldNames(t *testing.T, b []byte) []string {
	t.Helper()
	var eb httpapi.ErrorBody
	require.NoError(t, json.Unmarshal(b, &eb), string(b))
	var out []string
	for _, f := range eb.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestFleetFailuresRoutes(t *testing.T) {
	t.Parallel()
	e, store, _ := newFleetEnv(t, nil)
	_, asset, _, _ := e.seed()
	path := "/api/v1/asset-types/pump/failures"
	at := "2026-02-20T08:00:00Z"

	tests := []struct {
		name   string
		typ    string
		body   any
		want   int
		fields []string
	}{
		{"nothing", "pump", map[string]any{}, 400, []string{"asset_id", "failed_at"}},
		{"bad id and time", "pump", map[string]any{"asset_id": "nope", "failed_at": "20 Feb"}, 400, []string{"failed_at", "asset_id"}},
		{"unknown asset, future", "pump", map[string]any{"asset_id": "00000000-0000-0000-0000-000000000009",
			"failed_at": "2026-03-02T00:00:00Z"}, 422, []string{"failed_at", "asset_id"}},
		{"another type", "motor", map[string]any{"asset_id": asset.ID, "failed_at": at}, 422, []string{"asset_id"}},
		{"type too long", strings.Repeat("x", 65), map[string]any{"asset_id": asset.ID, "failed_at": at}, 400, []string{"type"}},
		{"not JSON", "pump", "[", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := e.do("POST", "/api/v1/asset-types/"+tt.typ+"/failures", e.tokens[workorders.RolePlanner], tt.body)
			require.Equal(t, tt.want, code, string(b))
			if tt.fields != nil {
				require.ElementsMatch(t, tt.fields, fleetFieldNames(t, b))
			}
		})
	}
	// The seeded threshold order is the type's one failure so far.
	got, err := store.Failures(context.Background(), "pump")
	require.NoError(t, err)
	require.Len(t, got, 1, "bad input records nothing")
	require.Equal(t, "threshold", got[0].Source)

	var f1, f2 fleet.Failure
	e.mustJSON("POST", path, workorders.RolePlanner, map[string]any{"asset_id": asset.ID, "failed_at": at}, 201, &f1)
	e.mustJSON("POST", path, workorders.RoleAdmin, map[string]any{"asset_id": asset.ID, "failed_at": "2026-02-20T09:00:00+01:00"}, 200, &f2)
	require.Equal(t, f1.ID, f2.ID, "the same instant again is the same failure")
	require.Equal(t, "pump-1", f1.Asset)
	code, b := e.do("POST", path, e.tokens[workorders.RoleViewer], map[string]any{"asset_id": asset.ID, "failed_at": at})
	require.Equal(t, 403, code, string(b))

	var list struct {
		Items []fleet.Failure `json:"items"`
	}
	e.mustJSON("GET", path, workorders.RoleViewer, nil, 200, &list)
	require.Len(t, list.Items, 2)
	require.Equal(t, f1.ID, list.Items[0].ID, "oldest first: the import, then the order of 1 March")
	e.mustJSON("GET", "/api/v1/asset-types/motor/failures", workorders.RoleViewer, nil, 200, &list)
	require.Empty(t, list.Items)
}

func TestFleetModelRoutes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []fleet.Settings
	var e *env
	var store *postgres.Store
	train := func(ctx context.Context, typ string, s fleet.Settings) (fleet.Version, fleet.Report, error) {
		mu.Lock()
		asked = append(asked, s)
		mu.Unlock()
		if typ == "motor" {
			return fleet.Version{}, fleet.Report{}, fleet.ErrTooFewUnits
		}
		m := fleet.Model{Kind: fleet.KindRidge, Spec: fleet.Spec{Metrics: []string{"vibration_rms"}, Windows: []int{5, 15, 30},
			Cap: 125, StepSeconds: 3600}, Coverage: 0.9, Intervals: []float64{5, 10, 20}, LeadSeconds: s.Lead.Seconds(),
			OrderMargin: s.OrderMargin}
		rep := fleet.Report{Kind: fleet.KindRidge, Units: 10, TrainUnits: 7, CalUnits: 3, ValidationRMSE: 12.5,
			ValidationCoverage: 0.91, CV: map[string]float64{"ridge lambda=0.1": 13}, Intervals: m.Intervals}
		v, err := store.SaveModel(ctx, fleet.Version{AssetType: typ, TrainedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Model: m, Report: rep})
		return v, rep, err
	}
	e, store, _ = newFleetEnv(t, train)

	code, b := e.do("GET", "/api/v1/asset-types/pump/model", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 404, code, string(b))
	require.Equal(t, "no_model", errCode(t, b))

	code, b = e.do("POST", "/api/v1/asset-types/pump/model/train", e.tokens[workorders.RolePlanner],
		map[string]any{"metrics": []string{"OK", "fine"}, "step": "soon", "history": "1s", "cap_steps": -1, "lead": "1s",
			"order_margin": 1.5})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"metrics[0]", "step", "history", "cap_steps", "lead", "order_margin"}, fleetFieldNames(t, b))
	require.Empty(t, asked, "bad input trains nothing")
	code, b = e.do("POST", "/api/v1/asset-types/pump/model/train", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 403, code, string(b))

	code, b = e.do("POST", "/api/v1/asset-types/motor/model/train", e.tokens[workorders.RolePlanner], nil)
	require.Equal(t, 422, code, string(b))
	require.Equal(t, "too_few_failures", errCode(t, b))

	var m httpapi.FleetModel
	e.mustJSON("POST", "/api/v1/asset-types/pump/model/train", workorders.RolePlanner,
		map[string]any{"metrics": []string{"vibration_rms"}, "step": "1h", "history": "20d", "cap_steps": 100, "lead": "3d",
			"order_margin": 0.5}, 201, &m)
	half := 0.5
	require.Equal(t, fleet.Settings{Metrics: []string{"vibration_rms"}, Step: time.Hour, History: 20 * 24 * time.Hour, Cap: 100,
		Lead: 72 * time.Hour, OrderMargin: &half}, asked[len(asked)-1])
	require.Equal(t, 0.5, m.OrderMargin)
	require.NotNil(t, m.LeadSeconds)
	require.Equal(t, 72*3600.0, *m.LeadSeconds)
	require.Equal(t, 1, m.Version)
	require.Equal(t, "1h", m.Step)
	require.InDelta(t, 12.5*3600, m.RMSESeconds, 1e-6)
	require.Equal(t, []float64{5 * 3600, 10 * 3600, 20 * 3600}, m.IntervalSeconds)
	require.Equal(t, 125*3600.0, m.CapSeconds)
	require.NotNil(t, m.Training, "the job that trained it")
	require.Equal(t, fleet.JobSucceeded, m.Training.Status)
	require.Equal(t, 1, *m.Training.ModelVersion)

	// Train off the request path: 202 with the job, then the job's state
	// (the type needs 6 failures before a job starts).
	_, asset, _, _ := e.seed()
	for i := range fleet.MinUnits {
		_, _, err := store.AddFailure(context.Background(), asset.ID, time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
	}
	var job fleet.Job
	e.mustJSON("POST", "/api/v1/asset-types/pump/model/jobs", workorders.RoleAdmin, nil, 202, &job)
	require.Equal(t, "pump", job.AssetType)
	require.NotEmpty(t, job.ID)
	require.Eventually(t, func() bool {
		e.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs/"+job.ID, workorders.RoleViewer, nil, 200, &job)
		return job.Status == fleet.JobSucceeded
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, *job.ModelVersion)
	require.NotNil(t, job.Finished)
	require.Nil(t, job.Error)
	e.mustJSON("GET", "/api/v1/asset-types/pump/model", workorders.RoleViewer, nil, 200, &m)
	require.Equal(t, 2, m.Version)
	require.Equal(t, job.ID, m.Training.ID, "the model shows its latest training")
	code, b = e.do("GET", "/api/v1/asset-types/pump/model/jobs/00000000-0000-0000-0000-000000000001", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 404, code, string(b))
	code, b = e.do("GET", "/api/v1/asset-types/motor/model/jobs/"+job.ID, e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 404, code, "a job of another type: %s", b)
	code, b = e.do("POST", "/api/v1/asset-types/motor/model/jobs", e.tokens[workorders.RolePlanner], nil)
	require.Equal(t, 422, code, string(b))
	require.Equal(t, "too_few_failures", errCode(t, b), "no failures recorded: refused at once")
	code, b = e.do("POST", "/api/v1/asset-types/motor/model/jobs", e.tokens[workorders.RolePlanner], map[string]any{"step": "soon"})
	require.Equal(t, 400, code, "bad input is named before the failures are counted: %s", b)
	require.Contains(t, string(b), `"step"`)
	code, b = e.do("POST", "/api/v1/asset-types/pump/model/jobs", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 403, code, string(b))

	require.Equal(t, fleet.DefaultOrderMargin, m.OrderMargin, "the fake keeps no setting: the default")
	var got httpapi.FleetModel
	e.mustJSON("GET", "/api/v1/asset-types/pump/model", workorders.RoleViewer, nil, 200, &got)
	require.Equal(t, 2, got.Version)
	require.Equal(t, 10, got.Units)
	require.Equal(t, 0.91, got.ValidationCoverage)
	require.Equal(t, []httpapi.FleetCandidate{{Name: "ridge lambda=0.1", RMSESeconds: 13 * 3600}}, got.Candidates)

	// The jobs, newest first, with who asked.
	var jobs httpapi.List[fleet.Job]
	e.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs", workorders.RoleViewer, nil, 200, &jobs)
	require.Len(t, jobs.Items, 2)
	require.Equal(t, job.ID, jobs.Items[0].ID)
	require.Equal(t, e.users[workorders.RoleAdmin].Name, jobs.Items[0].RequestedBy)
	require.Equal(t, e.users[workorders.RolePlanner].Name, jobs.Items[1].RequestedBy)
	e.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs?limit=1", workorders.RoleViewer, nil, 200, &jobs)
	require.Len(t, jobs.Items, 1)
	code, b = e.do("GET", "/api/v1/asset-types/pump/model/jobs?limit=0", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 400, code, string(b))
	require.Equal(t, []string{"limit"}, fleetFieldNames(t, b))

	// The gate: 3 failed units held out (the fake's report) is too few;
	// the version gives estimates but raises no orders.
	require.Equal(t, fleet.GateNotValidated, got.Gate.Status)
	require.False(t, got.Gate.RaisesOrders)
	require.Len(t, got.Gate.Reasons, 1)
	require.Equal(t, fleet.ReasonFewHeldOut, got.Gate.Reasons[0].Code)
	require.Equal(t, 6, got.Gate.Rule.MinHeldOutUnits)
	require.Nil(t, got.Gate.Override)
	gate := "/api/v1/asset-types/pump/model/gate"
	code, b = e.do("PUT", gate, e.tokens[workorders.RolePlanner], map[string]any{"note": "a\u0001b"})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"override", "note"}, fleetFieldNames(t, b))
	code, b = e.do("PUT", gate, e.tokens[workorders.RolePlanner], map[string]any{"override": true, "note": " "})
	require.Equal(t, 400, code, string(b))
	require.Equal(t, []string{"note"}, fleetFieldNames(t, b))
	code, b = e.do("PUT", "/api/v1/asset-types/motor/model/gate", e.tokens[workorders.RolePlanner], map[string]any{"override": false})
	require.Equal(t, 404, code, string(b))
	require.Equal(t, "no_model", errCode(t, b))
	code, b = e.do("PUT", gate, e.tokens[workorders.RoleViewer], map[string]any{"override": false})
	require.Equal(t, 403, code, string(b))
	e.mustJSON("PUT", gate, workorders.RolePlanner, map[string]any{"override": true, "note": "the vendor's model, checked by hand"}, 200, &got)
	require.Equal(t, fleet.GateOverridden, got.Gate.Status)
	require.True(t, got.Gate.RaisesOrders)
	require.Equal(t, e.users[workorders.RolePlanner].Name, got.Gate.Override.By)
	require.Equal(t, "the vendor's model, checked by hand", got.Gate.Override.Note)
	e.mustJSON("GET", "/api/v1/asset-types/pump/model", workorders.RoleViewer, nil, 200, &got)
	require.Equal(t, fleet.GateOverridden, got.Gate.Status, "kept")
	e.mustJSON("PUT", gate, workorders.RolePlanner, map[string]any{"override": false}, 200, &got)
	require.Equal(t, fleet.GateNotValidated, got.Gate.Status)
	require.Nil(t, got.Gate.Override)
}

func TestFleetHistoryUpload(t *testing.T) {
	t.Parallel()
	e, _, w := newFleetEnv(t, nil)
	_, asset, _, _ := e.seed()
	path := "/api/v1/assets/" + asset.ID + "/history"
	tok := e.tokens[workorders.RolePlanner]

	code, body := e.upload("POST", path, tok, "text/csv", "ts,vibration_rms,bearing_temp_c\n"+
		"2026-02-01T00:00:00Z,2.5,60\n1769907600000,,61\n2026-02-01T02:00:00Z,2.7,62.5\n")
	require.Equal(t, 200, code, body)
	var res httpapi.FleetHistoryResult
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, 3, res.Readings)
	require.Equal(t, 5, res.Values)
	require.Equal(t, time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC), *res.To)
	require.Equal(t, "1h", *res.Step, "the median spacing of the times")
	require.Equal(t, 3600.0, *res.StepSeconds)
	require.True(t, res.StepInferred)
	require.Len(t, w.got, 3)
	require.Equal(t, ingest.Reading{Site: "plant1", Asset: "pump-1", TS: time.Date(2026, 2, 1, 1, 0, 0, 0, time.UTC),
		Metrics: []ingest.Metric{{Name: "bearing_temp_c", Value: 61}}}, w.got[1])

	code, body = e.upload("POST", path, tok, "text/plain", "pump vib=3.1 1769990400000000000\n\npump vib=3.2,temp=70 1769994000000000000\n")
	require.Equal(t, 200, code, body)
	require.Len(t, w.got, 5)
	require.Equal(t, "pump_vib", w.got[3].Metrics[0].Name)
	res = httpapi.FleetHistoryResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, "1h", *res.Step)
	require.True(t, res.StepInferred)
	// Irregular times: the median gap (10m, 10m, 30m, 10m), not the mean.
	code, body = e.upload("POST", path, tok, "text/csv", "ts,vib\n2026-02-02T00:00:00Z,1\n2026-02-02T00:10:00Z,1\n"+
		"2026-02-02T00:20:00Z,1\n2026-02-02T00:50:00Z,1\n2026-02-02T01:00:00Z,1\n")
	require.Equal(t, 200, code, body)
	res = httpapi.FleetHistoryResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, "10m", *res.Step)
	require.True(t, res.StepInferred)
	// A step given is the answer's, as given.
	code, body = e.upload("POST", path+"?step=5m", tok, "text/csv", "ts,vib\n2026-02-03T00:00:00Z,1\n")
	require.Equal(t, 200, code, body)
	res = httpapi.FleetHistoryResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, "5m", *res.Step)
	require.False(t, res.StepInferred)
	require.Len(t, w.got, 11)
	// Cycles without ?step= stand for 1h each (the documented default);
	// one reading time and no step: stored, the step unknown (null).
	code, body = e.upload("POST", path+"?last=2026-02-04T00:00:00Z", tok, "text/csv", "cycle,vib\n1,5\n2,5\n")
	require.Equal(t, 200, code, body)
	res = httpapi.FleetHistoryResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, "1h", *res.Step)
	require.False(t, res.StepInferred)
	require.Equal(t, time.Date(2026, 2, 3, 23, 0, 0, 0, time.UTC), *res.From)
	code, body = e.upload("POST", path, tok, "text/plain", "pump vib=1 1769990400000000000\n")
	require.Equal(t, 200, code, body)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	require.Nil(t, raw["step"])
	require.Nil(t, raw["step_seconds"])
	require.Equal(t, false, raw["step_inferred"])
	require.Len(t, w.got, 14)

	bad := []struct {
		name, ctype, body string
		want              int
		fields            []string
	}{
		{"empty", "text/csv", "  ", 400, []string{"body"}},
		{"bad header", "text/csv", "when,Vib\n", 400, []string{"line 1"}},
		{"bad column", "text/csv", "ts,vib,Vib\n2026-02-01T00:00:00Z,1,2\n", 400, []string{"line 1"}},
		{"two units", "text/csv?step=1h", "unit,cycle,s1\n1,1,5\n1,2,5\n2,1,5\n", 400, []string{"line 4"}},
		{"cycles as ms", "text/csv", "ts,s1\n1,5\n2,5\n", 400, []string{"line 2", "line 3"}},
		{"bad cycle", "text/csv", "cycle,s1\n1.5,5\n", 400, []string{"line 2"}},
		{"bad step", "text/csv?step=0s", "cycle,s1\n1,5\n", 400, []string{"step"}},
		{"bad rows", "text/csv", "ts,vib\nyesterday,1\n2026-02-01T00:00:00Z,NaN\n2026-02-01T01:00:00Z,x\n", 400, []string{"line 2", "line 3", "line 4"}},
		{"future", "text/csv", "ts,vib\n2026-03-02T00:00:00Z,1\n", 422, []string{"reading 1"}},
		{"bad line protocol", "text/plain", "pump vib=1 1769990400000000000\npump vib= 17\n", 400, []string{"line 2"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ctype, query, _ := strings.Cut(tt.ctype, "?")
			if query != "" {
				query = "?" + query
			}
			code, body := e.upload("POST", path+query, tok, ctype, tt.body)
			require.Equal(t, tt.want, code, body)
			require.ElementsMatch(t, tt.fields, fleetFieldNames(t, []byte(body)))
		})
	}
	require.Len(t, w.got, 14, "a bad upload writes nothing")

	// A stranger's CSV of the public benchmark's shape: a unit column,
	// cycles, spaces and capitals in names, constant columns.
	code, body = e.upload("POST", path+"?step=2h&last=2026-02-10T00:00:00Z", tok, "text/csv",
		"unit,Time (cycles),Op Setting 1,setting3,Sensor 2,T24\n7,1,0.001,100,642.1,1.3\n7,2,-0.002,100,642.4,1.3\n7,3,0.000,100,642.9,\n")
	require.Equal(t, 200, code, body)
	res = httpapi.FleetHistoryResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, 3, res.Readings)
	require.Equal(t, []string{"op_setting_1", "setting3", "sensor_2", "t24"}, res.Metrics)
	last := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	require.Equal(t, last, *res.To, "the last cycle is at ?last=")
	require.Equal(t, last.Add(-4*time.Hour), *res.From, "one cycle a step of 2h")
	require.Equal(t, "2h", *res.Step)
	require.False(t, res.StepInferred)
	require.Len(t, w.got, 17)
	require.Equal(t, ingest.Reading{Site: "plant1", Asset: "pump-1", TS: last, Metrics: []ingest.Metric{
		{Name: "op_setting_1", Value: 0}, {Name: "setting3", Value: 100}, {Name: "sensor_2", Value: 642.9}}}, w.got[16])
	code, body = e.upload("POST", "/api/v1/assets/00000000-0000-0000-0000-000000000009/history", tok, "text/csv", "ts,vib\n")
	require.Equal(t, 404, code, body)
	code, body = e.upload("POST", path, e.tokens[workorders.RoleViewer], "text/csv", "ts,vib\n")
	require.Equal(t, 403, code, body)
}

func TestFleetBlockInHealth(t *testing.T) {
	t.Parallel()
	e, store, _ := newFleetEnv(t, nil)
	_, asset, _, _ := e.seed()
	ctx := context.Background()
	path := "/api/v1/assets/" + asset.ID + "/health"
	var h map[string]any
	e.mustJSON("GET", path, workorders.RoleViewer, nil, 200, &h)
	require.NotContains(t, h, "fleet", "no model, no block")

	require.NoError(t, store.SaveScore(ctx, fleet.Score{AssetID: asset.ID, AssetType: "pump", Version: 3,
		Status: fleet.StatusShortHistory, ScoredAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}))
	h = nil
	e.mustJSON("GET", path, workorders.RoleViewer, nil, 200, &h)
	fb := h["fleet"].(map[string]any)
	require.Equal(t, "short_history", fb["status"])
	for _, k := range []string{"as_of", "rul_seconds", "rul", "rul_lower_seconds", "rul_upper_seconds"} {
		v, ok := fb[k]
		require.True(t, ok, "%s present", k)
		require.Nil(t, v, "%s null without an estimate", k)
	}

	require.Equal(t, "unknown", fb["model_status"], "version 3 is not stored")
	require.Equal(t, false, fb["raises_orders"])

	// The version that scored failed its gate: estimated, no orders.
	v, err := store.SaveModel(ctx, fleet.Version{AssetType: "pump", TrainedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Model:  fleet.Model{Kind: fleet.KindRidge, Spec: fleet.Spec{StepSeconds: 3600}, Coverage: 0.9},
		Report: fleet.Report{CalUnits: 4, ValidationCoverage: 0.7, ValidationRMSE: 34},
		Gate: &fleet.Gate{Reasons: []fleet.GateReason{{Code: fleet.ReasonFewHeldOut, Value: 4, Limit: 6, Message: "4 held out"}},
			Rule: fleet.GateRule{MaxRMSESeconds: fleet.DefaultGateLead.Seconds()}}})
	require.NoError(t, err)
	rul, lo, hi := 30*3600.0+20*60, 10*3600.0, 50*3600.0
	asOf := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, store.SaveScore(ctx, fleet.Score{AssetID: asset.ID, AssetType: "pump", Version: v.Version, Status: fleet.StatusOK,
		ScoredAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), AsOf: &asOf, RUL: &rul, Lower: &lo, Upper: &hi}))
	h = nil
	e.mustJSON("GET", path, workorders.RoleViewer, nil, 200, &h)
	fb = h["fleet"].(map[string]any)
	require.Equal(t, "ok", fb["status"])
	require.EqualValues(t, v.Version, fb["model_version"])
	require.Equal(t, fleet.GateNotValidated, fb["model_status"])
	require.Equal(t, false, fb["raises_orders"])
	require.Equal(t, "4 held out", fb["model_reasons"].([]any)[0].(map[string]any)["message"])
	require.Equal(t, "1d 6h", fb["rul"])
	require.Equal(t, "2026-03-01T10:00:00Z", fb["as_of"])
	require.Equal(t, rul, fb["rul_seconds"])
	require.Equal(t, lo, fb["rul_lower_seconds"])
	require.Equal(t, hi, fb["rul_upper_seconds"])

	// The type's override: the same estimate raises orders.
	require.NoError(t, store.SetGateOverride(ctx, "pump", &fleet.GateOverride{By: "ann", At: asOf, Note: "trusted"}))
	h = nil
	e.mustJSON("GET", path, workorders.RoleViewer, nil, 200, &h)
	fb = h["fleet"].(map[string]any)
	require.Equal(t, fleet.GateOverridden, fb["model_status"])
	require.Equal(t, true, fb["raises_orders"])
}

// fleetReplica is one API process of TestFleetJobsAcrossReplicas: its
// own pool, store, jobs and server over the shared database.
type fleetReplica struct {
	env    *env
	pool   *pgxpool.Pool
	cancel context.CancelFunc
}

func startFleetReplica(t *testing.T, dbURL, name string, tokens map[workorders.Role]string, users map[workorders.Role]workorders.User,
	train func(context.Context, string, fleet.Settings) (fleet.Version, fleet.Report, error)) fleetReplica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	store := postgres.New(pool)
	jobs := &fleet.Jobs{Train: train, Store: store, Runner: name, Beat: 20 * time.Millisecond, Lease: time.Second}
	go jobs.Run(ctx, nil)
	svc := workorders.NewService(store, nil, nil)
	srv, err := httpapi.New(httpapi.Config{Service: svc, Fleet: httpapi.FleetConfig{Store: store, Scores: store, Jobs: jobs}})
	require.NoError(t, err)
	return fleetReplica{env: &env{t: t, svc: svc, srv: srv, tokens: tokens, users: users}, pool: pool, cancel: cancel}
}

// TestFleetJobsAcrossReplicas: two API replicas on one database. A job
// started on A is answered by B, with its phase and who asked; B cannot
// start a second one of the type. A then loses its database (its pool
// closed: a replica that died); once the lease has passed B reports the
// job failed as runner_lost, and a new job runs on B to its version.
func TestFleetJobsAcrossReplicas(t *testing.T) {
	t.Parallel()
	shared, pool := migratedStore(t)
	dbURL := pool.Config().ConnString()
	svc := workorders.NewService(shared, nil, nil)
	tokens, users := map[workorders.Role]string{}, map[workorders.Role]workorders.User{}
	for _, r := range workorders.Roles() {
		u, tok, err := svc.CreateUser(context.Background(), string(r)+"-user", r)
		require.NoError(t, err)
		tokens[r], users[r] = tok, u
	}

	inHistory, never := make(chan struct{}), make(chan struct{})
	defer close(never)
	var once sync.Once
	trainA := func(ctx context.Context, typ string, s fleet.Settings) (fleet.Version, fleet.Report, error) {
		fleet.ReportProgress(ctx, fleet.PhaseHistory, 2, 8)
		once.Do(func() { close(inHistory) })
		<-never // a training that never ends: its replica dies under it
		return fleet.Version{}, fleet.Report{}, errors.New("unreachable")
	}
	trainB := func(ctx context.Context, typ string, s fleet.Settings) (fleet.Version, fleet.Report, error) {
		rep := fleet.Report{Units: 20, CalUnits: 6, ValidationCoverage: 0.9, ValidationRMSE: 10}
		m := fleet.Model{Kind: fleet.KindRidge, Spec: fleet.Spec{Metrics: []string{"vib"}, StepSeconds: 3600, Cap: 125}, Coverage: 0.9}
		g := fleet.JudgeGate(m, rep, 0)
		v, err := shared.SaveModel(ctx, fleet.Version{AssetType: typ, TrainedAt: time.Now(), Model: m, Report: rep, Gate: &g})
		return v, rep, err
	}
	a := startFleetReplica(t, dbURL, "replica-a", tokens, users, trainA)
	b := startFleetReplica(t, dbURL, "replica-b", tokens, users, trainB)
	t.Cleanup(func() { b.cancel(); b.pool.Close() })

	_, asset, _, _ := a.env.seed()
	for i := range fleet.MinUnits {
		_, _, err := shared.AddFailure(context.Background(), asset.ID, time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
	}
	var job fleet.Job
	a.env.mustJSON("POST", "/api/v1/asset-types/pump/model/jobs", workorders.RolePlanner, nil, 202, &job)
	<-inHistory
	var seen fleet.Job
	require.Eventually(t, func() bool {
		b.env.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs/"+job.ID, workorders.RoleViewer, nil, 200, &seen)
		return seen.Phase == fleet.PhaseHistory && seen.Progress != nil
	}, 10*time.Second, 10*time.Millisecond, "B sees A's job in its phase")
	require.Equal(t, fleet.JobRunning, seen.Status)
	require.Equal(t, 0.25, *seen.Progress)
	require.Equal(t, "replica-a", seen.Runner)
	require.Equal(t, users[workorders.RolePlanner].Name, seen.RequestedBy)
	code, body := b.env.do("POST", "/api/v1/asset-types/pump/model/jobs", tokens[workorders.RolePlanner], nil)
	require.Equal(t, 409, code, string(body))
	require.Equal(t, "training_under_way", errCode(t, body))
	require.Contains(t, string(body), job.ID)

	// A dies: its connections close, its heartbeats stop.
	a.pool.Close()
	require.Eventually(t, func() bool {
		b.env.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs/"+job.ID, workorders.RoleViewer, nil, 200, &seen)
		return seen.Status == fleet.JobFailed
	}, 20*time.Second, 50*time.Millisecond, "B reports A's job lost")
	require.Equal(t, fleet.CodeRunnerLost, *seen.Code)
	require.Contains(t, *seen.Error, "replica-a")
	require.NotNil(t, seen.Finished)
	require.Empty(t, seen.Phase)

	var next fleet.Job
	b.env.mustJSON("POST", "/api/v1/asset-types/pump/model/jobs", workorders.RolePlanner, nil, 202, &next)
	require.Eventually(t, func() bool {
		b.env.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs/"+next.ID, workorders.RoleViewer, nil, 200, &next)
		return next.Status == fleet.JobSucceeded
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, *next.ModelVersion)
	var m httpapi.FleetModel
	b.env.mustJSON("GET", "/api/v1/asset-types/pump/model", workorders.RoleViewer, nil, 200, &m)
	require.Equal(t, next.ID, m.Training.ID)
	require.Equal(t, fleet.GateValidated, m.Gate.Status, "20 units, 6 held out, coverage 0.90, RMSE 10 h")
	var jobs httpapi.List[fleet.Job]
	b.env.mustJSON("GET", "/api/v1/asset-types/pump/model/jobs", workorders.RoleViewer, nil, 200, &jobs)
	require.Len(t, jobs.Items, 2)
	require.Equal(t, []string{next.ID, job.ID}, []string{jobs.Items[0].ID, jobs.Items[1].ID})
	a.cancel()
}
