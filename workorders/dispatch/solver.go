// Package dispatch owns the pure dispatch solver: which engineer gets which
// approved, unassigned work order. It decides feasibility (skills with
// levels, on shift before the due time, capacity), prices every feasible
// pair (travel time, lateness against the SLA weighted by priority, load
// balancing) and solves the batch as one minimum-cost assignment, then
// explains each choice. It does no I/O; the workorders store feeds it.
package dispatch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Point is a position on the earth in degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Valid reports whether p is a real latitude/longitude.
func (p Point) Valid() bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) &&
		p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between a and b.
func DistanceKm(a, b Point) float64 {
	const rad = math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	s1 := math.Sin(dLat / 2)
	s2 := math.Sin(dLon / 2)
	h := s1*s1 + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*s2*s2
	if h > 1 {
		h = 1
	}
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(h))
}

// Interval is a half-open span of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Engineer is what the solver needs to know about one engineer.
type Engineer struct {
	ID string
	// Skills maps a skill to the engineer's level in it (1 = basic).
	Skills map[string]int
	// Location is where the engineer is now (or the home base).
	Location Point
	// Available lists the engineer's on-shift intervals from now on,
	// sorted, with time off already removed (see Availability). An empty
	// list means never on shift within the planning horizon.
	Available []Interval
	// Open is the number of jobs the engineer already holds (assigned,
	// accepted, in progress, on hold).
	Open int
	// MaxOpen is the maximum number of open jobs; the engineer can take
	// MaxOpen-Open more orders in this batch.
	MaxOpen int
}

// Order is what the solver needs to know about one approved, unassigned
// work order.
type Order struct {
	ID string
	// Priority is 1 (P1, most urgent) to 4 (P4).
	Priority int
	// Skills maps each required skill to the minimum level.
	Skills map[string]int
	// Location is the asset's position.
	Location Point
	// Unlocated marks an order whose position is unknown: travel counts
	// as zero for every engineer.
	Unlocated bool
	// DueAt is the SLA deadline (zero: none; Config.Horizon applies).
	DueAt time.Time
	// Duration is the estimated working time on site.
	Duration time.Duration
	// Exclude lists engineers who must not get this order (they declined
	// it).
	Exclude []string
}

// Config holds the cost model. The zero value is not useful; start from
// DefaultConfig.
type Config struct {
	// RoadFactor multiplies great-circle distance to approximate road
	// distance.
	RoadFactor float64
	// SpeedKmh is the average travel speed.
	SpeedKmh float64
	// LatenessWeight is the cost per minute of lateness against DueAt, per
	// priority P1..P4 (index 0 is P1).
	LatenessWeight [4]float64
	// LoadWeight is the cost (in minutes) per job the engineer already
	// holds, counting the orders given to the engineer earlier in the same
	// batch, so work spreads over the team.
	LoadWeight float64
	// UnassignedCost is the cost of leaving an order unassigned, per
	// priority; it is far above any assignment so the solver assigns as
	// many orders as it can, the more urgent ones first.
	UnassignedCost [4]float64
	// Horizon bounds how far ahead an engineer's shift may start for an
	// order without a due time.
	Horizon time.Duration
	// Candidates is how many candidates each explanation lists.
	Candidates int
}

// DefaultConfig is a sensible cost model: 1.3 road factor, 50 km/h, a
// lateness weight of 8/4/2/1 per minute for P1..P4, 30 minutes per open job.
func DefaultConfig() Config {
	return Config{
		RoadFactor:     1.3,
		SpeedKmh:       50,
		LatenessWeight: [4]float64{8, 4, 2, 1},
		LoadWeight:     30,
		UnassignedCost: [4]float64{8e6, 4e6, 2e6, 1e6},
		Horizon:        7 * 24 * time.Hour,
		Candidates:     5,
	}
}

// Validate reports a configuration the solver cannot use.
func (c Config) Validate() error {
	switch {
	case !(c.RoadFactor >= 1) || math.IsInf(c.RoadFactor, 0):
		return errors.New("road factor must be at least 1")
	case !(c.SpeedKmh > 0) || math.IsInf(c.SpeedKmh, 0):
		return errors.New("speed must be positive")
	case !(c.LoadWeight >= 0) || math.IsInf(c.LoadWeight, 0):
		return errors.New("load weight must not be negative")
	case c.Horizon <= 0:
		return errors.New("horizon must be positive")
	}
	for i := range 4 {
		if !(c.LatenessWeight[i] >= 0) || math.IsInf(c.LatenessWeight[i], 0) {
			return fmt.Errorf("lateness weight of P%d must not be negative", i+1)
		}
		if !(c.UnassignedCost[i] > 0) || math.IsInf(c.UnassignedCost[i], 0) {
			return fmt.Errorf("unassigned cost of P%d must be positive", i+1)
		}
	}
	return nil
}

// TravelTime is the estimated driving time between a and b.
func (c Config) TravelTime(a, b Point) time.Duration {
	km := DistanceKm(a, b) * c.RoadFactor
	return time.Duration(km / c.SpeedKmh * float64(time.Hour))
}

func prioIndex(p int) int {
	if p < 1 {
		return 0
	}
	if p > 4 {
		return 3
	}
	return p - 1
}

// Reason says why an engineer cannot take an order.
type Reason string

// Reasons an engineer is not a candidate.
const (
	ReasonSkill    Reason = "missing_skill"
	ReasonShift    Reason = "not_on_shift_before_due"
	ReasonCapacity Reason = "at_capacity"
	ReasonDeclined Reason = "declined"
)

// Cost is the price of giving one order to one engineer, in minutes.
type Cost struct {
	EngineerID string `json:"engineer_id"`
	// TravelMinutes is the estimated driving time.
	TravelMinutes float64 `json:"travel_minutes"`
	// StartAt is when the engineer's shift lets them set off.
	StartAt time.Time `json:"start_at"`
	// ArriveAt and FinishAt follow from StartAt, travel and duration.
	ArriveAt time.Time `json:"arrive_at"`
	FinishAt time.Time `json:"finish_at"`
	// SLASlackMinutes is DueAt minus FinishAt (negative: late); zero when
	// the order has no due time.
	SLASlackMinutes float64 `json:"sla_slack_minutes"`
	// LatenessCost is minutes late times the priority's weight.
	LatenessCost float64 `json:"lateness_cost"`
	// LoadCost is the load-balancing term for the slot the engineer would
	// fill (open jobs, plus orders given earlier in this batch).
	LoadCost float64 `json:"load_cost"`
	// Total is the sum of travel, lateness and load cost.
	Total float64 `json:"total"`
}

// Choice is the solver's decision for one order and why.
type Choice struct {
	OrderID string `json:"order_id"`
	// EngineerID is empty when the order stays unassigned.
	EngineerID string `json:"engineer_id,omitempty"`
	// Cost is the winner's cost (nil when unassigned).
	Cost *Cost `json:"cost,omitempty"`
	// Candidates are the cheapest feasible engineers for this order taken
	// alone (load term at the engineer's current load), best first.
	Candidates []Cost `json:"candidates"`
	// Feasible counts all feasible engineers.
	Feasible int `json:"feasible"`
	// Excluded counts infeasible engineers per reason.
	Excluded map[Reason]int `json:"excluded,omitempty"`
	// Why explains the decision in one or two sentences.
	Why string `json:"why"`
}

// Plan is the solution of one batch.
type Plan struct {
	Choices []Choice `json:"choices"`
	// TotalCost is the objective: the sum of the assigned costs plus the
	// unassigned penalties.
	TotalCost float64 `json:"total_cost"`
	// Assigned and Unassigned count orders.
	Assigned   int `json:"assigned"`
	Unassigned int `json:"unassigned"`
}

// Assignment returns the plan as order ID → engineer ID (assigned only).
func (p Plan) Assignment() map[string]string {
	m := make(map[string]string, p.Assigned)
	for _, c := range p.Choices {
		if c.EngineerID != "" {
			m[c.OrderID] = c.EngineerID
		}
	}
	return m
}

// problem is the priced batch: the order × engineer base cost (travel plus
// lateness; +Inf when infeasible), the slot cost of each engineer and the
// unassigned penalty of each order.
type problem struct {
	cfg       Config
	orders    []Order
	engineers []Engineer
	base      [][]float64 // [order][engineer]; +Inf when infeasible
	detail    func(o, e int) Cost
	capacity  []int
	penalty   []float64
	excluded  []map[Reason]int
	feasible  [][]int32   // per order, feasible engineer indices
	rounds    int         // solve rounds (1 + re-solves after the arc check)
	pruneK    int         // arcs per order in the first round
	fcost     [][]float64 // per order, base cost of each feasible engineer
}

// slotCost is the load term for the k-th order (0-based) given to engineer
// e in this batch. It rises with k, so the cost of an engineer's slots is
// convex and the assignment spreads work.
func (p *problem) slotCost(e, k int) float64 {
	return p.cfg.LoadWeight * float64(p.engineers[e].Open+k)
}

// firstOnShift returns the earliest time at or after now at which the
// engineer is on shift, and false when never within the intervals.
func firstOnShift(av []Interval, now time.Time) (time.Time, bool) {
	for _, iv := range av {
		if !iv.End.After(now) {
			continue
		}
		if iv.Start.After(now) {
			return iv.Start, true
		}
		return now, true
	}
	return time.Time{}, false
}

func newProblem(cfg Config, now time.Time, orders []Order, engineers []Engineer) (*problem, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seenO := make(map[string]bool, len(orders))
	for _, o := range orders {
		if o.ID == "" || seenO[o.ID] {
			return nil, fmt.Errorf("order id %q is empty or repeated", o.ID)
		}
		seenO[o.ID] = true
		if o.Duration < 0 {
			return nil, fmt.Errorf("order %s: negative duration", o.ID)
		}
	}
	seenE := make(map[string]bool, len(engineers))
	for _, e := range engineers {
		if e.ID == "" || seenE[e.ID] {
			return nil, fmt.Errorf("engineer id %q is empty or repeated", e.ID)
		}
		seenE[e.ID] = true
	}
	p := &problem{
		cfg:       cfg,
		orders:    orders,
		engineers: engineers,
		base:      make([][]float64, len(orders)),
		capacity:  make([]int, len(engineers)),
		penalty:   make([]float64, len(orders)),
		excluded:  make([]map[Reason]int, len(orders)),
		feasible:  make([][]int32, len(orders)),
		fcost:     make([][]float64, len(orders)),
		pruneK:    defaultPruneK,
	}
	starts := make([]time.Time, len(engineers))
	onShift := make([]bool, len(engineers))
	for j, e := range engineers {
		p.capacity[j] = max(e.MaxOpen-e.Open, 0)
		starts[j], onShift[j] = firstOnShift(e.Available, now)
	}
	// Skills become small integers and each engineer a level vector, so
	// the 600,000 checks of a large batch are not map look-ups.
	skillIdx := map[string]int{}
	for _, o := range orders {
		for sk := range o.Skills {
			if _, ok := skillIdx[sk]; !ok {
				skillIdx[sk] = len(skillIdx)
			}
		}
	}
	levels := make([]int, len(engineers)*len(skillIdx))
	for j, e := range engineers {
		for sk, lvl := range e.Skills {
			if k, ok := skillIdx[sk]; ok {
				levels[j*len(skillIdx)+k] = lvl
			}
		}
	}
	type need struct{ k, lvl int }
	var needs []need
	cell := make([]float64, len(orders)*len(engineers))
	for i, o := range orders {
		pi := prioIndex(o.Priority)
		p.penalty[i] = cfg.UnassignedCost[pi]
		row := cell[i*len(engineers) : (i+1)*len(engineers)]
		p.base[i] = row
		var excl [4]int
		deadline := ShiftDeadline(cfg, now, o.DueAt)
		needs = needs[:0]
		for sk, lvl := range o.Skills {
			needs = append(needs, need{skillIdx[sk], max(lvl, 1)})
		}
	engineers:
		for j, e := range engineers {
			row[j] = math.Inf(1)
			if len(o.Exclude) > 0 && contains(o.Exclude, e.ID) {
				excl[0]++
				continue
			}
			for _, nd := range needs {
				if levels[j*len(skillIdx)+nd.k] < nd.lvl {
					excl[1]++
					continue engineers
				}
			}
			if !onShift[j] || !starts[j].Before(deadline) {
				excl[2]++
				continue
			}
			if p.capacity[j] == 0 {
				excl[3]++
				continue
			}
			row[j] = p.price(o, e, starts[j]).Total
			p.feasible[i] = append(p.feasible[i], int32(j))
			p.fcost[i] = append(p.fcost[i], row[j])
		}
		for k, r := range []Reason{ReasonDeclined, ReasonSkill, ReasonShift, ReasonCapacity} {
			if excl[k] > 0 {
				if p.excluded[i] == nil {
					p.excluded[i] = map[Reason]int{}
				}
				p.excluded[i][r] = excl[k]
			}
		}
	}
	p.detail = func(i, j int) Cost { return p.price(orders[i], engineers[j], starts[j]) }
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// price is travel plus lateness for one pair (the load term is added per
// slot; LoadCost here is at the engineer's current load).
func (p *problem) price(o Order, e Engineer, start time.Time) Cost {
	var travel time.Duration
	if !o.Unlocated {
		travel = p.cfg.TravelTime(e.Location, o.Location)
	}
	arrive := start.Add(travel)
	finish := arrive.Add(o.Duration)
	c := Cost{
		EngineerID:    e.ID,
		TravelMinutes: travel.Minutes(),
		StartAt:       start,
		ArriveAt:      arrive,
		FinishAt:      finish,
	}
	if !o.DueAt.IsZero() {
		slack := o.DueAt.Sub(finish)
		c.SLASlackMinutes = slack.Minutes()
		if slack < 0 {
			c.LatenessCost = -slack.Minutes() * p.cfg.LatenessWeight[prioIndex(o.Priority)]
		}
	}
	c.Total = c.TravelMinutes + c.LatenessCost
	return c
}

// ShiftDeadline is when an engineer's shift must start at the latest to
// be a candidate for an order due at due: the due time; for an order
// without one, or one already overdue (nobody can make it any more, and
// leaving it unassigned only makes it later), the end of the horizon, the
// lateness cost then preferring whoever starts first.
func ShiftDeadline(cfg Config, now, due time.Time) time.Time {
	if due.IsZero() || !due.After(now) {
		return now.Add(cfg.Horizon)
	}
	return due
}

// Solve assigns the batch of orders to engineers at minimum total cost:
// every feasible order × engineer pair is priced, each engineer offers as
// many slots as its spare capacity (the k-th slot costing LoadWeight ×
// (open jobs + k) more), and a minimum-cost flow (successive shortest
// paths with potentials, i.e. the Hungarian method on the sparse graph) is
// found. Orders no engineer can take stay unassigned. The result is exact,
// not greedy.
func Solve(cfg Config, now time.Time, orders []Order, engineers []Engineer) (Plan, error) {
	p, err := newProblem(cfg, now, orders, engineers)
	if err != nil {
		return Plan{}, err
	}
	assign := p.solve()
	return p.explain(assign), nil
}

// Greedy is the first-come baseline the solver is measured against: orders
// in the given sequence each take the engineer that is cheapest for them at
// that moment (including the load term of the engineer's next slot).
func Greedy(cfg Config, now time.Time, orders []Order, engineers []Engineer) (Plan, error) {
	p, err := newProblem(cfg, now, orders, engineers)
	if err != nil {
		return Plan{}, err
	}
	used := make([]int, len(engineers))
	assign := make([]int, len(orders))
	for i := range orders {
		assign[i] = -1
		best := math.Inf(1)
		for _, j32 := range p.feasible[i] {
			j := int(j32)
			if used[j] >= p.capacity[j] {
				continue
			}
			c := p.base[i][j] + p.slotCost(j, used[j])
			if c < best {
				best, assign[i] = c, j
			}
		}
		if assign[i] >= 0 {
			used[assign[i]]++
		}
	}
	return p.explain(assign), nil
}

// solve finds the minimum-cost assignment. Most orders' best engineers
// are among their cheapest few, so it first solves with each order's k
// cheapest arcs only, then checks the answer against every arc: with the
// final node potentials, an arc left out whose reduced cost is not
// negative cannot improve the solution (all residual reduced costs ≥ 0
// means no negative cycle, i.e. optimal). Arcs that fail the check are
// added and the batch is solved again, so the result is exact for the full
// problem.
func (p *problem) solve() []int {
	n, m := len(p.orders), len(p.engineers)
	arcs := make([][]int32, n)
	cost := make([][]float64, n)
	order := make([]int, 0, m)
	for i := range n {
		if len(p.feasible[i]) <= p.pruneK {
			arcs[i], cost[i] = p.feasible[i], p.fcost[i]
			continue
		}
		order = order[:0]
		for k := range p.feasible[i] {
			order = append(order, k)
		}
		fc := p.fcost[i]
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(fc[a], fc[b]) })
		for _, k := range order[:p.pruneK] {
			arcs[i] = append(arcs[i], p.feasible[i][k])
			cost[i] = append(cost[i], fc[k])
		}
	}
	in := make([]bool, m)
	for {
		assign, potO, potE := p.ssp(arcs, cost)
		added := 0
		for i := range n {
			if len(arcs[i]) == len(p.feasible[i]) {
				continue
			}
			for _, j := range arcs[i] {
				in[j] = true
			}
			for k, j := range p.feasible[i] {
				if in[j] {
					continue
				}
				rc := p.fcost[i][k] + potO[i] - potE[j]
				if rc < -1e-7*(1+math.Abs(potO[i])+math.Abs(potE[j])) {
					arcs[i] = append(arcs[i], j)
					cost[i] = append(cost[i], p.fcost[i][k])
					added++
				}
			}
			for _, j := range arcs[i] {
				in[j] = false
			}
		}
		p.rounds++
		if added == 0 {
			return assign
		}
	}
}

// defaultPruneK is how many of its cheapest engineers each order starts
// with.
const defaultPruneK = 24

// solve runs successive shortest paths. Nodes are the orders, the
// engineers and a sink T. Arcs: order→engineer (base cost, when feasible),
// engineer→T (the cost of the engineer's next free slot), order→T (the
// unassigned penalty); assigned pairs have a reverse arc engineer→order at
// minus the base cost. Orders join one at a time; each join augments along
// a shortest path from the new order to T (Dijkstra on reduced costs,
// stopped when T is settled), which keeps the flow optimal for the orders
// seen so far. T's outgoing residual arcs are never on a shortest path, so
// they are left out.
//
// An assigned order has exactly one incoming arc (from its engineer), so
// its distance is final the moment its engineer is settled: Dijkstra only
// has to choose among engineers (at most a few hundred), which it does by
// a linear scan instead of a heap.
func (p *problem) ssp(arcs [][]int32, arcCost [][]float64) (assign []int, potO, potE []float64) {
	n, m := len(p.orders), len(p.engineers)
	assign = make([]int, n) // engineer index, or -1 unassigned
	for i := range assign {
		assign[i] = -1
	}
	used := make([]int, m)
	members := make([][]int32, m) // orders assigned to each engineer
	potO = make([]float64, n)
	potE = make([]float64, m)
	const potT = 0.0 // constant: see the potential update below

	inf := math.Inf(1)
	distO := make([]float64, n)
	distE := make([]float64, m)
	doneE := make([]bool, m)
	prevO := make([]int32, n) // engineer that reached the order (reverse arc)
	prevE := make([]int32, m) // order that reached the engineer
	for j := range distE {
		distE[j] = inf
	}
	var touchedO, touchedE []int

	for _, s := range p.joinOrder() {
		// Potential of the new order keeps its out-arcs non-negative.
		ps := potT - p.penalty[s]
		for k, j32 := range arcs[s] {
			if v := potE[j32] - arcCost[s][k]; v > ps {
				ps = v
			}
		}
		potO[s] = ps

		for _, j := range touchedE {
			distE[j], doneE[j] = inf, false
		}
		touchedO, touchedE = touchedO[:0], touchedE[:0]
		distT := inf
		endO, endE := -1, -1 // the node that reached T

		// relax scans the out-arcs of order i, whose distance d is final.
		// A settled engineer's distance is at most d, so the comparison
		// with distE fails for it except through rounding; doneE is
		// checked only then, which keeps this innermost loop tight.
		relax := func(i int, d float64) {
			if assign[i] >= 0 || i == s {
				if v := d + p.penalty[i] + potO[i] - potT; v < distT {
					distT, endO, endE = v, i, -1
				}
			}
			base := d + potO[i]
			costs := arcCost[i]
			feas := arcs[i][:len(costs)]
			limit := distT
			for k, c := range costs {
				j := feas[k]
				v := base + c - potE[j]
				if v < distE[j] && v < limit && !doneE[j] {
					if distE[j] == inf {
						touchedE = append(touchedE, int(j))
					}
					distE[j], prevE[j] = v, int32(i)
				}
			}
		}
		distO[s] = 0
		touchedO = append(touchedO, s)
		relax(s, 0)
		for {
			j, d := -1, distT
			for _, x := range touchedE {
				if !doneE[x] && distE[x] < d {
					j, d = x, distE[x]
				}
			}
			if j < 0 {
				break
			}
			doneE[j] = true
			if used[j] < p.capacity[j] {
				if v := d + p.slotCost(j, used[j]) + potE[j] - potT; v < distT {
					distT, endO, endE = v, -1, j
				}
			}
			for _, i32 := range members[j] {
				i := int(i32)
				di := d - p.base[i][j] + potE[j] - potO[i]
				distO[i], prevO[i] = di, int32(j)
				touchedO = append(touchedO, i)
				if di < distT {
					relax(i, di)
				}
			}
		}

		// Update potentials: every node v gets min(dist(v), dist(T)),
		// which keeps every reduced cost non-negative. Shifting all
		// potentials by -dist(T) changes no reduced cost, so only nodes
		// closer than T need touching (and T's potential stays put).
		for _, i := range touchedO {
			if distO[i] < distT {
				potO[i] += distO[i] - distT
			}
		}
		for _, j := range touchedE {
			if doneE[j] && distE[j] < distT {
				potE[j] += distE[j] - distT
			}
		}

		// Augment along the path back from T.
		if endO >= 0 {
			if endO == s {
				continue // the new order stays unassigned
			}
			// endO was reached from its own engineer over the reverse arc:
			// it becomes unassigned and that engineer takes the order
			// before it on the path, and so on back to s.
			j := int(prevO[endO])
			removeMember(members, j, endO)
			assign[endO] = -1
			p.shiftChain(j, assign, members, prevE, prevO, s)
			continue
		}
		// Path ends engineer → T: the engineer fills its next slot.
		used[endE]++
		p.shiftChain(endE, assign, members, prevE, prevO, s)
	}
	return assign, potO, potE
}

// joinOrder is the sequence in which orders join the flow. Any sequence
// gives the optimum; joining the most constrained orders (fewest feasible
// engineers) first measured a little faster.
func (p *problem) joinOrder() []int {
	seq := make([]int, len(p.orders))
	for i := range seq {
		seq[i] = i
	}
	sort.SliceStable(seq, func(a, b int) bool { return len(p.feasible[seq[a]]) < len(p.feasible[seq[b]]) })
	return seq
}

// shiftChain walks a shortest path backwards from engineer j, which gains
// the order that reached it; that order leaves the engineer it came from,
// and so on until the new order s.
func (p *problem) shiftChain(j int, assign []int, members [][]int32, prevE, prevO []int32, s int) {
	for {
		i := int(prevE[j])
		assign[i] = j
		members[j] = append(members[j], int32(i))
		if i == s {
			return
		}
		k := int(prevO[i]) // i was reached from its old engineer k
		removeMember(members, k, i)
		j = k
	}
}

func removeMember(members [][]int32, j, i int) {
	ms := members[j]
	for x, v := range ms {
		if int(v) == i {
			ms[x] = ms[len(ms)-1]
			members[j] = ms[:len(ms)-1]
			return
		}
	}
}

// objective is the total cost of an assignment: base costs, the slot costs
// of each engineer's batch orders, and the penalties of unassigned orders.
func (p *problem) objective(assign []int) float64 {
	counts := make([]int, len(p.engineers))
	total := 0.0
	for i, j := range assign {
		if j < 0 {
			total += p.penalty[i]
			continue
		}
		total += p.base[i][j] + p.slotCost(j, counts[j])
		counts[j]++
	}
	return total
}

// explain turns an assignment into a Plan with an explanation per order.
func (p *problem) explain(assign []int) Plan {
	plan := Plan{Choices: make([]Choice, len(p.orders)), TotalCost: p.objective(assign)}
	holder := make([][]int, len(p.engineers)) // engineer → orders given to it
	for i, j := range assign {
		if j >= 0 {
			holder[j] = append(holder[j], i)
		}
	}
	// The load term of a slot depends on how many batch orders the
	// engineer got; attribute slots in order of base cost.
	slotOf := make([]int, len(p.orders))
	for j, is := range holder {
		slices.SortStableFunc(is, func(a, b int) int { return cmp.Compare(p.base[a][j], p.base[b][j]) })
		for k, i := range is {
			slotOf[i] = k
		}
	}
	limit := p.cfg.Candidates
	if limit <= 0 {
		limit = 5
	}
	type cand struct {
		total float64
		j     int
	}
	var cands []cand
	for i, o := range p.orders {
		ch := Choice{OrderID: o.ID, Feasible: len(p.feasible[i]), Excluded: p.excluded[i]}
		// Each feasible engineer's cost for this order alone, at the
		// engineer's current load; ties broken by ID for stable output.
		cands = cands[:0]
		for k, j32 := range p.feasible[i] {
			j := int(j32)
			cands = append(cands, cand{p.fcost[i][k] + p.slotCost(j, 0), j})
		}
		slices.SortFunc(cands, func(a, b cand) int {
			if c := cmp.Compare(a.total, b.total); c != 0 {
				return c
			}
			return strings.Compare(p.engineers[a.j].ID, p.engineers[b.j].ID)
		})
		alone := func(j int) Cost {
			c := p.detail(i, j)
			c.LoadCost = p.slotCost(j, 0)
			c.Total += c.LoadCost
			return c
		}
		for _, c := range cands[:min(limit, len(cands))] {
			ch.Candidates = append(ch.Candidates, alone(c.j))
		}
		if ch.Candidates == nil {
			ch.Candidates = []Cost{}
		}
		j := assign[i]
		switch {
		case j < 0 && len(cands) == 0:
			plan.Unassigned++
			ch.Why = "no engineer can take it: " + reasonsText(p.excluded[i])
		case j < 0:
			plan.Unassigned++
			ch.Why = fmt.Sprintf("all %d feasible engineers are filled by orders that cost the batch more to leave unassigned (higher priority or no alternative)", len(cands))
		default:
			plan.Assigned++
			w := p.detail(i, j)
			w.LoadCost = p.slotCost(j, slotOf[i])
			w.Total += w.LoadCost
			ch.EngineerID = p.engineers[j].ID
			ch.Cost = &w
			winner := p.engineers[j].ID
			switch {
			case len(cands) == 1:
				ch.Why = fmt.Sprintf("%s is the only feasible engineer", winner)
			case cands[0].j == j:
				c0 := ch.Candidates[0]
				ch.Why = fmt.Sprintf("%s is the cheapest of %d feasible engineers (%.1f vs next %.1f: travel %.0f min, lateness cost %.1f, load cost %.1f)",
					winner, len(cands), c0.Total, cands[1].total, c0.TravelMinutes, c0.LatenessCost, c0.LoadCost)
			default:
				// Cheaper engineers exist: say what holds them instead.
				var parts []string
				for _, c := range cands {
					if c.j == j || len(parts) == 3 {
						break
					}
					var others []string
					for _, o := range holder[c.j] {
						others = append(others, p.orders[o].ID)
					}
					if len(others) == 0 {
						parts = append(parts, fmt.Sprintf("%s (%.1f) would raise the batch's total through the load term", p.engineers[c.j].ID, c.total))
					} else {
						parts = append(parts, fmt.Sprintf("%s (%.1f) is better used on %v", p.engineers[c.j].ID, c.total, others))
					}
				}
				ch.Why = fmt.Sprintf("%s minimises the batch's total cost; cheaper for this order alone: %s", winner, strings.Join(parts, "; "))
			}
		}
		plan.Choices[i] = ch
	}
	return plan
}

func reasonsText(ex map[Reason]int) string {
	if len(ex) == 0 {
		return "no engineers"
	}
	keys := make([]string, 0, len(ex))
	for r := range ex {
		keys = append(keys, string(r))
	}
	sort.Strings(keys)
	out := ""
	for k, r := range keys {
		if k > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s %d", r, ex[Reason(r)])
	}
	return out
}
