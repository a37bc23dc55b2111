package workorders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openpdm/pdm/workorders/dispatch"
)

// What the dispatch board shows: engineers with their state and their
// day as a chain of jobs, the orders waiting for an engineer, a check of
// one assignment before it is made, and the optimizer's proposal before
// it is applied. Nothing here changes an order.

// Engineer states on the board.
const (
	EngineerIdle       = "idle"
	EngineerTravelling = "travelling"
	EngineerOnSite     = "on_site"
	EngineerOffShift   = "off_shift"
)

// Board is the dispatch board: every active engineer's lane and the
// approved orders nobody holds yet.
type Board struct {
	GeneratedAt time.Time       `json:"generated_at" schema:"required"`
	Engineers   []BoardEngineer `json:"engineers" schema:"required,nonNull"`
	Unassigned  []BoardJob      `json:"unassigned" schema:"required,nonNull"`
}

// BoardEngineer is one engineer's lane.
type BoardEngineer struct {
	ID       string         `json:"id" schema:"required"`
	Name     string         `json:"name" schema:"required"`
	UserID   *string        `json:"user_id" schema:"required"`
	Position dispatch.Point `json:"position" schema:"required"`
	// LocationAt is when the position was reported (nil: at home).
	LocationAt *time.Time `json:"location_at" schema:"required"`
	// State is idle, travelling, on_site or off_shift.
	State string `json:"state" schema:"required,enum=idle|travelling|on_site|off_shift"`
	// NextShiftAt is when an engineer off shift is next on (nil: not
	// within the planning horizon).
	NextShiftAt *time.Time          `json:"next_shift_at" schema:"required"`
	Shifts      []dispatch.Interval `json:"shifts" schema:"required,nonNull"`
	Skills      SkillLevels         `json:"skills"`
	OpenJobs    int                 `json:"open_jobs" schema:"required"`
	MaxOpenJobs int                 `json:"max_open_jobs" schema:"required"`
	// Dispatchable is false for engineers without a user account or
	// inactive ones: dispatch never assigns them.
	Dispatchable bool `json:"dispatchable" schema:"required"`
	// Jobs are the engineer's open orders in the order they will be done,
	// each with its estimated start and finish.
	Jobs []BoardJob `json:"jobs" schema:"required,nonNull"`
}

// BoardJob is an order on the board, with its estimated times when it is
// on an engineer's lane.
type BoardJob struct {
	OrderID          string          `json:"order_id" schema:"required"`
	Number           string          `json:"number" schema:"required"`
	Title            string          `json:"title" schema:"required"`
	Status           Status          `json:"status" schema:"required"`
	Priority         Priority        `json:"priority" schema:"required"`
	AssetID          string          `json:"asset_id" schema:"required"`
	SiteID           string          `json:"site_id" schema:"required"`
	DueAt            *time.Time      `json:"due_at" schema:"required"`
	RequiredSkills   []string        `json:"required_skills" schema:"required,nonNull"`
	EstimatedMinutes float64         `json:"estimated_minutes" schema:"required"`
	Position         *dispatch.Point `json:"position" schema:"required"`
	// StartAt, ArriveAt and FinishAt are estimates (lanes only).
	StartAt       *time.Time `json:"start_at,omitempty"`
	ArriveAt      *time.Time `json:"arrive_at,omitempty"`
	FinishAt      *time.Time `json:"finish_at,omitempty"`
	TravelMinutes *float64   `json:"travel_minutes,omitempty"`
	// Late is true when the estimated finish is after the due time.
	Late bool `json:"late" schema:"required"`
}

// openStatuses are the statuses of orders an engineer holds.
var openStatuses = []Status{StatusAssigned, StatusAccepted, "en_route", "on_site", StatusInProgress, StatusOnHold}

func jobRank(s Status) int {
	switch s {
	case StatusInProgress, "on_site":
		return 0
	case "en_route":
		return 1
	case StatusAccepted:
		return 2
	case StatusAssigned:
		return 3
	}
	return 4 // on hold last
}

func boardJob(o Order, pos *dispatch.Point) BoardJob {
	d := o.EstimatedDuration.D()
	if d == 0 {
		d = time.Hour
	}
	skills := o.RequiredSkills
	if skills == nil {
		skills = []string{}
	}
	return BoardJob{OrderID: o.ID, Number: o.Number, Title: o.Title, Status: o.Status, Priority: o.Priority,
		AssetID: o.AssetID, SiteID: o.SiteID, DueAt: o.DueAt, RequiredSkills: skills, EstimatedMinutes: d.Minutes(),
		Position: pos}
}

// Board builds the dispatch board.
func (d *DispatchRunner) Board(ctx context.Context) (Board, error) {
	now := d.Now().UTC()
	b := Board{GeneratedAt: now, Engineers: []BoardEngineer{}, Unassigned: []BoardJob{}}
	waiting, err := d.ops.DispatchOrders(ctx)
	if err != nil {
		return b, err
	}
	for _, o := range waiting {
		b.Unassigned = append(b.Unassigned, boardJob(o.Order, o.Position))
	}
	byUser := map[string][]Order{}
	page := Page{Limit: 500}
	for range 40 {
		orders, next, err := d.orders.ListOrders(ctx, OrderFilter{Status: openStatuses, Page: page})
		if err != nil {
			return b, err
		}
		for _, o := range orders {
			if o.AssigneeID != nil {
				byUser[*o.AssigneeID] = append(byUser[*o.AssigneeID], o)
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	page = Page{Limit: 500}
	for range 20 {
		engineers, next, err := d.ops.ListEngineers(ctx, page)
		if err != nil {
			return b, err
		}
		for _, e := range engineers {
			if !e.Active {
				continue
			}
			lane, err := d.lane(ctx, e, byUser, now)
			if err != nil {
				return b, err
			}
			b.Engineers = append(b.Engineers, lane)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return b, nil
}

func (d *DispatchRunner) lane(ctx context.Context, e Engineer, byUser map[string][]Order, now time.Time) (BoardEngineer, error) {
	av := d.availability(e, now)
	lane := BoardEngineer{ID: e.ID, Name: e.Name, UserID: e.UserID, Position: e.Position(), LocationAt: e.LocationAt,
		Shifts: av, Skills: e.Skills, OpenJobs: e.OpenJobs, MaxOpenJobs: e.MaxOpenJobs,
		Dispatchable: e.UserID != nil && e.Active, Jobs: []BoardJob{}}
	if lane.Shifts == nil {
		lane.Shifts = []dispatch.Interval{}
	}
	var orders []Order
	if e.UserID != nil {
		orders = byUser[*e.UserID]
	}
	slices.SortStableFunc(orders, func(a, b Order) int {
		if c := cmp.Compare(jobRank(a.Status), jobRank(b.Status)); c != 0 {
			return c
		}
		return cmp.Compare(dueKey(a.DueAt), dueKey(b.DueAt))
	})
	start, onShift := firstStart(av, now)
	switch {
	case !onShift || start.After(now):
		lane.State = EngineerOffShift
		if onShift {
			lane.NextShiftAt = &start
		}
	case len(orders) > 0 && (orders[0].Status == StatusInProgress || orders[0].Status == "on_site"):
		lane.State = EngineerOnSite
	case len(orders) > 0 && orders[0].Status == "en_route":
		lane.State = EngineerTravelling
	default:
		lane.State = EngineerIdle
	}
	if !onShift {
		start = now
	}
	at := lane.Position
	for _, o := range orders {
		pos, err := d.ops.OrderPosition(ctx, o.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return lane, err
		}
		j := boardJob(o, pos)
		var travel time.Duration
		if pos != nil && jobRank(o.Status) > 0 {
			travel = d.cfg.TravelTime(at, *pos)
		}
		arrive := start.Add(travel)
		finish := arrive.Add(time.Duration(j.EstimatedMinutes * float64(time.Minute)))
		tm := travel.Minutes()
		s, a, f := start, arrive, finish
		j.StartAt, j.ArriveAt, j.FinishAt, j.TravelMinutes = &s, &a, &f, &tm
		j.Late = o.DueAt != nil && finish.After(*o.DueAt)
		lane.Jobs = append(lane.Jobs, j)
		start = finish
		if pos != nil {
			at = *pos
		}
	}
	return lane, nil
}

func dueKey(t *time.Time) int64 {
	if t == nil {
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// Violation is one reason an assignment is a bad idea; the planner may
// still make it.
type Violation struct {
	// Code is missing_skill, off_shift, sla_breach, parts_unavailable,
	// at_capacity, declined, not_dispatchable or status.
	Code    string `json:"code" schema:"required"`
	Message string `json:"message" schema:"required"`
}

// AssignmentCheck is what giving one order to one engineer would mean.
type AssignmentCheck struct {
	OrderID    string      `json:"order_id" schema:"required"`
	EngineerID string      `json:"engineer_id" schema:"required"`
	OK         bool        `json:"ok" schema:"required"`
	Violations []Violation `json:"violations" schema:"required,nonNull"`
	// TravelMinutes, StartAt, ArriveAt and FinishAt estimate the job
	// done next by this engineer; SLASlackMinutes is due minus finish
	// (nil without a due time).
	TravelMinutes   float64   `json:"travel_minutes" schema:"required"`
	StartAt         time.Time `json:"start_at" schema:"required"`
	ArriveAt        time.Time `json:"arrive_at" schema:"required"`
	FinishAt        time.Time `json:"finish_at" schema:"required"`
	SLASlackMinutes *float64  `json:"sla_slack_minutes" schema:"required"`
}

// Check tells what assigning order to engineer would violate, changing
// nothing.
func (d *DispatchRunner) Check(ctx context.Context, orderID, engineerID string) (AssignmentCheck, error) {
	now := d.Now().UTC()
	o, err := d.orders.GetOrder(ctx, orderID)
	if err != nil {
		return AssignmentCheck{}, err
	}
	e, err := d.ops.GetEngineer(ctx, engineerID)
	if err != nil {
		return AssignmentCheck{}, err
	}
	c := AssignmentCheck{OrderID: o.ID, EngineerID: e.ID, Violations: []Violation{}}
	add := func(code, format string, args ...any) {
		c.Violations = append(c.Violations, Violation{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch o.Status {
	case StatusApproved, StatusAssigned:
	default:
		add("status", "%s is %s: only approved or assigned orders can be (re)assigned", o.Number, o.Status)
	}
	if e.UserID == nil || !e.Active {
		add("not_dispatchable", "%s has no active user account", e.Name)
	}
	if e.UserID != nil && o.AssigneeID != nil && *o.AssigneeID == *e.UserID {
		add("status", "%s already holds %s", e.Name, o.Number)
	}
	var missing []string
	for sk, lvl := range RequiredSkillLevels(o.RequiredSkills) {
		if have := e.Skills[sk]; have < lvl {
			if have == 0 {
				missing = append(missing, sk)
			} else {
				missing = append(missing, fmt.Sprintf("%s (level %d, needs %d)", sk, have, lvl))
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		add(string(dispatch.ReasonSkill), "%s lacks %s", e.Name, strings.Join(missing, ", "))
	}
	if e.OpenJobs >= e.MaxOpenJobs {
		add(string(dispatch.ReasonCapacity), "%s already holds %d of at most %d open jobs", e.Name, e.OpenJobs, e.MaxOpenJobs)
	}
	if e.UserID != nil {
		for _, u := range d.declinedBy(ctx, o.ID) {
			if u == *e.UserID {
				add(string(dispatch.ReasonDeclined), "%s declined %s before", e.Name, o.Number)
			}
		}
	}
	av := d.availability(e, now)
	start, onShift := firstStart(av, now)
	switch {
	case !onShift:
		add("off_shift", "%s has no shift within %s", e.Name, d.cfg.Horizon)
		start = now
	case start.After(now):
		add("off_shift", "%s is off shift until %s", e.Name, start.Format(time.RFC3339))
	}
	pos, err := d.ops.OrderPosition(ctx, o.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c, err
	}
	var travel time.Duration
	if pos != nil {
		travel = d.cfg.TravelTime(e.Position(), *pos)
	}
	dur := o.EstimatedDuration.D()
	if dur == 0 {
		dur = time.Hour
	}
	c.StartAt, c.TravelMinutes = start, travel.Minutes()
	c.ArriveAt = start.Add(travel)
	c.FinishAt = c.ArriveAt.Add(dur)
	if o.DueAt != nil {
		slack := o.DueAt.Sub(c.FinishAt).Minutes()
		c.SLASlackMinutes = &slack
		if slack < 0 {
			add("sla_breach", "would finish at %s, %.0f min after the due time", c.FinishAt.Format(time.RFC3339), -slack)
		}
	}
	if o.Status == StatusApproved && len(MergeParts(o.Parts)) > 0 {
		short, err := d.shortages(ctx, o, e, pos)
		if err != nil {
			return c, err
		}
		if len(short) > 0 {
			var parts []string
			for _, s := range short {
				parts = append(parts, fmt.Sprintf("%s×%d", s.SKU, s.Qty))
			}
			add("parts_unavailable", "not in %s's van or any warehouse: %s", e.Name, strings.Join(parts, ", "))
		}
	}
	c.OK = len(c.Violations) == 0
	return c, nil
}

// declinedBy lists the users who declined an approved order (for other
// statuses it returns nothing).
func (d *DispatchRunner) declinedBy(ctx context.Context, orderID string) []string {
	orders, err := d.ops.DispatchOrders(ctx)
	if err != nil {
		return nil
	}
	for _, o := range orders {
		if o.ID == orderID {
			return o.Declined
		}
	}
	return nil
}

// shortages is what reserving o's parts for e would lack now.
func (d *DispatchRunner) shortages(ctx context.Context, o Order, e Engineer, at *dispatch.Point) ([]Shortage, error) {
	levels, err := d.ops.AllStockLevels(ctx)
	if err != nil {
		return nil, err
	}
	warehouses, err := d.ops.Warehouses(ctx)
	if err != nil {
		return nil, err
	}
	avail := map[string]map[string]int{}
	for _, l := range levels {
		if avail[l.LocationID] == nil {
			avail[l.LocationID] = map[string]int{}
		}
		avail[l.LocationID][l.SKU] += l.Available()
	}
	for i := range warehouses {
		warehouses[i].Available = avail[warehouses[i].ID]
	}
	var van *StockPlace
	if e.VanID != nil {
		van = &StockPlace{ID: *e.VanID, Kind: LocationVan, Available: avail[*e.VanID]}
	}
	_, short := AllocateParts(o.Parts, van, warehouses, at)
	return short, nil
}

// Apply assigns each (order, engineer) pair of a previewed plan, under
// the dispatch lock, as the planner who approved it. An order that is no
// longer approved and unassigned, or an engineer who is gone, is skipped
// and said so. ran is false when another replica holds the lock.
func (d *DispatchRunner) Apply(ctx context.Context, actor Actor, pairs [][2]string) (DispatchRun, bool, error) {
	return d.applyPairs(ctx, actor, pairs, applyKind{trigger: "apply", verb: "assign", since: "the preview",
		request: func(userID string) ActionRequest {
			return ActionRequest{Action: ActAssign, Actor: actor, AssigneeID: userID,
				Note: "optimizer proposal applied by " + actor.Name, OnlyUnassigned: true}
		}})
}

// applyKind is what differs between applying a plan and applying moves.
type applyKind struct {
	trigger string // the run's trigger
	verb    string // names the action in errors
	since   string // what the order may have changed since
	// order, when set, checks the order first: why it is skipped ("" to
	// go on) or an error that ends the run.
	order func(ctx context.Context, orderID string) (Order, string, error)
	// held, when set, says why the order is skipped for an active
	// engineer ("" to go on); o is what order returned.
	held    func(o Order, e Engineer) string
	request func(userID string) ActionRequest
}

// applyPairs assigns each (order, engineer) pair under the dispatch lock,
// skipping (and saying why) those k's checks or the engineer refuse, and
// saves the run.
func (d *DispatchRunner) applyPairs(ctx context.Context, actor Actor, pairs [][2]string, k applyKind) (DispatchRun, bool, error) {
	now := d.Now().UTC()
	run := DispatchRun{Trigger: k.trigger, StartedAt: now, Jobs: []PlannedJob{}}
	ran, err := d.orders.WithLock(ctx, LockDispatch, func(ctx context.Context) error {
		for _, p := range pairs {
			job := PlannedJob{OrderID: p[0], EngineerID: p[1], Candidates: []dispatch.Cost{}, Outcome: "skipped"}
			run.Orders++
			var (
				o   Order
				why string
				err error
			)
			if k.order != nil {
				if o, why, err = k.order(ctx, p[0]); err != nil {
					return err
				}
			}
			if why == "" {
				why, err = d.tryAssign(ctx, p, o, k, &job)
				if err != nil {
					return err
				}
			}
			job.Why = why
			if job.Outcome == "assigned" {
				run.Assigned++
			} else {
				run.Unassigned++
			}
			run.Jobs = append(run.Jobs, job)
		}
		run.FinishedAt = d.Now().UTC()
		var err error
		run, err = d.ops.SaveDispatchRun(ctx, run)
		return err
	})
	return run, ran, err
}

// tryAssign checks the pair's engineer and assigns the order to them,
// filling job; it returns why the pair was skipped ("" when assigned).
func (d *DispatchRunner) tryAssign(ctx context.Context, p [2]string, o Order, k applyKind, job *PlannedJob) (string, error) {
	e, err := d.ops.GetEngineer(ctx, p[1])
	switch {
	case errors.Is(err, ErrNotFound):
		return "no such engineer", nil
	case err != nil:
		return "", err
	case e.UserID == nil || !e.Active:
		return e.Name + " has no active user account", nil
	}
	if k.held != nil {
		if why := k.held(o, e); why != "" {
			return why, nil
		}
	}
	job.EngineerName, job.AssigneeID = e.Name, *e.UserID
	done, err := d.svc.Act(ctx, p[0], k.request(*e.UserID))
	switch {
	case err == nil:
		job.Number, job.Priority, job.DueAt, job.Outcome = done.Number, string(done.Priority), done.DueAt, "assigned"
		return "", nil
	case errors.Is(err, ErrIllegalTransition) || errors.Is(err, ErrNotFound):
		return "changed since " + k.since + ": " + err.Error(), nil
	}
	return "", fmt.Errorf("%s %s: %w", k.verb, p[0], err)
}
