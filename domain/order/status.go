// Package order holds orders: their statuses and the rules that move them,
// order numbers, and (in other files) the use cases that place, pay, cancel
// and refund them.
package order

import "github.com/yutang/yutang/domain"

// Status is where an order is in its life.
//
//	pending_payment ──pay──▶ paid ──ship──▶ shipped ──confirm──▶ completed
//	      │                    └──verify pickup──────────────────▶ completed
//	      └──cancel / timeout──▶ cancelled
//
// Refunds do not change the order's status: they are tracked per line
// (LineRefundStatus).
type Status string

// The order statuses.
const (
	StatusPendingPayment Status = "pending_payment"
	StatusPaid           Status = "paid"
	StatusShipped        Status = "shipped"
	StatusCompleted      Status = "completed"
	StatusCancelled      Status = "cancelled"
)

// Statuses lists every order status in life order.
var Statuses = []Status{StatusPendingPayment, StatusPaid, StatusShipped, StatusCompleted, StatusCancelled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPendingPayment, StatusPaid, StatusShipped, StatusCompleted, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s == StatusCompleted || s == StatusCancelled }

// FulfillmentType is how the goods reach the shopper.
type FulfillmentType string

// The fulfillment types.
const (
	FulfillmentDelivery FulfillmentType = "delivery" // shipped to an address
	FulfillmentPickup   FulfillmentType = "pickup"   // collected in a store
	FulfillmentInStore  FulfillmentType = "in_store" // handed over at the counter when paid (in-store orders)
)

// Valid reports whether f is a known fulfillment type.
func (f FulfillmentType) Valid() bool {
	return f == FulfillmentDelivery || f == FulfillmentPickup || f == FulfillmentInStore
}

// CanBecome reports whether an order of the given fulfillment type may move
// from s to next:
//
//	pending_payment → paid | cancelled
//	paid            → shipped (delivery only) | completed (pickup and in store)
//	shipped         → completed (delivery only; a pickup order is never shipped)
//
// Staying in the same status is not a transition; unknown statuses and
// fulfillment types never move.
func (s Status) CanBecome(next Status, fulfillment FulfillmentType) bool {
	if !fulfillment.Valid() {
		return false
	}
	switch s {
	case StatusPendingPayment:
		return next == StatusPaid || next == StatusCancelled
	case StatusPaid:
		switch next {
		case StatusShipped:
			return fulfillment == FulfillmentDelivery
		case StatusCompleted:
			return fulfillment == FulfillmentPickup || fulfillment == FulfillmentInStore
		}
	case StatusShipped:
		return next == StatusCompleted && fulfillment == FulfillmentDelivery
	}
	return false
}

// ErrInvalidTransition is returned when an order cannot move to the asked
// status from the one it is in (paying a cancelled order, shipping a pickup
// order …).
var ErrInvalidTransition = domain.E(domain.KindConflict, "invalid_order_status",
	"The order cannot do this in its current status.")

// Transition returns nil when s may become next, else ErrInvalidTransition
// with a message naming both statuses.
func (s Status) Transition(next Status, fulfillment FulfillmentType) error {
	if s.CanBecome(next, fulfillment) {
		return nil
	}
	return ErrInvalidTransition.WithMessage("The order is %s and cannot become %s.", s, next)
}

// LineRefundStatus is where one order line is in after-sales.
//
//	none → requested → approved → refunding → refunded
//	            └──────▶ rejected ──(a new request)──▶ requested
//
// A refund that fails at WeChat Pay goes back from refunding to approved so it
// can be retried.
type LineRefundStatus string

// The per-line refund statuses.
const (
	LineRefundNone      LineRefundStatus = "none"
	LineRefundRequested LineRefundStatus = "requested"
	LineRefundApproved  LineRefundStatus = "approved"
	LineRefundRefunding LineRefundStatus = "refunding"
	LineRefundRefunded  LineRefundStatus = "refunded"
	LineRefundRejected  LineRefundStatus = "rejected"
)

// LineRefundStatuses lists every per-line refund status.
var LineRefundStatuses = []LineRefundStatus{
	LineRefundNone, LineRefundRequested, LineRefundApproved,
	LineRefundRefunding, LineRefundRefunded, LineRefundRejected,
}

// CanBecome reports whether a line may move from s to next:
//
//	none      → requested | approved (a refund the merchant starts itself)
//	requested → approved | rejected
//	approved  → refunding
//	refunding → refunded | approved (the refund failed; retry)
//	rejected  → requested (the shopper asks again)
//
// refunded is final.
func (s LineRefundStatus) CanBecome(next LineRefundStatus) bool {
	switch s {
	case LineRefundNone:
		return next == LineRefundRequested || next == LineRefundApproved
	case LineRefundRequested:
		return next == LineRefundApproved || next == LineRefundRejected
	case LineRefundApproved:
		return next == LineRefundRefunding
	case LineRefundRefunding:
		return next == LineRefundRefunded || next == LineRefundApproved
	case LineRefundRejected:
		return next == LineRefundRequested
	}
	return false
}

// ErrInvalidRefundTransition is returned when a line's refund cannot move to
// the asked status.
var ErrInvalidRefundTransition = domain.E(domain.KindConflict, "invalid_refund_status",
	"The refund of this line cannot do this in its current status.")
