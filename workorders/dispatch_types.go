package workorders

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openpdm/pdm/workorders/dispatch"
)

// SkillLevels maps a skill to a level (1 = basic). Its JSON is an object
// {"vibration": 3}; a list ["vibration", "electrical:2"] or
// [{"name": "vibration", "level": 3}] is accepted on input.
type SkillLevels map[string]int

// UnmarshalJSON accepts the object and both list forms.
func (s *SkillLevels) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	out := SkillLevels{}
	switch {
	case bytes.Equal(b, []byte("null")):
	case len(b) > 0 && b[0] == '{':
		var m map[string]int
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("skills must map names to integer levels")
		}
		for k, v := range m {
			out[k] = v
		}
	case len(b) > 0 && b[0] == '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for _, r := range raw {
			var name string
			if json.Unmarshal(r, &name) == nil {
				n, lvl, err := ParseSkill(name)
				if err != nil {
					return err
				}
				out[n] = lvl
				continue
			}
			var obj struct {
				Name  string `json:"name"`
				Level int    `json:"level"`
			}
			if err := json.Unmarshal(r, &obj); err != nil {
				return fmt.Errorf("each skill must be a name or {name, level}")
			}
			if obj.Level == 0 {
				obj.Level = 1
			}
			out[obj.Name] = obj.Level
		}
	default:
		return fmt.Errorf("skills must be an object or a list")
	}
	*s = out
	return nil
}

// ParseSkill reads a required skill "name" (level 1) or "name:level".
func ParseSkill(s string) (string, int, error) {
	name, lv, ok := strings.Cut(strings.TrimSpace(s), ":")
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return "", 0, fmt.Errorf("skill %q must have a name of 1-64 characters", s)
	}
	if !ok {
		return name, 1, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(lv))
	if err != nil || n < 1 || n > 10 {
		return "", 0, fmt.Errorf("skill %q: level must be 1-10", s)
	}
	return name, n, nil
}

// RequiredSkillLevels turns an order's required skills ("vibration",
// "electrical:2") into levels; unreadable entries count as level 1 of the
// whole string, so they still must match exactly.
func RequiredSkillLevels(skills []string) map[string]int {
	out := make(map[string]int, len(skills))
	for _, s := range skills {
		name, lvl, err := ParseSkill(s)
		if err != nil {
			name, lvl = s, 1
		}
		out[name] = max(out[name], lvl)
	}
	return out
}

// Engineer is a field engineer as the API shows it.
type Engineer struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	UserID *string     `json:"user_id"`
	SiteID *string     `json:"site_id"`
	Skills SkillLevels `json:"skills"`
	// Home is the home base.
	Home Location `json:"home"`
	// Location is the latest reported position (nil: at home).
	Location   *Location  `json:"location"`
	LocationAt *time.Time `json:"location_at,omitempty"`
	// TimeZone is the IANA zone the shifts are in (default UTC).
	TimeZone    string              `json:"time_zone"`
	Shifts      []dispatch.Shift    `json:"shifts"`
	TimeOff     []dispatch.Interval `json:"time_off"`
	MaxOpenJobs int                 `json:"max_open_jobs"`
	Active      bool                `json:"active"`
	// OpenJobs and VanID are read-only.
	OpenJobs  int       `json:"open_jobs"`
	VanID     *string   `json:"van_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Position is where the engineer is now: the reported location, or home.
func (e Engineer) Position() dispatch.Point {
	if e.Location != nil {
		return dispatch.Point{Lat: e.Location.Lat, Lon: e.Location.Lon}
	}
	return dispatch.Point{Lat: e.Home.Lat, Lon: e.Home.Lon}
}

// Zone returns the engineer's time zone (UTC when unset or unknown).
func (e Engineer) Zone() *time.Location {
	if e.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ValidateEngineer checks an engineer's fields and fills defaults.
func ValidateEngineer(e *Engineer) error {
	e.Name = strings.TrimSpace(e.Name)
	if e.Name == "" || len(e.Name) > 200 {
		return Invalid("name", "required, at most 200 characters")
	}
	for k, v := range e.Skills {
		if strings.TrimSpace(k) == "" || len(k) > 64 || strings.Contains(k, ":") {
			return Invalid("skills", "skill names must have 1-64 characters and no ':'")
		}
		if v < 1 || v > 10 {
			return Unprocessable("skills", "level of %s must be 1-10", k)
		}
	}
	if e.Skills == nil {
		e.Skills = SkillLevels{}
	}
	if err := validPoint("home", e.Home); err != nil {
		return err
	}
	if e.Location != nil {
		if err := validPoint("location", *e.Location); err != nil {
			return err
		}
	}
	if e.TimeZone == "" {
		e.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(e.TimeZone); err != nil {
		return Unprocessable("time_zone", "unknown time zone %q", e.TimeZone)
	}
	for i, s := range e.Shifts {
		if err := s.Validate(); err != nil {
			return Invalid(fmt.Sprintf("shifts[%d]", i), "%v", err)
		}
		e.Shifts[i].Day = strings.ToLower(s.Day)
	}
	if e.Shifts == nil {
		e.Shifts = []dispatch.Shift{}
	}
	for i, t := range e.TimeOff {
		if t.Start.IsZero() || !t.End.After(t.Start) {
			return Unprocessable(fmt.Sprintf("time_off[%d]", i), "end must be after start")
		}
	}
	if e.TimeOff == nil {
		e.TimeOff = []dispatch.Interval{}
	}
	if e.MaxOpenJobs == 0 {
		e.MaxOpenJobs = 5
	}
	if e.MaxOpenJobs < 1 || e.MaxOpenJobs > 1000 {
		return Unprocessable("max_open_jobs", "must be 1-1000")
	}
	return nil
}

func validPoint(field string, l Location) error {
	if math.IsNaN(l.Lat) || math.IsNaN(l.Lon) || l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180 {
		return Unprocessable(field, "lat must be -90..90 and lon -180..180")
	}
	return nil
}

// DispatchOrder is an approved, unassigned order as dispatch sees it.
type DispatchOrder struct {
	Order
	// Position is the asset's (or else its site's) location; nil when
	// neither is known (travel then counts as zero).
	Position *dispatch.Point
	// Declined lists the user ids of engineers who declined the order.
	Declined []string
}

// DispatchRun is one run of the dispatcher with its plan.
type DispatchRun struct {
	ID         int64          `json:"id" schema:"required"`
	Trigger    string         `json:"trigger" schema:"required"`
	StartedAt  time.Time      `json:"started_at" schema:"required"`
	FinishedAt time.Time      `json:"finished_at" schema:"required"`
	Orders     int            `json:"orders" schema:"required"`
	Engineers  int            `json:"engineers" schema:"required"`
	Assigned   int            `json:"assigned" schema:"required"`
	Unassigned int            `json:"unassigned" schema:"required"`
	TotalCost  float64        `json:"total_cost" schema:"required"`
	Jobs       []PlannedJob   `json:"jobs" schema:"required,nonNull"`
	Errors     []string       `json:"errors,omitempty"`
	Config     map[string]any `json:"config,omitempty"`
}

// PlannedJob is one order's line of a dispatch plan: who got it, the
// travel and SLA slack, and why.
type PlannedJob struct {
	OrderID      string `json:"order_id" schema:"required"`
	Number       string `json:"number" schema:"required"`
	Priority     string `json:"priority" schema:"required"`
	EngineerID   string `json:"engineer_id,omitempty"`
	EngineerName string `json:"engineer_name,omitempty"`
	// AssigneeID is the engineer's user id (the order's assignee_id).
	AssigneeID      string                  `json:"assignee_id,omitempty"`
	TravelMinutes   *float64                `json:"travel_minutes,omitempty"`
	SLASlackMinutes *float64                `json:"sla_slack_minutes,omitempty"`
	DueAt           *time.Time              `json:"due_at,omitempty"`
	Cost            *dispatch.Cost          `json:"cost,omitempty"`
	Candidates      []dispatch.Cost         `json:"candidates" schema:"required"`
	Feasible        int                     `json:"feasible" schema:"required"`
	Excluded        map[dispatch.Reason]int `json:"excluded,omitempty"`
	Why             string                  `json:"why" schema:"required"`
	Outcome         string                  `json:"outcome" schema:"required"` // assigned, unassigned, failed
}

// sortedKeys returns m's keys in order (stable JSON and messages).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
