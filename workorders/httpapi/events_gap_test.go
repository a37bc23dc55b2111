package httpapi

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// fakeLive is a pure in-memory LiveSource: ids commit in any order.
type fakeLive struct {
	evs map[int64]workorders.LiveEvent
}

func (f *fakeLive) commit(ids ...int64) {
	for _, id := range ids {
		f.evs[id] = workorders.LiveEvent{ID: id, Type: "work_order.updated"}
	}
}

func (f *fakeLive) LiveAfter(_ context.Context, after int64, limit int) ([]workorders.LiveEvent, error) {
	var out []workorders.LiveEvent
	for id, e := range f.evs {
		if id > after {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
func (f *fakeLive) LiveBounds(context.Context) (int64, int64, error)    { return 0, 0, nil }
func (f *fakeLive) ListenLive(ctx context.Context, _ func()) error      { <-ctx.Done(); return nil }
func (f *fakeLive) PruneLive(context.Context, time.Time) (int64, error) { return 0, nil }

// TestHubGaps: an id committed after a higher one is still delivered,
// each id once, the stream position never passes a missing id until it
// has been missing for GapWait, and then moves on.
func TestHubGaps(t *testing.T) {
	src := &fakeLive{evs: map[int64]workorders.LiveEvent{}}
	h := NewHub(src, nil)
	close(h.ready)
	sub, _, err := h.subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Unix(0, 0)
	var got []hubMsg
	drain := func() {
		for {
			select {
			case m := <-sub.ch:
				got = append(got, m)
			default:
				return
			}
		}
	}
	step := func(at time.Duration, ids ...int64) {
		src.commit(ids...)
		if err := h.poll(ctx, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	step(0, 1, 3) // 2 is still in flight
	step(time.Second)
	step(2*time.Second, 2, 4)
	step(3*time.Second, 6) // 5 rolled back
	step(5 * time.Second)
	if h.low != 4 {
		t.Fatalf("low = %d before GapWait, want 4", h.low)
	}
	step(14 * time.Second)
	if h.low != 6 {
		t.Fatalf("low = %d after GapWait, want 6", h.low)
	}
	step(15*time.Second, 7)
	want := []struct{ id, mark int64 }{{1, 1}, {3, 1}, {2, 2}, {4, 4}, {6, 4}, {7, 7}}
	if len(got) != len(want) {
		t.Fatalf("got %d messages %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].ev.ID != w.id || got[i].mark != w.mark {
			t.Errorf("message %d: got id %d mark %d, want id %d mark %d", i, got[i].ev.ID, got[i].mark, w.id, w.mark)
		}
	}
}

// TestHubSlowSubscriber: a stream that cannot keep up is closed with
// overflow set (the handler then tells the client to reset) instead of
// holding up the others.
func TestHubSlowSubscriber(t *testing.T) {
	src := &fakeLive{evs: map[int64]workorders.LiveEvent{}}
	h := NewHub(src, nil)
	close(h.ready)
	slow, _, _ := h.subscribe(context.Background())
	for i := int64(1); i <= subscriberBuffer+1; i++ {
		src.commit(i)
	}
	if err := h.poll(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range slow.ch {
		n++
	}
	if !slow.overflow || n != subscriberBuffer {
		t.Fatalf("overflow %v after %d messages, want true after %d", slow.overflow, n, subscriberBuffer)
	}
}

// TestAutoEvery: telemetry reads choose an averaging window from the range
// so a chart never gets more than max_points per series.
func TestAutoEvery(t *testing.T) {
	for _, tt := range []struct {
		span time.Duration
		max  int
		want time.Duration
	}{
		{time.Hour, 4000, 0},
		{24 * time.Hour, 4000, 30 * time.Second},
		{30 * 24 * time.Hour, 4000, 15 * time.Minute},
		{365 * 24 * time.Hour, 100, 4 * 24 * time.Hour},
		{24 * time.Hour, 100000, 0},
	} {
		if got := autoEvery(tt.span, tt.max); got != tt.want {
			t.Errorf("autoEvery(%v, %d) = %v, want %v", tt.span, tt.max, got, tt.want)
		}
		if got := autoEvery(tt.span, tt.max); got > 0 && tt.span/got > time.Duration(tt.max) {
			t.Errorf("autoEvery(%v, %d) = %v gives more than max points", tt.span, tt.max, got)
		}
	}
}
