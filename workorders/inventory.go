package workorders

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// ErrInsufficientStock: a movement would take stock below zero or below
// what is reserved.
var ErrInsufficientStock = errors.New("insufficient stock")

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
