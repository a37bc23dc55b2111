// Package httpapi serves the ticket core's REST API (/api/v1, contract
// section 4) with gin: routes, bearer-token authentication and role checks,
// the one map from domain errors to HTTP status codes, and the OpenAPI
// document generated from the same route table the router is built from.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/claims"
	"github.com/openpdm/pdm/workorders/gateways"
)

// Config holds the server's dependencies. Service is required; every
// other adapter may be nil, in which case its endpoints answer 501 with a
// clear error.
type Config struct {
	Service *workorders.Service
	Log     *slog.Logger
	// Ready reports whether the process can serve (GET /readyz); nil means ready.
	Ready func(ctx context.Context) error
	// Metrics, when set, is served at GET /metrics without a token.
	Metrics http.Handler
	// Rejects lists the latest rejected ingest messages.
	Rejects RejectsLister
	// Telemetry reads an asset's series from the time-series store.
	Telemetry TelemetryReader
	// Health gives an asset's per-metric health.
	Health HealthProvider
	// Backtester replays history through a rule.
	Backtester Backtester
	// Articles suggests knowledge articles on the order detail (nil: none).
	Articles ArticleSuggester
	// Ops wires dispatch, inventory, KPIs, knowledge and schedules (ops.go).
	Ops OpsConfig
	// Requests wires customers' requests and status links (requests.go).
	Requests RequestsConfig
	// Console is what GET /config tells the web console (console.go).
	Console ConsoleConfig
	// Gateways wires the edge gateways' status and config (gateways.go).
	Gateways *gateways.Service
	// Fleet wires failure histories and the fleet's models (fleet.go).
	Fleet FleetConfig
	// MaxAttachmentBytes limits one attachment (default 10 MiB).
	MaxAttachmentBytes int64
	// MaxBodyBytes limits JSON request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Sessions, when set, enables sign-in with a session cookie (POST and
	// DELETE /session) for the web console.
	Sessions SessionStore
	// SessionTTL is how long a console session lasts (default 12 h).
	SessionTTL time.Duration
	// Live streams changes to browsers (GET /events); nil answers 501.
	Live *Hub
	// AuthCacheTTL is how long a token's user is remembered, and an
	// unknown token as unknown (default 30 s; negative disables the cache).
	// Revocations clear it at once (ForgetTokens).
	AuthCacheTTL time.Duration
	// Claims and Policies wire claim mode and dispatch policies (claims.go).
	Claims   ClaimService
	Policies claims.Store
	// Field wires the engineers' app's location history and ETAs (field.go).
	Field FieldConfig
	// Idempotency, when set, makes every authenticated POST honour the
	// Idempotency-Key header (idempotency.go).
	Idempotency IdempotencyStore
	// AuthFailures limits failed authentications per client (default one
	// every 2 s after a burst of 10). (The public endpoints limit their
	// clients themselves, requests.go.)
	AuthFailures RateLimit
	// TrustedProxies may set X-Forwarded-For (default: none, the client is
	// the connection's peer).
	TrustedProxies []string
	// ReadConcurrency bounds the order list, detail and /me/jobs requests
	// served at once; the others wait their turn in arrival order
	// (admission.go).
	// 0 means twice GOMAXPROCS; negative means unbounded.
	ReadConcurrency int
	// OrderCacheBytes bounds the cache of rendered orders the order lists
	// answer from (ordercache.go); 0 means 64 MiB, negative turns it off.
	OrderCacheBytes int64
	// withoutRequestChecks leaves out the schema checks of path and query
	// parameters; only the benchmark sets it (export_test.go), to measure
	// what validation costs.
	withoutRequestChecks bool
	// admitWith, when set, is the server whose admission queue and order
	// cache this one shares (the benchmark's two servers take turns in one
	// queue).
	admitWith *Server
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	svc    *workorders.Service
	log    *slog.Logger
	engine *gin.Engine
	routes []Route
	auth   authCache
	// unknown remembers unknown tokens; failures and public limit clients.
	unknown  negativeCache
	failures *failureLimiter
	// schemas holds the declared schema of every request and response type.
	schemas *schemas
	idem    idempotency
	admit   admission
	orders  orderCache
}

// authCache remembers token hashes' users briefly, saving a query per request.
type authCache struct {
	ttl time.Duration
	mu  sync.Mutex // guards m
	m   map[string]cachedUser
}

type cachedUser struct {
	u       workorders.User
	expires time.Time
}

func (a *authCache) get(key string, now time.Time) (workorders.User, bool) {
	if a.ttl <= 0 {
		return workorders.User{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cu, ok := a.m[key]
	if !ok || now.After(cu.expires) {
		return workorders.User{}, false
	}
	return cu.u, true
}

// clear forgets every cached token (after a revocation).
func (a *authCache) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m = nil
}

func (a *authCache) put(key string, u workorders.User, now time.Time) {
	if a.ttl <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) > 10000 {
		a.m = map[string]cachedUser{}
	}
	a.m[key] = cachedUser{u: u, expires: now.Add(a.ttl)}
}

// Route is one registered endpoint with its documentation. Roles empty
// means no token is needed.
type Route struct {
	Method  string
	Path    string // gin syntax, e.g. /api/v1/sites/:id
	Roles   []workorders.Role
	Tag     string
	Summary string
	// Body and Response name schemas of the OpenAPI document ("" for none).
	Body     string
	Response string
	// Status is the success status code.
	Status int
	// Query lists the query parameters.
	Query []string
	// Check, when set, adds the problems that relate parameters to each
	// other (a period's order) to those of each parameter's schema, so
	// that one answer names them all.
	Check func(c *gin.Context, p *workorders.Problems)
	h     gin.HandlerFunc
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("httpapi: Service is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = 10 << 20
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.AuthCacheTTL == 0 {
		cfg.AuthCacheTTL = 30 * time.Second
	}
	if cfg.AuthFailures == (RateLimit{}) {
		cfg.AuthFailures = RateLimit{Every: 2 * time.Second, Burst: 10}
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Log, auth: authCache{ttl: cfg.AuthCacheTTL}, schemas: newSchemas(),
		unknown: negativeCache{ttl: cfg.AuthCacheTTL}, failures: newFailureLimiter(cfg.AuthFailures),
		admit: newAdmission(cfg.ReadConcurrency), orders: newOrderCache(cfg.OrderCacheBytes)}
	if cfg.admitWith != nil {
		s.admit, s.orders = cfg.admitWith.admit, cfg.admitWith.orders
	}
	s.engine = gin.New()
	if err := s.engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("httpapi: trusted proxies: %w", err)
	}
	s.engine.Use(gin.Recovery(), s.livePosition)
	s.engine.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, "not_found", "no such endpoint") })
	s.engine.HandleMethodNotAllowed = true
	s.engine.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	})
	// Each resource group registers its routes here; later groups
	// (dispatch, inventory, kpis, knowledge) add one line each.
	s.systemRoutes()
	s.sessionRoutes()
	s.userRoutes()
	s.siteRoutes()
	s.assetRoutes()
	s.ruleRoutes()
	s.signalRoutes()
	s.orderRoutes()
	s.engineerJobRoutes()
	s.attachmentRoutes()
	s.slaRoutes()
	s.webhookRoutes()
	s.ingestRoutes()
	s.opsRoutes()
	s.fieldRoutes()
	s.claimRoutes()
	s.collaborationRoutes()
	s.requestRoutes()
	s.consoleRoutes()
	s.gatewayRoutes()
	s.fleetRoutes()
	s.eventRoutes()
	for _, r := range s.routes {
		if cfg.withoutRequestChecks {
			s.engine.Handle(r.Method, r.Path, s.authorize(r), s.idempotent(r), r.h)
			continue
		}
		s.engine.Handle(r.Method, r.Path, s.authorize(r), s.idempotent(r), s.checkRequest(r), r.h)
	}
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Routes returns the route table (for tests and the OpenAPI document).
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// RegisteredRoutes returns what gin actually serves, as "METHOD path".
func (s *Server) RegisteredRoutes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

const apiPrefix = "/api/v1"

// handle adds a route under /api/v1 (paths starting with "/" outside it
// must start with "//" to be taken as they are).
func (s *Server) handle(r Route, h gin.HandlerFunc) {
	if strings.HasPrefix(r.Path, "//") {
		r.Path = r.Path[1:]
	} else {
		r.Path = apiPrefix + r.Path
	}
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	r.h = h
	s.routes = append(s.routes, r)
}

// Role sets used by the route table.
func anyRole() []workorders.Role { return workorders.Roles() }
func readers() []workorders.Role {
	return []workorders.Role{workorders.RoleAdmin, workorders.RolePlanner, workorders.RoleViewer}
}
func planners() []workorders.Role {
	return []workorders.Role{workorders.RoleAdmin, workorders.RolePlanner}
}
func admins() []workorders.Role { return []workorders.Role{workorders.RoleAdmin} }
func fieldRoles() []workorders.Role {
	return []workorders.Role{workorders.RoleAdmin, workorders.RolePlanner, workorders.RoleEngineer}
}

type ctxKey string

const userKey ctxKey = "pdm_user"

// authorize checks the bearer token and the route's roles.
func (s *Server) authorize(r Route) gin.HandlerFunc {
	roles := r.Roles
	return func(c *gin.Context) {
		if len(roles) == 0 {
			c.Next()
			return
		}
		tok, cookie, err := credential(c)
		if err != nil {
			writeError(c, http.StatusUnauthorized, "unauthorized", err.Error())
			c.Abort()
			return
		}
		if cookie && !safeMethod(c.Request.Method) && c.GetHeader(csrfHeader) == "" {
			writeError(c, http.StatusForbidden, "csrf", "a session-authenticated change needs the "+csrfHeader+" header")
			c.Abort()
			return
		}
		key := string(workorders.HashToken(tok))
		if cookie {
			key = "s:" + key
		}
		now := time.Now()
		u, ok := s.auth.get(key, now)
		if !ok {
			client := c.ClientIP()
			if blocked, wait := s.failures.blocked(client, now); blocked {
				tooManyFailures(c, wait, "too many failed authentications from this client")
				return
			}
			err := workorders.ErrUnauthenticated
			if !s.unknown.has(key, now) {
				u, err = s.userOfCredential(c.Request.Context(), tok, cookie)
			}
			if err != nil {
				if errors.Is(err, workorders.ErrUnauthenticated) {
					s.unknown.put(key, now)
					s.failures.use(client, now)
				}
				s.fail(c, err)
				c.Abort()
				return
			}
			s.auth.put(key, u, now)
		}
		if !slices.Contains(roles, u.Role) {
			writeError(c, http.StatusForbidden, "forbidden", fmt.Sprintf("role %s may not %s %s", u.Role, r.Method, r.Path))
			c.Abort()
			return
		}
		c.Set(string(userKey), u)
		c.Next()
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func userOf(c *gin.Context) workorders.User {
	v, _ := c.Get(string(userKey))
	u, _ := v.(workorders.User)
	return u
}

func actorOf(c *gin.Context) workorders.Actor { return workorders.ActorOf(userOf(c)) }

// errNotConfigured marks endpoints whose adapter is not wired.
var errNotConfigured = errors.New("not configured")

// statusOf is the one map from domain errors to HTTP status and code.
func statusOf(err error) (int, string) {
	var ve *workorders.ValidationError
	switch {
	case errors.As(err, &ve):
		if ve.Semantic {
			return http.StatusUnprocessableEntity, "validation_failed"
		}
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, workorders.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, workorders.ErrIllegalTransition):
		return http.StatusConflict, "illegal_transition"
	case errors.Is(err, workorders.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, workorders.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, workorders.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, errNotConfigured):
		return http.StatusNotImplemented, "not_implemented"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// fail writes err as the contract's error body.
func (s *Server) fail(c *gin.Context, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		// The error may quote the input; log its start only.
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		s.log.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "path", c.FullPath(), "err", msg)
		msg = "internal error"
	}
	var ve *workorders.ValidationError
	if errors.As(err, &ve) {
		writeFields(c, status, code, msg, ve.List())
		return
	}
	writeError(c, status, code, msg)
}

// ErrorBody is the contract's error JSON: fields lists every invalid field
// of the request (empty for errors that are not about fields).
type ErrorBody struct {
	Error struct {
		Code    string                  `json:"code" schema:"required"`
		Message string                  `json:"message" schema:"required"`
		Fields  []workorders.FieldError `json:"fields" schema:"required"`
	} `json:"error" schema:"required"`
}

func writeError(c *gin.Context, status int, code, msg string) {
	writeFields(c, status, code, msg, nil)
}

func writeFields(c *gin.Context, status int, code, msg string, fields []workorders.FieldError) {
	var b ErrorBody
	b.Error.Code, b.Error.Message, b.Error.Fields = code, msg, fields
	if b.Error.Fields == nil {
		b.Error.Fields = []workorders.FieldError{}
	}
	c.JSON(status, b)
}

// List is the contract's list JSON.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func list[T any](items []T, next string) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, NextCursor: next}
}

// decode reads a JSON body into v: at most MaxBodyBytes of valid UTF-8,
// nested at most maxDepth deep, then checked against v's declared schema
// (every problem reported at once) before it is decoded.
func (s *Server) decode(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return workorders.Invalid("body", "larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return workorders.Invalid("body", "could not be read")
	}
	return s.decodeBytes(body, v)
}

func (s *Server) decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return workorders.Invalid("body", "empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return workorders.Invalid("body", "not valid UTF-8")
	}
	if jsonDeeper(body, maxDepth) {
		return workorders.Invalid("body", "nested deeper than %d levels", maxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return workorders.Invalid("body", "invalid JSON: %s", syntaxMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return workorders.Invalid("body", "trailing data after the JSON value")
	}
	var p workorders.Problems
	s.schemas.of(reflect.TypeOf(v).Elem()).validate(raw, "", &p)
	if err := p.Err(); err != nil {
		return err
	}
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return workorders.Invalid(te.Field, "must be a %s", jsonKind(te.Type))
		}
		// Custom decoders (durations, skills) explain themselves without
		// Go type names.
		return workorders.Invalid("body", "%s", syntaxMessage(err))
	}
	return nil
}

// jsonDeeper reports whether the JSON text nests objects and arrays more
// than max levels deep (scanning bytes, before anything is allocated).
func jsonDeeper(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}

// syntaxMessage describes a decoding error without Go type names.
func syntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	msg := err.Error()
	if strings.Contains(msg, "Go ") || strings.Contains(msg, "struct") {
		return "malformed value"
	}
	return strings.TrimPrefix(msg, "json: ")
}

// jsonKind names a Go type by the JSON a client should send.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer in range"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "value of another type"
}

// routeChecks holds a route's declared parameter schemas.
type routeChecks struct {
	path  map[string]*schema
	query map[string]*schema
}

func checksOf(r Route) routeChecks {
	rc := routeChecks{path: map[string]*schema{}, query: map[string]*schema{}}
	for _, seg := range strings.Split(r.Path, "/") {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			rc.path[name] = pathParamSchema(r.Path, name)
		}
	}
	for _, q := range r.Query {
		rc.query[q] = queryParamSchema(r.Path, q)
	}
	return rc
}

// checkRequest validates a route's path and query parameters against
// their declared schemas (every problem at once) and resolves a work-order
// number (WO-000123) in the path to the order's id.
func (s *Server) checkRequest(r Route) gin.HandlerFunc {
	rc := checksOf(r)
	orders := strings.HasPrefix(r.Path, apiPrefix+"/work-orders/:id")
	return func(c *gin.Context) {
		var p workorders.Problems
		for _, pr := range c.Params {
			if sc, ok := rc.path[pr.Key]; ok {
				checkText(sc, pr.Value, pr.Key, &p)
			}
		}
		if len(rc.query) > 0 && c.Request.URL.RawQuery != "" {
			q := c.Request.URL.Query()
			for name, sc := range rc.query {
				for _, v := range q[name] {
					checkText(sc, v, name, &p)
				}
			}
		}
		if r.Check != nil {
			r.Check(c, &p)
		}
		if err := p.Err(); err != nil {
			s.fail(c, err)
			c.Abort()
			return
		}
		if orders {
			if err := s.resolveNumber(c); err != nil {
				s.fail(c, err)
				c.Abort()
				return
			}
		}
		c.Next()
	}
}

func checkText(sc *schema, v, name string, p *workorders.Problems) {
	if !utf8.ValidString(v) {
		p.Add(name, "not valid UTF-8")
		return
	}
	// A parameter out of its range is a malformed request (400), unlike a
	// body field out of its range (422).
	var q workorders.Problems
	sc.checkText(v, name, &q)
	var ve *workorders.ValidationError
	if errors.As(q.Err(), &ve) {
		for _, f := range ve.List() {
			p.Add(f.Field, "%s", f.Message)
		}
	}
}

// resolveNumber replaces a work-order number in the :id parameter by the
// order's id; an unknown number is ErrNotFound.
func (s *Server) resolveNumber(c *gin.Context) error {
	for i, pr := range c.Params {
		if pr.Key != "id" {
			continue
		}
		m := orderNumRE.FindStringSubmatch(pr.Value)
		if m == nil {
			return nil
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n <= 0 {
			return workorders.ErrNotFound
		}
		var st orderService = s.svc
		items, _, err := st.ListOrders(c.Request.Context(), workorders.OrderFilter{Number: n, Page: workorders.Page{Limit: 1}})
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("%w: no work order %s", workorders.ErrNotFound, workorders.FormatNumber(n))
		}
		c.Params[i].Value = items[0].ID
	}
	return nil
}

// page reads limit and cursor.
func page(c *gin.Context) (workorders.Page, error) {
	p := workorders.Page{Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return p, workorders.Invalid("limit", "must be an integer from 1 to 500")
		}
		p.Limit = n
	}
	return p, nil
}

// queryRange parses the optional from and to query parameters (RFC 3339;
// zero when absent), naming both when both are malformed.
func queryRange(c *gin.Context) (from, to time.Time, err error) {
	var p workorders.Problems
	from, ferr := queryTime(c, "from")
	_ = p.AddErr(ferr)
	to, terr := queryTime(c, "to")
	_ = p.AddErr(terr)
	return from, to, p.Err()
}

func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, workorders.Invalid(name, "must be an RFC 3339 time")
	}
	return t.UTC(), nil
}

// systemRoutes: health, readiness, metrics and the OpenAPI document.
func (s *Server) systemRoutes() {
	s.handle(Route{Method: "GET", Path: "//healthz", Tag: "system", Summary: "Liveness", Response: "Status"},
		func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	s.handle(Route{Method: "GET", Path: "//readyz", Tag: "system", Summary: "Readiness", Response: "Status"},
		func(c *gin.Context) {
			if s.cfg.Ready != nil {
				if err := s.cfg.Ready(c.Request.Context()); err != nil {
					writeError(c, http.StatusServiceUnavailable, "not_ready", err.Error())
					return
				}
			}
			c.JSON(http.StatusOK, gin.H{"status": "ready"})
		})
	if s.cfg.Metrics != nil {
		s.handle(Route{Method: "GET", Path: "//metrics", Tag: "system", Summary: "Prometheus metrics", Response: "Text"},
			gin.WrapH(s.cfg.Metrics))
	}
	s.handle(Route{Method: "GET", Path: "/openapi.json", Tag: "system", Summary: "This API's OpenAPI 3 document", Response: "Object"},
		func(c *gin.Context) { c.JSON(http.StatusOK, s.OpenAPI()) })
}
