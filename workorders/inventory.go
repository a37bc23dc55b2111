package workorders

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// ErrInsufficientStock: a movement would take stock below zero or below
// what is reserved. It is also an ErrConflict (HTTP 409, as the contract
// says of "not enough stock").
var ErrInsufficientStock error = insufficientStock{}

type insufficientStock struct{}

func (insufficientStock) Error() string        { return "insufficient stock" }
func (insufficientStock) Is(target error) bool { return target == ErrConflict }

// Stock location kinds.
const (
	LocationWarehouse = "warehouse"
	LocationVan       = "van"
)

// Movement kinds of the stock ledger.
const (
	MoveReceipt     = "receipt"
	MoveReserve     = "reserve"
	MoveRelease     = "release"
	MoveConsume     = "consume"
	MoveTransferOut = "transfer_out"
	MoveTransferIn  = "transfer_in"
	MoveAdjust      = "adjust"
)

// HoldWaitingForParts is the hold reason of an order whose parts are not in
// stock.
const HoldWaitingForParts = "waiting_for_parts"

// StockPlace is a stock location as part allocation sees it: where it is
// and what it can give (available = on hand − reserved, per SKU).
type StockPlace struct {
	ID        string
	Kind      string // LocationWarehouse or LocationVan
	Position  *dispatch.Point
	Available map[string]int
}

// Allocation is a quantity of one part to reserve at one location.
type Allocation struct {
	SKU        string `json:"sku"`
	LocationID string `json:"location_id"`
	Qty        int    `json:"qty"`
}

// Shortage is what no location can give.
type Shortage struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// MergeParts adds up repeated SKUs and drops non-positive quantities,
// keeping first-seen order.
func MergeParts(parts []rules.PartQty) []rules.PartQty {
	idx := map[string]int{}
	var out []rules.PartQty
	for _, p := range parts {
		if p.Qty <= 0 || p.SKU == "" {
			continue
		}
		if i, ok := idx[p.SKU]; ok {
			out[i].Qty += p.Qty
			continue
		}
		idx[p.SKU] = len(out)
		out = append(out, p)
	}
	return out
}

// NearestFirst orders warehouses by great-circle distance from at; those
// without a position (or when at is nil) come last, by ID.
func NearestFirst(warehouses []StockPlace, at *dispatch.Point) []StockPlace {
	out := slices.Clone(warehouses)
	dist := func(p StockPlace) float64 {
		if at == nil || p.Position == nil {
			return math.Inf(1)
		}
		return dispatch.DistanceKm(*at, *p.Position)
	}
	slices.SortStableFunc(out, func(a, b StockPlace) int {
		if c := cmp.Compare(dist(a), dist(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// AllocateParts decides where an order's parts come from: the assigned
// engineer's van first (van may be nil), then warehouses nearest to the
// job (at). A part may be split over several locations. When anything is
// short it returns the shortages, and the caller reserves nothing: the
// order waits for parts whole, so two orders never each hold half of what
// both need.
func AllocateParts(parts []rules.PartQty, van *StockPlace, warehouses []StockPlace, at *dispatch.Point) ([]Allocation, []Shortage) {
	order := NearestFirst(warehouses, at)
	if van != nil {
		order = append([]StockPlace{*van}, order...)
	}
	var allocs []Allocation
	var short []Shortage
	for _, p := range MergeParts(parts) {
		need := p.Qty
		for _, loc := range order {
			if need == 0 {
				break
			}
			take := min(need, loc.Available[p.SKU])
			if take <= 0 {
				continue
			}
			allocs = append(allocs, Allocation{SKU: p.SKU, LocationID: loc.ID, Qty: take})
			need -= take
		}
		if need > 0 {
			short = append(short, Shortage{SKU: p.SKU, Qty: need})
		}
	}
	return allocs, short
}

// StockLevel is the stock of one part at one location.
type StockLevel struct {
	LocationID   string `json:"location_id"`
	PartID       string `json:"part_id"`
	SKU          string `json:"sku"`
	OnHand       int    `json:"on_hand"`
	Reserved     int    `json:"reserved"`
	ReorderPoint int    `json:"reorder_point"`
	ReorderQty   int    `json:"reorder_qty"`
}

// Available is what can still be reserved.
func (s StockLevel) Available() int { return s.OnHand - s.Reserved }

// Reorder decides whether to raise a purchase request for a stock level,
// given the expected demand (from predictions and unreserved open orders)
// over the replenishment horizon. The projected stock is available minus
// demand; below the reorder point it orders enough to come back to the
// reorder point, at least the reorder quantity. It returns 0 when no
// request is needed.
func Reorder(s StockLevel, demand float64) int {
	if demand < 0 || math.IsNaN(demand) {
		demand = 0
	}
	projected := s.Available() - int(math.Ceil(demand-1e-9))
	if projected >= s.ReorderPoint {
		return 0
	}
	return max(s.ReorderQty, s.ReorderPoint-projected, 1)
}

// DemandSource is an open order (typically a trend order raised by a
// prediction) whose parts are not yet reserved: it is expected to consume
// Parts around ExpectedAt near Position.
type DemandSource struct {
	OrderID    string
	Position   *dispatch.Point
	Parts      []rules.PartQty
	ExpectedAt time.Time
}

// Demand is the expected consumption of one part at one warehouse.
type Demand struct {
	LocationID string `json:"location_id"`
	SKU        string `json:"sku"`
	// Qty is the total expected within the horizon.
	Qty float64 `json:"qty"`
	// ByWeek splits Qty into weeks from now (index 0: the coming 7 days).
	ByWeek []float64 `json:"by_week"`
	// Orders lists the orders behind the figure.
	Orders []string `json:"orders"`
}

// PartsDemand turns open predictions into expected consumption per part
// and warehouse over the coming weeks: each source's parts count at the
// warehouse nearest to it, in the week its failure is expected (overdue
// ones in week 0); sources expected after now+horizon do not count.
func PartsDemand(sources []DemandSource, warehouses []StockPlace, now time.Time, horizon time.Duration) []Demand {
	if len(warehouses) == 0 || horizon <= 0 {
		return nil
	}
	weeks := int(math.Ceil(horizon.Hours() / (7 * 24)))
	type key struct{ loc, sku string }
	acc := map[key]*Demand{}
	var keys []key
	for _, s := range sources {
		if s.ExpectedAt.After(now.Add(horizon)) {
			continue
		}
		loc := NearestFirst(warehouses, s.Position)[0].ID
		week := 0
		if s.ExpectedAt.After(now) {
			week = min(int(s.ExpectedAt.Sub(now)/(7*24*time.Hour)), weeks-1)
		}
		for _, p := range MergeParts(s.Parts) {
			k := key{loc, p.SKU}
			d, ok := acc[k]
			if !ok {
				d = &Demand{LocationID: loc, SKU: p.SKU, ByWeek: make([]float64, weeks)}
				acc[k] = d
				keys = append(keys, k)
			}
			d.Qty += float64(p.Qty)
			d.ByWeek[week] += float64(p.Qty)
			if !slices.Contains(d.Orders, s.OrderID) {
				d.Orders = append(d.Orders, s.OrderID)
			}
		}
	}
	out := make([]Demand, 0, len(keys))
	for _, k := range keys {
		out = append(out, *acc[k])
	}
	slices.SortFunc(out, func(a, b Demand) int {
		if c := cmp.Compare(a.LocationID, b.LocationID); c != 0 {
			return c
		}
		return cmp.Compare(a.SKU, b.SKU)
	})
	return out
}

// Part is a catalogue entry.
type Part struct {
	ID        string         `json:"id"`
	SKU       string         `json:"sku"`
	Name      string         `json:"name"`
	Unit      string         `json:"unit"`
	UnitCost  float64        `json:"unit_cost"`
	LeadTime  rules.Duration `json:"lead_time"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// MaxUnitCost bounds a part's unit cost, so sums of costs stay finite.
const MaxUnitCost = 1e9

// ValidatePart checks a part and fills defaults.
func ValidatePart(p *Part) error {
	if !skuOK(p.SKU) {
		return Invalid("sku", "must match [A-Za-z0-9._-]{1,64}")
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 200 {
		return Invalid("name", "required, at most 200 characters")
	}
	if p.Unit == "" {
		p.Unit = "pcs"
	}
	if p.UnitCost < 0 || p.UnitCost > MaxUnitCost || math.IsNaN(p.UnitCost) || math.IsInf(p.UnitCost, 0) {
		return Invalid("unit_cost", "must be from 0 to %g", float64(MaxUnitCost))
	}
	if p.LeadTime == 0 {
		p.LeadTime = rules.Duration(7 * 24 * time.Hour)
	}
	return nil
}

func skuOK(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// StockLocation is a warehouse or an engineer's van.
type StockLocation struct {
	ID         string    `json:"id"`
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	EngineerID *string   `json:"engineer_id"`
	SiteID     *string   `json:"site_id"`
	Location   *Location `json:"location"`
	CreatedAt  time.Time `json:"created_at"`
}

// ValidateStockLocation checks a location. Vans are created with their
// engineer; the API creates warehouses.
func ValidateStockLocation(l *StockLocation) error {
	if !codeOK(l.Code) {
		return Invalid("code", "must match [A-Za-z0-9_-]{1,64}")
	}
	l.Name = strings.TrimSpace(l.Name)
	if l.Name == "" {
		l.Name = l.Code
	}
	if l.Kind == "" {
		l.Kind = LocationWarehouse
	}
	if l.Kind != LocationWarehouse && l.Kind != LocationVan {
		return Invalid("kind", "must be warehouse or van")
	}
	if (l.Kind == LocationVan) != (l.EngineerID != nil) {
		return Unprocessable("engineer_id", "a van needs an engineer and a warehouse has none")
	}
	if l.Location != nil {
		return validPoint("location", *l.Location)
	}
	return nil
}

// StockRow is the stock of one part at one location as `GET /stock` shows
// it, with the expected demand from predictions.
type StockRow struct {
	StockLevel
	LocationCode string `json:"location_code"`
	LocationKind string `json:"location_kind"`
	PartName     string `json:"part_name"`
	Available    int    `json:"available"`
	// Demand is the expected consumption over the forecast horizon (open
	// predictions and unreserved open orders), by week.
	Demand       float64   `json:"expected_demand"`
	DemandByWeek []float64 `json:"expected_demand_by_week"`
	// OnOrder is the quantity of open purchase requests (open or
	// ordered, not yet received) for this part and location.
	OnOrder int `json:"on_order"`
	// Suggested is what a new purchase request would ask for now, counting
	// what is already on order (0: none).
	Suggested   int       `json:"suggested_order_qty"`
	OpenRequest *string   `json:"open_purchase_request_id"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// StockFilter selects stock rows.
type StockFilter struct {
	LocationID string
	PartID     string
	SKU        string
	// BelowReorder keeps rows whose projected stock is below the reorder
	// point.
	BelowReorder bool
	Page         Page
}

// Movement is one ledger entry. OnHandDelta and ReservedDelta are what it
// did to the stock row; the ledger sums to the stock.
type Movement struct {
	ID                int64     `json:"id"`
	At                time.Time `json:"at"`
	Kind              string    `json:"kind"`
	LocationID        string    `json:"location_id"`
	PartID            string    `json:"part_id"`
	SKU               string    `json:"sku"`
	OnHandDelta       int       `json:"on_hand_delta"`
	ReservedDelta     int       `json:"reserved_delta"`
	OrderID           *string   `json:"order_id"`
	PurchaseRequestID *string   `json:"purchase_request_id"`
	TransferID        *string   `json:"transfer_id,omitempty"`
	Actor             string    `json:"actor"`
	Note              string    `json:"note"`
}

// MovementFilter selects ledger entries (newest first).
type MovementFilter struct {
	LocationID string
	PartID     string
	OrderID    string
	Kind       string
	Page       Page
}

// StockChange is a manual movement through the API: a receipt, an
// adjustment (signed) or a transfer to another location.
type StockChange struct {
	Kind         string `json:"kind" schema:"required,enum=receipt|adjust|transfer"` // receipt, adjust, transfer
	LocationID   string `json:"location_id" schema:"required,format=uuid"`
	ToLocationID string `json:"to_location_id,omitempty" schema:"format=uuid"`
	SKU          string `json:"sku" schema:"required,pattern=^[A-Za-z0-9._-]{1,64}$"`
	Qty          int    `json:"qty" schema:"required,min=-1000000,max=1000000"`
	Note         string `json:"note" schema:"maxLength=4000"`
	Actor        string `json:"-"`
}

// ValidateStockChange checks a manual movement.
func ValidateStockChange(c StockChange) error {
	switch c.Kind {
	case MoveReceipt, "transfer":
		if c.Qty <= 0 {
			return Unprocessable("qty", "must be positive")
		}
	case MoveAdjust:
		if c.Qty == 0 {
			return Unprocessable("qty", "must not be zero")
		}
	default:
		return Invalid("kind", "must be receipt, adjust or transfer")
	}
	if c.LocationID == "" {
		return Invalid("location_id", "required")
	}
	if c.Kind == "transfer" && (c.ToLocationID == "" || c.ToLocationID == c.LocationID) {
		return Invalid("to_location_id", "required and different from location_id")
	}
	if !skuOK(c.SKU) {
		return Invalid("sku", "must match [A-Za-z0-9._-]{1,64}")
	}
	return nil
}

// Purchase request statuses and reasons.
const (
	PROpen      = "open"
	PROrdered   = "ordered"
	PRReceived  = "received"
	PRCancelled = "cancelled"

	PRReasonReorder  = "reorder_point"
	PRReasonShortage = "shortage"
	PRReasonForecast = "forecast"
	PRReasonManual   = "manual"
)

// PurchaseRequest asks for a quantity of a part at a location.
type PurchaseRequest struct {
	ID          string     `json:"id"`
	PartID      string     `json:"part_id"`
	SKU         string     `json:"sku"`
	LocationID  string     `json:"location_id"`
	Qty         int        `json:"qty"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason"`
	OrderID     *string    `json:"order_id"`
	Note        string     `json:"note"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ReceivedAt  *time.Time `json:"received_at,omitempty"`
	ReceivedQty *int       `json:"received_qty,omitempty"`
}

// PurchaseFilter selects purchase requests (newest first).
type PurchaseFilter struct {
	Status     string
	PartID     string
	LocationID string
	Page       Page
}

// PartsState is what an order holds: reserved (with the reservations),
// waiting (with the shortages), consumed or released.
type PartsState struct {
	OrderID      string       `json:"order_id"`
	State        string       `json:"state"`
	ResumeStatus string       `json:"resume_status,omitempty"`
	Reservations []Allocation `json:"reservations"`
	Shortages    []ShortageAt `json:"shortages"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// ShortageAt is a shortage requested at a location.
type ShortageAt struct {
	SKU        string `json:"sku"`
	Qty        int    `json:"qty"`
	LocationID string `json:"location_id"`
}

// Parts states of an order.
const (
	PartsReserved = "reserved"
	PartsWaiting  = "waiting"
	PartsConsumed = "consumed"
	PartsReleased = "released"
)

// ReserveRequest asks to reserve an order's parts for its engineer.
type ReserveRequest struct {
	OrderID string
	// VanID is the assigned engineer's van (nil: warehouses only).
	VanID *string
	Parts []rules.PartQty
	// At is the job's position (nearest warehouse first).
	At *dispatch.Point
	// ResumeStatus is where the order goes back to when it had to wait.
	ResumeStatus string
	Actor        string
	Note         string
}
