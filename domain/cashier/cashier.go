// Package cashier moves an order's money through WeChat Pay: it asks for a
// prepay and hands the shopper the wx.requestPayment parameters (reusing a
// valid prepay), applies payment notifications and query results exactly
// once, reconciles payments whose notification never came, closes and
// cancels expired orders, refunds payments that arrive for cancelled orders,
// and plans, records and submits refunds of order lines for whoever asks
// (CreateRefund, SubmitRefund), telling them when a refund ends through
// RefundSettled.
//
// It imports only the standard library and domain packages: the provider is
// a payment.Gateway, the database a Store (split by use case), both given by
// the program.
package cashier

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/domain/pricing"
)

// Order is what the cashier needs of an order.
type Order struct {
	ID          int64
	Number      string
	ShopperID   int64  // 0: a walk-in
	OpenID      string // the shopper's openid (the JSAPI payer); "" for a walk-in
	Status      order.Status
	Fulfillment order.FulfillmentType
	Channel     order.Channel
	StoreID     int64
	ClerkID     int64
	Payable     domain.Fen
	// Tendered is what tenders other than WeChat Pay (recorded by placed
	// handlers: stored value …) settle of Payable.
	Tendered domain.Fen
	Freight  domain.Fen
	// PointsUsed is the points the order redeemed.
	PointsUsed int64
	ExpiresAt  time.Time
	Items      []Item
	// Discounts is which kinds of discount (adjustment sources) the lines
	// carry; read only with the order's lock (OrderByID forUpdate), nil
	// otherwise. It goes to the paid moment (order.Event.Discounts).
	Discounts map[pricing.Source]bool
}

// Due is what WeChat Pay is asked for: the payable less the other tenders.
func (o Order) Due() domain.Fen { return o.Payable - o.Tendered }

// event is the order's moment m.
func (o Order) event(m order.Moment, c order.Cause, by domain.Actor, at time.Time) order.Event {
	return order.Event{Moment: m, Cause: c, OrderID: o.ID, OrderNumber: o.Number, ShopperID: o.ShopperID,
		Channel: o.Channel, StoreID: o.StoreID, ClerkID: o.ClerkID, Payable: o.Payable, At: at, By: by,
		Discounts: o.Discounts}
}

// Item is an order line as the cashier sees it.
type Item struct {
	ID               int64
	LineNo           int
	SKUID            int64
	ProductID        int64
	CategoryID       int64 // the product's category (read with the order's lock only)
	Title            string
	Quantity         int
	Paid             domain.Fen
	RefundedQuantity int
	RefundedFen      domain.Fen
}

// AttemptStatus is where a payment attempt is.
type AttemptStatus string

// The attempt statuses.
const (
	AttemptOpen   AttemptStatus = "open"
	AttemptPaid   AttemptStatus = "paid"
	AttemptClosed AttemptStatus = "closed"
)

// Trade types of an attempt.
const (
	TradeJSAPI  = "JSAPI"
	TradeNative = "NATIVE"
)

// Attempt is one out_trade_no at WeChat Pay for an order.
type Attempt struct {
	ID               int64
	OrderID          int64
	OrderNumber      string
	Seq              int
	OutTradeNo       string
	TradeType        string
	Amount           domain.Fen
	OpenID           string
	Description      string
	TimeExpire       time.Time
	PrepayID         string
	Params           payment.RequestPayment // JSAPI: the last prepay's wx.requestPayment parameters
	CodeURL          string                 // NATIVE: the QR code's code_url
	PrepayValidUntil time.Time
	Status           AttemptStatus
	TransactionID    string
	Checks           int
	CreatedAt        time.Time
}

// Reusable reports whether the attempt's prepay (JSAPI) or code_url
// (NATIVE) can be handed out again for an order whose due is amount.
func (a Attempt) Reusable(amount domain.Fen, now time.Time) bool {
	if a.Status != AttemptOpen || a.Amount != amount || !now.Before(a.PrepayValidUntil) {
		return false
	}
	if a.TradeType == TradeNative {
		return a.CodeURL != ""
	}
	return a.TradeType == TradeJSAPI && a.PrepayID != ""
}

// OutTradeNo is the out_trade_no of an order's seq-th attempt: the order
// number, a dash and seq ("YT2611227fQk2ZpLw9xBc0Td-1", at most 32
// characters of [0-9A-Za-z_-]).
func OutTradeNo(orderNumber string, seq int) string {
	return fmt.Sprintf("%s-%d", orderNumber, seq)
}

// OutRefundNo is the out_refund_no of an order's seq-th refund.
func OutRefundNo(orderNumber string, seq int) string {
	return fmt.Sprintf("%sR%02d", orderNumber, seq)
}

// Description is the payment description WeChat shows the shopper: the
// first line's title and how many items there are, at most 127 characters.
// It depends only on the order, so a re-prepay sends identical parameters.
func Description(brand string, o Order) string {
	title := "order " + o.Number
	units := 0
	for _, it := range o.Items {
		units += it.Quantity
	}
	if len(o.Items) > 0 {
		title = o.Items[0].Title
	}
	d := title
	if units > 1 {
		d = fmt.Sprintf("%s 等%d件", title, units)
	}
	if brand != "" {
		d = brand + "-" + d
	}
	d = strings.TrimSpace(d)
	if utf8.RuneCountInString(d) > 127 {
		r := []rune(d)
		d = string(r[:126]) + "…"
	}
	if d == "" {
		d = "order " + o.Number
	}
	return d
}

// Source says how the cashier learned of a payment or refund.
type Source string

// The sources.
const (
	SourceNotification Source = "notification"
	SourceQuery        Source = "query"
)

// Outcome is what applying a payment or a refund result did.
type Outcome string

// The outcomes. Those starting with "alert_" changed nothing and need a
// person; they are recorded and logged at error level.
const (
	OutcomeApplied     Outcome = "applied"    // the order became paid / the refund moved on
	OutcomeDuplicate   Outcome = "duplicate"  // already applied: nothing to do
	OutcomeRefundDue   Outcome = "refund_due" // paid after cancel (or twice): recorded and refunded
	OutcomeIgnored     Outcome = "ignored"    // nothing to do (another event type, not paid yet …)
	OutcomeAmountAlert Outcome = "alert_amount_mismatch"
	OutcomeUnknown     Outcome = "alert_unknown_trade"
	OutcomeMerchant    Outcome = "alert_wrong_merchant"
)

// Alert reports whether the outcome needs a person.
func (o Outcome) Alert() bool { return strings.HasPrefix(string(o), "alert_") }

// Payment is a payment recorded once by its TransactionID.
type Payment struct {
	ID            int64
	TransactionID string
	AttemptID     int64
	OrderID       int64
	Amount        domain.Fen
	PayerTotal    domain.Fen
	Currency      string
	PayerOpenID   string
	TradeType     string
	SuccessTime   time.Time
	Source        Source
	Outcome       Outcome
	AppliedAt     time.Time
}

// Notification is one line of the notification log.
type Notification struct {
	EventID    string
	EventType  string
	Resource   string // "transaction" or "refund"
	Source     Source
	OutNo      string
	WxID       string
	Amount     domain.Fen
	Outcome    Outcome
	Detail     string
	ReceivedAt time.Time
}

// CheckTransaction compares what WeChat Pay reports with the attempt it
// names and the order: merchant, app, out_trade_no, state, currency and
// amount. It returns the alert outcome and a reason when they differ.
func CheckTransaction(t payment.Transaction, a Attempt, o Order, mchID, appID string) (Outcome, string) {
	switch {
	case t.MchID != mchID || t.AppID != appID:
		return OutcomeMerchant, fmt.Sprintf("mchid %q appid %q, want %q %q", t.MchID, t.AppID, mchID, appID)
	case t.OutTradeNo != a.OutTradeNo:
		return OutcomeUnknown, fmt.Sprintf("out_trade_no %q, attempt %q", t.OutTradeNo, a.OutTradeNo)
	case t.TransactionID == "":
		return OutcomeIgnored, "no transaction_id"
	case t.Currency != "CNY":
		return OutcomeAmountAlert, fmt.Sprintf("currency %q, want CNY", t.Currency)
	case t.Total != a.Amount:
		return OutcomeAmountAlert, fmt.Sprintf("paid %d fen, attempt asked %d", t.Total, a.Amount)
	case a.Amount != o.Due():
		return OutcomeAmountAlert, fmt.Sprintf("attempt amount %d fen, order due through WeChat Pay %d", a.Amount, o.Due())
	}
	return "", ""
}

// Errors of the cashier.
var (
	ErrAlreadyPaid = domain.E(domain.KindConflict, "order_already_paid", "This order has already been paid.")
	ErrNotPayable  = domain.E(domain.KindConflict, "order_not_payable", "This order can no longer be paid.")
	ErrExpired     = domain.E(domain.KindConflict, "order_expired", "This order has expired; please place it again.")
	// ErrAttemptExists: another open attempt was created concurrently.
	ErrAttemptExists       = domain.E(domain.KindConflict, "payment_attempt_exists", "A payment is already being prepared for this order.")
	ErrNoAttempt           = domain.E(domain.KindConflict, "no_payment_attempt", "This order has no payment in progress; ask for one with /pay first.")
	ErrNotInStore          = domain.E(domain.KindNotFound, "order_not_found", "No such order in this store.")
	ErrNothingDue          = domain.E(domain.KindConflict, "nothing_due", "Nothing of this order is left to pay through WeChat Pay.")
	ErrDueThroughWeChat    = domain.E(domain.KindConflict, "due_through_wechat_pay", "Part of this order is still to be paid through WeChat Pay.")
	ErrUnknownTrade        = domain.E(domain.KindNotFound, "payment_attempt_not_found", "No payment attempt has this out_trade_no.")
	ErrNotificationIgnored = domain.E(domain.KindInvalid, "notification_ignored", "The notification was recorded but changed nothing.")
)
