package mqtt

import (
	"context"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

// watch subscribes to topic on the broker and returns the payloads it
// receives, in order.
func watch(t *testing.T, url, topic string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("watch-" + servicetest.RandomID()))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	tok = c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, string(m.Payload()))
		mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func last(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[len(xs)-1]
}

// A session with Presence says "1" when it connects; when its connection
// dies without a DISCONNECT the broker says "0" (the will). An adopted
// session (another client's) is dropped when the owner comes back and
// takes its session: it does not reconnect, Lost says so, and the owner
// says "1" again; a clean Stop says "0".
func TestPresenceAndAdoptedSession(t *testing.T) {
	broker := servicetest.StartMosquitto(t)
	topic := "test/" + servicetest.RandomID() + "/_members/g/r1/presence"
	seen := watch(t, broker.URL, topic)
	deliver := func(ingest.Message) bool { return true }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{URL: broker.URL, ClientID: "r1-" + servicetest.RandomID(), Topics: []string{"test/none/+/+/telemetry"}, Presence: topic}

	own, err := New(cfg, nil)
	require.NoError(t, err)
	require.NoError(t, own.Start(ctx, deliver))
	eventually(t, `"1" on connect`, func() bool { return last(seen()) == "1" })
	// The connection dies (no DISCONNECT): the broker publishes the will.
	own.mu.Lock()
	conn := own.conn
	own.mu.Unlock()
	require.NoError(t, conn.Close())
	eventually(t, `"0" from the will`, func() bool { return last(seen()) == "0" })
	own.Stop()

	// A survivor adopts the session; the owner comes back.
	adopted, err := New(Config{URL: broker.URL, ClientID: cfg.ClientID, Topics: cfg.Topics, Adopted: true}, nil)
	require.NoError(t, err)
	require.NoError(t, adopted.Start(ctx, deliver))
	require.Equal(t, "0", last(seen()), "an adopted session says nothing for its owner")
	back, err := New(cfg, nil)
	require.NoError(t, err)
	require.NoError(t, back.Start(ctx, deliver))
	select {
	case <-adopted.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted session was not lost when its owner took it back")
	}
	eventually(t, `"1" from the owner`, func() bool { return last(seen()) == "1" })
	time.Sleep(2 * time.Second) // an adopter that reconnected would take the session back now
	require.True(t, back.Connected(), "the owner keeps its session")
	adopted.Stop()

	back.Stop()
	eventually(t, `"0" on a clean stop`, func() bool { return last(seen()) == "0" })
}
