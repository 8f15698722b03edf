package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/yutang/yutang/domain/identity"
)

// orderSKUs inserts a category, an on-sale product and n SKUs priced
// 1000·(i+1) fen with stock each (received through the ledger), and returns
// their ids.
func (ta *testApp) orderSKUs(n, stock int) []int64 {
	ta.t.Helper()
	db := ta.app.db
	var cat, prod int64
	if err := db.Get(&cat, `INSERT INTO categories (name) VALUES ('Tea') RETURNING id`); err != nil {
		ta.t.Fatal(err)
	}
	if err := db.Get(&prod, `INSERT INTO products (category_id, title, status, images) VALUES ($1, '龙井', 'on_sale', '{https://img/1.jpg}') RETURNING id`, cat); err != nil {
		ta.t.Fatal(err)
	}
	var ids []int64
	if err := db.Select(&ids, `INSERT INTO skus (product_id, code, specs, price_fen, stock, per_order_limit)
SELECT $1::bigint, 'T-' || $1::bigint || '-' || g, jsonb_build_object('规格', g || '两'), 1000 * g, $3, 5 FROM generate_series(1, $2) g RETURNING id`,
		prod, n, stock); err != nil {
		ta.t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO stock_ledger (sku_id, kind, delta, actor, at)
SELECT id, 'receive', stock, 'system', now() FROM skus WHERE product_id = $1`, prod); err != nil {
		ta.t.Fatal(err)
	}
	// keep the catalog invariant: a product's min price is its cheapest on-sale SKU
	if _, err := db.Exec(`UPDATE products SET min_price_fen = (SELECT min(price_fen) FROM skus WHERE product_id = $1) WHERE id = $1`, prod); err != nil {
		ta.t.Fatal(err)
	}
	return ids
}

func (ta *testApp) address(tok string) int64 {
	ta.t.Helper()
	var a struct {
		ID        int64 `json:"id"`
		IsDefault bool  `json:"is_default"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/addresses", Token: tok, Body: map[string]any{
		"name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市", "district": "徐汇区",
		"detail": "淮海中路999号", "is_default": false}}).Decode(ta.t, &a)
	return a.ID
}

func (ta *testApp) stockOf(sku int64) (stock, reserved int) {
	ta.t.Helper()
	if err := ta.app.db.QueryRow(`SELECT stock, reserved FROM skus WHERE id = $1`, sku).Scan(&stock, &reserved); err != nil {
		ta.t.Fatal(err)
	}
	return
}

func (ta *testApp) checkInvariants() {
	ta.t.Helper()
	var out bytes.Buffer
	if err := ta.app.check(context.Background(), &out); err != nil {
		ta.t.Fatalf("check: %v\n%s", err, out.String())
	}
}

type orderAnswer struct {
	OrderNo    string `json:"order_no"`
	Status     string `json:"status"`
	PayableFen int64  `json:"payable_fen"`
	FreightFen int64  `json:"freight_fen"`
	ExpiresAt  string `json:"expires_at"`
	Items      []struct {
		SKUID   int64             `json:"sku_id"`
		Title   string            `json:"title"`
		Specs   map[string]string `json:"specs"`
		PaidFen int64             `json:"paid_fen"`
	} `json:"items"`
}

func TestOrderPreviewPlaceAndReplay(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(2, 10)
	tok, _ := ta.shopper("alice")
	addr := ta.address(tok)
	body := map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 2}, {"sku_id": skus[1], "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": addr}}
	var q struct {
		SubtotalFen int64 `json:"subtotal_fen"`
		FreightFen  int64 `json:"freight_fen"`
		PayableFen  int64 `json:"payable_fen"`
		Lines       []struct {
			PaidFen int64 `json:"paid_fen"`
		} `json:"lines"`
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &q)
	if q.SubtotalFen != 4000 || q.FreightFen != 1000 || q.PayableFen != 5000 || len(q.Lines) != 2 {
		t.Fatalf("preview: %+v", q)
	}

	// No key: refused. A stale expected payable: 409 with the new breakdown.
	body["expected_payable_fen"] = 4999
	r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body})
	if r.Status != 400 || r.ErrCode(t) != "idempotency_key_required" {
		t.Fatalf("no key: %d %s", r.Status, r.Body)
	}
	key := map[string]string{"Idempotency-Key": "order-1"}
	r = ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: key})
	if r.Status != 409 || r.ErrCode(t) != "price_changed" {
		t.Fatalf("stale price: %d %s", r.Status, r.Body)
	}
	if d := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any); d["payable_fen"].(float64) != 5000 {
		t.Fatalf("price_changed details: %v", d)
	}

	// The preview's payable places the order at exactly that price.
	body["expected_payable_fen"] = q.PayableFen
	var o orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: key}).Decode(t, &o)
	if o.OrderNo == "" || o.Status != "pending_payment" || o.PayableFen != q.PayableFen || o.ExpiresAt == "" {
		t.Fatalf("placed: %+v", o)
	}
	if len(o.Items) != 2 || o.Items[0].Title != "龙井" || o.Items[0].Specs["规格"] != "1两" || o.Items[0].PaidFen+o.Items[1].PaidFen != 4000 {
		t.Fatalf("lines: %+v", o.Items)
	}
	// The same key and body replays the same order; another body is a 422.
	var again orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: key}).Decode(t, &again)
	if again.OrderNo != o.OrderNo {
		t.Fatalf("replay made another order: %s vs %s", again.OrderNo, o.OrderNo)
	}
	body["note"] = "ring twice"
	r = ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: key})
	if r.Status != 422 || r.ErrCode(t) != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.Status, r.Body)
	}
	if s, res := ta.stockOf(skus[0]); s != 8 || res != 2 {
		t.Fatalf("stock %d reserved %d", s, res)
	}
	// Editing the address afterwards does not change the order's snapshot.
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/shop/addresses/%d", addr), Token: tok, Body: map[string]any{"detail": "elsewhere"}})
	got := ta.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + o.OrderNo, Token: tok}).JSON(t)
	if got["fulfillment"].(map[string]any)["address"].(map[string]any)["detail"] != "淮海中路999号" {
		t.Fatalf("address snapshot changed: %v", got["fulfillment"])
	}
	ta.checkInvariants()
}

func TestOrderSameKeyInParallelOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(1, 10)
	tok, _ := ta.shopper("bob")
	st := ta.staff(identity.RoleClerk, "S-PAR")
	_ = st
	var storeID int64
	if err := ta.app.db.Get(&storeID, `SELECT id FROM stores WHERE code = 'S-PAR'`); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 1}},
		"fulfillment": map[string]any{"type": "pickup", "store_id": storeID}, "expected_payable_fen": 1000}
	nos := make([]string, 6)
	var wg sync.WaitGroup
	for i := range nos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o orderAnswer
			r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "k1"}})
			if r.Status != 201 {
				t.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
			r.Decode(t, &o)
			nos[i] = o.OrderNo
		}()
	}
	wg.Wait()
	for _, n := range nos {
		if n != nos[0] {
			t.Fatalf("one key, several orders: %v", nos)
		}
	}
	var n int
	if err := ta.app.db.Get(&n, `SELECT count(*) FROM orders`); err != nil || n != 1 {
		t.Fatalf("%d orders", n)
	}
	ta.checkInvariants()
}

func TestOrderStateMachineCancelShipConfirmAndPrivacy(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(1, 10)
	alice, _ := ta.shopper("alice")
	eve, _ := ta.shopper("eve")
	addr := ta.address(alice)
	place := func(key string) orderAnswer {
		var o orderAnswer
		ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: alice, Header: map[string]string{"Idempotency-Key": key},
			Body: map[string]any{"items": []map[string]any{{"sku_id": skus[0], "quantity": 3}},
				"fulfillment": map[string]any{"type": "delivery", "address_id": addr}, "expected_payable_fen": 4000}}).Decode(t, &o)
		return o
	}
	a := place("a")
	// Another shopper sees nothing of it and cannot act on it.
	for _, p := range []req{{Method: "GET", Path: "/api/v1/shop/orders/" + a.OrderNo}, {Method: "POST", Path: "/api/v1/shop/orders/" + a.OrderNo + "/cancel"}} {
		p.Token = eve
		if r := ta.do(p); r.Status != 404 || r.ErrCode(t) != "order_not_found" {
			t.Fatalf("eve %s %s: %d %s", p.Method, p.Path, r.Status, r.Body)
		}
	}
	if l := ta.must(200, req{Method: "GET", Path: "/api/v1/shop/orders", Token: eve}).JSON(t); len(l["items"].([]any)) != 0 {
		t.Fatalf("eve lists %v", l)
	}
	// Cannot confirm an unpaid order; admin cannot ship it.
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + a.OrderNo + "/confirm", Token: alice}); r.Status != 409 || r.ErrCode(t) != "invalid_order_status" {
		t.Fatalf("confirm unpaid: %d %s", r.Status, r.Body)
	}
	ops := ta.staff(identity.RoleOperator, "")
	ship := map[string]string{"carrier": "顺丰", "tracking_no": "SF1234567890"}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/admin/orders/" + a.OrderNo + "/ship", Token: ops, Body: ship}); r.Status != 409 {
		t.Fatalf("ship unpaid: %d %s", r.Status, r.Body)
	}
	// Cancel releases the stock; a cancelled order cannot be cancelled again.
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + a.OrderNo + "/cancel", Token: alice, Body: map[string]string{"reason": "changed my mind"}})
	if s, r := ta.stockOf(skus[0]); s != 10 || r != 0 {
		t.Fatalf("after cancel: stock %d reserved %d", s, r)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + a.OrderNo + "/cancel", Token: alice}); r.Status != 409 {
		t.Fatalf("cancel twice: %d %s", r.Status, r.Body)
	}

	// A paid order (paid through the cashier's apply path, payments_test.go) ships and is confirmed.
	b := place("b")
	ta.markPaid(b.OrderNo)
	shopperTok, _ := ta.shopper("alice")
	if r := ta.do(req{Method: "POST", Path: "/api/v1/admin/orders/" + b.OrderNo + "/ship", Token: shopperTok, Body: ship}); r.Status != 403 {
		t.Fatalf("shopper ships: %d", r.Status)
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/admin/orders/" + b.OrderNo + "/ship", Token: ops, Body: ship})
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + b.OrderNo + "/cancel", Token: alice}); r.Status != 409 {
		t.Fatalf("cancel shipped: %d %s", r.Status, r.Body)
	}
	got := ta.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + b.OrderNo + "/confirm", Token: alice}).JSON(t)
	if got["status"] != "completed" || got["tracking_no"] != "SF1234567890" {
		t.Fatalf("confirmed: %v", got)
	}
	// The ship was audited; the admin list finds orders by status and number.
	admin := ta.staff(identity.RoleAdmin, "")
	audit := ta.must(200, req{Method: "GET", Path: "/api/v1/admin/audit-log?entity=order&entity_id=" + b.OrderNo, Token: admin}).JSON(t)
	if len(audit["items"].([]any)) != 1 {
		t.Fatalf("audit: %v", audit)
	}
	l := ta.must(200, req{Method: "GET", Path: "/api/v1/admin/orders?status=cancelled", Token: ops}).JSON(t)
	if items := l["items"].([]any); len(items) != 1 || items[0].(map[string]any)["order_no"] != a.OrderNo {
		t.Fatalf("admin list cancelled: %v", l)
	}
	l = ta.must(200, req{Method: "GET", Path: "/api/v1/admin/orders?no=" + b.OrderNo, Token: ops}).JSON(t)
	if items := l["items"].([]any); len(items) != 1 {
		t.Fatalf("admin search by number: %v", l)
	}
	// The shopper's list by status, paged.
	l = ta.must(200, req{Method: "GET", Path: "/api/v1/shop/orders?limit=1", Token: alice}).JSON(t)
	if len(l["items"].([]any)) != 1 || l["next_cursor"] == "" {
		t.Fatalf("page 1: %v", l)
	}
	l = ta.must(200, req{Method: "GET", Path: "/api/v1/shop/orders?limit=1&cursor=" + l["next_cursor"].(string), Token: alice}).JSON(t)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("page 2: %v", l)
	}
	ta.checkInvariants()
}

func TestOrderOutOfStockAndLimits(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(1, 2)
	tok, _ := ta.shopper("carol")
	addr := ta.address(tok)
	post := func(qty int) resp {
		return ta.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: map[string]any{
			"items": []map[string]any{{"sku_id": skus[0], "quantity": qty}}, "fulfillment": map[string]any{"type": "delivery", "address_id": addr}}})
	}
	if r := post(3); r.Status != 409 || r.ErrCode(t) != "out_of_stock" {
		t.Fatalf("3 of 2: %d %s", r.Status, r.Body)
	}
	if r := post(6); r.Status != 409 || r.ErrCode(t) != "quantity_over_limit" {
		t.Fatalf("over per-order limit: %d %s", r.Status, r.Body)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: map[string]any{
		"items": []map[string]any{{"sku_id": skus[0], "quantity": 1}}, "fulfillment": map[string]any{"type": "delivery"}}}); r.Status != 400 {
		t.Fatalf("delivery without address: %d %s", r.Status, r.Body)
	}
}

func TestCartAnonymousMergeStatesAndCheckout(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	skus := ta.orderSKUs(3, 4)
	anon := map[string]string{"X-Anon-Id": "anon-visitor-1"}
	if r := ta.do(req{Method: "GET", Path: "/api/v1/shop/cart"}); r.Status != 401 {
		t.Fatalf("cart without owner: %d", r.Status)
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/cart/items", Header: anon, Body: map[string]any{"sku_id": skus[0], "quantity": 2}})
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/cart/items", Header: anon, Body: map[string]any{"sku_id": skus[0], "quantity": 1}})
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/cart/items", Header: anon, Body: map[string]any{"sku_id": skus[0], "quantity": 3}}); r.Status != 409 || r.ErrCode(t) != "quantity_over_limit" {
		t.Fatalf("merge past the limit of 5: %d %s", r.Status, r.Body)
	}
	// Signing in carries the visitor's cart over, merged with the shopper's.
	var s struct {
		Token string `json:"token"`
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/session", Header: anon, Body: map[string]string{"code": "dave"}}).Decode(t, &s)
	tok := s.Token
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/cart/items", Token: tok, Body: map[string]any{"sku_id": skus[1], "quantity": 1}})
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/cart/items", Token: tok, Body: map[string]any{"sku_id": skus[2], "quantity": 1}})
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/shop/cart/items/%d", skus[2]), Token: tok, Body: map[string]any{"selected": false}})
	// One SKU goes off sale: it stays in the cart, shown as such.
	if _, err := ta.app.db.Exec(`UPDATE skus SET status = 'off_sale' WHERE id = $1`, skus[1]); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Items []struct {
			SKUID    int64  `json:"sku_id"`
			Quantity int    `json:"quantity"`
			State    string `json:"state"`
		} `json:"items"`
		SelectedSubtotalFen int64 `json:"selected_subtotal_fen"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/cart", Token: tok}).Decode(t, &c)
	states := map[int64]string{}
	for _, it := range c.Items {
		states[it.SKUID] = it.State
	}
	if len(c.Items) != 3 || states[skus[0]] != "available" || states[skus[1]] != "off_sale" || c.SelectedSubtotalFen != 3000 {
		t.Fatalf("cart: %+v", c)
	}
	// Checking out from the cart refuses the off-sale line, then succeeds once it is removed.
	addr := ta.address(tok)
	body := map[string]any{"from_cart": true, "fulfillment": map[string]any{"type": "delivery", "address_id": addr}, "expected_payable_fen": 4000}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "c1"}}); r.Status != 409 || r.ErrCode(t) != "sku_off_sale" {
		t.Fatalf("off-sale line: %d %s", r.Status, r.Body)
	}
	ta.must(200, req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/shop/cart/items/%d", skus[1]), Token: tok})
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Body: body, Header: map[string]string{"Idempotency-Key": "c2"}})
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/cart", Token: tok}).Decode(t, &c)
	if len(c.Items) != 1 || c.Items[0].SKUID != skus[2] {
		t.Fatalf("ordered lines stay in the cart: %+v", c)
	}
	ta.checkInvariants()
}

func TestAddressesDefaultAndSoftDelete(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok, _ := ta.shopper("erin")
	first := ta.address(tok)
	second := ta.address(tok)
	var l struct {
		Items []struct {
			ID        int64 `json:"id"`
			IsDefault bool  `json:"is_default"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/addresses", Token: tok}).Decode(t, &l)
	if len(l.Items) != 2 || l.Items[0].ID != first || !l.Items[0].IsDefault || l.Items[1].IsDefault {
		t.Fatalf("first address is the default: %+v", l)
	}
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/shop/addresses/%d", second), Token: tok, Body: map[string]any{"is_default": true}})
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/addresses", Token: tok}).Decode(t, &l)
	if l.Items[0].ID != second || !l.Items[0].IsDefault || l.Items[1].IsDefault {
		t.Fatalf("default moved: %+v", l)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/addresses", Token: tok, Body: map[string]any{
		"name": "x", "phone": "12", "province": "p", "city": "c", "detail": "d"}}); r.Status != 400 || r.ErrCode(t) != "validation_failed" {
		t.Fatalf("bad phone: %d %s", r.Status, r.Body)
	}
	other, _ := ta.shopper("frank")
	if r := ta.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/shop/addresses/%d", second), Token: other}); r.Status != 404 {
		t.Fatalf("another shopper deletes: %d", r.Status)
	}
	ta.must(204, req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/shop/addresses/%d", second), Token: tok})
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/addresses", Token: tok}).Decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].ID != first {
		t.Fatalf("after delete: %+v", l)
	}
}
