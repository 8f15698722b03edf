package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/payment"
)

// memberCard is GET /shop/member.
type memberCard struct {
	CardNo string `json:"card_no"`
	Tier   struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		DiscountBP int64  `json:"discount_bp"`
	} `json:"tier"`
	Growth       int64 `json:"growth"`
	Points       int64 `json:"points"`
	PointsFrozen int64 `json:"points_frozen"`
	PointsDebt   int64 `json:"points_debt"`
	BalanceFen   int64 `json:"balance_fen"`
	PrincipalFen int64 `json:"principal_fen"`
	BonusFen     int64 `json:"bonus_fen"`
	NextTier     *struct {
		Name string `json:"name"`
	} `json:"next_tier"`
	GrowthToNext int64 `json:"growth_to_next"`
}

// member signs a shopper in, binds their phone and activates their card
// over HTTP; it returns the token and the shopper id.
func (pa *payApp) member(code string) (string, int64) {
	pa.t.Helper()
	tok, id := pa.shopper(code)
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/session/phone", Token: tok, Body: map[string]string{"code": "p-" + code}})
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/activate", Token: tok, Body: map[string]string{"birthday": "1990-05-20"}})
	return tok, id
}

func (pa *payApp) card(tok string) memberCard {
	pa.t.Helper()
	var c memberCard
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member", Token: tok}).Decode(pa.t, &c)
	return c
}

// memberSvc is the membership service with its clock at now.
func (pa *payApp) memberSvc(now time.Time) *member.Service {
	s := *pa.app.svc.Members
	s.Now = func() time.Time { return now }
	return &s
}

// itemOf returns the id of the order's first line.
func (pa *payApp) itemOf(no string) int64 {
	pa.t.Helper()
	var id int64
	if err := pa.app.db.Get(&id, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1 ORDER BY i.id LIMIT 1`, no); err != nil {
		pa.t.Fatal(err)
	}
	return id
}

// refund asks for and approves a refund of qty units of a line, and waits
// until it succeeded.
func (pa *payApp) refund(tok, admin, no string, itemID int64, qty int) {
	pa.t.Helper()
	var a afterSalesAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + no + "/after-sales", Token: tok,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": qty}}, "reason": "不想要了"}}).Decode(pa.t, &a)
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", a.ID), Token: admin,
		Body: map[string]any{"goods_returned": true}}).Decode(pa.t, &a)
	eventually(pa.t, 10*time.Second, "refund "+a.Refund.OutRefundNo, func() bool {
		return pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, a.Refund.OutRefundNo) == 1
	})
}

// placeWith places a delivery order of qty units of sku, with extra body
// fields (points, balance_fen), at the payable its preview showed.
func (pa *payApp) placeWith(tok string, sku int64, qty int, extra map[string]any) orderAnswer {
	pa.t.Helper()
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": qty}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}}
	for k, v := range extra {
		body[k] = v
	}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(pa.t, &q)
	body["expected_payable_fen"] = q.PayableFen
	var o orderAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": fmt.Sprintf("k-%d", time.Now().UnixNano())}}).Decode(pa.t, &o)
	return o
}

func (pa *payApp) payWeChat(tok, no string) {
	pa.t.Helper()
	pa.pay(tok, no)
	pa.shopperPays(no)
	eventually(pa.t, 10*time.Second, "order "+no+" paid", func() bool { return pa.orderStatus(no) == "paid" })
}

func (pa *payApp) sql(q string, args ...any) {
	pa.t.Helper()
	if _, err := pa.app.db.Exec(q, args...); err != nil {
		pa.t.Fatal(err)
	}
}

// TestMemberPointsEarnRefundReverseDebt: payment earns points on the goods
// (not freight); a partial refund reverses them pro rata; a reversal beyond
// the card's points becomes debt, which a later credit pays first.
func TestMemberPointsEarnRefundReverseDebt(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	pa.sql(`UPDATE member_settings SET points_per_yuan = 10`)
	sku := pa.sku(10)
	tok, shopper := pa.member("points-earn")
	o := pa.placeOrder(tok, sku, 3) // 3000 goods + 1000 freight
	pa.payWeChat(tok, o.OrderNo)
	if c := pa.card(tok); c.Points != 300 || c.Growth != 30 {
		t.Fatalf("after paying 3000 fen of goods: %+v", c)
	}
	pa.checkInvariants()

	admin := pa.staff(identity.RoleOperator, "")
	item := pa.itemOf(o.OrderNo)
	pa.refund(tok, admin, o.OrderNo, item, 1) // 1000 of 3000: 100 points back
	if c := pa.card(tok); c.Points != 200 || c.PointsDebt != 0 || c.Growth != 20 {
		t.Fatalf("after refunding one unit: %+v", c)
	}
	pa.checkInvariants()

	// Spend most of them by hand, then refund another unit: the reversal
	// takes the 50 left and records 50 as debt.
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": -150, "reason": "兑换礼品"}})
	pa.refund(tok, admin, o.OrderNo, item, 1)
	if c := pa.card(tok); c.Points != 0 || c.PointsDebt != 50 {
		t.Fatalf("after the reversal beyond the balance: %+v", c)
	}
	pa.checkInvariants()
	// A credit pays the debt first.
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": 80, "reason": "补偿"}})
	if c := pa.card(tok); c.Points != 30 || c.PointsDebt != 0 {
		t.Fatalf("after a credit of 80 against a debt of 50: %+v", c)
	}
	// An adjustment without a reason is refused; so is taking more than
	// the card holds.
	if r := pa.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": 5}}); r.Status != 400 {
		t.Fatalf("adjustment without reason: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": -31, "reason": "x"}}); r.ErrCode(t) != "insufficient_points" {
		t.Fatalf("taking too many: %d %s", r.Status, r.Body)
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'member_points.adjust'`); n != 2 {
		t.Fatalf("audited adjustments: %d", n)
	}
	var l struct {
		Items []struct {
			Kind   string `json:"kind"`
			Points int64  `json:"points"`
			Debt   int64  `json:"debt"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/ledger?kind=points&limit=3", Token: tok}).Decode(t, &l)
	if len(l.Items) != 3 || l.NextCursor == "" || l.Items[0].Kind != "repay" || l.Items[1].Kind != "adjust" || l.Items[2].Debt != 50 {
		t.Fatalf("ledger page %+v", l)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/ledger?kind=points&limit=3&cursor=" + l.NextCursor, Token: tok}).Decode(t, &l)
	if len(l.Items) != 3 || l.NextCursor != "" || l.Items[2].Kind != "earn" || l.Items[2].Points != 300 {
		t.Fatalf("ledger second page %+v", l)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/shop/member/ledger?kind=stars", Token: tok}); r.Status != 400 {
		t.Fatalf("bad ledger kind: %d", r.Status)
	}
	pa.checkInvariants()
}

// TestMemberRedeemCancelReturn: points offered at checkout pay a capped
// share of the goods, are frozen when the order is placed (its points
// adjustment names the ledger entry) and come back when it is cancelled.
func TestMemberRedeemCancelReturn(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, shopper := pa.member("points-redeem")
	admin := pa.staff(identity.RoleOperator, "")
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/members/%d/points-adjustments", shopper), Token: admin,
		Body: map[string]any{"points": 1500, "reason": "开卡礼"}})

	// More than held: refused at the preview.
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 2}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}, "points": 2000}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}); r.ErrCode(t) != "insufficient_points" {
		t.Fatalf("preview with too many points: %d %s", r.Status, r.Body)
	}
	// 1200 offered on 2000 fen of goods: capped at half, 1000 points used.
	o := pa.placeWith(tok, sku, 2, map[string]any{"points": 1200})
	if o.PayableFen != 2000 { // 2000 − 1000 + 1000 freight
		t.Fatalf("payable %d", o.PayableFen)
	}
	if c := pa.card(tok); c.Points != 500 || c.PointsFrozen != 1000 {
		t.Fatalf("after placing: %+v", c)
	}
	if n := pa.count(`SELECT count(*) FROM order_adjustments a JOIN member_points_entries e ON e.id = a.source_id
WHERE a.source = 'points' AND e.kind = 'redeem' AND a.item_id = e.item_id AND -e.points = a.amount_fen`); n != 1 {
		t.Fatalf("points adjustments naming their redeem entry: %d", n)
	}
	pa.checkInvariants()
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok})
	if c := pa.card(tok); c.Points != 1500 || c.PointsFrozen != 0 {
		t.Fatalf("after cancelling: %+v", c)
	}
	pa.checkInvariants()

	// Redeemed and paid: frozen points are spent; a refund of half the line
	// returns half of them; earning counts the goods actually paid.
	o = pa.placeWith(tok, sku, 2, map[string]any{"points": 600})
	pa.payWeChat(tok, o.OrderNo)
	if c := pa.card(tok); c.Points != 900+14 || c.PointsFrozen != 0 { // 1400 fen of goods paid: 14 points
		t.Fatalf("after paying: %+v", c)
	}
	pa.refund(tok, admin, o.OrderNo, pa.itemOf(o.OrderNo), 1)
	if c := pa.card(tok); c.Points != 914+300-7 {
		t.Fatalf("after refunding half: %+v", c)
	}
	pa.checkInvariants()
}

// TestMemberStoredValueMixedPayment is the end-to-end path over HTTP:
// activate, top up through the simulator (a replayed notification credits
// once), pay an order half by stored value and half by WeChat Pay, refund
// one line (each part back to its source: principal and bonus apart), read
// the ledgers; `check` holds throughout. An order paid by stored value
// alone needs no WeChat Pay attempt.
func TestMemberStoredValueMixedPayment(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	ops := pa.staff(identity.RoleOperator, "")
	var pkg struct {
		ID int64 `json:"id"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/topup-packages", Token: ops,
		Body: map[string]any{"name": "充18送2", "pay_fen": 1800, "bonus_fen": 200}}).Decode(t, &pkg)
	tok, _ := pa.shopper("stored-value")
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/member/activate", Token: tok, Body: map[string]any{}}); r.ErrCode(t) != "phone_required" {
		t.Fatalf("activate without phone: %d %s", r.Status, r.Body)
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/session/phone", Token: tok, Body: map[string]string{"code": "sv"}})
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/activate", Token: tok, Body: map[string]any{}})
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/member/activate", Token: tok, Body: map[string]any{}}) // the same card again

	var pk struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/topup-packages", Token: tok}).Decode(t, &pk)
	if len(pk.Items) != 1 || pk.Items[0].ID != pkg.ID {
		t.Fatalf("packages %+v", pk)
	}
	var tu struct {
		OutTradeNo     string `json:"out_trade_no"`
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/topups", Token: tok, Body: map[string]any{"package_id": pkg.ID}}).Decode(t, &tu)
	if tu.RequestPayment.Package == "" || tu.OutTradeNo[:2] != "TU" {
		t.Fatalf("top-up %+v", tu)
	}
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/trades/" + tu.OutTradeNo + "/pay"})
	eventually(t, 10*time.Second, "the top-up credited", func() bool { return pa.card(tok).BalanceFen == 2000 })
	// The same notification again (WeChat Pay retries): credited once.
	tr, err := pa.app.pay.gw.QueryByOutTradeNo(context.Background(), tu.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		out, err := pa.app.svc.Cashier.HandlePaymentNotice(context.Background(),
			payment.PaymentNotice{EventID: "replay", EventType: payment.EventTransactionSuccess, Transaction: tr})
		if err != nil || out != cashier.OutcomeDuplicate {
			t.Fatalf("replayed top-up notification: %s %v", out, err)
		}
	}
	if c := pa.card(tok); c.PrincipalFen != 1800 || c.BonusFen != 200 {
		t.Fatalf("after the top-up and its replay: %+v", c)
	}
	pa.checkInvariants()

	// 3 × 1000 + 1000 freight = 4000: 2000 by stored value (principal
	// first: 1800 principal, 200 bonus), 2000 through WeChat Pay.
	o := pa.placeWith(tok, sku, 3, map[string]any{"balance_fen": 2000})
	pa.pay(tok, o.OrderNo)
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Total != 2000 {
		t.Fatalf("WeChat Pay asked for %d", tr.Total)
	}
	pa.shopperPays(o.OrderNo)
	eventually(t, 10*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	if c := pa.card(tok); c.BalanceFen != 0 || c.Points != 30 {
		t.Fatalf("after paying: %+v", c)
	}
	pa.checkInvariants()

	// One unit (1000): stored value gets 500 back — 50 of it bonus
	// (200 × 500 / 2000), 450 principal — and WeChat Pay 500.
	pa.refund(tok, ops, o.OrderNo, pa.itemOf(o.OrderNo), 1)
	if c := pa.card(tok); c.PrincipalFen != 450 || c.BonusFen != 50 || c.Points != 20 {
		t.Fatalf("after the refund: %+v", c)
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Refunded != 500 {
		t.Fatalf("WeChat Pay refunded %d", tr.Refunded)
	}
	var l struct {
		Items []struct {
			Kind         string `json:"kind"`
			AmountFen    int64  `json:"amount_fen"`
			PrincipalFen int64  `json:"principal_fen"`
			BonusFen     int64  `json:"bonus_fen"`
			OrderNo      string `json:"order_no"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/ledger?kind=balance", Token: tok}).Decode(t, &l)
	if len(l.Items) != 3 || l.Items[0].Kind != "refund" || l.Items[0].BonusFen != 50 || l.Items[1].Kind != "spend" ||
		l.Items[1].AmountFen != -2000 || l.Items[1].OrderNo != o.OrderNo || l.Items[2].Kind != "topup" || l.Items[2].PrincipalFen != 1800 {
		t.Fatalf("balance ledger %+v", l)
	}
	pa.checkInvariants()

	// More than the card holds: the placement is refused.
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": pa.address(tok)}, "balance_fen": 2000,
		"expected_payable_fen": 2000}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": "too-much"}}); r.ErrCode(t) != "insufficient_balance" {
		t.Fatalf("an offer beyond the balance: %d %s", r.Status, r.Body)
	}
	// Stored value alone (a second top-up; the offer is capped at the
	// payable): nothing due through WeChat Pay, paid at /pay without an
	// attempt, principal first.
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/topups", Token: tok, Body: map[string]any{"package_id": pkg.ID}}).Decode(t, &tu)
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/trades/" + tu.OutTradeNo + "/pay"})
	eventually(t, 10*time.Second, "the second top-up credited", func() bool { return pa.card(tok).BalanceFen == 2500 })
	o = pa.placeWith(tok, sku, 1, map[string]any{"balance_fen": 100000})
	var paid struct {
		Paid    bool   `json:"paid"`
		Package string `json:"package"`
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: tok}).Decode(t, &paid)
	if !paid.Paid || paid.Package != "" || pa.orderStatus(o.OrderNo) != "paid" {
		t.Fatalf("paid by stored value alone: %+v, status %s", paid, pa.orderStatus(o.OrderNo))
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts a JOIN orders o ON o.id = a.order_id WHERE o.order_no = $1`, o.OrderNo); n != 0 {
		t.Fatalf("attempts of a stored-value order: %d", n)
	}
	if c := pa.card(tok); c.PrincipalFen != 250 || c.BonusFen != 250 || c.Points != 30 {
		t.Fatalf("after paying by stored value alone: %+v", c)
	}
	pa.checkInvariants()
	// Its refund goes back to the card alone: no WeChat Pay refund.
	var itemID int64
	if err := pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	admin := pa.staff(identity.RoleOperator, "")
	var as struct {
		ID     int64 `json:"id"`
		Refund *struct {
			OutRefundNo string `json:"out_refund_no"`
			AmountFen   int64  `json:"amount_fen"`
		} `json:"refund"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/after-sales", Token: tok,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": 1}}, "reason": "不想要了"}}).Decode(t, &as)
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", as.ID), Token: admin,
		Body: map[string]any{"goods_returned": true}}).Decode(t, &as)
	if as.Refund == nil || as.Refund.AmountFen == 0 {
		t.Fatalf("approval %+v", as)
	}
	if n := pa.count(`SELECT count(*) FROM refunds WHERE out_refund_no = $1 AND status = 'succeeded' AND payment_id IS NULL AND wechat_fen = 0`,
		as.Refund.OutRefundNo); n != 1 {
		t.Fatalf("stored-value refund not completed at once")
	}
	if c := pa.card(tok); c.PrincipalFen+c.BonusFen != 2500 {
		t.Fatalf("after the refund the card holds %d principal + %d bonus, want 2500", c.PrincipalFen, c.BonusFen)
	}
	pa.checkInvariants()
}

// TestMemberTiersUpgradeAndReview: growth reaching a tier's threshold
// exactly upgrades at once (its discount prices the next checkout); the
// yearly review keeps a tier earned in the period and downgrades one that
// was not.
func TestMemberTiersUpgradeAndReview(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	ops := pa.staff(identity.RoleOperator, "")
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/member-tiers", Token: ops,
		Body: map[string]any{"name": "银卡", "threshold": 30, "discount_bp": 500, "points_multiplier_bp": 20000}})
	if r := pa.do(req{Method: "POST", Path: "/api/v1/admin/member-tiers", Token: ops,
		Body: map[string]any{"name": "x", "threshold": -1}}); r.Status != 400 {
		t.Fatalf("bad tier: %d", r.Status)
	}
	tok, _ := pa.member("tiers")
	o := pa.placeOrder(tok, sku, 2)
	pa.payWeChat(tok, o.OrderNo)
	c := pa.card(tok)
	if c.Growth != 20 || c.Tier.Name != "普通会员" || c.NextTier == nil || c.NextTier.Name != "银卡" || c.GrowthToNext != 10 {
		t.Fatalf("at growth 20: %+v", c)
	}
	o = pa.placeOrder(tok, sku, 1)
	pa.payWeChat(tok, o.OrderNo)
	if c = pa.card(tok); c.Growth != 30 || c.Tier.Name != "银卡" || c.NextTier != nil {
		t.Fatalf("at growth 30 (the threshold): %+v", c)
	}
	// The silver discount prices the next order: 5% off 1000.
	o = pa.placeOrder(tok, sku, 1)
	if o.PayableFen != 950+1000 {
		t.Fatalf("payable as silver: %d", o.PayableFen)
	}
	// Product detail shows a member their price.
	var prod struct {
		SKUs []struct {
			ID             int64  `json:"id"`
			MemberPriceFen *int64 `json:"member_price_fen"`
		} `json:"skus"`
	}
	productID := pa.count(`SELECT product_id FROM skus WHERE id = $1`, sku)
	pa.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", productID), Token: tok}).Decode(t, &prod)
	if len(prod.SKUs) != 1 || prod.SKUs[0].MemberPriceFen == nil || *prod.SKUs[0].MemberPriceFen != 950 {
		t.Fatalf("product detail for a silver member: %+v", prod)
	}
	if r := pa.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", productID)}); bytes.Contains(r.Body, []byte("member_price_fen")) {
		t.Fatalf("an anonymous visitor sees a member price")
	}
	// And the product list too (the lowest member price of its SKUs).
	var list struct {
		Items []struct {
			ID             int64  `json:"id"`
			MemberPriceFen *int64 `json:"member_price_fen"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/products?limit=100", Token: tok}).Decode(t, &list)
	found := false
	for _, it := range list.Items {
		if it.ID == int64(productID) {
			found = it.MemberPriceFen != nil && *it.MemberPriceFen == 950
		}
	}
	if !found {
		t.Fatalf("product list for a silver member: %+v", list)
	}
	if r := pa.must(200, req{Method: "GET", Path: "/api/v1/shop/products?limit=100"}); bytes.Contains(r.Body, []byte("member_price_fen")) {
		t.Fatalf("an anonymous visitor sees a member price in the list")
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'member_tier.create'`); n != 1 {
		t.Fatalf("tier audit %d", n)
	}
	pa.checkInvariants()

	ctx := context.Background()
	// Not due yet.
	if n, err := pa.memberSvc(time.Now().AddDate(0, 11, 0)).ReviewTiers(ctx, 10); err != nil || n != 0 {
		t.Fatalf("early review: %d %v", n, err)
	}
	// A year on: 30 growth in the period keeps silver; growth restarts.
	year1 := time.Now().AddDate(1, 0, 1)
	if n, err := pa.memberSvc(year1).ReviewTiers(ctx, 10); err != nil || n != 1 {
		t.Fatalf("review: %d %v", n, err)
	}
	if c = pa.card(tok); c.Tier.Name != "银卡" || c.Growth != 0 {
		t.Fatalf("after the first review: %+v", c)
	}
	// Another year without growth: back to the base tier.
	if n, err := pa.memberSvc(year1.AddDate(1, 0, 1)).ReviewTiers(ctx, 10); err != nil || n != 1 {
		t.Fatalf("second review: %d %v", n, err)
	}
	if c = pa.card(tok); c.Tier.Name != "普通会员" {
		t.Fatalf("after the second review: %+v", c)
	}
	pa.checkInvariants()
}

// TestMemberPointsExpiry: points earned in a year expire at the end of the
// next year (Asia/Shanghai), first in first out, exactly once.
func TestMemberPointsExpiry(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	_, shopper := pa.member("expiry")
	ctx := context.Background()
	at := func(s string) time.Time {
		x, err := time.ParseInLocation(time.DateTime, s, domain.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	adjust := func(when string, n int64) {
		if _, err := pa.memberSvc(at(when)).AdjustPoints(ctx, domain.System, "", shopper, n, "test"); err != nil {
			t.Fatal(err)
		}
	}
	points := func() int64 { return int64(pa.count(`SELECT points FROM member_cards WHERE shopper_id = $1`, shopper)) }
	adjust("2024-06-01 12:00:00", 100)
	adjust("2025-03-01 12:00:00", 50)
	adjust("2025-04-01 12:00:00", -30) // spends 2024's first
	// The last second of 2025: nothing of 2024 has expired yet.
	if _, err := pa.memberSvc(at("2025-12-31 23:59:59")).ExpirePoints(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if p := points(); p != 120 {
		t.Fatalf("before the boundary: %d", p)
	}
	// The first second of 2026: 2024's 70 left expire.
	if n, err := pa.memberSvc(at("2026-01-01 00:00:00")).ExpirePoints(ctx, 10); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if p := points(); p != 50 {
		t.Fatalf("after 2024 expired: %d", p)
	}
	// Again: exactly once.
	if n, err := pa.memberSvc(at("2026-01-02 00:00:00")).ExpirePoints(ctx, 10); err != nil || n != 0 || points() != 50 {
		t.Fatalf("re-run: %d %v %d", n, err, points())
	}
	// 2025's 50 go at the start of 2027.
	if _, err := pa.memberSvc(at("2027-01-01 00:00:00")).ExpirePoints(ctx, 10); err != nil || points() != 0 {
		t.Fatalf("2025 expired: %v %d", err, points())
	}
	pa.checkInvariants()
}

// TestMemberCode: a member code resolves once for a clerk (masked name and
// phone), is refused when used, expired or forged.
func TestMemberCode(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	tok, _ := pa.member("code")
	clerk := pa.staff(identity.RoleClerk, "SH-CODE")
	var code struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/code", Token: tok}).Decode(t, &code)
	if len(code.Code) != 18 || code.Code == pa.card(tok).CardNo || time.Until(code.ExpiresAt) > 61*time.Second {
		t.Fatalf("code %+v", code)
	}
	var l struct {
		CardNo string `json:"card_no"`
		Phone  string `json:"phone"`
		Points int64  `json:"points"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/members/lookup?code=" + code.Code, Token: clerk}).Decode(t, &l)
	if l.CardNo != pa.card(tok).CardNo || len(l.Phone) != 11 || l.Phone[3:7] != "****" {
		t.Fatalf("lookup %+v", l)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/members/lookup?code=" + code.Code, Token: clerk}); r.Status != 409 || r.ErrCode(t) != "member_code_used" {
		t.Fatalf("replayed code: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/members/lookup?code=660000000000000000", Token: clerk}); r.Status != 404 || r.ErrCode(t) != "member_code_invalid" {
		t.Fatalf("forged code: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/members/lookup?code=" + code.Code, Token: tok}); r.Status != 401 && r.Status != 403 {
		t.Fatalf("a shopper looking up: %d", r.Status)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/code", Token: tok}).Decode(t, &code)
	_, err := pa.memberSvc(time.Now().Add(61*time.Second)).LookUp(context.Background(), domain.System, code.Code)
	if !errors.Is(err, member.ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
}
