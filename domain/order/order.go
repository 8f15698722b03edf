package order

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
)

// Order is a placed order with its lines.
type Order struct {
	ID          int64
	Number      string
	ShopperID   int64 // 0: a walk-in (in-store orders only)
	Status      Status
	Fulfillment FulfillmentType
	Address     *AddressSnapshot // delivery
	PickupStore int64            // pickup: the store id

	Channel    Channel
	Subtotal   domain.Fen // list prices × quantities
	Discount   domain.Fen // Σ the lines' adjustments
	Freight    domain.Fen
	Payable    domain.Fen // Subtotal − Discount + Freight
	PointsUsed int64
	Note       string

	PlacedAt     time.Time
	ExpiresAt    time.Time
	PaidAt       time.Time // zero until paid
	ShippedAt    time.Time
	Carrier      string
	TrackingNo   string
	CompletedAt  time.Time
	CancelledAt  time.Time
	CancelReason string

	StoreID int64 // in-store orders: the store and clerk that took it
	ClerkID int64

	Items []Item
}

// Item is one line of an order: a snapshot of the SKU as it was sold and
// what each discount took off it (Adjustments, summing to Discount).
// ListTotal − Discount = Paid.
type Item struct {
	ID               int64
	LineNo           int
	SKUID            int64
	ProductID        int64
	SKUCode          string
	Title            string
	Specs            map[string]string
	Image            string
	UnitPrice        domain.Fen
	Quantity         int
	ListTotal        domain.Fen
	Discount         domain.Fen
	Adjustments      []Adjustment
	Paid             domain.Fen
	RefundStatus     LineRefundStatus
	RefundedQuantity int
	RefundedFen      domain.Fen
}

// AddressSnapshot is the delivery address as it was when the order was
// placed; editing or deleting the address later does not change the order.
type AddressSnapshot struct {
	AddressID int64
	Name      string
	Phone     string
	Province  string
	City      string
	District  string
	Detail    string
}

// SKU is what an order needs to know of a SKU to price and snapshot it.
type SKU struct {
	ID            int64
	ProductID     int64
	CategoryID    int64
	Code          string
	Title         string // the product's title
	Specs         map[string]string
	Image         string
	Price         domain.Fen
	OnSale        bool // the SKU and its product are on sale
	Stock         int  // available
	PerOrderLimit int  // 0: none
}

// LineRequest is one line the shopper asks for.
type LineRequest struct {
	SKUID    int64
	Quantity int
}

// FulfillmentRequest says how the shopper wants the goods: delivery to one
// of their addresses, or pickup in a store.
type FulfillmentRequest struct {
	Type      FulfillmentType
	AddressID int64
	StoreID   int64
}

// PlaceInput is a checkout: the lines (or the cart's selected lines), the
// fulfillment, coupons and points, and the payable the shopper saw.
type PlaceInput struct {
	// Channel is where the order is taken (online when empty). An in-store
	// order names its store and clerk, and a shopper only when the customer
	// is a member (a walk-in has none); its fulfillment is in_store.
	Channel     Channel
	StoreID     int64
	ClerkID     int64
	ShopperID   int64
	Items       []LineRequest
	FromCart    bool
	Fulfillment FulfillmentRequest
	CouponIDs   []int64
	Points      int64
	// Balance is the most stored value the shopper offers to pay with; a
	// placed handler (membership) takes it, at most the payable, as a
	// tender, and WeChat Pay is asked only for the rest.
	Balance domain.Fen
	// ExpectedPayable is what the preview showed; Place refuses with
	// ErrPriceChanged when the price is now different. nil: not checked
	// (Preview ignores it).
	ExpectedPayable *domain.Fen
	Note            string
	// IdempotencyKey makes Place safe to retry: the same key with the same
	// input returns the same order.
	IdempotencyKey string
}

// Hash is a digest of everything that makes two placements the same request
// (the idempotency key excluded), so a key reused with another body is told
// apart.
func (in PlaceInput) Hash() []byte {
	var b strings.Builder
	items := slices.Clone(in.Items)
	fmt.Fprintf(&b, "v1|shopper=%d|from_cart=%t|", in.ShopperID, in.FromCart)
	if in.channel() != ChannelOnline {
		fmt.Fprintf(&b, "channel=%s:%d:%d|", in.Channel, in.StoreID, in.ClerkID)
	}
	for _, it := range items {
		fmt.Fprintf(&b, "item=%d:%d|", it.SKUID, it.Quantity)
	}
	fmt.Fprintf(&b, "ful=%s:%d:%d|", in.Fulfillment.Type, in.Fulfillment.AddressID, in.Fulfillment.StoreID)
	for _, c := range in.CouponIDs {
		fmt.Fprintf(&b, "coupon=%d|", c)
	}
	fmt.Fprintf(&b, "points=%d|", in.Points)
	if in.Balance != 0 {
		fmt.Fprintf(&b, "balance=%d|", in.Balance)
	}
	if in.ExpectedPayable != nil {
		fmt.Fprintf(&b, "expected=%d|", *in.ExpectedPayable)
	}
	fmt.Fprintf(&b, "note=%q", in.Note)
	h := sha256.Sum256([]byte(b.String()))
	return h[:]
}

func (in PlaceInput) channel() Channel {
	if in.Channel == "" {
		return ChannelOnline
	}
	return in.Channel
}

// subject is who places the order: the shopper online, the clerk in store.
func (in PlaceInput) subject() domain.Actor {
	if in.channel() == ChannelInStore {
		return domain.Actor{Kind: "staff", ID: in.ClerkID}
	}
	return domain.Actor{Kind: "shopper", ID: in.ShopperID}
}

// checkChannel checks who and where: an online order has a shopper and no
// store or clerk; an in-store order has a store and a clerk, is handed over
// at the counter, and never takes anything from a cart.
func (in PlaceInput) checkChannel() error {
	switch in.channel() {
	case ChannelOnline:
		if in.ShopperID <= 0 || in.StoreID != 0 || in.ClerkID != 0 {
			return domain.Invalid(domain.FieldError{Field: "channel", Code: "online", Message: "an online order has a shopper and no store or clerk"})
		}
		if in.Fulfillment.Type == FulfillmentInStore {
			return domain.Invalid(domain.FieldError{Field: "fulfillment.type", Code: "oneof", Message: "must be one of: delivery pickup"})
		}
	case ChannelInStore:
		if in.StoreID <= 0 || in.ClerkID <= 0 {
			return domain.Invalid(domain.FieldError{Field: "channel", Code: "in_store", Message: "an in-store order names its store and clerk"})
		}
		if in.FromCart {
			return domain.Invalid(domain.FieldError{Field: "from_cart", Code: "in_store", Message: "an in-store order lists its items"})
		}
		if in.Fulfillment.Type != FulfillmentInStore {
			return domain.Invalid(domain.FieldError{Field: "fulfillment.type", Code: "oneof", Message: "must be in_store for an in-store order"})
		}
	default:
		return domain.Invalid(domain.FieldError{Field: "channel", Code: "oneof", Message: "must be one of: online in_store"})
	}
	return nil
}

// QuoteLine is one priced line with the SKU it prices.
type QuoteLine struct {
	SKU       SKU
	Quantity  int
	Breakdown pricing.LineBreakdown
}

// Quote is a priced checkout: the breakdown from the pricing engine and the
// lines it priced. Preview answers it; Place writes it into the order.
type Quote struct {
	Breakdown   pricing.Breakdown
	Lines       []QuoteLine
	Fulfillment FulfillmentType
	// Coupons: the preview's coupon options (nil in Place, and without
	// Promotions).
	Coupons *CouponOptions
}

// Filter selects orders in the back office. Zero fields do not filter.
type Filter struct {
	Number    string
	Status    Status
	ShopperID int64
	From, To  time.Time // placed_at in [From, To)
}

// Limits of a checkout.
const (
	MaxLines        = 50  // distinct SKUs in one order
	MaxLineQuantity = 999 // units of one SKU in one order, before any per-order limit
	MaxNoteLen      = 200
)

// Errors of orders.
var (
	ErrOrderNotFound = domain.E(domain.KindNotFound, "order_not_found", "No such order.")
	ErrOutOfStock    = domain.E(domain.KindConflict, "out_of_stock", "Sorry, this item is sold out or there is not enough stock.")
	ErrSKUNotFound   = domain.E(domain.KindNotFound, "sku_not_found", "This item does not exist.")
	ErrSKUOffSale    = domain.E(domain.KindConflict, "sku_off_sale", "This item is no longer on sale.")
	ErrOverLimit     = domain.E(domain.KindConflict, "quantity_over_limit", "You cannot buy that many of this item in one order.")
	ErrPriceChanged  = domain.E(domain.KindConflict, "price_changed",
		"The price has changed since you last saw it; please check the new total.")
	ErrAddressNotFound = domain.E(domain.KindNotFound, "address_not_found", "No such address.")
	ErrStoreNotFound   = domain.E(domain.KindNotFound, "store_not_found", "No such store, or it is closed.")
	ErrCartEmpty       = domain.E(domain.KindInvalid, "cart_empty", "No item of your cart is selected.")
	ErrCouponsUnavail  = domain.E(domain.KindConflict, "coupon_not_applicable", "Coupons cannot be used yet.")
	ErrPointsUnavail   = domain.E(domain.KindConflict, "points_unavailable", "Points cannot be used on this order.")
	ErrBalanceUnavail  = domain.E(domain.KindConflict, "balance_unavailable", "Stored value cannot pay this order.")
	ErrIdempotencyKey  = domain.E(domain.KindInvalid, "idempotency_key_required",
		"Send an Idempotency-Key header (1–128 characters) so the order can be retried safely.")
)

// StockProblem is the Details of ErrOutOfStock: which SKU and how many are
// left (Available may be stale by the time the shopper reads it).
type StockProblem struct {
	SKUID     int64
	Requested int
	Available int
}

// Channel is where an order was taken.
type Channel string

// The channels.
const (
	ChannelOnline  Channel = "online"   // placed by the shopper in the mini-program
	ChannelInStore Channel = "in_store" // taken by a clerk in a store (the shopper is optional)
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == ChannelOnline || c == ChannelInStore }

// Adjustment is one discount on one order line, by its source: the
// campaign, the coupon redemption, the member tier, the points entry …
// Σ adjustments of a line is the line's discount, and Σ over the lines is
// the order's.
type Adjustment struct {
	ItemID   int64 // 0 until the order is written
	LineNo   int
	Source   pricing.Source
	SourceID int64
	Amount   domain.Fen
}

// AdjustmentRename names the row an adjustment's discount came from, once a
// placed handler has written it: the order's adjustments of Source whose
// source id is From (on line ItemID, or on every line when 0) get To. The
// pricing stage knows only what it priced (a coupon, 0 for points); the
// area's handler knows the redemption or ledger entry it wrote.
type AdjustmentRename struct {
	OrderID  int64
	ItemID   int64
	Source   pricing.Source
	From, To int64
}

// DiscountBy is the sum of the order's adjustments from one source.
func (o Order) DiscountBy(src pricing.Source) domain.Fen {
	var s domain.Fen
	for _, it := range o.Items {
		s += it.DiscountBy(src)
	}
	return s
}

// DiscountBy is the sum of the line's adjustments from one source.
func (it Item) DiscountBy(src pricing.Source) domain.Fen {
	var s domain.Fen
	for _, a := range it.Adjustments {
		if a.Source == src {
			s += a.Amount
		}
	}
	return s
}
