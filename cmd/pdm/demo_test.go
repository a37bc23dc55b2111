package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDemo runs `pdm demo` as make demo does, on a small scenario and with
// no broker at PDM_MQTT_URL, so it must bring up its embedded broker: the
// live line must show the degrading pump's work order, the seeded crew
// must be able to take it once approved (engineers with user accounts, a
// due date that allows dispatch), the site must be ready for the console
// (locations, SLA policies, articles in both languages), Ctrl-C must stop
// everything cleanly, and a second run must continue with what is there
// and say so.
func TestDemo(t *testing.T) {
	env := newTestEnv(t)
	first := runDemo(t, env)
	s := first.out.String()
	require.Contains(t, s, "running an embedded MQTT broker")
	require.Contains(t, s, "fresh demo: seeded site DT")
	require.Regexp(t, `admin token: \S{20,}`, s)
	require.True(t, strings.Contains(s, "/api/v1"), "prints the API address")
	require.Regexp(t, `console: +http://127\.0\.0\.1:\d+/ `, s)
	m := regexp.MustCompile(`engineer: +Ada Demo, token (\S{20,})`).FindStringSubmatch(s)
	require.NotNil(t, m, "prints an engineer's token:\n%s", s)
	admin := regexp.MustCompile(`admin token: (\S+)`).FindStringSubmatch(s)[1]

	ctx := context.Background()
	api := newAPIClient(first.addr(t), admin)
	var me struct {
		Role string `json:"role"`
	}
	require.NoError(t, api.as(m[1]).do(ctx, "GET", "/me", nil, &me))
	require.Equal(t, "engineer", me.Role)

	// The site is ready for the console: every asset on the map, SLA
	// policies, articles in Chinese and English.
	assets, err := listAll[demoLocated](ctx, api, "/assets", nil)
	require.NoError(t, err)
	require.Len(t, assets, 3)
	for _, a := range assets {
		require.NotNil(t, a.Location, "asset %s has a location", a.Code)
	}
	slas, err := listAll[map[string]any](ctx, api, "/sla-policies", nil)
	require.NoError(t, err)
	require.Len(t, slas, 4)
	for _, q := range []string{"bearing", "轴承"} {
		var hits listOf[map[string]any]
		require.NoError(t, api.do(ctx, "GET", "/knowledge?q="+url.QueryEscape(q), nil, &hits))
		require.NotEmpty(t, hits.Items, "an article for %q", q)
	}

	// The scenario's gateway reports itself online, as an edge agent does.
	eventually(t, 30*time.Second, "gateway gw-t online on the Gateways screen", func() bool {
		gws, err := listAll[struct {
			Code     string `json:"code"`
			SiteCode string `json:"site_code"`
			State    string `json:"state"`
			Version  string `json:"version"`
		}](ctx, api, "/gateways", nil)
		require.NoError(t, err)
		return len(gws) == 1 && gws[0].Code == "gw-t" && gws[0].SiteCode == "DT" && gws[0].State == "online" && gws[0].Version == "pdm-sim (demo)"
	})

	// The pump's order, approved, goes to one of the seeded engineers.
	orders, err := listAll[struct {
		ID     string     `json:"id"`
		Status string     `json:"status"`
		DueAt  *time.Time `json:"due_at"`
	}](ctx, api, "/work-orders", url.Values{"status": {"proposed"}})
	require.NoError(t, err)
	require.NotEmpty(t, orders)
	require.NoError(t, api.do(ctx, "POST", "/work-orders/"+orders[0].ID+"/approve", map[string]any{}, nil))
	eventually(t, 30*time.Second, "the approved order assigned to a demo engineer", func() bool {
		var o struct {
			Status     string  `json:"status"`
			AssigneeID *string `json:"assignee_id"`
		}
		require.NoError(t, api.do(ctx, "GET", "/work-orders/"+orders[0].ID, nil, &o))
		return o.Status == "assigned" && o.AssigneeID != nil
	})
	first.stop(t)

	second := runDemo(t, env)
	s = second.out.String()
	require.Contains(t, s, "continuing the demo: site DT exists")
	require.Regexp(t, `engineer: +Ada Demo, token \S{20,}`, s)
	// Each run's admin token (PDM_ADMIN_TOKEN) retires the previous one.
	admin2 := regexp.MustCompile(`admin token: (\S+)`).FindStringSubmatch(s)[1]
	if admin2 != admin {
		var me map[string]any
		require.Error(t, newAPIClient(second.addr(t), admin).do(ctx, "GET", "/me", nil, &me), "the first run's admin token is retired")
	}
	engineers, err := listAll[demoEngineer](ctx, newAPIClient(second.addr(t), admin2), "/engineers", nil)
	require.NoError(t, err)
	require.Len(t, engineers, len(demoCrew), "a second run adds no engineers")
	second.stop(t)
}

type demoRun struct {
	out, logs *syncBuffer
	cancel    context.CancelFunc
	done      chan error
}

func (r *demoRun) addr(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`API: +http://(\S+)/api/v1`).FindStringSubmatch(r.out.String())
	require.NotNil(t, m)
	return m[1]
}

func (r *demoRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		require.NoError(t, err, "Ctrl-C stops the demo cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of Ctrl-C")
	}
}

// runDemo starts `pdm demo` on env and waits for a live line with an open
// work order.
func runDemo(t *testing.T, env *testEnv) *demoRun {
	t.Helper()
	brokerAddr := freeAddr(t)
	getenv := env.getenv(map[string]string{"PDM_MQTT_URL": "tcp://" + brokerAddr})
	cfg, err := parseConfig("demo", []string{"--http-addr", "127.0.0.1:0", "--scenario", "testdata/demo-small.yaml"}, getenv, io.Discard)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	r := &demoRun{out: &syncBuffer{}, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- demo(ctx, cfg, r.out, r.logs) }()
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			t.Logf("demo output:\n%s\nlog:\n%s", r.out.String(), r.logs.String())
		}
	})
	live := regexp.MustCompile(`signals \d+\+?\s+open work orders [1-9]`)
	eventually(t, 90*time.Second, "a live line with an open work order", func() bool {
		select {
		case err := <-r.done:
			t.Fatalf("demo ended early: %v", err)
		default:
		}
		return live.MatchString(r.out.String())
	})
	return r
}
