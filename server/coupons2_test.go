package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

type campaignAnswer struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Name   string `json:"name"`
	SKUs   []struct {
		SKUID     int64 `json:"sku_id"`
		PriceFen  int64 `json:"price_fen"`
		Allotment int   `json:"allotment"`
		Taken     int   `json:"taken"`
	} `json:"skus"`
}

type campaignPrices struct {
	Running []struct {
		CampaignID int64     `json:"campaign_id"`
		SKUID      int64     `json:"sku_id"`
		PriceFen   int64     `json:"price_fen"`
		Left       int       `json:"left"`
		StartsAt   time.Time `json:"starts_at"`
	} `json:"running"`
	Upcoming []struct {
		CampaignID int64     `json:"campaign_id"`
		SKUID      int64     `json:"sku_id"`
		PriceFen   int64     `json:"price_fen"`
		StartsAt   time.Time `json:"starts_at"`
	} `json:"upcoming"`
}

// campaignOf returns the campaign section of a product's detail and of its
// entry in the product list (nil when absent).
func (ta *testApp) campaignOf(prod int64) (detail, listed *campaignPrices) {
	ta.t.Helper()
	var d struct {
		Campaign *campaignPrices `json:"campaign"`
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", prod)}).Decode(ta.t, &d)
	var l struct {
		Items []struct {
			ID       int64           `json:"id"`
			Campaign *campaignPrices `json:"campaign"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?limit=100"}).Decode(ta.t, &l)
	found := false
	for _, it := range l.Items {
		if it.ID == prod {
			listed, found = it.Campaign, true
		}
	}
	if !found {
		ta.t.Fatalf("product %d not in the list", prod)
	}
	return d.Campaign, listed
}

func (ta *testApp) campaignStatus(tok string, id int64, status string) campaignAnswer {
	ta.t.Helper()
	var c campaignAnswer
	ta.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d/status", id), Token: tok,
		Body: map[string]any{"status": status}}).Decode(ta.t, &c)
	return c
}

// A flash sale run entirely over HTTP: a merchandiser creates and starts it,
// the product shows the campaign price, one buyer is refused a second unit
// over their limit, and 200 shoppers (32 at a time) rush the rest of an
// allotment of 20: exactly 20 units sell at the campaign price, never two
// to one shopper.
func TestFlashSaleOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	sku := ta.orderSKUs(1, 1000)[0] // 1000 fen, 1000 in stock
	prod, _ := ta.productOf(sku)
	store := ta.pickupStore()
	merch := ta.staff(identity.RoleMerchandiser, "")

	now := time.Now()
	var c campaignAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/campaigns", Token: merch, Body: map[string]any{
		"kind": "flash_sale", "name": "秒杀 龙井", "starts_at": now.Add(-time.Minute), "ends_at": now.Add(time.Hour),
		"per_shopper_limit": 1, "skus": []map[string]any{{"sku_id": sku, "price_fen": 100, "allotment": 20}}}}).Decode(t, &c)
	if c.Status != "draft" {
		t.Fatalf("created %+v", c)
	}
	if got := ta.campaignStatus(merch, c.ID, "scheduled"); got.Status != "running" {
		t.Fatalf("scheduled after its start: %s", got.Status)
	}
	detail, _ := ta.campaignOf(prod)
	if detail == nil || len(detail.Running) != 1 || detail.Running[0].PriceFen != 100 || detail.Running[0].Left != 20 {
		t.Fatalf("detail campaign: %+v", detail)
	}

	body := func(qty int) map[string]any {
		return map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": qty}},
			"fulfillment": map[string]any{"type": "pickup", "store_id": store}, "expected_payable_fen": 100 * qty}
	}
	place := func(tok string, key string, b map[string]any) resp {
		return ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: b,
			Header: map[string]string{"Idempotency-Key": key}})
	}
	// A first buyer takes one; a second over the limit of one is refused with the reason.
	first, _ := ta.shopper("flash-first")
	if r := place(first, "first-1", body(1)); r.Status != 201 {
		t.Fatalf("first buyer: %d %s", r.Status, r.Body)
	}
	if r := place(first, "first-2", body(1)); r.Status != 409 || r.ErrCode(t) != "campaign_limit_reached" {
		t.Fatalf("over the limit: %d %s", r.Status, r.Body)
	}
	second, _ := ta.shopper("flash-second")
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: second, Body: body(2)}); r.Status != 409 || r.ErrCode(t) != "campaign_limit_reached" {
		t.Fatalf("two at a limit of one: %d %s", r.Status, r.Body)
	}

	// 200 shoppers sign in and order at once, 32 requests in flight.
	const buyers, workers = 200, 32
	toks := make([]string, buyers)
	codes := map[string]int{}
	var mu sync.Mutex
	run := func(fn func(i int) string) {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					code := fn(i)
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}
			}()
		}
		for i := range buyers {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	}
	run(func(i int) string {
		r := ta.do(req{Method: "POST", Path: "/api/v1/shop/session", Body: map[string]string{"code": "flash-" + strconv.Itoa(i)}})
		var s struct {
			Token string `json:"token"`
		}
		if r.Status != 200 {
			return "session-" + strconv.Itoa(r.Status)
		}
		r.Decode(t, &s)
		toks[i] = s.Token
		return "session"
	})
	if codes["session"] != buyers {
		t.Fatalf("sessions: %v", codes)
	}
	codes = map[string]int{}
	run(func(i int) string {
		r := place(toks[i], fmt.Sprintf("rush-%d", i), body(1))
		switch {
		case r.Status == 201:
			return "ok"
		case r.Status >= 500:
			return "5xx: " + string(r.Body)
		}
		return r.ErrCode(t)
	})
	if codes["ok"] != 19 || codes["ok"]+codes["campaign_sold_out"]+codes["price_changed"] != buyers {
		t.Fatalf("%d buyers for the 19 left: %v", buyers, codes)
	}

	var sold, most int
	if err := ta.app.db.Get(&sold, `SELECT COALESCE(sum(i.quantity), 0) FROM order_items i JOIN order_adjustments a ON a.item_id = i.id
WHERE a.source = 'campaign' AND a.source_id = $1`, c.ID); err != nil || sold != 20 {
		t.Fatalf("%d campaign-priced units (%v)", sold, err)
	}
	if err := ta.app.db.Get(&most, `SELECT COALESCE(max(n), 0) FROM (SELECT sum(i.quantity) n FROM order_items i
JOIN order_adjustments a ON a.item_id = i.id JOIN orders o ON o.id = i.order_id
WHERE a.source = 'campaign' AND a.source_id = $1 GROUP BY o.shopper_id) x`, c.ID); err != nil || most != 1 {
		t.Fatalf("a shopper holds %d campaign units (%v)", most, err)
	}
	var got campaignAnswer
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d", c.ID), Token: merch}).Decode(t, &got)
	if got.SKUs[0].Taken != 20 || got.SKUs[0].Allotment != 20 {
		t.Fatalf("campaign after the rush: %+v", got)
	}
	if detail, _ := ta.campaignOf(prod); detail == nil || len(detail.Running) != 1 || detail.Running[0].Left != 0 {
		t.Fatalf("detail after the rush: %+v", detail)
	}
	ta.checkInvariants()
}

// Campaigns over HTTP: create, read, list, edit, schedule (upcoming on the
// product list and detail with its start), the worker starting and ending
// them on time (a moved clock), pause, resume and end early.
func TestCampaignLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := context.Background()
	skus := ta.orderSKUs(2, 100) // 1000 and 2000 fen
	prod, _ := ta.productOf(skus[0])
	merch := ta.staff(identity.RoleMerchandiser, "")
	ops := ta.staff(identity.RoleOperator, "")

	now := time.Now().Truncate(time.Second)
	start, end := now.Add(time.Hour), now.Add(2*time.Hour)
	newSale := func(name string) campaignAnswer {
		var c campaignAnswer
		ta.must(201, req{Method: "POST", Path: "/api/v1/admin/campaigns", Token: merch, Body: map[string]any{
			"kind": "flash_sale", "name": name, "starts_at": start, "ends_at": end, "per_shopper_limit": 2,
			"skus": []map[string]any{{"sku_id": skus[0], "price_fen": 500, "allotment": 10}}}}).Decode(t, &c)
		return c
	}
	a := newSale("618 预热")
	if a.Status != "draft" || len(a.SKUs) != 1 || a.SKUs[0].PriceFen != 500 {
		t.Fatalf("created %+v", a)
	}
	// Operators read but do not write; bad input is a 400.
	ta.must(403, req{Method: "POST", Path: "/api/v1/admin/campaigns", Token: ops, Body: map[string]any{"kind": "flash_sale"}})
	if r := ta.do(req{Method: "POST", Path: "/api/v1/admin/campaigns", Token: merch, Body: map[string]any{
		"kind": "flash_sale", "name": "backwards", "starts_at": end, "ends_at": start}}); r.Status != 400 {
		t.Fatalf("ends before it starts: %d %s", r.Status, r.Body)
	}
	var got campaignAnswer
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d", a.ID), Token: ops}).Decode(t, &got)
	if got.ID != a.ID || got.Name != "618 预热" {
		t.Fatalf("get %+v", got)
	}
	var list struct {
		Items []campaignAnswer `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/campaigns?status=draft", Token: ops}).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != a.ID {
		t.Fatalf("drafts %+v", list.Items)
	}
	ta.must(400, req{Method: "GET", Path: "/api/v1/admin/campaigns?status=nonsense", Token: ops})
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d", a.ID), Token: merch, Body: map[string]any{
		"name": "618 秒杀", "skus": []map[string]any{{"sku_id": skus[0], "price_fen": 400, "allotment": 10}}}}).Decode(t, &got)
	if got.Name != "618 秒杀" || got.SKUs[0].PriceFen != 400 {
		t.Fatalf("patched %+v", got)
	}
	// A draft is not shown to shoppers.
	if d, l := ta.campaignOf(prod); d != nil || l != nil {
		t.Fatalf("draft shown: %+v %+v", d, l)
	}
	// Only schedule, pause and end are an admin's to set.
	if r := ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d/status", a.ID), Token: merch,
		Body: map[string]any{"status": "running"}}); r.Status != 409 || r.ErrCode(t) != "invalid_status_change" {
		t.Fatalf("draft to running: %d %s", r.Status, r.Body)
	}
	if got = ta.campaignStatus(merch, a.ID, "scheduled"); got.Status != "scheduled" {
		t.Fatalf("scheduled: %s", got.Status)
	}
	d, l := ta.campaignOf(prod)
	for _, cp := range []*campaignPrices{d, l} {
		if cp == nil || len(cp.Running) != 0 || len(cp.Upcoming) != 1 || cp.Upcoming[0].PriceFen != 400 ||
			!cp.Upcoming[0].StartsAt.Equal(start) || cp.Upcoming[0].SKUID != skus[0] {
			t.Fatalf("upcoming: %+v", cp)
		}
	}
	b := newSale("双11")
	ta.campaignStatus(merch, b.ID, "scheduled")

	// The worker moves both on time: nothing before the start, running
	// after it, ended after the end.
	svc := ta.app.svc.Campaigns
	at := start.Add(-time.Second)
	svc.Now = func() time.Time { return at }
	if n, err := svc.Advance(ctx, 100); err != nil || n != 0 {
		t.Fatalf("before the start: %d %v", n, err)
	}
	at = start
	if n, err := svc.Advance(ctx, 100); err != nil || n != 2 {
		t.Fatalf("at the start: %d %v", n, err)
	}
	d, l = ta.campaignOf(prod)
	for _, cp := range []*campaignPrices{d, l} {
		if cp == nil || len(cp.Running) != 2 || len(cp.Upcoming) != 0 || cp.Running[0].PriceFen != 400 || cp.Running[0].Left != 10 {
			t.Fatalf("running: %+v", cp)
		}
	}

	// Pause a: it leaves the product; resume it: running again at once.
	if got = ta.campaignStatus(merch, a.ID, "paused"); got.Status != "paused" {
		t.Fatalf("paused: %s", got.Status)
	}
	if d, _ = ta.campaignOf(prod); d == nil || len(d.Running) != 1 || d.Running[0].CampaignID != b.ID {
		t.Fatalf("while a is paused: %+v", d)
	}
	if got = ta.campaignStatus(merch, a.ID, "scheduled"); got.Status != "running" {
		t.Fatalf("resumed: %s", got.Status)
	}
	// End a early: gone from the product, and it cannot be edited or restarted.
	if got = ta.campaignStatus(merch, a.ID, "ended"); got.Status != "ended" {
		t.Fatalf("ended: %s", got.Status)
	}
	if d, _ = ta.campaignOf(prod); d == nil || len(d.Running) != 1 || d.Running[0].CampaignID != b.ID {
		t.Fatalf("after a ended: %+v", d)
	}
	if r := ta.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d", a.ID), Token: merch,
		Body: map[string]any{"name": "again"}}); r.Status != 409 {
		t.Fatalf("edit an ended campaign: %d %s", r.Status, r.Body)
	}
	if r := ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d/status", a.ID), Token: merch,
		Body: map[string]any{"status": "scheduled"}}); r.Status != 409 || r.ErrCode(t) != "invalid_status_change" {
		t.Fatalf("restart an ended campaign: %d %s", r.Status, r.Body)
	}
	// b runs until its end, then the worker ends it.
	at = end
	if n, err := svc.Advance(ctx, 100); err != nil || n != 1 {
		t.Fatalf("at the end: %d %v", n, err)
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/campaigns/%d", b.ID), Token: ops}).Decode(t, &got)
	if got.Status != "ended" {
		t.Fatalf("b at its end: %s", got.Status)
	}
	// The worker wrote behind the API's back: the shop's cached pages show
	// it within the catalog version's freshness, not necessarily at once.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if d, l = ta.campaignOf(prod); d == nil && l == nil {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a second after both ended: %+v %+v", d, l)
		}
	}
	var n int
	if err := ta.app.db.Get(&n, `SELECT count(*) FROM audit_log WHERE entity = 'campaign' AND action = 'campaign.status' AND staff_id IS NULL`); err != nil || n != 3 {
		t.Fatalf("%d worker status changes audited (%v)", n, err)
	}
	ta.checkInvariants()
}

// The one-coupon-per-kind setting: off by default (one coupon per order);
// on, the preview's best choice combines one coupon of each kind and an
// order takes them; two of one kind are refused. The change is audited.
func TestCouponOnePerKindOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	sku := ta.orderSKUs(1, 100)[0] // 1000 fen
	store := ta.pickupStore()
	merch := ta.staff(identity.RoleMerchandiser, "")
	ops := ta.staff(identity.RoleOperator, "")
	tok, _ := ta.shopper("stacker")

	var set struct {
		OnePerKind *bool `json:"one_per_kind"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/coupon-settings", Token: ops}).Decode(t, &set)
	if set.OnePerKind == nil || *set.OnePerKind {
		t.Fatalf("default settings: %+v", set)
	}
	ta.must(403, req{Method: "PUT", Path: "/api/v1/admin/coupon-settings", Token: ops, Body: map[string]any{"one_per_kind": true}})
	ta.must(400, req{Method: "PUT", Path: "/api/v1/admin/coupon-settings", Token: merch, Body: map[string]any{}})
	ta.must(400, req{Method: "PUT", Path: "/api/v1/admin/coupon-settings", Token: merch, Body: map[string]any{"one_per_kind": "yes"}})

	noThr := []int64{
		ta.claim(tok, ta.template(merch, map[string]any{"name": "无门槛 1", "kind": "no_threshold", "amount_off_fen": 100, "total": 10})),
		ta.claim(tok, ta.template(merch, map[string]any{"name": "无门槛 2", "kind": "no_threshold", "amount_off_fen": 50, "total": 10})),
	}
	pct := ta.claim(tok, ta.template(merch, map[string]any{"name": "9折", "kind": "percent_off", "percent_off_bp": 1000, "total": 10}))
	off := ta.claim(tok, ta.template(merch, map[string]any{"name": "满20减2", "kind": "amount_off", "threshold_fen": 2000, "amount_off_fen": 200, "total": 10}))

	body := func(qty int, coupons []int64) map[string]any {
		b := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": qty}},
			"fulfillment": map[string]any{"type": "pickup", "store_id": store}}
		if coupons != nil {
			b["coupon_ids"] = coupons
		}
		return b
	}
	preview := func(b map[string]any) previewAnswer {
		var q previewAnswer
		ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: b}).Decode(t, &q)
		return q
	}
	// Off: the best is one coupon (10% of 3000 = 300 off beats 200 and 100).
	q := preview(body(3, nil))
	if fmt.Sprint(q.Coupons.BestCouponIDs) != fmt.Sprint([]int64{pct}) || q.Coupons.BestPayableFen != 2700 {
		t.Fatalf("one per order: best %v payable %d", q.Coupons.BestCouponIDs, q.Coupons.BestPayableFen)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body(3, []int64{pct, off})}); r.Status != 409 || r.ErrCode(t) != "coupons_not_stackable" {
		t.Fatalf("two coupons when off: %d %s", r.Status, r.Body)
	}

	ta.must(200, req{Method: "PUT", Path: "/api/v1/admin/coupon-settings", Token: merch, Body: map[string]any{"one_per_kind": true}}).Decode(t, &set)
	if !*set.OnePerKind {
		t.Fatalf("put: %+v", set)
	}
	var audited int
	if err := ta.app.db.Get(&audited, `SELECT count(*) FROM audit_log WHERE action = 'coupon_settings.update'`); err != nil || audited != 1 {
		t.Fatalf("%d audit entries (%v)", audited, err)
	}
	// On: one of each kind — 10% (300), then 200 off, then the larger no-threshold (100).
	q = preview(body(3, nil))
	want := []int64{noThr[0], pct, off}
	if fmt.Sprint(q.Coupons.BestCouponIDs) != fmt.Sprint(want) || q.Coupons.BestPayableFen != 2400 {
		t.Fatalf("one per kind: best %v payable %d, want %v 2400", q.Coupons.BestCouponIDs, q.Coupons.BestPayableFen, want)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body(3, noThr)}); r.Status != 409 || r.ErrCode(t) != "coupons_not_stackable" {
		t.Fatalf("two of one kind: %d %s", r.Status, r.Body)
	}
	b := body(3, want)
	b["expected_payable_fen"] = 2400
	var o orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: b,
		Header: map[string]string{"Idempotency-Key": "stack-1"}}).Decode(t, &o)
	if o.PayableFen != 2400 {
		t.Fatalf("order payable %d", o.PayableFen)
	}
	if locked := ta.myCoupons(tok, "locked"); len(locked) != 3 {
		t.Fatalf("locked %v", locked)
	}
	ta.checkInvariants()
}
