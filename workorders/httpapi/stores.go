package httpapi

import (
	"context"
	"time"

	"github.com/openpdm/pdm/rules"
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

// The route groups of the ticket core declare what they call on
// *workorders.Service (its validating methods and the store's promoted
// ones).

// userService serves /users and their tokens.
type userService interface {
	CreateUser(ctx context.Context, name string, role workorders.Role) (workorders.User, string, error)
	GetUser(ctx context.Context, id string) (workorders.User, error)
	ListUsers(ctx context.Context, p workorders.Page) ([]workorders.User, string, error)
	NewUserToken(ctx context.Context, userID string, o workorders.TokenOptions) (string, error)
	ListTokens(ctx context.Context, userID string) ([]workorders.TokenInfo, error)
	RevokeTokens(ctx context.Context, userID string) (int, error)
}

// orderService serves /work-orders, their actions and comments and the
// engineers' /me/jobs.
type orderService interface {
	ListOrders(ctx context.Context, f workorders.OrderFilter) ([]workorders.Order, string, error)
	GetOrder(ctx context.Context, id string) (workorders.Order, error)
	OrderDetail(ctx context.Context, id string) (workorders.OrderDetail, error)
	CreateOrder(ctx context.Context, actor workorders.Actor, in workorders.NewOrder) (workorders.Order, error)
	EditOrder(ctx context.Context, actor workorders.Actor, id string, e workorders.OrderEdit) (workorders.Order, error)
	Act(ctx context.Context, id string, req workorders.ActionRequest) (workorders.Order, error)
	Comment(ctx context.Context, actor workorders.Actor, orderID, text string) (workorders.Event, error)
}

// siteService serves /sites.
type siteService interface {
	CreateSite(ctx context.Context, v workorders.Site) (workorders.Site, error)
	GetSite(ctx context.Context, id string) (workorders.Site, error)
	ListSites(ctx context.Context, p workorders.Page) ([]workorders.Site, string, error)
	UpdateSite(ctx context.Context, v workorders.Site) (workorders.Site, error)
	DeleteSite(ctx context.Context, id string) error
}

// assetService serves /assets.
type assetService interface {
	CreateAsset(ctx context.Context, a workorders.Asset) (workorders.Asset, error)
	GetAsset(ctx context.Context, id string) (workorders.Asset, error)
	ListAssets(ctx context.Context, f workorders.AssetFilter) ([]workorders.Asset, string, error)
	UpdateAsset(ctx context.Context, a workorders.Asset) (workorders.Asset, error)
	DeleteAsset(ctx context.Context, id string) error
}

// ruleService serves /rules.
type ruleService interface {
	CreateRule(ctx context.Context, r rules.Rule) (rules.Rule, error)
	GetRule(ctx context.Context, id string) (rules.Rule, error)
	ListRules(ctx context.Context, p workorders.Page) ([]rules.Rule, string, error)
	UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error)
	DeleteRule(ctx context.Context, id string) error
}

// signalReader serves /signals.
type signalReader interface {
	ListSignals(ctx context.Context, f workorders.SignalFilter) ([]workorders.SignalRecord, string, error)
	GetSignal(ctx context.Context, id int64) (workorders.SignalRecord, error)
}

// slaService serves /sla-policies.
type slaService interface {
	ListSLAPolicies(ctx context.Context) ([]workorders.SLAPolicy, error)
	PutSLAPolicy(ctx context.Context, p workorders.SLAPolicy) (workorders.SLAPolicy, error)
	DeleteSLAPolicy(ctx context.Context, priority workorders.Priority) error
}

// webhookService serves /webhooks and their delivery log.
type webhookService interface {
	CreateWebhook(ctx context.Context, w workorders.Webhook) (workorders.Webhook, error)
	GetWebhook(ctx context.Context, id string) (workorders.Webhook, error)
	ListWebhooks(ctx context.Context) ([]workorders.Webhook, error)
	UpdateWebhook(ctx context.Context, w workorders.Webhook) (workorders.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	ListDeliveries(ctx context.Context, webhookID string, p workorders.Page) ([]workorders.Delivery, string, error)
	ListAttempts(ctx context.Context, webhookID string, p workorders.Page) ([]workorders.DeliveryAttempt, string, error)
}

// attachmentService serves an order's attachments.
type attachmentService interface {
	AddAttachment(ctx context.Context, actor workorders.Actor, a workorders.Attachment) (workorders.AttachmentMeta, error)
	GetAttachment(ctx context.Context, orderID, id string) (workorders.Attachment, error)
	ListAttachments(ctx context.Context, orderID string) ([]workorders.AttachmentMeta, error)
}

// labelSource serves the asset labels.
type labelSource interface {
	GetSite(ctx context.Context, id string) (workorders.Site, error)
	GetAsset(ctx context.Context, id string) (workorders.Asset, error)
	ListAssets(ctx context.Context, f workorders.AssetFilter) ([]workorders.Asset, string, error)
}
