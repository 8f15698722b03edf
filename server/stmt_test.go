package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/payment"
)

// TestPaidMomentCarriesTheLines: applying a payment records its WeChat Pay
// tender and its notification's log row with the move to paid (one
// statement) and raises the paid moment
// with the lines and redeemed points read under the order's lock, which
// membership uses instead of reading the order: a card holder's two-line
// order paid partly with points unfreezes exactly the points it redeemed
// and earns on each line's paid amount exactly once, however often WeChat
// Pay repeats the notification; one tender settles what WeChat Pay took,
// and `check` holds.
func TestPaidMomentCarriesTheLines(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	pa.sql(`UPDATE member_settings SET points_per_yuan = 10`)
	a, b := pa.sku(10), pa.sku(10)
	tok, shopper := pa.member("paid-lines")
	admin := pa.staff(identity.RoleOperator, "")
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": 1000, "reason": "开卡礼"}})

	// 2 × a + 1 × b = 3000 fen of goods; 900 points take 900 fen off.
	body := map[string]any{"items": []map[string]any{{"sku_id": a, "quantity": 2}, {"sku_id": b, "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}, "points": 900}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	body["expected_payable_fen"] = q.PayableFen
	var o orderAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": "paid-lines-1"}}).Decode(t, &o)
	if o.PayableFen != 3000-900+1000 {
		t.Fatalf("payable %d, want 3100", o.PayableFen)
	}
	if c := pa.card(tok); c.Points != 100 || c.PointsFrozen != 900 {
		t.Fatalf("after placing: %+v", c)
	}
	pa.payWeChat(tok, o.OrderNo)

	// The same notification twice more: nothing is applied again.
	tr, err := pa.app.pay.gw.QueryByOutTradeNo(context.Background(), o.OrderNo+"-1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		out, err := pa.app.svc.Cashier.HandlePaymentNotice(context.Background(),
			payment.PaymentNotice{EventID: fmt.Sprintf("replay-%d", i), EventType: payment.EventTransactionSuccess, Transaction: tr})
		if err != nil || out != cashier.OutcomeDuplicate {
			t.Fatalf("replayed notification %d: %s %v", i, out, err)
		}
	}

	// The notification log: the applying one once (written with the move to
	// paid), then the two replays.
	var notes []string
	if err := pa.app.db.Select(&notes, `SELECT outcome FROM payment_notifications WHERE out_no = $1 ORDER BY id`, o.OrderNo+"-1"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(notes) != "[applied duplicate duplicate]" {
		t.Fatalf("notification log %v, want [applied duplicate duplicate]", notes)
	}

	// Each line earns 10 points a yuan of what was paid for it, once.
	var lines []struct {
		ItemID int64 `db:"id"`
		Paid   int64 `db:"paid_fen"`
		Earned int64 `db:"earned"`
		N      int   `db:"n"`
	}
	if err := pa.app.db.Select(&lines, `
SELECT i.id, i.paid_fen, COALESCE(sum(e.points), 0) AS earned, count(e.id) AS n
FROM order_items i JOIN orders o ON o.id = i.order_id
LEFT JOIN member_points_entries e ON e.item_id = i.id AND e.kind = 'earn'
WHERE o.order_no = $1 GROUP BY i.id, i.paid_fen ORDER BY i.id`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	var paid, earned int64
	for _, l := range lines {
		if l.N != 1 || l.Earned != l.Paid/10 {
			t.Fatalf("line %d paid %d: %d earn entries for %d points, want 1 for %d", l.ItemID, l.Paid, l.N, l.Earned, l.Paid/10)
		}
		paid, earned = paid+l.Paid, earned+l.Earned
	}
	if len(lines) != 2 || paid != 2100 {
		t.Fatalf("%d lines paying %d, want 2 paying 2100", len(lines), paid)
	}
	if c := pa.card(tok); c.Points != 100+earned || c.PointsFrozen != 0 || c.Growth == 0 {
		t.Fatalf("after paying: %+v, want %d points, none frozen", c, 100+earned)
	}
	if n := pa.count(`SELECT count(*) FROM member_growth_entries g JOIN orders o ON o.id = g.order_id
WHERE o.order_no = $1 AND g.kind = 'earn'`, o.OrderNo); n != 2 {
		t.Fatalf("%d growth entries, want one a line", n)
	}
	// One WeChat Pay tender, for what WeChat Pay took: the whole payable.
	if n := pa.count(`SELECT count(*) FROM order_tenders t JOIN orders o ON o.id = t.order_id
WHERE o.order_no = $1 AND t.kind = 'wechat_pay' AND t.ref = $2 AND t.amount_fen = o.payable_fen`, o.OrderNo, tr.TransactionID); n != 1 {
		t.Fatalf("%d matching WeChat Pay tenders, want 1", n)
	}
	if n := pa.count(`SELECT count(*) FROM order_tenders t JOIN orders o ON o.id = t.order_id WHERE o.order_no = $1`, o.OrderNo); n != 1 {
		t.Fatalf("%d tenders, want 1", n)
	}
	pa.checkInvariants()
}

// TestKOCCategoryRateFromThePaidMoment: the KOC programme accrues from the
// paid moment's lines without reading the order, so each line must carry
// its product's category: a level's category rate (and a product rate
// beating it) applies to the credited amount as when the order was read.
func TestKOCCategoryRateFromThePaidMoment(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	cat := int64(w.count(`SELECT category_id FROM products WHERE id = $1`, w.prod))
	w.must(204, req{Method: "PUT", Path: fmt.Sprintf("/api/v1/admin/koc-levels/%d/rates", w.level), Token: w.admin,
		Body: map[string]any{"category_id": cat, "rate_bp": 1500}})
	_, k, code := w.join("koc-cat", 0)
	buyer, _ := w.shopper("cat-buyer")
	w.touch(buyer, code, time.Hour)
	w.buy(buyer, 2) // 2000 fen of goods at the category's 15 %
	if got := w.koc(k); got.PendingFen != 300 {
		t.Fatalf("after an order in the rated category: %+v, want 300 pending", got)
	}
	w.must(204, req{Method: "PUT", Path: fmt.Sprintf("/api/v1/admin/koc-levels/%d/rates", w.level), Token: w.admin,
		Body: map[string]any{"product_id": w.prod, "rate_bp": 500}})
	w.buy(buyer, 1) // 1000 fen at the product's 5 %
	if got := w.koc(k); got.PendingFen != 350 {
		t.Fatalf("after an order of the rated product: %+v, want 350 pending", got)
	}
	w.checkInvariants()
}
