// Package workorders owns the ticket core: work orders and their life cycle,
// the turning of rule signals into idempotent auto orders, users and roles,
// sites and assets, SLA policies and escalation, and webhook delivery. It
// holds plain types and the domain rules; persistence sits behind Store
// (implemented in workorders/postgres) and HTTP in workorders/httpapi.
package workorders

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Domain errors. Adapters translate driver errors into these; only the HTTP
// layer maps them to status codes.
var (
	// ErrNotFound: the addressed record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrIllegalTransition: the action is not allowed from the order's status.
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrConflict: a uniqueness or concurrency conflict.
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the actor may not do this to this record.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no or unknown credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// FieldError is one problem with one field of an input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError says what is wrong with an input. Semantic marks errors
// that are well-formed but not acceptable (HTTP 422) as opposed to
// malformed (HTTP 400). Fields, when set, lists every problem of the input
// (Field and Message then repeat the first).
type ValidationError struct {
	Field    string
	Message  string
	Semantic bool
	Fields   []FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Fields) > 1 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.Field + ": " + f.Message
		}
		return strings.Join(parts, "; ")
	}
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// List returns every field problem of e.
func (e *ValidationError) List() []FieldError {
	if len(e.Fields) > 0 {
		return e.Fields
	}
	return []FieldError{{Field: e.Field, Message: e.Message}}
}

// Invalid returns a 400-class ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unprocessable returns a 422-class ValidationError for field.
func Unprocessable(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...), Semantic: true}
}

// Problems collects every problem of an input so that one answer can name
// them all. The zero value is ready to use.
type Problems struct {
	list     []FieldError
	semantic bool // every problem so far is semantic (422)
}

// Add records a malformed field (400).
func (p *Problems) Add(field, format string, args ...any) {
	if len(p.list) == 0 {
		p.semantic = false
	}
	p.list = append(p.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	p.semantic = false
}

// AddSemantic records a well-formed but unacceptable field (422).
func (p *Problems) AddSemantic(field, format string, args ...any) {
	if len(p.list) == 0 {
		p.semantic = true
	}
	p.list = append(p.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// AddErr records err: a *ValidationError's fields keep their class; any
// other error is returned for the caller to pass on.
func (p *Problems) AddErr(err error) error {
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, f := range ve.List() {
		if ve.Semantic {
			p.AddSemantic(f.Field, "%s", f.Message)
		} else {
			p.Add(f.Field, "%s", f.Message)
		}
	}
	return nil
}

// Err returns the collected problems as one *ValidationError, or nil. It is
// semantic (422) only when every problem is.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Field: p.list[0].Field, Message: p.list[0].Message, Semantic: p.semantic, Fields: p.list}
}

// Status is a work order's life-cycle state.
type Status string

// The statuses of the contract's life cycle.
const (
	StatusProposed   Status = "proposed"
	StatusApproved   Status = "approved"
	StatusRejected   Status = "rejected"
	StatusAssigned   Status = "assigned"
	StatusAccepted   Status = "accepted"
	StatusEnRoute    Status = "en_route" // 出发: on the way to the asset
	StatusOnSite     Status = "on_site"  // 到达: at the asset, not yet working
	StatusInProgress Status = "in_progress"
	StatusOnHold     Status = "on_hold"
	StatusCompleted  Status = "completed"
	StatusVerified   Status = "verified"
	StatusClosed     Status = "closed"
	StatusCancelled  Status = "cancelled"
	// StatusMerged: a request merged into another open order of the same
	// asset; its requester follows that order.
	StatusMerged Status = "merged"
)

// Statuses lists every status in life-cycle order.
func Statuses() []Status {
	return []Status{StatusProposed, StatusApproved, StatusRejected, StatusAssigned, StatusAccepted,
		StatusEnRoute, StatusOnSite, StatusInProgress, StatusOnHold, StatusCompleted, StatusVerified, StatusClosed, StatusCancelled,
		StatusMerged}
}

// Open reports whether an order in status s still counts as open (the
// contract: not completed, verified, closed, rejected or cancelled).
func (s Status) Open() bool {
	switch s {
	case StatusCompleted, StatusVerified, StatusClosed, StatusRejected, StatusCancelled, StatusMerged:
		return false
	}
	return s.Valid()
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses() {
		if v == s {
			return true
		}
	}
	return false
}

// Action is one life-cycle transition, named as in the contract.
type Action string

// The actions of `POST /work-orders/{id}/{action}`.
const (
	ActApprove  Action = "approve"
	ActReject   Action = "reject"
	ActAssign   Action = "assign"
	ActAccept   Action = "accept"
	ActDecline  Action = "decline"
	ActDepart   Action = "depart"
	ActArrive   Action = "arrive"
	ActStart    Action = "start"
	ActHold     Action = "hold"
	ActResume   Action = "resume"
	ActComplete Action = "complete"
	ActVerify   Action = "verify"
	ActClose    Action = "close"
	ActCancel   Action = "cancel"
	ActReopen   Action = "reopen"
	// ActMerge merges a proposed or approved order into another open order
	// (ActionRequest.MergeInto); it has its own endpoint, so it is not
	// among Actions().
	ActMerge Action = "merge"
)

// Actions lists every action.
func Actions() []Action {
	return []Action{ActApprove, ActReject, ActAssign, ActAccept, ActDecline, ActDepart, ActArrive, ActStart, ActHold,
		ActResume, ActComplete, ActVerify, ActClose, ActCancel, ActReopen}
}

// Next returns the status action a leads to from status from, or
// ErrIllegalTransition. It is the contract's life-cycle drawing:
//
//	proposed -approve-> approved -assign-> assigned -accept-> accepted -start-> in_progress
//	accepted -depart-> en_route -arrive-> on_site -start-> in_progress (start also from en_route)
//	assigned -assign-> assigned (reassign before acceptance)
//	proposed -reject-> rejected;  assigned -decline-> approved
//	in_progress -hold-> on_hold -resume-> in_progress
//	in_progress -complete-> completed -verify-> verified -close-> closed
//	cancel: from any state before completed -> cancelled
//	reopen: from rejected, cancelled, completed, verified or closed -> approved
func Next(from Status, a Action) (Status, error) {
	ok := func(to Status, froms ...Status) (Status, error) {
		for _, f := range froms {
			if f == from {
				return to, nil
			}
		}
		return "", fmt.Errorf("%w: cannot %s an order that is %s", ErrIllegalTransition, a, from)
	}
	switch a {
	case ActApprove:
		return ok(StatusApproved, StatusProposed)
	case ActReject:
		return ok(StatusRejected, StatusProposed)
	case ActAssign:
		// From assigned (not yet accepted) it reassigns.
		return ok(StatusAssigned, StatusApproved, StatusAssigned)
	case ActAccept:
		return ok(StatusAccepted, StatusAssigned)
	case ActDecline:
		return ok(StatusApproved, StatusAssigned)
	case ActDepart:
		return ok(StatusEnRoute, StatusAccepted)
	case ActArrive:
		return ok(StatusOnSite, StatusEnRoute)
	case ActStart:
		return ok(StatusInProgress, StatusAccepted, StatusEnRoute, StatusOnSite)
	case ActHold:
		return ok(StatusOnHold, StatusInProgress)
	case ActResume:
		return ok(StatusInProgress, StatusOnHold)
	case ActComplete:
		return ok(StatusCompleted, StatusInProgress)
	case ActVerify:
		return ok(StatusVerified, StatusCompleted)
	case ActClose:
		return ok(StatusClosed, StatusVerified)
	case ActCancel:
		return ok(StatusCancelled, StatusProposed, StatusApproved, StatusAssigned, StatusAccepted,
			StatusEnRoute, StatusOnSite, StatusInProgress, StatusOnHold)
	case ActReopen:
		return ok(StatusApproved, StatusRejected, StatusCancelled, StatusCompleted, StatusVerified, StatusClosed)
	case ActMerge:
		return ok(StatusMerged, StatusProposed, StatusApproved)
	}
	return "", Invalid("action", "unknown action %q", a)
}

// Source says what raised an order.
type Source string

// Order sources of the contract.
const (
	SourceThreshold Source = "threshold"
	SourceTrend     Source = "trend"
	SourceEvent     Source = "event"
	SourceManual    Source = "manual"
	SourceSchedule  Source = "schedule"
	// SourceRequest: a customer's request (form, API or email).
	SourceRequest Source = "request"
)

// Auto reports whether orders of source s are generated from signals.
func (s Source) Auto() bool {
	return s == SourceThreshold || s == SourceTrend || s == SourceEvent
}

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	return s.Auto() || s == SourceManual || s == SourceSchedule || s == SourceRequest
}

// Priority is P1 (most urgent) to P4.
type Priority string

// Priorities.
const (
	P1 Priority = "P1"
	P2 Priority = "P2"
	P3 Priority = "P3"
	P4 Priority = "P4"
)

// Valid reports whether p is P1..P4.
func (p Priority) Valid() bool { return p == P1 || p == P2 || p == P3 || p == P4 }

// Rank returns 1 for P1 .. 4 for P4 (0 when invalid).
func (p Priority) Rank() int {
	if !p.Valid() {
		return 0
	}
	return int(p[1] - '0')
}

// PriorityOfRank returns the priority for a rank, clamped to 1..4.
func PriorityOfRank(r int) Priority {
	r = min(max(r, 1), 4)
	return Priority(fmt.Sprintf("P%d", r))
}

// Higher returns the more urgent of a and b.
func Higher(a, b Priority) Priority {
	if !a.Valid() {
		return b
	}
	if b.Valid() && b.Rank() < a.Rank() {
		return b
	}
	return a
}

// Order is a work order. Its JSON is the contract's work-order resource.
type Order struct {
	ID                       string          `json:"id"`
	Number                   string          `json:"number"`
	AssetID                  string          `json:"asset_id"`
	SiteID                   string          `json:"site_id"`
	Title                    string          `json:"title"`
	Description              string          `json:"description"`
	Source                   Source          `json:"source"`
	FailureMode              string          `json:"failure_mode"`
	RuleID                   *string         `json:"rule_id"`
	Priority                 Priority        `json:"priority"`
	Status                   Status          `json:"status"`
	CreatedAt                time.Time       `json:"created_at"`
	UpdatedAt                time.Time       `json:"updated_at"`
	ApprovedAt               *time.Time      `json:"approved_at,omitempty"`
	DueAt                    *time.Time      `json:"due_at"`
	AssigneeID               *string         `json:"assignee_id"`
	RequiredSkills           []string        `json:"required_skills"`
	Parts                    []rules.PartQty `json:"parts"`
	EstimatedDuration        rules.Duration  `json:"estimated_duration"`
	Evidence                 json.RawMessage `json:"evidence"`
	DetectedAt               *time.Time      `json:"detected_at,omitempty"`
	PredictedFailureAt       *time.Time      `json:"predicted_failure_at,omitempty"`
	PredictedFailureEarliest *time.Time      `json:"predicted_failure_earliest,omitempty"`
	PredictedFailureLatest   *time.Time      `json:"predicted_failure_latest,omitempty"`
	FollowUpOf               *string         `json:"follow_up_of,omitempty"`
	SignalCount              int             `json:"signal_count"`
	Reason                   string          `json:"reason,omitempty"`
	HoldReason               string          `json:"hold_reason,omitempty"`
	Resolution               string          `json:"resolution,omitempty"`
	LabourTime               rules.Duration  `json:"labour_time,omitempty"`
	PartsUsed                []rules.PartQty `json:"parts_used,omitempty"`
	AcceptedAt               *time.Time      `json:"accepted_at,omitempty"`
	StartedAt                *time.Time      `json:"started_at,omitempty"`
	CompletedAt              *time.Time      `json:"completed_at,omitempty"`
	VerifiedAt               *time.Time      `json:"verified_at,omitempty"`
	ClosedAt                 *time.Time      `json:"closed_at,omitempty"`
	OnHoldSince              *time.Time      `json:"on_hold_since,omitempty"`
	HeldFor                  rules.Duration  `json:"held_for"`
	SLAState                 string          `json:"sla_state"`
	// StatusURL is the customer's status page of an order with a requester
	// ("/s/{token}", relative to the server; empty when none or revoked).
	StatusURL string `json:"status_url,omitempty"`
	// HelperIDs are the users asked to help on the job: they see it and
	// comment on it; the assignee alone acts on it.
	HelperIDs []string `json:"helper_ids"`
	// Transfer is a transfer to another engineer waiting for a planner.
	Transfer *TransferRequest `json:"transfer_request"`
}

// FormatNumber renders a work-order sequence number as WO-000123.
func FormatNumber(n int64) string {
	if n < 0 {
		return fmt.Sprintf("WO-%06d", n)
	}
	d := strconv.FormatInt(n, 10)
	if len(d) < 6 {
		return "WO-" + "000000"[len(d):] + d
	}
	return "WO-" + d
}

// Event is one append-only entry of an order's history.
type Event struct {
	ID      int64           `json:"id"`
	OrderID string          `json:"order_id"`
	Type    string          `json:"type"`
	ActorID *string         `json:"actor_id"`
	Actor   string          `json:"actor"`
	At      time.Time       `json:"at"`
	From    Status          `json:"from,omitempty"`
	To      Status          `json:"to,omitempty"`
	Note    string          `json:"note,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Event types (the webhook event name is "work_order." + type).
const (
	EventCreated    = "created"
	EventEvidence   = "evidence"
	EventUpdated    = "updated"
	EventSLAAtRisk  = "sla_at_risk"
	EventSLABreach  = "sla_breached"
	EventEscalated  = "escalated"
	EventAttachment = "attachment"
)

// EventTypeForAction returns the event type a transition records: the
// past participle of the action ("approved", "on_hold" ...), i.e. the new
// status, except decline and reopen which keep their own names.
func EventTypeForAction(a Action, to Status) string {
	switch a {
	case ActDecline:
		return "declined"
	case ActReopen:
		return "reopened"
	case ActResume:
		return "resumed"
	case ActHold:
		return "held"
	case ActStart:
		return "started"
	case ActDepart:
		return "departed"
	case ActArrive:
		return "arrived"
	}
	return string(to)
}

// WebhookEventTypes lists the event names webhooks may subscribe to.
func WebhookEventTypes() []string {
	types := []string{EventCreated, EventEvidence, EventUpdated, EventSLAAtRisk, EventSLABreach,
		EventEscalated, EventAttachment, EventComment, EventHelperAdded, EventHelperRemoved, EventTransferRequested,
		EventTransferred, EventTransferRejected}
	for _, a := range append(Actions(), ActMerge) {
		to, _ := nextAny(a)
		types = append(types, EventTypeForAction(a, to))
	}
	out := make([]string, 0, len(types))
	seen := map[string]bool{}
	for _, t := range types {
		if !seen[t] {
			seen[t] = true
			out = append(out, "work_order."+t)
		}
	}
	return out
}

func nextAny(a Action) (Status, error) {
	for _, s := range Statuses() {
		if to, err := Next(s, a); err == nil {
			return to, nil
		}
	}
	return "", ErrIllegalTransition
}
