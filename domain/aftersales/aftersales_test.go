package aftersales

import (
	"context"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/order"
)

// TestStockRule is the stock half of what was cashier's
// TestFreightAndStockRules (the freight rule stayed with the cashier).
func TestStockRule(t *testing.T) {
	paid := order.Order{Status: order.StatusPaid, Freight: 1000}
	shipped := order.Order{Status: order.StatusShipped, Freight: 1000}
	if !ReturnsStock(paid, false) || ReturnsStock(shipped, false) || !ReturnsStock(shipped, true) {
		t.Fatal("stock rule")
	}
}

func TestRefundable(t *testing.T) {
	for _, c := range []struct {
		s    order.Status
		want bool
	}{
		{order.StatusPendingPayment, false}, {order.StatusPaid, true}, {order.StatusShipped, true},
		{order.StatusCompleted, true}, {order.StatusCancelled, false},
	} {
		if got := Refundable(c.s); got != c.want {
			t.Errorf("%s: %v", c.s, got)
		}
	}
}

// settleStore is the part of Store that Settle calls; the rest is nil.
type settleStore struct {
	Store
	req     Request
	lines   map[int64]order.LineRefundStatus
	updated []Request
}

func (s *settleStore) Request(_ context.Context, id int64, _ bool) (Request, error) {
	if id != s.req.ID {
		return Request{}, ErrNotFound
	}
	return s.req, nil
}

func (s *settleStore) SetLineRefundStatus(_ context.Context, ids []int64, st order.LineRefundStatus) error {
	for _, id := range ids {
		s.lines[id] = st
	}
	return nil
}

func (s *settleStore) UpdateRequest(_ context.Context, r Request, _ time.Time) error {
	s.updated = append(s.updated, r)
	return nil
}

// TestSettle: a request follows its refund to its end, and nothing else.
func TestSettle(t *testing.T) {
	line := []cashier.RefundLine{{ItemID: 7, Quantity: 1}}
	cases := []struct {
		refund     cashier.Refund
		wantStatus Status // "": not written
		wantLine   order.LineRefundStatus
	}{
		{cashier.Refund{AfterSalesID: 1, Status: cashier.RefundSucceeded, Lines: line}, StatusRefunded, order.LineRefundRefunded},
		{cashier.Refund{AfterSalesID: 1, Status: cashier.RefundClosed, Lines: line}, StatusRequested, order.LineRefundApproved},
		{cashier.Refund{AfterSalesID: 1, Status: cashier.RefundFailed, Lines: line}, StatusRequested, order.LineRefundApproved},
		{cashier.Refund{AfterSalesID: 1, Status: cashier.RefundProcessing, Lines: line}, "", ""},
		{cashier.Refund{Status: cashier.RefundSucceeded, Kind: cashier.RefundPaidAfterCancel}, "", ""},
	}
	for _, c := range cases {
		st := &settleStore{req: Request{ID: 1, Status: StatusApproved}, lines: map[int64]order.LineRefundStatus{}}
		if err := Settle(context.Background(), st, cashier.RefundSettled{Refund: c.refund, At: time.Unix(1, 0)}); err != nil {
			t.Fatalf("%s: %v", c.refund.Status, err)
		}
		switch {
		case c.wantStatus == "" && (len(st.updated) != 0 || len(st.lines) != 0):
			t.Errorf("%s (request %d): wrote %+v %v", c.refund.Status, c.refund.AfterSalesID, st.updated, st.lines)
		case c.wantStatus != "" && (len(st.updated) != 1 || st.updated[0].Status != c.wantStatus || st.lines[7] != c.wantLine):
			t.Errorf("%s: wrote %+v %v", c.refund.Status, st.updated, st.lines)
		}
	}
}
