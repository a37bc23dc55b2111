package httpapi

import (
	"context"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// OpsStore is what the engineers' and inventory routes read and write
// directly (the rest goes through DispatchRunner and Inventory);
// postgres.Ops implements it.
type OpsStore interface {
	engineerStore
	partStore
	stockLocationStore
	stockStore
	purchaseStore
}

// engineerStore serves /engineers and the engineers' own /me routes.
type engineerStore interface {
	CreateEngineer(ctx context.Context, e workorders.Engineer) (workorders.Engineer, error)
	GetEngineer(ctx context.Context, id string) (workorders.Engineer, error)
	EngineerByUser(ctx context.Context, userID string) (workorders.Engineer, error)
	ListEngineers(ctx context.Context, p workorders.Page) ([]workorders.Engineer, string, error)
	UpdateEngineer(ctx context.Context, e workorders.Engineer) (workorders.Engineer, error)
	SetEngineerLocation(ctx context.Context, id string, l workorders.Location, at time.Time) (workorders.Engineer, error)
	DeleteEngineer(ctx context.Context, id string) error
}

// partStore serves /parts.
type partStore interface {
	CreatePart(ctx context.Context, p workorders.Part) (workorders.Part, error)
	// GetPart finds a part by id or SKU.
	GetPart(ctx context.Context, idOrSKU string) (workorders.Part, error)
	ListParts(ctx context.Context, p workorders.Page) ([]workorders.Part, string, error)
	UpdatePart(ctx context.Context, p workorders.Part) (workorders.Part, error)
	DeletePart(ctx context.Context, id string) error
}

// stockLocationStore serves /stock-locations.
type stockLocationStore interface {
	CreateStockLocation(ctx context.Context, l workorders.StockLocation) (workorders.StockLocation, error)
	GetStockLocation(ctx context.Context, id string) (workorders.StockLocation, error)
	ListStockLocations(ctx context.Context, kind string, p workorders.Page) ([]workorders.StockLocation, string, error)
	UpdateStockLocation(ctx context.Context, l workorders.StockLocation) (workorders.StockLocation, error)
	DeleteStockLocation(ctx context.Context, id string) error
}

// stockStore serves /stock, /movements and an order's parts.
type stockStore interface {
	ListStock(ctx context.Context, f workorders.StockFilter) ([]workorders.StockRow, string, error)
	SetStockPolicy(ctx context.Context, locationID, sku string, reorderPoint, reorderQty int) (workorders.StockRow, error)
	ApplyStockChange(ctx context.Context, c workorders.StockChange) ([]workorders.Movement, error)
	ListMovements(ctx context.Context, f workorders.MovementFilter) ([]workorders.Movement, string, error)
	OrderPartsState(ctx context.Context, orderID string) (workorders.PartsState, error)
}

// purchaseStore serves /purchase-requests.
type purchaseStore interface {
	GetPurchaseRequest(ctx context.Context, id string) (workorders.PurchaseRequest, error)
	ListPurchaseRequests(ctx context.Context, f workorders.PurchaseFilter) ([]workorders.PurchaseRequest, string, error)
	EnsurePurchaseRequest(ctx context.Context, partID, locationID string, qty int, reason, note string) (pr workorders.PurchaseRequest, created bool, err error)
	SetPurchaseRequestStatus(ctx context.Context, id, status string) (workorders.PurchaseRequest, error)
	ReceivePurchaseRequest(ctx context.Context, id string, qty int, actor string) (workorders.PurchaseRequest, error)
}
