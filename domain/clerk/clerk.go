// Package clerk is the store clerk's desk (导购): in-store orders for members
// and walk-ins, collecting their payment by a Native QR code or by a push to
// the member's mini-program, handing over pickup orders by their code, and
// the clerk's and the store's own numbers.
//
// Everything is scoped to the store of the staff member at the desk: a clerk
// or store manager sees only their store (anything of another store is not
// found), a clerk sees only their own numbers and customers, a store manager
// those of every clerk of the store, and an admin every store.
//
// Orders are placed by order.Service and paid through cashier.Service, so an
// in-store order goes through the same lifecycle as any other; stock is the
// catalog's one shared stock (see the package note in README.md).
package clerk

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
)

// Staff is who works the desk: the signed-in staff member.
type Staff struct {
	ID      int64
	Name    string
	Role    identity.Role
	StoreID int64 // clerks and store managers; 0 for an admin
}

// Actor is the staff member as the actor of a change.
func (s Staff) Actor() domain.Actor { return domain.Actor{Kind: "staff", ID: s.ID, Name: s.Name} }

func (s Staff) admin() bool { return s.Role == identity.RoleAdmin }

// sees reports whether s may see things of store storeID.
func (s Staff) sees(storeID int64) bool {
	return s.admin() || (storeID != 0 && s.StoreID == storeID && s.Role.StoreBound())
}

// seesOrder reports whether the order belongs to s's store: taken there, or
// to be picked up there.
func (s Staff) seesOrder(o order.Order) bool {
	switch {
	case o.Channel == order.ChannelInStore:
		return s.sees(o.StoreID)
	case o.Fulfillment == order.FulfillmentPickup:
		return s.sees(o.PickupStore)
	}
	return false
}

// Pickup is a pickup order's hand-over code.
type Pickup struct {
	OrderID     int64
	OrderNumber string
	StoreID     int64
	Code        string
	CreatedAt   time.Time
	VerifiedAt  time.Time // zero until handed over
	VerifiedBy  int64
	VerifyKey   string // the Idempotency-Key of the verifying request
}

// PickupView is what the shopper is shown of their pickup order: the code
// only once the order is paid.
type PickupView struct {
	OrderNumber string
	StoreID     int64
	Status      PickupStatus
	Code        string // "" unless ready
	VerifiedAt  time.Time
}

// PickupStatus is where a pickup order's hand-over is.
type PickupStatus string

// The pickup statuses.
const (
	PickupAwaitingPayment PickupStatus = "awaiting_payment"
	PickupReady           PickupStatus = "ready"
	PickupPickedUp        PickupStatus = "picked_up"
	PickupCancelled       PickupStatus = "cancelled"
)

// OrderInput is an in-store order as the clerk enters it: the lines, the
// member (by their dynamic member code, scanned, or the phone number bound
// to their account) or nobody (a walk-in), and the payable the clerk showed.
type OrderInput struct {
	Items           []order.LineRequest
	MemberPhone     string // "" for a walk-in
	MemberCode      string // the member's dynamic code: the alternative to MemberPhone
	CouponIDs       []int64
	Points          int64
	ExpectedPayable *domain.Fen
	Note            string
	IdempotencyKey  string
}

// Method is how an in-store order's payment is collected.
type Method string

// The collection methods.
const (
	MethodNativeQR Method = "native_qr" // a WeChat Pay QR code on the clerk's phone
	MethodPush     Method = "push"      // the member pays it in their mini-program
)

// Collection is how the clerk's screen collects an order: the QR code's
// content for a Native payment, or the member it was pushed to.
type Collection struct {
	Method     Method
	Order      order.Order
	CodeURL    string
	OutTradeNo string
	ValidUntil time.Time
}

// ListFilter selects the store's orders on the clerk's desk.
type ListFilter struct {
	StoreID int64 // admins: one store (0: every store); store staff: theirs
	Status  order.Status
}

// PeriodQuery asks for numbers over Asia/Shanghai days From … To (both
// included): one clerk's, or a store's.
type PeriodQuery struct {
	From, To time.Time
	StoreID  int64 // admins: one store (0: every store)
	ClerkID  int64 // 0: every clerk of the store(s)
}

// Stats are the numbers of a clerk, a store or a day: in-store orders paid,
// their paid amount (GMV), what was refunded of them, distinct members who
// bought, pickup orders handed over, and share-link visitors.
type Stats struct {
	Orders    int64
	GMV       domain.Fen
	Refunded  domain.Fen
	Customers int64
	Pickups   int64
	Visitors  int64
}

// DayStats are one day's numbers.
type DayStats struct {
	Day time.Time
	Stats
}

// Performance is a period's numbers, in all and by day.
type Performance struct {
	Query PeriodQuery
	Total Stats
	Days  []DayStats
}

// ClerkStats are one clerk's numbers in a store report.
type ClerkStats struct {
	ClerkID  int64
	Username string
	StoreID  int64
	Stats
}

// CustomerQuery selects the customers of a clerk or a store.
type CustomerQuery struct {
	StoreID int64
	ClerkID int64
}

// Customer is a member who bought in store, with their phone masked.
type Customer struct {
	ShopperID   int64
	Nickname    string
	MaskedPhone string
	Orders      int64
	GMV         domain.Fen
	LastOrderAt time.Time
}

// MaskPhone keeps the first three and last four digits of a phone number
// (138****8000); shorter numbers keep only their last two.
func MaskPhone(p string) string {
	r := []rune(p)
	switch {
	case len(r) >= 11:
		return string(r[:3]) + "****" + string(r[len(r)-4:])
	case len(r) > 2:
		return "****" + string(r[len(r)-2:])
	case len(r) == 0:
		return ""
	}
	return "****"
}

// Errors of the clerk's desk.
var (
	ErrMemberNotFound = domain.E(domain.KindNotFound, "member_not_found", "No member has this phone number bound.")
	ErrStoreStaffOnly = domain.E(domain.KindForbidden, "store_staff_only", "Only a store's clerks and managers take in-store orders and hand over pickups.")
	ErrManagerOnly    = domain.E(domain.KindForbidden, "store_manager_only", "Only the store manager (or an admin) sees the store's clerks.")
	ErrStoreNotFound  = domain.E(domain.KindNotFound, "store_not_found", "No such store.")
	ErrClerkNotFound  = domain.E(domain.KindNotFound, "clerk_not_found", "No such clerk in your store.")
	ErrNotInStore     = domain.E(domain.KindConflict, "not_in_store_order", "Only in-store orders can be collected or cancelled at the desk.")
	ErrNoMember       = domain.E(domain.KindConflict, "walk_in_cannot_push", "A walk-in has no mini-program to push the payment to; show the QR code instead.")
	ErrNoQRCode       = domain.E(domain.KindConflict, "no_qr_code", "This order has no QR code to show: collect it by native_qr first.")
	ErrBadMethod      = domain.Invalid(domain.FieldError{Field: "method", Code: "oneof", Message: "must be one of: native_qr push"})

	ErrPickupNotFound   = domain.E(domain.KindNotFound, "pickup_code_not_found", "No pickup order has this code.")
	ErrPickupOtherStore = domain.E(domain.KindNotFound, "pickup_other_store", "This pickup code belongs to another store's order: the customer picks it up there.")
	ErrPickupUnpaid     = domain.E(domain.KindConflict, "pickup_unpaid", "This pickup order is not paid yet: it cannot be handed over.")
	ErrPickupCancelled  = domain.E(domain.KindConflict, "pickup_cancelled", "This pickup order was cancelled: do not hand it over.")
	ErrPickupUsed       = domain.E(domain.KindConflict, "pickup_code_used", "This pickup code was already used: the order was handed over.")
	ErrNotPickup        = domain.E(domain.KindNotFound, "not_a_pickup_order", "This order is not picked up in a store.")
)

// Store is what the desk needs from the database. Every method but InTx may
// run inside a transaction opened by InTx (on the Store passed to fn).
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	order.Raiser
	// Audit records a staff write in the transaction.
	Audit(ctx context.Context, e domain.AuditEntry) error

	// ShopperByPhone returns the shopper with this bound phone number
	// (ErrMemberNotFound).
	ShopperByPhone(ctx context.Context, phone string) (int64, error)
	// StaffStore returns the store of a clerk or store manager
	// (ErrClerkNotFound for anyone else).
	StaffStore(ctx context.Context, staffID int64) (int64, error)

	// Order returns an order by number (order.ErrOrderNotFound); forUpdate
	// locks it.
	Order(ctx context.Context, number string, forUpdate bool) (order.Order, error)
	// UpdateStatus writes an order's status and the times that go with it.
	UpdateStatus(ctx context.Context, o order.Order) error
	// StoreOrders lists the in-store and pickup orders of a store (0: every
	// store), newest first.
	StoreOrders(ctx context.Context, f ListFilter, page domain.Page) ([]order.Order, string, error)

	// IssuePickupCode records p unless its code is taken (false).
	IssuePickupCode(ctx context.Context, p Pickup) (bool, error)
	// Pickup returns the pickup of this code, locked (ErrPickupNotFound).
	Pickup(ctx context.Context, code string) (Pickup, error)
	// PickupOf returns the pickup of an order (ErrNotPickup).
	PickupOf(ctx context.Context, orderID int64) (Pickup, error)
	// MarkPickupVerified records the hand-over of a pickup.
	MarkPickupVerified(ctx context.Context, orderID, by int64, key string, at time.Time) error

	// Performance sums the numbers of q by Asia/Shanghai day.
	Performance(ctx context.Context, q PeriodQuery) ([]DayStats, error)
	// DistinctCustomers counts the members who bought in q's period.
	DistinctCustomers(ctx context.Context, q PeriodQuery) (int64, error)
	// ClerkPerformance sums the numbers of q by clerk, by clerk id.
	ClerkPerformance(ctx context.Context, q PeriodQuery, page domain.Page) ([]ClerkStats, string, error)
	// Customers lists the members who bought in store from q's clerk or
	// store, newest customer first.
	Customers(ctx context.Context, q CustomerQuery, page domain.Page) ([]Customer, string, error)
}
