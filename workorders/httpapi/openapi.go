package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

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
	}
}

// OpenAPI returns the OpenAPI 3 document of the routes this server serves.
func (s *Server) OpenAPI() map[string]any {
	types := withOpsSchemas(schemaTypes())
	schemas := map[string]any{}
	for name, v := range types {
		schemas[name] = schemaOf(reflect.TypeOf(v), 0)
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
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, q := range r.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
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
		case "Text":
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		default:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(r.Response)}}
		}
		resps := map[string]any{itoa(r.Status): ok, "default": errResp("error")}
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

// schemaOf describes a Go type's JSON form.
func schemaOf(t reflect.Type, depth int) map[string]any {
	if depth > 6 {
		return map[string]any{}
	}
	switch t {
	case reflect.TypeOf(time.Time{}):
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeOf(rules.Duration(0)):
		return map[string]any{"type": "string", "example": "5m"}
	case reflect.TypeOf(json.RawMessage{}):
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), depth)
		s["nullable"] = true
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), depth+1)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		addStructFields(t, props, depth)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func addStructFields(t reflect.Type, props map[string]any, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner := map[string]any{}
				addStructFields(ft, inner, depth)
				for k, v := range inner {
					if _, shadowed := props[k]; !shadowed {
						props[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type, depth+1)
	}
}
