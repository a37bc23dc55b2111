package workorders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Service is the ticket core: the Store plus the domain rules. Methods
// defined on Service validate and decide; the Store's own methods (promoted
// through the embedded field) are plain persistence.
type Service struct {
	Store
	// Now is the clock for everything not driven by event time.
	Now func() time.Time
	// Log receives the service's own log lines.
	Log *slog.Logger
	// RepeatWindow: a failure mode coming back within this time after an
	// order for it completed makes the new order a follow-up of the old one.
	RepeatWindow time.Duration
	// AfterTransition, when set, is called after each committed transition
	// (for example to trigger dispatch on approval). It must not block long.
	AfterTransition func(ctx context.Context, o Order, e Event)
	// CheckPartsUsed, when set, refuses parts a completing order cannot
	// have used (Inventory.CheckUsed) before anything changes.
	CheckPartsUsed func(ctx context.Context, o Order, used []rules.PartQty) error
	// EstimateETA, when set, estimates the arrival of the order's engineer
	// (user id) at its asset; depart records it in its event.
	EstimateETA func(ctx context.Context, o Order, userID string, now time.Time) (ETA, error)
	// AllowPrivateWebhooks lets webhooks target loopback, link-local,
	// private and multicast addresses (off by default: the delivery log
	// must not become a scanner of the internal network).
	AllowPrivateWebhooks bool
}

// errNotYours hides another engineer's order: it answers as if the order
// did not exist, so that neither its existence nor its state leaks.
func errNotYours(id string) error {
	return fmt.Errorf("%w: no work order %s among your jobs", ErrNotFound, id)
}

// notYours reports whether an engineer actor may not see or act on o.
func notYours(a Actor, o *Order) bool {
	return a.Role == RoleEngineer && (o.AssigneeID == nil || a.ID == nil || *o.AssigneeID != *a.ID)
}

// NewService returns a Service over store with a 30-day repeat window.
func NewService(store Store, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Store: store, Now: now, Log: log, RepeatWindow: 30 * 24 * time.Hour}
}

// HashToken returns the stored form of a bearer token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns a fresh random bearer token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return "pdm_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateUser creates a user with a new token, returned once.
func (s *Service) CreateUser(ctx context.Context, name string, role Role) (User, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return User{}, "", Invalid("name", "required, at most 200 characters")
	}
	if !role.Valid() {
		return User{}, "", Invalid("role", "must be one of admin, planner, engineer, viewer")
	}
	tok, err := NewToken()
	if err != nil {
		return User{}, "", err
	}
	u, err := s.Store.CreateUser(ctx, name, role, HashToken(tok))
	if err != nil {
		return User{}, "", err
	}
	return u, tok, nil
}

// NewUserToken issues another token for a user, returned once; with
// o.Replace it rotates: the user's other tokens are revoked.
func (s *Service) NewUserToken(ctx context.Context, userID string, o TokenOptions) (string, error) {
	if o.ExpiresAt != nil && !o.ExpiresAt.After(s.Now()) {
		return "", Unprocessable("expires_in", "must lie in the future")
	}
	tok, err := NewToken()
	if err != nil {
		return "", err
	}
	if err := s.Store.AddToken(ctx, userID, HashToken(tok), o); err != nil {
		return "", err
	}
	return tok, nil
}

// Authenticate returns the user a bearer token belongs to, or
// ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, ErrUnauthenticated
	}
	u, err := s.Store.UserByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrUnauthenticated
	}
	return u, err
}

// BootstrapAdmin makes sure an admin can log in. With a token (from
// PDM_ADMIN_TOKEN) it registers that token for the admin user and returns
// "". Without one, at first start (no admin yet) it generates a token,
// registers it and returns it to be printed once; later it returns "".
func (s *Service) BootstrapAdmin(ctx context.Context, token string) (string, error) {
	if token != "" {
		if len(token) < 16 {
			return "", Invalid("PDM_ADMIN_TOKEN", "must have at least 16 characters")
		}
		if _, err := s.Store.EnsureAdmin(ctx, HashToken(token), false); err != nil {
			return "", fmt.Errorf("bootstrap admin: %w", err)
		}
		return "", nil
	}
	tok, err := NewToken()
	if err != nil {
		return "", err
	}
	created, err := s.Store.EnsureAdmin(ctx, HashToken(tok), true)
	if err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	if !created {
		return "", nil
	}
	return tok, nil
}

// HandleSignal persists a signal and, for critical threshold, trend and
// event signals of a known asset, creates or updates the asset's open auto
// order for the failure mode (see the contract's life-cycle section).
// Signals of assets not (yet) registered are stored without an order.
func (s *Service) HandleSignal(ctx context.Context, sig rules.Signal) error {
	_, _, err := s.handleSignal(ctx, sig)
	return err
}

// HandleSignalOrder is HandleSignal returning the stored signal and the
// order it created or updated (nil when none).
func (s *Service) HandleSignalOrder(ctx context.Context, sig rules.Signal) (SignalRecord, *Order, error) {
	return s.handleSignal(ctx, sig)
}

func (s *Service) handleSignal(ctx context.Context, sig rules.Signal) (SignalRecord, *Order, error) {
	if sig.DetectedAt.IsZero() {
		return SignalRecord{}, nil, Invalid("detected_at", "required")
	}
	var asset *AssetRef
	if sig.AssetID != "" {
		a, err := s.Store.GetAsset(ctx, sig.AssetID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return SignalRecord{}, nil, err
		}
		if err == nil {
			asset = &AssetRef{ID: a.ID, SiteCode: a.SiteCode, Code: a.Code, Type: a.Type, Criticality: a.Criticality}
		}
	} else if sig.Site != "" && sig.Asset != "" {
		a, err := s.Store.AssetByCode(ctx, sig.Site, sig.Asset)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return SignalRecord{}, nil, err
		}
		if err == nil {
			asset = &a
		}
	}
	var rule *rules.Rule
	if sig.RuleID != "" {
		r, err := s.Store.GetRule(ctx, sig.RuleID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return SignalRecord{}, nil, err
		}
		if err == nil {
			rule = &r
		}
	}
	mode := FailureModeOf(sig, rule)
	rec := SignalRecord{
		Kind: sig.Kind, Level: sig.Level, SiteCode: sig.Site, AssetCode: sig.Asset,
		Metric: sig.Metric, FailureMode: mode, Value: sig.Value, Limit: sig.Limit,
		DetectedAt: sig.DetectedAt.UTC(), Message: sig.Message, Prediction: sig.Prediction,
		Evidence: SignalEvidence(sig),
	}
	if rule != nil {
		rec.RuleID = &rule.ID
	}
	if asset != nil {
		rec.AssetID = &asset.ID
		rec.SiteCode, rec.AssetCode = asset.SiteCode, asset.Code
	}
	if asset == nil || !WantsOrder(sig) {
		out, _, err := s.Store.SaveSignal(ctx, rec, nil, nil)
		return out, nil, err
	}
	key := &AutoKey{AssetID: asset.ID, FailureMode: mode}
	leader, err := s.groupLeader(ctx, sig, asset.ID, mode)
	if err != nil {
		return SignalRecord{}, nil, fmt.Errorf("signal for %s/%s: group: %w", sig.Site, sig.Asset, err)
	}
	linked := false
	fn := func(open, previous *Order) (*Order, Event, error) {
		if open == nil && leader != nil {
			// One cause, one order: the neighbour's rise is evidence on
			// the leader's order (linked below), not an order of its own.
			linked = true
			return nil, Event{}, nil
		}
		return s.planAuto(sig, rule, *asset, mode, open, previous)
	}
	out, o, err := s.Store.SaveSignal(ctx, rec, key, fn)
	if err != nil {
		return SignalRecord{}, nil, fmt.Errorf("signal for %s/%s: %w", sig.Site, sig.Asset, err)
	}
	if linked && o == nil {
		s.link(ctx, *leader, *asset, out)
		return out, nil, nil
	}
	if o != nil {
		typ := EventEvidence
		if o.SignalCount == 1 {
			typ = EventCreated
		}
		s.after(ctx, *o, Event{OrderID: o.ID, Type: typ, Actor: "system", To: o.Status})
		s.Log.InfoContext(ctx, "auto order", "order_id", o.ID, "number", o.Number, "asset_id", asset.ID,
			"failure_mode", mode, "status", o.Status, "priority", o.Priority)
	}
	return out, o, nil
}

// groupLeader returns the neighbour order a trend signal of an asset is
// linked to (ChooseLeader over the store's GroupOrders, each leader's slope
// the steepest of its order's trend signals), nil when none.
func (s *Service) groupLeader(ctx context.Context, sig rules.Signal, assetID, mode string) (*Leader, error) {
	gs, ok := s.Store.(GroupStore)
	if !ok || sig.Kind != rules.KindTrend || sig.Prediction == nil {
		return nil, nil
	}
	orders, err := gs.GroupOrders(ctx, assetID, mode)
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	var leaders []Leader
	for _, o := range orders {
		l, ok := LeaderFromOrder(o)
		if !ok {
			continue
		}
		sigs, err := s.Store.OrderSignals(ctx, o.ID, 200)
		if err != nil {
			return nil, err
		}
		for _, r := range sigs {
			if r.Prediction != nil && math.Abs(r.Prediction.Slope) > math.Abs(l.Slope) {
				l.Slope = r.Prediction.Slope
			}
		}
		leaders = append(leaders, l)
	}
	l, ok := ChooseLeader(sig, leaders)
	if !ok {
		return nil, nil
	}
	return &l, nil
}

// link records a linked neighbour's signal as an event on the leader's
// order (the signal itself is stored on the neighbour's asset). A failure
// to append it is logged: the signal is stored either way.
func (s *Service) link(ctx context.Context, l Leader, a AssetRef, rec SignalRecord) {
	data, _ := json.Marshal(map[string]any{"asset_id": a.ID, "asset": a.Code, "site": a.SiteCode,
		"signal_id": rec.ID, "signal": json.RawMessage(rec.Evidence)})
	ev := Event{Type: EventLinked, Actor: "system", Data: data,
		Note: fmt.Sprintf("linked %s/%s: rises with this order's asset (one cause, one order)", a.SiteCode, a.Code)}
	o, err := s.Store.UpdateOrder(ctx, l.OrderID, func(o *Order) (Event, error) { return ev, nil })
	if err != nil {
		s.Log.WarnContext(ctx, "link neighbour signal", "order_id", l.OrderID, "asset_id", a.ID, "err", err)
		return
	}
	s.after(ctx, o, ev)
	s.Log.InfoContext(ctx, "linked neighbour signal", "order_id", o.ID, "number", o.Number, "asset_id", a.ID)
}

// LateDetectionSpan is how much earlier than an open auto order's
// detection a late signal may be and still become its detection.
const LateDetectionSpan = 7 * 24 * time.Hour

func (s *Service) planAuto(sig rules.Signal, rule *rules.Rule, a AssetRef, mode string, open, previous *Order) (*Order, Event, error) {
	rulePrio := Priority("")
	var est time.Duration
	if rule != nil {
		rulePrio = Priority(rule.Priority)
		est = rule.EstimatedDuration.D()
	}
	prio := AutoPriority(rulePrio, sig, a.Criticality)
	due := AutoDue(sig, prio, est)
	evidence := SignalEvidence(sig)
	data, _ := json.Marshal(map[string]any{"signal": json.RawMessage(evidence)})
	if open != nil {
		// New evidence: latest prediction, raised (never lowered) priority,
		// earlier (never later) due date.
		before := open.Priority
		open.Priority = Higher(open.Priority, prio)
		open.DueAt = earlier(open.DueAt, &due)
		open.SignalCount++
		// Evidence of a reading older than the order's latest (a late
		// reading re-evaluated in event time) never replaces it.
		if latest, ok := evidenceAt(open.Evidence); !ok || !sig.DetectedAt.Before(latest) {
			open.Evidence = evidence
			if sig.Prediction != nil {
				open.PredictedFailureAt = timePtr(sig.Prediction.CrossingAt)
				open.PredictedFailureEarliest = timePtr(sig.Prediction.CrossingEarliest)
				open.PredictedFailureLatest = timePtr(sig.Prediction.CrossingLatest)
			}
		}
		note := fmt.Sprintf("new %s evidence", sig.Kind)
		if open.Priority != before {
			note += fmt.Sprintf("; priority %s -> %s", before, open.Priority)
		}
		// Detection is in event time: a reading that came late (held in a
		// dead replica's broker session or a gateway's buffer) and shows
		// the fault before the reading that opened the order makes it the
		// order's detection, so lead times do not depend on which copy came
		// first. Older than LateDetectionSpan it is history imported
		// later, not this order's episode: evidence only.
		if open.DetectedAt != nil && sig.DetectedAt.Before(*open.DetectedAt) &&
			open.DetectedAt.Sub(sig.DetectedAt) <= LateDetectionSpan {
			note += fmt.Sprintf("; detected earlier, at %s, by a %s signal of a late reading (was %s)",
				sig.DetectedAt.UTC().Format(time.RFC3339), sig.Kind, open.DetectedAt.UTC().Format(time.RFC3339))
			open.DetectedAt = timePtr(sig.DetectedAt)
			open.Source = Source(sig.Kind)
		}
		return open, Event{Type: EventEvidence, Actor: "system", Note: note, Data: data}, nil
	}
	o := &Order{
		AssetID:     a.ID,
		Title:       autoTitle(sig, mode, a),
		Source:      Source(sig.Kind),
		FailureMode: mode,
		Priority:    prio,
		Status:      StatusProposed,
		DueAt:       &due,
		Evidence:    evidence,
		DetectedAt:  timePtr(sig.DetectedAt),
		SignalCount: 1,
	}
	if rule != nil {
		id := rule.ID
		o.RuleID = &id
		o.RequiredSkills = append([]string(nil), rule.Skills...)
		o.Parts = append([]rules.PartQty(nil), rule.Parts...)
		o.EstimatedDuration = rule.EstimatedDuration
		if rule.AutoApprove {
			o.Status = StatusApproved
			now := s.Now().UTC()
			o.ApprovedAt = &now
		}
	}
	if sig.Prediction != nil {
		o.PredictedFailureAt = timePtr(sig.Prediction.CrossingAt)
		o.PredictedFailureEarliest = timePtr(sig.Prediction.CrossingEarliest)
		o.PredictedFailureLatest = timePtr(sig.Prediction.CrossingLatest)
	}
	note := fmt.Sprintf("raised by %s signal", sig.Kind)
	if previous != nil && previous.CompletedAt != nil && s.RepeatWindow > 0 &&
		sig.DetectedAt.Sub(*previous.CompletedAt) <= s.RepeatWindow {
		id := previous.ID
		o.FollowUpOf = &id
		note += "; repeat failure, follow-up of " + previous.Number
	}
	return o, Event{Type: EventCreated, Actor: "system", To: o.Status, Note: note, Data: data}, nil
}

// CreateOrder creates a manual order (status approved) or, with source
// schedule, a scheduled one.
func (s *Service) CreateOrder(ctx context.Context, actor Actor, in NewOrder) (Order, error) {
	if in.Source == "" {
		in.Source = SourceManual
	}
	if in.Source != SourceManual && in.Source != SourceSchedule {
		return Order{}, Invalid("source", "must be manual or schedule")
	}
	if in.AssetID == "" {
		return Order{}, Invalid("asset_id", "required")
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" || len(in.Title) > 300 {
		return Order{}, Invalid("title", "required, at most 300 characters")
	}
	if in.Priority == "" {
		in.Priority = P3
	}
	if !in.Priority.Valid() {
		return Order{}, Invalid("priority", "must be P1, P2, P3 or P4")
	}
	if err := validateParts("parts", in.Parts); err != nil {
		return Order{}, err
	}
	if err := validateSkills(in.RequiredSkills); err != nil {
		return Order{}, err
	}
	ev := json.RawMessage(`{}`)
	if in.Evidence != nil {
		b, err := json.Marshal(in.Evidence)
		if err != nil {
			return Order{}, Invalid("evidence", "not JSON: %v", err)
		}
		ev = b
	}
	o := Order{
		AssetID: in.AssetID, Title: in.Title, Description: in.Description, Source: in.Source,
		FailureMode: in.FailureMode, RuleID: in.RuleID, Priority: in.Priority, Status: StatusApproved,
		DueAt: in.DueAt, RequiredSkills: in.RequiredSkills, Parts: in.Parts,
		EstimatedDuration: in.EstimatedDuration, Evidence: ev,
	}
	now := s.Now().UTC()
	o.ApprovedAt = &now
	if o.DueAt == nil {
		d := s.Now().Add(ResponseWindow(o.Priority)).UTC()
		o.DueAt = &d
	}
	out, err := s.Store.CreateOrder(ctx, o, Event{Type: EventCreated, ActorID: actor.ID, Actor: actor.Name, To: StatusApproved})
	if err != nil {
		return Order{}, err
	}
	s.after(ctx, out, Event{Type: EventCreated, To: StatusApproved})
	return out, nil
}

// Act applies one life-cycle action to an order: it checks the transition
// and the actor's rights on the locked row, applies the action's inputs and
// appends the event, or changes nothing and returns the error
// (ErrIllegalTransition, ErrForbidden, *ValidationError, ErrNotFound).
func (s *Service) Act(ctx context.Context, id string, req ActionRequest) (Order, error) {
	if err := validateAction(req); err != nil {
		return Order{}, err
	}
	if req.Action == ActAssign {
		u, err := s.Store.GetUser(ctx, req.AssigneeID)
		if errors.Is(err, ErrNotFound) {
			return Order{}, Unprocessable("assignee_id", "no such user")
		}
		if err != nil {
			return Order{}, err
		}
		if u.Role != RoleEngineer {
			return Order{}, Unprocessable("assignee_id", "user %s is a %s, not an engineer", u.Name, u.Role)
		}
	}
	if req.Action == ActComplete && len(req.PartsUsed) > 0 && s.CheckPartsUsed != nil {
		o, err := s.Store.GetOrder(ctx, id)
		if err != nil {
			return Order{}, err
		}
		if notYours(req.Actor, &o) {
			return Order{}, errNotYours(id)
		}
		if _, err := Next(o.Status, req.Action); err != nil {
			return Order{}, err
		}
		if err := s.CheckPartsUsed(ctx, o, req.PartsUsed); err != nil {
			return Order{}, err
		}
	}
	now := s.Now().UTC()
	var eta map[string]any
	if req.Action == ActDepart && s.EstimateETA != nil {
		// Estimated outside the row lock: it reads the engineer and the asset.
		if o, err := s.Store.GetOrder(ctx, id); err == nil && !notYours(req.Actor, &o) {
			eta = s.etaData(ctx, o, req.Actor, now)
		}
	}
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, id, func(o *Order) (Event, error) {
		if notYours(req.Actor, o) {
			return Event{}, errNotYours(id)
		}
		to, err := Next(o.Status, req.Action)
		if err != nil {
			return Event{}, err
		}
		if req.Action == ActAssign && o.Status == StatusAssigned {
			if req.OnlyUnassigned {
				return Event{}, fmt.Errorf("%w: order %s was assigned meanwhile", ErrIllegalTransition, o.Number)
			}
			if o.AssigneeID != nil && *o.AssigneeID == req.AssigneeID {
				return Event{}, ErrNoChange
			}
		}
		from := o.Status
		data := map[string]any{}
		switch req.Action {
		case ActApprove:
			o.ApprovedAt = &now
			if req.Priority != nil {
				data["priority"] = map[string]any{"from": o.Priority, "to": *req.Priority}
				o.Priority = *req.Priority
			}
			if req.DueAt != nil {
				o.DueAt = req.DueAt
				data["due_at"] = req.DueAt
			}
			if req.Skills != nil {
				o.RequiredSkills = req.Skills
				data["required_skills"] = req.Skills
			}
			if req.Parts != nil {
				o.Parts = req.Parts
				data["parts"] = req.Parts
			}
		case ActReject, ActClose:
			o.Reason = req.Reason
			if req.Action == ActClose {
				o.ClosedAt = &now
			}
		case ActAssign:
			if from == StatusAssigned && o.AssigneeID != nil {
				data["reassigned_from"] = *o.AssigneeID
			}
			a := req.AssigneeID
			o.AssigneeID = &a
			data["assignee_id"] = a
		case ActDecline:
			data["declined_by"] = o.AssigneeID
			o.AssigneeID = nil
		case ActAccept:
			o.AcceptedAt = &now
		case ActDepart:
			for k, v := range eta {
				data[k] = v
			}
		case ActStart:
			if o.StartedAt == nil {
				o.StartedAt = &now
			}
		case ActHold:
			o.HoldReason = req.Reason
			o.OnHoldSince = &now
		case ActResume:
			// An order held for parts before it was started goes back to
			// assigned/accepted by itself when they arrive; resuming it by
			// hand would skip accept and start.
			if o.HoldReason == HoldWaitingForParts && o.StartedAt == nil {
				return Event{}, fmt.Errorf("%w: order %s waits for parts and was not started; it resumes by itself when they arrive", ErrIllegalTransition, o.Number)
			}
			if o.OnHoldSince != nil {
				o.HeldFor += rules.Duration(now.Sub(*o.OnHoldSince))
			}
			o.OnHoldSince = nil
			o.HoldReason = ""
		case ActComplete:
			o.CompletedAt = &now
			o.Resolution = req.Resolution
			o.LabourTime = req.LabourTime
			o.PartsUsed = req.PartsUsed
			data["labour_time"] = req.LabourTime
			data["parts_used"] = req.PartsUsed
		case ActVerify:
			o.VerifiedAt = &now
			if req.Evidence != nil {
				data["evidence"] = req.Evidence
			}
		case ActCancel:
			o.Reason = req.Reason
			o.OnHoldSince = nil
		case ActMerge:
			if req.MergeInto == o.ID {
				return Event{}, Unprocessable("into", "an order cannot be merged into itself")
			}
			data["merged_into"] = req.MergeInto
			o.OnHoldSince = nil
		case ActReopen:
			o.ApprovedAt = &now
			o.AssigneeID = nil
			o.CompletedAt, o.VerifiedAt, o.ClosedAt, o.AcceptedAt, o.StartedAt = nil, nil, nil, nil, nil
			o.Reason = ""
			o.SLAState = SLAOK
		}
		if req.Reason != "" {
			data["reason"] = req.Reason
		}
		o.Status = to
		var raw json.RawMessage
		if len(data) > 0 {
			raw, _ = json.Marshal(data)
		}
		ev = Event{Type: EventTypeForAction(req.Action, to), ActorID: req.Actor.ID, Actor: req.Actor.Name,
			From: from, To: to, Note: req.Note, Data: raw}
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	s.after(ctx, o, ev)
	return o, nil
}

func (s *Service) after(ctx context.Context, o Order, e Event) {
	if e.OrderID == "" {
		e.OrderID = o.ID
	}
	if s.AfterTransition != nil {
		s.AfterTransition(ctx, o, e)
	}
}

// Verify marks a completed order verified by the automatic verification
// job, recording its evidence in the event.
func (s *Service) Verify(ctx context.Context, orderID string, evidence map[string]any) error {
	_, err := s.Act(ctx, orderID, ActionRequest{Action: ActVerify, Actor: System("verification"),
		Note: "verified by post-repair telemetry", Evidence: evidence})
	return err
}

// AwaitingVerification lists completed orders (oldest first by list order)
// that the verification job should look at; cursor pages through them.
func (s *Service) AwaitingVerification(ctx context.Context, p Page) ([]Order, string, error) {
	return s.Store.ListOrders(ctx, OrderFilter{Status: []Status{StatusCompleted}, Page: p})
}

// OrderDetail returns an order with its events, attachments and the
// signals that raised or updated it.
func (s *Service) OrderDetail(ctx context.Context, id string) (OrderDetail, error) {
	return s.Store.LoadOrderDetail(ctx, id, 20)
}

// AddAttachment stores an attachment of an order and appends an event.
// Engineers may attach only to their own jobs.
func (s *Service) AddAttachment(ctx context.Context, actor Actor, a Attachment) (AttachmentMeta, error) {
	o, err := s.Store.GetOrder(ctx, a.OrderID)
	if err != nil {
		return AttachmentMeta{}, err
	}
	if notYours(actor, &o) {
		return AttachmentMeta{}, errNotYours(a.OrderID)
	}
	switch a.Kind {
	case "photo", "signature", "document":
	default:
		return AttachmentMeta{}, Invalid("kind", "must be photo, signature or document")
	}
	if a.Kind == "signature" && strings.TrimSpace(a.SignerName) == "" {
		return AttachmentMeta{}, Invalid("signer_name", "required for a signature")
	}
	a.CreatedBy = actor.ID
	data, _ := json.Marshal(map[string]any{"kind": a.Kind, "filename": a.Filename, "size": len(a.Data), "signer_name": a.SignerName})
	return s.Store.AddAttachment(ctx, a, Event{Type: EventAttachment, ActorID: actor.ID, Actor: actor.Name,
		Note: a.Kind + " " + a.Filename, Data: data})
}

// OrderEdit changes an open order's descriptive fields; nil fields stay.
type OrderEdit struct {
	Title          *string          `json:"title" schema:"minLength=1,maxLength=300"`
	Description    *string          `json:"description" schema:"maxLength=10000"`
	Priority       *Priority        `json:"priority"`
	DueAt          *time.Time       `json:"due_at"`
	RequiredSkills *[]string        `json:"required_skills" schema:"maxItems=50"`
	Parts          *[]rules.PartQty `json:"parts" schema:"maxItems=100"`
	Note           string           `json:"note" schema:"maxLength=4000"`
}

// EditOrder applies an edit to an open order and appends an "updated"
// event with what changed. Orders no longer open are ErrConflict.
func (s *Service) EditOrder(ctx context.Context, actor Actor, id string, e OrderEdit) (Order, error) {
	if e.Title != nil && (strings.TrimSpace(*e.Title) == "" || len(*e.Title) > 300) {
		return Order{}, Invalid("title", "required, at most 300 characters")
	}
	if e.Priority != nil && !e.Priority.Valid() {
		return Order{}, Invalid("priority", "must be P1, P2, P3 or P4")
	}
	if e.RequiredSkills != nil {
		if err := validateSkills(*e.RequiredSkills); err != nil {
			return Order{}, err
		}
	}
	if e.Parts != nil {
		if err := validateParts("parts", *e.Parts); err != nil {
			return Order{}, err
		}
	}
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, id, func(o *Order) (Event, error) {
		if !o.Status.Open() {
			return Event{}, fmt.Errorf("%w: order %s is %s and can no longer be edited", ErrConflict, o.Number, o.Status)
		}
		changed := map[string]any{}
		if e.Title != nil && *e.Title != o.Title {
			changed["title"] = map[string]any{"from": o.Title, "to": *e.Title}
			o.Title = strings.TrimSpace(*e.Title)
		}
		if e.Description != nil && *e.Description != o.Description {
			changed["description"] = map[string]any{"from": o.Description, "to": *e.Description}
			o.Description = *e.Description
		}
		if e.Priority != nil && *e.Priority != o.Priority {
			changed["priority"] = map[string]any{"from": o.Priority, "to": *e.Priority}
			o.Priority = *e.Priority
		}
		if e.DueAt != nil {
			changed["due_at"] = map[string]any{"from": o.DueAt, "to": *e.DueAt}
			d := e.DueAt.UTC()
			o.DueAt = &d
		}
		if e.RequiredSkills != nil {
			changed["required_skills"] = map[string]any{"from": o.RequiredSkills, "to": *e.RequiredSkills}
			o.RequiredSkills = *e.RequiredSkills
		}
		if e.Parts != nil {
			changed["parts"] = map[string]any{"from": o.Parts, "to": *e.Parts}
			o.Parts = *e.Parts
		}
		if len(changed) == 0 {
			return Event{}, ErrNoChange
		}
		raw, _ := json.Marshal(changed)
		ev = Event{Type: EventUpdated, ActorID: actor.ID, Actor: actor.Name, Note: e.Note, Data: raw}
		return ev, nil
	})
	if err != nil {
		return Order{}, err
	}
	if ev.Type != "" {
		s.after(ctx, o, ev)
	}
	return o, nil
}
