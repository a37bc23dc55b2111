package dispatch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

var skillNames = []string{"vibration", "electrical", "hydraulic", "pneumatic"}

// randomInstance builds a seeded batch in a box of about 100 × 100 km.
func randomInstance(rng *rand.Rand, nOrders, nEng int) ([]Order, []Engineer) {
	pt := func() Point { return Point{Lat: 48 + rng.Float64(), Lon: 11 + rng.Float64()*1.4} }
	orders := make([]Order, nOrders)
	for i := range orders {
		sk := map[string]int{}
		for range rng.IntN(3) {
			sk[skillNames[rng.IntN(len(skillNames))]] = 1 + rng.IntN(3)
		}
		var due time.Time
		if rng.IntN(5) > 0 {
			due = t0.Add(time.Duration(30+rng.IntN(60*24)) * time.Minute)
		}
		orders[i] = Order{
			ID:       fmt.Sprintf("o%04d", i),
			Priority: 1 + rng.IntN(4),
			Skills:   sk,
			Location: pt(),
			DueAt:    due,
			Duration: time.Duration(30+rng.IntN(180)) * time.Minute,
		}
		if rng.IntN(10) == 0 && nEng > 0 {
			orders[i].Exclude = []string{fmt.Sprintf("e%03d", rng.IntN(nEng))}
		}
	}
	engs := make([]Engineer, nEng)
	for j := range engs {
		sk := map[string]int{}
		for _, s := range skillNames {
			if rng.IntN(3) > 0 {
				sk[s] = 1 + rng.IntN(3)
			}
		}
		var av []Interval
		start := t0.Add(time.Duration(rng.IntN(24*60)-8*60) * time.Minute)
		for d := range 3 {
			s := start.Add(time.Duration(d) * 24 * time.Hour)
			av = append(av, Interval{Start: s, End: s.Add(8 * time.Hour)})
		}
		maxOpen := 1 + rng.IntN(4)
		engs[j] = Engineer{
			ID:        fmt.Sprintf("e%03d", j),
			Skills:    sk,
			Location:  pt(),
			Available: av,
			Open:      rng.IntN(maxOpen + 1),
			MaxOpen:   maxOpen,
		}
	}
	return orders, engs
}

// exhaustive finds the optimum by depth-first search over every
// order's choice (each engineer with spare capacity, or unassigned),
// pruning only branches whose cost already exceeds the best found plus an
// admissible lower bound of the rest.
func exhaustive(p *problem) float64 {
	n := len(p.orders)
	lb := make([]float64, n+1) // lower bound of orders i..n-1
	for i := n - 1; i >= 0; i-- {
		m := p.penalty[i]
		for _, j := range p.feasible[i] {
			m = math.Min(m, p.base[i][j]+p.slotCost(int(j), 0))
		}
		lb[i] = lb[i+1] + m
	}
	used := make([]int, len(p.engineers))
	best := math.Inf(1)
	var rec func(i int, cost float64)
	rec = func(i int, cost float64) {
		if cost+lb[i] >= best-1e-9 {
			return
		}
		if i == n {
			best = cost
			return
		}
		for _, j32 := range p.feasible[i] {
			j := int(j32)
			if used[j] >= p.capacity[j] {
				continue
			}
			c := p.base[i][j] + p.slotCost(j, used[j])
			used[j]++
			rec(i+1, cost+c)
			used[j]--
		}
		rec(i+1, cost+p.penalty[i])
	}
	rec(0, 0)
	return best
}

func checkPlan(t *testing.T, p *problem, plan Plan) {
	t.Helper()
	load := map[string]int{}
	for _, c := range plan.Choices {
		if c.EngineerID != "" {
			load[c.EngineerID]++
		}
	}
	for j, e := range p.engineers {
		require.LessOrEqual(t, load[e.ID], p.capacity[j], "engineer %s over capacity", e.ID)
	}
	for i, c := range plan.Choices {
		require.Equal(t, p.orders[i].ID, c.OrderID)
		if c.EngineerID == "" {
			continue
		}
		ok := false
		for _, j := range p.feasible[i] {
			if p.engineers[j].ID == c.EngineerID {
				ok = true
			}
		}
		require.True(t, ok, "order %s given to infeasible engineer %s", c.OrderID, c.EngineerID)
		require.NotEmpty(t, c.Why)
	}
}

func TestSolveMatchesExhaustiveOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := DefaultConfig()
	for k := range 1500 {
		nO, nE := 1+rng.IntN(8), 1+rng.IntN(8)
		if k%4 == 0 {
			nO, nE = 8, 8
		}
		orders, engs := randomInstance(rng, nO, nE)
		if k%3 == 0 { // many unassignable: tight capacity
			for j := range engs {
				engs[j].MaxOpen = engs[j].Open + rng.IntN(2)
			}
		}
		p, err := newProblem(cfg, t0, orders, engs)
		require.NoError(t, err)
		want := exhaustive(p)
		plan, err := Solve(cfg, t0, orders, engs)
		require.NoError(t, err)
		checkPlan(t, p, plan)
		if math.Abs(plan.TotalCost-want) > 1e-6*math.Max(1, want) {
			t.Fatalf("instance %d (%d×%d): got total cost %.6f, want exhaustive optimum %.6f", k, nO, nE, plan.TotalCost, want)
		}
	}
}

// TestPrunedSolveIsExact forces the arc pruning to start with very few
// arcs per order, so the reduced-cost check must add many and re-solve,
// and compares with solving on every arc at once.
func TestPrunedSolveIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := DefaultConfig()
	resolved := 0
	for k := range 60 {
		orders, engs := randomInstance(rng, 20+rng.IntN(60), 10+rng.IntN(40))
		if k%2 == 0 {
			for j := range engs {
				engs[j].MaxOpen = engs[j].Open + 1 + rng.IntN(3)
				engs[j].Available = []Interval{{Start: t0.Add(-time.Hour), End: t0.Add(48 * time.Hour)}}
			}
		}
		full, err := newProblem(cfg, t0, orders, engs)
		require.NoError(t, err)
		full.pruneK = 1 << 30
		want := full.objective(full.solve())
		require.Equal(t, 1, full.rounds)
		for _, pk := range []int{1, 2, 5} {
			p, err := newProblem(cfg, t0, orders, engs)
			require.NoError(t, err)
			p.pruneK = pk
			got := p.objective(p.solve())
			if math.Abs(got-want) > 1e-6*math.Max(1, want) {
				t.Fatalf("instance %d, k=%d: pruned total %.6f, full %.6f", k, pk, got, want)
			}
			if p.rounds > 1 {
				resolved++
			}
		}
	}
	require.Greater(t, resolved, 20, "the check must have had to add arcs")
}

func TestSolveNotWorseThanGreedy200x50(t *testing.T) {
	cfg := DefaultConfig()
	var sumOpt, sumGreedy float64
	var assOpt, assGreedy int
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 99))
		orders, engs := randomInstance(rng, 200, 50)
		opt, err := Solve(cfg, t0, orders, engs)
		require.NoError(t, err)
		gr, err := Greedy(cfg, t0, orders, engs)
		require.NoError(t, err)
		p, err := newProblem(cfg, t0, orders, engs)
		require.NoError(t, err)
		checkPlan(t, p, opt)
		checkPlan(t, p, gr)
		require.LessOrEqual(t, opt.TotalCost, gr.TotalCost+1e-6, "seed %d: optimum worse than greedy", seed)
		require.GreaterOrEqual(t, opt.Assigned, gr.Assigned, "seed %d", seed)
		// Compare the cost of the orders both assign the same count of:
		// report assigned-only costs too.
		a, b := assignedCost(opt), assignedCost(gr)
		t.Logf("seed %d: optimum total %.0f (%d assigned, assigned cost %.0f); greedy total %.0f (%d assigned, assigned cost %.0f)",
			seed, opt.TotalCost, opt.Assigned, a, gr.TotalCost, gr.Assigned, b)
		// A fairer greedy: most urgent first, then earliest due.
		sorted := slices.Clone(orders)
		slices.SortStableFunc(sorted, func(a, b Order) int {
			if a.Priority != b.Priority {
				return a.Priority - b.Priority
			}
			return a.DueAt.Compare(b.DueAt)
		})
		gp, err := Greedy(cfg, t0, sorted, engs)
		require.NoError(t, err)
		require.LessOrEqual(t, opt.TotalCost, gp.TotalCost+1e-6)
		t.Logf("seed %d: priority-sorted greedy total %.0f (%d assigned, assigned cost %.0f)", seed, gp.TotalCost, gp.Assigned, assignedCost(gp))
		sumOpt += opt.TotalCost
		sumGreedy += gr.TotalCost
		assOpt += opt.Assigned
		assGreedy += gr.Assigned
	}
	t.Logf("5 instances 200×50: optimum %.0f vs greedy %.0f (%.1f%% lower), assigned %d vs %d",
		sumOpt, sumGreedy, 100*(sumGreedy-sumOpt)/sumGreedy, assOpt, assGreedy)
}

// TestSolveAmpleCapacity200x50 compares with the greedy baseline when
// every order can be assigned, so totals are pure travel, lateness and load.
func TestSolveAmpleCapacity200x50(t *testing.T) {
	cfg := DefaultConfig()
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 7))
		orders, engs := randomInstance(rng, 200, 50)
		for j := range engs {
			engs[j].MaxOpen = engs[j].Open + 8
			engs[j].Available = []Interval{{Start: t0.Add(-time.Hour), End: t0.Add(72 * time.Hour)}}
			for _, s := range skillNames {
				engs[j].Skills[s] = 3
			}
		}
		opt, err := Solve(cfg, t0, orders, engs)
		require.NoError(t, err)
		gr, err := Greedy(cfg, t0, orders, engs)
		require.NoError(t, err)
		require.Equal(t, 200, opt.Assigned)
		require.LessOrEqual(t, opt.TotalCost, gr.TotalCost+1e-6)
		t.Logf("seed %d, all assignable: optimum %.0f vs greedy %.0f (%.1f%% lower)",
			seed, opt.TotalCost, gr.TotalCost, 100*(gr.TotalCost-opt.TotalCost)/gr.TotalCost)
	}
}

func assignedCost(p Plan) float64 {
	s := 0.0
	for _, c := range p.Choices {
		if c.Cost != nil {
			s += c.Cost.Total
		}
	}
	return s
}

func TestFeasibility(t *testing.T) {
	cfg := DefaultConfig()
	here := Point{Lat: 48.1, Lon: 11.5}
	shift := []Interval{{Start: t0.Add(-time.Hour), End: t0.Add(7 * time.Hour)}}
	later := []Interval{{Start: t0.Add(20 * time.Hour), End: t0.Add(28 * time.Hour)}}
	order := Order{ID: "wo", Priority: 2, Skills: map[string]int{"vibration": 2}, Location: here,
		DueAt: t0.Add(4 * time.Hour), Duration: time.Hour}
	tests := []struct {
		name   string
		eng    Engineer
		order  Order
		want   string
		reason Reason
	}{
		{"fits", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: shift, MaxOpen: 3}, order, "a", ""},
		{"level too low", Engineer{ID: "a", Skills: map[string]int{"vibration": 1}, Location: here, Available: shift, MaxOpen: 3}, order, "", ReasonSkill},
		{"skill missing", Engineer{ID: "a", Skills: map[string]int{"electrical": 3}, Location: here, Available: shift, MaxOpen: 3}, order, "", ReasonSkill},
		{"shift starts after due", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: later, MaxOpen: 3}, order, "", ReasonShift},
		{"never on shift", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, MaxOpen: 3}, order, "", ReasonShift},
		{"full", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: shift, Open: 3, MaxOpen: 3}, order, "", ReasonCapacity},
		{"declined", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: shift, MaxOpen: 3},
			Order{ID: "wo", Priority: 2, Location: here, Exclude: []string{"a"}}, "", ReasonDeclined},
		{"overdue: later shift within horizon", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: later, MaxOpen: 1},
			Order{ID: "wo", Priority: 2, Skills: map[string]int{"vibration": 1}, Location: here, DueAt: t0.Add(-time.Hour)}, "a", ""},
		{"no due: later shift within horizon", Engineer{ID: "a", Skills: map[string]int{"vibration": 3}, Location: here, Available: later, MaxOpen: 1},
			Order{ID: "wo", Priority: 4, Skills: map[string]int{"vibration": 1}, Location: here}, "a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Solve(cfg, t0, []Order{tt.order}, []Engineer{tt.eng})
			require.NoError(t, err)
			c := plan.Choices[0]
			if c.EngineerID != tt.want {
				t.Fatalf("got engineer %q, want %q (%s)", c.EngineerID, tt.want, c.Why)
			}
			if tt.reason != "" {
				require.Equal(t, 1, c.Excluded[tt.reason], "excluded: %v", c.Excluded)
				require.Contains(t, c.Why, string(tt.reason))
			}
		})
	}
}

func TestCostModel(t *testing.T) {
	cfg := DefaultConfig()
	a := Point{Lat: 48.0, Lon: 11.0}
	b := Point{Lat: 48.5, Lon: 11.0} // ~55.6 km north
	km := DistanceKm(a, b)
	require.InDelta(t, 55.6, km, 0.2)
	require.InDelta(t, km*1.3/50*60, cfg.TravelTime(a, b).Minutes(), 0.01)

	// Late by 30 minutes at P1: lateness 30×8.
	eng := Engineer{ID: "e", Location: a, Available: []Interval{{Start: t0, End: t0.Add(10 * time.Hour)}}, Open: 1, MaxOpen: 2}
	travel := cfg.TravelTime(a, b)
	o := Order{ID: "o", Priority: 1, Location: b, Duration: time.Hour, DueAt: t0.Add(travel + 30*time.Minute)}
	plan, err := Solve(cfg, t0, []Order{o}, []Engineer{eng})
	require.NoError(t, err)
	c := plan.Choices[0].Cost
	require.NotNil(t, c)
	require.InDelta(t, -30, c.SLASlackMinutes, 1e-6)
	require.InDelta(t, 240, c.LatenessCost, 1e-6)
	require.InDelta(t, 30, c.LoadCost, 1e-6) // one open job × 30
	require.InDelta(t, travel.Minutes()+240+30, c.Total, 1e-6)
	require.InDelta(t, c.Total, plan.TotalCost, 1e-6)
}

func TestBatchBeatsFirstCome(t *testing.T) {
	// Two orders, two engineers. Order X is near both; order Y is near A
	// only. First-come greedy gives A to X and sends B far to Y; the
	// batch gives A to Y and B to X.
	cfg := DefaultConfig()
	cfg.LoadWeight = 0
	av := []Interval{{Start: t0, End: t0.Add(10 * time.Hour)}}
	engs := []Engineer{
		{ID: "A", Location: Point{48.0, 11.0}, Available: av, MaxOpen: 1},
		{ID: "B", Location: Point{48.0, 11.1}, Available: av, MaxOpen: 1},
	}
	orders := []Order{
		{ID: "X", Priority: 3, Location: Point{48.0, 11.04}},
		{ID: "Y", Priority: 3, Location: Point{48.0, 10.6}},
	}
	opt, err := Solve(cfg, t0, orders, engs)
	require.NoError(t, err)
	gr, err := Greedy(cfg, t0, orders, engs)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"X": "B", "Y": "A"}, opt.Assignment())
	require.Equal(t, map[string]string{"X": "A", "Y": "B"}, gr.Assignment())
	require.Less(t, opt.TotalCost, gr.TotalCost)
	x := opt.Choices[0]
	require.Equal(t, "A", x.Candidates[0].EngineerID, "A is X's cheapest alone")
	require.Contains(t, x.Why, "A (")
	require.Contains(t, x.Why, "[Y]")
	require.Contains(t, opt.Choices[1].Why, "cheapest")
}

func TestLoadBalancing(t *testing.T) {
	// Three identical orders next to engineer A; B is 10 km away. Without
	// a load term A takes all; with it the work spreads.
	av := []Interval{{Start: t0, End: t0.Add(10 * time.Hour)}}
	engs := []Engineer{
		{ID: "A", Location: Point{48.0, 11.0}, Available: av, MaxOpen: 5},
		{ID: "B", Location: Point{48.0, 11.135}, Available: av, MaxOpen: 5},
	}
	var orders []Order
	for i := range 3 {
		orders = append(orders, Order{ID: fmt.Sprint(i), Priority: 3, Location: Point{48.0, 11.0}})
	}
	cfg := DefaultConfig()
	cfg.LoadWeight = 0
	plan, err := Solve(cfg, t0, orders, engs)
	require.NoError(t, err)
	require.Equal(t, 3, countFor(plan, "A"))
	cfg.LoadWeight = 30
	plan, err = Solve(cfg, t0, orders, engs)
	require.NoError(t, err)
	require.Equal(t, 2, countFor(plan, "A"), "travel to B ~14 min < second load step of 30")
	require.Equal(t, 1, countFor(plan, "B"))
}

func countFor(p Plan, id string) int {
	n := 0
	for _, c := range p.Choices {
		if c.EngineerID == id {
			n++
		}
	}
	return n
}

func TestPriorityWinsScarceEngineer(t *testing.T) {
	av := []Interval{{Start: t0, End: t0.Add(10 * time.Hour)}}
	engs := []Engineer{{ID: "A", Location: Point{48, 11}, Available: av, MaxOpen: 1}}
	orders := []Order{
		{ID: "low", Priority: 4, Location: Point{48, 11}},
		{ID: "high", Priority: 1, Location: Point{48.5, 11}},
	}
	plan, err := Solve(DefaultConfig(), t0, orders, engs)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"high": "A"}, plan.Assignment())
	require.Equal(t, 1, plan.Unassigned)
	require.True(t, strings.Contains(plan.Choices[0].Why, "feasible engineers are filled"), plan.Choices[0].Why)
}

func TestBadInput(t *testing.T) {
	cfg := DefaultConfig()
	_, err := Solve(cfg, t0, []Order{{ID: "a"}, {ID: "a"}}, nil)
	require.Error(t, err)
	_, err = Solve(cfg, t0, nil, []Engineer{{ID: ""}})
	require.Error(t, err)
	bad := cfg
	bad.SpeedKmh = 0
	_, err = Solve(bad, t0, nil, nil)
	require.Error(t, err)
	bad = cfg
	bad.RoadFactor = math.NaN()
	_, err = Solve(bad, t0, nil, nil)
	require.Error(t, err)
	plan, err := Solve(cfg, t0, nil, nil)
	require.NoError(t, err)
	require.Empty(t, plan.Choices)
}

func benchInstance(nO, nE int) ([]Order, []Engineer) {
	rng := rand.New(rand.NewPCG(42, 42))
	orders, engs := randomInstance(rng, nO, nE)
	for j := range engs {
		engs[j].Open = rng.IntN(3)
		engs[j].MaxOpen = engs[j].Open + 4 + rng.IntN(5) // ~2,400 slots for 2,000 orders
	}
	return orders, engs
}

// cpuTime is the process's user+system CPU time: on a shared machine
// wall time per op swings with the load, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSolve2000x300 is the target: 2,000 orders × 300
// engineers in under a second.
func BenchmarkSolve2000x300(b *testing.B) {
	orders, engs := benchInstance(2000, 300)
	b.ResetTimer()
	c0, n := cpuTime(), 0
	for b.Loop() {
		plan, err := Solve(DefaultConfig(), t0, orders, engs)
		if err != nil {
			b.Fatal(err)
		}
		n++
		b.ReportMetric(float64(plan.Assigned), "assigned")
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(n)/1e6, "cpu-ms/op")
	p, _ := newProblem(DefaultConfig(), t0, orders, engs)
	p.solve()
	b.ReportMetric(float64(p.rounds), "rounds")
}

// BenchmarkGreedy2000x300 is the first-come baseline on the same batch.
func BenchmarkGreedy2000x300(b *testing.B) {
	orders, engs := benchInstance(2000, 300)
	b.ResetTimer()
	c0, n := cpuTime(), 0
	for b.Loop() {
		if _, err := Greedy(DefaultConfig(), t0, orders, engs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(n)/1e6, "cpu-ms/op")
}

// BenchmarkSolve200x50 is the comparison instance size.
func BenchmarkSolve200x50(b *testing.B) {
	orders, engs := benchInstance(200, 50)
	b.ResetTimer()
	c0, n := cpuTime(), 0
	for b.Loop() {
		if _, err := Solve(DefaultConfig(), t0, orders, engs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(n)/1e6, "cpu-ms/op")
}
