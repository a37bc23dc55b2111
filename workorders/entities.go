package workorders

import (
	"encoding/json"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Role is a user's role; it decides what the API lets the user do.
type Role string

// The four roles of the contract.
const (
	RoleAdmin    Role = "admin"
	RolePlanner  Role = "planner"
	RoleEngineer Role = "engineer"
	RoleViewer   Role = "viewer"
)

// Roles lists every role.
func Roles() []Role { return []Role{RoleAdmin, RolePlanner, RoleEngineer, RoleViewer} }

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RolePlanner || r == RoleEngineer || r == RoleViewer
}

// User is someone (or something) holding API tokens.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Actor is who performs an action; a nil ID means the system itself.
type Actor struct {
	ID   *string
	Name string
	Role Role
}

// System is the actor for automatic actions (signals, SLA job, verification).
func System(name string) Actor { return Actor{Name: name, Role: RoleAdmin} }

// ActorOf returns the actor for an authenticated user.
func ActorOf(u User) Actor {
	id := u.ID
	return Actor{ID: &id, Name: u.Name, Role: u.Role}
}

// Location is a point on earth.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Site is a plant or facility.
type Site struct {
	ID        string    `json:"id"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Location  *Location `json:"location"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Asset is a machine at a site; Code is its name in MQTT topics.
type Asset struct {
	ID          string    `json:"id"`
	SiteID      string    `json:"site_id"`
	SiteCode    string    `json:"site_code"`
	Code        string    `json:"code"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Criticality int       `json:"criticality"`
	Location    *Location `json:"location"`
	ParentID    *string   `json:"parent_id"`
	// Area is where the asset stands within its site (a hall, a line, a
	// rig); "" for none. Assets of one site and area are neighbours for
	// grouping, as are assets sharing a parent.
	Area      string    `json:"area"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AssetFilter selects assets; empty fields do not filter.
type AssetFilter struct {
	SiteID string
	Code   string
	Type   string
	Area   string
	Page   Page
}

// Page is a cursor page request. Cursor is opaque, from a previous list.
type Page struct {
	Limit  int
	Cursor string
}

// SignalRecord is a persisted signal.
type SignalRecord struct {
	ID          int64             `json:"id"`
	Kind        rules.Kind        `json:"kind"`
	Level       rules.Level       `json:"level"`
	RuleID      *string           `json:"rule_id"`
	SiteCode    string            `json:"site"`
	AssetCode   string            `json:"asset"`
	AssetID     *string           `json:"asset_id"`
	Metric      string            `json:"metric"`
	FailureMode string            `json:"failure_mode"`
	Value       float64           `json:"value"`
	Limit       float64           `json:"limit"`
	DetectedAt  time.Time         `json:"detected_at"`
	Message     string            `json:"message"`
	Prediction  *rules.Prediction `json:"prediction,omitempty"`
	Evidence    json.RawMessage   `json:"evidence"`
	OrderID     *string           `json:"order_id"`
	CreatedAt   time.Time         `json:"created_at"`
}

// SignalFilter selects signals.
type SignalFilter struct {
	AssetID string
	RuleID  string
	Kind    string
	Level   string
	Page    Page
}

// OrderFilter selects work orders (the contract's list filters).
type OrderFilter struct {
	Status     []Status
	AssetID    string
	SiteID     string
	Source     string
	AssigneeID string
	// Involving keeps the orders a user is assigned to or helps on.
	Involving string
	Priority  string
	// Number finds one order by its human number (123 for WO-000123).
	Number int64
	// Sort is the order of the list: "" (SortNewest) or SortRisk.
	Sort string
	Page Page
}

// The orders of GET /work-orders (sort=).
const (
	// SortNewest: newest first (the default).
	SortNewest = "newest"
	// SortRisk: riskiest first, as the review queue ranks: priority (P1
	// first), then the sooner failure time (the prediction, or for a
	// non-trend order the detection, else the creation; a trend order
	// without a prediction last), then the asset's higher criticality,
	// then the older order.
	SortRisk = "risk"
)

// OrderDetail is an order with what the detail endpoint shows besides it.
type OrderDetail struct {
	Order
	Events      []Event          `json:"events"`
	Attachments []AttachmentMeta `json:"attachments"`
	Signals     []SignalRecord   `json:"signals"`
}

// ActionRequest carries an action and its optional inputs.
type ActionRequest struct {
	Action Action
	Actor  Actor
	Note   string
	// Reason: reject, close, decline, hold and cancel.
	Reason string
	// Approve may change these.
	Priority *Priority
	DueAt    *time.Time
	Skills   []string
	Parts    []rules.PartQty
	// AssigneeID: assign (a user id of role engineer).
	AssigneeID string
	// OnlyUnassigned makes assign refuse an order already assigned (the
	// dispatcher must not override a hand assignment made while it
	// planned); without it, assign reassigns an order not yet accepted.
	OnlyUnassigned bool
	// MergeInto: merge (the id of the open order this one joins).
	MergeInto string
	// Complete.
	Resolution string
	LabourTime rules.Duration
	PartsUsed  []rules.PartQty
	// Verify.
	Evidence map[string]any
}

// NewOrder is the input of a manual (or schedule) order.
type NewOrder struct {
	AssetID           string          `json:"asset_id" schema:"required,format=uuid"`
	Title             string          `json:"title" schema:"required,minLength=1,maxLength=300"`
	Description       string          `json:"description" schema:"maxLength=10000"`
	Source            Source          `json:"source"`
	FailureMode       string          `json:"failure_mode" schema:"maxLength=128"`
	RuleID            *string         `json:"rule_id" schema:"format=uuid"`
	Priority          Priority        `json:"priority"`
	DueAt             *time.Time      `json:"due_at"`
	RequiredSkills    []string        `json:"required_skills" schema:"maxItems=50"`
	Parts             []rules.PartQty `json:"parts" schema:"maxItems=100"`
	EstimatedDuration rules.Duration  `json:"estimated_duration"`
	Evidence          map[string]any  `json:"evidence"`
}

// AttachmentMeta describes a stored attachment without its bytes.
type AttachmentMeta struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	Kind        string    `json:"kind"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SignerName  string    `json:"signer_name,omitempty"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// Attachment is an attachment with its content.
type Attachment struct {
	AttachmentMeta
	Data []byte `json:"-"`
}

// SLAPolicy gives response (to accepted) and resolution (to completed)
// times for one priority.
type SLAPolicy struct {
	Priority Priority       `json:"priority"`
	Response rules.Duration `json:"response"`
	Resolve  rules.Duration `json:"resolution"`
	// PauseOnHold stops the resolution clock while the order is on_hold.
	PauseOnHold bool `json:"pause_on_hold"`
	// AtRisk is the fraction of a time budget after which an order is at risk (default 0.8).
	AtRisk    float64   `json:"at_risk"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Webhook is a subscription to work-order events.
type Webhook struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Secret     string    `json:"secret,omitempty"`
	EventTypes []string  `json:"event_types"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
}

// Delivery is one event to deliver to one webhook (the outbox row).
type Delivery struct {
	ID            int64           `json:"id"`
	WebhookID     string          `json:"webhook_id"`
	EventID       int64           `json:"event_id"`
	EventType     string          `json:"event_type"`
	Payload       json.RawMessage `json:"payload"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
	DeliveredAt   *time.Time      `json:"delivered_at,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// DeliveryAttempt is one try of a delivery (the delivery log).
type DeliveryAttempt struct {
	ID         int64     `json:"id"`
	DeliveryID int64     `json:"delivery_id"`
	WebhookID  string    `json:"webhook_id"`
	EventType  string    `json:"event_type"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// AssetRef is what ingest, rules and prediction need to know about an asset.
type AssetRef struct {
	ID          string
	SiteCode    string
	Code        string
	Type        string
	Criticality int
}
