package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

// productOf returns the product and category of a SKU.
func (ta *testApp) productOf(sku int64) (prod, cat int64) {
	ta.t.Helper()
	if err := ta.app.db.QueryRow(`SELECT p.id, p.category_id FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id = $1`, sku).
		Scan(&prod, &cat); err != nil {
		ta.t.Fatal(err)
	}
	return
}

// template creates an active coupon template over HTTP and returns its id.
func (ta *testApp) template(admin string, body map[string]any) int64 {
	ta.t.Helper()
	if _, ok := body["status"]; !ok {
		body["status"] = "active"
	}
	if _, ok := body["valid_days"]; !ok {
		body["valid_days"] = 7
	}
	var t struct {
		ID int64 `json:"id"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/coupon-templates", Token: admin, Body: body}).Decode(ta.t, &t)
	return t.ID
}

func (ta *testApp) claim(tok string, template int64) int64 {
	ta.t.Helper()
	var c struct {
		ID int64 `json:"id"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/coupons/claim", Token: tok, Body: map[string]any{"template_id": template}}).Decode(ta.t, &c)
	return c.ID
}

// myCoupons returns the ids of the shopper's coupons in a status.
func (ta *testApp) myCoupons(tok, status string) []int64 {
	ta.t.Helper()
	var l struct {
		Items []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/coupons?status=" + status, Token: tok}).Decode(ta.t, &l)
	var ids []int64
	for _, c := range l.Items {
		if c.Status != status {
			ta.t.Fatalf("coupon %d listed under %s is %s", c.ID, status, c.Status)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

type previewAnswer struct {
	PayableFen int64 `json:"payable_fen"`
	Lines      []struct {
		Adjustments []struct {
			Source    string `json:"source"`
			SourceID  int64  `json:"source_id"`
			AmountFen int64  `json:"amount_fen"`
		} `json:"adjustments"`
	} `json:"lines"`
	Coupons struct {
		Usable []struct {
			CouponID    int64 `json:"coupon_id"`
			DiscountFen int64 `json:"discount_fen"`
		} `json:"usable"`
		Unusable []struct {
			CouponID int64  `json:"coupon_id"`
			Reason   string `json:"reason"`
			Message  string `json:"message"`
			ShortFen int64  `json:"short_fen"`
		} `json:"unusable"`
		BestCouponIDs  []int64 `json:"best_coupon_ids"`
		BestPayableFen int64   `json:"best_payable_fen"`
	} `json:"coupons"`
}

// A coupon claimed in the coupon centre is offered at checkout with the
// ones that do not apply and why, used on an order whose payable (the
// preview's) is what WeChat Pay is asked for, locked while the order is
// unpaid, returned when it is cancelled, and used again.
func TestCouponEndToEnd(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	skus := pa.orderSKUs(2, 10) // 1000 and 2000 fen
	prod, cat := pa.productOf(skus[0])
	merch := pa.staff(identity.RoleMerchandiser, "")
	tok, _ := pa.shopper("coupon-alice")
	addr := pa.address(tok)

	off := pa.template(merch, map[string]any{"name": "满30减5", "kind": "amount_off", "threshold_fen": 3000, "amount_off_fen": 500,
		"scope": map[string]any{"kind": "products", "ids": []int64{prod}}, "total": 10, "per_shopper": 2})
	pct := pa.template(merch, map[string]any{"name": "8折 cap 3", "kind": "percent_off", "percent_off_bp": 2000, "max_off_fen": 300,
		"scope": map[string]any{"kind": "categories", "ids": []int64{cat}}, "total": 10})
	big := pa.template(merch, map[string]any{"name": "满100减20", "kind": "amount_off", "threshold_fen": 10000, "amount_off_fen": 2000, "total": 10})
	excl := pa.template(merch, map[string]any{"name": "not this tea", "kind": "no_threshold", "amount_off_fen": 100,
		"scope": map[string]any{"kind": "all", "excluded_product_ids": []int64{prod}}, "total": 10})
	draft := pa.template(merch, map[string]any{"name": "draft", "kind": "no_threshold", "amount_off_fen": 100, "total": 10, "status": "draft"})

	// The coupon centre lists the active ones; a draft cannot be claimed.
	centre := pa.must(200, req{Method: "GET", Path: "/api/v1/shop/coupon-center", Token: tok}).JSON(t)
	if n := len(centre["items"].([]any)); n != 4 {
		t.Fatalf("coupon centre lists %d templates: %v", n, centre)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/coupons/claim", Token: tok, Body: map[string]any{"template_id": draft}}); r.Status != 404 {
		t.Fatalf("claim a draft: %d %s", r.Status, r.Body)
	}
	cOff, cPct, cBig, cExcl := pa.claim(tok, off), pa.claim(tok, pct), pa.claim(tok, big), pa.claim(tok, excl)

	body := map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": addr}}
	var q previewAnswer
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	if q.PayableFen != 4000 || len(q.Coupons.Usable) != 2 || q.Coupons.Usable[0].CouponID != cOff || q.Coupons.Usable[0].DiscountFen != 500 ||
		q.Coupons.Usable[1].CouponID != cPct || q.Coupons.Usable[1].DiscountFen != 300 {
		t.Fatalf("preview without coupons: %+v", q)
	}
	if len(q.Coupons.BestCouponIDs) != 1 || q.Coupons.BestCouponIDs[0] != cOff || q.Coupons.BestPayableFen != 3500 {
		t.Fatalf("best choice: %+v", q.Coupons)
	}
	why := map[int64]string{}
	for _, u := range q.Coupons.Unusable {
		why[u.CouponID] = u.Reason
		if u.CouponID == cBig && (u.ShortFen != 7000 || u.Message == "") {
			t.Fatalf("below threshold says by how much: %+v", u)
		}
	}
	if why[cBig] != "coupon_below_threshold" || why[cExcl] != "coupon_out_of_scope" || len(why) != 2 {
		t.Fatalf("unusable coupons: %+v", q.Coupons.Unusable)
	}
	// Placing with a coupon that does not apply says why.
	body["coupon_ids"] = []int64{cBig}
	body["expected_payable_fen"] = 4000
	r := pa.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "big"}})
	if r.Status != 409 || r.ErrCode(t) != "coupon_not_applicable" ||
		r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)["reason"] != "coupon_below_threshold" {
		t.Fatalf("coupon below threshold: %d %s", r.Status, r.Body)
	}

	// The preview with the best coupon is what the order costs and what
	// WeChat Pay is asked for.
	body["coupon_ids"] = []int64{cOff}
	delete(body, "expected_payable_fen")
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	if q.PayableFen != 3500 {
		t.Fatalf("preview with the coupon: %d", q.PayableFen)
	}
	body["expected_payable_fen"] = q.PayableFen
	var o1 orderAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "o1"}}).Decode(t, &o1)
	if o1.PayableFen != 3500 {
		t.Fatalf("placed at %d", o1.PayableFen)
	}
	if got := pa.myCoupons(tok, "locked"); len(got) != 1 || got[0] != cOff {
		t.Fatalf("locked coupons: %v", got)
	}
	var redemption int64
	if err := pa.app.db.Get(&redemption, `SELECT r.id FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id
WHERE o.order_no = $1 AND r.coupon_id = $2 AND r.status = 'locked'`, o1.OrderNo, cOff); err != nil {
		t.Fatal(err)
	}
	got := pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + o1.OrderNo, Token: tok}).JSON(t)
	var named int64
	for _, d := range got["discounts"].([]any) {
		d := d.(map[string]any)
		if d["source"] == "coupon" && int64(d["ref"].(float64)) == redemption {
			named += int64(d["amount_fen"].(float64))
		}
	}
	if named != 500 {
		t.Fatalf("the order's coupon adjustments do not name redemption %d: %v", redemption, got["discounts"])
	}
	// A locked coupon cannot go on a second order.
	r = pa.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "o1b"}})
	if r.Status != 404 || r.ErrCode(t) != "coupon_not_found" {
		t.Fatalf("the same coupon on a second order: %d %s", r.Status, r.Body)
	}

	// Cancelled: the coupon comes back, and pays for another order.
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o1.OrderNo + "/cancel", Token: tok})
	if got := pa.myCoupons(tok, "usable"); len(got) != 4 {
		t.Fatalf("usable after cancel: %v", got)
	}
	var o2 orderAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "o2"}}).Decode(t, &o2)
	pa.pay(tok, o2.OrderNo)
	trade, ok := pa.sim().Trade(o2.OrderNo + "-1")
	if !ok || trade.Total != q.PayableFen {
		t.Fatalf("WeChat Pay was asked for %d, the preview said %d", trade.Total, q.PayableFen)
	}
	pa.shopperPays(o2.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o2.OrderNo); s != "paid" {
		t.Fatalf("status %s", s)
	}
	if got := pa.myCoupons(tok, "used"); len(got) != 1 || got[0] != cOff {
		t.Fatalf("used coupons: %v", got)
	}
	pa.checkInvariants()
}

// A coupon returned by a cancelled order after its validity ended is
// expired, not usable; a new-customers coupon cannot be used after a first
// paid order, and the preview says so.
func TestCouponReturnedExpiredAndAudience(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(1, 10)
	merch := ta.staff(identity.RoleMerchandiser, "")
	tok, sid := ta.shopper("coupon-bob")
	addr := ta.address(tok)
	tpl := ta.template(merch, map[string]any{"name": "new", "kind": "no_threshold", "amount_off_fen": 100, "total": 5, "per_shopper": 3, "audience": "new_customers"})
	c1 := ta.claim(tok, tpl)
	body := map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 1}}, "coupon_ids": []int64{c1},
		"fulfillment": map[string]any{"type": "delivery", "address_id": addr}, "expected_payable_fen": 1900}
	var o orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "a"}}).Decode(t, &o)
	// The coupon's validity ends while the order waits; cancelling returns it expired.
	if _, err := ta.app.db.Exec(`UPDATE coupons SET valid_until = now() - interval '1 minute', valid_from = now() - interval '1 day' WHERE id = $1`, c1); err != nil {
		t.Fatal(err)
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok})
	if got := ta.myCoupons(tok, "expired"); len(got) != 1 || got[0] != c1 {
		t.Fatalf("expired: %v", got)
	}
	// After a paid order the shopper is no longer a new customer.
	c2 := ta.claim(tok, tpl)
	// (a stand-in for a paid order: the cancelled one, marked paid at some point)
	if _, err := ta.app.db.Exec(`UPDATE orders SET paid_at = now() WHERE order_no = $1 AND shopper_id = $2`, o.OrderNo, sid); err != nil {
		t.Fatal(err)
	}
	delete(body, "coupon_ids")
	var q previewAnswer
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	if len(q.Coupons.Unusable) != 1 || q.Coupons.Unusable[0].CouponID != c2 || q.Coupons.Unusable[0].Reason != "coupon_audience" {
		t.Fatalf("audience: %+v", q.Coupons)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/coupons/claim", Token: tok, Body: map[string]any{"template_id": tpl}}); r.Status != 403 || r.ErrCode(t) != "coupon_audience" {
		t.Fatalf("claim when no longer new: %d %s", r.Status, r.Body)
	}
}

// shoppers inserts n shoppers and returns their ids.
func (ta *testApp) shoppers(n int) []int64 {
	ta.t.Helper()
	var ids []int64
	if err := ta.app.db.Select(&ids, `INSERT INTO shoppers (openid) SELECT 'bulk-' || g || '-' || md5(random()::text) FROM generate_series(1, $1) g RETURNING id`, n); err != nil {
		ta.t.Fatal(err)
	}
	return ids
}

func (ta *testApp) activeTemplate(total, perShopper int) coupon.Template {
	ta.t.Helper()
	t, err := ta.app.svc.Coupons.CreateTemplate(context.Background(), domain.System, "", coupon.Template{Name: "hot",
		Kind: pricing.CouponNoThreshold, AmountOff: 100, ValidDays: 7, Total: total, PerShopper: perShopper, Claimable: true,
		Status: coupon.StatusActive})
	if err != nil {
		ta.t.Fatal(err)
	}
	return t
}

// parallel runs fn(i) for i in [0, n) at once and counts the errors by code.
func parallel(n int, fn func(i int) error) map[string]int {
	var mu sync.Mutex
	out := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			code := "ok"
			if de, ok := domain.AsError(err); ok {
				code = de.Code
			} else if err != nil {
				code = err.Error()
			}
			mu.Lock()
			out[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// 1,000 shoppers claim a 100-coupon template at once: exactly 100 are
// issued. One shopper claims 20 times at once with a limit of 2: exactly 2.
func TestCouponClaimsUnderConcurrency(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := context.Background()
	hot := ta.activeTemplate(100, 1)
	ids := ta.shoppers(1000)
	got := parallel(len(ids), func(i int) error {
		_, err := ta.app.svc.Coupons.Claim(ctx, ids[i], hot.ID)
		return err
	})
	if got["ok"] != 100 || got["coupon_sold_out"] != 900 {
		t.Fatalf("1000 claims of 100: %v", got)
	}
	limited := ta.activeTemplate(1000, 2)
	got = parallel(20, func(int) error {
		_, err := ta.app.svc.Coupons.Claim(ctx, ids[0], limited.ID)
		return err
	})
	if got["ok"] != 2 || got["coupon_limit_reached"] != 18 {
		t.Fatalf("20 claims with a limit of 2: %v", got)
	}
	var n int
	if err := ta.app.db.Get(&n, `SELECT count(*) FROM coupons WHERE template_id = $1`, hot.ID); err != nil || n != 100 {
		t.Fatalf("%d coupons (%v)", n, err)
	}
	ta.checkInvariants()
}

// flashSale starts a running flash sale of one SKU.
func (ta *testApp) flashSale(sku int64, price domain.Fen, allotment, limit int) campaign.Campaign {
	ta.t.Helper()
	now := time.Now()
	c, err := ta.app.svc.Campaigns.Create(context.Background(), domain.System, "", campaign.Campaign{Kind: campaign.KindFlashSale,
		Name: "秒杀", Status: campaign.StatusScheduled, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour),
		PerShopperLimit: limit, SKUs: []campaign.SKU{{SKUID: sku, Price: price, Allotment: allotment}}})
	if err != nil {
		ta.t.Fatal(err)
	}
	if _, err := ta.app.svc.Campaigns.Advance(context.Background(), 10); err != nil {
		ta.t.Fatal(err)
	}
	return c
}

func (ta *testApp) pickupStore() int64 {
	ta.t.Helper()
	var id int64
	if err := ta.app.db.Get(&id, `INSERT INTO stores (code, name) VALUES ('FLASH', 'Flash') RETURNING id`); err != nil {
		ta.t.Fatal(err)
	}
	return id
}

// 500 buyers at once, allotment 20: exactly 20 units sell at the campaign
// price; the others are told the price sold out or pay the list price.
// A buyer with a limit of 1 ordering twice at once gets one.
func TestFlashSaleUnderConcurrency(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := context.Background()
	sku := ta.orderSKUs(1, 1000)[0] // 1000 fen, 1000 in stock
	camp := ta.flashSale(sku, 100, 20, 1)
	store := ta.pickupStore()
	ids := ta.shoppers(500)
	campaignPrice := domain.Fen(100)
	got := parallel(len(ids), func(i int) error {
		_, err := ta.app.svc.Orders.Place(ctx, order.PlaceInput{ShopperID: ids[i], Items: []order.LineRequest{{SKUID: sku, Quantity: 1}},
			Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: store}, ExpectedPayable: &campaignPrice,
			IdempotencyKey: fmt.Sprintf("flash-%d", i)})
		return err
	})
	if got["ok"] != 20 || got["ok"]+got["campaign_sold_out"]+got["price_changed"] != 500 {
		t.Fatalf("500 buyers, allotment 20: %v", got)
	}
	var sold int
	if err := ta.app.db.Get(&sold, `SELECT COALESCE(sum(i.quantity), 0) FROM order_items i JOIN order_adjustments a ON a.item_id = i.id
WHERE a.source = 'campaign' AND a.source_id = $1`, camp.ID); err != nil || sold != 20 {
		t.Fatalf("%d campaign-priced units (%v)", sold, err)
	}
	// The allotment is gone: the product shows no running campaign price left, and the price is the list price.
	q, err := ta.app.svc.Orders.Preview(ctx, order.PlaceInput{ShopperID: ids[0], Items: []order.LineRequest{{SKUID: sku, Quantity: 1}},
		Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: store}})
	if err != nil || q.Breakdown.Payable != 1000 {
		t.Fatalf("after the allotment: %v %v", q.Breakdown.Payable, err)
	}

	// A limit of 1: two orders at once, one gets the campaign price.
	c2 := ta.flashSale(ta.orderSKUs(1, 100)[0], 100, 50, 1)
	buyer := ids[499]
	var ok atomic.Int64
	got = parallel(10, func(i int) error {
		_, err := ta.app.svc.Orders.Place(ctx, order.PlaceInput{ShopperID: buyer, Items: []order.LineRequest{{SKUID: c2.SKUs[0].SKUID, Quantity: 1}},
			Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: store}, ExpectedPayable: &campaignPrice,
			IdempotencyKey: fmt.Sprintf("limit-%d", i)})
		if err == nil {
			ok.Add(1)
		}
		return err
	})
	if got["ok"] != 1 {
		t.Fatalf("limit 1, ten at once: %v", got)
	}
	// Buying two at once over the limit is refused with the reason.
	_, err = ta.app.svc.Orders.Preview(ctx, order.PlaceInput{ShopperID: ids[1], Items: []order.LineRequest{{SKUID: c2.SKUs[0].SKUID, Quantity: 2}},
		Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: store}})
	if !errors.Is(err, order.ErrCampaignLimit) {
		t.Fatalf("two over a limit of one: %v", err)
	}
	ta.checkInvariants()
}
