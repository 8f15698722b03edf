package order

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
)

// The life of an order, and how other areas take part in it.
//
// An order's life has six moments: it is placed, cancelled, paid, shipped,
// has lines refunded, and is completed. The use cases that make these changes (order
// placement and cancellation here, payment and refunds in the cashier,
// after-sales) raise an Event through their store, inside the transaction
// that makes the change. The program subscribes each area's handlers to a
// Lifecycle: coupons, points, stored value, growth, attribution and
// commission each react to the moments they care about, with stores taken
// from the same transaction, and any of them can refuse the change by
// returning an error, which rolls the whole change back.
//
// Stock last: a use case moves stock (reserve, release, sell)
// as the last statements of its transaction, after raising its moments. A
// SKU's row is shared by everyone buying it, and PostgreSQL holds its lock
// to the commit: taken last, it is held for one statement and the commit
// instead of the whole transaction, so buyers of one item queue for
// microseconds, not milliseconds. It also fixes one lock order for every
// path (the handlers' rows — campaign allotments, coupons, cards — then the
// SKUs, in id order), so placing, paying and cancelling never deadlock.
//
// This is the one way areas compose. An area never reaches into another
// area's store, and the order, cashier and after-sales code never names the
// areas that listen.

// Moment is a moment of an order's life.
type Moment string

// The moments.
const (
	MomentPlaced    Moment = "placed"
	MomentCancelled Moment = "cancelled"
	MomentPaid      Moment = "paid"
	MomentShipped   Moment = "shipped" // a delivery order left the warehouse (Service.Ship)
	MomentRefunded  Moment = "lines_refunded"
	MomentCompleted Moment = "completed"
)

// Cause says why a moment happened.
type Cause string

// The causes of cancellation and completion.
const (
	CauseShopper       Cause = "shopper"        // cancelled by the shopper
	CauseExpiry        Cause = "expiry"         // cancelled: unpaid past its expiry
	CauseStaff         Cause = "staff"          // cancelled by staff
	CauseConfirmed     Cause = "confirmed"      // completed: the shopper confirmed receipt
	CauseAutoConfirmed Cause = "auto_confirmed" // completed: receipt confirmed automatically
	CausePickedUp      Cause = "picked_up"      // completed: handed over in the store
	CausePaidInStore   Cause = "paid_in_store"  // completed: an in-store order was paid
)

// Event is one moment of one order's life, as handlers are told of it.
// Fields that do not belong to the moment are zero.
type Event struct {
	Moment      Moment
	Cause       Cause
	OrderID     int64
	OrderNumber string
	ShopperID   int64 // 0: a walk-in
	Channel     Channel
	StoreID     int64 // in-store orders
	ClerkID     int64
	Payable     domain.Fen
	At          time.Time
	By          domain.Actor

	// MomentPlaced: the most stored value the shopper offered to pay with
	// (PlaceInput.Balance).
	Balance domain.Fen

	// Placed is MomentPlaced's order as the placing transaction wrote it,
	// with its items (their ids) and their adjustments as priced, before any
	// placed handler ran (a handler that renames adjustments changes the
	// rows, not this copy): handlers read it instead of reading the order
	// again. Handlers must not change it. nil for every other moment.
	Placed *Order

	// MomentPaid: the kinds of discount (adjustment sources) the order's
	// lines carry, as the paying transaction read them under the order's
	// lock; nil when the raiser did not read them (see MayCarry).
	Discounts map[pricing.Source]bool

	// MomentPaid: the order's lines and the points it redeemed, as the
	// paying transaction read them under the order's lock: handlers read
	// them instead of reading the order again. The cashier's markPaid,
	// which raises every paid moment, always sets them (PaidOrderLines).
	PaidLines  []PaidLine
	PointsUsed int64

	// MomentPaid: the WeChat Pay payment that settled the rest of the
	// payable (the order's other tenders were taken when it was placed).
	PaymentID     int64
	TransactionID string
	Amount        domain.Fen // MomentPaid: paid through WeChat Pay; MomentRefunded: refunded in all

	// MomentRefunded: the refund, its lines and how it went back to each
	// tender. Lines is empty for the return of a whole payment that arrived
	// for a cancelled order (the order was never paid by it).
	// MomentShipped: how it was sent, the carrier (a delivery_id of
	// WeChat's carrier list) and the tracking number.
	ShipMethod ShipMethod
	Carrier    string
	TrackingNo string

	RefundID    int64
	OutRefundNo string
	Freight     domain.Fen
	Lines       []RefundedLine
	Tenders     []TenderRefund
}

// PaidLine is one line of a paid order (Event.PaidLines), with its
// product's category as it is when the order is paid.
type PaidLine struct {
	ItemID     int64
	SKUID      int64
	ProductID  int64
	CategoryID int64
	Quantity   int
	Paid       domain.Fen
}

// RefundedLine is what one refund took back of one order line.
type RefundedLine struct {
	ItemID   int64
	Quantity int
	Amount   domain.Fen
}

// Lifecycle holds the handlers subscribed to each moment. T is the
// program's transaction (storage.Tx): see domain.Handlers.
type Lifecycle[T any] struct {
	Placed    domain.Handlers[T, Event]
	Cancelled domain.Handlers[T, Event]
	Paid      domain.Handlers[T, Event]
	Shipped   domain.Handlers[T, Event]
	Refunded  domain.Handlers[T, Event]
	Completed domain.Handlers[T, Event]
}

// On subscribes fn to moment m under name.
func (l *Lifecycle[T]) On(m Moment, name string, fn func(ctx context.Context, tx T, e Event) error) {
	if h := l.handlers(m); h != nil {
		h.On(name, fn)
		return
	}
	panic("order: no such moment: " + string(m))
}

// Emit runs the handlers of e.Moment in tx. The first refusal stops it and
// is returned: the caller rolls the change back.
func (l *Lifecycle[T]) Emit(ctx context.Context, tx T, e Event) error {
	if l == nil {
		return nil
	}
	return l.handlers(e.Moment).Run(ctx, tx, e)
}

func (l *Lifecycle[T]) handlers(m Moment) *domain.Handlers[T, Event] {
	switch m {
	case MomentPlaced:
		return &l.Placed
	case MomentCancelled:
		return &l.Cancelled
	case MomentPaid:
		return &l.Paid
	case MomentShipped:
		return &l.Shipped
	case MomentRefunded:
		return &l.Refunded
	case MomentCompleted:
		return &l.Completed
	}
	return nil
}

// Raiser is the part of every store that changes an order: it raises an
// event in the store's transaction (see Lifecycle).
type Raiser interface {
	Raise(ctx context.Context, e Event) error
}

// MayCarry reports whether the event's order may carry discounts of
// source src: false only when the raiser read the order's discounts
// (Discounts) and src is not among them. A handler that settles what a
// kind of discount took (a coupon's redemption, campaign units) skips its
// statements when it is false.
func (e Event) MayCarry(src pricing.Source) bool {
	return e.Discounts == nil || e.Discounts[src]
}

// PaidOrderLines is the lines of a MomentPaid event, as the paying
// transaction read them under the order's lock (the cashier's markPaid
// always sets them).
func (e Event) PaidOrderLines() ([]PaidLine, error) {
	if e.PaidLines == nil {
		return nil, fmt.Errorf("order: the %s event of order %s does not carry its lines", e.Moment, e.OrderNumber)
	}
	return e.PaidLines, nil
}

// PlacedOrder is the order of a MomentPlaced event, as the placing
// transaction carried it (e.Placed: Service.Place always sets it).
func (e Event) PlacedOrder() (Order, error) {
	if e.Placed == nil || e.Placed.ID != e.OrderID {
		return Order{}, fmt.Errorf("order: the %s event of order %s does not carry it", e.Moment, e.OrderNumber)
	}
	return *e.Placed, nil
}
