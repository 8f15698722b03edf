package cashier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
)

// RequestAfterSales records a shopper's request to refund some units of
// some lines of one of their paid orders. It refuses more units than remain
// refundable on a line (counting refunded units and other open requests).
func (s *Service) RequestAfterSales(ctx context.Context, shopperID int64, number string, lines []LineRequest, reason string) (AfterSales, error) {
	reason = strings.TrimSpace(reason)
	var fe []domain.FieldError
	if n := utf8.RuneCountInString(reason); n < 1 || n > MaxReasonLen {
		fe = append(fe, domain.FieldError{Field: "reason", Code: "range", Message: "must have 1 to 500 characters"})
	}
	if len(lines) == 0 {
		fe = append(fe, domain.FieldError{Field: "lines", Code: "required", Message: "name at least one line"})
	}
	seen := map[int64]bool{}
	for i, l := range lines {
		if l.ItemID <= 0 || l.Quantity <= 0 || seen[l.ItemID] {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("lines[%d]", i), Code: "invalid",
				Message: "needs an item_id (once) and a positive quantity"})
		}
		seen[l.ItemID] = true
	}
	if len(fe) > 0 {
		return AfterSales{}, domain.Invalid(fe...)
	}
	if !order.ValidNumber(number) {
		return AfterSales{}, order.ErrOrderNotFound
	}
	now := s.now()
	var out AfterSales
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, number, shopperID, true)
		if err != nil {
			return err
		}
		if !Refundable(o.Status) {
			return ErrNotRefundable.WithMessage("The order is %s; only paid, shipped or completed orders can be refunded.", o.Status)
		}
		requested, err := tx.RequestedUnits(ctx, o.ID)
		if err != nil {
			return err
		}
		items := itemsByID(o.Items)
		a := AfterSales{OrderID: o.ID, OrderNumber: o.Number, ShopperID: shopperID, Status: AfterSalesRequested,
			Reason: reason, CreatedAt: now}
		ids := make([]int64, 0, len(lines))
		for _, l := range lines {
			it, ok := items[l.ItemID]
			if !ok {
				return ErrItemNotInOrder.WithDetails(map[string]any{"item_id": l.ItemID})
			}
			if left := it.Quantity - requested[it.ID]; l.Quantity > left {
				return ErrRefundQuantity.WithMessage("Only %d of %s can still be refunded.", max(left, 0), it.Title).
					WithDetails(map[string]any{"item_id": it.ID, "requested": l.Quantity, "available": max(left, 0)})
			}
			a.Lines = append(a.Lines, AfterSalesLine{ItemID: it.ID, Quantity: l.Quantity})
			ids = append(ids, it.ID)
		}
		if out, err = tx.CreateAfterSales(ctx, a); err != nil {
			return err
		}
		return tx.SetLineRefundStatus(ctx, ids, order.LineRefundRequested)
	})
	if err != nil {
		return AfterSales{}, fmt.Errorf("cashier: request after-sales: %w", err)
	}
	return out, nil
}

// ListAfterSales lists after-sales requests for the back office.
func (s *Service) ListAfterSales(ctx context.Context, status AfterSalesStatus, page domain.Page) ([]AfterSales, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof",
			Message: "must be one of: requested approved rejected refunded"})
	}
	return s.Store.ListAfterSales(ctx, status, page)
}

// Decision is an admin's answer to an after-sales request.
type Decision struct {
	ID            int64
	GoodsReturned bool   // approve: the goods came back
	Note          string // reject: why
	By            domain.Actor
	RequestID     string
}

// ApproveAfterSales approves a request and refunds exactly what its units
// were paid (LineRefund), plus freight by FreightRefundable, through WeChat
// Pay with a new, idempotent out_refund_no. Goods that came back (or never
// left) go back on sale through the stock ledger. The refunds of an order
// never add up to more than its payment.
func (s *Service) ApproveAfterSales(ctx context.Context, d Decision) (AfterSales, error) {
	now := s.now()
	var out AfterSales
	err := s.Store.InTx(ctx, func(tx Store) error {
		a, err := tx.AfterSales(ctx, d.ID, true)
		if err != nil {
			return err
		}
		if a.Status != AfterSalesRequested {
			return ErrAfterSalesDecided.WithMessage("This request is already %s.", a.Status)
		}
		o, err := tx.OrderByID(ctx, a.OrderID, true)
		if err != nil {
			return err
		}
		if !Refundable(o.Status) {
			return ErrNotRefundable
		}
		p, err := tx.AppliedPayment(ctx, o.ID)
		if err != nil {
			return err
		}
		refunds, err := tx.Refunds(ctx, o.ID)
		if err != nil {
			return err
		}
		r, err := planRefund(o, p, refunds, a)
		if err != nil {
			return err
		}
		tenders, err := tx.Tenders(ctx, o.ID)
		if err != nil {
			return err
		}
		if r.Tenders, err = order.SplitRefund(tenders, r.Amount); err != nil {
			return err
		}
		for _, t := range r.Tenders {
			if t.Kind == order.TenderWeChatPay {
				r.WeChatAmount += t.Amount
			}
		}
		r.CreatedAt = now
		if r, err = tx.CreateRefund(ctx, r); err != nil {
			return err
		}
		before := map[string]any{"status": a.Status}
		a.Status, a.GoodsReturned, a.DecidedBy, a.DecidedAt = AfterSalesApproved, d.GoodsReturned, d.By.ID, now
		for i := range a.Lines {
			for _, l := range r.Lines {
				if l.ItemID == a.Lines[i].ItemID {
					a.Lines[i].Amount = l.Amount
				}
			}
		}
		ids := make([]int64, len(r.Lines))
		for i, l := range r.Lines {
			ids[i] = l.ItemID
		}
		if err := tx.SetLineRefundStatus(ctx, ids, order.LineRefundRefunding); err != nil {
			return err
		}
		if ReturnsStock(o, d.GoodsReturned) && !a.StockReturned {
			for _, l := range sortedLinesBySKU(r.Lines) {
				if err := tx.ReturnStock(ctx, l.SKUID, l.Quantity, r.OutRefundNo, d.By, now); err != nil {
					return err
				}
			}
			a.StockReturned = true
		}
		if err := tx.UpdateAfterSales(ctx, a, now); err != nil {
			return err
		}
		a.Refund = r
		out = a
		return tx.Audit(ctx, domain.AuditEntry{Actor: d.By, Action: "after_sales.approve", Entity: "after_sales",
			EntityID: fmt.Sprint(a.ID), Before: before,
			After: map[string]any{"status": a.Status, "goods_returned": a.GoodsReturned, "out_refund_no": r.OutRefundNo,
				"amount_fen": r.Amount, "freight_fen": r.Freight, "order_no": o.Number},
			RequestID: d.RequestID, At: now})
	})
	if err != nil {
		return AfterSales{}, fmt.Errorf("cashier: approve after-sales: %w", err)
	}
	out.Refund = s.submitRefund(ctx, out.Refund)
	if out.Refund.Status == RefundSucceeded {
		out.Status = AfterSalesRefunded
	}
	return out, nil
}

// planRefund computes the refund of an approved request: per line, exactly
// what its units were paid given the order's live refunds; freight with the
// refund that returns the whole order before it left the shop.
func planRefund(o Order, p Payment, refunds []Refund, a AfterSales) (Refund, error) {
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
		AfterSalesID: a.ID, Kind: RefundAfterSales, Status: RefundPending, Reason: a.Reason, GoodsReturned: a.GoodsReturned}
	for _, l := range a.Lines {
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

// RejectAfterSales rejects a request; its units can be asked for again.
func (s *Service) RejectAfterSales(ctx context.Context, d Decision) (AfterSales, error) {
	note := strings.TrimSpace(d.Note)
	if n := utf8.RuneCountInString(note); n < 1 || n > MaxReasonLen {
		return AfterSales{}, domain.Invalid(domain.FieldError{Field: "reason", Code: "range", Message: "must have 1 to 500 characters"})
	}
	now := s.now()
	var out AfterSales
	err := s.Store.InTx(ctx, func(tx Store) error {
		a, err := tx.AfterSales(ctx, d.ID, true)
		if err != nil {
			return err
		}
		if a.Status != AfterSalesRequested {
			return ErrAfterSalesDecided.WithMessage("This request is already %s.", a.Status)
		}
		a.Status, a.DecidedBy, a.DecidedAt, a.DecisionNote = AfterSalesRejected, d.By.ID, now, note
		if err := tx.UpdateAfterSales(ctx, a, now); err != nil {
			return err
		}
		ids := make([]int64, len(a.Lines))
		for i, l := range a.Lines {
			ids[i] = l.ItemID
		}
		if err := tx.SetLineRefundStatus(ctx, ids, order.LineRefundRejected); err != nil {
			return err
		}
		out = a
		return tx.Audit(ctx, domain.AuditEntry{Actor: d.By, Action: "after_sales.reject", Entity: "after_sales",
			EntityID: fmt.Sprint(a.ID), Before: map[string]any{"status": AfterSalesRequested},
			After: map[string]any{"status": a.Status, "note": note, "order_no": a.OrderNumber}, RequestID: d.RequestID, At: now})
	})
	if err != nil {
		return AfterSales{}, fmt.Errorf("cashier: reject after-sales: %w", err)
	}
	return out, nil
}

// submitRefund asks WeChat Pay for a recorded refund (the same
// out_refund_no on every retry) and applies its answer. A failure is left
// to the refund worker (unknown outcome) or recorded (definite refusal); it
// returns the refund as it now stands.
func (s *Service) submitRefund(ctx context.Context, r Refund) Refund {
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
		res = payment.Refund{OutRefundNo: r.OutRefundNo, Status: "FAILED", Refund: r.WeChatAmount}
		r2, _, aerr := s.applyRefund(ctx, res, err.Error())
		if aerr != nil {
			s.log().ErrorContext(ctx, "record refund failure", "out_refund_no", r.OutRefundNo, "err", aerr)
			return r
		}
		s.log().ErrorContext(ctx, "refund refused", "alert", true, "out_refund_no", r.OutRefundNo, "err", err)
		return r2
	}
	r2, _, err := s.applyRefund(ctx, res, "")
	if err != nil {
		s.log().ErrorContext(ctx, "apply refund answer", "out_refund_no", r.OutRefundNo, "err", err)
		return r
	}
	return r2
}

// HandleRefundNotice applies a verified refund notification and records it
// in the notification log; an error means WeChat Pay should retry.
func (s *Service) HandleRefundNotice(ctx context.Context, n payment.RefundNotice) (Outcome, error) {
	_, outcome, err := s.applyRefund(ctx, n.Refund, "")
	detail := ""
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
// order lines, the request is refunded and the AfterRefunded hooks run; a
// closed or refused refund frees its amount and puts the request back to
// requested, so an admin can approve it again.
func (s *Service) applyRefund(ctx context.Context, res payment.Refund, failure string) (Refund, Outcome, error) {
	now := s.now()
	var out Refund
	var outcome Outcome
	var detail string
	err := s.Store.InTx(ctx, func(tx Store) error {
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
		if err := s.settleRequest(ctx, tx, r, now); err != nil {
			return err
		}
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
			return tx.Raise(ctx, e)
		}
		return nil
	})
	if err != nil {
		return Refund{}, "", fmt.Errorf("cashier: apply refund %s: %w", res.OutRefundNo, err)
	}
	if outcome.Alert() || out.Status == RefundAbnormal && outcome == OutcomeApplied {
		s.log().ErrorContext(ctx, "refund alert", "alert", true, "outcome", string(outcome), "detail", detail,
			"out_refund_no", res.OutRefundNo, "status", string(res.Status))
	}
	return out, outcome, nil
}

// settleRequest moves an after-sales request and its lines along with its
// refund.
func (s *Service) settleRequest(ctx context.Context, tx Store, r Refund, now time.Time) error {
	if r.AfterSalesID == 0 {
		return nil
	}
	a, err := tx.AfterSales(ctx, r.AfterSalesID, true)
	if err != nil {
		return err
	}
	ids := make([]int64, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.ItemID
	}
	switch r.Status {
	case RefundSucceeded:
		a.Status = AfterSalesRefunded
		if err := tx.SetLineRefundStatus(ctx, ids, order.LineRefundRefunded); err != nil {
			return err
		}
	case RefundClosed, RefundFailed:
		a.Status = AfterSalesRequested
		if err := tx.SetLineRefundStatus(ctx, ids, order.LineRefundApproved); err != nil {
			return err
		}
	default:
		return nil
	}
	return tx.UpdateAfterSales(ctx, a, now)
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
			if r2 := s.submitRefund(ctx, r); r2.Status != r.Status {
				n++
			}
			continue
		}
		res, err := s.Gateway.QueryRefund(ctx, r.OutRefundNo)
		if errors.Is(err, payment.ErrRefundNotExist) {
			// Never reached WeChat Pay: submit it again.
			if r2 := s.submitRefund(ctx, r); r2.Status != r.Status {
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

func sortedLinesBySKU(ls []RefundLine) []RefundLine {
	out := append([]RefundLine(nil), ls...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].SKUID < out[j-1].SKUID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
