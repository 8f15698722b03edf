package cashier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
)

// The cashier's database, split by use case: each use case takes the
// interface that holds what it calls. PayStore works outside a transaction;
// every change of money runs in one transaction (Store.InTx), in which a
// use case gets the Tx and uses its part of it (ApplyStore to apply a
// payment, SettleStore to apply a refund's result). RefundStore records a
// refund in the transaction of whoever asks for it (CreateRefund).

// Store is the cashier's database as its Service uses it.
type Store interface {
	PayStore
	// ClaimRefunds leases up to c.Limit refunds that are pending, processing
	// or abnormal and due.
	ClaimRefunds(ctx context.Context, c Claim) ([]Refund, error)
	// RefundByID returns a refund with its lines (ErrRefundNotFound);
	// forUpdate locks it.
	RefundByID(ctx context.Context, id int64, forUpdate bool) (Refund, error)
	// ListRefunds lists refunds in these statuses (nil: all), newest first,
	// and the cursor of the next page ("" at the end).
	ListRefunds(ctx context.Context, statuses []RefundStatus, page domain.Page) ([]Refund, string, error)
	// InTx runs fn in one transaction; fn's Tx runs in it.
	InTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is the cashier's stores in one transaction.
type Tx interface {
	ApplyStore
	SettleStore
	RefundStore
	// RefundByID returns a refund with its lines (ErrRefundNotFound);
	// forUpdate locks it.
	RefundByID(ctx context.Context, id int64, forUpdate bool) (Refund, error)
	// Audit records a person's action in the transaction.
	Audit(ctx context.Context, e domain.AuditEntry) error
}

// PayStore is what asking for a payment, closing attempts and the
// reconciling workers need, outside a transaction.
type PayStore interface {
	// Order returns an order with its items by number (order.ErrOrderNotFound);
	// shopperID > 0 restricts it to that shopper; forUpdate locks the row.
	Order(ctx context.Context, number string, shopperID int64, forUpdate bool) (Order, error)
	// OpenAttempt returns the order's open attempt of a trade type
	// (TradeJSAPI, TradeNative), ErrNoAttempt when none.
	OpenAttempt(ctx context.Context, orderID int64, tradeType string) (Attempt, error)
	// CreateAttempt writes a new open attempt, numbering it after the
	// order's last one (Seq, OutTradeNo); ErrAttemptExists when the order has
	// an open one of that trade type already.
	CreateAttempt(ctx context.Context, a Attempt) (Attempt, error)
	// SavePrepay records a prepay's wx.requestPayment parameters on an open
	// attempt.
	SavePrepay(ctx context.Context, attemptID int64, rp payment.RequestPayment, validUntil, now time.Time) error
	// SaveCodeURL records a Native prepay's code_url on an open attempt.
	SaveCodeURL(ctx context.Context, attemptID int64, codeURL string, validUntil, now time.Time) error
	// CloseAttempt marks an open attempt closed here without WeChat Pay's
	// word (no-op when it is not open): ClaimQuery claims it again for a day
	// until FinalizeAttempt.
	CloseAttempt(ctx context.Context, attemptID int64, at time.Time) error
	// FinalizeAttempt marks an open or closed attempt closed for good:
	// WeChat Pay said its trade is closed.
	FinalizeAttempt(ctx context.Context, attemptID int64, at time.Time) error
	// ClaimAttempts leases up to c.Limit open attempts for a worker
	// (FOR UPDATE SKIP LOCKED): those due for a query (ClaimQuery) or whose
	// order is cancelled or expired (ClaimClose).
	ClaimAttempts(ctx context.Context, c Claim) ([]Attempt, error)
	// RecordNotification appends to the notification log.
	RecordNotification(ctx context.Context, n Notification) error
}

// ApplyStore is what applying a payment needs, in its transaction.
type ApplyStore interface {
	// Raise runs the handlers of a moment of an order's life in the
	// transaction (see order.Lifecycle); an error refuses the change.
	order.Raiser
	// LockAttemptOrder returns the attempt with this out_trade_no and its
	// order with its items (as OrderByID), both locked, the attempt first
	// (ErrUnknownTrade).
	LockAttemptOrder(ctx context.Context, outTradeNo string) (Attempt, Order, error)
	// OrderByID returns an order with its items by id
	// (order.ErrOrderNotFound); forUpdate locks the row.
	OrderByID(ctx context.Context, id int64, forUpdate bool) (Order, error)
	// InsertPayment records p unless its TransactionID is recorded already
	// (inserted false, and the recorded payment). When it records p and
	// markAttempt is set, p's attempt is marked paid by it in the same
	// statement.
	InsertPayment(ctx context.Context, p Payment, markAttempt bool) (out Payment, inserted bool, err error)
	// MarkOrderPaid moves a pending order to paid and records what goes
	// with the move (Paying), in one statement.
	MarkOrderPaid(ctx context.Context, p Paying) error
	// MarkOrderCompleted moves a paid order to completed.
	MarkOrderCompleted(ctx context.Context, orderID int64, at time.Time) error
	// SellStock turns qty reserved units of a SKU into sold ones (ledger).
	SellStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error
	// CreateRefund writes a pending refund (see RefundStore).
	CreateRefund(ctx context.Context, r Refund) (Refund, error)
	// RecordNotification appends to the notification log.
	RecordNotification(ctx context.Context, n Notification) error
}

// RefundStore is what recording a refund of lines needs (CreateRefund), in
// the transaction of whoever asks for it.
type RefundStore interface {
	// OrderByID returns an order with its items by id
	// (order.ErrOrderNotFound); forUpdate locks the row.
	OrderByID(ctx context.Context, id int64, forUpdate bool) (Order, error)
	// AppliedPayment returns the payment that paid the order (ErrNoPayment).
	AppliedPayment(ctx context.Context, orderID int64) (Payment, error)
	// Refunds returns an order's refunds with their lines, oldest first.
	Refunds(ctx context.Context, orderID int64) ([]Refund, error)
	// Tenders returns an order's tenders with what live refunds give back
	// of each.
	Tenders(ctx context.Context, orderID int64) ([]order.Tender, error)
	// CreateRefund writes a pending refund, its lines and its tender parts,
	// numbering it after the order's refunds (OutRefundNo).
	CreateRefund(ctx context.Context, r Refund) (Refund, error)
}

// SettleStore is what applying WeChat Pay's answer about a refund needs, in
// its transaction.
type SettleStore interface {
	// Raise runs the handlers of a moment of an order's life in the
	// transaction (see order.Lifecycle); an error refuses the change.
	order.Raiser
	// RaiseRefundSettled runs the RefundSettled handlers in the
	// transaction; an error refuses the change.
	RaiseRefundSettled(ctx context.Context, e RefundSettled) error
	// LockRefund returns the refund with this out_refund_no, locked
	// (ErrRefundNotFound).
	LockRefund(ctx context.Context, outRefundNo string) (Refund, error)
	// UpdateRefund writes a refund's status, WeChat refund id, failure and
	// success time.
	UpdateRefund(ctx context.Context, r Refund, now time.Time) error
	// AddRefunded adds refunded units and money to order lines.
	AddRefunded(ctx context.Context, lines []RefundLine) error
	// AddTenderRefunded adds what a succeeded refund gave back to tenders.
	AddTenderRefunded(ctx context.Context, parts []order.TenderRefund) error
	// OrderByID returns an order with its items by id
	// (order.ErrOrderNotFound); forUpdate locks the row.
	OrderByID(ctx context.Context, id int64, forUpdate bool) (Order, error)
}

// ClaimKind says which attempts a worker claims.
type ClaimKind int

// The claim kinds.
const (
	ClaimQuery ClaimKind = iota // open attempts with a prepay, older than MinAge, and attempts closed unconfirmed, due for a query
	ClaimClose                  // open attempts whose order is cancelled or expired
)

// Claim is a worker's lease request.
type Claim struct {
	Kind   ClaimKind
	Now    time.Time
	MinAge time.Duration // ClaimQuery: prepaid at least this long ago
	Lease  time.Duration // held this long (and queries back off from it)
	Limit  int
}

// Service is the cashier's use cases.
type Service struct {
	Store   Store
	Gateway payment.Gateway
	// MchID and AppID are checked against every transaction.
	MchID, AppID string
	// Brand prefixes payment descriptions ("鱼塘-…"); may be empty.
	Brand string
	Now   func() time.Time
	Log   *slog.Logger
	// PrepayValidFor is how long a prepay is handed out again (default
	// 100 minutes: WeChat's prepay_id lasts two hours).
	PrepayValidFor time.Duration
	// QueryAfter is how long after a prepay without news the reconciler
	// asks WeChat Pay (default 10 s; with the program's 5 s tick the first
	// query comes within 15 s, then after 1, 2, 4, 4 … leases).
	QueryAfter time.Duration
	// Lease is how long a worker holds what it claimed (default one minute).
	Lease time.Duration
	// Trades apply the payments of trades that are not orders' (stored-value
	// top-ups …); an order's out_trade_no is owned by none of them.
	Trades []TradeApplier
	// Refunds apply the refunds of those trades, told apart by their
	// out_refund_no (RefundApplier).
	Refunds []RefundApplier
	// Checks limits CheckPayment's queries (NewCheckLimiter); nil: no limit.
	Checks *CheckLimiter
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func (s *Service) log() *slog.Logger { return domain.Logger(s.Log) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Pay returns the wx.requestPayment parameters for one of the shopper's
// unpaid orders. A valid prepay of the current attempt is handed out again
// without asking WeChat Pay; an attempt whose amount is not the order's
// payable any more is closed at WeChat Pay and replaced by a new one (a new
// out_trade_no). No database transaction is open while WeChat Pay is asked.
func (s *Service) Pay(ctx context.Context, shopperID int64, number string) (payment.RequestPayment, error) {
	if !order.ValidNumber(number) {
		return payment.RequestPayment{}, order.ErrOrderNotFound
	}
	for try := 0; try < 4; try++ {
		rp, again, err := s.payOnce(ctx, shopperID, number)
		if err != nil {
			return payment.RequestPayment{}, fmt.Errorf("cashier: pay: %w", err)
		}
		if !again {
			return rp, nil
		}
	}
	return payment.RequestPayment{}, fmt.Errorf("cashier: pay: %w", domain.ErrUnavailable)
}

func (s *Service) payOnce(ctx context.Context, shopperID int64, number string) (payment.RequestPayment, bool, error) {
	o, err := s.Store.Order(ctx, number, shopperID, false)
	if err != nil {
		return payment.RequestPayment{}, false, err
	}
	if err := payable(o); err != nil {
		return payment.RequestPayment{}, false, err
	}
	now := s.now()
	if !now.Before(o.ExpiresAt) {
		return payment.RequestPayment{}, false, ErrExpired
	}
	if o.Due() <= 0 {
		return payment.RequestPayment{}, false, ErrNothingDue
	}
	a, err := s.Store.OpenAttempt(ctx, o.ID, TradeJSAPI)
	switch {
	case errors.Is(err, ErrNoAttempt):
		a, err = s.Store.CreateAttempt(ctx, s.newAttempt(o, TradeJSAPI, now))
		if errors.Is(err, ErrAttemptExists) {
			return payment.RequestPayment{}, true, nil
		}
		if err != nil {
			return payment.RequestPayment{}, false, err
		}
	case err != nil:
		return payment.RequestPayment{}, false, err
	case a.Amount != o.Due() || a.OpenID != o.OpenID:
		// The order changed since this attempt: close it first, then start
		// a new one.
		if err := s.closeAttempt(ctx, a); err != nil {
			return payment.RequestPayment{}, false, err
		}
		return payment.RequestPayment{}, true, nil
	case a.Reusable(o.Due(), now):
		return a.Params, false, nil
	}

	rp, err := s.Gateway.PrepayJSAPI(ctx, payment.JSAPIRequest{
		OutTradeNo: a.OutTradeNo, Description: a.Description, OpenID: a.OpenID,
		Amount: a.Amount, ExpiresAt: a.TimeExpire,
	})
	switch {
	case err == nil:
	case errors.Is(err, payment.ErrOrderPaid):
		// Paid, and we missed the news: learn it now.
		if _, qerr := s.queryAndApply(ctx, a); qerr != nil {
			return payment.RequestPayment{}, false, qerr
		}
		return payment.RequestPayment{}, false, ErrAlreadyPaid
	case errors.Is(err, payment.ErrOrderClosed), errors.Is(err, payment.ErrOutTradeNoUsed):
		if err := s.Store.CloseAttempt(ctx, a.ID, s.now()); err != nil {
			return payment.RequestPayment{}, false, err
		}
		return payment.RequestPayment{}, true, nil
	default:
		return payment.RequestPayment{}, false, err
	}
	now = s.now()
	if err := s.Store.SavePrepay(ctx, a.ID, rp, now.Add(orDefault(s.PrepayValidFor, 100*time.Minute)), now); err != nil {
		return payment.RequestPayment{}, false, err
	}
	return rp, false, nil
}

func payable(o Order) error {
	switch o.Status {
	case order.StatusPendingPayment:
		return nil
	case order.StatusPaid, order.StatusShipped, order.StatusCompleted:
		return ErrAlreadyPaid
	}
	return ErrNotPayable.WithMessage("This order is %s and can no longer be paid.", o.Status)
}

func (s *Service) newAttempt(o Order, tradeType string, now time.Time) Attempt {
	// WeChat Pay wants time_expire at least a minute ahead; an order about
	// to expire gets a little more (a payment after its cancellation is
	// refunded).
	expire := o.ExpiresAt
	if minExp := now.Add(70 * time.Second); expire.Before(minExp) {
		expire = minExp
	}
	openID := o.OpenID
	if tradeType != TradeJSAPI {
		openID = ""
	}
	return Attempt{
		OrderID: o.ID, OrderNumber: o.Number, TradeType: tradeType, Amount: o.Due(), OpenID: openID,
		Description: Description(s.Brand, o), TimeExpire: expire, Status: AttemptOpen, CreatedAt: now,
	}
}

// closeAttempt closes an open attempt at WeChat Pay, then asks WeChat Pay
// what became of it, whatever the close answered (204, ORDER_CLOSED, "paid",
// a timeout): a payment that landed between the last query and the close
// is applied (or refunded, the order being cancelled) and the caller learns
// ErrAlreadyPaid; only a trade WeChat Pay reports CLOSED is closed here for
// good. When WeChat Pay cannot be asked, the attempt stays open and the
// error is returned: the caller must not cancel the order.
func (s *Service) closeAttempt(ctx context.Context, a Attempt) error {
	cerr := s.Gateway.Close(ctx, a.OutTradeNo)
	switch {
	case cerr == nil, errors.Is(cerr, payment.ErrOrderClosed), errors.Is(cerr, payment.ErrOrderPaid),
		errors.Is(cerr, payment.ErrOrderNotExist):
		cerr = nil
	}
	t, err := s.Gateway.QueryByOutTradeNo(ctx, a.OutTradeNo)
	switch {
	case errors.Is(err, payment.ErrOrderNotExist):
		// Never reached WeChat Pay (or not visible yet): closed here, and
		// queried again for a while in case it was.
		if cerr != nil {
			return fmt.Errorf("close %s: %w", a.OutTradeNo, cerr)
		}
		return s.Store.CloseAttempt(ctx, a.ID, s.now())
	case err != nil:
		return fmt.Errorf("close %s: not confirmed: %w", a.OutTradeNo, errors.Join(cerr, err))
	case t.TradeState.Paid():
		if _, err := s.applyQueried(ctx, t); err != nil {
			return err
		}
		return ErrAlreadyPaid
	case t.TradeState.Final():
		return s.Store.FinalizeAttempt(ctx, a.ID, s.now())
	case cerr != nil:
		return fmt.Errorf("close %s: %w", a.OutTradeNo, cerr)
	}
	return fmt.Errorf("close %s: WeChat Pay accepted the close but reports %s: %w", a.OutTradeNo, t.TradeState, domain.ErrUnavailable)
}

// CurrentAttempt returns the open attempt of any order, JSAPI first (the
// development route that pays it at the simulator uses it).
func (s *Service) CurrentAttempt(ctx context.Context, number string) (Attempt, error) {
	o, err := s.Store.Order(ctx, number, 0, false)
	if err != nil {
		return Attempt{}, err
	}
	a, err := s.Store.OpenAttempt(ctx, o.ID, TradeJSAPI)
	if errors.Is(err, ErrNoAttempt) {
		return s.Store.OpenAttempt(ctx, o.ID, TradeNative)
	}
	return a, err
}

// Collect returns the code_url of a Native (QR code) payment for an unpaid
// in-store order of storeID, for the customer to scan: a valid code of the
// current attempt is handed out again; a stale one is closed and replaced.
// A JSAPI attempt of the same order (pushed to the member's mini-program)
// may be open at the same time: whichever is paid first pays the order, and
// the other is closed (or refunded, if paid too).
func (s *Service) Collect(ctx context.Context, storeID int64, number string) (Attempt, error) {
	if !order.ValidNumber(number) {
		return Attempt{}, order.ErrOrderNotFound
	}
	for try := 0; try < 4; try++ {
		a, again, err := s.collectOnce(ctx, storeID, number)
		if err != nil {
			return Attempt{}, fmt.Errorf("cashier: collect: %w", err)
		}
		if !again {
			return a, nil
		}
	}
	return Attempt{}, fmt.Errorf("cashier: collect: %w", domain.ErrUnavailable)
}

func (s *Service) collectOnce(ctx context.Context, storeID int64, number string) (Attempt, bool, error) {
	o, err := s.Store.Order(ctx, number, 0, false)
	if err != nil {
		return Attempt{}, false, err
	}
	if o.Channel != order.ChannelInStore || o.StoreID != storeID {
		return Attempt{}, false, ErrNotInStore
	}
	if err := payable(o); err != nil {
		return Attempt{}, false, err
	}
	now := s.now()
	if !now.Before(o.ExpiresAt) {
		return Attempt{}, false, ErrExpired
	}
	if o.Due() <= 0 {
		return Attempt{}, false, ErrNothingDue
	}
	a, err := s.Store.OpenAttempt(ctx, o.ID, TradeNative)
	switch {
	case errors.Is(err, ErrNoAttempt):
		a, err = s.Store.CreateAttempt(ctx, s.newAttempt(o, TradeNative, now))
		if errors.Is(err, ErrAttemptExists) {
			return Attempt{}, true, nil
		}
		if err != nil {
			return Attempt{}, false, err
		}
	case err != nil:
		return Attempt{}, false, err
	case a.Amount != o.Due():
		if err := s.closeAttempt(ctx, a); err != nil {
			return Attempt{}, false, err
		}
		return Attempt{}, true, nil
	case a.Reusable(o.Due(), now):
		return a, false, nil
	}
	codeURL, err := s.Gateway.PrepayNative(ctx, payment.NativeRequest{OutTradeNo: a.OutTradeNo,
		Description: a.Description, Amount: a.Amount, ExpiresAt: a.TimeExpire})
	switch {
	case err == nil:
	case errors.Is(err, payment.ErrOrderPaid):
		if _, qerr := s.queryAndApply(ctx, a); qerr != nil {
			return Attempt{}, false, qerr
		}
		return Attempt{}, false, ErrAlreadyPaid
	case errors.Is(err, payment.ErrOrderClosed), errors.Is(err, payment.ErrOutTradeNoUsed):
		if err := s.Store.CloseAttempt(ctx, a.ID, s.now()); err != nil {
			return Attempt{}, false, err
		}
		return Attempt{}, true, nil
	default:
		return Attempt{}, false, err
	}
	now = s.now()
	valid := now.Add(orDefault(s.PrepayValidFor, 100*time.Minute))
	if valid.After(a.TimeExpire) {
		valid = a.TimeExpire
	}
	if err := s.Store.SaveCodeURL(ctx, a.ID, codeURL, valid, now); err != nil {
		return Attempt{}, false, err
	}
	a.CodeURL, a.PrepayValidUntil = codeURL, valid
	return a, false, nil
}

// HandlePaymentNotice applies a verified payment notification and records
// it in the notification log. It returns an error only when the caller
// should make WeChat Pay retry (the database failed); every other outcome,
// alerts included, is final and recorded.
func (s *Service) HandlePaymentNotice(ctx context.Context, n payment.PaymentNotice) (Outcome, error) {
	var outcome Outcome
	var detail string
	var err error
	rec := Notification{EventID: n.EventID, EventType: n.EventType, Resource: "transaction",
		Source: SourceNotification, OutNo: n.OutTradeNo, WxID: n.TransactionID, Amount: n.Total}
	switch {
	case n.EventType != payment.EventTransactionSuccess:
		outcome, detail = OutcomeIgnored, "event type "+n.EventType
	case s.ownedByTrade(n.Transaction.OutTradeNo) || !n.Transaction.TradeState.Paid():
		outcome, detail, err = s.apply(ctx, n.Transaction, SourceNotification)
		if err != nil {
			return "", err
		}
	default:
		// An order's payment: recorded in the transaction that applies it
		// (one commit, not two).
		outcome, _, err = s.applyOrder(ctx, n.Transaction, SourceNotification, &rec)
		if err != nil {
			return "", err
		}
		return outcome, nil
	}
	rec.Outcome, rec.Detail, rec.ReceivedAt = outcome, detail, s.now()
	if err := s.Store.RecordNotification(ctx, rec); err != nil {
		return "", fmt.Errorf("cashier: record notification: %w", err)
	}
	return outcome, nil
}

// Apply applies what WeChat Pay reported of a payment, exactly once per
// transaction id, in one transaction: it checks the transaction against the
// attempt and the order, records the payment, marks the attempt and the
// order paid, turns the reserved stock into sold stock and runs the AfterPaid
// hooks. A payment for an order that is cancelled (or already paid by
// another attempt) is recorded and refunded instead. A mismatch changes
// nothing and is logged as an alert.
func (s *Service) Apply(ctx context.Context, t payment.Transaction, src Source) (Outcome, string, error) {
	return s.applyOrder(ctx, t, src, nil)
}

// applyOrder is Apply; a non-nil rec is completed with the outcome, its
// detail and the time and appended to the notification log in the
// applying transaction: before the stock moves when the payment is applied
// (stock last: domain/order/lifecycle.go), else as its last statement.
func (s *Service) applyOrder(ctx context.Context, t payment.Transaction, src Source, rec *Notification) (Outcome, string, error) {
	if !t.TradeState.Paid() {
		return OutcomeIgnored, "trade state " + string(t.TradeState), nil
	}
	var outcome Outcome
	var detail string
	var due Refund
	now := s.now()
	// record appends rec (when given) with the outcome so far, once.
	recorded := false
	record := func(tx ApplyStore) error {
		if rec == nil || recorded {
			return nil
		}
		r := *rec
		r.Outcome, r.Detail, r.ReceivedAt = outcome, detail, s.now()
		if err := tx.RecordNotification(ctx, r); err != nil {
			return fmt.Errorf("cashier: record notification: %w", err)
		}
		recorded = true
		return nil
	}
	// apply runs in the transaction and sees only what applying a payment
	// calls.
	apply := func(tx ApplyStore) error {
		outcome, detail, due = "", "", Refund{}
		a, o, err := tx.LockAttemptOrder(ctx, t.OutTradeNo)
		if errors.Is(err, ErrUnknownTrade) {
			outcome, detail = OutcomeUnknown, "no attempt has out_trade_no "+t.OutTradeNo
			return nil
		}
		if err != nil {
			return err
		}
		if out, why := CheckTransaction(t, a, o, s.MchID, s.AppID); out != "" {
			outcome, detail = out, why
			return nil
		}
		p := Payment{TransactionID: t.TransactionID, AttemptID: a.ID, OrderID: o.ID, Amount: t.Total,
			PayerTotal: t.PayerTotal, Currency: t.Currency, PayerOpenID: t.PayerOpenID, TradeType: t.TradeType,
			SuccessTime: t.SuccessTime, Source: src, Outcome: OutcomeApplied, AppliedAt: now}
		if p.SuccessTime.IsZero() {
			p.SuccessTime = now
		}
		if o.Status != order.StatusPendingPayment {
			p.Outcome = OutcomeRefundDue
		}
		p, inserted, err := tx.InsertPayment(ctx, p, a.Status != AttemptPaid)
		if err != nil {
			return err
		}
		if !inserted {
			outcome = OutcomeDuplicate
			return nil
		}
		if p.Outcome == OutcomeRefundDue {
			kind := RefundPaidAfterCancel
			if o.Status != order.StatusCancelled {
				kind = RefundDuplicate
			}
			due, err = tx.CreateRefund(ctx, Refund{OrderID: o.ID, OrderNumber: o.Number, PaymentID: p.ID,
				OutTradeNo: a.OutTradeNo, PaymentAmount: p.Amount, Kind: kind, Amount: p.Amount, WeChatAmount: p.Amount,
				Status: RefundPending, Reason: refundReason(kind), CreatedAt: now})
			if err != nil {
				return err
			}
			outcome, detail = OutcomeRefundDue, fmt.Sprintf("order is %s: refund %s", o.Status, due.OutRefundNo)
			return nil
		}
		outcome = OutcomeApplied
		e := o.event(order.MomentPaid, "", domain.System, p.SuccessTime)
		e.PaymentID, e.TransactionID, e.Amount = p.ID, p.TransactionID, p.Amount
		paying := Paying{Tender: &order.Tender{Kind: order.TenderWeChatPay, Ref: p.TransactionID, Amount: p.Amount}}
		if rec != nil && !recorded {
			// The log row goes with the move to paid, before the stock
			// moves (stock last).
			r := *rec
			r.Outcome, r.Detail, r.ReceivedAt = outcome, detail, s.now()
			paying.Notification = &r
		}
		if err := markPaid(ctx, tx, o, paying, e, now); err != nil {
			return err
		}
		recorded = recorded || paying.Notification != nil
		return nil
	}
	err := s.Store.InTx(ctx, func(tx Tx) error {
		recorded = false
		if err := apply(tx); err != nil {
			return err
		}
		return record(tx)
	})
	if err != nil {
		return "", "", fmt.Errorf("cashier: apply payment %s: %w", t.OutTradeNo, err)
	}
	if outcome.Alert() {
		s.log().ErrorContext(ctx, "payment alert", "alert", true, "outcome", string(outcome), "detail", detail,
			"out_trade_no", t.OutTradeNo, "transaction_id", t.TransactionID, "total_fen", int64(t.Total), "source", string(src))
	}
	if due.ID != 0 {
		s.SubmitRefund(ctx, due)
	}
	return outcome, detail, nil
}

// Paying is a pending order's move to paid (ApplyStore.MarkOrderPaid) and
// what is recorded with it, in the same statement.
type Paying struct {
	OrderID     int64
	PaidAt, Now time.Time
	// Tender is the WeChat Pay payment that settles the rest of the
	// payable; nil: none (the order's other tenders settle it).
	Tender *order.Tender
	// Notification is the notification that told of the payment, for the
	// log; nil: none.
	Notification *Notification
}

// markPaid moves a locked pending order whose tenders, with p.Tender, now
// settle its payable to paid (recording p's tender and notification with
// the move): the reserved stock is sold, the paid moment e is raised, and
// an in-store order, handed over at the counter, completes at once.
func markPaid(ctx context.Context, tx ApplyStore, o Order, p Paying, e order.Event, now time.Time) error {
	if err := order.StatusPendingPayment.Transition(order.StatusPaid, o.Fulfillment); err != nil {
		return err
	}
	// paid_at is stored to the microsecond: the moment carries it as
	// stored, so a handler comparing it with the order's row (the KOC
	// programme's "paid before") sees the same instant.
	e.At = e.At.Round(time.Microsecond)
	p.OrderID, p.PaidAt, p.Now = o.ID, e.At, now
	if err := tx.MarkOrderPaid(ctx, p); err != nil {
		return err
	}
	// The lines and points as read under the lock, for the handlers.
	e.PaidLines, e.PointsUsed = make([]order.PaidLine, len(o.Items)), o.PointsUsed
	for i, it := range o.Items {
		e.PaidLines[i] = order.PaidLine{ItemID: it.ID, SKUID: it.SKUID, ProductID: it.ProductID, CategoryID: it.CategoryID,
			Quantity: it.Quantity, Paid: it.Paid}
	}
	if err := tx.Raise(ctx, e); err != nil {
		return err
	}
	if o.Fulfillment == order.FulfillmentInStore {
		if err := order.StatusPaid.Transition(order.StatusCompleted, o.Fulfillment); err != nil {
			return err
		}
		if err := tx.MarkOrderCompleted(ctx, o.ID, now); err != nil {
			return err
		}
		if err := tx.Raise(ctx, o.event(order.MomentCompleted, order.CausePaidInStore, domain.System, now)); err != nil {
			return err
		}
	}
	// Stock last (domain/order/lifecycle.go).
	for _, it := range sortedBySKU(o.Items) {
		if err := tx.SellStock(ctx, it.SKUID, it.Quantity, o.Number, domain.System, now); err != nil {
			return err
		}
	}
	return nil
}

// Settle pays one of the shopper's pending orders that its other tenders
// (stored value …) settle whole, with nothing due through WeChat Pay: no
// WeChat Pay attempt; the order becomes paid as by a payment. It fails with
// ErrDueThroughWeChat when something is left to pay through WeChat Pay.
func (s *Service) Settle(ctx context.Context, shopperID int64, number string) error {
	if !order.ValidNumber(number) || shopperID <= 0 {
		return order.ErrOrderNotFound
	}
	now := s.now()
	found, err := s.Store.Order(ctx, number, shopperID, false)
	if err != nil {
		return fmt.Errorf("cashier: settle: %w", err)
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		o, err := tx.OrderByID(ctx, found.ID, true)
		if err != nil {
			return err
		}
		if err := payable(o); err != nil {
			return err
		}
		if !now.Before(o.ExpiresAt) {
			return ErrExpired
		}
		if o.Due() != 0 {
			return ErrDueThroughWeChat
		}
		return markPaid(ctx, tx, o, Paying{}, o.event(order.MomentPaid, "", domain.Actor{Kind: "shopper", ID: shopperID}, now), now)
	})
	if err != nil {
		return fmt.Errorf("cashier: settle: %w", err)
	}
	return nil
}

// TradeApplier applies the payments of trades that are not an order's
// (stored-value top-ups …), told apart by their out_trade_no.
type TradeApplier interface {
	Owns(outTradeNo string) bool
	ApplyTrade(ctx context.Context, t payment.Transaction, src Source) (Outcome, string, error)
}

// apply applies a payment through the TradeApplier that owns its
// out_trade_no, or as an order's (Apply).
func (s *Service) apply(ctx context.Context, t payment.Transaction, src Source) (Outcome, string, error) {
	for _, a := range s.Trades {
		if a.Owns(t.OutTradeNo) {
			return a.ApplyTrade(ctx, t, src)
		}
	}
	return s.Apply(ctx, t, src)
}

// ownedByTrade reports whether a TradeApplier owns the out_trade_no.
func (s *Service) ownedByTrade(outTradeNo string) bool {
	for _, a := range s.Trades {
		if a.Owns(outTradeNo) {
			return true
		}
	}
	return false
}

func refundReason(k RefundKind) string {
	switch k {
	case RefundPaidAfterCancel:
		return "订单已取消，自动退款"
	case RefundDuplicate:
		return "重复支付，自动退款"
	}
	return "售后退款"
}

// queryAndApply asks WeChat Pay about an attempt and applies a payment, or
// closes the attempt here for good when WeChat Pay closed it. An attempt
// closed here that WeChat Pay still reports NOTPAY is closed there again.
func (s *Service) queryAndApply(ctx context.Context, a Attempt) (Outcome, error) {
	t, err := s.Gateway.QueryByOutTradeNo(ctx, a.OutTradeNo)
	if errors.Is(err, payment.ErrOrderNotExist) {
		if a.Status == AttemptClosed && a.Checks >= 3 {
			// Asked three times over minutes: it never reached WeChat Pay.
			return OutcomeIgnored, s.Store.FinalizeAttempt(ctx, a.ID, s.now())
		}
		return OutcomeIgnored, nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case t.TradeState.Paid():
		return s.applyQueried(ctx, t)
	case t.TradeState.Final():
		return OutcomeIgnored, s.Store.FinalizeAttempt(ctx, a.ID, s.now())
	case a.Status == AttemptClosed:
		if err := s.closeAttempt(ctx, a); err != nil && !errors.Is(err, ErrAlreadyPaid) {
			return "", err
		}
	}
	return OutcomeIgnored, nil
}

// applyQueried applies a paid transaction learned by a query and records it
// in the notification log (unless it was applied already).
func (s *Service) applyQueried(ctx context.Context, t payment.Transaction) (Outcome, error) {
	out, detail, err := s.Apply(ctx, t, SourceQuery)
	if err != nil {
		return "", err
	}
	if out != OutcomeDuplicate {
		rec := Notification{EventID: "query", EventType: string(t.TradeState), Resource: "transaction",
			Source: SourceQuery, OutNo: t.OutTradeNo, WxID: t.TransactionID, Amount: t.Total,
			Outcome: out, Detail: detail, ReceivedAt: s.now()}
		if err := s.Store.RecordNotification(ctx, rec); err != nil {
			return "", err
		}
	}
	return out, nil
}

// Reconcile asks WeChat Pay about open attempts prepaid more than QueryAfter
// ago that no notification settled, and applies what it learns through the
// same path as a notification. It returns how many payments it applied.
// Several instances may run it at once: each claims different attempts.
func (s *Service) Reconcile(ctx context.Context, limit int) (int, error) {
	as, err := s.Store.ClaimAttempts(ctx, Claim{Kind: ClaimQuery, Now: s.now(),
		MinAge: orDefault(s.QueryAfter, 10*time.Second), Lease: orDefault(s.Lease, time.Minute), Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("cashier: reconcile: %w", err)
	}
	n := 0
	var errs []error
	for _, a := range as {
		out, err := s.queryAndApply(ctx, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.OutTradeNo, err))
			continue
		}
		if out == OutcomeApplied || out == OutcomeRefundDue {
			n++
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("cashier: reconcile: %w", errors.Join(errs...))
	}
	return n, nil
}

// Expire closes at WeChat Pay the open attempts of orders that expired,
// were cancelled or were paid by another attempt (applying any payment
// WeChat Pay reports instead). It returns how many attempts it closed. The
// expired orders themselves are cancelled by order.Service.CancelExpired,
// which the program runs after this.
func (s *Service) Expire(ctx context.Context, limit int) (int, error) {
	as, err := s.Store.ClaimAttempts(ctx, Claim{Kind: ClaimClose, Now: s.now(),
		Lease: orDefault(s.Lease, time.Minute), Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("cashier: expire: %w", err)
	}
	var errs []error
	n := 0
	for _, a := range as {
		switch err := s.closeAttempt(ctx, a); {
		case err == nil:
			n++
		case !errors.Is(err, ErrAlreadyPaid):
			errs = append(errs, fmt.Errorf("%s: %w", a.OutTradeNo, err))
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("cashier: expire: %w", errors.Join(errs...))
	}
	return n, nil
}

func sortedBySKU(items []Item) []Item {
	out := append([]Item(nil), items...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].SKUID < out[j-1].SKUID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// OpenAttempt returns an order's open attempt of a trade type (TradeJSAPI,
// TradeNative): ErrNoAttempt when it has none.
func (s *Service) OpenAttempt(ctx context.Context, number, tradeType string) (Attempt, error) {
	o, err := s.Store.Order(ctx, number, 0, false)
	if err != nil {
		return Attempt{}, err
	}
	return s.Store.OpenAttempt(ctx, o.ID, tradeType)
}

// CloseAttempts closes every open attempt of an unpaid order at WeChat Pay,
// then here, so that it can be cancelled. When WeChat Pay says one was paid,
// the payment is applied instead and ErrAlreadyPaid returned.
func (s *Service) CloseAttempts(ctx context.Context, number string) error {
	o, err := s.Store.Order(ctx, number, 0, false)
	if err != nil {
		return err
	}
	for _, tt := range []string{TradeJSAPI, TradeNative} {
		a, err := s.Store.OpenAttempt(ctx, o.ID, tt)
		if errors.Is(err, ErrNoAttempt) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.closeAttempt(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
