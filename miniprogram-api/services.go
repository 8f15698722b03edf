package mpapi

import (
	"context"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/address"
	"github.com/yutang/yutang/domain/aftersales"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/catalog"
	"github.com/yutang/yutang/domain/clerk"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/platform"
	"github.com/yutang/yutang/domain/reconcile"
	"github.com/yutang/yutang/domain/store"
)

// Services are the domain use cases the API calls. Each area adds its
// service here (one field) when it arrives.
type Services struct {
	Identity *identity.Service
	Audit    AuditReader
	Catalog  *catalog.Service
	Stores   *store.Service

	Cart      *cart.Service    // routes:orders
	Orders    *order.Service   // routes:orders
	Addresses *address.Service // routes:orders

	Cashier    *cashier.Service // routes:payments
	PayNotices PayNotifications // routes:payments (webhooks)

	AfterSales *aftersales.Service // routes:aftersales

	Attribution *attribution.Service // routes:attribution

	Clerks    *clerk.Service      // routes:clerks
	Members   *member.Service     // routes:membership
	Coupons   *coupon.Service     // routes:coupons
	Campaigns *campaign.Service   // routes:coupons
	Platform  *platform.Service   // routes:platform
	KOC       *commission.Service // routes:koc
	Payout    *commission.Payout  // routes:koc (payout)

	TransferNotices TransferNotifications // routes:koc (webhooks)

	Reconcile *reconcile.Service // routes:reconciliation
}

// AuditReader reads the audit log.
type AuditReader interface {
	List(ctx context.Context, entity, entityID string, page domain.Page) ([]domain.AuditView, string, error)
}
