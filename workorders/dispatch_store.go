package workorders

import (
	"context"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// OpsStore is the persistence of dispatch and inventory; workorders/postgres
// implements it (postgres.Ops). Methods return ErrNotFound for missing
// records, ErrConflict for uniqueness violations, ErrInsufficientStock when
// a movement would break a stock invariant and *ValidationError for bad
// references.
type OpsStore interface {
	CreateEngineer(ctx context.Context, e Engineer) (Engineer, error)
	GetEngineer(ctx context.Context, id string) (Engineer, error)
	EngineerByUser(ctx context.Context, userID string) (Engineer, error)
	ListEngineers(ctx context.Context, p Page) ([]Engineer, string, error)
	// ActiveEngineers returns active engineers that have a user.
	ActiveEngineers(ctx context.Context) ([]Engineer, error)
	UpdateEngineer(ctx context.Context, e Engineer) (Engineer, error)
	SetEngineerLocation(ctx context.Context, id string, l Location, at time.Time) (Engineer, error)
	DeleteEngineer(ctx context.Context, id string) error

	// DispatchOrders returns approved, unassigned orders with positions
	// and declines.
	DispatchOrders(ctx context.Context) ([]DispatchOrder, error)
	// AssignedOrders returns orders in status assigned by the dispatcher
	// (not by hand).
	AssignedOrders(ctx context.Context) ([]Order, error)
	OrderPosition(ctx context.Context, orderID string) (*dispatch.Point, error)
	SaveDispatchRun(ctx context.Context, r DispatchRun) (DispatchRun, error)
	LatestDispatchRun(ctx context.Context) (DispatchRun, error)

	CreatePart(ctx context.Context, p Part) (Part, error)
	// GetPart finds a part by id or SKU.
	GetPart(ctx context.Context, idOrSKU string) (Part, error)
	ListParts(ctx context.Context, p Page) ([]Part, string, error)
	UpdatePart(ctx context.Context, p Part) (Part, error)
	DeletePart(ctx context.Context, id string) error

	CreateStockLocation(ctx context.Context, l StockLocation) (StockLocation, error)
	GetStockLocation(ctx context.Context, id string) (StockLocation, error)
	ListStockLocations(ctx context.Context, kind string, p Page) ([]StockLocation, string, error)
	UpdateStockLocation(ctx context.Context, l StockLocation) (StockLocation, error)
	DeleteStockLocation(ctx context.Context, id string) error
	Warehouses(ctx context.Context) ([]StockPlace, error)

	ListStock(ctx context.Context, f StockFilter) ([]StockRow, string, error)
	AllStockLevels(ctx context.Context) ([]StockLevel, error)
	SetStockPolicy(ctx context.Context, locationID, sku string, reorderPoint, reorderQty int) (StockRow, error)
	ApplyStockChange(ctx context.Context, c StockChange) ([]Movement, error)
	ListMovements(ctx context.Context, f MovementFilter) ([]Movement, string, error)

	OrderPartsState(ctx context.Context, orderID string) (PartsState, error)
	ReserveOrderParts(ctx context.Context, r ReserveRequest) (PartsState, error)
	// ReleaseOrderParts gives back what an order holds; reset also clears
	// a consumed state (a reopened order needs parts again).
	ReleaseOrderParts(ctx context.Context, orderID, actor, note string, reset bool) (PartsState, error)
	// ConsumeOrderParts books used parts and releases the rest; it returns
	// used parts nothing could be booked from.
	ConsumeOrderParts(ctx context.Context, orderID string, used []rules.PartQty, vanID *string, actor string) (PartsState, []Shortage, error)
	WaitingOrders(ctx context.Context) ([]PartsState, error)
	OrdersNeedingParts(ctx context.Context) ([]string, error)

	GetPurchaseRequest(ctx context.Context, id string) (PurchaseRequest, error)
	ListPurchaseRequests(ctx context.Context, f PurchaseFilter) ([]PurchaseRequest, string, error)
	// EnsurePurchaseRequest raises a request unless one is open for the
	// part and location; created says whether it raised one.
	EnsurePurchaseRequest(ctx context.Context, partID, locationID string, qty int, reason, note string) (pr PurchaseRequest, created bool, err error)
	SetPurchaseRequestStatus(ctx context.Context, id, status string) (PurchaseRequest, error)
	ReceivePurchaseRequest(ctx context.Context, id string, qty int, actor string) (PurchaseRequest, error)
	DemandSources(ctx context.Context) ([]DemandSource, error)
}

// LockDispatch is the advisory lock key of the dispatcher and of the
// inventory jobs: one runner across replicas.
const (
	LockDispatch  int64 = 0x70646d0100
	LockReorder   int64 = 0x70646d0101
	LockSchedules int64 = 0x70646d0102
)
