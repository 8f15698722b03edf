package cashier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
)

// RefundKind says why money goes back.
type RefundKind string

// The refund kinds.
const (
	RefundAfterSales      RefundKind = "after_sales"       // units of lines, asked for by an after-sales request (CreateRefund)
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
	// RefundNeedsAttention: WeChat Pay refused it outright for a reason a
	// person must handle (the shopper's account is abnormal, or the
	// merchant's balance stayed short through every retry). It still holds
	// its amount; an admin retries it (RetryRefund) or gives it up
	// (AbandonRefund). Failure says why.
	RefundNeedsAttention RefundStatus = "needs_attention"
)

// MaxBalanceRetries is how many times the refund worker resubmits a refund
// refused for a short merchant balance (NOT_ENOUGH) before a person is asked:
// with the worker's backoff (1, 2, 4, 8, then every 16 leases) about two
// days at the default one-minute lease.
const MaxBalanceRetries = 200

// NeedsPerson reports whether a person must act on a refund: WeChat Pay
// refused it (needs_attention) or it went abnormal (re-apply it to a bank
// card: ApplyAbnormalRefund).
func (s RefundStatus) NeedsPerson() bool { return s == RefundNeedsAttention || s == RefundAbnormal }

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
	AfterSalesID  int64      // the after-sales request that asked for it (0: none), handed back in RefundSettled
	Kind          RefundKind
	Amount        domain.Fen // lines + freight
	// WeChatAmount is the part of Amount refunded through WeChat Pay (all
	// of it for a payment that never paid the order); Tenders says how
	// Amount goes back to the order's tenders (order.SplitRefund), WeChat
	// Pay's part included.
	WeChatAmount domain.Fen
	Tenders      []order.TenderRefund
	Freight      domain.Fen
	Status       RefundStatus
	Reason       string
	WxRefundID   string
	Failure      string
	Checks       int
	Lines        []RefundLine
	CreatedAt    time.Time
	SucceededAt  time.Time
}

// RefundLine is the units of one order line a refund returns money for.
type RefundLine struct {
	ItemID   int64
	SKUID    int64
	Quantity int
	Amount   domain.Fen
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

// MaxRefundsPerOrder is WeChat Pay's limit of partial refunds per payment.
const MaxRefundsPerOrder = 50

// Errors of refunds.
var (
	ErrRefundQuantity = domain.E(domain.KindConflict, "refund_quantity_exceeded",
		"More units than remain refundable were asked for.")
	ErrRefundExceedsPaid = domain.E(domain.KindConflict, "refund_exceeds_paid",
		"The refund would exceed what was paid.")
	ErrItemNotInOrder = domain.E(domain.KindInvalid, "item_not_in_order", "This item is not a line of the order.")
	ErrNoPayment      = domain.E(domain.KindConflict, "order_not_paid", "The order has no payment to refund.")
	ErrRefundNotFound = domain.E(domain.KindNotFound, "refund_not_found", "No such refund.")
	ErrTooManyRefunds = domain.E(domain.KindConflict, "refund_limit_reached", "This order cannot be refunded any more times.")
)

// RefundRequest asks the cashier for the money some units of some lines of
// a paid order were paid (CreateRefund).
type RefundRequest struct {
	OrderID int64
	// AfterSalesID is the after-sales request that asks (0: none); the
	// refund keeps it and RefundSettled hands it back.
	AfterSalesID int64
	Lines        []RefundLine // ItemID and Quantity; the cashier works out SKUID and Amount
	Reason       string
	At           time.Time
}

// RefundSettled is a refund that has ended: it succeeded (the money went
// back), or it was closed or refused (the money did not go back, and its
// amount is free again). It is raised inside the transaction that applies
// WeChat Pay's answer; whoever asked for the refund subscribes to it, and a
// handler that returns an error rolls the answer back (WeChat Pay and the
// refund worker retry). The cashier does not know who listens.
type RefundSettled struct {
	Refund Refund // Status: RefundSucceeded, RefundClosed or RefundFailed
	At     time.Time
}

// CreateRefund plans the refund req asks for (LineRefund per line, freight
// by FreightRefundable, split across the order's tenders by
// order.SplitRefund) and records it as pending through st, which runs in
// the caller's transaction: the refund commits together with whatever
// asked for it. The order is locked first, so the refunds of an order never
// add up to more than its payment. After the commit, SubmitRefund sends it
// to WeChat Pay (and the refund worker retries what is left pending).
func (s *Service) CreateRefund(ctx context.Context, st RefundStore, req RefundRequest) (Refund, error) {
	r, err := createRefund(ctx, st, req)
	if err != nil {
		return Refund{}, fmt.Errorf("cashier: create refund: %w", err)
	}
	return r, nil
}

func createRefund(ctx context.Context, st RefundStore, req RefundRequest) (Refund, error) {
	o, err := st.OrderByID(ctx, req.OrderID, true)
	if err != nil {
		return Refund{}, err
	}
	// An order its other tenders paid whole (stored value …) has no WeChat
	// Pay payment; its refunds go back to those tenders alone.
	p, err := st.AppliedPayment(ctx, o.ID)
	if err != nil && !(errors.Is(err, ErrNoPayment) && o.Due() == 0) {
		return Refund{}, err
	}
	refunds, err := st.Refunds(ctx, o.ID)
	if err != nil {
		return Refund{}, err
	}
	r, err := planRefund(o, p, refunds, req)
	if err != nil {
		return Refund{}, err
	}
	tenders, err := st.Tenders(ctx, o.ID)
	if err != nil {
		return Refund{}, err
	}
	if r.Tenders, err = order.SplitRefund(tenders, r.Amount); err != nil {
		return Refund{}, err
	}
	for _, t := range r.Tenders {
		if t.Kind == order.TenderWeChatPay {
			r.WeChatAmount += t.Amount
		}
	}
	if r.WeChatAmount > 0 && p.ID == 0 {
		return Refund{}, fmt.Errorf("cashier: refund of %d fen through WeChat Pay without a payment", r.WeChatAmount)
	}
	r.CreatedAt = req.At
	return st.CreateRefund(ctx, r)
}

// planRefund computes the refund that req asks for: per line, exactly what
// its units were paid given the order's live refunds (LineRefund); freight
// with the refund that returns the whole order before it left the shop
// (FreightRefundable).
func planRefund(o Order, p Payment, refunds []Refund, req RefundRequest) (Refund, error) {
	type taken struct {
		qty int
		fen domain.Fen
	}
	byItem := map[int64]taken{}
	var liveTotal, freightRefunded domain.Fen
	liveCount := 0
	for _, r := range refunds {
		liveCount++ // WeChat counts every refund, failed ones included
		if !r.Status.Live() || r.Kind != RefundAfterSales {
			continue
		}
		liveTotal += r.Amount
		freightRefunded += r.Freight
		for _, l := range r.Lines {
			t := byItem[l.ItemID]
			t.qty += l.Quantity
			t.fen += l.Amount
			byItem[l.ItemID] = t
		}
	}
	if liveCount >= MaxRefundsPerOrder {
		return Refund{}, ErrTooManyRefunds
	}
	items := itemsByID(o.Items)
	r := Refund{OrderID: o.ID, OrderNumber: o.Number, PaymentID: p.ID, PaymentAmount: p.Amount,
		AfterSalesID: req.AfterSalesID, Kind: RefundAfterSales, Status: RefundPending, Reason: req.Reason}
	for _, l := range req.Lines {
		it, ok := items[l.ItemID]
		if !ok {
			return Refund{}, ErrItemNotInOrder
		}
		t := byItem[it.ID]
		amt, err := LineRefund(it.Paid, it.Quantity, t.qty, t.fen, l.Quantity)
		if err != nil {
			return Refund{}, err
		}
		t.qty += l.Quantity
		t.fen += amt
		byItem[it.ID] = t
		r.Lines = append(r.Lines, RefundLine{ItemID: it.ID, SKUID: it.SKUID, Quantity: l.Quantity, Amount: amt})
		r.Amount += amt
	}
	all := true
	for _, it := range o.Items {
		all = all && byItem[it.ID].qty == it.Quantity
	}
	r.Freight = FreightRefundable(o, all, freightRefunded)
	r.Amount += r.Freight
	if r.Amount <= 0 {
		return Refund{}, ErrRefundExceedsPaid.WithMessage("These units were paid nothing; there is nothing to refund.")
	}
	if liveTotal+r.Amount > o.Payable {
		return Refund{}, ErrRefundExceedsPaid.WithMessage("Refunding ¥%s would exceed the ¥%s paid (¥%s already refunded).",
			r.Amount.Yuan(), o.Payable.Yuan(), liveTotal.Yuan())
	}
	return r, nil
}

// SubmitRefund asks WeChat Pay for a recorded refund (the same
// out_refund_no on every retry) and applies its answer. A failure is left
// to the refund worker (unknown outcome) or recorded (definite refusal); it
// returns the refund as it now stands. Call it after the transaction that
// recorded the refund commits.
func (s *Service) SubmitRefund(ctx context.Context, r Refund) Refund {
	if r.WeChatAmount == 0 {
		// Nothing goes back through WeChat Pay: the other tenders' parts
		// are given back when the refund succeeds, now.
		r2, _, err := s.applyRefund(ctx, payment.Refund{OutRefundNo: r.OutRefundNo, Status: payment.RefundSuccess}, "")
		if err != nil {
			s.log().ErrorContext(ctx, "apply refund without WeChat Pay", "out_refund_no", r.OutRefundNo, "err", err)
			return r
		}
		return r2
	}
	res, err := s.Gateway.Refund(ctx, payment.RefundRequest{OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
		Reason: r.Reason, Refund: r.WeChatAmount, Total: r.PaymentAmount})
	if err != nil {
		if payment.Retryable(err) {
			s.log().WarnContext(ctx, "refund not confirmed; the worker retries", "out_refund_no", r.OutRefundNo, "err", err)
			return r
		}
		return s.refused(ctx, r, err)
	}
	r2, _, err := s.applyRefund(ctx, res, "")
	if err != nil {
		s.log().ErrorContext(ctx, "apply refund answer", "out_refund_no", r.OutRefundNo, "err", err)
		return r
	}
	return r2
}

// refused records WeChat Pay's outright refusal of a refund:
//   - NOT_ENOUGH (the merchant's balance is short) leaves it pending, the
//     reason noted: the refund worker resubmits it with backoff (same
//     out_refund_no) and asks a person after MaxBalanceRetries;
//   - a refusal no retry can change (amount exceeded, too many refunds)
//     fails it: its amount is free again and RefundSettled is raised;
//   - anything else (USER_ACCOUNT_ABNORMAL, an unexpected code) needs a
//     person: it keeps its amount and appears in the admin queue.
func (s *Service) refused(ctx context.Context, r Refund, cause error) Refund {
	var (
		r2  Refund
		err error
	)
	switch {
	case errors.Is(cause, payment.ErrNotEnough) && r.Checks < MaxBalanceRetries:
		s.log().WarnContext(ctx, "refund refused for a short balance; the worker retries", "alert", true,
			"out_refund_no", r.OutRefundNo, "checks", r.Checks, "err", cause)
		r2, err = s.markRefund(ctx, r.OutRefundNo, RefundPending, RefundPending, "NOT_ENOUGH: "+cause.Error())
	case errors.Is(cause, payment.ErrRefundExceeded), errors.Is(cause, payment.ErrRefundLimit):
		s.log().ErrorContext(ctx, "refund refused", "alert", true, "out_refund_no", r.OutRefundNo, "err", cause)
		r2, _, err = s.applyRefund(ctx, payment.Refund{OutRefundNo: r.OutRefundNo, Status: "FAILED", Refund: r.WeChatAmount},
			cause.Error())
	default:
		s.log().ErrorContext(ctx, "refund refused; needs a person", "alert", true, "out_refund_no", r.OutRefundNo, "err", cause)
		r2, err = s.markRefund(ctx, r.OutRefundNo, RefundPending, RefundNeedsAttention, cause.Error())
	}
	if err != nil {
		s.log().ErrorContext(ctx, "record refund refusal", "out_refund_no", r.OutRefundNo, "err", err)
		return r
	}
	return r2
}

// markRefund moves a refund from one status to another (or notes a reason
// on it) unless it has moved on meanwhile; it returns it as it stands.
func (s *Service) markRefund(ctx context.Context, outRefundNo string, from, to RefundStatus, failure string) (Refund, error) {
	var out Refund
	err := s.Store.InTx(ctx, func(tx Tx) error {
		r, err := tx.LockRefund(ctx, outRefundNo)
		if err != nil {
			return err
		}
		out = r
		if r.Status != from {
			return nil
		}
		r.Status, r.Failure = to, failure
		if err := tx.UpdateRefund(ctx, r, s.now()); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return Refund{}, fmt.Errorf("cashier: mark refund %s: %w", outRefundNo, err)
	}
	return out, nil
}

// HandleRefundNotice applies a verified refund notification and records it
// in the notification log; an error means WeChat Pay should retry.
func (s *Service) HandleRefundNotice(ctx context.Context, n payment.RefundNotice) (Outcome, error) {
	outcome, detail, err := s.routeRefund(ctx, n.Refund)
	if err != nil {
		return "", err
	}
	rec := Notification{EventID: n.EventID, EventType: n.EventType, Resource: "refund", Source: SourceNotification,
		OutNo: n.OutRefundNo, WxID: n.RefundID, Amount: n.Refund.Refund, Outcome: outcome, Detail: detail, ReceivedAt: s.now()}
	if err := s.Store.RecordNotification(ctx, rec); err != nil {
		return "", fmt.Errorf("cashier: record notification: %w", err)
	}
	return outcome, nil
}

// applyRefund moves a refund to what WeChat Pay reports, once, in one
// transaction. On success the refunded units and money are added to the
// order lines and tenders and the order's MomentRefunded is raised; a
// closed or refused refund frees its amount. Either way, a refund that
// ends raises RefundSettled, so whoever asked for it moves along in the
// same transaction.
func (s *Service) applyRefund(ctx context.Context, res payment.Refund, failure string) (Refund, Outcome, error) {
	now := s.now()
	var out Refund
	var outcome Outcome
	var detail string
	// settle runs in the transaction and sees only what applying a
	// refund's result calls.
	settle := func(tx SettleStore) error {
		r, err := tx.LockRefund(ctx, res.OutRefundNo)
		if errors.Is(err, ErrRefundNotFound) {
			outcome, detail = OutcomeUnknown, "no refund has out_refund_no "+res.OutRefundNo
			return nil
		}
		if err != nil {
			return err
		}
		out = r
		if res.Refund != 0 && res.Refund != r.WeChatAmount {
			outcome, detail = OutcomeAmountAlert, fmt.Sprintf("refund of %d fen reported, %d asked", res.Refund, r.WeChatAmount)
			return nil
		}
		next := r.Status
		switch res.Status {
		case payment.RefundSuccess:
			next = RefundSucceeded
		case payment.RefundProcessing:
			next = RefundProcessing
		case payment.RefundAbnormal:
			next = RefundAbnormal
		case payment.RefundClosed:
			next = RefundClosed
		case "FAILED":
			next = RefundFailed
		}
		if next == r.Status || r.Status == RefundSucceeded || !r.Status.Live() {
			if r.WxRefundID == "" && res.RefundID != "" {
				r.WxRefundID = res.RefundID
				out = r
				return tx.UpdateRefund(ctx, r, now)
			}
			outcome = OutcomeDuplicate
			return nil
		}
		r.Status = next
		if res.RefundID != "" {
			r.WxRefundID = res.RefundID
		}
		r.Failure = failure
		outcome = OutcomeApplied
		switch next {
		case RefundSucceeded:
			r.SucceededAt = res.SuccessTime
			if r.SucceededAt.IsZero() {
				r.SucceededAt = now
			}
		case RefundAbnormal:
			detail = "refund abnormal: needs a person"
		}
		if err := tx.UpdateRefund(ctx, r, now); err != nil {
			return err
		}
		out = r
		if next == RefundSucceeded {
			if err := tx.AddRefunded(ctx, r.Lines); err != nil {
				return err
			}
			if err := tx.AddTenderRefunded(ctx, r.Tenders); err != nil {
				return err
			}
			o, err := tx.OrderByID(ctx, r.OrderID, false)
			if err != nil {
				return err
			}
			e := o.event(order.MomentRefunded, "", domain.System, r.SucceededAt)
			e.RefundID, e.OutRefundNo, e.Amount, e.Freight, e.Tenders = r.ID, r.OutRefundNo, r.Amount, r.Freight, r.Tenders
			for _, l := range r.Lines {
				e.Lines = append(e.Lines, order.RefundedLine{ItemID: l.ItemID, Quantity: l.Quantity, Amount: l.Amount})
			}
			if err := tx.Raise(ctx, e); err != nil {
				return err
			}
		}
		if next == RefundSucceeded || !next.Live() {
			return tx.RaiseRefundSettled(ctx, RefundSettled{Refund: r, At: now})
		}
		return nil
	}
	err := s.Store.InTx(ctx, func(tx Tx) error { return settle(tx) })
	if err != nil {
		return Refund{}, "", fmt.Errorf("cashier: apply refund %s: %w", res.OutRefundNo, err)
	}
	if outcome.Alert() || out.Status == RefundAbnormal && outcome == OutcomeApplied {
		s.log().ErrorContext(ctx, "refund alert", "alert", true, "outcome", string(outcome), "detail", detail,
			"out_refund_no", res.OutRefundNo, "status", string(res.Status))
	}
	return out, outcome, nil
}

// SyncRefunds is the refund worker: it submits refunds WeChat Pay has not
// confirmed yet (same out_refund_no) and asks about those still
// processing or abnormal, applying what it learns. Several instances may run
// it at once. It returns how many refunds it moved on.
func (s *Service) SyncRefunds(ctx context.Context, limit int) (int, error) {
	rs, err := s.Store.ClaimRefunds(ctx, Claim{Now: s.now(), Lease: orDefault(s.Lease, time.Minute), Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("cashier: sync refunds: %w", err)
	}
	n := 0
	var errs []error
	for _, r := range rs {
		if r.Status == RefundPending {
			if r2 := s.SubmitRefund(ctx, r); r2.Status != r.Status {
				n++
			}
			continue
		}
		res, err := s.Gateway.QueryRefund(ctx, r.OutRefundNo)
		if errors.Is(err, payment.ErrRefundNotExist) {
			// Never reached WeChat Pay: submit it again.
			if r2 := s.SubmitRefund(ctx, r); r2.Status != r.Status {
				n++
			}
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.OutRefundNo, err))
			continue
		}
		_, out, err := s.applyRefund(ctx, res, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out == OutcomeApplied {
			n++
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("cashier: sync refunds: %w", errors.Join(errs...))
	}
	return n, nil
}

func itemsByID(items []Item) map[int64]Item {
	m := make(map[int64]Item, len(items))
	for _, it := range items {
		m[it.ID] = it
	}
	return m
}
