package httpapi_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// TestRoleMatrix walks every route with every role: a role the route does
// not list gets 403 forbidden (and no token 401), a listed role gets past
// authorization.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	site, asset, rule, o := e.seed()
	ctx := context.Background()
	eng := e.users[workorders.RoleEngineer]
	_, err := e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActApprove, Actor: workorders.System("t")})
	require.NoError(t, err)
	_, err = e.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: eng.ID, Actor: workorders.System("t")})
	require.NoError(t, err)
	att, err := e.svc.AddAttachment(ctx, workorders.System("t"), workorders.Attachment{AttachmentMeta: workorders.AttachmentMeta{
		OrderID: o.ID, Kind: "photo", Filename: "a.png", ContentType: "image/png"}, Data: []byte("\x89PNG\r\n\x1a\n")})
	require.NoError(t, err)
	e.svc.AllowPrivateWebhooks = true
	hook, err := e.svc.CreateWebhook(ctx, workorders.Webhook{URL: "http://127.0.0.1:9/x", Secret: "secret-123", Active: true})
	require.NoError(t, err)
	sigs, _, err := e.svc.ListSignals(ctx, workorders.SignalFilter{})
	require.NoError(t, err)
	require.NotEmpty(t, sigs)

	params := map[string]string{}
	fill := func(r httpapi.Route) string {
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if !strings.HasPrefix(s, ":") {
				continue
			}
			prev := segs[i-1]
			switch s {
			case ":id":
				switch prev {
				case "sites":
					segs[i] = site.ID
				case "assets":
					segs[i] = asset.ID
				case "rules":
					segs[i] = rule.ID
				case "users":
					segs[i] = eng.ID
				case "work-orders":
					segs[i] = o.ID
				case "webhooks":
					segs[i] = hook.ID
				case "signals":
					segs[i] = jsonNum(sigs[0].ID)
				default:
					t.Fatalf("no value for %s in %s", s, r.Path)
				}
			case ":aid":
				segs[i] = att.ID
			case ":user_id":
				segs[i] = eng.ID
			case ":priority":
				segs[i] = "P1"
			default:
				if v, ok := params[s]; ok {
					segs[i] = v
				} else {
					t.Fatalf("no value for %s in %s", s, r.Path)
				}
			}
		}
		return strings.Join(segs, "/")
	}

	routes := e.srv.Routes()
	// Denials first (they must change nothing), then the allowed calls.
	checked := 0
	for _, r := range routes {
		path := fill(r)
		var body any
		if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
			body = map[string]any{}
		}
		if len(r.Roles) == 0 {
			code, _ := e.do(r.Method, path, "", body)
			require.NotContains(t, []int{401, 403}, code, "%s %s is public", r.Method, r.Path)
			continue
		}
		code, b := e.do(r.Method, path, "", body)
		require.Equal(t, 401, code, "%s %s without token: %s", r.Method, r.Path, b)
		require.Equal(t, "unauthorized", errCode(t, b))
		for _, role := range workorders.Roles() {
			if slices.Contains(r.Roles, role) {
				continue
			}
			code, b := e.do(r.Method, path, e.tokens[role], body)
			require.Equal(t, 403, code, "%s %s as %s: %s", r.Method, r.Path, role, b)
			require.Equal(t, "forbidden", errCode(t, b))
			checked++
		}
	}
	require.Greater(t, checked, 50)
	// Admin may do everything.
	for _, r := range routes {
		if len(r.Roles) > 0 {
			require.Contains(t, r.Roles, workorders.RoleAdmin, "%s %s", r.Method, r.Path)
		}
	}
	// Nothing was changed by the denied calls.
	got, err := e.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got.Status)

	// Allowed roles get past authorization (reads only, so that the
	// order of the walk does not matter; writes are covered elsewhere).
	for _, r := range routes {
		if r.Method != "GET" || len(r.Roles) == 0 {
			continue
		}
		for _, role := range r.Roles {
			code, b := e.do(r.Method, fill(r), e.tokens[role], nil)
			require.NotContains(t, []int{401, 403}, code, "%s %s as %s: %s", r.Method, r.Path, role, b)
		}
	}
	// Writes: each allowed role passes authorization on a fresh body.
	for _, r := range routes {
		if r.Method == "GET" || len(r.Roles) == 0 || r.Method == "DELETE" {
			continue
		}
		for _, role := range r.Roles {
			code, b := e.do(r.Method, fill(r), e.tokens[role], map[string]any{"__probe": true})
			require.NotContains(t, []int{401, 403}, code, "%s %s as %s: %s", r.Method, r.Path, role, b)
		}
	}
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestOpenAPIMatchesRoutes checks every served route is documented and
// every documented route is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code, b := e.do("GET", "/api/v1/openapi.json", "", nil)
	require.Equal(t, 200, code)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	var served []string
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, r := range e.srv.RegisteredRoutes() {
		served = append(served, param.ReplaceAllString(r, "{$1}"))
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)
	// Every schema reference resolves.
	refs := regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(b), -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		require.Contains(t, doc.Components.Schemas, m[1])
	}
	// Work-order schema carries the contract's fields.
	wo, _ := json.Marshal(doc.Components.Schemas["WorkOrder"])
	for _, f := range []string{"number", "predicted_failure_earliest", "detected_at", "required_skills"} {
		require.Contains(t, string(wo), `"`+f+`"`)
	}
}
