package workorders

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/openpdm/pdm/rules"
)

// ErrNoChange, returned by an UpdateFunc, makes the store leave the order
// untouched and commit nothing.
var ErrNoChange = errors.New("no change")

// UpdateFunc changes o in place (inside the store's transaction, with the
// row locked) and returns the event that records the change. Returning an
// error aborts the transaction; ErrNoChange aborts it silently.
type UpdateFunc func(o *Order) (Event, error)

// AutoKey identifies the one open auto order an (asset, failure mode) may
// have.
type AutoKey struct {
	AssetID     string
	FailureMode string
}

// AutoOrderFunc decides, inside the store's transaction and with the key
// locked, what a signal does to the auto order: open is the key's open auto
// order (nil when none), previous the key's most recently completed order
// (nil when none). With open == nil it returns a new order to insert (or nil
// for none); otherwise it updates open in place. It returns the event to
// append.
type AutoOrderFunc func(open, previous *Order) (*Order, Event, error)

// SLA states of an order.
const (
	SLAOK       = "ok"
	SLAAtRisk   = "at_risk"
	SLABreached = "breached"
)

// Store is the persistence the ticket core (Service) needs, made of one
// small interface per kind of record; workorders/postgres implements it.
// Methods return ErrNotFound for missing records, ErrConflict for
// uniqueness violations and *ValidationError for references to records
// that do not exist. Consumers that need only part of it (jobs, route
// groups) declare just the methods they call.
type Store interface {
	UserStore
	SiteStore
	AssetStore
	RuleStore
	SignalStore
	OrderStore
	AttachmentStore
	SLAStore
	WebhookStore
	Locker
}

// UserStore holds users and their tokens; tokens are given and looked up
// by their SHA-256 hash.
type UserStore interface {
	CreateUser(ctx context.Context, name string, role Role, tokenHash []byte) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context, p Page) ([]User, string, error)
	UserByTokenHash(ctx context.Context, tokenHash []byte) (User, error)
	// AddToken registers another token for a user (with Replace, instead
	// of the user's other tokens).
	AddToken(ctx context.Context, userID string, tokenHash []byte, o TokenOptions) error
	// ListTokens describes a user's tokens (never their secrets).
	ListTokens(ctx context.Context, userID string) ([]TokenInfo, error)
	// RevokeTokens removes every token of a user and says how many.
	RevokeTokens(ctx context.Context, userID string) (int, error)
	// EnsureAdmin registers tokenHash for an admin user, creating the user
	// "admin" when needed. With onlyIfNone it does nothing when an admin
	// already exists. Without it the token is the bootstrap token: it
	// retires earlier bootstrap tokens, and a revoked one is
	// ErrTokenRevoked. It reports whether it registered the token.
	EnsureAdmin(ctx context.Context, tokenHash []byte, onlyIfNone bool) (bool, error)
}

// SiteStore holds sites.
type SiteStore interface {
	CreateSite(ctx context.Context, s Site) (Site, error)
	GetSite(ctx context.Context, id string) (Site, error)
	ListSites(ctx context.Context, p Page) ([]Site, string, error)
	UpdateSite(ctx context.Context, s Site) (Site, error)
	DeleteSite(ctx context.Context, id string) error
}

// AssetStore holds assets.
type AssetStore interface {
	CreateAsset(ctx context.Context, a Asset) (Asset, error)
	GetAsset(ctx context.Context, id string) (Asset, error)
	ListAssets(ctx context.Context, f AssetFilter) ([]Asset, string, error)
	UpdateAsset(ctx context.Context, a Asset) (Asset, error)
	DeleteAsset(ctx context.Context, id string) error
	// AssetByCode finds an asset by its site's code and its own code.
	AssetByCode(ctx context.Context, siteCode, assetCode string) (AssetRef, error)
}

// RuleStore holds detection rules.
type RuleStore interface {
	CreateRule(ctx context.Context, r rules.Rule) (rules.Rule, error)
	GetRule(ctx context.Context, id string) (rules.Rule, error)
	ListRules(ctx context.Context, p Page) ([]rules.Rule, string, error)
	UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error)
	DeleteRule(ctx context.Context, id string) error
	// EnabledRules returns every enabled rule.
	EnabledRules(ctx context.Context) ([]rules.Rule, error)
	// RulesVersion returns a counter that grows with every rule change.
	RulesVersion(ctx context.Context) (int64, error)
}

// SignalStore holds signals and the auto orders they drive.
type SignalStore interface {
	// SaveSignal stores a signal and, when key and fn are set, applies fn to
	// the key's auto order in the same transaction. It returns the stored
	// signal and the order it created or updated (nil when none).
	SaveSignal(ctx context.Context, s SignalRecord, key *AutoKey, fn AutoOrderFunc) (SignalRecord, *Order, error)
	ListSignals(ctx context.Context, f SignalFilter) ([]SignalRecord, string, error)
	GetSignal(ctx context.Context, id int64) (SignalRecord, error)
	OrderSignals(ctx context.Context, orderID string, limit int) ([]SignalRecord, error)
}

// OrderStore holds work orders and their events.
type OrderStore interface {
	// CreateOrder inserts o (ID, Number and times are filled in) with its
	// first event.
	CreateOrder(ctx context.Context, o Order, ev Event) (Order, error)
	GetOrder(ctx context.Context, id string) (Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, string, error)
	// UpdateOrder locks the order, applies fn and appends its event, all in
	// one transaction.
	UpdateOrder(ctx context.Context, id string, fn UpdateFunc) (Order, error)
	ListEvents(ctx context.Context, orderID string) ([]Event, error)
	// LoadOrderDetail returns an order with its events, attachments and
	// latest signals (at most signals) in one round trip.
	LoadOrderDetail(ctx context.Context, id string, signals int) (OrderDetail, error)
	// SLACandidates returns open, approved-or-later orders under an SLA
	// policy whose SLA state may have to move at now: not yet breached and
	// past the at-risk share of a running clock (past the budget itself for
	// orders already at risk). EvaluateSLA decides.
	SLACandidates(ctx context.Context, now time.Time) ([]Order, error)
}

// OrderVersion names one version of an order: its ID and the version of
// its database row, which changes with every write to the row, whoever
// makes it (another API replica, a job, plain SQL). Equal versions of one
// order have equal content.
type OrderVersion struct {
	ID      uuid.UUID
	Version uint64
}

// ErrVersionChanged: an order asked for at a version is no longer at it
// (changed or deleted since its version was read).
var ErrVersionChanged = errors.New("order changed since its version was read")

// VersionedOrderStore lists orders as versions first, so that a cache of
// rendered orders (httpapi) loads only the ones it does not hold.
type VersionedOrderStore interface {
	// ListOrderVersions returns the page ListOrders would, as versions
	// (same filter, order, limit and next cursor).
	ListOrderVersions(ctx context.Context, f OrderFilter) ([]OrderVersion, string, error)
	// LoadOrderVersions returns the orders of want, in want's order, each
	// at exactly its version; ErrVersionChanged when one is not.
	LoadOrderVersions(ctx context.Context, want []OrderVersion) ([]Order, error)
	// ListOrdersWithVersions is ListOrders with each order's version (the
	// whole page in one query, for pages the cache is unlikely to hold).
	ListOrdersWithVersions(ctx context.Context, f OrderFilter) ([]Order, []OrderVersion, string, error)
}

// AttachmentStore holds orders' attachments.
type AttachmentStore interface {
	AddAttachment(ctx context.Context, a Attachment, ev Event) (AttachmentMeta, error)
	GetAttachment(ctx context.Context, orderID, id string) (Attachment, error)
	ListAttachments(ctx context.Context, orderID string) ([]AttachmentMeta, error)
}

// SLAStore holds SLA policies.
type SLAStore interface {
	ListSLAPolicies(ctx context.Context) ([]SLAPolicy, error)
	PutSLAPolicy(ctx context.Context, p SLAPolicy) (SLAPolicy, error)
	DeleteSLAPolicy(ctx context.Context, priority Priority) error
}

// WebhookStore holds webhooks and their outbox.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	GetWebhook(ctx context.Context, id string) (Webhook, error)
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	ListDeliveries(ctx context.Context, webhookID string, p Page) ([]Delivery, string, error)
	ListAttempts(ctx context.Context, webhookID string, p Page) ([]DeliveryAttempt, string, error)
	// ClaimDeliveries claims pending deliveries due at now that no one
	// holds (no lease, or one ended by now), oldest first, only the head of
	// each webhook's queue, with their webhook: each gets a new claim token
	// and a lease until leaseUntil, committed before it returns.
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]DueDelivery, error)
	// RecordAttempt logs an attempt and, when the delivery is still held by
	// claim, moves it to its next state and ends the lease.
	RecordAttempt(ctx context.Context, claim string, a DeliveryAttempt, outcome DeliveryOutcome) error
	// ReleaseDelivery ends claim's lease without an attempt (a send given up
	// before it was answered): the delivery is due again at once.
	ReleaseDelivery(ctx context.Context, id int64, claim string) error
	// PruneDeliveries deletes finished deliveries and attempts older than
	// before (a bounded number per call) and says how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Locker holds the advisory locks of jobs that run on one replica only.
type Locker interface {
	// WithLock runs fn while holding the session advisory lock key on one
	// connection; when another session holds it, fn does not run and ran
	// is false.
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// TokenOptions are the settings of a new token.
type TokenOptions struct {
	// ExpiresAt, when set, ends the token's validity.
	ExpiresAt *time.Time
	// Replace revokes the user's other tokens (rotation).
	Replace bool
}

// TokenInfo describes a token without its secret.
type TokenInfo struct {
	ID         string     `json:"id"` // the first bytes of its hash, in hex
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Bootstrap  bool       `json:"bootstrap"`
}

// ErrTokenRevoked: PDM_ADMIN_TOKEN names a token that was revoked; it is
// never registered again (set a new one).
var ErrTokenRevoked = errors.New("this admin token was revoked; set a new PDM_ADMIN_TOKEN")

// DueDelivery is a pending delivery with where to send it.
type DueDelivery struct {
	Delivery
	URL    string
	Secret string
	// Claim is the token of the dispatcher's claim (ClaimDeliveries).
	Claim string
}

// DeliveryOutcome is what an attempt leads to.
type DeliveryOutcome struct {
	Status        string // DeliveryPending (retry), DeliveryDelivered or DeliveryFailed
	NextAttemptAt time.Time
}

// Advisory lock keys of the jobs that run on one replica only.
const (
	LockSLAJob    int64 = 0x70646d0001
	LockWebhooks  int64 = 0x70646d0002
	LockBootstrap int64 = 0x70646d0003
)
