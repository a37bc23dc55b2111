package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// replica is one in-process API process: its own pool, store, hub and
// HTTP server over the shared database.
type replica struct {
	url string
	hub *httpapi.Hub
}

func startReplica(t *testing.T, dbURL string) replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	store := postgres.New(pool)
	hub := httpapi.NewHub(store, nil)
	srv, err := httpapi.New(httpapi.Config{Service: workorders.NewService(store, nil, nil), Live: hub, Sessions: store})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		cancel()
		<-done // the hub ends every stream, so the server can close
		hs.Close()
		pool.Close()
	})
	return replica{url: hs.URL, hub: hub}
}

// sse is an open event stream.
type sse struct {
	t      *testing.T
	cancel context.CancelFunc
	events chan sseEvent
}

type sseEvent struct {
	id  string
	msg httpapi.LiveMessage
}

func openStream(t *testing.T, base, token, lastID string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &sse{t: t, cancel: cancel, events: make(chan sseEvent, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.msg); err != nil {
					panic(err)
				}
			case line == "" && ev.msg.Type != "":
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next waits for the next event matching ok (skipping others).
func (s *sse) next(ok func(httpapi.LiveMessage) bool, within time.Duration) (sseEvent, bool) {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, open := <-s.events:
			if !open {
				return sseEvent{}, false
			}
			if ok(ev.msg) {
				return ev, true
			}
		case <-deadline:
			return sseEvent{}, false
		}
	}
}

func orderEvent(typ, orderID string) func(httpapi.LiveMessage) bool {
	return func(m httpapi.LiveMessage) bool { return m.Type == typ && m.OrderID == orderID }
}

func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// TestLiveAcrossReplicas: a change made through replica A reaches streams
// on replica B within a second or so, filtered by role, and a stream that
// reconnects with its Last-Event-ID gets what it missed.
func TestLiveAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b, e, asset := twoReplicas(t)
	planner, eng := e.tokens[workorders.RolePlanner], e.tokens[workorders.RoleEngineer]

	onB := openStream(t, b.url, planner, "")
	engOnB := openStream(t, b.url, eng, "")

	start := time.Now()
	code, body := call(t, "POST", a.url+"/api/v1/work-orders", planner, map[string]any{"asset_id": asset.ID, "title": "Check pump"})
	require.Equal(t, 201, code, string(body))
	var o workorders.Order
	require.NoError(t, json.Unmarshal(body, &o))
	got, ok := onB.next(orderEvent("work_order.created", o.ID), 5*time.Second)
	require.True(t, ok, "planner on replica B never saw the order created through A")
	t.Logf("created through A, seen on B after %v", time.Since(start))
	var data struct {
		Number string `json:"number"`
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(got.msg.Data, &data))
	require.Equal(t, "approved", data.Status)
	require.Equal(t, o.Number, data.Number)
	require.NotEmpty(t, got.id)

	// The engineer sees nothing of an order that is not theirs but that
	// offers changed (an approved order may be offered for claiming), then
	// its assignment to them.
	code, body = call(t, "POST", a.url+"/api/v1/work-orders/"+o.ID+"/assign", planner,
		map[string]any{"assignee_id": e.users[workorders.RoleEngineer].ID})
	require.Equal(t, 200, code, string(body))
	ev, ok := engOnB.next(func(m httpapi.LiveMessage) bool { return m.OrderID != "" }, 5*time.Second)
	require.True(t, ok, "engineer never heard of the new approved order")
	require.Equal(t, workorders.LiveOffersChanged, ev.msg.Type)
	require.JSONEq(t, `{"id":"`+o.ID+`"}`, string(ev.msg.Data), "no details of an order not theirs")
	ev, ok = engOnB.next(func(m httpapi.LiveMessage) bool { return m.OrderID != "" }, 5*time.Second)
	require.True(t, ok, "engineer never saw their assignment")
	require.Equal(t, "work_order.assigned", ev.msg.Type, "the engineer's first order event is their assignment")
	require.Equal(t, o.ID, ev.msg.OrderID)
	assigned, ok := onB.next(orderEvent("work_order.assigned", o.ID), 5*time.Second)
	require.True(t, ok)

	// The planner's stream drops; a change happens meanwhile; the stream
	// resumes on replica A from its last id and gets it.
	onB.cancel()
	code, body = call(t, "PATCH", b.url+"/api/v1/work-orders/"+o.ID, planner, map[string]any{"title": "Check pump bearings"})
	require.Equal(t, 200, code, string(body))
	resumed := openStream(t, a.url, planner, assigned.id)
	_, ok = resumed.next(orderEvent("work_order.updated", o.ID), 5*time.Second)
	require.True(t, ok, "resumed stream missed the change made while it was away")

	// A position older than what is kept, or not a number.
	code, body = call(t, "GET", a.url+"/api/v1/events?last_event_id=x", planner, nil)
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "last_event_id")
	req, _ := http.NewRequest("GET", a.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+planner)
	req.Header.Set("Last-Event-ID", "-3")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)
	code, _ = call(t, "GET", a.url+"/api/v1/events", "", nil)
	require.Equal(t, 401, code)
}

// TestLiveResumeTooOld: a stream resuming from a position that has been
// pruned is told to reset.
func TestLiveResumeTooOld(t *testing.T) {
	t.Parallel()
	_, pool := migratedStore(t)
	a := startReplica(t, pool.Config().ConnString())
	e := newEnvOn(t, pool)
	e.seed()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `delete from live_events where id < (select max(id) from live_events)`)
	require.NoError(t, err)
	s := openStream(t, a.url, e.tokens[workorders.RolePlanner], "1")
	_, ok := s.next(func(m httpapi.LiveMessage) bool { return m.Type == "reset" }, 5*time.Second)
	require.True(t, ok, "no reset for a pruned position")
}

// TestLivePositionResumesARead: every API answer carries the live
// stream's position read before it; a stream opened later from that
// position (on any replica) replays what changed after the read, so a page
// whose stream opens after its reads need not read again.
func TestLivePositionResumesARead(t *testing.T) {
	t.Parallel()
	a, b, e, asset := twoReplicas(t)
	planner := e.tokens[workorders.RolePlanner]

	read := func(base string) int64 {
		t.Helper()
		var pos int64
		require.Eventually(t, func() bool {
			req, _ := http.NewRequest("GET", base+"/api/v1/work-orders", nil)
			req.Header.Set("Authorization", "Bearer "+planner)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
			h := resp.Header.Get(httpapi.LivePositionHeader)
			if h == "" {
				return false // the hub does not know its position yet
			}
			pos, err = strconv.ParseInt(h, 10, 64)
			require.NoError(t, err)
			return true
		}, 10*time.Second, 50*time.Millisecond, "no %s header", httpapi.LivePositionHeader)
		return pos
	}
	code, body := call(t, "POST", a.url+"/api/v1/work-orders", planner, map[string]any{"asset_id": asset.ID, "title": "Before the read"})
	require.Equal(t, 201, code, string(body))
	pos := read(a.url)

	// Changed through the other replica after the read.
	code, body = call(t, "POST", b.url+"/api/v1/work-orders", planner, map[string]any{"asset_id": asset.ID, "title": "After the read"})
	require.Equal(t, 201, code, string(body))
	var o workorders.Order
	require.NoError(t, json.Unmarshal(body, &o))

	// The page's stream opens now, on either replica, from its read.
	for _, base := range []string{a.url, b.url} {
		s := openStream(t, base, planner, strconv.FormatInt(pos, 10))
		_, ok := s.next(orderEvent("work_order.created", o.ID), 5*time.Second)
		require.True(t, ok, "a stream resumed from the read's position missed the order created after it (%s)", base)
		s.cancel()
	}
	require.GreaterOrEqual(t, read(b.url), pos, "a later read is at or past the earlier one")
	// Outside the API: no header.
	resp, err := http.Get(a.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get(httpapi.LivePositionHeader))
}

// twoReplicas starts two API replicas over one new database and seeds it
// (e.seed) through an env of its own; it returns the seeded asset.
func twoReplicas(t *testing.T) (replica, replica, *env, workorders.Asset) {
	t.Helper()
	_, pool := migratedStore(t)
	dbURL := pool.Config().ConnString()
	a, b := startReplica(t, dbURL), startReplica(t, dbURL)
	e := newEnvOn(t, pool)
	_, asset, _, _ := e.seed()
	return a, b, e, asset
}

// newEnvOn is newEnv over an existing database.
func newEnvOn(t *testing.T, pool *pgxpool.Pool) *env {
	t.Helper()
	svc := workorders.NewService(postgres.New(pool), nil, nil)
	srv, err := httpapi.New(httpapi.Config{Service: svc})
	require.NoError(t, err)
	e := &env{t: t, svc: svc, srv: srv, tokens: map[workorders.Role]string{}, users: map[workorders.Role]workorders.User{}}
	for _, r := range workorders.Roles() {
		u, tok, err := svc.CreateUser(context.Background(), string(r)+"-user", r)
		require.NoError(t, err)
		e.tokens[r], e.users[r] = tok, u
	}
	return e
}
