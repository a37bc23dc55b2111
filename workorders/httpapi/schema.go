package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// The one declared schema. Every request body, path and query parameter is
// checked against a schema node before a handler sees it, and the OpenAPI
// document is written from the same nodes: a field's type, whether it is
// required, its enum, range, length and pattern come from the Go type and
// its `schema` struct tag (or, for types of other packages, fieldRules).
//
// Tag syntax, comma separated: required, nonNull, readOnly, min=N, max=N,
// minLength=N, maxLength=N, maxItems=N, enum=a|b|c, format=F, and last,
// because it may hold commas, pattern=RE. nonNull is for answers only: a
// slice or map the server always sends as [] or {}, never null.

// Limits every JSON value obeys unless its declaration says otherwise.
const (
	maxDepth         = 16   // nesting of objects and arrays in a body
	defaultMaxLength = 1000 // bytes of a string
	defaultMaxItems  = 1000 // elements of an array
	defaultMaxProps  = 100  // members of a free-form object
	maxKeyLength     = 128  // bytes of a free-form object's key
	defaultMaxNumber = 1e15 // magnitude of a number
)

// schema is one node of the declared schema (the OpenAPI 3.0 subset the
// API uses).
type schema struct {
	Type       string // object, array, string, integer, number, boolean; "" any JSON value
	Format     string
	Nullable   bool
	ReadOnly   bool
	Enum       []string
	Min, Max   *float64
	MinLength  int
	MaxLength  int
	MaxItems   int
	MaxProps   int
	Pattern    string
	re         *regexp.Regexp
	Items      *schema
	Props      map[string]*schema
	Required   []string
	Additional *schema // members of a map
	AnyOf      []*schema
	Example    any
	// check, when set, is one more test of a string value (durations,
	// times); it returns what is wrong.
	check func(string) string
}

func ptr(f float64) *float64 { return &f }

// The formats this API checks.
var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	orderRefRE = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[Ww][Oo]-[0-9]{1,12})$`)
	orderNumRE = regexp.MustCompile(`^[Ww][Oo]-([0-9]{1,12})$`)
)

const (
	codePattern   = `^[A-Za-z0-9_-]{1,64}$`
	metricPattern = `^[a-z][a-z0-9_]{0,63}$`
	skuPattern    = `^[A-Za-z0-9._-]{1,64}$`
	durPattern    = `^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d)([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))*$`
)

func checkTime(v string) string {
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		return "must be an RFC 3339 time such as 2026-03-01T12:00:00Z"
	}
	return ""
}

func checkDuration(v string) string {
	if v == "" {
		return ""
	}
	if _, err := rules.ParseDuration(v); err != nil {
		return "must be a duration such as 30s, 5m, 12h or 7d"
	}
	return ""
}

// typeEnums names the values of the domain's string types.
func typeEnums() map[reflect.Type][]string {
	strs := func(vs ...string) []string { return vs }
	m := map[reflect.Type][]string{
		reflect.TypeOf(workorders.Priority("")): strs("P1", "P2", "P3", "P4"),
		reflect.TypeOf(rules.Direction("")):     strs(string(rules.Above), string(rules.Below)),
	}
	var st, ro []string
	for _, s := range workorders.Statuses() {
		st = append(st, string(s))
	}
	for _, r := range workorders.Roles() {
		ro = append(ro, string(r))
	}
	m[reflect.TypeOf(workorders.Status(""))] = st
	m[reflect.TypeOf(workorders.Role(""))] = ro
	m[reflect.TypeOf(workorders.Source(""))] = strs(string(workorders.SourceThreshold), string(workorders.SourceTrend),
		string(workorders.SourceEvent), string(workorders.SourceManual), string(workorders.SourceSchedule),
		string(workorders.SourceRequest))
	return m
}

// fieldRules declares the fields of types this package cannot tag (they
// belong to rules, dispatch or are shared output types), by type and JSON
// name, in the tag syntax.
func fieldRules() map[reflect.Type]map[string]string {
	return map[reflect.Type]map[string]string{
		reflect.TypeOf(rules.Rule{}): {
			"id": "readOnly", "created_at": "readOnly", "updated_at": "readOnly",
			"name":         "required,minLength=1,maxLength=200",
			"asset_type":   "maxLength=64",
			"asset_id":     "format=uuid",
			"metric":       "required,pattern=" + metricPattern,
			"direction":    "required",
			"hysteresis":   "min=0",
			"failure_mode": "maxLength=128,pattern=^([a-z0-9][a-z0-9_.:-]{0,127})?$",
			"priority":     "enum=|P1|P2|P3|P4",
			"skills":       "maxItems=50",
		},
		reflect.TypeOf(rules.PredictSpec{}): {
			"min_r2": "min=0,max=1", "min_points": "min=0,max=100000",
		},
		reflect.TypeOf(rules.PartQty{}): {
			"sku": "required,pattern=" + skuPattern,
			"qty": "required,min=1,max=" + strconv.Itoa(workorders.MaxPartQty),
		},
		reflect.TypeOf(dispatch.Shift{}): {
			"day":   "required,maxLength=9,pattern=^[A-Za-z]{2,9}$",
			"start": "required,maxLength=5,pattern=^[0-9]{1,2}:[0-9]{2}$",
			"end":   "required,maxLength=5,pattern=^[0-9]{1,2}:[0-9]{2}$",
		},
		reflect.TypeOf(dispatch.Interval{}): {"start": "required", "end": "required"},
		reflect.TypeOf(dispatch.Point{}):    {"lat": "required", "lon": "required"},
		reflect.TypeOf(dispatch.Cost{}): {"engineer_id": "required", "travel_minutes": "required", "start_at": "required",
			"arrive_at": "required", "finish_at": "required", "sla_slack_minutes": "required", "lateness_cost": "required",
			"load_cost": "required", "total": "required"},
		reflect.TypeOf(workorders.Location{}): {
			"lat": "required,min=-90,max=90", "lon": "required,min=-180,max=180",
		},
	}
}

// schemas builds and remembers the schema of each Go type.
type schemas struct {
	enums  map[reflect.Type][]string
	rules  map[reflect.Type]map[string]string
	mu     sync.Mutex // guards byType
	byType map[reflect.Type]*schema
}

func newSchemas() *schemas {
	return &schemas{enums: typeEnums(), rules: fieldRules(), byType: map[reflect.Type]*schema{}}
}

// of returns the schema of t's JSON form.
func (ss *schemas) of(t reflect.Type) *schema {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byType[t]; ok {
		return s
	}
	s := ss.build(t, 0)
	ss.byType[t] = s
	return s
}

func (ss *schemas) build(t reflect.Type, depth int) *schema {
	if depth > 8 {
		return &schema{}
	}
	switch t {
	case reflect.TypeOf(time.Time{}):
		return &schema{Type: "string", Format: "date-time", MaxLength: 64, check: checkTime}
	case reflect.TypeOf(rules.Duration(0)):
		return &schema{Type: "string", Format: "duration", MaxLength: 64, Pattern: durPattern, Example: "5m", check: checkDuration}
	case reflect.TypeOf(json.RawMessage{}):
		return &schema{Type: "object", MaxProps: defaultMaxProps, Additional: &schema{}}
	case reflect.TypeOf(workorders.SkillLevels{}):
		return &schema{AnyOf: []*schema{
			{Type: "object", MaxProps: 50, Additional: &schema{Type: "integer", Min: ptr(1), Max: ptr(5)}},
			{Type: "array", MaxItems: 50, Items: &schema{AnyOf: []*schema{
				{Type: "string", MinLength: 1, MaxLength: 66},
				{Type: "object", Props: map[string]*schema{
					"name":  {Type: "string", MinLength: 1, MaxLength: 64},
					"level": {Type: "integer", Min: ptr(1), Max: ptr(5)},
				}, Required: []string{"name"}},
			}}},
		}, Nullable: true}
	}
	if vs, ok := ss.enums[t]; ok {
		return &schema{Type: "string", Enum: vs}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := *ss.build(t.Elem(), depth)
		s.Nullable = true
		return &s
	case reflect.String:
		return &schema{Type: "string"}
	case reflect.Bool:
		return &schema{Type: "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &schema{Type: "integer"}
	case reflect.Float32, reflect.Float64:
		return &schema{Type: "number"}
	case reflect.Slice, reflect.Array:
		return &schema{Type: "array", Items: ss.build(t.Elem(), depth+1), Nullable: true}
	case reflect.Map:
		return &schema{Type: "object", Additional: ss.build(t.Elem(), depth+1), MaxProps: defaultMaxProps, Nullable: true}
	case reflect.Interface:
		return &schema{}
	case reflect.Struct:
		s := &schema{Type: "object", Props: map[string]*schema{}}
		ss.addFields(t, s, depth)
		return s
	}
	return &schema{}
}

func (ss *schemas) addFields(t reflect.Type, s *schema, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner := &schema{Props: map[string]*schema{}}
				ss.addFields(ft, inner, depth)
				for k, v := range inner.Props {
					if _, shadowed := s.Props[k]; !shadowed {
						s.Props[k] = v
						if slices.Contains(inner.Required, k) {
							s.Required = append(s.Required, k)
						}
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		if _, shadowed := s.Props[name]; shadowed {
			// An outer field hides an embedded one of the same name; drop
			// the embedded one's requirement.
			s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == name })
		}
		fs := ss.build(f.Type, depth+1)
		tag := f.Tag.Get("schema")
		if r, ok := ss.rules[t][name]; ok {
			tag = r
		}
		if tag != "" {
			c := *fs
			fs = &c
			if applyTag(fs, tag) {
				s.Required = append(s.Required, name)
			}
		}
		s.Props[name] = fs
	}
}

// applyTag sets the constraints of tag on s and reports whether the field
// is required.
func applyTag(s *schema, tag string) (required bool) {
	for tag != "" {
		var item string
		if strings.HasPrefix(tag, "pattern=") {
			item, tag = tag, ""
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		k, v, _ := strings.Cut(item, "=")
		num := func() float64 {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				panic(fmt.Sprintf("schema tag %q: %v", item, err))
			}
			return f
		}
		switch k {
		case "required":
			required = true
		case "nonNull":
			s.Nullable = false
		case "readOnly":
			s.ReadOnly = true
		case "min":
			s.Min = ptr(num())
		case "max":
			s.Max = ptr(num())
		case "minLength":
			s.MinLength = int(num())
		case "maxLength":
			s.MaxLength = int(num())
		case "maxItems":
			s.MaxItems = int(num())
		case "enum":
			s.Enum = strings.Split(v, "|")
		case "format":
			s.Format = v
			if v == "uuid" {
				s.MaxLength = 36
			}
		case "pattern":
			s.Pattern = v
		default:
			panic(fmt.Sprintf("schema tag: unknown %q", k))
		}
	}
	if s.Pattern != "" {
		s.re = regexp.MustCompile(s.Pattern)
	}
	return required
}

// openAPI renders s as an OpenAPI 3.0 schema object.
func (s *schema) openAPI() map[string]any {
	out := map[string]any{}
	if s.Type != "" {
		out["type"] = s.Type
	}
	if s.Format != "" {
		out["format"] = s.Format
	}
	if s.Nullable && s.Type != "" {
		out["nullable"] = true
	}
	if s.ReadOnly {
		out["readOnly"] = true
	}
	if len(s.Enum) > 0 {
		out["enum"] = s.Enum
	}
	if s.Example != nil {
		out["example"] = s.Example
	}
	switch s.Type {
	case "string":
		if s.MinLength > 0 {
			out["minLength"] = s.MinLength
		}
		if s.Enum == nil {
			out["maxLength"] = s.maxLength()
		}
		if s.Pattern != "" {
			out["pattern"] = s.Pattern
		}
	case "integer", "number":
		lo, hi := s.bounds()
		out["minimum"], out["maximum"] = lo, hi
	case "array":
		out["maxItems"] = s.maxItems()
		if s.Items != nil {
			out["items"] = s.Items.openAPI()
		} else {
			out["items"] = map[string]any{}
		}
	case "object":
		if s.Props != nil {
			props := map[string]any{}
			for k, v := range s.Props {
				props[k] = v.openAPI()
			}
			out["properties"] = props
			if len(s.Required) > 0 {
				req := slices.Clone(s.Required)
				slices.Sort(req)
				out["required"] = req
			}
		}
		if s.Additional != nil {
			out["additionalProperties"] = s.Additional.openAPI()
			out["maxProperties"] = s.maxProps()
		}
	}
	if len(s.AnyOf) > 0 {
		var alts []any
		for _, a := range s.AnyOf {
			alts = append(alts, a.openAPI())
		}
		out["anyOf"] = alts
	}
	return out
}

func (s *schema) maxLength() int {
	if s.MaxLength > 0 {
		return s.MaxLength
	}
	return defaultMaxLength
}

func (s *schema) maxItems() int {
	if s.MaxItems > 0 {
		return s.MaxItems
	}
	return defaultMaxItems
}

func (s *schema) maxProps() int {
	if s.MaxProps > 0 {
		return s.MaxProps
	}
	return defaultMaxProps
}

// bounds returns the declared range of a number or integer, defaulting to
// a 32-bit integer's range and to ±defaultMaxNumber.
func (s *schema) bounds() (float64, float64) {
	lo, hi := -defaultMaxNumber, defaultMaxNumber
	if s.Type == "integer" {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if s.Min != nil {
		lo = *s.Min
	}
	if s.Max != nil {
		hi = *s.Max
	}
	return lo, hi
}

// validate checks a decoded JSON value (json.Number for numbers) against
// s and adds every problem to p under path.
func (s *schema) validate(v any, path string, p *workorders.Problems) {
	if len(s.AnyOf) > 0 {
		if v == nil && s.Nullable {
			return
		}
		var first workorders.Problems
		for i, a := range s.AnyOf {
			var q workorders.Problems
			a.validate(v, path, &q)
			if q.Err() == nil {
				return
			}
			if i == 0 {
				first = q
			}
		}
		p.AddErr(first.Err())
		return
	}
	if v == nil {
		if !s.Nullable && s.Type != "" {
			p.Add(field(path), "must not be null")
		}
		return
	}
	switch s.Type {
	case "":
		validateAny(v, path, p)
	case "string":
		str, ok := v.(string)
		if !ok {
			p.Add(field(path), "must be a string")
			return
		}
		s.validateString(str, path, p)
	case "boolean":
		if _, ok := v.(bool); !ok {
			p.Add(field(path), "must be true or false")
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			p.Add(field(path), "must be a%s", map[bool]string{true: "n integer", false: " number"}[s.Type == "integer"])
			return
		}
		s.validateNumber(n, path, p)
	case "array":
		arr, ok := v.([]any)
		if !ok {
			p.Add(field(path), "must be an array")
			return
		}
		if len(arr) > s.maxItems() {
			p.Add(field(path), "at most %d elements", s.maxItems())
			return
		}
		for i, e := range arr {
			if s.Items != nil {
				s.Items.validate(e, fmt.Sprintf("%s[%d]", path, i), p)
			}
		}
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			p.Add(field(path), "must be an object")
			return
		}
		s.validateObject(obj, path, p)
	}
}

func field(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (s *schema) validateString(str, path string, p *workorders.Problems) {
	switch {
	case strings.IndexByte(str, 0) >= 0:
		p.Add(field(path), "must not contain NUL characters")
		return
	case len(s.Enum) > 0:
		if !slices.Contains(s.Enum, str) {
			p.Add(field(path), "must be one of %s", enumText(s.Enum))
		}
		return
	case len(str) > s.maxLength():
		p.Add(field(path), "at most %d bytes", s.maxLength())
		return
	case len(str) < s.MinLength:
		if str == "" {
			p.Add(field(path), "required")
		} else {
			p.Add(field(path), "at least %d characters", s.MinLength)
		}
		return
	}
	switch s.Format {
	case "uuid":
		if str != "" && !uuidRE.MatchString(str) {
			p.Add(field(path), "must be a UUID")
			return
		}
	}
	if s.re != nil && !s.re.MatchString(str) {
		p.Add(field(path), "must match %s", s.Pattern)
		return
	}
	if s.check != nil {
		if msg := s.check(str); msg != "" {
			p.Add(field(path), "%s", msg)
		}
	}
}

func enumText(vs []string) string {
	var shown []string
	for _, v := range vs {
		if v != "" {
			shown = append(shown, v)
		}
	}
	return strings.Join(shown, ", ")
}

// validateNumber checks a number: one beyond what its type can hold (a
// 32-bit integer, ±1e15, not finite) is malformed (400); one the type can
// hold but outside the declared range is unacceptable (422).
func (s *schema) validateNumber(n json.Number, path string, p *workorders.Problems) {
	lo, hi := s.bounds()
	dlo, dhi := (&schema{Type: s.Type}).bounds()
	dlo, dhi = min(dlo, lo), max(dhi, hi)
	if s.Type == "integer" {
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil && strings.ContainsAny(string(n), ".eE") {
			if f, ferr := strconv.ParseFloat(string(n), 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				i, err = int64(f), nil
			} else if ferr == nil && f == math.Trunc(f) {
				err = strconv.ErrRange
			}
		}
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			p.Add(field(path), "must be an integer")
		case err != nil || float64(i) < dlo || float64(i) > dhi:
			p.Add(field(path), "must be an integer from %d to %d", int64(lo), int64(hi))
		case float64(i) < lo || float64(i) > hi:
			p.AddSemantic(field(path), "must be an integer from %d to %d", int64(lo), int64(hi))
		}
		return
	}
	f, err := strconv.ParseFloat(string(n), 64)
	switch {
	case err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < dlo || f > dhi:
		p.Add(field(path), "must be a finite number from %g to %g", lo, hi)
	case f < lo || f > hi:
		p.AddSemantic(field(path), "must be a number from %g to %g", lo, hi)
	}
}

func (s *schema) validateObject(obj map[string]any, path string, p *workorders.Problems) {
	if s.Props == nil {
		if len(obj) > s.maxProps() {
			p.Add(field(path), "at most %d members", s.maxProps())
			return
		}
		keys := sortedKeys(obj)
		for _, k := range keys {
			if !keyOK(k) {
				p.Add(field(path), "member names must be valid UTF-8 of 1-%d bytes without NUL", maxKeyLength)
				return
			}
		}
		for _, k := range keys {
			if s.Additional != nil {
				s.Additional.validate(obj[k], join(path, k), p)
			}
		}
		return
	}
	for _, r := range s.Required {
		if _, ok := obj[r]; !ok {
			p.Add(join(path, r), "required")
		}
	}
	for _, k := range sortedKeys(obj) {
		ps, ok := s.Props[k]
		if !ok {
			if keyOK(k) {
				p.Add(join(path, k), "unknown field")
			} else {
				p.Add(field(path), "unknown field")
			}
			continue
		}
		ps.validate(obj[k], join(path, k), p)
	}
}

func keyOK(k string) bool {
	return k != "" && len(k) <= maxKeyLength && strings.IndexByte(k, 0) < 0
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validateAny checks a free-form value: strings, numbers, sizes.
func validateAny(v any, path string, p *workorders.Problems) {
	switch x := v.(type) {
	case string:
		(&schema{Type: "string"}).validateString(x, path, p)
	case json.Number:
		(&schema{Type: "number"}).validateNumber(x, path, p)
	case []any:
		(&schema{Type: "array", Items: &schema{}}).validate(x, path, p)
	case map[string]any:
		(&schema{Type: "object", Additional: &schema{}}).validate(x, path, p)
	}
}

// paramSchema returns the declared schema of a query parameter.
func paramSchema(name string) *schema {
	switch name {
	case "limit":
		return &schema{Type: "integer", Min: ptr(1), Max: ptr(500)}
	case "cursor":
		return &schema{Type: "string", MaxLength: 200, Pattern: `^[A-Za-z0-9_=-]*$`, re: regexp.MustCompile(`^[A-Za-z0-9_=-]*$`)}
	case "from", "to", "at", "since", "until":
		return &schema{Type: "string", Format: "date-time", MaxLength: 64, check: checkTime}
	case "every", "window", "horizon":
		return &schema{Type: "string", Format: "duration", MaxLength: 64, check: checkDuration}
	case "priority":
		return &schema{Type: "string", Enum: []string{"P1", "P2", "P3", "P4"}}
	case "sort": // GET /work-orders: newest first (default) or riskiest first
		return &schema{Type: "string", Enum: []string{workorders.SortNewest, workorders.SortRisk}}
	case "metric":
		return &schema{Type: "string", MaxLength: 64, Pattern: `^([a-z][a-z0-9_]{0,63})?$`, re: regexp.MustCompile(`^([a-z][a-z0-9_]{0,63})?$`)}
	case "q":
		return &schema{Type: "string", MaxLength: 200}
	case "max_points":
		return &schema{Type: "integer", Min: ptr(10), Max: ptr(100000)}
	case "last_event_id":
		return &schema{Type: "integer", Min: ptr(0), Max: ptr(math.MaxInt64)}
	}
	if strings.HasSuffix(name, "_id") {
		return &schema{Type: "string", Format: "uuid", MaxLength: 36}
	}
	return &schema{Type: "string", MaxLength: 200}
}

// queryParamSchema returns the declared schema of a query parameter of
// the route path (gin syntax): the route's own when it has one, else the
// parameter's general one (paramSchema).
func queryParamSchema(path, name string) *schema {
	switch {
	case strings.HasPrefix(path, apiPrefix+"/reports/") || strings.HasPrefix(path, apiPrefix+"/exports/"):
		if sc := reportParamSchema(name); sc != nil {
			return sc
		}
	case strings.HasSuffix(path, "/label") && name == "format":
		return &schema{Type: "string", Enum: []string{"png", "pdf"}}
	}
	return paramSchema(name)
}

// pathParamSchema returns the declared schema of a path parameter of the
// route path (gin syntax).
func pathParamSchema(path, name string) *schema {
	switch {
	case strings.HasPrefix(path, apiPrefix+"/work-orders/:id") && name == "id":
		return &schema{Type: "string", MaxLength: 36, Pattern: orderRefRE.String(), re: orderRefRE}
	case strings.HasPrefix(path, apiPrefix+"/signals/:id"):
		return &schema{Type: "integer", Min: ptr(1), Max: ptr(math.MaxInt64)}
	case strings.HasPrefix(path, apiPrefix+"/parts/:id"):
		return &schema{Type: "string", MaxLength: 64, Pattern: skuPattern, re: regexp.MustCompile(skuPattern)}
	case name == "priority":
		return &schema{Type: "string", Enum: []string{"P1", "P2", "P3", "P4"}}
	case strings.HasPrefix(path, apiPrefix+"/notifications/templates/"):
		return templateParamSchema(name)
	case strings.HasPrefix(path, apiPrefix+"/asset-types/:type") && name == "type":
		return &schema{Type: "string", MaxLength: 64} // an asset's type (fleet.go)
	case strings.HasPrefix(path, apiPrefix+"/public/"):
		// Site and asset codes, status tokens: any lookup of something
		// else answers 404 like an unknown one.
		return &schema{Type: "string", MaxLength: 64}
	}
	return &schema{Type: "string", Format: "uuid", MaxLength: 36}
}

// checkText checks a query or path parameter's raw text against s.
func (s *schema) checkText(v, name string, p *workorders.Problems) {
	if s.Type == "integer" {
		if strings.IndexByte(v, 0) >= 0 || len(v) > 20 {
			p.Add(name, "must be an integer")
			return
		}
		s.validateNumber(json.Number(v), name, p)
		return
	}
	s.validateString(v, name, p)
}
