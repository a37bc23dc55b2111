package ingest

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTrackerLimits(t *testing.T) {
	m, err := newMetrics(nil)
	require.NoError(t, err)
	known := func(_, asset string) bool { return strings.HasPrefix(asset, "known") }
	trk := newTracker(Limits{MaxMetricsPerReading: 3, MaxMetricsPerAsset: 4, MaxAssets: 3, MaxSeries: 100,
		MaxUnknownAssets: 2, UnknownAssetIdle: time.Minute, MaxGateways: 2}.withDefaults(), known, m)
	rd := func(gw string, ts int64, names ...string) []Reading {
		ms := make([]Metric, len(names))
		for i, n := range names {
			ms[i] = Metric{Name: n, Value: float64(i)}
		}
		return []Reading{{Site: "s", Asset: "x", Gateway: gw, TS: time.UnixMilli(ts), Metrics: ms}}
	}
	admit := func(asset string, rs []Reading, seq uint64, hasSeq bool, now time.Time) Reason {
		return ReasonOf(trk.admit("s", asset, rs, seq, hasSeq, now))
	}

	// Metrics per reading.
	require.Equal(t, ReasonTooManyMetrics, admit("known1", rd("", 1, "a", "b", "c", "d"), 0, false, testNow))
	require.Empty(t, admit("known1", rd("", 1, "a", "b", "c"), 0, false, testNow))
	// Distinct metrics per asset: a 5th name is refused, the known ones go on.
	require.Equal(t, ReasonTooManyAssetMetrics, admit("known1", rd("", 2, "d", "e"), 0, false, testNow))
	require.Empty(t, admit("known1", rd("", 2, "d"), 0, false, testNow))
	require.Equal(t, ReasonTooManyAssetMetrics, admit("known1", rd("", 3, "e"), 0, false, testNow))
	require.Empty(t, admit("known1", rd("", 3, "a", "b", "c"), 0, false, testNow))

	// Unknown assets: two at a time; a third waits until one is idle.
	require.Empty(t, admit("u1", rd("", 1, "a"), 0, false, testNow))
	require.Empty(t, admit("u2", rd("", 1, "a"), 0, false, testNow))
	require.Equal(t, ReasonTooManyUnknownAssets, admit("u3", rd("", 1, "a"), 0, false, testNow.Add(30*time.Second)))
	require.Empty(t, admit("u2", rd("", 2, "a"), 0, false, testNow.Add(30*time.Second)), "a tracked unknown asset goes on")
	require.Empty(t, admit("u3", rd("", 1, "a"), 0, false, testNow.Add(61*time.Second)), "u1 was idle: u3 takes its place")
	require.Empty(t, admit("known2", rd("", 1, "a"), 0, false, testNow), "registered assets are not limited")

	// Per-asset state is bounded: at most MaxAssets, least recent forgotten.
	require.Equal(t, 3, trk.assets.len(), "5 assets seen, 3 remembered")

	// (gateway, seq): a redelivery is fine, other content is a conflict and
	// the first stands.
	require.Empty(t, admit("known1", rd("gw", 10, "a"), 7, true, testNow))
	require.Empty(t, admit("known1", rd("gw", 10, "a"), 7, true, testNow), "same content again: redelivery")
	require.Equal(t, ReasonDuplicateSeqConflict, admit("known1", rd("gw", 11, "a"), 7, true, testNow))
	other := rd("gw", 10, "a")
	other[0].Metrics[0].Value = 99
	require.Equal(t, ReasonDuplicateSeqConflict, admit("known1", other, 7, true, testNow), "same time, other value")
	require.Empty(t, admit("known1", rd("gw", 10, "a"), 7, true, testNow), "the first still stands")
	require.Empty(t, admit("known1", rd("gw", 12, "a"), 8, true, testNow))
	require.Empty(t, admit("known1", rd("gw2", 11, "a"), 7, true, testNow), "seq is per gateway")
	require.Empty(t, admit("known1", rd("gw", 13, "a"), 7+SeqWindow, true, testNow), "beyond the window: a new seq")
	require.Empty(t, admit("known1", rd("gw3", 1, "a"), 1, true, testNow))
	require.LessOrEqual(t, trk.gateways.len(), 2)
}

// TestMillionBogusAssetsMemoryFlat publishes 1,000,000 messages, each of
// another asset code, through the pipeline: the memory ingest holds stays
// flat (every per-asset table is bounded and evicts). Under the race
// detector (make test's main run) it publishes 100,000; make test runs it
// once more without the race detector, with the full million.
func TestMillionBogusAssetsMemoryFlat(t *testing.T) {
	src := &fakeSource{}
	var stored atomic.Int64
	w := writerFunc(func(_ context.Context, rs []Reading) error { stored.Add(int64(len(rs))); return nil })
	var consumed atomic.Int64
	cons := ConsumerFunc(func(_ context.Context, rs []Reading) { consumed.Add(int64(len(rs))) })
	p, err := NewPipeline(Config{Limits: Limits{MaxAssets: 20_000, MaxSeries: 40_000}},
		Deps{Source: src, Writer: w, Consumer: cons, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitUntil(t, "start", func() bool { return p.Ready(ctx) == nil })

	const total = bogusAssets
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	src.mu.Lock()
	deliver := src.deliver
	src.mu.Unlock()
	payload := []byte(`{"ts":1772366400000,"metrics":{"v":1,"w":2}}`)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			m := Message{Topic: "pdm/v1/s/bogus-" + strconv.Itoa(i) + "/telemetry", Payload: payload}
			for !deliver(m) {
				time.Sleep(100 * time.Microsecond)
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for stored.Load() != int64(to) || consumed.Load() != int64(to) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %d readings stored and handed on (%d, %d)", to, stored.Load(), consumed.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	send(0, total/5)
	warm := heap()
	send(total/5, total)
	end := heap()
	cancel()
	require.NoError(t, <-done)
	t.Logf("heap after %d assets: %d KiB; after %d: %d KiB", total/5, warm/1024, total, end/1024)
	require.Less(t, int64(end)-int64(warm), int64(8<<20), "memory grew with the number of asset codes")
	require.Empty(t, p.Rejects())
}

type writerFunc func(ctx context.Context, rs []Reading) error

func (f writerFunc) Write(ctx context.Context, rs []Reading) error { return f(ctx, rs) }
