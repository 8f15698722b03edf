package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
)

// errRefused is what the test handlers refuse a change with.
var errRefused = domain.E(domain.KindConflict, "refused_by_test", "A test handler refused this change.")

// probe is a lifecycle handler for tests: it records each event with the
// order's status as its own transaction sees it and as the pool (other
// transactions) sees it, and refuses while refuse is set.
type probe struct {
	ta     *testApp
	refuse atomic.Bool
	mu     sync.Mutex
	seen   []probeSeen
}

type probeSeen struct {
	Event            order.Event
	InTx, OutsideTx  string // the order's status
	OutsideTxErrored bool
}

func newProbe(ta *testApp, moments ...order.Moment) *probe {
	p := &probe{ta: ta}
	for _, m := range moments {
		ta.app.store.Lifecycle.On(m, "probe", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
			var s probeSeen
			s.Event = e
			if err := tx.SQL().GetContext(ctx, &s.InTx, `SELECT status FROM orders WHERE id = $1`, e.OrderID); err != nil {
				return err
			}
			// Another connection sees only what is committed.
			if err := ta.app.db.GetContext(ctx, &s.OutsideTx, `SELECT status FROM orders WHERE id = $1`, e.OrderID); err != nil {
				s.OutsideTxErrored = true
			}
			p.mu.Lock()
			p.seen = append(p.seen, s)
			p.mu.Unlock()
			if p.refuse.Load() {
				return errRefused
			}
			return nil
		})
	}
	return p
}

func (p *probe) last(t *testing.T, m order.Moment) probeSeen {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.seen) - 1; i >= 0; i-- {
		if p.seen[i].Event.Moment == m {
			return p.seen[i]
		}
	}
	t.Fatalf("no %s event", m)
	return probeSeen{}
}

// refused sends r while the probe refuses: the change must be refused
// with the probe's error.
func (p *probe) refused(t *testing.T, r req) {
	t.Helper()
	p.refuse.Store(true)
	defer p.refuse.Store(false)
	if got := p.ta.do(r); got.Status != 409 || got.ErrCode(t) != "refused_by_test" {
		t.Fatalf("%s %s while refused: %d %s", r.Method, r.Path, got.Status, got.Body)
	}
}

func (p *probe) count(m order.Moment) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.seen {
		if s.Event.Moment == m {
			n++
		}
	}
	return n
}

func TestLifecyclePlacedAndCancelled(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	p := newProbe(pa.testApp, order.MomentPlaced, order.MomentCancelled)
	sku := pa.sku(10)
	tok, shopper := pa.shopper("lifecycle-placed")

	// Refused: nothing of the order is left, and its stock is back.
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 2}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}, "expected_payable_fen": 3000}
	p.refused(t, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": "refused-1"}})
	if s := p.last(t, order.MomentPlaced); !s.OutsideTxErrored || s.InTx != "pending_payment" || s.Event.ShopperID != shopper {
		t.Fatalf("placed handler saw %+v", s)
	}
	if n := pa.count(`SELECT count(*) FROM orders`); n != 0 {
		t.Fatalf("orders after a refused place: %d", n)
	}
	if st, res := pa.stockOf(sku); st != 10 || res != 0 {
		t.Fatalf("stock %d reserved %d after a refused place", st, res)
	}

	// Accepted: the handler ran inside the placing transaction.
	o := pa.placeOrder(tok, sku, 2)
	s := p.last(t, order.MomentPlaced)
	if s.Event.OrderNumber != o.OrderNo || s.InTx != "pending_payment" || !s.OutsideTxErrored || s.Event.Channel != order.ChannelOnline {
		t.Fatalf("placed handler saw %+v", s)
	}
	// It carries the order as written (handlers do not read it again):
	// the order's id and its line with the id the database gave it.
	if po := s.Event.Placed; po == nil || po.ID != s.Event.OrderID || po.Number != o.OrderNo || len(po.Items) != 1 ||
		po.Items[0].SKUID != sku || po.Items[0].Quantity != 2 || po.Items[0].ID == 0 ||
		pa.count(`SELECT count(*) FROM order_items WHERE id = $1 AND order_id = $2 AND sku_id = $3 AND quantity = 2`,
			po.Items[0].ID, po.ID, sku) != 1 {
		t.Fatalf("placed event's order %+v", s.Event.Placed)
	}

	// A refused cancel leaves the order pending with its stock held.
	cancel := req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok}
	p.refused(t, cancel)
	if c := p.last(t, order.MomentCancelled); c.InTx != "cancelled" || c.OutsideTx != "pending_payment" || c.Event.Cause != order.CauseShopper {
		t.Fatalf("cancelled handler saw %+v", c)
	}
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" {
		t.Fatalf("status after a refused cancel: %s", s)
	}
	if _, res := pa.stockOf(sku); res != 2 {
		t.Fatalf("reserved %d after a refused cancel", res)
	}
	pa.must(200, cancel)
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}

	// Expiry cancels through the same moment, with its own cause.
	o2 := pa.placeOrder(tok, sku, 1)
	if _, err := pa.app.db.Exec(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_no = $1`, o2.OrderNo); err != nil {
		t.Fatal(err)
	}
	p.refuse.Store(true)
	if _, err := pa.app.expireOrders(context.Background(), 10); !errors.Is(err, errRefused) {
		t.Fatalf("refused expiry: %v", err)
	}
	if s := pa.orderStatus(o2.OrderNo); s != "pending_payment" {
		t.Fatalf("status after a refused expiry: %s", s)
	}
	p.refuse.Store(false)
	if n, err := pa.app.expireOrders(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if c := p.last(t, order.MomentCancelled); c.Event.OrderNumber != o2.OrderNo || c.Event.Cause != order.CauseExpiry {
		t.Fatalf("expiry event %+v", c.Event)
	}
	pa.checkInvariants()
}

func TestLifecyclePaidAndCompleted(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	p := newProbe(pa.testApp, order.MomentPaid, order.MomentCompleted)
	sku := pa.sku(10)
	tok, _ := pa.shopper("lifecycle-paid")
	o := pa.placeOrder(tok, sku, 1)

	// A refused payment is not applied: WeChat Pay will tell us again.
	p.refuse.Store(true)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	eventually(t, 5*time.Second, "the paid handler runs", func() bool { return p.count(order.MomentPaid) > 0 })
	if s := p.last(t, order.MomentPaid); s.InTx != "paid" || s.OutsideTx != "pending_payment" || s.Event.Amount != domain.Fen(o.PayableFen) {
		t.Fatalf("paid handler saw %+v", s)
	}
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" || pa.payments(o.OrderNo) != 0 || pa.soldOf(sku) != 0 {
		t.Fatalf("after a refused payment: %s, %d payments, %d sold", s, pa.payments(o.OrderNo), pa.soldOf(sku))
	}
	// Once the handler accepts, WeChat Pay's retry or the reconciler
	// applies it.
	p.refuse.Store(false)
	eventually(t, 10*time.Second, "the payment is applied", func() bool {
		_, _ = pa.cashierAt(2*time.Minute).Reconcile(context.Background(), 10)
		return pa.orderStatus(o.OrderNo) == "paid"
	})
	if s := pa.orderStatus(o.OrderNo); s != "paid" || pa.soldOf(sku) != 1 || pa.payments(o.OrderNo) != 1 {
		t.Fatalf("after the payment: %s, sold %d", s, pa.soldOf(sku))
	}

	// Ship, then confirm: refused, then accepted.
	admin := pa.staff(identity.RoleOperator, "")
	pa.must(200, req{Method: "POST", Path: "/api/v1/admin/orders/" + o.OrderNo + "/ship", Token: admin,
		Body: map[string]any{"carrier": "SF", "tracking_no": "SF1234567"}})
	confirm := req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/confirm", Token: tok}
	p.refused(t, confirm)
	if c := p.last(t, order.MomentCompleted); c.InTx != "completed" || c.OutsideTx != "shipped" || c.Event.Cause != order.CauseConfirmed {
		t.Fatalf("completed handler saw %+v", c)
	}
	if s := pa.orderStatus(o.OrderNo); s != "shipped" {
		t.Fatalf("status after a refused confirm: %s", s)
	}
	pa.must(200, confirm)

	// Auto-confirmation completes through the same moment.
	o2 := pa.placeOrder(tok, sku, 1)
	pa.markPaid(o2.OrderNo)
	pa.must(200, req{Method: "POST", Path: "/api/v1/admin/orders/" + o2.OrderNo + "/ship", Token: admin,
		Body: map[string]any{"carrier": "SF", "tracking_no": "SF7654321"}})
	orders := *pa.app.svc.Orders
	orders.Now = func() time.Time { return time.Now().Add(11 * 24 * time.Hour) }
	p.refuse.Store(true)
	if _, err := orders.AutoConfirm(context.Background(), 10); !errors.Is(err, errRefused) {
		t.Fatalf("refused auto-confirm: %v", err)
	}
	if s := pa.orderStatus(o2.OrderNo); s != "shipped" {
		t.Fatalf("status after a refused auto-confirm: %s", s)
	}
	p.refuse.Store(false)
	if n, err := orders.AutoConfirm(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("auto-confirm: %d %v", n, err)
	}
	if c := p.last(t, order.MomentCompleted); c.Event.OrderNumber != o2.OrderNo || c.Event.Cause != order.CauseAutoConfirmed {
		t.Fatalf("auto-confirm event %+v", c.Event)
	}
	pa.checkInvariants()
}

// testTender is a tender of the test's own kind, standing in for stored
// value: a placed handler takes part of the payable from it.
const testTender order.TenderKind = "test_card"

// TestTwoTendersPaidAndPartlyRefunded: a placed handler settles 1,234 fen of
// the order with a test tender; WeChat Pay is asked only for the rest; a
// refund goes back to both tenders by order.SplitRefund, and the refunded
// handler is told each part.
func TestTwoTendersPaidAndPartlyRefunded(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	pa.app.store.Lifecycle.On(order.MomentPlaced, "test_card", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		_, err := tx.Orders().AddTender(ctx, e.OrderID, order.Tender{Kind: testTender, Ref: "card-" + e.OrderNumber, Amount: 1234}, e.At)
		return err
	})
	p := newProbe(pa.testApp, order.MomentRefunded)
	sku := pa.sku(10)
	tok, _ := pa.shopper("two-tenders")
	o := pa.placeOrder(tok, sku, 3) // 3 × 1000 + 1000 freight = 4000
	if o.PayableFen != 4000 {
		t.Fatalf("payable %d", o.PayableFen)
	}
	pa.pay(tok, o.OrderNo)
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Total != 4000-1234 {
		t.Fatalf("WeChat Pay was asked for %d, want %d", tr.Total, 4000-1234)
	}
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "paid" {
		t.Fatalf("status %s", s)
	}
	tenders := func() map[string][2]int64 {
		rows, err := pa.app.db.Query(`SELECT t.kind, t.amount_fen, t.refunded_fen FROM order_tenders t
JOIN orders o ON o.id = t.order_id WHERE o.order_no = $1`, o.OrderNo)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][2]int64{}
		for rows.Next() {
			var k string
			var a, r int64
			if err := rows.Scan(&k, &a, &r); err != nil {
				t.Fatal(err)
			}
			out[k] = [2]int64{a, r}
		}
		return out
	}
	if got := tenders(); got["test_card"] != [2]int64{1234, 0} || got["wechat_pay"] != [2]int64{2766, 0} {
		t.Fatalf("tenders %v", got)
	}
	pa.checkInvariants()

	var itemID int64
	if err := pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	admin := pa.staff(identity.RoleOperator, "")
	refund := func(qty int) string {
		var a afterSalesAnswer
		pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/after-sales", Token: tok,
			Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": qty}}, "reason": "不想要了"}}).Decode(t, &a)
		pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", a.ID), Token: admin,
			Body: map[string]any{"goods_returned": true}}).Decode(t, &a)
		no := a.Refund.OutRefundNo
		eventually(t, 5*time.Second, "refund "+no, func() bool {
			return pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, no) == 1
		})
		return no
	}
	// One unit, 1000 fen: the test card gets floor(1000 × 1234 / 4000) = 308,
	// WeChat Pay the other 692.
	no := refund(1)
	if got := tenders(); got["test_card"] != [2]int64{1234, 308} || got["wechat_pay"] != [2]int64{2766, 692} {
		t.Fatalf("tenders after the first refund %v", got)
	}
	if n := pa.count(`SELECT wechat_fen FROM refunds WHERE out_refund_no = $1`, no); n != 692 {
		t.Fatalf("refund through WeChat Pay %d", n)
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Refunded != 692 {
		t.Fatalf("simulator refunded %d", tr.Refunded)
	}
	e := p.last(t, order.MomentRefunded).Event
	parts := map[order.TenderKind]domain.Fen{}
	for _, tp := range e.Tenders {
		parts[tp.Kind] += tp.Amount
	}
	if e.Amount != 1000 || len(e.Lines) != 1 || e.Lines[0].Amount != 1000 || parts[testTender] != 308 || parts[order.TenderWeChatPay] != 692 {
		t.Fatalf("refunded event %+v", e)
	}
	pa.checkInvariants()

	// The rest, with the freight (nothing shipped): every tender whole.
	refund(2)
	if got := tenders(); got["test_card"] != [2]int64{1234, 1234} || got["wechat_pay"] != [2]int64{2766, 2766} {
		t.Fatalf("tenders after the full refund %v", got)
	}
	pa.checkInvariants()
}

// TestInStoreWalkInPaidByNativeQR: an in-store order without a shopper is
// placed for a store and clerk, paid by a Native QR attempt at the
// simulator, and completes at once (no shipping).
func TestInStoreWalkInPaidByNativeQR(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	p := newProbe(pa.testApp, order.MomentPlaced, order.MomentPaid, order.MomentCompleted)
	sku := pa.sku(10)
	pa.staff(identity.RoleClerk, "SH-TEST")
	var storeID, clerkID int64
	if err := pa.app.db.QueryRow(`SELECT s.id, st.id FROM stores s JOIN staff st ON st.store_id = s.id WHERE s.code = 'SH-TEST'`).
		Scan(&storeID, &clerkID); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := order.PlaceInput{Channel: order.ChannelInStore, StoreID: storeID, ClerkID: clerkID,
		Items: []order.LineRequest{{SKUID: sku, Quantity: 2}}, Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentInStore},
		IdempotencyKey: "walk-in-1"}
	o, err := pa.app.svc.Orders.Place(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if o.ShopperID != 0 || o.Channel != order.ChannelInStore || o.Payable != 2000 || o.Freight != 0 || o.Items[0].ID == 0 {
		t.Fatalf("in-store order %+v", o)
	}
	if again, err := pa.app.svc.Orders.Place(ctx, in); err != nil || again.Number != o.Number {
		t.Fatalf("replay: %v %v", again.Number, err)
	}
	if e := p.last(t, order.MomentPlaced).Event; e.ShopperID != 0 || e.StoreID != storeID || e.ClerkID != clerkID {
		t.Fatalf("placed event %+v", e)
	}
	// Another store cannot collect it; a walk-in cannot be sent a JSAPI payment.
	if _, err := pa.app.svc.Cashier.Collect(ctx, storeID+1000, o.Number); !errors.Is(err, cashier.ErrNotInStore) {
		t.Fatalf("collect from another store: %v", err)
	}
	if _, err := pa.app.svc.Cashier.Pay(ctx, 1, o.Number); err == nil {
		t.Fatal("a shopper paid a walk-in's order")
	}
	a, err := pa.app.svc.Cashier.Collect(ctx, storeID, o.Number)
	if err != nil || a.CodeURL == "" || a.TradeType != cashier.TradeNative || a.Amount != 2000 {
		t.Fatalf("collect: %+v %v", a, err)
	}
	if again, err := pa.app.svc.Cashier.Collect(ctx, storeID, o.Number); err != nil || again.CodeURL != a.CodeURL || again.OutTradeNo != a.OutTradeNo {
		t.Fatalf("collect again: %+v %v", again, err)
	}
	// The customer scans the code and pays.
	if err := pa.sim().Pay(a.OutTradeNo, ""); err != nil {
		t.Fatal(err)
	}
	pa.waitIdle()
	if s := pa.orderStatus(o.Number); s != "completed" {
		t.Fatalf("status %s", s)
	}
	if e := p.last(t, order.MomentCompleted).Event; e.Cause != order.CausePaidInStore || e.OrderNumber != o.Number {
		t.Fatalf("completed event %+v", e)
	}
	if e := p.last(t, order.MomentPaid).Event; e.Amount != 2000 || e.ShopperID != 0 {
		t.Fatalf("paid event %+v", e)
	}
	if n := pa.count(`SELECT count(*) FROM order_tenders t JOIN orders o ON o.id = t.order_id
WHERE o.order_no = $1 AND t.kind = 'wechat_pay' AND t.amount_fen = 2000`, o.Number); n != 1 || pa.soldOf(sku) != 2 {
		t.Fatalf("tenders %d, sold %d", n, pa.soldOf(sku))
	}
	pa.checkInvariants()
}

// TestInStoreMemberJSAPIAndNativeCoexist: a member's in-store order is
// pushed to their mini-program (JSAPI) and shown as a QR (Native) at once;
// the QR is paid, and the worker closes the JSAPI trade at WeChat Pay.
func TestInStoreMemberJSAPIAndNativeCoexist(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, member := pa.shopper("in-store-member")
	pa.staff(identity.RoleClerk, "SH-TWO")
	var storeID, clerkID int64
	if err := pa.app.db.QueryRow(`SELECT s.id, st.id FROM stores s JOIN staff st ON st.store_id = s.id WHERE s.code = 'SH-TWO'`).
		Scan(&storeID, &clerkID); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := pa.app.svc.Orders.Place(ctx, order.PlaceInput{Channel: order.ChannelInStore, StoreID: storeID, ClerkID: clerkID,
		ShopperID: member, Items: []order.LineRequest{{SKUID: sku, Quantity: 1}},
		Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentInStore}, IdempotencyKey: "member-1"})
	if err != nil {
		t.Fatal(err)
	}
	// The member sees it among their orders and can pay it in the mini-program.
	pa.seesInStore(tok, o.Number)
	pa.pay(tok, o.Number)
	a, err := pa.app.svc.Cashier.Collect(ctx, storeID, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts WHERE status = 'open'`); n != 2 {
		t.Fatalf("open attempts %d", n)
	}
	if err := pa.sim().Pay(a.OutTradeNo, ""); err != nil {
		t.Fatal(err)
	}
	pa.waitIdle()
	if s := pa.orderStatus(o.Number); s != "completed" {
		t.Fatalf("status %s", s)
	}
	if _, err := pa.app.expireOrders(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if tr, _ := pa.sim().Trade(o.Number + "-1"); tr.State != "CLOSED" {
		t.Fatalf("the JSAPI trade is %s", tr.State)
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts WHERE status = 'open'`); n != 0 {
		t.Fatalf("open attempts %d", n)
	}
	pa.checkInvariants()
}

// The order POST /shop/orders answers carries its real line ids, the ones
// GET answers and after-sales requests name, and its adjustments by source.
func TestPlacedOrderAnswersRealLineIDs(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	skus := pa.orderSKUs(2, 10)
	tok, _ := pa.shopper("line-ids")
	body := map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 2}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}}
	type line struct {
		ID          int64             `json:"id"`
		SKUID       int64             `json:"sku_id"`
		DiscountFen int64             `json:"discount_fen"`
		Adjustments []json.RawMessage `json:"adjustments"`
	}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	body["expected_payable_fen"] = q.PayableFen
	var placed, got struct {
		OrderNo   string `json:"order_no"`
		Items     []line `json:"items"`
		Discounts []any  `json:"discounts"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": "line-ids-1"}}).Decode(t, &placed)
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + placed.OrderNo, Token: tok}).Decode(t, &got)
	if len(placed.Items) != 2 || len(got.Items) != 2 || placed.Discounts == nil {
		t.Fatalf("placed %+v, got %+v", placed, got)
	}
	for i := range placed.Items {
		if placed.Items[i].ID == 0 || placed.Items[i].ID != got.Items[i].ID || placed.Items[i].SKUID != got.Items[i].SKUID ||
			placed.Items[i].Adjustments == nil {
			t.Fatalf("line %d: placed %+v, got %+v", i, placed.Items[i], got.Items[i])
		}
	}
}

// TestLifecycleLinesRefundedRefused: a handler of the lines-refunded moment
// runs in the transaction that applies the refund's success (it sees the
// line refunded there, and not from outside), and while it refuses the
// refund is not applied: WeChat Pay's notice is answered with a failure and
// the line stays unrefunded; once it accepts, the refund lands.
func TestLifecycleLinesRefundedRefused(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	var refuse atomic.Bool
	type seen struct{ inTx, outside int64 }
	var mu sync.Mutex
	var got []seen
	pa.app.store.Lifecycle.On(order.MomentRefunded, "probe", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		if len(e.Lines) != 1 {
			return fmt.Errorf("refunded event with %d lines", len(e.Lines))
		}
		var s seen
		q := `SELECT refunded_fen FROM order_items WHERE id = $1`
		if err := tx.SQL().GetContext(ctx, &s.inTx, q, e.Lines[0].ItemID); err != nil {
			return err
		}
		if err := pa.app.db.GetContext(ctx, &s.outside, q, e.Lines[0].ItemID); err != nil {
			return err
		}
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		if refuse.Load() {
			return errRefused
		}
		return nil
	})
	sku := pa.sku(10)
	tok, _ := pa.shopper("lifecycle-refunded")
	o := pa.placeOrder(tok, sku, 2)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	var itemID int64
	if err := pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	admin := pa.staff(identity.RoleOperator, "")
	var as afterSalesAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/after-sales", Token: tok,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": 1}}, "reason": "不想要了"}}).Decode(t, &as)
	refuse.Store(true)
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", as.ID), Token: admin,
		Body: map[string]any{"goods_returned": true}}).Decode(t, &as)
	no := as.Refund.OutRefundNo
	eventually(t, 10*time.Second, "the refunded handler runs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	first := got[0]
	mu.Unlock()
	if first.inTx != 1000 || first.outside != 0 {
		t.Fatalf("the handler saw the line refunded %d in its transaction, %d outside; want 1000, 0", first.inTx, first.outside)
	}
	if n := pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, no); n != 0 {
		t.Fatal("a refused refund was applied")
	}
	if n := pa.count(`SELECT refunded_fen FROM order_items WHERE id = $1`, itemID); n != 0 {
		t.Fatalf("line refunded %d while refused", n)
	}
	refuse.Store(false)
	eventually(t, 15*time.Second, "the refund is applied", func() bool {
		_, _ = pa.cashierAt(time.Hour).SyncRefunds(context.Background(), 10)
		return pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, no) == 1
	})
	if n := pa.count(`SELECT refunded_fen FROM order_items WHERE id = $1`, itemID); n != 1000 {
		t.Fatalf("line refunded %d", n)
	}
	pa.checkInvariants()
}
