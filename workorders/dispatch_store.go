package workorders

import (
	"context"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// DispatchStore is what the dispatcher (DispatchRunner and its board)
// needs from persistence; postgres.Ops implements it. Methods return
// ErrNotFound for missing records.
type DispatchStore interface {
	engineerDirectory
	dispatchQueue
	dispatchLog
	stockLevels
}

// engineerDirectory reads engineers.
type engineerDirectory interface {
	GetEngineer(ctx context.Context, id string) (Engineer, error)
	ListEngineers(ctx context.Context, p Page) ([]Engineer, string, error)
	// ActiveEngineers returns active engineers that have a user.
	ActiveEngineers(ctx context.Context) ([]Engineer, error)
}

// dispatchQueue reads the orders dispatch works on.
type dispatchQueue interface {
	// DispatchOrders returns approved, unassigned orders with positions
	// and declines.
	DispatchOrders(ctx context.Context) ([]DispatchOrder, error)
	// AssignedOrders returns orders in status assigned by the dispatcher
	// (not by hand).
	AssignedOrders(ctx context.Context) ([]Order, error)
	OrderPosition(ctx context.Context, orderID string) (*dispatch.Point, error)
}

// dispatchLog keeps the dispatcher's runs.
type dispatchLog interface {
	SaveDispatchRun(ctx context.Context, r DispatchRun) (DispatchRun, error)
	LatestDispatchRun(ctx context.Context) (DispatchRun, error)
}

// stockLevels reads stock across places (for parts-aware dispatch and
// reordering).
type stockLevels interface {
	AllStockLevels(ctx context.Context) ([]StockLevel, error)
	Warehouses(ctx context.Context) ([]StockPlace, error)
}

// InventoryStore is what Inventory needs from persistence; postgres.Ops
// implements it. Methods return ErrNotFound for missing records,
// ErrInsufficientStock when a movement would break a stock invariant and
// *ValidationError for bad references.
type InventoryStore interface {
	partsLedger
	stockLevels
	purchasing
	// GetPart finds a part by id or SKU.
	GetPart(ctx context.Context, idOrSKU string) (Part, error)
	ListStock(ctx context.Context, f StockFilter) ([]StockRow, string, error)
	EngineerByUser(ctx context.Context, userID string) (Engineer, error)
	OrderPosition(ctx context.Context, orderID string) (*dispatch.Point, error)
}

// partsLedger holds what an order reserves and uses.
type partsLedger interface {
	OrderPartsState(ctx context.Context, orderID string) (PartsState, error)
	ReserveOrderParts(ctx context.Context, r ReserveRequest) (PartsState, error)
	// ReleaseOrderParts gives back what an order holds; reset also clears
	// a consumed state (a reopened order needs parts again).
	ReleaseOrderParts(ctx context.Context, orderID, actor, note string, reset bool) (PartsState, error)
	// ConsumeOrderParts books used parts and releases the rest; it returns
	// used parts nothing could be booked from.
	ConsumeOrderParts(ctx context.Context, orderID string, used []rules.PartQty, vanID *string, actor string) (PartsState, []Shortage, error)
}

// purchasing raises and receives purchase requests and finds the orders
// waiting for them.
type purchasing interface {
	// EnsurePurchaseRequest raises a request unless one is open for the
	// part and location; created says whether it raised one.
	EnsurePurchaseRequest(ctx context.Context, partID, locationID string, qty int, reason, note string) (pr PurchaseRequest, created bool, err error)
	ReceivePurchaseRequest(ctx context.Context, id string, qty int, actor string) (PurchaseRequest, error)
	DemandSources(ctx context.Context) ([]DemandSource, error)
	WaitingOrders(ctx context.Context) ([]PartsState, error)
	OrdersNeedingParts(ctx context.Context) ([]string, error)
}

// LockDispatch is the advisory lock key of the dispatcher and of the
// inventory jobs: one runner across replicas.
const (
	LockDispatch  int64 = 0x70646d0100
	LockReorder   int64 = 0x70646d0101
	LockSchedules int64 = 0x70646d0102
)
