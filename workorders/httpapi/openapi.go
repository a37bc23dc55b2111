package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// schemaTypes maps the schema names routes use to the Go types whose JSON
// form they describe; "…List" names are lists of the named item.
func schemaTypes() map[string]any {
	return map[string]any{
		"Status":             map[string]string{},
		"Object":             map[string]any{},
		"Error":              ErrorBody{},
		"UserInput":          userIn{},
		"CreatedUser":        CreatedUser{},
		"Token":              Token{},
		"TokenInput":         tokenIn{},
		"TokenInfo":          workorders.TokenInfo{},
		"User":               workorders.User{},
		"SiteInput":          siteIn{},
		"Site":               workorders.Site{},
		"AssetInput":         assetIn{},
		"Asset":              workorders.Asset{},
		"Telemetry":          Series{},
		"AssetHealth":        AssetHealth{},
		"Rule":               rules.Rule{},
		"BacktestInput":      backtestIn{},
		"DraftBacktestInput": draftBacktestIn{},
		"BacktestResult":     BacktestResult{},
		"Signal":             workorders.SignalRecord{},
		"WorkOrder":          workorders.Order{},
		"WorkOrderInput":     workorders.NewOrder{},
		"WorkOrderEdit":      workorders.OrderEdit{},
		"WorkOrderDetail":    OrderDetail{},
		"ActionInput":        actionIn{},
		"Attachment":         workorders.AttachmentMeta{},
		"SLAPolicy":          workorders.SLAPolicy{},
		"SLAPolicyInput":     slaIn{},
		"Webhook":            workorders.Webhook{},
		"WebhookInput":       webhookIn{},
		"Delivery":           workorders.Delivery{},
		"DeliveryAttempt":    workorders.DeliveryAttempt{},
		"Reject":             Reject{},
		"SessionInput":       sessionIn{},
		"Session":            Session{},
		"LiveMessage":        LiveMessage{},
	}
}

// OpenAPI returns the OpenAPI 3 document of the routes this server serves.
func (s *Server) OpenAPI() map[string]any {
	types := fleetSchemas(withCollaborationSchemas(gatewaySchemas(withClaimSchemas(consoleSchemas(withRequestSchemas(withFieldSchemas(withOpsSchemas(schemaTypes()))))))))
	schemas := map[string]any{}
	for name, v := range types {
		schemas[name] = s.schemas.of(reflect.TypeOf(v)).openAPI()
	}
	ref := func(name string) map[string]any {
		if item, ok := strings.CutSuffix(name, "List"); ok {
			if _, known := types[item]; known {
				return map[string]any{"type": "object", "properties": map[string]any{
					"items":       map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/" + item}},
					"next_cursor": map[string]any{"type": "string"},
				}}
			}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
	}
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{"summary": r.Summary, "tags": []string{r.Tag}, "operationId": strings.ToLower(r.Method) + opID(r.Path)}
		var params []any
		rc := checksOf(r)
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": rc.path[name].openAPI()})
			}
		}
		for _, q := range r.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": rc.query[q].openAPI()})
		}
		if r.Method == http.MethodPost && len(r.Roles) > 0 {
			params = append(params, map[string]any{"name": IdempotencyHeader, "in": "header", "required": false,
				"description": "replays the first answer to the same key from the same user within 7 days; another request with the key is a 422",
				"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Body != "" {
			ct := "application/json"
			schema := ref(r.Body)
			if r.Body == "AttachmentUpload" {
				ct = "multipart/form-data"
				schema = map[string]any{"type": "object", "required": []string{"file"}, "properties": map[string]any{
					"file":        map[string]any{"type": "string", "format": "binary"},
					"kind":        map[string]any{"type": "string", "enum": []string{"photo", "signature", "document"}},
					"signer_name": map[string]any{"type": "string"},
				}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{ct: map[string]any{"schema": schema}}}
		}
		ok := map[string]any{"description": http.StatusText(r.Status)}
		switch r.Response {
		case "":
		case "Binary":
			ok["content"] = map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		case "EventStream":
			ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"},
				"x-data": ref("LiveMessage")}}
		case "Text":
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		default:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(r.Response)}}
		}
		resps := map[string]any{itoa(r.Status): ok, "default": errResp("error")}
		if params != nil || r.Body != "" {
			resps["400"] = errResp("malformed input: every invalid field is listed in error.fields")
		}
		if len(rc.path) > 0 {
			resps["404"] = errResp("no such record (for engineers: not one of their jobs)")
		}
		if r.Method != "GET" && len(rc.path) > 0 {
			resps["409"] = errResp("conflict, such as an illegal state transition or not enough stock")
		}
		if r.Body != "" {
			resps["422"] = errResp("well-formed input that cannot be accepted; error.fields says why")
		}
		if len(r.Roles) == 0 {
			op["security"] = []any{}
			if _, ok := resps["400"]; !ok {
				resps["4XX"] = errResp("client error")
			}
		}
		if len(r.Roles) > 0 {
			resps["401"] = errResp("missing or invalid token")
			resps["403"] = errResp("role may not")
			roles := make([]string, len(r.Roles))
			for i, ro := range r.Roles {
				roles[i] = string(ro)
			}
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			op["x-roles"] = roles
		}
		op["responses"] = resps
		paths[p][strings.ToLower(r.Method)] = op
	}
	// Only the schemas the document refers to (routes of adapters not
	// configured are absent, and so are their schemas).
	schemas = referenced(paths, schemas)
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "pdm API", "version": "v1",
			"description": "Predictive-maintenance platform: assets, rules, signals, work orders and their life cycle."},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// openAPIPath turns gin's /a/:id into OpenAPI's /a/{id}.
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

func opID(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(p, apiPrefix), "/") {
		seg = strings.TrimPrefix(seg, ":")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

var schemaRefRE = regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9_]+)"`)

// referenced keeps the schemas that paths refer to, directly or through
// other schemas.
func referenced(paths map[string]map[string]any, schemas map[string]any) map[string]any {
	out := map[string]any{}
	todo := []any{paths}
	for len(todo) > 0 {
		b, _ := json.Marshal(todo[0])
		todo = todo[1:]
		for _, m := range schemaRefRE.FindAllStringSubmatch(string(b), -1) {
			if _, done := out[m[1]]; done {
				continue
			}
			if sc, ok := schemas[m[1]]; ok {
				out[m[1]] = sc
				todo = append(todo, sc)
			}
		}
	}
	return out
}
