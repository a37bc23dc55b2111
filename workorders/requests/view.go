package requests

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openpdm/pdm/workorders"
)

// Stage is where an order stands, in the customer's words.
type Stage string

// Stages a customer sees.
const (
	StageReceived   Stage = "received"
	StageScheduled  Stage = "scheduled"
	StageAssigned   Stage = "engineer_assigned"
	StageEnRoute    Stage = "en_route"
	StageOnSite     Stage = "on_site"
	StageInProgress Stage = "in_progress"
	StagePaused     Stage = "paused"
	StageCompleted  Stage = "completed"
	StageClosed     Stage = "closed"
	StageCancelled  Stage = "cancelled"
	StageMerged     Stage = "merged"
)

// View is what a status link shows: nothing internal (no costs, parts,
// notes, other orders, people other than the engineer's first name).
type View struct {
	Number      string      `json:"number" schema:"required"`
	Title       string      `json:"title" schema:"required"`
	Stage       Stage       `json:"stage" schema:"required"`
	SiteName    string      `json:"site_name" schema:"required"`
	AssetName   string      `json:"asset_name" schema:"required"`
	SubmittedAt time.Time   `json:"submitted_at" schema:"required"`
	Engineer    *string     `json:"engineer" schema:"required"`
	ETA         *time.Time  `json:"eta" schema:"required"`
	Timeline    []Step      `json:"timeline" schema:"required"`
	Completion  *Completion `json:"completion" schema:"required"`
	Survey      SurveyState `json:"survey" schema:"required"`
	// Merged says the request joined another request for the same fault;
	// the page then follows that one.
	Merged bool `json:"merged" schema:"required"`

	orderID string
}

// Step is one entry of the customer's timeline.
type Step struct {
	Stage Stage     `json:"stage" schema:"required"`
	At    time.Time `json:"at" schema:"required"`
}

// Completion is the completion report a customer sees.
type Completion struct {
	CompletedAt time.Time `json:"completed_at" schema:"required"`
	Summary     string    `json:"summary" schema:"required"`
}

// SurveyState says whether the customer may rate and what they gave.
type SurveyState struct {
	Open    bool    `json:"open" schema:"required"`
	Score   *int    `json:"score" schema:"required"`
	Comment *string `json:"comment,omitempty"`
}

// Facts are the stored facts a View is made of (the store fills them).
type Facts struct {
	OrderID       string
	Order         workorders.Order
	SiteName      string
	AssetName     string
	AssigneeName  string
	SubmittedAt   time.Time
	Merged        bool
	Events        []workorders.Event
	SurveyScore   *int
	SurveyComment *string
}

// BuildView turns stored facts into what a customer may see.
func BuildView(f Facts) View {
	o := f.Order
	v := View{Number: o.Number, Title: o.Title, Stage: StageOf(o.Status, o.AssigneeID != nil), SiteName: f.SiteName,
		AssetName: f.AssetName, SubmittedAt: f.SubmittedAt, Merged: f.Merged, orderID: f.OrderID,
		Timeline: []Step{{Stage: StageReceived, At: f.SubmittedAt}}}
	if f.AssigneeName != "" && v.Stage != StageCancelled && v.Stage != StageScheduled && v.Stage != StageReceived {
		n := FirstName(f.AssigneeName)
		v.Engineer = &n
	}
	for _, e := range f.Events {
		st, ok := stageOfEvent(e)
		if !ok || e.At.Before(f.SubmittedAt) {
			continue
		}
		if last := v.Timeline[len(v.Timeline)-1]; last.Stage == st {
			continue
		}
		v.Timeline = append(v.Timeline, Step{Stage: st, At: e.At})
		if st == StageEnRoute {
			v.ETA = etaOf(e)
		}
	}
	if v.Stage != StageEnRoute {
		v.ETA = nil
	}
	if o.CompletedAt != nil && (o.Status == workorders.StatusCompleted || o.Status == workorders.StatusVerified ||
		o.Status == workorders.StatusClosed) {
		v.Completion = &Completion{CompletedAt: *o.CompletedAt, Summary: o.Resolution}
	}
	v.Survey = SurveyState{Open: v.Completion != nil && f.SurveyScore == nil, Score: f.SurveyScore, Comment: f.SurveyComment}
	return v
}

// StageOf maps an order status to the customer's stage.
func StageOf(s workorders.Status, assigned bool) Stage {
	switch s {
	case workorders.StatusProposed:
		return StageReceived
	case workorders.StatusApproved:
		return StageScheduled
	case workorders.StatusAssigned, workorders.StatusAccepted:
		return StageAssigned
	case "en_route":
		return StageEnRoute
	case "on_site":
		return StageOnSite
	case workorders.StatusInProgress:
		return StageInProgress
	case workorders.StatusOnHold:
		return StagePaused
	case workorders.StatusCompleted, workorders.StatusVerified:
		return StageCompleted
	case workorders.StatusClosed:
		return StageClosed
	case workorders.StatusRejected, workorders.StatusCancelled:
		return StageCancelled
	case workorders.StatusMerged:
		return StageMerged
	}
	if assigned {
		return StageAssigned
	}
	return StageReceived
}

func stageOfEvent(e workorders.Event) (Stage, bool) {
	if e.To == "" {
		return "", false
	}
	switch e.Type {
	case workorders.EventCreated, "declined", workorders.EventUpdated:
		return "", false
	}
	st := StageOf(e.To, false)
	if st == StageReceived {
		return "", false
	}
	return st, true
}

// etaOf reads an ETA an en-route event carries in its data ("eta", RFC 3339).
func etaOf(e workorders.Event) *time.Time {
	if len(e.Data) == 0 {
		return nil
	}
	var d struct {
		ETA *time.Time `json:"eta"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.ETA == nil {
		return nil
	}
	t := d.ETA.UTC()
	return &t
}

// FirstName returns what a customer is told of an engineer's name: the
// first word of a Western name; for a Chinese name (no spaces) the family
// name with 师傅, as field service customarily says.
func FirstName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	if f := strings.Fields(name); len(f) > 1 {
		return f[0]
	}
	r, _ := utf8.DecodeRuneInString(name)
	if unicode.Is(unicode.Han, r) {
		return string(r) + "师傅"
	}
	return name
}
