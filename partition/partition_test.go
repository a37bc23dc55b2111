package partition

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

func TestOfIsStableAndSpread(t *testing.T) {
	// Fixed values: changing the hash moves every asset between replicas.
	require.Equal(t, Of("S1", "P-1", 32), Of("S1", "P-1", 32))
	require.Equal(t, 0, Of("S1", "P-1", 1))
	counts := make([]int, 32)
	for i := range 32000 {
		counts[Of("site", fmt.Sprintf("asset-%d", i), 32)]++
	}
	for p, n := range counts {
		require.InDelta(t, 1000, n, 200, "partition %d", p)
	}
}

func TestOwnerOfMovesLittle(t *testing.T) {
	three := []string{"a", "b", "c"}
	two := []string{"a", "b"}
	share := map[string]int{}
	for p := range 64 {
		o3, o2 := OwnerOf(three, p), OwnerOf(two, p)
		share[o3]++
		if o3 != "c" {
			require.Equal(t, o3, o2, "partition %d moved though its owner stayed", p)
		}
	}
	for _, m := range three {
		require.Greater(t, share[m], 10, "member %s gets a share", m)
	}
	require.Equal(t, "", OwnerOf(nil, 1))
}

func TestTopic(t *testing.T) {
	p, ok := ParseTopic("pdm/v1", Topic("pdm/v1", 17))
	require.True(t, ok)
	require.Equal(t, 17, p)
	for _, bad := range []string{"pdm/v1/_p/x", "pdm/v1/S/A/telemetry", "pdm/v2/_p/1", "pdm/v1/_p/-1"} {
		_, ok := ParseTopic("pdm/v1", bad)
		require.False(t, ok, bad)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	in := []ingest.Reading{
		{Site: "S1", Asset: "P-1", Gateway: "gw", TS: ts, Metrics: []ingest.Metric{{Name: "a", Value: 1.5}, {Name: "b", Value: -2}}},
		{Site: "S1", Asset: "P-1", TS: ts.Add(time.Second), Metrics: []ingest.Metric{{Name: "a", Value: math.MaxFloat64}}},
		{Site: "S2", Asset: "X", TS: time.Unix(0, 0).UTC()},
	}
	b := Encode(nil, in)
	out, err := Decode(b)
	require.NoError(t, err)
	for i := range out {
		if len(out[i].Metrics) == 0 {
			out[i].Metrics = nil
		}
	}
	require.Equal(t, in, out)
	for i := range b {
		_, err := Decode(b[:i])
		require.Error(t, err, "truncated at %d", i)
	}
	_, err = Decode(append([]byte{9}, b[1:]...))
	require.ErrorIs(t, err, ErrCodec)
}

func TestReorderSortsWithinWindow(t *testing.T) {
	r := reorder{window: time.Second}
	t0 := time.Unix(1000, 0)
	rd := func(sec int) ingest.Reading {
		return ingest.Reading{Site: "s", Asset: "a", TS: t0.Add(time.Duration(sec) * time.Second)}
	}
	acked := 0
	r.add(chunk{at: t0, rs: []ingest.Reading{rd(3), rd(4)}, ack: func() { acked++ }})
	r.add(chunk{at: t0.Add(500 * time.Millisecond), rs: []ingest.Reading{rd(1), rd(2)}, ack: func() { acked++ }})
	r.add(chunk{at: t0.Add(500 * time.Millisecond), rs: []ingest.Reading{rd(0)}, replayed: true})
	r.add(chunk{at: t0.Add(2 * time.Second), rs: []ingest.Reading{rd(5)}})
	got, replayed, acks := r.due(t0.Add(1500 * time.Millisecond))
	require.Len(t, got, 4)
	for i, x := range got {
		require.Equal(t, rd(i+1).TS, x.TS)
	}
	require.Equal(t, []ingest.Reading{rd(0)}, replayed, "readings a rebuild replayed come apart")
	require.Len(t, acks, 2)
	require.Equal(t, 1, r.held)
	got, replayed, _ = r.due(t0.Add(1500 * time.Millisecond))
	require.Empty(t, got)
	require.Empty(t, replayed)
}

// fakeStore is an in-memory LeaseStore with its own clock.
type fakeStore struct {
	mu      sync.Mutex
	now     time.Time
	members map[string]time.Time
	leases  map[int]lease
	down    bool
}

type lease struct {
	owner   string
	expires time.Time
	mark    time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{now: time.Unix(0, 0), members: map[string]time.Time{}, leases: map[int]lease{}}
}

func (s *fakeStore) Renew(_ context.Context, m string, ttl time.Duration, marks map[int]time.Time) ([]string, []int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, nil, fmt.Errorf("store down")
	}
	s.members[m] = s.now.Add(ttl)
	var held []int
	for p, l := range s.leases {
		if l.owner == m {
			l.expires = s.now.Add(ttl)
			if t, ok := marks[p]; ok {
				l.mark = t
			}
			s.leases[p] = l
			held = append(held, p)
		}
	}
	var live []string
	for x, exp := range s.members {
		if exp.After(s.now) {
			live = append(live, x)
		}
	}
	sort.Strings(live)
	return live, held, nil
}

func (s *fakeStore) Acquire(_ context.Context, m string, parts []int, ttl time.Duration) (map[int]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, fmt.Errorf("store down")
	}
	got := map[int]time.Time{}
	for _, p := range parts {
		l := s.leases[p]
		if l.owner == "" || l.owner == m || !l.expires.After(s.now) {
			l.owner, l.expires = m, s.now.Add(ttl)
			s.leases[p] = l
			got[p] = l.mark
		}
	}
	return got, nil
}

func (s *fakeStore) Release(_ context.Context, m string, parts []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		if l := s.leases[p]; l.owner == m {
			l.owner = ""
			s.leases[p] = l
		}
	}
	return nil
}

func (s *fakeStore) Leave(ctx context.Context, m string) error {
	s.mu.Lock()
	var mine []int
	for p, l := range s.leases {
		if l.owner == m {
			mine = append(mine, p)
		}
	}
	delete(s.members, m)
	s.mu.Unlock()
	return s.Release(ctx, m, mine)
}

func (s *fakeStore) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// recorder is a Handler that records what it holds.
type recorder struct {
	mu    sync.Mutex
	held  map[int]time.Time
	gains int
}

func (r *recorder) Gain(_ context.Context, p int, mark time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[p] = mark
	r.gains++
	return nil
}

func (r *recorder) Lose(p int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.held, p)
}

func (r *recorder) Marks() map[int]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]time.Time{}
	for p := range r.held {
		out[p] = time.Unix(int64(1000+p), 0)
	}
	return out
}

func TestManagerSharesAndHandsOver(t *testing.T) {
	st := newFakeStore()
	ctx := context.Background()
	const n = 16
	mk := func(name string) (*Manager, *recorder) {
		h := &recorder{held: map[int]time.Time{}}
		m, err := NewManager(ManagerConfig{Store: st, Handler: h, Member: name, Partitions: n, TTL: 3 * time.Second})
		require.NoError(t, err)
		return m, h
	}
	a, ha := mk("a")
	b, hb := mk("b")
	a.Start(ctx)
	require.Len(t, a.Owned(), n, "alone, a takes every partition")
	b.Start(ctx) // b sees two members but a still holds everything
	require.Empty(t, b.Owned())
	a.tick(ctx) // a hands over b's share
	b.tick(ctx) // b takes it
	require.Equal(t, n, len(a.Owned())+len(b.Owned()))
	require.NotEmpty(t, b.Owned())
	for _, p := range b.Owned() {
		require.Equal(t, time.Unix(int64(1000+p), 0), hb.held[p], "b rebuilds from a's mark")
	}

	// b dies: after its lease expires, a takes everything back.
	st.advance(2 * time.Second)
	a.tick(ctx)
	require.Less(t, len(a.Owned()), n, "b's leases have not expired yet")
	st.advance(2 * time.Second)
	a.tick(ctx)
	require.Len(t, a.Owned(), n)
	require.Len(t, ha.held, n)

	// The store goes away: a keeps its partitions for a TTL, then stops.
	st.mu.Lock()
	st.down = true
	st.mu.Unlock()
	a.tick(ctx)
	require.Len(t, a.Owned(), n, "kept while the leases may still hold")
	a.renewed = time.Now().Add(-4 * time.Second)
	a.tick(ctx)
	require.Empty(t, a.Owned(), "stopped once the leases may have moved")
	require.Empty(t, ha.held)
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	a.tick(ctx)
	require.Len(t, a.Owned(), n, "taken again when the store answers")
	require.NoError(t, ctxRun(a))
	st.mu.Lock()
	defer st.mu.Unlock()
	for p, l := range st.leases {
		require.Equal(t, "", l.owner, "partition %d released on leave", p)
	}
}

// ctxRun runs the manager with a cancelled context: it leaves at once.
func ctxRun(m *Manager) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return m.Run(ctx)
}
