// Package notify tells customers and planners what happened: request
// received, engineer assigned, engineer en route with the ETA, work
// completed with the survey invitation; for planners a new proposed order
// and SLA at risk or breached. Messages are rendered from templates (zh-CN
// and en, plain text and HTML) into a durable outbox in PostgreSQL and sent
// from there by email (SMTP) or to chat webhooks (WeCom, DingTalk, Slack
// bodies), each with its own retries: one failing receiver never delays
// the others.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// Kinds of messages.
const (
	KindRequestReceived = "request_received"
	KindAssigned        = "engineer_assigned"
	KindEnRoute         = "en_route"
	KindCompleted       = "completed"
	KindNewProposed     = "new_proposed_order"
	KindSLAAtRisk       = "sla_at_risk"
	KindSLABreached     = "sla_breached"
	// Personal kinds go to one user's own subscriptions.
	KindMention          = "mention"
	KindHelpRequested    = "help_requested"
	KindTransferred      = "job_transferred"
	KindTransferProposed = "transfer_proposed"
)

// Channel kinds.
const (
	ChanEmail    = "email"
	ChanWeCom    = "wecom"
	ChanDingTalk = "dingtalk"
	ChanSlack    = "slack"
)

// Message is one outbox entry: one message to one receiver.
type Message struct {
	ID      int64   `json:"id"`
	Kind    string  `json:"kind"`
	Channel string  `json:"channel"`
	Target  string  `json:"target"`
	OrderID *string `json:"order_id"`
	Subject string  `json:"subject"`
	Text    string  `json:"text"`
	HTML    string  `json:"-"`
	// MessageID is an email's Message-ID (without angle brackets), given
	// when it is queued so that a reply to it finds its order.
	MessageID     string     `json:"-"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at"`
}

// Statuses of a message.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// Subscription sends planner messages of some kinds to a channel; one
// with a UserID is that user's own and receives the personal kinds
// addressed to them (mentions, help requests, transfers).
type Subscription struct {
	ID        string    `json:"id"`
	UserID    *string   `json:"user_id" schema:"format=uuid"`
	Channel   string    `json:"channel" schema:"required,enum=email|wecom|dingtalk|slack"`
	Target    string    `json:"target" schema:"required,maxLength=500"`
	Kinds     []string  `json:"kinds" schema:"maxItems=20"`
	Locale    string    `json:"locale" schema:"enum=en|zh-CN"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at" schema:"readOnly"`
}

// Store is the outbox and the subscriptions.
type Store interface {
	// Enqueue adds messages to the outbox.
	Enqueue(ctx context.Context, ms []Message) error
	// Claim locks up to limit due pending messages for lease and returns
	// them; another sender skips them until the lease ends.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Message, error)
	// Done records an attempt: sent, retry at next, or failed for good.
	Done(ctx context.Context, id int64, status string, next time.Time, errText string) error
	Subscriptions(ctx context.Context) ([]Subscription, error)
	// Recipients returns the requesters following an order (their email
	// and locale).
	Recipients(ctx context.Context, orderID string) ([]Recipient, error)
	// Facts returns what messages about an order say.
	Facts(ctx context.Context, orderID string) (Facts, error)
}

// Recipient is a requester to tell.
type Recipient struct {
	Email     string
	Locale    string
	StatusURL string // "/s/{token}" or ""
}

// Facts are what a message about an order says.
type Facts struct {
	Number    string
	Title     string
	SiteName  string
	AssetName string
	Engineer  string
	Priority  string
}

// Sender delivers one message; an error means try again later.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Notifier renders messages into the outbox and sends them.
type Notifier struct {
	store   Store
	senders map[string]Sender
	log     *slog.Logger
	now     func() time.Time
	// PublicURL prefixes links in messages (https://pdm.example.com).
	PublicURL string
	// MailDomain is the domain of emails' Message-IDs (default localhost).
	MailDomain string
	// Pending, when set, is where the store records events to tell in
	// their own transaction; Run relays them (see Relay).
	Pending PendingStore
	// Workers is how many messages are sent at once (default 8).
	Workers int
	// SendTimeout bounds one attempt (default 15 s).
	SendTimeout time.Duration

	wake chan struct{}
	mu   sync.Mutex // guards subs
	subs []Subscription
	subT time.Time
	// Templates, when set, gives the administrators' custom templates
	// (read again 10 s after the last read, or after InvalidateTemplates).
	Templates TemplateSource
	tmu       sync.Mutex // guards tset, tsetT
	tset      *TemplateSet
	tsetT     time.Time
}

// TemplateSource gives the custom templates.
type TemplateSource interface {
	CustomTemplates(ctx context.Context) ([]Template, error)
}

// New returns a Notifier; senders maps channel kinds to their senders (an
// email sender under ChanEmail, a webhook sender under the chat kinds).
func New(store Store, senders map[string]Sender, log *slog.Logger, now func() time.Time) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Notifier{store: store, senders: senders, log: log, now: now, Workers: 8, SendTimeout: 15 * time.Second,
		wake: make(chan struct{}, 1)}
}

// Backoff returns the wait before attempt n+1 (n ≥ 1): 30 s doubling to
// at most 2 h; after MaxAttempts a message fails for good.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 2*time.Hour; i++ {
		d *= 2
	}
	return min(d, 2*time.Hour)
}

// MaxAttempts is how often a message is tried.
const MaxAttempts = 12

// Run sends due messages until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for {
			if _, err := n.Relay(ctx); err != nil && ctx.Err() == nil {
				n.log.WarnContext(ctx, "notify: relay", "err", err)
			}
			sent, err := n.SendDue(ctx)
			if err != nil && ctx.Err() == nil {
				n.log.WarnContext(ctx, "notify: outbox", "err", err)
			}
			if sent == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.wake:
		}
	}
}

// SendDue claims due messages and sends them concurrently, each with its
// own timeout and retries; it returns how many it tried.
func (n *Notifier) SendDue(ctx context.Context) (int, error) {
	workers := max(n.Workers, 1)
	ms, err := n.store.Claim(ctx, n.now(), workers*8, n.SendTimeout*3)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, m := range ms {
		sem <- struct{}{}
		wg.Add(1)
		go func(m Message) {
			defer func() { <-sem; wg.Done() }()
			n.attempt(ctx, m)
		}(m)
	}
	wg.Wait()
	return len(ms), nil
}

func (n *Notifier) attempt(ctx context.Context, m Message) {
	s, ok := n.senders[m.Channel]
	var err error
	if !ok {
		err = fmt.Errorf("no sender for %s configured", m.Channel)
	} else {
		sctx, cancel := context.WithTimeout(ctx, n.SendTimeout)
		err = s.Send(sctx, m)
		cancel()
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and another try follows
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err == nil {
		if derr := n.store.Done(dctx, m.ID, StatusSent, time.Time{}, ""); derr != nil {
			n.log.WarnContext(ctx, "notify: record", "id", m.ID, "err", derr)
		}
		return
	}
	status, next := StatusPending, n.now().Add(Backoff(m.Attempts+1))
	var perm *PermanentError
	if m.Attempts+1 >= MaxAttempts || errors.As(err, &perm) {
		status = StatusFailed
	}
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	n.log.WarnContext(ctx, "notify: send failed", "id", m.ID, "channel", m.Channel, "attempt", m.Attempts+1, "err", msg)
	if derr := n.store.Done(dctx, m.ID, status, next, msg); derr != nil {
		n.log.WarnContext(ctx, "notify: record", "id", m.ID, "err", derr)
	}
}

// PermanentError marks a failure that retrying cannot mend (a refused
// address).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *Notifier) subscriptions(ctx context.Context) []Subscription {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs != nil && n.now().Sub(n.subT) < 10*time.Second {
		return n.subs
	}
	subs, err := n.store.Subscriptions(ctx)
	if err != nil {
		n.log.WarnContext(ctx, "notify: subscriptions", "err", err)
		return n.subs
	}
	n.subs, n.subT = subs, n.now()
	if n.subs == nil {
		n.subs = []Subscription{}
	}
	return n.subs
}

// templateSet returns the templates, reading the custom ones again after
// 10 s; when they cannot be read it keeps the last ones (the defaults at
// first).
func (n *Notifier) templateSet(ctx context.Context) *TemplateSet {
	n.tmu.Lock()
	defer n.tmu.Unlock()
	if n.tset != nil && (n.Templates == nil || n.now().Sub(n.tsetT) < 10*time.Second) {
		return n.tset
	}
	var custom []Template
	if n.Templates != nil {
		var err error
		if custom, err = n.Templates.CustomTemplates(ctx); err != nil {
			n.log.WarnContext(ctx, "notify: templates", "err", err)
			if n.tset != nil {
				return n.tset
			}
			custom = nil
		}
	}
	ts, err := NewTemplateSet(custom)
	if err != nil {
		n.log.WarnContext(ctx, "notify: custom template left out, the default is used", "err", err)
	}
	n.tset, n.tsetT = ts, n.now()
	return ts
}

// InvalidateTemplates makes the next message read the templates again.
func (n *Notifier) InvalidateTemplates() {
	n.tmu.Lock()
	n.tset = nil
	n.tmu.Unlock()
}

// render renders kind for a receiver's locale and channel.
func (n *Notifier) render(ctx context.Context, kind, locale, channel string, d data) (Rendered, error) {
	r, custom, err := n.templateSet(ctx).render(kind, locale, channel, d)
	if custom != nil {
		n.log.WarnContext(ctx, "notify: custom template failed, the default is used", "err", custom)
	}
	return r, err
}

// InvalidateSubscriptions makes the next event read them again.
func (n *Notifier) InvalidateSubscriptions() {
	n.mu.Lock()
	n.subs = nil
	n.mu.Unlock()
}

// kindsOf returns the shared kinds an order's event tells.
func kindsOf(o workorders.Order, e workorders.Event) []string {
	var kinds []string
	switch {
	case e.Type == workorders.EventCreated && o.Status == workorders.StatusProposed:
		if o.Source == workorders.SourceRequest {
			kinds = append(kinds, KindRequestReceived)
		}
		kinds = append(kinds, KindNewProposed)
	case e.To == workorders.StatusAssigned:
		kinds = append(kinds, KindAssigned)
	case e.To == workorders.StatusEnRoute:
		kinds = append(kinds, KindEnRoute)
	case e.To == workorders.StatusCompleted:
		kinds = append(kinds, KindCompleted)
	case e.Type == workorders.EventSLAAtRisk:
		kinds = append(kinds, KindSLAAtRisk)
	case e.Type == workorders.EventSLABreach:
		kinds = append(kinds, KindSLABreached)
	case e.Type == workorders.EventTransferRequested:
		kinds = append(kinds, KindTransferProposed)
	}
	return kinds
}

// Wants reports whether an order's event tells anyone anything: the
// store then records it for the relay in the event's own transaction
// (Relay), so a committed event is never left untold.
func Wants(o workorders.Order, e workorders.Event) bool {
	if len(kindsOf(o, e)) > 0 {
		return true
	}
	kind, users := personal(e)
	return kind != "" && len(users) > 0
}

// eventMessages renders every message an order's event causes.
func (n *Notifier) eventMessages(ctx context.Context, o workorders.Order, e workorders.Event) ([]Message, error) {
	var all []Message
	for _, k := range kindsOf(o, e) {
		ms, err := n.messages(ctx, k, o, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		all = append(all, ms...)
	}
	if kind, users := personal(e); kind != "" {
		ms, err := n.userMessages(ctx, kind, o, e, users)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		all = append(all, ms...)
	}
	return all, nil
}

// AfterTransition turns an order's event into messages at once (without
// Pending; with it, bind Poke instead and let Relay take the events the
// store recorded).
func (n *Notifier) AfterTransition(ctx context.Context, o workorders.Order, e workorders.Event) {
	if e.Type == workorders.EventCreated && o.Source == workorders.SourceRequest {
		return // RequestCreated tells these
	}
	ms, err := n.eventMessages(ctx, o, e)
	if err == nil {
		err = n.enqueue(ctx, ms)
	}
	if err != nil {
		n.log.WarnContext(ctx, "notify: enqueue", "order_id", o.ID, "err", err)
	}
}

// personal returns the personal kind an event tells and whom it tells:
// the people a comment mentions (not its author), the helper asked to
// join, the engineer a job is transferred to.
func personal(e workorders.Event) (string, []string) {
	if len(e.Data) == 0 {
		return "", nil
	}
	var d struct {
		Mentions []workorders.Mention `json:"mentions"`
		HelperID string               `json:"helper_id"`
		To       string               `json:"to_user_id"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return "", nil
	}
	var users []string
	switch e.Type {
	case workorders.EventComment:
		for _, m := range d.Mentions {
			if e.ActorID == nil || m.UserID != *e.ActorID {
				users = append(users, m.UserID)
			}
		}
		return KindMention, users
	case workorders.EventHelperAdded:
		return KindHelpRequested, []string{d.HelperID}
	case workorders.EventTransferred:
		return KindTransferred, []string{d.To}
	}
	return "", nil
}

// NotifyUsers renders a personal kind about an order for each of users'
// own subscriptions into the outbox (users without one are told in the
// app only: GET /me/mentions, /me/jobs).
func (n *Notifier) NotifyUsers(ctx context.Context, kind string, o workorders.Order, e workorders.Event, users []string) error {
	ms, err := n.userMessages(ctx, kind, o, e, users)
	if err != nil {
		return err
	}
	return n.enqueue(ctx, ms)
}

func (n *Notifier) userMessages(ctx context.Context, kind string, o workorders.Order, e workorders.Event, users []string) ([]Message, error) {
	if len(users) == 0 {
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	want := map[string]bool{}
	for _, u := range users {
		want[u] = true
	}
	var subs []Subscription
	for _, s := range n.subscriptions(ctx) {
		if s.Active && s.UserID != nil && want[*s.UserID] && (len(s.Kinds) == 0 || wants(s, kind)) {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return nil, nil
	}
	f, err := n.store.Facts(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	d := data{Facts: f, Kind: kind, Base: n.PublicURL, Actor: e.Actor, Note: e.Note,
		Link: n.PublicURL + "/app/jobs/" + o.ID}
	id := o.ID
	var ms []Message
	for _, s := range subs {
		r, err := n.render(ctx, kind, s.Locale, s.Channel, d)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Message{Kind: kind, Channel: s.Channel, Target: s.Target, OrderID: &id, Subject: r.Subject, Text: r.Text, HTML: r.HTML})
	}
	return ms, nil
}

// RequestCreated tells the requester their request was received and the
// planners that a new order waits for review (bind it to
// requests.Service.OnCreated).
func (n *Notifier) RequestCreated(ctx context.Context, o workorders.Order) {
	for _, k := range []string{KindRequestReceived, KindNewProposed} {
		if err := n.Notify(ctx, k, o, workorders.Event{}); err != nil {
			n.log.WarnContext(ctx, "notify: enqueue", "order_id", o.ID, "kind", k, "err", err)
		}
	}
}

// Notify renders kind for an order's requesters (customer kinds) or the
// planners' subscriptions (planner kinds) into the outbox.
func (n *Notifier) Notify(ctx context.Context, kind string, o workorders.Order, e workorders.Event) error {
	ms, err := n.messages(ctx, kind, o, e)
	if err != nil {
		return err
	}
	return n.enqueue(ctx, ms)
}

func (n *Notifier) enqueue(ctx context.Context, ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	if err := n.store.Enqueue(context.WithoutCancel(ctx), ms); err != nil {
		return err
	}
	n.poke()
	return nil
}

// messages renders kind for an order's requesters (customer kinds) or the
// planners' subscriptions (planner kinds).
func (n *Notifier) messages(ctx context.Context, kind string, o workorders.Order, e workorders.Event) ([]Message, error) {
	ctx = context.WithoutCancel(ctx)
	f, err := n.store.Facts(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	d := data{Facts: f, Kind: kind, ETA: etaOf(e), Base: n.PublicURL, Actor: e.Actor, Note: e.Note}
	var ms []Message
	id := o.ID
	if customerKind(kind) {
		rs, err := n.store.Recipients(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Email == "" {
				continue
			}
			d.Link = ""
			if r.StatusURL != "" {
				d.Link = n.PublicURL + r.StatusURL
			}
			m, err := n.render(ctx, kind, r.Locale, ChanEmail, d)
			if err != nil {
				return nil, err
			}
			ms = append(ms, Message{Kind: kind, Channel: ChanEmail, Target: r.Email, OrderID: &id, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
				MessageID: n.messageID()})
		}
	}
	for _, s := range n.subscriptions(ctx) {
		if !s.Active || s.UserID != nil || !wants(s, kind) {
			continue
		}
		d.Link = n.PublicURL + "/orders/" + o.ID
		r, err := n.render(ctx, kind, s.Locale, s.Channel, d)
		if err != nil {
			return nil, err
		}
		m := Message{Kind: kind, Channel: s.Channel, Target: s.Target, OrderID: &id, Subject: r.Subject, Text: r.Text, HTML: r.HTML}
		if s.Channel == ChanEmail {
			m.MessageID = n.messageID()
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// messageID returns a fresh unguessable Message-ID: a reply naming it is
// taken as a comment on its order, so it must not be guessable.
func (n *Notifier) messageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	d := n.MailDomain
	if d == "" {
		d = "localhost"
	}
	return "pdm." + base64.RawURLEncoding.EncodeToString(b) + "@" + d
}

func customerKind(k string) bool {
	switch k {
	case KindRequestReceived, KindAssigned, KindEnRoute, KindCompleted:
		return true
	}
	return false
}

// PersonalKind reports whether kind is addressed to one user.
func PersonalKind(k string) bool {
	switch k {
	case KindMention, KindHelpRequested, KindTransferred:
		return true
	}
	return false
}

// wants reports whether a subscription takes kind; without kinds it takes
// the planners' ones.
func wants(s Subscription, kind string) bool {
	if len(s.Kinds) == 0 {
		return !customerKind(kind) && !PersonalKind(kind)
	}
	for _, k := range s.Kinds {
		if k == kind || k == "*" {
			return true
		}
	}
	return false
}
