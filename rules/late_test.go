package rules

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

// lockedHistory is a fakeHistory the engine's Run goroutine may read while
// the test looks at it.
type lockedHistory struct {
	mu sync.Mutex
	h  fakeHistory
}

func (l *lockedHistory) ReadReadings(ctx context.Context, site, asset string, metrics []string, from, to time.Time) ([]ingest.Reading, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.ReadReadings(ctx, site, asset, metrics, from, to)
}

func (l *lockedHistory) calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.calls
}

// clock is a wall clock the test moves.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration)      { c.ns.Add(int64(d)) }
func newClock(t time.Time) *clock         { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func minute(m int) time.Time              { return t0.Add(time.Duration(m) * time.Minute) }
func vib(m int, v float64) ingest.Reading { return reading("s1", "p1", minute(m), "vibration_rms", v) }
func vibs(ms []int, v float64) []ingest.Reading {
	var out []ingest.Reading
	for _, m := range ms {
		out = append(out, vib(m, v))
	}
	return out
}

// A replica that was down comes back and ingests what its broker session
// kept: readings of minutes 20-29, after the owner has evaluated up to
// minute 59 without them. They are late for their series; the engine
// re-evaluates the asset from history once the burst settles, and raises
// with their own times what they change (a breach at minute 25 after its
// 5-minute `for`, a prediction at minute 20), in one replay for the whole
// burst. Late copies of readings a rebuild replayed ask for nothing.
func TestLateReadingsReevaluatedFromHistory(t *testing.T) {
	sk := &sink{}
	fa := &fakeAssets{m: map[string]AssetRef{"s1/p1": {ID: "a1", Type: "pump"}}}
	h := &lockedHistory{h: fakeHistory{data: map[string][]ingest.Reading{}}}
	var live, late []int
	for m := 0; m < 60; m++ {
		v := 1.0
		if m >= 20 && m < 30 {
			v = 8 // over the critical limit (7.1) and the trend's 5
			late = append(late, m)
		} else {
			live = append(live, m)
		}
		h.h.data["s1/p1"] = append(h.h.data["s1/p1"], vib(m, v))
	}
	clk := newClock(time.Unix(1_000_000, 0))
	e, err := NewEngine(Config{Assets: fa, Rules: &fakeRules{rules: []Rule{pumpRule()}}, Signal: sk.send,
		Observers: []Observer{trendAbove{limit: 5}}, History: h, Now: clk.now,
		LateSettle: time.Second, LateMinInterval: time.Minute,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()

	e.Consume(ctx, vibs(live, 1))
	// The burst, in three messages over a second and a half of wall time.
	for i := 0; i < 3; i++ {
		e.Consume(ctx, vibs(late[i*3:i*3+4], 8))
		clk.add(500 * time.Millisecond)
	}
	require.Zero(t, e.ReevaluateLate(ctx), "the burst has not settled")
	st := e.LateStats()
	require.EqualValues(t, 10+2, st.Readings, "late readings counted (two came twice)")
	require.Equal(t, 1, st.Waiting, "one asset waits, however many late readings")
	require.Empty(t, sk.got())

	clk.add(time.Second)
	runEngine(t, e)
	waitFor(t, "the re-evaluation", func() bool { return e.LateStats().Reevaluated == 1 })
	waitFor(t, "its signals", func() bool {
		var trend, crit bool
		for _, s := range sk.got() {
			trend = trend || (s.Kind == KindTrend && s.DetectedAt.Equal(minute(20)))
			crit = crit || (s.Kind == KindThreshold && s.Level == LevelCritical && s.DetectedAt.Equal(minute(25)))
		}
		return trend && crit
	})
	st = e.LateStats()
	require.EqualValues(t, 60, st.Replayed, "the lookback (1h) before minute 20 up to minute 59")
	require.Zero(t, st.Waiting)
	require.Equal(t, 1, h.calls(), "one history read for the burst")
	for _, s := range sk.got() {
		require.False(t, s.DetectedAt.Before(minute(20)), "nothing before the earliest late reading is raised again: %+v", s)
	}
	require.Equal(t, minute(59), e.LastReading("a1", "r1"), "the state resumes where it was")

	// Late copies of what a rebuild replayed: counted, nothing waits.
	e.ConsumeReplayed(ctx, vibs([]int{40, 41}, 1))
	require.Zero(t, e.LateStats().Waiting)
	require.EqualValues(t, 14, e.LateStats().Readings)
}

// Without History, late readings are counted and nothing waits (the
// engine has nowhere to re-read them from).
func TestLateReadingsWithoutHistoryOnlyCounted(t *testing.T) {
	e, _, _ := newTestEngine(t, []Rule{pumpRule()}, &sink{})
	ctx := context.Background()
	e.Consume(ctx, vibs([]int{1, 2, 3}, 1))
	e.Consume(ctx, vibs([]int{0, 2}, 9))
	st := e.LateStats()
	require.EqualValues(t, 2, st.Readings)
	require.Zero(t, st.Waiting)
	require.Zero(t, e.ReevaluateLate(ctx))
}

// The queue coalesces an asset's late readings into one re-evaluation
// (earliest reading kept), waits for the burst to settle (or LateMaxDelay),
// spaces re-evaluations of one asset by LateMinInterval, hands out at most
// the budget, oldest burst first, and holds at most MaxLateAssets assets.
func TestLateQueuePacing(t *testing.T) {
	const settle, maxDelay, minInterval = time.Second, 10 * time.Second, 30 * time.Second
	w := time.Unix(1_000_000, 0)
	a := AssetRef{ID: "a", Site: "s", Code: "a"}
	b := AssetRef{ID: "b", Site: "s", Code: "b"}
	var q lateQueue
	q.note(a, minute(30), w, 2)
	q.note(a, minute(10), w.Add(500*time.Millisecond), 2)
	q.note(a, minute(20), w.Add(900*time.Millisecond), 2)
	q.note(b, minute(5), w.Add(100*time.Millisecond), 2)
	q.note(AssetRef{ID: "c"}, minute(1), w, 2)
	require.EqualValues(t, 1, q.dropped, "beyond MaxLateAssets: counted, not queued")

	require.Empty(t, q.due(w.Add(time.Second), settle, maxDelay, minInterval, 10), "a and b still coming")
	got := q.due(w.Add(1100*time.Millisecond), settle, maxDelay, minInterval, 10)
	require.Len(t, got, 1)
	require.Equal(t, "b", got[0].ref.ID)
	got = q.due(w.Add(2*time.Second), settle, maxDelay, minInterval, 10)
	require.Len(t, got, 1)
	require.Equal(t, minute(10), got[0].from, "from the earliest late reading")

	// A steady trickle: re-evaluated after LateMaxDelay all the same.
	for i := 0; i <= 10; i++ {
		q.note(b, minute(50), w.Add(2*time.Second+time.Duration(i)*time.Second), 2)
	}
	require.Empty(t, q.due(w.Add(12*time.Second), settle, maxDelay, minInterval, 10), "b was re-evaluated 11 s ago")
	require.Len(t, q.due(w.Add(31200*time.Millisecond), settle, maxDelay, minInterval, 10), 1, "after LateMinInterval")

	// Budget: oldest burst first.
	q.note(a, minute(1), w.Add(40*time.Second), 5)
	q.note(b, minute(1), w.Add(41*time.Second), 5)
	got = q.due(w.Add(50*time.Second), settle, maxDelay, minInterval, 1)
	require.Len(t, got, 1)
	require.Equal(t, "a", got[0].ref.ID)
	q.forget(func(site, code string) bool { return code != "b" })
	require.Empty(t, q.due(w.Add(60*time.Second), settle, maxDelay, minInterval, 10), "b's partition handed over")
}
