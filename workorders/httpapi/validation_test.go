package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// raw sends a body as it is (no marshalling) and returns status and body.
func (e *env) raw(method, path string, role workorders.Role, body []byte) (int, []byte) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func fieldsOf(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var eb httpapi.ErrorBody
	require.NoError(t, json.Unmarshal(b, &eb), string(b))
	out := map[string]string{}
	for _, f := range eb.Error.Fields {
		out[f.Field] = f.Message
	}
	return out
}

func TestBadInputIsA4xxNamingEveryField(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	site, asset, _, o := e.seed()
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	long := strings.Repeat("x", 900<<10)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
		fields []string
	}{
		{"every field at once", "POST", "/api/v1/assets",
			`{"site_id":"nope","code":"bad code!","type":"","name":7,"criticality":"high","extra":1}`, 400,
			[]string{"site_id", "code", "type", "name", "criticality", "extra"}},
		{"nul byte", "POST", "/api/v1/sites", `{"code":"s1","name":"a\u0000b"}`, 400, []string{"name"}},
		{"invalid utf-8", "POST", "/api/v1/sites", "{\"code\":\"s1\",\"name\":\"a\xff\"}", 400, []string{"body"}},
		{"integer beyond int32", "POST", "/api/v1/assets", `{"site_id":"` + site.ID + `","code":"p9","type":"pump","name":"P","criticality":3000000000}`, 400, []string{"criticality"}},
		{"integer as float", "POST", "/api/v1/assets", `{"site_id":"` + site.ID + `","code":"p9","type":"pump","name":"P","criticality":2.5}`, 400, []string{"criticality"}},
		{"huge number", "POST", "/api/v1/parts", `{"sku":"X-1","name":"x","unit_cost":1e308}`, 400, []string{"unit_cost"}},
		{"number overflow", "POST", "/api/v1/parts", `{"sku":"X-1","name":"x","unit_cost":1e400}`, 400, []string{"unit_cost"}},
		{"deep nesting", "POST", "/api/v1/work-orders", `{"asset_id":"` + asset.ID + `","title":"t","evidence":` + deep + `}`, 400, []string{"body"}},
		{"900 KB description", "POST", "/api/v1/work-orders", `{"asset_id":"` + asset.ID + `","title":"t","description":"` + long + `"}`, 400, []string{"description"}},
		{"long string in evidence", "POST", "/api/v1/work-orders", `{"asset_id":"` + asset.ID + `","title":"t","evidence":{"k":"` + strings.Repeat("y", 5000) + `"}}`, 400, []string{"evidence.k"}},
		{"trailing data", "POST", "/api/v1/sites", `{"code":"s1","name":"n"} {}`, 400, []string{"body"}},
		{"malformed id", "GET", "/api/v1/assets/not-a-uuid", "", 400, []string{"id"}},
		{"malformed order id", "GET", "/api/v1/work-orders/WO-12x", "", 400, []string{"id"}},
		{"bad query", "GET", "/api/v1/work-orders?limit=0&asset_id=x&priority=P9&sort=riskiest", "", 400, []string{"limit", "asset_id", "priority", "sort"}},
		{"risk cursor garbage", "GET", "/api/v1/work-orders?sort=risk&cursor=abc", "", 400, []string{"cursor"}},
		{"reject reason not in the enum", "POST", "/api/v1/work-orders/" + o.ID + "/reject", `{"reason":"because"}`, 400, []string{"reason"}},
		{"other needs a note", "POST", "/api/v1/work-orders/" + o.ID + "/reject", `{"reason":"other"}`, 400, []string{"note"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := e.raw(tt.method, tt.path, workorders.RoleAdmin, []byte(tt.body))
			require.Equal(t, tt.want, code, "%s", truncate(b))
			fs := fieldsOf(t, b)
			for _, f := range tt.fields {
				require.Contains(t, fs, f, "%s", truncate(b))
			}
			require.NotRegexp(t, `Go (struct|value)|int64|float64|\*?workorders\.|string into`, string(b))
		})
	}

	// No change on a 4xx: the order is still proposed, no part was made.
	var got workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleAdmin, nil, 200, &got)
	require.Equal(t, workorders.StatusProposed, got.Status)
	code, _ := e.do("GET", "/api/v1/parts/X-1", e.tokens[workorders.RoleAdmin], nil)
	require.Equal(t, 404, code)
	// KPIs answer after all that.
	code, b := e.do("GET", "/api/v1/kpis", e.tokens[workorders.RoleAdmin], nil)
	require.Equal(t, 200, code, string(b))

	// The reasons of the enum work; no_fault_found is a false alarm.
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/reject", workorders.RolePlanner, map[string]any{"reason": "no_fault_found"}, 200, &got)
	require.Equal(t, workorders.StatusRejected, got.Status)
	require.Equal(t, workorders.ReasonNoFaultFound, got.Reason)
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func TestOrdersByNumberAndReassign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, _, o := e.seed()
	ctx := context.Background()
	second, secondTok, err := e.svc.CreateUser(ctx, "second engineer", workorders.RoleEngineer)
	require.NoError(t, err)

	var d httpapi.OrderDetail
	e.mustJSON("GET", "/api/v1/work-orders/"+o.Number, workorders.RoleViewer, nil, 200, &d)
	require.Equal(t, o.ID, d.ID)
	e.mustJSON("GET", "/api/v1/work-orders/"+strings.ToLower(o.Number), workorders.RoleViewer, nil, 200, &d)
	require.Equal(t, o.ID, d.ID)
	code, b := e.do("GET", "/api/v1/work-orders/WO-999999999", e.tokens[workorders.RoleViewer], nil)
	require.Equal(t, 404, code, string(b))

	var got workorders.Order
	e.mustJSON("POST", "/api/v1/work-orders/"+o.Number+"/approve", workorders.RolePlanner, nil, 200, &got)
	require.Equal(t, workorders.StatusApproved, got.Status)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.Number+"/assign", workorders.RolePlanner,
		map[string]any{"assignee_id": e.users[workorders.RoleEngineer].ID}, 200, &got)
	require.Equal(t, e.users[workorders.RoleEngineer].ID, *got.AssigneeID)
	// Assigned, not yet accepted: assigning again reassigns.
	e.mustJSON("POST", "/api/v1/work-orders/"+o.Number+"/assign", workorders.RolePlanner,
		map[string]any{"assignee_id": second.ID}, 200, &got)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Equal(t, second.ID, *got.AssigneeID)
	// The first engineer no longer sees it; the second accepts it.
	code, _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/accept", e.tokens[workorders.RoleEngineer], nil)
	require.Equal(t, 404, code)
	code, b = e.do("POST", "/api/v1/work-orders/"+o.Number+"/accept", secondTok, nil)
	require.Equal(t, 200, code, string(b))
	// Accepted: assigning is a conflict now.
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/assign", e.tokens[workorders.RolePlanner],
		map[string]any{"assignee_id": e.users[workorders.RoleEngineer].ID})
	require.Equal(t, 409, code, string(b))
}

func TestUsedPartsMustExistAndBeAtHand(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t)
	_, _, _, o := e.seed()
	ctx := context.Background()
	eng := e.users[workorders.RoleEngineer]
	admin := workorders.System("t")
	_, err := e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActApprove, Actor: admin,
		Parts: []rules.PartQty{}})
	require.NoError(t, err)
	_, err = e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: eng.ID, Actor: admin})
	require.NoError(t, err)
	for _, a := range []string{"accept", "start"} {
		e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/"+a, workorders.RoleEngineer, nil, 200, nil)
	}
	var parts httpapi.List[workorders.Part]
	e.mustJSON("GET", "/api/v1/parts", workorders.RoleAdmin, nil, 200, &parts)
	before := len(parts.Items)

	skus := make([]map[string]any, 0, 100)
	for i := range 100 {
		skus = append(skus, map[string]any{"sku": "NEW-" + string(rune('A'+i%26)) + strings.Repeat("x", i/26), "qty": 1})
	}
	code, b := e.do("POST", "/api/v1/work-orders/"+o.ID+"/complete", e.tokens[workorders.RoleEngineer],
		map[string]any{"resolution": "done", "parts_used": skus})
	require.Equal(t, 422, code, truncate(b))
	require.Contains(t, fieldsOf(t, b), "parts_used[0].sku")
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/complete", e.tokens[workorders.RoleEngineer],
		map[string]any{"resolution": "done", "parts_used": []map[string]any{{"sku": "BRG-6205", "qty": 3000000000}}})
	require.Equal(t, 400, code, truncate(b))
	require.Contains(t, fieldsOf(t, b), "parts_used[0].qty")
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/complete", e.tokens[workorders.RoleEngineer],
		map[string]any{"resolution": "done", "parts_used": []map[string]any{{"sku": "BRG-6205", "qty": 50}}})
	require.Equal(t, 422, code, truncate(b))

	e.mustJSON("GET", "/api/v1/parts", workorders.RoleAdmin, nil, 200, &parts)
	require.Len(t, parts.Items, before, "unknown SKUs must never be created")
	var got workorders.Order
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RoleAdmin, nil, 200, &got)
	require.Equal(t, workorders.StatusInProgress, got.Status)
	// Without parts it completes.
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/complete", workorders.RoleEngineer, map[string]any{"resolution": "done"}, 200, &got)
	require.Equal(t, workorders.StatusCompleted, got.Status)
}
