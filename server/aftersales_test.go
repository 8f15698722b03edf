package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/payments/wxpaysim"
	"github.com/yutang/yutang/storage"
)

// After-sales end to end: requests, decisions, and refunds that end.

type afterSalesAnswer struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Lines  []struct {
		AmountFen int64 `json:"amount_fen"`
	} `json:"lines"`
	Refund *struct {
		OutRefundNo string `json:"out_refund_no"`
		Status      string `json:"status"`
		AmountFen   int64  `json:"amount_fen"`
		FreightFen  int64  `json:"freight_fen"`
	} `json:"refund"`
}

// TestAfterSalesPartialRefunds: two partial refunds are recorded, a third
// beyond what remains is refused; the last one returns the rest with the
// freight (the order never shipped), and the refunds add up to exactly the
// payment.
func TestAfterSalesPartialRefunds(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("refunder")
	o := pa.placeOrder(tok, sku, 3) // 3 × 1000 + 1000 freight
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	var itemID int64
	if err := pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	admin := pa.staff(identity.RoleOperator, "")
	path := "/api/v1/shop/orders/" + o.OrderNo + "/after-sales"
	ask := func(qty int) resp {
		return pa.do(req{Method: "POST", Path: path, Token: tok,
			Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": qty}}, "reason": "不想要了"}})
	}
	approve := func(id int64, returned bool) afterSalesAnswer {
		var a afterSalesAnswer
		pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", id), Token: admin,
			Body: map[string]any{"goods_returned": returned}}).Decode(t, &a)
		return a
	}
	refunded := func(no string) {
		t.Helper()
		eventually(t, 5*time.Second, "refund "+no, func() bool {
			return pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, no) == 1
		})
	}

	var a1 afterSalesAnswer
	r := ask(1)
	if r.Status != 201 {
		t.Fatalf("ask: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &a1)
	// A rejected request frees its units.
	var rj afterSalesAnswer
	ask(1).Decode(t, &rj)
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/reject", rj.ID), Token: admin,
		Body: map[string]any{"reason": "duplicate request"}})

	got := approve(a1.ID, true)
	if got.Status != "approved" && got.Status != "refunded" || got.Refund == nil || got.Refund.AmountFen != 1000 || got.Refund.FreightFen != 0 {
		t.Fatalf("first approval: %+v %+v", got, got.Refund)
	}
	refunded(got.Refund.OutRefundNo)

	var a2 afterSalesAnswer
	ask(1).Decode(t, &a2)
	got2 := approve(a2.ID, false)
	if got2.Refund.AmountFen != 1000 || got2.Refund.OutRefundNo == got.Refund.OutRefundNo {
		t.Fatalf("second approval: %+v", got2.Refund)
	}
	refunded(got2.Refund.OutRefundNo)

	// Beyond what remains: refused.
	if r := ask(2); r.Status != 409 || r.ErrCode(t) != "refund_quantity_exceeded" {
		t.Fatalf("third: %d %s", r.Status, r.Body)
	}
	var a3 afterSalesAnswer
	ask(1).Decode(t, &a3)
	got3 := approve(a3.ID, false)
	if got3.Refund.AmountFen != 2000 || got3.Refund.FreightFen != 1000 {
		t.Fatalf("last approval: %+v", got3.Refund)
	}
	refunded(got3.Refund.OutRefundNo)

	var sum int64
	if err := pa.app.db.Get(&sum, `SELECT sum(amount_fen) FROM refunds WHERE status = 'succeeded'`); err != nil || sum != o.PayableFen {
		t.Fatalf("refunded %d of %d (%v)", sum, o.PayableFen, err)
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Refunded != o.PayableFen {
		t.Fatalf("simulator refunded %d", tr.Refunded)
	}
	var q, fen int64
	if err := pa.app.db.QueryRow(`SELECT refunded_quantity, refunded_fen FROM order_items WHERE id = $1`, itemID).Scan(&q, &fen); err != nil || q != 3 || fen != 3000 {
		t.Fatalf("line refunded %d units %d fen (%v)", q, fen, err)
	}
	// The order never shipped: every unit went back on sale.
	if st, res := pa.stockOf(sku); st != 10 || res != 0 || pa.soldOf(sku) != 0 {
		t.Fatalf("stock %d reserved %d sold %d", st, res, pa.soldOf(sku))
	}
	var list struct {
		Items []afterSalesAnswer `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/after-sales?status=refunded", Token: admin}).Decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("refunded requests %d", len(list.Items))
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE entity = 'after_sales'`); n != 4 {
		t.Fatalf("audit entries %d", n)
	}
	// Shoppers cannot decide their own requests.
	pa.must(403, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", a3.ID), Token: tok})
	pa.checkInvariants()
}

// TestRefundSettledInTheRefundsTransaction: a cashier.RefundSettled handler
// runs in the transaction that applies the refund's result, after
// after-sales has settled the request there (the pool does not see it yet);
// while it refuses, the result is rolled back (refund still processing,
// request still approved, nothing refunded), and the worker applies it
// once it stops.
func TestRefundSettledInTheRefundsTransaction(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	var refuse atomic.Bool
	type seen struct{ refund, inTx, outside string }
	var last atomic.Value
	pa.app.store.RefundSettled.On("probe", func(ctx context.Context, tx *storage.Tx, e cashier.RefundSettled) error {
		var s seen
		s.refund = string(e.Refund.Status)
		if err := tx.SQL().GetContext(ctx, &s.inTx, `SELECT status FROM after_sales_requests WHERE id = $1`, e.Refund.AfterSalesID); err != nil {
			return err
		}
		if err := pa.app.db.GetContext(ctx, &s.outside, `SELECT status FROM after_sales_requests WHERE id = $1`, e.Refund.AfterSalesID); err != nil {
			return err
		}
		last.Store(s)
		if refuse.Load() {
			return errRefused
		}
		return nil
	})
	itemID := pa.lostRefundNotice("settled", 2)

	refuse.Store(true)
	if n, err := pa.cashierAt(time.Minute).SyncRefunds(context.Background(), 10); err == nil || n != 0 {
		t.Fatalf("sync refunds while refused: %d, %v", n, err)
	}
	if s, _ := last.Load().(seen); s != (seen{refund: "succeeded", inTx: "refunded", outside: "approved"}) {
		t.Fatalf("the handler saw %+v", s)
	}
	if n := pa.count(`SELECT count(*) FROM refunds WHERE status = 'processing'`); n != 1 {
		t.Fatalf("processing refunds after a refusal %d", n)
	}
	if n := pa.count(`SELECT count(*) FROM after_sales_requests WHERE status = 'approved'`); n != 1 {
		t.Fatalf("approved requests after a refusal %d", n)
	}
	if n := pa.count(`SELECT refunded_quantity FROM order_items WHERE id = $1`, itemID); n != 0 {
		t.Fatalf("refunded units after a refusal %d", n)
	}

	refuse.Store(false)
	if n, err := pa.cashierAt(10*time.Minute).SyncRefunds(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("sync refunds: %d, %v", n, err)
	}
	if n := pa.count(`SELECT count(*) FROM after_sales_requests WHERE status = 'refunded'`); n != 1 {
		t.Fatalf("refunded requests %d", n)
	}
	if n := pa.count(`SELECT refunded_quantity FROM order_items WHERE id = $1`, itemID); n != 1 {
		t.Fatalf("refunded units %d", n)
	}
	pa.checkInvariants()
}

// lostRefundNotice has a shopper of qty units of a new SKU ask for one
// back; an admin approves; WeChat Pay (at speedup 1) answers "processing"
// and completes the refund, but its notification is lost: the refund stays
// processing here until the worker asks. It returns the order line.
func (pa *payApp) lostRefundNotice(shopper string, qty int) (itemID int64) {
	t := pa.t
	t.Helper()
	sku := pa.sku(10)
	tok, _ := pa.shopper(shopper)
	o := pa.placeOrder(tok, sku, qty)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	eventually(t, 5*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	_ = pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo)
	var a afterSalesAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/after-sales", Token: tok,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": 1}}, "reason": "broken"}}).Decode(t, &a)
	admin := pa.staff(identity.RoleAdmin, "")
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", a.ID), Token: admin}).Decode(t, &a)
	if a.Refund == nil || a.Refund.Status != "processing" {
		t.Fatalf("refund %+v", a.Refund)
	}
	no := a.Refund.OutRefundNo
	_ = pa.sim().InjectNotificationFault(no, wxpaysim.FaultDrop)
	eventually(t, 10*time.Second, "the simulator completes the refund", func() bool {
		return len(pa.sim().Deliveries()) >= 2 // payment, then the dropped refund notification
	})
	return itemID
}
