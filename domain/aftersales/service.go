package aftersales

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/order"
)

// Store is what after-sales needs from the database. Every method but InTx
// may run inside a transaction opened by InTx (on the Store passed to fn).
type Store interface {
	// InTx runs fn in one transaction; fn's Store runs in it.
	InTx(ctx context.Context, fn func(Store) error) error
	// Refunds is the cashier's refund store in the same transaction, for
	// cashier.Service.CreateRefund.
	Refunds() cashier.RefundStore

	// Order returns an order with its lines by number
	// (order.ErrOrderNotFound); shopperID > 0 restricts it to that
	// shopper; forUpdate locks the row.
	Order(ctx context.Context, number string, shopperID int64, forUpdate bool) (order.Order, error)
	// RequestedUnits returns, per order line, the units in requests that
	// are not rejected.
	RequestedUnits(ctx context.Context, orderID int64) (map[int64]int, error)
	// CreateRequest writes a request and its lines.
	CreateRequest(ctx context.Context, r Request) (Request, error)
	// Request returns a request with its lines and latest refund
	// (ErrNotFound); forUpdate locks it.
	Request(ctx context.Context, id int64, forUpdate bool) (Request, error)
	// ListRequests lists requests newest first, optionally by status.
	ListRequests(ctx context.Context, status Status, page domain.Page) ([]Request, string, error)
	// UpdateRequest writes a request's status, decision and line amounts.
	UpdateRequest(ctx context.Context, r Request, now time.Time) error
	// SetLineRefundStatus sets the per-line refund status of order lines.
	SetLineRefundStatus(ctx context.Context, itemIDs []int64, s order.LineRefundStatus) error
	// ReturnStock puts qty sold units back on sale (ledger).
	ReturnStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error
	// Audit records an admin write in the transaction.
	Audit(ctx context.Context, e domain.AuditEntry) error
}

// Cashier is what after-sales asks of the cashier (a *cashier.Service).
type Cashier interface {
	// CreateRefund plans and records a refund in st's transaction.
	CreateRefund(ctx context.Context, st cashier.RefundStore, r cashier.RefundRequest) (cashier.Refund, error)
	// SubmitRefund sends a recorded refund to WeChat Pay, after the commit,
	// and returns it as it now stands.
	SubmitRefund(ctx context.Context, r cashier.Refund) cashier.Refund
}

// Service is the use cases of after-sales.
type Service struct {
	Store   Store
	Cashier Cashier
	Now     func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// Request records a shopper's request to refund some units of some lines
// of one of their paid orders. It refuses more units than remain
// refundable on a line (counting refunded units and other open requests).
func (s *Service) Request(ctx context.Context, shopperID int64, number string, lines []LineRequest, reason string) (Request, error) {
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
		return Request{}, domain.Invalid(fe...)
	}
	if !order.ValidNumber(number) {
		return Request{}, order.ErrOrderNotFound
	}
	now := s.now()
	var out Request
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
		items := make(map[int64]order.Item, len(o.Items))
		for _, it := range o.Items {
			items[it.ID] = it
		}
		r := Request{OrderID: o.ID, OrderNumber: o.Number, ShopperID: shopperID, Status: StatusRequested,
			Reason: reason, CreatedAt: now}
		ids := make([]int64, 0, len(lines))
		for _, l := range lines {
			it, ok := items[l.ItemID]
			if !ok {
				return cashier.ErrItemNotInOrder.WithDetails(map[string]any{"item_id": l.ItemID})
			}
			if left := it.Quantity - requested[it.ID]; l.Quantity > left {
				return cashier.ErrRefundQuantity.WithMessage("Only %d of %s can still be refunded.", max(left, 0), it.Title).
					WithDetails(map[string]any{"item_id": it.ID, "requested": l.Quantity, "available": max(left, 0)})
			}
			r.Lines = append(r.Lines, Line{ItemID: it.ID, Quantity: l.Quantity})
			ids = append(ids, it.ID)
		}
		if out, err = tx.CreateRequest(ctx, r); err != nil {
			return err
		}
		return tx.SetLineRefundStatus(ctx, ids, order.LineRefundRequested)
	})
	if err != nil {
		return Request{}, fmt.Errorf("aftersales: request: %w", err)
	}
	return out, nil
}

// List lists requests for the back office.
func (s *Service) List(ctx context.Context, status Status, page domain.Page) ([]Request, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof",
			Message: "must be one of: requested approved rejected refunded"})
	}
	return s.Store.ListRequests(ctx, status, page)
}

// Approve approves a request and, in the same transaction, asks the
// cashier to record the refund of exactly what its units were paid (plus
// freight by the cashier's rule), with a new, idempotent out_refund_no.
// Goods that came back (or never left) go back on sale through the stock
// ledger (ReturnsStock). After the commit the cashier submits the refund
// to WeChat Pay.
func (s *Service) Approve(ctx context.Context, d Decision) (Request, error) {
	now := s.now()
	var out Request
	err := s.Store.InTx(ctx, func(tx Store) error {
		a, err := undecided(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		o, err := tx.Order(ctx, a.OrderNumber, 0, true)
		if err != nil {
			return err
		}
		if !Refundable(o.Status) {
			return ErrNotRefundable
		}
		req := cashier.RefundRequest{OrderID: o.ID, AfterSalesID: a.ID, Reason: a.Reason, At: now}
		for _, l := range a.Lines {
			req.Lines = append(req.Lines, cashier.RefundLine{ItemID: l.ItemID, Quantity: l.Quantity})
		}
		r, err := s.Cashier.CreateRefund(ctx, tx.Refunds(), req)
		if err != nil {
			return err
		}
		before := map[string]any{"status": a.Status}
		a.Status, a.GoodsReturned, a.DecidedBy, a.DecidedAt = StatusApproved, d.GoodsReturned, d.By.ID, now
		for i := range a.Lines {
			for _, l := range r.Lines {
				if l.ItemID == a.Lines[i].ItemID {
					a.Lines[i].Amount = l.Amount
				}
			}
		}
		if err := tx.SetLineRefundStatus(ctx, itemIDs(r.Lines), order.LineRefundRefunding); err != nil {
			return err
		}
		if ReturnsStock(o, d.GoodsReturned) && !a.StockReturned {
			for _, l := range sortedBySKU(r.Lines) {
				if err := tx.ReturnStock(ctx, l.SKUID, l.Quantity, r.OutRefundNo, d.By, now); err != nil {
					return err
				}
			}
			a.StockReturned = true
		}
		if err := tx.UpdateRequest(ctx, a, now); err != nil {
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
		return Request{}, fmt.Errorf("aftersales: approve: %w", err)
	}
	out.Refund = s.Cashier.SubmitRefund(ctx, out.Refund)
	if out.Refund.Status == cashier.RefundSucceeded {
		out.Status = StatusRefunded
	}
	return out, nil
}

// Reject rejects a request; its units can be asked for again.
func (s *Service) Reject(ctx context.Context, d Decision) (Request, error) {
	note := strings.TrimSpace(d.Note)
	if n := utf8.RuneCountInString(note); n < 1 || n > MaxReasonLen {
		return Request{}, domain.Invalid(domain.FieldError{Field: "reason", Code: "range", Message: "must have 1 to 500 characters"})
	}
	now := s.now()
	var out Request
	err := s.Store.InTx(ctx, func(tx Store) error {
		a, err := undecided(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		a.Status, a.DecidedBy, a.DecidedAt, a.DecisionNote = StatusRejected, d.By.ID, now, note
		if err := tx.UpdateRequest(ctx, a, now); err != nil {
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
			EntityID: fmt.Sprint(a.ID), Before: map[string]any{"status": StatusRequested},
			After: map[string]any{"status": a.Status, "note": note, "order_no": a.OrderNumber}, RequestID: d.RequestID, At: now})
	})
	if err != nil {
		return Request{}, fmt.Errorf("aftersales: reject: %w", err)
	}
	return out, nil
}

// Settle moves a request and its lines along with its refund: refunded
// when the money went back, back to requested (its lines to approved) when
// the refund was closed or refused, so an admin can approve it again. It is
// a cashier.RefundSettled handler: st runs in the transaction that applies
// the refund's result, and an error refuses it.
func Settle(ctx context.Context, st Store, e cashier.RefundSettled) error {
	r := e.Refund
	if r.AfterSalesID == 0 {
		return nil
	}
	a, err := st.Request(ctx, r.AfterSalesID, true)
	if err != nil {
		return err
	}
	switch r.Status {
	case cashier.RefundSucceeded:
		a.Status = StatusRefunded
		if err := st.SetLineRefundStatus(ctx, itemIDs(r.Lines), order.LineRefundRefunded); err != nil {
			return err
		}
	case cashier.RefundClosed, cashier.RefundFailed:
		a.Status = StatusRequested
		if err := st.SetLineRefundStatus(ctx, itemIDs(r.Lines), order.LineRefundApproved); err != nil {
			return err
		}
	default:
		return nil
	}
	return st.UpdateRequest(ctx, a, e.At)
}

// undecided returns a request that is still requested, locked
// (ErrDecided when it is not).
func undecided(ctx context.Context, tx Store, id int64) (Request, error) {
	a, err := tx.Request(ctx, id, true)
	if err != nil {
		return Request{}, err
	}
	if a.Status != StatusRequested {
		return Request{}, ErrDecided.WithMessage("This request is already %s.", a.Status)
	}
	return a, nil
}

func itemIDs(ls []cashier.RefundLine) []int64 {
	ids := make([]int64, len(ls))
	for i, l := range ls {
		ids[i] = l.ItemID
	}
	return ids
}

// sortedBySKU orders lines by SKU, so stock rows are always locked in the
// same order.
func sortedBySKU(ls []cashier.RefundLine) []cashier.RefundLine {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b cashier.RefundLine) int { return cmp.Compare(a.SKUID, b.SKUID) })
	return out
}
