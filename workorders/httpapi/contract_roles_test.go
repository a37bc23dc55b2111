package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// contractRoles is who may call what, written from the contract (section
// 4: admin everything; planner assets, rules, review, dispatch, inventory;
// engineer own jobs, own location, parts on own jobs; viewer read), not
// read back from the router. Roles: A admin, P planner, E engineer, V
// viewer; "-" needs no token. A route missing here is held to the
// contract's rules only (contractMax): add it here.
const contractRoles = `
GET /api/v1/assets APEV
POST /api/v1/assets AP
DELETE /api/v1/assets/:id AP
GET /api/v1/assets/:id APEV
PUT /api/v1/assets/:id AP
GET /api/v1/assets/:id/health APEV
GET /api/v1/assets/:id/telemetry APEV
GET /api/v1/dispatch/plan APV
POST /api/v1/dispatch/run AP
GET /api/v1/dispatch/board APV
POST /api/v1/dispatch/check AP
POST /api/v1/dispatch/preview AP
POST /api/v1/dispatch/apply AP
POST /api/v1/dispatch/rebalance/preview AP
POST /api/v1/dispatch/rebalance/apply AP
GET /api/v1/engineers APEV
POST /api/v1/engineers AP
DELETE /api/v1/engineers/:id AP
GET /api/v1/engineers/:id APEV
PUT /api/v1/engineers/:id AP
GET /api/v1/engineers/:id/locations AP
GET /api/v1/gateways APV
GET /api/v1/gateways/:id APV
PUT /api/v1/gateways/:id/config AP
GET /api/v1/ingest/rejects APV
GET /api/v1/knowledge APEV
POST /api/v1/knowledge APE
DELETE /api/v1/knowledge/:id AP
GET /api/v1/knowledge/:id APEV
PUT /api/v1/knowledge/:id AP
GET /api/v1/kpis APV
GET /api/v1/me APEV
GET /api/v1/me/engineer APE
GET /api/v1/me/jobs APE
POST /api/v1/me/location APE
GET /api/v1/me/locations APE
POST /api/v1/me/locations APE
GET /api/v1/openapi.json -
GET /api/v1/parts APEV
POST /api/v1/parts AP
DELETE /api/v1/parts/:id AP
GET /api/v1/parts/:id APEV
PUT /api/v1/parts/:id AP
GET /api/v1/purchase-requests APEV
POST /api/v1/purchase-requests AP
GET /api/v1/purchase-requests/:id APEV
POST /api/v1/purchase-requests/:id/cancel AP
POST /api/v1/purchase-requests/:id/order AP
POST /api/v1/purchase-requests/:id/receive AP
GET /api/v1/rules APV
POST /api/v1/rules AP
POST /api/v1/rules/backtest AP
DELETE /api/v1/rules/:id AP
GET /api/v1/rules/:id APV
PUT /api/v1/rules/:id AP
POST /api/v1/rules/:id/backtest AP
GET /api/v1/schedules APEV
POST /api/v1/schedules AP
POST /api/v1/schedules/run AP
DELETE /api/v1/schedules/:id AP
GET /api/v1/schedules/:id APEV
PUT /api/v1/schedules/:id AP
GET /api/v1/schedules/:id/occurrences APEV
GET /api/v1/signals APV
GET /api/v1/signals/:id APV
GET /api/v1/sites APEV
POST /api/v1/sites AP
DELETE /api/v1/sites/:id AP
GET /api/v1/sites/:id APEV
PUT /api/v1/sites/:id AP
GET /api/v1/sla-policies APV
DELETE /api/v1/sla-policies/:priority AP
PUT /api/v1/sla-policies/:priority AP
GET /api/v1/stock APEV
GET /api/v1/stock-locations APEV
POST /api/v1/stock-locations AP
DELETE /api/v1/stock-locations/:id AP
GET /api/v1/stock-locations/:id APEV
PUT /api/v1/stock-locations/:id AP
GET /api/v1/stock/movements APEV
POST /api/v1/stock/movements AP
PUT /api/v1/stock/policy AP
GET /api/v1/users A
POST /api/v1/users A
GET /api/v1/users/:id A
DELETE /api/v1/users/:id/tokens A
GET /api/v1/users/:id/tokens A
POST /api/v1/users/:id/tokens A
GET /api/v1/webhooks A
POST /api/v1/webhooks A
DELETE /api/v1/webhooks/:id A
GET /api/v1/webhooks/:id A
PUT /api/v1/webhooks/:id A
GET /api/v1/webhooks/:id/deliveries A
GET /api/v1/webhooks/:id/log A
GET /api/v1/work-orders APEV
POST /api/v1/work-orders AP
GET /api/v1/work-orders/:id APEV
PATCH /api/v1/work-orders/:id AP
POST /api/v1/work-orders/:id/approve AP
POST /api/v1/work-orders/:id/reject AP
POST /api/v1/work-orders/:id/assign AP
POST /api/v1/work-orders/:id/accept APE
POST /api/v1/work-orders/:id/decline APE
POST /api/v1/work-orders/:id/depart APE
POST /api/v1/work-orders/:id/arrive APE
POST /api/v1/work-orders/:id/start APE
POST /api/v1/work-orders/:id/hold APE
POST /api/v1/work-orders/:id/resume APE
POST /api/v1/work-orders/:id/complete APE
POST /api/v1/work-orders/:id/verify AP
POST /api/v1/work-orders/:id/close AP
POST /api/v1/work-orders/:id/cancel AP
POST /api/v1/work-orders/:id/reopen AP
POST /api/v1/work-orders/:id/split AP
GET /api/v1/work-orders/:id/attachments APEV
POST /api/v1/work-orders/:id/attachments APE
GET /api/v1/work-orders/:id/attachments/:aid APEV
GET /api/v1/work-orders/:id/eta APEV
GET /api/v1/work-orders/:id/knowledge APEV
POST /api/v1/work-orders/:id/knowledge APE
GET /api/v1/work-orders/:id/parts APEV
POST /api/v1/work-orders/:id/comments APE
GET /healthz -
GET /metrics -
GET /readyz -
`

// contractMax is the most a route the table does not list may allow,
// from the contract's description of the roles.
func contractMax(method, path string) []workorders.Role {
	p := strings.TrimPrefix(path, "/api/v1")
	if strings.HasPrefix(p, "/users") || strings.HasPrefix(p, "/webhooks") {
		return []workorders.Role{workorders.RoleAdmin}
	}
	out := []workorders.Role{workorders.RoleAdmin, workorders.RolePlanner}
	if method == "GET" || strings.HasPrefix(p, "/work-orders/:id/") || strings.HasPrefix(p, "/me") || strings.HasPrefix(p, "/knowledge") {
		out = append(out, workorders.RoleEngineer)
	}
	if method == "GET" {
		out = append(out, workorders.RoleViewer)
	}
	return out
}

// TestRolesFollowTheContract calls every route with every role and no
// token and checks the answer against contractRoles: a role not listed
// gets 403, no token 401, a listed role gets past authorization.
func TestRolesFollowTheContract(t *testing.T) {
	t.Parallel()
	letter := map[byte]workorders.Role{'A': workorders.RoleAdmin, 'P': workorders.RolePlanner,
		'E': workorders.RoleEngineer, 'V': workorders.RoleViewer}
	want := map[string][]workorders.Role{}
	for _, line := range strings.Split(strings.TrimSpace(contractRoles), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		var roles []workorders.Role
		if f[2] != "-" {
			for i := range len(f[2]) {
				roles = append(roles, letter[f[2][i]])
			}
		}
		want[f[0]+" "+f[1]] = roles
	}
	e := newOpsEnv(t)
	e.srv.Routes()
	id := "00000000-0000-4000-8000-000000000000"
	seen := map[string]bool{}
	for _, r := range e.srv.Routes() {
		key := r.Method + " " + r.Path
		roles, ok := want[key]
		if !ok {
			// A route added since the table was written: it must at least
			// keep the contract's rules (planners never on users and
			// webhooks, viewers only read, engineers only their jobs,
			// their own records and the knowledge base besides reading).
			t.Logf("%s (tag %s) is not in the role table; checking the contract's rules only", key, r.Tag)
			if len(r.Roles) == 0 {
				continue // public by its own choice (e.g. /api/v1/public/)
			}
			roles = contractMax(r.Method, r.Path)
		} else {
			seen[key] = true
		}
		path := strings.NewReplacer(":id", id, ":aid", id, ":priority", "P1").Replace(r.Path)
		if strings.HasPrefix(r.Path, "/api/v1/parts/:id") {
			path = strings.Replace(r.Path, ":id", "NO-SUCH-SKU", 1)
		}
		if strings.HasPrefix(r.Path, "/api/v1/signals/:id") {
			path = strings.Replace(r.Path, ":id", "999999", 1)
		}
		var body any
		if r.Method != "GET" && r.Method != "DELETE" {
			body = map[string]any{}
		}
		code, b := e.do(r.Method, path, "", body)
		if len(roles) == 0 {
			require.NotContains(t, []int{401, 403}, code, "%s is public: %s", key, b)
			continue
		}
		require.Equal(t, 401, code, "%s without a token: %s", key, b)
		for _, role := range workorders.Roles() {
			code, b := e.do(r.Method, path, e.tokens[role], body)
			if !ok && slices.Contains(roles, role) {
				continue // allowed at most; the route's own choice
			}
			if slices.Contains(roles, role) {
				require.NotContains(t, []int{401, 403}, code, "%s as %s: %s", key, role, b)
			} else {
				require.Equal(t, 403, code, "%s as %s: %s", key, role, b)
			}
		}
	}
	// Routes of adapters this test does not wire (the engineers' field
	// app, metrics) are the only ones allowed to be missing.
	for key := range want {
		if !seen[key] && !strings.HasSuffix(key, "/eta") && !strings.HasSuffix(key, "/locations") && key != "GET /metrics" {
			t.Errorf("%s of the contract is not served", key)
		}
	}
}
