// Package aftersales is a shopper's request to have some units of some
// lines of a paid order refunded, and the back office's decision on it.
//
// It sits on top of the cashier and of the order's lines: it decides which
// units can be asked for, records the request, and on approval asks the
// cashier to plan and record the refund in the same transaction as the
// approval (cashier.Service.CreateRefund, with the cashier's RefundStore
// taken from that transaction), then, after the commit, to submit it to
// WeChat Pay. What the units are worth, the freight that goes with them and
// the split across tenders are the cashier's (refund mechanics); whether the
// goods go back on sale is after-sales' (ReturnsStock). The cashier never
// calls back: when a refund ends it raises cashier.RefundSettled in the
// transaction that applies WeChat Pay's answer, and the program subscribes
// Settle to it, which moves the request to refunded, or back to requested
// when the refund failed.
package aftersales

import (
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/order"
)

// Status is where a request is.
type Status string

// The statuses.
const (
	StatusRequested Status = "requested"
	StatusApproved  Status = "approved" // refund under way
	StatusRejected  Status = "rejected"
	StatusRefunded  Status = "refunded"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusRequested, StatusApproved, StatusRejected, StatusRefunded:
		return true
	}
	return false
}

// Request is a shopper's request for the refund of some units of some
// lines of one order.
type Request struct {
	ID            int64
	OrderID       int64
	OrderNumber   string
	ShopperID     int64
	Status        Status
	Reason        string
	GoodsReturned bool
	StockReturned bool // its units went back on sale (at most once)
	DecidedBy     int64
	DecidedAt     time.Time
	DecisionNote  string
	Lines         []Line
	CreatedAt     time.Time
	// Refund is the latest refund of an approved request (zero before).
	Refund cashier.Refund
}

// Line is one line of a request; Amount is set on approval.
type Line struct {
	ItemID   int64
	Quantity int
	Amount   domain.Fen
}

// LineRequest is one line a shopper asks to be refunded.
type LineRequest struct {
	ItemID   int64
	Quantity int
}

// Decision is an admin's answer to a request.
type Decision struct {
	ID            int64
	GoodsReturned bool   // approve: the goods came back
	Note          string // reject: why
	By            domain.Actor
	RequestID     string
}

// Refundable reports whether the lines of an order in status s can be asked
// for and refunded: it was paid and not cancelled.
func Refundable(s order.Status) bool {
	return s == order.StatusPaid || s == order.StatusShipped || s == order.StatusCompleted
}

// ReturnsStock reports whether approving a refund puts the goods back on
// sale: when they came back, or when they never left (the order is still
// paid, not shipped).
func ReturnsStock(o order.Order, goodsReturned bool) bool {
	return goodsReturned || o.Status == order.StatusPaid
}

// MaxReasonLen is the longest reason or decision note, in characters.
const MaxReasonLen = 500

// Errors of after-sales. Asking for more units than remain is
// cashier.ErrRefundQuantity, a line not of the order
// cashier.ErrItemNotInOrder: the same answers the cashier gives.
var (
	ErrNotRefundable = domain.E(domain.KindConflict, "order_not_refundable",
		"Only paid, shipped or completed orders can be refunded.")
	ErrNotFound = domain.E(domain.KindNotFound, "after_sales_not_found", "No such after-sales request.")
	ErrDecided  = domain.E(domain.KindConflict, "after_sales_decided",
		"This after-sales request has already been decided.")
)
