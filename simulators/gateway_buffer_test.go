package simulators

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gatedPub acknowledges nothing until open is closed.
type gatedPub struct {
	open chan struct{}
	mu   sync.Mutex // guards n
	n    int
}

func (p *gatedPub) Publish(string, []byte) func(context.Context) error {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return func(ctx context.Context) error {
		select {
		case <-p.open:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// The gateway status's "buffered" is, per gateway, the readings of its
// assets sent and not yet acknowledged.
func TestFleetBufferedCountsUnacknowledgedReadingsPerGateway(t *testing.T) {
	s := parseScenario(t, `
seed: 2
site: S1
start: -2d
duration: 6h
interval: 10m
acceleration: max
batch: 6
gateways: [gw-1, gw-2]
assets:
  - {type: pump, prefix: P-, count: 3, profile: healthy}
`, now)
	pub := &gatedPub{open: make(chan struct{})}
	f := NewFleet(s, pub, FleetOptions{MaxInFlight: 4})
	require.Zero(t, f.Buffered("gw-1"))
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()

	// Four messages out, none acknowledged: P-1 and P-3 are on gw-1
	// (assets take the gateways in turn), P-2 on gw-2; the fourth message
	// is P-1's next batch.
	require.Eventually(t, func() bool { return f.Buffered("gw-1") == 18 && f.Buffered("gw-2") == 6 }, 5*time.Second, time.Millisecond,
		"buffered gw-1 %d, gw-2 %d", f.Buffered("gw-1"), f.Buffered("gw-2"))
	pub.mu.Lock()
	require.Equal(t, 4, pub.n, "the fleet waits for an acknowledgement before a fifth message")
	pub.mu.Unlock()
	require.Zero(t, f.Buffered("gw-9"), "a gateway the scenario lacks")

	close(pub.open)
	require.NoError(t, <-done)
	require.Zero(t, f.Buffered("gw-1"))
	require.Zero(t, f.Buffered("gw-2"))
	wantR, _, err := s.ExpectedReadings()
	require.NoError(t, err)
	require.Equal(t, uint64(wantR), f.Progress().Readings)
}
