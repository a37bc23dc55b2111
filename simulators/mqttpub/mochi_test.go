package mqttpub

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// The demo falls back to an embedded mochi-mqtt broker: the fleet must
// work against it just as against Mosquitto.
func TestFleetThroughEmbeddedMochiBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	require.NoError(t, srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})))
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "tcp://" + addr
	var col *collector
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("embedded broker did not listen on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	root := "test/" + randHex(t) + "/pdm/v1"
	col = subscribe(t, url, root, true)

	s, err := simulators.ParseScenario([]byte(testScenario), time.Now())
	require.NoError(t, err)
	want, _, err := s.ExpectedReadings()
	require.NoError(t, err)
	pub, err := Dial(ctx, Options{URL: url, ClientID: "sim-test-pub-" + randHex(t)})
	require.NoError(t, err)
	defer pub.Close()
	f := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: root})
	require.NoError(t, f.Run(ctx))
	require.Equal(t, uint64(want), f.Progress().Readings)
	for col.count() < want && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	require.Len(t, col.readings, want)
	require.Len(t, col.events, 1)
}
