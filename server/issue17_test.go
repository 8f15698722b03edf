package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/catalog"
	"github.com/yutang/yutang/domain/identity"
)

// fixture is a small mall for the robustness tests: a shopper with an
// address and a placed order, an admin, a clerk, a category, a product with
// SKUs, a store and a post touchpoint with a share link.
type fixture struct {
	shopper, admin, clerk string
	category, product     int64
	sku, store, address   int64
	touchpoint            int64
	orderNo, linkCode     string
}

func (ta *testApp) fixture() fixture {
	ta.t.Helper()
	var f fixture
	f.shopper, _ = ta.shopper("robust-alice")
	f.admin = ta.staff(identity.RoleAdmin, "")
	f.clerk = ta.staff(identity.RoleClerk, "RB1")
	f.category = ta.category(f.admin, 0, "Robust")
	p := ta.product(f.admin, dress(f.category, "RB", "Robust dress", 1990, 50))
	f.product, f.sku = p.ID, p.SKUs[0].ID
	var st struct{ ID int64 }
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/stores", Token: f.admin,
		Body: map[string]any{"code": "RB2", "name": "Robust store"}}).Decode(ta.t, &st)
	f.store = st.ID
	f.address = ta.address(f.shopper)
	body := map[string]any{"items": []map[string]any{{"sku_id": f.sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": f.address}}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: f.shopper, Body: body}).Decode(ta.t, &q)
	body["expected_payable_fen"] = q.PayableFen
	var o struct {
		OrderNo string `json:"order_no"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: f.shopper, Body: body,
		Header: map[string]string{"Idempotency-Key": "robust-1"}}).Decode(ta.t, &o)
	f.orderNo = o.OrderNo
	var tp struct{ ID int64 }
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/touchpoints", Token: f.admin,
		Body: map[string]any{"kind": "post", "name": "Robust post", "post_kind": "poster"}}).Decode(ta.t, &tp)
	f.touchpoint = tp.ID
	var l struct{ Code string }
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/share-links", Token: f.admin,
		Body: map[string]any{"post_id": tp.ID}}).Decode(ta.t, &l)
	f.linkCode = l.Code
	return f
}

// Every request issue 17 found answering 500 answers a 4xx with a stable
// code.
func TestIssue17RequestsAnswer4xxWithAStableCode(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	f := ta.fixture()
	const nul = "a\x00b"
	id := func(n int64) string { return fmt.Sprint(n) }
	product := func(field string, v any) map[string]any {
		b := map[string]any{"category_id": f.category, "title": "t", "subtitle": "s", "description": "d", "tags": []string{"x"}}
		b[field] = v
		return b
	}
	address := func(field string) map[string]any {
		b := map[string]any{"name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
			"district": "徐汇区", "detail": "淮海中路1号"}
		b[field] = nul
		return b
	}
	track := func(field string) map[string]any {
		e := map[string]any{"id": "ev-1", "code": f.linkCode, "scene": 1001, "path": "/p", "at": time.Now()}
		e[field] = nul
		return map[string]any{"events": []any{e}}
	}
	sku := func(field string, v any) map[string]any {
		b := map[string]any{"code": "RB-NEW", "specs": map[string]string{"颜色": "绿", "尺码": "S"}, "price_fen": 100}
		b[field] = v
		return b
	}
	type tc struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		code         string
		header       map[string]string
		_            bool
	}
	const big = int64(1) << 31
	cases := []tc{
		// NUL, no token.
		{"admin sign-in username NUL", "POST", "/api/v1/admin/session", "", map[string]any{"username": "\x00", "password": "x"}, 400, "invalid_text", nil, false},
		{"clerk sign-in username NUL", "POST", "/api/v1/clerk/session", "", map[string]any{"username": "\x00", "password": "x"}, 400, "invalid_text", nil, false},
		{"shop products q=%00", "GET", "/api/v1/shop/products?q=%00", "", nil, 400, "invalid_text", nil, false},
		// NUL in bodies.
		{"category name", "POST", "/api/v1/admin/categories", f.admin, map[string]any{"name": nul}, 400, "invalid_text", nil, false},
		{"product title", "POST", "/api/v1/admin/products", f.admin, product("title", nul), 400, "invalid_text", nil, false},
		{"product subtitle", "POST", "/api/v1/admin/products", f.admin, product("subtitle", nul), 400, "invalid_text", nil, false},
		{"product description", "POST", "/api/v1/admin/products", f.admin, product("description", nul), 400, "invalid_text", nil, false},
		{"product tags", "POST", "/api/v1/admin/products", f.admin, product("tags", []string{nul}), 400, "invalid_text", nil, false},
		{"product patch title", "PATCH", "/api/v1/admin/products/" + id(f.product), f.admin, map[string]any{"title": nul}, 400, "invalid_text", nil, false},
		{"store name", "POST", "/api/v1/admin/stores", f.admin, map[string]any{"code": "RB9", "name": nul}, 400, "invalid_text", nil, false},
		{"store address", "POST", "/api/v1/admin/stores", f.admin, map[string]any{"code": "RB9", "name": "n", "address": nul}, 400, "invalid_text", nil, false},
		{"store phone", "POST", "/api/v1/admin/stores", f.admin, map[string]any{"code": "RB9", "name": "n", "phone": nul}, 400, "invalid_text", nil, false},
		{"store patch name", "PATCH", "/api/v1/admin/stores/" + id(f.store), f.admin, map[string]any{"name": nul}, 400, "invalid_text", nil, false},
		{"stock adjustment note", "POST", "/api/v1/admin/skus/" + id(f.sku) + "/stock-adjustments", f.admin, map[string]any{"kind": "correct", "quantity": 1, "note": nul}, 400, "invalid_text", nil, false},
		{"order note", "POST", "/api/v1/shop/checkout/preview", f.shopper, map[string]any{"items": []any{map[string]any{"sku_id": f.sku, "quantity": 1}},
			"fulfillment": map[string]any{"type": "delivery", "address_id": f.address}, "note": nul}, 400, "invalid_text", nil, false},
		{"order note (place)", "POST", "/api/v1/shop/orders", f.shopper, map[string]any{"items": []any{map[string]any{"sku_id": f.sku, "quantity": 1}},
			"fulfillment": map[string]any{"type": "delivery", "address_id": f.address}, "note": nul, "expected_payable_fen": 1}, 400, "invalid_text", map[string]string{"Idempotency-Key": "robust-nul"}, false},
		{"address name", "POST", "/api/v1/shop/addresses", f.shopper, address("name"), 400, "invalid_text", nil, false},
		{"address phone", "POST", "/api/v1/shop/addresses", f.shopper, address("phone"), 400, "invalid_text", nil, false},
		{"address province", "POST", "/api/v1/shop/addresses", f.shopper, address("province"), 400, "invalid_text", nil, false},
		{"address city", "POST", "/api/v1/shop/addresses", f.shopper, address("city"), 400, "invalid_text", nil, false},
		{"address district", "POST", "/api/v1/shop/addresses", f.shopper, address("district"), 400, "invalid_text", nil, false},
		{"address detail", "POST", "/api/v1/shop/addresses", f.shopper, address("detail"), 400, "invalid_text", nil, false},
		{"address patch detail", "PATCH", "/api/v1/shop/addresses/" + id(f.address), f.shopper, map[string]any{"detail": nul}, 400, "invalid_text", nil, false},
		{"track event id", "POST", "/api/v1/shop/track", f.shopper, track("id"), 400, "invalid_text", nil, false},
		{"track event code", "POST", "/api/v1/shop/track", f.shopper, track("code"), 400, "invalid_text", nil, false},
		{"track event path", "POST", "/api/v1/shop/track", f.shopper, track("path"), 400, "invalid_text", nil, false},
		{"touchpoint name", "POST", "/api/v1/admin/touchpoints", f.admin, map[string]any{"kind": "post", "name": nul, "post_kind": "poster"}, 400, "invalid_text", nil, false},
		{"touchpoint tags", "POST", "/api/v1/admin/touchpoints", f.admin, map[string]any{"kind": "post", "name": "n", "post_kind": "poster", "tags": []string{nul}}, 400, "invalid_text", nil, false},
		{"touchpoint patch name", "PATCH", "/api/v1/admin/touchpoints/" + id(f.touchpoint), f.admin, map[string]any{"name": nul}, 400, "invalid_text", nil, false},
		{"sku spec value", "POST", "/api/v1/admin/products/" + id(f.product) + "/skus", f.admin, sku("specs", map[string]string{"颜色": nul, "尺码": "S"}), 400, "invalid_text", nil, false},
		{"sku spec key", "POST", "/api/v1/admin/products/" + id(f.product) + "/skus", f.admin, sku("specs", map[string]string{nul: "红"}), 400, "invalid_text", nil, false},
		// NUL and invalid UTF-8 in queries and paths.
		{"admin products q=%00", "GET", "/api/v1/admin/products?q=%00", f.admin, nil, 400, "invalid_text", nil, false},
		{"admin orders no=%00", "GET", "/api/v1/admin/orders?no=%00", f.admin, nil, 400, "invalid_text", nil, false},
		{"audit entity=%00", "GET", "/api/v1/admin/audit-log?entity=%00", f.admin, nil, 400, "invalid_text", nil, false},
		{"audit entity_id=%00", "GET", "/api/v1/admin/audit-log?entity_id=%00", f.admin, nil, 400, "invalid_text", nil, false},
		{"order attribution path %00", "GET", "/api/v1/admin/orders/%00/attribution", f.admin, nil, 400, "invalid_text", nil, false},
		{"shop order path %00", "GET", "/api/v1/shop/orders/%00", f.shopper, nil, 400, "invalid_text", nil, false},
		{"shop products q=%ff%fe", "GET", "/api/v1/shop/products?q=%ff%fe", "", nil, 400, "invalid_text", nil, false},
		{"admin orders no=%ff%fe", "GET", "/api/v1/admin/orders?no=%ff%fe", f.admin, nil, 400, "invalid_text", nil, false},
		{"audit entity=%ff%fe", "GET", "/api/v1/admin/audit-log?entity=%ff%fe", f.admin, nil, 400, "invalid_text", nil, false},
		{"order attribution path %ff%fe", "GET", "/api/v1/admin/orders/%ff%fe/attribution", f.admin, nil, 400, "invalid_text", nil, false},
		{"cursor %00", "GET", "/api/v1/admin/stores?cursor=%00", f.admin, nil, 400, "invalid_text", nil, false},
		{"idempotency key invalid UTF-8", "POST", "/api/v1/shop/orders", f.shopper, map[string]any{"items": []any{map[string]any{"sku_id": f.sku, "quantity": 1}},
			"fulfillment": map[string]any{"type": "delivery", "address_id": f.address}, "expected_payable_fen": 1}, 400, "invalid_text", map[string]string{"Idempotency-Key": "k\xff\xfe"}, false},
		// Integers beyond their int columns.
		{"category sort 2^31", "POST", "/api/v1/admin/categories", f.admin, map[string]any{"name": "n", "sort": big}, 400, "out_of_range", nil, false},
		{"category sort -2^31-1", "POST", "/api/v1/admin/categories", f.admin, map[string]any{"name": "n", "sort": -big - 1}, 400, "out_of_range", nil, false},
		{"category put sort 2^31", "PUT", "/api/v1/admin/categories/" + id(f.category), f.admin, map[string]any{"name": "n", "sort": big}, 400, "out_of_range", nil, false},
		{"product sort_weight 2^31", "POST", "/api/v1/admin/products", f.admin, product("sort_weight", big), 400, "out_of_range", nil, false},
		{"product sort_weight -2^31-1", "POST", "/api/v1/admin/products", f.admin, product("sort_weight", -big-1), 400, "out_of_range", nil, false},
		{"product patch sort_weight 2^31", "PATCH", "/api/v1/admin/products/" + id(f.product), f.admin, map[string]any{"sort_weight": big}, 400, "out_of_range", nil, false},
		{"sku per_order_limit 2^31", "POST", "/api/v1/admin/products/" + id(f.product) + "/skus", f.admin, sku("per_order_limit", big), 400, "out_of_range", nil, false},
		{"sku patch per_order_limit 2^31", "PATCH", "/api/v1/admin/skus/" + id(f.sku), f.admin, map[string]any{"per_order_limit": big}, 400, "out_of_range", nil, false},
		{"product sku per_order_limit 2^31", "POST", "/api/v1/admin/products", f.admin, product("skus", []any{sku("per_order_limit", big)}), 400, "out_of_range", nil, false},
		// Year 0000 (and 9999) in report dates.
		{"report to=0000-01-01", "GET", "/api/v1/admin/reports/attribution?dimension=post&to=0000-01-01", f.admin, nil, 400, "out_of_range", nil, false},
		{"report from=0000-01-01", "GET", "/api/v1/admin/reports/attribution?dimension=post&from=0000-01-01", f.admin, nil, 400, "out_of_range", nil, false},
		{"daily to=0000-01-01", "GET", "/api/v1/admin/reports/attribution/post/" + id(f.touchpoint) + "/daily?to=0000-01-01", f.admin, nil, 400, "out_of_range", nil, false},
		{"products to=0000-01-01", "GET", "/api/v1/admin/reports/attribution/post/" + id(f.touchpoint) + "/products?to=0000-01-01", f.admin, nil, 400, "out_of_range", nil, false},
		{"report to=9999-12-31", "GET", "/api/v1/admin/reports/attribution?dimension=post&to=9999-12-31", f.admin, nil, 400, "out_of_range", nil, false},
		{"admin orders from=0000", "GET", "/api/v1/admin/orders?from=0000-01-01T00:00:00Z", f.admin, nil, 400, "out_of_range", nil, false},
		{"track at year 0000", "POST", "/api/v1/shop/track", f.shopper, map[string]any{"events": []any{map[string]any{"id": "ev-0", "at": "0000-01-01T00:00:00Z"}}}, 400, "out_of_range", nil, false},
	}
	for _, c := range cases {
		r := ta.do(req{Method: c.method, Path: c.path, Token: c.token, Body: c.body, Header: c.header})
		if r.Status != c.status || r.ErrCode(t) != c.code {
			t.Errorf("%s: %s %s: got %d %s, want %d %s", c.name, c.method, c.path, r.Status, r.Body, c.status, c.code)
		}
	}

	// A field is named: the NUL title's error says "title".
	r := ta.do(req{Method: "POST", Path: "/api/v1/admin/products", Token: f.admin, Body: product("title", nul)})
	if fs := fieldsOf(t, r); len(fs) != 1 || fs[0] != "title" {
		t.Errorf("NUL title names %v, want [title]", fs)
	}
	// The bounds themselves are accepted.
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/categories", Token: f.admin, Body: map[string]any{"name": "max", "sort": big - 1}})
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/categories", Token: f.admin, Body: map[string]any{"name": "min", "sort": -big}})
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post&from=2000-01-01&to=2000-12-31", Token: f.admin})
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post&from=2100-01-01&to=2100-12-31", Token: f.admin})
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?q=" + "%E8%BF%9E%E8%A1%A3%E8%A3%99"})
}

// Stock on hand is bounded by catalog.MaxStock: receives pile up to it and
// not beyond (issue 17: the 2,148th receive of 1,000,000 overflowed the int
// column with a 500).
func TestStockTotalIsBounded(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	f := ta.fixture()
	adjust := func(kind string, qty int) resp {
		note := ""
		if kind != "receive" {
			note = "count"
		}
		return ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", f.sku), Token: f.admin,
			Body: map[string]any{"kind": kind, "quantity": qty, "note": note}})
	}
	stock, reserved := ta.stockOf(f.sku)
	// Bring the SKU close to the limit without 100 round trips.
	if _, err := ta.app.db.Exec(`UPDATE skus SET stock = $2 WHERE id = $1`, f.sku, catalog.MaxStock-reserved-1_500_000); err != nil {
		t.Fatal(err)
	}
	_ = stock
	if r := adjust("receive", 1_000_000); r.Status != 201 {
		t.Fatalf("receive within the limit: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		kind string
		qty  int
	}{{"receive", 1_000_000}, {"receive", 500_001}, {"correct", 500_001}} {
		r := adjust(c.kind, c.qty)
		if r.Status != 409 || r.ErrCode(t) != "stock_limit" {
			t.Fatalf("%s %d beyond the limit: %d %s", c.kind, c.qty, r.Status, r.Body)
		}
	}
	if r := adjust("receive", 500_000); r.Status != 201 {
		t.Fatalf("receive up to exactly the limit: %d %s", r.Status, r.Body)
	}
	if s, r := ta.stockOf(f.sku); s+r != catalog.MaxStock {
		t.Fatalf("on hand %d, want %d", s+r, catalog.MaxStock)
	}
	if r := adjust("receive", 1); r.Status != 409 || r.ErrCode(t) != "stock_limit" {
		t.Fatalf("one more: %d %s", r.Status, r.Body)
	}
	if r := adjust("damage", 10); r.Status != 201 {
		t.Fatalf("taking stock out at the limit: %d %s", r.Status, r.Body)
	}
}

// Twenty parallel wrong passwords for one account: five are checked, the
// rest are refused, and the account is locked. An unknown username answers
// exactly the same way.
func TestStaffLockoutHoldsUnderParallelGuessesAndHidesUsernames(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	if _, err := ta.app.svc.Identity.AddStaff(t.Context(), "merch-real", identity.RoleMerchandiser, "", "right-password-1"); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		statuses []string
		after    string
	}
	guess := func(username string) outcome {
		var mu sync.Mutex
		var o outcome
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := ta.do(req{Method: "POST", Path: "/api/v1/admin/session",
					Body: map[string]string{"username": username, "password": fmt.Sprintf("wrong-%d", i)}})
				mu.Lock()
				o.statuses = append(o.statuses, fmt.Sprintf("%d %s", r.Status, r.ErrCode(t)))
				mu.Unlock()
			}()
		}
		wg.Wait()
		sort.Strings(o.statuses)
		// Locked now, even with the right password.
		r := ta.do(req{Method: "POST", Path: "/api/v1/admin/session",
			Body: map[string]string{"username": username, "password": "right-password-1"}})
		o.after = fmt.Sprintf("%d %s", r.Status, r.ErrCode(t))
		return o
	}
	want := append(repeat("401 bad_credentials", 5), repeat("429 login_locked", 15)...)
	sort.Strings(want)
	known := guess("merch-real")
	unknown := guess("merch-nobody")
	for name, o := range map[string]outcome{"known": known, "unknown": unknown} {
		if strings.Join(o.statuses, ",") != strings.Join(want, ",") {
			t.Errorf("%s username, 20 parallel guesses: %v, want 5 × 401 then 15 × 429", name, o.statuses)
		}
		if o.after != "429 login_locked" {
			t.Errorf("%s username after the guesses: %s, want 429 login_locked", name, o.after)
		}
	}
	// That an unknown username costs a password hash, as a known one does,
	// is asserted in domain/identity (TestUnknownUsernameCostsAHash): with
	// the cheap test hashes, timing here is all noise.
	// A single wrong guess: the same answer whether the username exists.
	a := ta.do(req{Method: "POST", Path: "/api/v1/clerk/session", Body: map[string]string{"username": "merch-other", "password": "x"}})
	if a.Status != http.StatusUnauthorized || a.ErrCode(t) != "bad_credentials" {
		t.Errorf("unknown username, one guess: %d %s", a.Status, a.Body)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
