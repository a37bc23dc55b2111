package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

// The property test of the whole API, generated from its OpenAPI document:
// for every operation and role, a valid request and requests broken in
// every way a client can break them (wrong types, NUL, huge numbers, deep
// nesting, long strings, unknown and malformed ids, bad query values).
// Properties: no answer is a 5xx, and an answer of 4xx changes nothing in
// the database. `make fuzz` explores further with FuzzAPI.

type apiOp struct {
	method, path string // path in OpenAPI syntax
	roles        []string
	body         map[string]any // request body schema (resolved), nil for none
	query        []string
}

type propEnv struct {
	*env
	pool   *pgxpool.Pool
	doc    map[string]any
	ops    []apiOp
	values map[string]string // path prefix → an existing id
	// fpQuery computes the fingerprint of the database's state.
	fpQuery string
}

func newPropEnv(t testing.TB) *propEnv {
	e := newOpsEnv(t)
	store := e.svc.Store.(*postgres.Store)
	pe := &propEnv{env: e, pool: store.Pool(), values: map[string]string{}}
	_, b := e.do("GET", "/api/v1/openapi.json", "", nil)
	require.NoError(t, json.Unmarshal(b, &pe.doc))
	site, asset, rule, o := e.seed()
	pe.values["sites"], pe.values["assets"], pe.values["rules"] = site.ID, asset.ID, rule.ID
	pe.values["work-orders"], pe.values["users"] = o.ID, e.users[workorders.RoleEngineer].ID
	e.svc.AllowPrivateWebhooks = false
	schemas := pe.doc["components"].(map[string]any)["schemas"].(map[string]any)
	for path, item := range pe.doc["paths"].(map[string]any) {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			ao := apiOp{method: strings.ToUpper(method), path: path}
			if rs, ok := op["x-roles"].([]any); ok {
				for _, r := range rs {
					ao.roles = append(ao.roles, r.(string))
				}
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				if js, ok := rb["content"].(map[string]any)["application/json"].(map[string]any); ok {
					ao.body = resolve(js["schema"].(map[string]any), schemas)
				}
			}
			if ps, ok := op["parameters"].([]any); ok {
				for _, p := range ps {
					if pm := p.(map[string]any); pm["in"] == "query" {
						ao.query = append(ao.query, pm["name"].(string))
					}
				}
			}
			pe.ops = append(pe.ops, ao)
		}
	}
	// A fixed order: reads, then writes, deletes last.
	rank := map[string]int{"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
	sort.Slice(pe.ops, func(i, j int) bool {
		a, b := pe.ops[i], pe.ops[j]
		if rank[a.method] != rank[b.method] {
			return rank[a.method] < rank[b.method]
		}
		return a.method+a.path < b.method+b.path
	})
	return pe
}

func resolve(s map[string]any, schemas map[string]any) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		return schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	return s
}

// valid returns a value the schema accepts (as well as this generator
// can: patterns get values that fit this API's patterns).
func valid(s map[string]any, depth int) any {
	if alts, ok := s["anyOf"].([]any); ok {
		return valid(alts[0].(map[string]any), depth)
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		for _, v := range e {
			if v != "" {
				return v
			}
		}
	}
	num := func(def float64) float64 {
		v := def
		if m, ok := s["minimum"].(float64); ok && v < m {
			v = m
		}
		if m, ok := s["maximum"].(float64); ok && v > m {
			v = m
		}
		return v
	}
	switch s["type"] {
	case "string":
		switch s["format"] {
		case "date-time":
			return time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		case "uuid":
			return "00000000-0000-4000-8000-000000000001"
		case "duration":
			return "1h"
		}
		if p, _ := s["pattern"].(string); p != "" {
			switch {
			case strings.Contains(p, ":"):
				return "08:00"
			case strings.HasPrefix(p, "^[A-Za-z]{2"):
				return "mon"
			case strings.HasPrefix(p, "^[a-z]") || strings.HasPrefix(p, "^([a-z]"):
				return "m1"
			}
			return "X-1"
		}
		return "text"
	case "integer":
		return int(num(1))
	case "number":
		return num(1)
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		out := map[string]any{}
		if depth > 4 {
			return out
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if ps, ok := props[r.(string)].(map[string]any); ok {
				out[r.(string)] = valid(ps, depth+1)
			}
		}
		return out
	}
	return "x"
}

// broken returns values that break a field of schema s in different ways.
func broken(s map[string]any) []any {
	deep := any(1)
	for range 40 {
		deep = []any{deep}
	}
	out := []any{"a\x00b", 1e308, strings.Repeat("é", 20000), deep, []any{1, "x"}}
	switch s["type"] {
	case "string":
		out = append(out, 12, "\xff\xfe")
	case "integer":
		out = append(out, 1.5, 3000000000)
	case "number":
		out = append(out, false)
	case "object", "array":
		out = append(out, "x")
	}
	return out
}

type apiCall struct {
	method, path, role string
	body               []byte
}

func (pe *propEnv) send(c apiCall) (int, []byte) {
	req := httptest.NewRequest(c.method, c.path, bytes.NewReader(c.body))
	if c.role != "" {
		req.Header.Set("Authorization", "Bearer "+pe.tokens[workorders.Role(c.role)])
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	pe.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// fill puts existing ids (or other) into a path.
func (pe *propEnv) fill(path, other string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		v := other
		if v == "" {
			v = pe.values[segs[i-1]]
			switch {
			case s == "{priority}":
				v = "P2"
			case segs[i-1] == "parts":
				v = "BRG-6205"
			case segs[i-1] == "signals":
				v = "1"
			case v == "":
				v = "00000000-0000-4000-8000-00000000abcd"
			}
		}
		segs[i] = url.PathEscape(v)
	}
	return strings.Join(segs, "/")
}

// fingerprint summarises every table's rows (bar the ones a 4xx may
// touch by design: last use of a token, sessions, idempotency keys) in
// one query.
func (pe *propEnv) fingerprint(t testing.TB) string {
	ctx := context.Background()
	if pe.fpQuery == "" {
		rows, err := pe.pool.Query(ctx, `select table_name from information_schema.tables
			where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1`)
		require.NoError(t, err)
		var parts []string
		for rows.Next() {
			var tb string
			require.NoError(t, rows.Scan(&tb))
			switch {
			case tb == "api_tokens":
				parts = append(parts, `(select count(*)::text || md5(coalesce(string_agg(hash::text || coalesce(expires_at::text, ''), ',' order by hash), '')) from api_tokens)`)
			case strings.Contains(tb, "session"), strings.Contains(tb, "idempotency"), tb == "goose_db_version":
			default:
				parts = append(parts, fmt.Sprintf(`'%s=' || (select coalesce(md5(string_agg(t::text, ',' order by t::text)), '') from %q t)`, tb, tb))
			}
		}
		require.NoError(t, rows.Err())
		pe.fpQuery = "select " + strings.Join(parts, " || ';' || ")
	}
	var h string
	require.NoError(t, pe.pool.QueryRow(ctx, pe.fpQuery).Scan(&h))
	return h
}

// calls lists what the property test sends for one operation.
func (pe *propEnv) calls(op apiOp) []apiCall {
	var out []apiCall
	admin := "admin"
	roles := append(slices.Clone(op.roles), "")
	path := pe.fill(op.path, "")
	if op.method == "DELETE" {
		path = pe.fill(op.path, "00000000-0000-4000-8000-00000000dead")
	}
	var body []byte
	if op.body != nil {
		body, _ = json.Marshal(valid(op.body, 0))
	}
	for _, r := range roles {
		out = append(out, apiCall{op.method, path, r, body})
	}
	if !slices.Contains(op.roles, admin) && len(op.roles) > 0 {
		return out
	}
	if len(op.roles) == 0 {
		admin = ""
	}
	// Broken path parameters.
	if strings.Contains(op.path, "{") {
		for _, v := range []string{"not-an-id", "00000000-0000-4000-8000-0000000fffff", "WO-999999999999", "a\x00b",
			strings.Repeat("9", 300), "1e308", "-1", "\xff"} {
			out = append(out, apiCall{op.method, pe.fill(op.path, v), admin, body})
		}
	}
	// Broken query values.
	for _, q := range op.query {
		for _, v := range []string{"a\x00b", "-1", "99999999999999999999999", strings.Repeat("z", 5000), "\xff", "1e308"} {
			out = append(out, apiCall{op.method, path + "?" + url.QueryEscape(q) + "=" + url.QueryEscape(v), admin, body})
		}
	}
	if op.body == nil {
		return out
	}
	// Broken bodies as a whole.
	for _, b := range []string{"", "null", "[]", `"x"`, "{", `{"a":1}{}`, "\xff\xfe", strings.Repeat("[", 9000) + strings.Repeat("]", 9000),
		`{"` + strings.Repeat("k", 300) + `":1}`} {
		out = append(out, apiCall{op.method, path, admin, []byte(b)})
	}
	// Each field broken in turn, the others valid.
	base, _ := valid(op.body, 0).(map[string]any)
	props, _ := op.body["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for fi, k := range names {
		ps, _ := props[k].(map[string]any)
		if ps["readOnly"] == true {
			continue
		}
		// Three kinds of breakage per field, rotating, so that every kind
		// meets every type across the document (FuzzAPI tries the rest).
		bs := broken(ps)
		for j := range 3 {
			v := bs[(fi+j)%len(bs)]
			m := map[string]any{}
			for bk, bv := range base {
				m[bk] = bv
			}
			m[k] = v
			b, err := json.Marshal(m)
			if err != nil {
				continue
			}
			b = bytes.ReplaceAll(b, []byte(`\ufffd\ufffd`), []byte("\xff\xfe"))
			out = append(out, apiCall{op.method, path, admin, b})
		}
	}
	return out
}

func TestAPIPropertiesFromItsDocument(t *testing.T) {
	t.Parallel()
	pe := newPropEnv(t)
	sent := 0
	known := "" // the state's fingerprint, when known to be current
	for _, op := range pe.ops {
		for _, c := range pe.calls(op) {
			if c.method != "GET" && known == "" {
				known = pe.fingerprint(t)
			}
			code, b := pe.send(c)
			sent++
			// 501 is an adapter this process does not run (by design).
			require.True(t, code < 500 || code == 501, "%s %s as %q: %d %s", c.method, c.path, c.role, code, truncate(b))
			switch {
			case c.method == "GET":
			case code >= 400:
				now := pe.fingerprint(t)
				require.Equal(t, known, now, "%s %s as %q answered %d and changed state: %s",
					c.method, truncate([]byte(c.path)), c.role, code, truncate(b))
			default:
				known = "" // a success may change state
			}
			if code >= 400 {
				var eb struct {
					Error struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal(b, &eb), "%s %s: error body %s", c.method, c.path, truncate(b))
				require.NotEmpty(t, eb.Error.Code)
			}
		}
	}
	t.Logf("%d requests over %d operations", sent, len(pe.ops))
	require.Greater(t, sent, 1500)
}

// FuzzAPI sends fuzzed bodies, path values and query values to every
// operation as admin and as no one: no answer may be a 5xx. Its seeds run
// in make test; `make fuzz` explores.
func FuzzAPI(f *testing.F) {
	f.Add(uint16(0), uint8(0), []byte(`{}`))
	f.Add(uint16(7), uint8(1), []byte(`{"title":"\u0000"}`))
	f.Add(uint16(42), uint8(2), []byte("WO-000001"))
	f.Add(uint16(63), uint8(3), []byte("limit=0&cursor=%00"))
	f.Add(uint16(90), uint8(0), []byte(`{"parts_used":[{"sku":"X","qty":1e308}]}`))
	pe := newPropEnv(f)
	f.Fuzz(func(t *testing.T, opIdx uint16, how uint8, data []byte) {
		op := pe.ops[int(opIdx)%len(pe.ops)]
		role := ""
		if how&4 == 0 && len(op.roles) > 0 {
			role = "admin"
		}
		c := apiCall{method: op.method, path: pe.fill(op.path, ""), role: role}
		switch how % 4 {
		case 0, 1:
			c.body = data
		case 2:
			c.path = pe.fill(op.path, string(data))
		case 3:
			c.path += "?" + string(data)
		}
		if strings.ContainsAny(c.path, " \r\n#") {
			return
		}
		func() {
			defer func() { _ = recover() }() // httptest refuses some paths
			code, b := pe.send(c)
			if code >= 500 && code != 501 {
				t.Fatalf("%s %q as %q: %d %s", c.method, c.path, role, code, truncate(b))
			}
		}()
	})
}
