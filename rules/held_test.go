package rules

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

// TestEngineHoldsReadingsWhileLookupFails: readings consumed while the
// asset registry is unreachable are evaluated, in event-time order, once
// it answers again, so the breach they carry still raises its signal with
// the event-time detection.
func TestEngineHoldsReadingsWhileLookupFails(t *testing.T) {
	sk := &sink{}
	e, fa, _ := newTestEngine(t, []Rule{pumpRule()}, sk)
	ctx := context.Background()
	fa.mu.Lock()
	fa.err = errors.New("pg down")
	fa.mu.Unlock()
	var batch []ingest.Reading
	for m := range 4 {
		batch = append(batch, reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 9.0))
	}
	batch = append(batch, reading("s1", "ghost", t0, "vibration_rms", 9.0))
	e.Consume(ctx, batch)
	e.Consume(ctx, []ingest.Reading{
		reading("s1", "p1", t0.Add(4*time.Minute), "vibration_rms", 9.0),
		reading("s1", "p1", t0.Add(5*time.Minute), "vibration_rms", 9.0),
		reading("s1", "p1", t0.Add(6*time.Minute), "vibration_rms", 9.0),
	})
	n, dropped := e.HeldReadings()
	require.Equal(t, 8, n)
	require.Zero(t, dropped)
	fa.mu.Lock()
	calls := fa.calls
	fa.mu.Unlock()
	// One failed lookup per asset and attempt, not per reading: p1 and
	// ghost in the first batch, again in the retry before the second.
	require.Equal(t, 4, calls)

	// The registry answers again: Run's retry tick evaluates what was held.
	fa.mu.Lock()
	fa.err = nil
	fa.mu.Unlock()
	runEngine(t, e)
	waitFor(t, "the signal from held readings", func() bool { return len(sk.got()) > 0 })
	got := sk.got()
	require.Equal(t, LevelCritical, got[len(got)-1].Level)
	require.True(t, got[len(got)-1].DetectedAt.Equal(t0.Add(5*time.Minute)), "detected_at %s", got[len(got)-1].DetectedAt)
	n, _ = e.HeldReadings()
	require.Zero(t, n)
	require.Equal(t, 7, e.Status("a1")[0].State.Accepted)
	require.Zero(t, e.LateReadings())
}

// TestEngineHeldReadingsBounded: past MaxHeld the oldest held readings are
// dropped from evaluation and counted; the rest keep their order.
func TestEngineHeldReadingsBounded(t *testing.T) {
	fa := &fakeAssets{err: errors.New("pg down")}
	e, err := NewEngine(Config{Assets: fa, Rules: &fakeRules{rules: []Rule{pumpRule()}}, Signal: (&sink{}).send, MaxHeld: 3})
	require.NoError(t, err)
	for m := range 5 {
		e.Consume(context.Background(), []ingest.Reading{reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", 1.0)})
	}
	n, dropped := e.HeldReadings()
	require.Equal(t, 3, n)
	require.EqualValues(t, 2, dropped)
	require.True(t, e.held.queue[0].TS.Equal(t0.Add(2*time.Minute)))
}
