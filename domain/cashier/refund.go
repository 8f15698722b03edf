package cashier

import (
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
)

// RefundKind says why money goes back.
type RefundKind string

// The refund kinds.
const (
	RefundAfterSales      RefundKind = "after_sales"       // an approved after-sales request
	RefundPaidAfterCancel RefundKind = "paid_after_cancel" // a payment arrived for a cancelled order
	RefundDuplicate       RefundKind = "duplicate_payment" // a second attempt of a paid order was paid too
)

// RefundStatus is where a refund is (ours, which includes "pending": not yet
// accepted by WeChat Pay, and "failed": refused outright).
type RefundStatus string

// The refund statuses.
const (
	RefundPending    RefundStatus = "pending"
	RefundProcessing RefundStatus = "processing"
	RefundSucceeded  RefundStatus = "succeeded"
	RefundAbnormal   RefundStatus = "abnormal"
	RefundClosed     RefundStatus = "closed"
	RefundFailed     RefundStatus = "failed"
)

// Live reports whether the refund still holds (or has returned) its amount:
// anything but closed and failed.
func (s RefundStatus) Live() bool { return s != RefundClosed && s != RefundFailed }

// Refund is one refund of (part of) a payment.
type Refund struct {
	ID            int64
	OutRefundNo   string
	OrderID       int64
	OrderNumber   string
	PaymentID     int64
	OutTradeNo    string     // of the payment's attempt
	PaymentAmount domain.Fen // the payment's total
	AfterSalesID  int64
	Kind          RefundKind
	Amount        domain.Fen // lines + freight
	// WeChatAmount is the part of Amount refunded through WeChat Pay (all
	// of it for a payment that never paid the order); Tenders says how
	// Amount goes back to the order's tenders (order.SplitRefund), WeChat
	// Pay's part included.
	WeChatAmount  domain.Fen
	Tenders       []order.TenderRefund
	Freight       domain.Fen
	Status        RefundStatus
	Reason        string
	WxRefundID    string
	Failure       string
	Checks        int
	Lines         []RefundLine
	CreatedAt     time.Time
	SucceededAt   time.Time
	GoodsReturned bool
}

// RefundLine is the units of one order line a refund returns money for.
type RefundLine struct {
	ItemID   int64
	SKUID    int64
	Quantity int
	Amount   domain.Fen
}

// AfterSalesStatus is where an after-sales request is.
type AfterSalesStatus string

// The after-sales statuses.
const (
	AfterSalesRequested AfterSalesStatus = "requested"
	AfterSalesApproved  AfterSalesStatus = "approved" // refund under way
	AfterSalesRejected  AfterSalesStatus = "rejected"
	AfterSalesRefunded  AfterSalesStatus = "refunded"
)

// Valid reports whether s is a known status.
func (s AfterSalesStatus) Valid() bool {
	switch s {
	case AfterSalesRequested, AfterSalesApproved, AfterSalesRejected, AfterSalesRefunded:
		return true
	}
	return false
}

// AfterSales is a shopper's request for the refund of some units of some
// lines.
type AfterSales struct {
	ID            int64
	OrderID       int64
	OrderNumber   string
	ShopperID     int64
	Status        AfterSalesStatus
	Reason        string
	GoodsReturned bool
	StockReturned bool // its units went back on sale (at most once)
	DecidedBy     int64
	DecidedAt     time.Time
	DecisionNote  string
	Lines         []AfterSalesLine
	CreatedAt     time.Time
	// Refund is the refund of an approved request (zero before).
	Refund Refund
}

// AfterSalesLine is one line of a request; Amount is set on approval.
type AfterSalesLine struct {
	ItemID   int64
	Quantity int
	Amount   domain.Fen
}

// LineRequest is one line a shopper asks to be refunded.
type LineRequest struct {
	ItemID   int64
	Quantity int
}

// Claimed is how much of one order line is already spoken for: units in
// after-sales requests that are not rejected, and units and money in live
// refunds.
type Claimed struct {
	RequestedQty int        // in requested, approved or refunded requests
	RefundQty    int        // in live refunds
	RefundFen    domain.Fen // in live refunds
}

// LineRefund is exactly what k more units of a line that was paid paid for
// qty units return, when refundedQty units and refundedFen are already
// taken by live refunds. The line's paid amount is split over its units by
// largest remainder (the first paid mod qty units carry one fen more), and
// the refund is the share of units refundedQty … refundedQty+k−1 corrected by
// what earlier refunds actually took, so the refunds of a line always add up
// to exactly what was paid for it and never more.
func LineRefund(paid domain.Fen, qty, refundedQty int, refundedFen domain.Fen, k int) (domain.Fen, error) {
	if qty <= 0 || k <= 0 || refundedQty < 0 || refundedQty+k > qty {
		return 0, ErrRefundQuantity.WithMessage("Only %d of this item can still be refunded.", max(qty-refundedQty, 0))
	}
	cum := func(n int) domain.Fen {
		base := paid / domain.Fen(qty)
		rem := int(paid % domain.Fen(qty))
		return base*domain.Fen(n) + domain.Fen(min(n, rem))
	}
	amt := cum(refundedQty+k) - refundedFen
	if amt < 0 {
		amt = 0
	}
	if refundedFen+amt > paid {
		return 0, ErrRefundExceedsPaid
	}
	return amt, nil
}

// FreightRefundable is the freight rule: freight goes back only with the
// refund that returns every unit of every line of an order that has not
// left the shop (still paid: not shipped, not picked up), and only once.
func FreightRefundable(o Order, allUnitsAfter bool, freightRefunded domain.Fen) domain.Fen {
	if !allUnitsAfter || o.Status != order.StatusPaid || freightRefunded > 0 {
		return 0
	}
	return o.Freight
}

// ReturnsStock reports whether approving a refund puts the goods back on
// sale: when they came back, or when they never left (the order is still
// paid, not shipped).
func ReturnsStock(o Order, goodsReturned bool) bool {
	return goodsReturned || o.Status == order.StatusPaid
}

// Refundable reports whether an order's lines can be refunded.
func Refundable(s order.Status) bool {
	return s == order.StatusPaid || s == order.StatusShipped || s == order.StatusCompleted
}

// Limits of after-sales.
const (
	MaxReasonLen       = 500
	MaxRefundsPerOrder = 50 // WeChat Pay's limit of partial refunds per payment
)

// Errors of refunds and after-sales.
var (
	ErrRefundQuantity = domain.E(domain.KindConflict, "refund_quantity_exceeded",
		"More units than remain refundable were asked for.")
	ErrRefundExceedsPaid = domain.E(domain.KindConflict, "refund_exceeds_paid",
		"The refund would exceed what was paid.")
	ErrNotRefundable = domain.E(domain.KindConflict, "order_not_refundable",
		"Only paid, shipped or completed orders can be refunded.")
	ErrAfterSalesNotFound = domain.E(domain.KindNotFound, "after_sales_not_found", "No such after-sales request.")
	ErrAfterSalesDecided  = domain.E(domain.KindConflict, "after_sales_decided",
		"This after-sales request has already been decided.")
	ErrItemNotInOrder = domain.E(domain.KindInvalid, "item_not_in_order", "This item is not a line of the order.")
	ErrNoPayment      = domain.E(domain.KindConflict, "order_not_paid", "The order has no payment to refund.")
	ErrRefundNotFound = domain.E(domain.KindNotFound, "refund_not_found", "No such refund.")
	ErrTooManyRefunds = domain.E(domain.KindConflict, "refund_limit_reached", "This order cannot be refunded any more times.")
)
