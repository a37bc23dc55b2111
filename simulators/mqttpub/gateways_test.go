package mqttpub

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/edge"
)

// statuses subscribes to the gateways' status topics under root and keeps
// every status received per gateway, in order.
type statuses struct {
	mu  sync.Mutex // guards got
	got map[string][]edge.Status
	c   paho.Client
}

func watchStatuses(t *testing.T, root string) *statuses {
	t.Helper()
	s := &statuses{got: map[string][]edge.Status{}}
	s.c = paho.NewClient(paho.NewClientOptions().AddBroker(mqttURL()).SetClientID("gw-watch-" + randHex(t)))
	tok := s.c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error(), "mosquitto at %s", mqttURL())
	t.Cleanup(func() { s.c.Disconnect(100) })
	tok = s.c.Subscribe(root+"/+/gateways/+/status", 1, func(_ paho.Client, m paho.Message) {
		if len(m.Payload()) == 0 {
			return
		}
		var st edge.Status
		if err := json.Unmarshal(m.Payload(), &st); err != nil {
			t.Errorf("status %s: %v: %s", m.Topic(), err, m.Payload())
			return
		}
		gw := strings.Split(m.Topic(), "/")
		s.mu.Lock()
		s.got[gw[len(gw)-2]] = append(s.got[gw[len(gw)-2]], st)
		s.mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return s
}

func (s *statuses) last(gw string) (edge.Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.got[gw]
	if len(l) == 0 {
		return edge.Status{}, false
	}
	return l[len(l)-1], true
}

// clearRetained removes the retained statuses the test left on the broker.
func clearRetained(t *testing.T, root, site string, gws ...string) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(mqttURL()).SetClientID("gw-clear-" + randHex(t)))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return
	}
	defer c.Disconnect(100)
	for _, gw := range gws {
		c.Publish(edge.StatusTopic(root, site, gw), 1, true, []byte{}).WaitTimeout(2 * time.Second)
	}
}

// proxy forwards TCP connections to the broker until cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex // guards conns
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	u, err := url.Parse(mqttURL())
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", u.Host)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// cut stops accepting and drops every connection without an MQTT
// DISCONNECT, as a crash or a pulled cable would.
func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// The simulated gateways say what the edge agent says: retained "online"
// with version and buffered readings, again every interval; their last will
// is a retained "offline", which the broker publishes when the connection
// dies without a goodbye.
func TestGatewaysPublishStatusAndLastWill(t *testing.T) {
	root := "test/" + randHex(t) + "/pdm/v1"
	t.Cleanup(func() { clearRetained(t, root, "S1", "gw-1", "gw-2") })
	w := watchStatuses(t, root)
	px := newProxy(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	g, err := DialGateways(ctx, GatewayOptions{URL: "tcp://" + px.ln.Addr().String(), ClientIDPrefix: "t-" + randHex(t) + "-",
		TopicRoot: root, Site: "S1", Gateways: []string{"gw-1", "gw-2"}, Version: "pdm-sim-test", Every: 100 * time.Millisecond,
		Buffered: func(gw string) int64 { return map[string]int64{"gw-1": 7}[gw] }})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()

	require.Eventually(t, func() bool {
		a, okA := w.last("gw-1")
		b, okB := w.last("gw-2")
		return okA && okB && a.State == "online" && b.State == "online"
	}, 10*time.Second, 10*time.Millisecond)
	a, _ := w.last("gw-1")
	b, _ := w.last("gw-2")
	require.Equal(t, "pdm-sim-test", a.Version)
	require.Equal(t, int64(7), a.Buffered)
	require.Equal(t, int64(0), b.Buffered)
	require.Zero(t, a.Dropped)
	require.WithinDuration(t, time.Now(), a.TS, 5*time.Second)
	// Again every interval.
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.got["gw-1"]) >= 3
	}, 10*time.Second, 10*time.Millisecond)

	// The connection dies: the broker publishes each gateway's will.
	px.cut()
	require.Eventually(t, func() bool {
		a, _ := w.last("gw-1")
		b, _ := w.last("gw-2")
		return a.State == "offline" && b.State == "offline"
	}, 10*time.Second, 10*time.Millisecond, "the last wills")
	a, _ = w.last("gw-1")
	require.Equal(t, "pdm-sim-test", a.Version)
	require.False(t, a.TS.Before(start.Add(-time.Second)), "the will is made when the session starts")
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// A clean stop publishes "offline" (a DISCONNECT sends no will), retained:
// a subscriber arriving later learns it.
func TestGatewaysGoOfflineOnStop(t *testing.T) {
	root := "test/" + randHex(t) + "/pdm/v1"
	t.Cleanup(func() { clearRetained(t, root, "S2", "gw-a") })
	w := watchStatuses(t, root)
	ctx, cancel := context.WithCancel(t.Context())
	g, err := DialGateways(ctx, GatewayOptions{URL: mqttURL(), ClientIDPrefix: "t-" + randHex(t) + "-", TopicRoot: root, Site: "S2",
		Gateways: []string{"gw-a"}})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	require.Eventually(t, func() bool { s, ok := w.last("gw-a"); return ok && s.State == "online" }, 10*time.Second, 10*time.Millisecond)
	s, _ := w.last("gw-a")
	require.Equal(t, "pdm-sim", s.Version, "the default version")
	cancel()
	<-done

	later := watchStatuses(t, root)
	require.Eventually(t, func() bool { s, ok := later.last("gw-a"); return ok && s.State == "offline" }, 10*time.Second, 10*time.Millisecond)
}

func TestDialGatewaysFailsClearly(t *testing.T) {
	_, err := DialGateways(t.Context(), GatewayOptions{URL: mqttURL(), Site: "S"})
	require.ErrorContains(t, err, "URL, Site and Gateways are required")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there
	_, err = DialGateways(t.Context(), GatewayOptions{URL: "tcp://" + addr, Site: "S", Gateways: []string{"gw-1"}})
	require.ErrorContains(t, err, "gateway gw-1: mqtt broker tcp://"+addr)
}
