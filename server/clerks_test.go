package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// desk is a store with its staff, for the clerk tests.
type desk struct {
	pa      *payApp
	storeID int64
	clerk   string // a clerk's token
	clerkID int64
	manager string // the store manager's token
}

func newDesk(pa *payApp, code string) desk {
	pa.t.Helper()
	d := desk{pa: pa, clerk: pa.staff(identity.RoleClerk, code)}
	d.clerkID = int64(pa.count(`SELECT max(s.id) FROM staff s JOIN stores st ON st.id = s.store_id WHERE st.code = $1 AND s.role = 'clerk'`, code))
	d.storeID = int64(pa.count(`SELECT id FROM stores WHERE code = $1`, code))
	d.manager = pa.staff(identity.RoleStoreManager, code)
	return d
}

type clerkOrder struct {
	OrderNo    string `json:"order_no"`
	Status     string `json:"status"`
	Channel    string `json:"channel"`
	PayableFen int64  `json:"payable_fen"`
	StoreID    int64  `json:"store_id"`
	ClerkID    int64  `json:"clerk_id"`
	HasMember  bool   `json:"has_member"`
}

// place previews and places an in-store order of qty units of sku (for the
// member with this phone, or a walk-in) with an Idempotency-Key.
func (d desk) place(sku int64, qty int, phone, key string) clerkOrder {
	d.pa.t.Helper()
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": qty}}}
	if phone != "" {
		body["member_phone"] = phone
	}
	return d.placeBody(body, key)
}

// placeBody previews and places the in-store order of body.
func (d desk) placeBody(body map[string]any, key string) clerkOrder {
	d.pa.t.Helper()
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	d.pa.must(200, req{Method: "POST", Path: "/api/v1/clerk/orders/preview", Token: d.clerk, Body: body}).Decode(d.pa.t, &q)
	body["expected_payable_fen"] = q.PayableFen
	var o clerkOrder
	d.pa.must(201, req{Method: "POST", Path: "/api/v1/clerk/orders", Token: d.clerk, Body: body,
		Header: map[string]string{"Idempotency-Key": key}}).Decode(d.pa.t, &o)
	return o
}

// collect collects the order by method and answers the collection.
func (d desk) collect(no, method string) resp {
	d.pa.t.Helper()
	return d.pa.must(200, req{Method: "POST", Path: "/api/v1/clerk/orders/" + no + "/collect", Token: d.clerk,
		Body: map[string]any{"method": method}})
}

// seesInStore checks that the shopper's only order is the in-store order no.
func (pa *payApp) seesInStore(tok, no string) {
	pa.t.Helper()
	var mine struct {
		Items []struct {
			OrderNo string `json:"order_no"`
			Channel string `json:"channel"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders", Token: tok}).Decode(pa.t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].OrderNo != no || mine.Items[0].Channel != "in_store" {
		pa.t.Fatalf("the member's orders: %+v", mine)
	}
}

func (d desk) get(no string) clerkOrder {
	d.pa.t.Helper()
	var o clerkOrder
	d.pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/orders/" + no, Token: d.clerk}).Decode(d.pa.t, &o)
	return o
}

// waitStatus polls the order on the clerk's screen until it has status.
func (d desk) waitStatus(no, status string) {
	d.pa.t.Helper()
	eventually(d.pa.t, 10*time.Second, no+" "+status, func() bool { return d.get(no).Status == status })
}

type perf struct {
	Total struct {
		Orders    int64 `json:"orders"`
		GMVFen    int64 `json:"gmv_fen"`
		Customers int64 `json:"customers"`
		Pickups   int64 `json:"pickups"`
	} `json:"total"`
	Days []struct {
		Day    string `json:"day"`
		GMVFen int64  `json:"gmv_fen"`
	} `json:"days"`
}

// phoneShopper signs a shopper in and binds a phone number to them.
func (pa *payApp) phoneShopper(code, phone string) string {
	pa.t.Helper()
	tok, id := pa.shopper(code)
	if _, err := pa.app.db.Exec(`UPDATE shoppers SET phone = $2 WHERE id = $1`, id, phone); err != nil {
		pa.t.Fatal(err)
	}
	return tok
}

// TestClerkWalkInPaidByNativeQR: a clerk takes an order for a walk-in,
// shows the Native QR code, the customer pays it at the simulator, and the
// clerk's screen sees it completed; a retry replays the same order.
func TestClerkWalkInPaidByNativeQR(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a := newDesk(pa, "SH-A")
	sku := pa.sku(10)

	o := a.place(sku, 2, "", "walk-in-1")
	if o.Status != "pending_payment" || o.Channel != "in_store" || o.PayableFen != 2000 || o.HasMember ||
		o.StoreID != a.storeID || o.ClerkID != a.clerkID {
		t.Fatalf("placed %+v", o)
	}
	if again := a.place(sku, 2, "", "walk-in-1"); again.OrderNo != o.OrderNo {
		t.Fatalf("a retry placed %s, want %s", again.OrderNo, o.OrderNo)
	}
	// The payable is checked.
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders", Token: a.clerk, Header: map[string]string{"Idempotency-Key": "walk-in-2"},
		Body: map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}}, "expected_payable_fen": 1}}); r.Status != 409 || r.ErrCode(t) != "price_changed" {
		t.Fatalf("wrong payable: %d %s", r.Status, r.Body)
	}
	// Nothing to show before collecting.
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/qr", Token: a.clerk}); r.Status != 409 || r.ErrCode(t) != "no_qr_code" {
		t.Fatalf("qr before collect: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/collect", Token: a.clerk,
		Body: map[string]any{"method": "push"}}); r.Status != 409 || r.ErrCode(t) != "walk_in_cannot_push" {
		t.Fatalf("push to a walk-in: %d %s", r.Status, r.Body)
	}
	var col struct {
		Method  string `json:"method"`
		CodeURL string `json:"code_url"`
		QRPath  string `json:"qr_path"`
	}
	a.collect(o.OrderNo, "native_qr").Decode(t, &col)
	if col.Method != "native_qr" || !strings.HasPrefix(col.CodeURL, "weixin://") || col.QRPath == "" {
		t.Fatalf("collect: %+v", col)
	}
	png := pa.must(200, req{Method: "GET", Path: col.QRPath, Token: a.clerk})
	if png.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(png.Body), "\x89PNG") {
		t.Fatalf("qr: %s %q", png.Header.Get("Content-Type"), png.Body[:min(8, len(png.Body))])
	}
	pa.shopperPays(o.OrderNo)
	a.waitStatus(o.OrderNo, "completed")
	if st, res := pa.stockOf(sku); st != 8 || res != 0 {
		t.Fatalf("stock %d reserved %d", st, res)
	}
	var p perf
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/performance", Token: a.clerk}).Decode(t, &p)
	if p.Total.Orders != 1 || p.Total.GMVFen != 2000 || p.Total.Customers != 0 || len(p.Days) != 30 || p.Days[29].GMVFen != 2000 {
		t.Fatalf("performance %+v", p)
	}
	pa.waitIdle()
	pa.checkInvariants()
}

// TestClerkPushedToMember: an order for a member found by phone is pushed
// to their mini-program, where it is among their orders and they pay it by
// JSAPI; the QR code stays possible until then.
func TestClerkPushedToMember(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a := newDesk(pa, "SH-A")
	sku := pa.sku(10)
	tok := pa.phoneShopper("clerk-member", "13800138000")

	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders/preview", Token: a.clerk,
		Body: map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}}, "member_phone": "13900000000"}}); r.Status != 404 || r.ErrCode(t) != "member_not_found" {
		t.Fatalf("unknown member: %d %s", r.Status, r.Body)
	}
	o := a.place(sku, 3, "13800138000", "member-1")
	if !o.HasMember || o.PayableFen != 3000 {
		t.Fatalf("placed %+v", o)
	}
	var col struct{ Method string }
	a.collect(o.OrderNo, "push").Decode(t, &col)
	a.collect(o.OrderNo, "native_qr")
	pa.seesInStore(tok, o.OrderNo)
	pa.pay(tok, o.OrderNo)
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay?trade_type=JSAPI"})
	a.waitStatus(o.OrderNo, "completed")
	if n := pa.payments(o.OrderNo); n != 1 {
		t.Fatalf("payments %d", n)
	}
	// The Native attempt is closed once another paid the order.
	eventually(t, 10*time.Second, "native attempt closed", func() bool {
		_, _ = pa.app.expireOrders(t.Context(), 10)
		return pa.count(`SELECT count(*) FROM payment_attempts a JOIN orders o ON o.id = a.order_id
WHERE o.order_no = $1 AND a.status = 'open'`, o.OrderNo) == 0
	})
	var cs struct {
		Items []struct {
			Phone  string `json:"phone"`
			GMVFen int64  `json:"gmv_fen"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/customers", Token: a.clerk}).Decode(t, &cs)
	if len(cs.Items) != 1 || cs.Items[0].Phone != "138****8000" || cs.Items[0].GMVFen != 3000 {
		t.Fatalf("customers %+v", cs)
	}
	pa.waitIdle()
	pa.checkInvariants()
}

// TestClerkCancelClosesAttempts: cancelling an unpaid in-store order closes
// its QR payment at WeChat Pay, releases the stock, and is audited.
func TestClerkCancelClosesAttempts(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a := newDesk(pa, "SH-A")
	sku := pa.sku(10)
	o := a.place(sku, 4, "", "cancel-1")
	a.collect(o.OrderNo, "native_qr")
	var c clerkOrder
	pa.must(200, req{Method: "POST", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/cancel", Token: a.manager,
		Body: map[string]any{"reason": "customer left"}}).Decode(t, &c)
	if c.Status != "cancelled" {
		t.Fatalf("cancelled: %+v", c)
	}
	if tr, ok := pa.sim().Trade(o.OrderNo + "-1"); !ok || tr.State != "CLOSED" {
		t.Fatalf("trade at WeChat Pay: %+v", tr)
	}
	if st, res := pa.stockOf(sku); st != 10 || res != 0 {
		t.Fatalf("stock %d reserved %d", st, res)
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action IN ('order.cancel', 'order.place_in_store') AND entity_id = $1`, o.OrderNo); n != 2 {
		t.Fatalf("audit entries %d", n)
	}
	if r := pa.do(req{Method: "POST", Path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay"}); r.Status != 409 {
		t.Fatalf("paying a cancelled order's closed QR: %d %s", r.Status, r.Body)
	}
	pa.checkInvariants()
}

// placePickup places and pays a shopper's pickup order at storeID.
func (pa *payApp) placePickup(tok string, sku, storeID int64, pay bool) string {
	pa.t.Helper()
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "pickup", "store_id": storeID}, "expected_payable_fen": 1000}
	var o orderAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body,
		Header: map[string]string{"Idempotency-Key": fmt.Sprintf("pickup-%d", time.Now().UnixNano())}}).Decode(pa.t, &o)
	if pay {
		pa.pay(tok, o.OrderNo)
		pa.shopperPays(o.OrderNo)
		eventually(pa.t, 10*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	}
	return o.OrderNo
}

type pickupAnswer struct {
	Status string `json:"status"`
	Code   string `json:"code"`
	QRPath string `json:"qr_path"`
}

// TestClerkPickupVerifiedOnce: the shopper sees the code once paid; a clerk
// of another store is refused, the pickup store's clerk hands it over once
// (a double tap with the same key answers the same), and a second use is
// refused; an unpaid order's code is refused.
func TestClerkPickupVerifiedOnce(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a, b := newDesk(pa, "SH-A"), newDesk(pa, "SH-B")
	sku := pa.sku(10)
	tok, _ := pa.shopper("pickup-shopper")

	unpaid := pa.placePickup(tok, sku, a.storeID, false)
	var p pickupAnswer
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + unpaid + "/pickup", Token: tok}).Decode(t, &p)
	if p.Status != "awaiting_payment" || p.Code != "" {
		t.Fatalf("unpaid pickup shows %+v", p)
	}
	var unpaidCode string
	if err := pa.app.db.Get(&unpaidCode, `SELECT p.code FROM pickup_codes p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, unpaid); err != nil {
		t.Fatal(err)
	}
	verify := func(tok, code, key string) resp {
		return pa.do(req{Method: "POST", Path: "/api/v1/clerk/pickups/verify", Token: tok, Body: map[string]any{"code": code},
			Header: map[string]string{"Idempotency-Key": key}})
	}
	if r := verify(a.clerk, unpaidCode, "u1"); r.Status != 409 || r.ErrCode(t) != "pickup_unpaid" {
		t.Fatalf("unpaid: %d %s", r.Status, r.Body)
	}

	no := pa.placePickup(tok, sku, a.storeID, true)
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + no + "/pickup", Token: tok}).Decode(t, &p)
	if p.Status != "ready" || len(p.Code) != 12 || p.QRPath == "" {
		t.Fatalf("paid pickup shows %+v", p)
	}
	if png := pa.must(200, req{Method: "GET", Path: p.QRPath, Token: tok}); !strings.HasPrefix(string(png.Body), "\x89PNG") {
		t.Fatal("pickup qr is not a PNG")
	}
	if r := verify(b.clerk, p.Code, "b1"); r.Status != 404 || r.ErrCode(t) != "pickup_other_store" {
		t.Fatalf("other store: %d %s", r.Status, r.Body)
	}
	if r := verify(a.clerk, "000000000000", "x"); r.Status != 404 || r.ErrCode(t) != "pickup_code_not_found" {
		t.Fatalf("unknown code: %d %s", r.Status, r.Body)
	}
	if r := verify(a.clerk, "12ab", "x"); r.Status != 400 {
		t.Fatalf("malformed code: %d %s", r.Status, r.Body)
	}
	var done clerkOrder
	if r := verify(a.clerk, p.Code, "tap-1"); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	} else {
		r.Decode(t, &done)
	}
	if done.Status != "completed" || done.OrderNo != no {
		t.Fatalf("verified %+v", done)
	}
	if r := verify(a.clerk, p.Code, "tap-1"); r.Status != 200 {
		t.Fatalf("double tap: %d %s", r.Status, r.Body)
	}
	if r := verify(a.clerk, p.Code, "tap-2"); r.Status != 409 || r.ErrCode(t) != "pickup_code_used" {
		t.Fatalf("second use: %d %s", r.Status, r.Body)
	}
	if r := verify(a.manager, p.Code, ""); r.Status != 409 || r.ErrCode(t) != "pickup_code_used" {
		t.Fatalf("second use by the manager: %d %s", r.Status, r.Body)
	}
	p = pickupAnswer{}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + no + "/pickup", Token: tok}).Decode(t, &p)
	if p.Status != "picked_up" || p.Code != "" {
		t.Fatalf("picked-up pickup shows %+v", p)
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'order.pickup_verify' AND entity_id = $1`, no); n != 1 {
		t.Fatalf("audit entries %d", n)
	}
	var pf perf
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/performance", Token: a.clerk}).Decode(t, &pf)
	if pf.Total.Pickups != 1 {
		t.Fatalf("pickups handed over: %+v", pf.Total)
	}
	pa.waitIdle()
	pa.checkInvariants()
}

// TestClerkStoreScope: a clerk of store B gets 404 for store A's orders,
// customers and numbers; a clerk sees only their own numbers; only
// managers and admins see the store by clerk.
func TestClerkStoreScope(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a, b := newDesk(pa, "SH-A"), newDesk(pa, "SH-B")
	sku := pa.sku(10)
	o := a.place(sku, 1, "", "scope-1")
	for _, r := range []req{
		{Method: "GET", Path: "/api/v1/clerk/orders/" + o.OrderNo},
		{Method: "GET", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/qr"},
		{Method: "POST", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/collect", Body: map[string]any{"method": "native_qr"}},
		{Method: "POST", Path: "/api/v1/clerk/orders/" + o.OrderNo + "/cancel"},
		{Method: "GET", Path: fmt.Sprintf("/api/v1/clerk/orders?store_id=%d", a.storeID)},
		{Method: "GET", Path: fmt.Sprintf("/api/v1/clerk/customers?store_id=%d", a.storeID)},
		{Method: "GET", Path: fmt.Sprintf("/api/v1/clerk/customers?clerk_id=%d", a.clerkID)},
		{Method: "GET", Path: fmt.Sprintf("/api/v1/clerk/performance?store_id=%d", a.storeID)},
		{Method: "GET", Path: fmt.Sprintf("/api/v1/clerk/performance?clerk_id=%d", a.clerkID)},
	} {
		for _, tok := range []string{b.clerk, b.manager} {
			r.Token = tok
			if got := pa.do(r); got.Status != 404 {
				t.Errorf("%s %s by store B: %d %s", r.Method, r.Path, got.Status, got.Body)
			}
		}
	}
	var list struct {
		Items []clerkOrder `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/orders", Token: b.clerk}).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("store B lists %+v", list.Items)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/orders?status=pending_payment", Token: a.clerk}).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].OrderNo != o.OrderNo {
		t.Fatalf("store A lists %+v", list.Items)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/store/performance", Token: a.clerk}); r.Status != 403 {
		t.Fatalf("store performance for a clerk: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/orders?status=nope", Token: a.clerk}); r.Status != 400 {
		t.Fatalf("bad status: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/performance?from=2024-13-01", Token: a.clerk}); r.Status != 400 {
		t.Fatalf("bad date: %d %s", r.Status, r.Body)
	}
	// Admins read every store, but do not take orders.
	admin := pa.staff(identity.RoleAdmin, "")
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/orders/" + o.OrderNo, Token: admin})
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders", Token: admin, Body: map[string]any{}}); r.Status != 403 {
		t.Fatalf("admin places: %d %s", r.Status, r.Body)
	}
	// A shopper cannot see the desk; an online order is not the store's.
	tok, _ := pa.shopper("scope-shopper")
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/orders", Token: tok}); r.Status != 403 {
		t.Fatalf("shopper at the desk: %d %s", r.Status, r.Body)
	}
	online := pa.placeOrder(tok, sku, 1)
	if r := pa.do(req{Method: "GET", Path: "/api/v1/clerk/orders/" + online.OrderNo, Token: a.clerk}); r.Status != 404 {
		t.Fatalf("online order at the desk: %d %s", r.Status, r.Body)
	}
	pa.checkInvariants()
}

// TestClerkNumbersMatchAttribution: the clerk and store attribution
// reports credit exactly the in-store GMV, to the fen, and so do the
// clerk's and the store's own numbers.
func TestClerkNumbersMatchAttribution(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	a, b := newDesk(pa, "SH-A"), newDesk(pa, "SH-B")
	a2 := pa.staff(identity.RoleClerk, "SH-A")
	a2d := desk{pa: pa, clerk: a2, storeID: a.storeID}
	sku := pa.sku(100)
	pa.phoneShopper("numbers-member", "13700137000")
	var gmv, gmvA int64
	for i, c := range []struct {
		d     desk
		qty   int
		phone string
	}{{a, 1, ""}, {a, 3, "13700137000"}, {a2d, 2, ""}, {b, 5, "13700137000"}, {b, 4, ""}} {
		o := c.d.place(sku, c.qty, c.phone, fmt.Sprintf("numbers-%d", i))
		c.d.collect(o.OrderNo, "native_qr")
		pa.shopperPays(o.OrderNo)
		c.d.waitStatus(o.OrderNo, "completed")
		gmv += o.PayableFen
		if c.d.storeID == a.storeID {
			gmvA += o.PayableFen
		}
	}
	// One unpaid order counts nowhere.
	a.place(sku, 5, "", "numbers-unpaid")

	admin := pa.staff(identity.RoleAdmin, "")
	for _, dim := range []string{"clerk", "store"} {
		var rep struct {
			Items []struct {
				AttributedGMVFen int64 `json:"attributed_gmv_fen"`
			} `json:"items"`
			Totals struct {
				CreditedGMVFen int64 `json:"credited_gmv_fen"`
				PaidGMVFen     int64 `json:"paid_gmv_fen"`
			} `json:"totals"`
		}
		pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=" + dim, Token: admin}).Decode(t, &rep)
		var sum int64
		for _, it := range rep.Items {
			sum += it.AttributedGMVFen
		}
		if sum != gmv || rep.Totals.CreditedGMVFen != gmv || rep.Totals.PaidGMVFen != gmv {
			t.Fatalf("%s report: rows %d, credited %d, paid %d; in-store GMV %d", dim, sum, rep.Totals.CreditedGMVFen, rep.Totals.PaidGMVFen, gmv)
		}
	}
	var byClerk struct {
		Items []struct {
			ClerkID   int64 `json:"clerk_id"`
			GMVFen    int64 `json:"gmv_fen"`
			Orders    int64 `json:"orders"`
			Customers int64 `json:"customers"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/store/performance", Token: a.manager}).Decode(t, &byClerk)
	var sumA int64
	for _, it := range byClerk.Items {
		sumA += it.GMVFen
	}
	if len(byClerk.Items) != 3 || sumA != gmvA { // two clerks and the manager
		t.Fatalf("store A by clerk %+v, want GMV %d", byClerk.Items, gmvA)
	}
	var pA, pAll, pClerk perf
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/performance", Token: a.manager}).Decode(t, &pA)
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/performance", Token: admin}).Decode(t, &pAll)
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/performance", Token: a.clerk}).Decode(t, &pClerk)
	if pA.Total.GMVFen != gmvA || pA.Total.Orders != 3 || pA.Total.Customers != 1 || pAll.Total.GMVFen != gmv ||
		pAll.Total.Customers != 1 || pClerk.Total.GMVFen != 4000 || pClerk.Total.Orders != 2 {
		t.Fatalf("performance: store A %+v, all %+v, clerk %+v", pA.Total, pAll.Total, pClerk.Total)
	}
	pa.waitIdle()
	pa.checkInvariants()
}
