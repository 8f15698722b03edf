package main

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/yutang/yutang/domain/identity"
)

type catCase struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Children []catCase `json:"children"`
}

type skuOut struct {
	ID           int64             `json:"id"`
	Code         string            `json:"code"`
	Specs        map[string]string `json:"specs"`
	PriceFen     int64             `json:"price_fen"`
	ListPriceFen int64             `json:"list_price_fen"`
	Stock        *int              `json:"stock"`
	StockState   string            `json:"stock_state"`
	Status       string            `json:"status"`
}

type productOut struct {
	ID          int64    `json:"id"`
	Title       string   `json:"title"`
	Status      string   `json:"status"`
	MinPriceFen int64    `json:"min_price_fen"`
	StockState  string   `json:"stock_state"`
	SKUs        []skuOut `json:"skus"`
}

type pageOut[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (ta *testApp) category(tok string, parent int64, name string) int64 {
	ta.t.Helper()
	var c catCase
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/categories", Token: tok,
		Body: map[string]any{"parent_id": parent, "name": name}}).Decode(ta.t, &c)
	return c.ID
}

// dress is a valid on-sale product body with a colour × size matrix.
func dress(cat int64, code, title string, price int64, stock int) map[string]any {
	var skus []map[string]any
	for i, c := range []string{"红", "蓝"} {
		for j, s := range []string{"S", "M"} {
			skus = append(skus, map[string]any{"code": fmt.Sprintf("%s-%d%d", code, i, j), "specs": map[string]string{"颜色": c, "尺码": s},
				"price_fen": price, "list_price_fen": price * 2, "initial_stock": stock})
		}
	}
	return map[string]any{"category_id": cat, "title": title, "status": "on_sale",
		"images": []string{"https://img.example.com/" + code + ".jpg"},
		"specs":  []map[string]any{{"name": "颜色", "values": []string{"红", "蓝"}}, {"name": "尺码", "values": []string{"S", "M"}}},
		"skus":   skus}
}

func (ta *testApp) product(tok string, body map[string]any) productOut {
	ta.t.Helper()
	var p productOut
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/products", Token: tok, Body: body}).Decode(ta.t, &p)
	return p
}

func fieldsOf(t *testing.T, r resp) []string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Details struct {
				Fields []struct {
					Field string `json:"field"`
				} `json:"fields"`
			} `json:"details"`
		} `json:"error"`
	}
	r.Decode(t, &e)
	var out []string
	for _, f := range e.Error.Details.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCatalogAdminWritesAndShopperBrowsing(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	women := ta.category(merch, 0, "女装")
	dresses := ta.category(merch, women, "连衣裙")
	ta.category(merch, 0, "男装")

	p := ta.product(merch, dress(dresses, "DR1", "法式碎花连衣裙", 29900, 10))
	if p.Status != "on_sale" || len(p.SKUs) != 4 || p.MinPriceFen != 29900 || *p.SKUs[0].Stock != 10 {
		t.Fatalf("created product: %+v", p)
	}
	ta.product(merch, dress(dresses, "DR2", "真丝吊带长裙", 89900, 3))
	draft := dress(dresses, "DR3", "草稿连衣裙", 100, 1)
	draft["status"] = "draft"
	d := ta.product(merch, draft)

	// Categories: a tree, in order.
	var cats pageOut[catCase]
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/categories"}).Decode(t, &cats)
	if len(cats.Items) != 2 || cats.Items[0].Name != "女装" || len(cats.Items[0].Children) != 1 || cats.Items[0].Children[0].Name != "连衣裙" {
		t.Fatalf("tree: %+v", cats)
	}

	// Chinese search finds a title containing the words; drafts stay hidden.
	shopper, _ := ta.shopper("alice")
	var list pageOut[productOut]
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?q=" + url.QueryEscape("连衣裙"), Token: shopper}).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Title != "法式碎花连衣裙" {
		t.Fatalf("search 连衣裙: %+v", list)
	}
	// Category filter includes subcategories; anonymous visitors may browse.
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products?category_id=%d&sort=price_desc", women)}).Decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].Title != "真丝吊带长裙" {
		t.Fatalf("category + price_desc: %+v", list)
	}
	// Detail: spec matrix and stock states, never counts.
	r := ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", p.ID)})
	if strings.Contains(string(r.Body), `"stock":`) {
		t.Fatalf("raw stock leaked to shoppers: %s", r.Body)
	}
	var det productOut
	r.Decode(t, &det)
	if len(det.SKUs) != 4 || det.SKUs[0].StockState != "in_stock" || det.SKUs[0].ListPriceFen != 59800 {
		t.Fatalf("detail: %s", r.Body)
	}
	ta.must(404, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", d.ID)})

	// Stock states: low at ≤ 5, sold out at 0.
	sku := p.SKUs[0].ID
	ta.must(201, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch,
		Body: map[string]any{"kind": "damage", "quantity": 6, "note": "水渍"}})
	ta.must(201, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", p.SKUs[1].ID), Token: merch,
		Body: map[string]any{"kind": "correct", "quantity": -10, "note": "盘点"}})
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", p.ID)}).Decode(t, &det)
	if det.SKUs[0].StockState != "low" || det.SKUs[1].StockState != "sold_out" || det.SKUs[2].StockState != "in_stock" {
		t.Fatalf("stock states: %+v", det.SKUs)
	}
	// Below zero is refused.
	r = ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch,
		Body: map[string]any{"kind": "damage", "quantity": 5, "note": "x"}})
	if r.Status != 409 || r.ErrCode(t) != "out_of_stock" {
		t.Fatalf("damage below zero: %d %s", r.Status, r.Body)
	}
	// A note is required for a damage write-off.
	r = ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch,
		Body: map[string]any{"kind": "damage", "quantity": 1}})
	if r.Status != 400 || !contains(fieldsOf(t, r), "note") {
		t.Fatalf("damage without note: %d %s", r.Status, r.Body)
	}
	// The ledger shows every movement, newest first, paginated.
	var ledger pageOut[map[string]any]
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-ledger?limit=1", sku), Token: merch}).Decode(t, &ledger)
	if len(ledger.Items) != 1 || ledger.Items[0]["kind"] != "damage" || ledger.Items[0]["delta"] != float64(-6) || ledger.NextCursor == "" {
		t.Fatalf("ledger page 1: %+v", ledger)
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-ledger?limit=1&cursor=%s", sku, ledger.NextCursor), Token: merch}).Decode(t, &ledger)
	if len(ledger.Items) != 1 || ledger.Items[0]["kind"] != "receive" || ledger.NextCursor != "" {
		t.Fatalf("ledger page 2: %+v", ledger)
	}

	// Price change by PATCH, audited as sku.price.
	var k skuOut
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/skus/%d", sku), Token: merch,
		Body: map[string]any{"price_fen": 19900}}).Decode(t, &k)
	if k.PriceFen != 19900 {
		t.Fatalf("patched sku: %+v", k)
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products?sort=price_asc&category_id=%d", dresses)}).Decode(t, &list)
	if list.Items[0].MinPriceFen != 19900 {
		t.Fatalf("min price after the change: %+v", list.Items)
	}

	// Off sale: invisible to shoppers, still in the admin list.
	ta.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/products/%d/status", p.ID), Token: merch,
		Body: map[string]string{"status": "off_sale"}})
	ta.must(404, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", p.ID)})
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?q=" + url.QueryEscape("碎花")}).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("off-sale product listed: %+v", list)
	}
	var all pageOut[productOut]
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/products", Token: merch}).Decode(t, &all)
	if len(all.Items) != 3 {
		t.Fatalf("admin list: %+v", all)
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/products?status=off_sale", Token: merch}).Decode(t, &all)
	if len(all.Items) != 1 || all.Items[0].ID != p.ID {
		t.Fatalf("admin list by status: %+v", all)
	}

	// Every write above is in the audit log, with before and after.
	admin := ta.staff(identity.RoleAdmin, "")
	var audit pageOut[map[string]any]
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/audit-log?limit=100", Token: admin}).Decode(t, &audit)
	actions := map[string]int{}
	for _, e := range audit.Items {
		actions[e["action"].(string)]++
		if e["action"] == "sku.price" && (e["before"] == nil || e["after"] == nil) {
			t.Errorf("price audit lacks before/after: %v", e)
		}
	}
	for _, want := range []string{"category.create", "product.create", "stock.damage", "stock.correct", "sku.price", "product.status"} {
		if actions[want] == 0 {
			t.Errorf("no %s in the audit log: %v", want, actions)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestCatalogValidationNamesTheField(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	cat := ta.category(merch, 0, "女装")
	cases := []struct {
		name   string
		mutate func(b map[string]any)
		status int
		code   string
		field  string
	}{
		{"zero price", func(b map[string]any) { b["skus"].([]map[string]any)[1]["price_fen"] = 0 }, 400, "validation_failed", "skus[1].price_fen"},
		{"list below price", func(b map[string]any) { b["skus"].([]map[string]any)[0]["list_price_fen"] = 1 }, 400, "validation_failed", "skus[0].list_price_fen"},
		{"image not a url", func(b map[string]any) { b["images"] = []string{"ftp://x/y.jpg"} }, 400, "validation_failed", "images[0]"},
		{"ten images", func(b map[string]any) {
			b["images"] = strings.Split(strings.Repeat("https://a.example/x.jpg,", 10)[:239], ",")
		}, 400, "validation_failed", "images"},
		{"no title", func(b map[string]any) { b["title"] = "" }, 400, "validation_failed", "title"},
		{"long title", func(b map[string]any) { b["title"] = strings.Repeat("裙", 121) }, 400, "validation_failed", "title"},
		{"spec value not in dims", func(b map[string]any) {
			b["skus"].([]map[string]any)[2]["specs"] = map[string]string{"颜色": "绿", "尺码": "S"}
		}, 400, "validation_failed", "skus[2].specs"},
		{"missing spec", func(b map[string]any) { b["skus"].([]map[string]any)[2]["specs"] = map[string]string{"颜色": "红"} }, 400, "validation_failed", "skus[2].specs"},
		{"bad sku code", func(b map[string]any) { b["skus"].([]map[string]any)[0]["code"] = "has space" }, 400, "validation_failed", "skus[0].code"},
		{"duplicate specs", func(b map[string]any) {
			b["skus"].([]map[string]any)[1]["specs"] = map[string]string{"颜色": "红", "尺码": "S"}
		}, 409, "sku_specs_taken", ""},
		{"duplicate codes", func(b map[string]any) { b["skus"].([]map[string]any)[1]["code"] = "V-00" }, 409, "sku_code_taken", ""},
		{"on sale with no sku on sale", func(b map[string]any) {
			for _, s := range b["skus"].([]map[string]any) {
				s["status"] = "off_sale"
			}
		}, 409, "product_needs_sku_on_sale", ""},
		{"unknown category", func(b map[string]any) { b["category_id"] = 999999 }, 404, "category_not_found", ""},
		{"unknown field", func(b map[string]any) { b["colour"] = "red" }, 400, "validation_failed", "colour"},
	}
	for _, c := range cases {
		b := dress(cat, "V", "校验用连衣裙", 100, 0)
		c.mutate(b)
		r := ta.do(req{Method: "POST", Path: "/api/v1/admin/products", Token: merch, Body: b})
		if r.Status != c.status || r.ErrCode(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
			continue
		}
		if c.field != "" && !contains(fieldsOf(t, r), c.field) {
			t.Errorf("%s: field %s not named: %s", c.name, c.field, r.Body)
		}
	}
	// A SKU code taken by another product is a clear conflict.
	p := ta.product(merch, dress(cat, "A", "连衣裙 A", 100, 0))
	r := ta.do(req{Method: "POST", Path: "/api/v1/admin/products", Token: merch,
		Body: map[string]any{"category_id": cat, "title": "香薰", "skus": []map[string]any{{"code": "A-00", "price_fen": 100}}}})
	if r.Status != 409 || r.ErrCode(t) != "sku_code_taken" {
		t.Fatalf("taken code on another product: %d %s", r.Status, r.Body)
	}
	q := ta.product(merch, dress(cat, "B", "连衣裙 B", 100, 0))
	r = ta.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/skus/%d", q.SKUs[0].ID), Token: merch, Body: map[string]any{"code": "A-01"}})
	if r.Status != 409 || r.ErrCode(t) != "sku_code_taken" {
		t.Fatalf("rename to a taken code: %d %s", r.Status, r.Body)
	}
	// Taking the last on-sale SKU off sale of an on-sale product is refused.
	for i, s := range q.SKUs {
		r = ta.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/skus/%d", s.ID), Token: merch, Body: map[string]any{"status": "off_sale"}})
		if i < 3 && r.Status != 200 || i == 3 && r.ErrCode(t) != "product_needs_sku_on_sale" {
			t.Fatalf("sku %d off sale: %d %s", i, r.Status, r.Body)
		}
	}
	// Removing a spec value a SKU uses is refused.
	r = ta.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/products/%d", q.ID), Token: merch,
		Body: map[string]any{"specs": []map[string]any{{"name": "颜色", "values": []string{"红"}}, {"name": "尺码", "values": []string{"S", "M"}}}}})
	if r.Status != 409 || r.ErrCode(t) != "spec_value_in_use" {
		t.Fatalf("remove a used spec value: %d %s", r.Status, r.Body)
	}
	// Shopper list parameters are checked.
	for _, bad := range []string{"sort=cheapest", "limit=0", "limit=101", "category_id=x", "cursor=bm90LWEtY3Vyc29y"} {
		if r := ta.do(req{Method: "GET", Path: "/api/v1/shop/products?" + bad}); r.Status != 400 {
			t.Errorf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
	// A category cannot move under its own descendant, nor be deleted while full.
	sub := ta.category(merch, cat, "连衣裙")
	r = ta.do(req{Method: "PUT", Path: fmt.Sprintf("/api/v1/admin/categories/%d", cat), Token: merch, Body: map[string]any{"parent_id": sub, "name": "女装"}})
	if r.Status != 409 || r.ErrCode(t) != "category_cycle" {
		t.Fatalf("cycle: %d %s", r.Status, r.Body)
	}
	r = ta.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/categories/%d", cat), Token: merch})
	if r.Status != 409 || r.ErrCode(t) != "category_not_empty" {
		t.Fatalf("delete full category: %d %s", r.Status, r.Body)
	}
	ta.must(200, req{Method: "PUT", Path: fmt.Sprintf("/api/v1/admin/categories/%d", sub), Token: merch, Body: map[string]any{"parent_id": 0, "name": "裙装", "sort": 5}})
	ta.must(204, req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/categories/%d", sub), Token: merch})
	// A draft that never moved stock can be deleted; one with stock history cannot.
	ta.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/products/%d/status", p.ID), Token: merch, Body: map[string]string{"status": "draft"}})
	ta.must(204, req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/products/%d", p.ID), Token: merch})
	ta.must(404, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/products/%d", p.ID), Token: merch})
	stocked := ta.product(merch, dress(cat, "C", "连衣裙 C", 100, 2))
	ta.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/products/%d/status", stocked.ID), Token: merch, Body: map[string]string{"status": "off_sale"}})
	if r := ta.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/products/%d", stocked.ID), Token: merch}); r.ErrCode(t) != "product_in_use" {
		t.Fatalf("delete stocked product: %d %s", r.Status, r.Body)
	}
}

func TestCatalogRoleDenials(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	cat := ta.category(merch, 0, "女装")
	p := ta.product(merch, dress(cat, "R", "连衣裙", 100, 1))
	sku := p.SKUs[0].ID
	clerk := ta.staff(identity.RoleClerk, "S1")
	ops := ta.staff(identity.RoleOperator, "")
	shopper, _ := ta.shopper("bob")
	writes := []req{
		{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/skus/%d", sku), Body: map[string]any{"price_fen": 1}},
		{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Body: map[string]any{"kind": "receive", "quantity": 1}},
		{Method: "POST", Path: "/api/v1/admin/products", Body: dress(cat, "X", "x", 1, 0)},
		{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/products/%d", p.ID), Body: map[string]any{"title": "x"}},
		{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/products/%d/status", p.ID), Body: map[string]any{"status": "off_sale"}},
		{Method: "POST", Path: "/api/v1/admin/categories", Body: map[string]any{"name": "x"}},
		{Method: "POST", Path: "/api/v1/admin/stores", Body: map[string]any{"code": "X", "name": "x"}},
	}
	for _, w := range writes {
		for who, tok := range map[string]string{"clerk": clerk, "operator": ops, "shopper": shopper} {
			w.Token = tok
			if r := ta.do(w); r.Status != 403 {
				t.Errorf("%s %s %s: %d %s", who, w.Method, w.Path, r.Status, r.Body)
			}
		}
		w.Token = ""
		if r := ta.do(w); r.Status != 401 {
			t.Errorf("anonymous %s %s: %d", w.Method, w.Path, r.Status)
		}
	}
	// Operators may read the catalog; clerks may not reach /admin at all.
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/products", Token: ops})
	ta.must(403, req{Method: "GET", Path: "/api/v1/admin/products", Token: clerk})
	ta.must(403, req{Method: "GET", Path: "/api/v1/admin/products", Token: shopper})
	// Nothing changed.
	var got productOut
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/products/%d", p.ID), Token: merch}).Decode(t, &got)
	if got.SKUs[0].PriceFen != 100 || *got.SKUs[0].Stock != 1 || got.Title != "连衣裙" {
		t.Fatalf("denied writes changed the product: %+v", got)
	}
}

func TestStoresAdmin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.staff(identity.RoleAdmin, "")
	var s map[string]any
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/stores", Token: admin, Body: map[string]any{
		"code": "SH-XH", "name": "徐汇店", "address": "上海市徐汇区", "latitude": 31.2, "longitude": 121.4, "opening_hours": "10:00-22:00"}}).Decode(t, &s)
	id := int64(s["id"].(float64))
	if s["status"] != "open" {
		t.Fatalf("store: %v", s)
	}
	r := ta.do(req{Method: "POST", Path: "/api/v1/admin/stores", Token: admin, Body: map[string]any{"code": "SH-XH", "name": "again"}})
	if r.Status != 409 || r.ErrCode(t) != "store_code_taken" {
		t.Fatalf("duplicate code: %d %s", r.Status, r.Body)
	}
	r = ta.do(req{Method: "POST", Path: "/api/v1/admin/stores", Token: admin, Body: map[string]any{"code": "X", "name": "x", "opening_hours": "all day", "latitude": 31.0}})
	if f := fieldsOf(t, r); r.Status != 400 || !contains(f, "opening_hours") || !contains(f, "latitude") {
		t.Fatalf("bad store: %d %s", r.Status, r.Body)
	}
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/stores/%d", id), Token: admin, Body: map[string]any{"status": "closed"}}).Decode(t, &s)
	if s["status"] != "closed" || s["name"] != "徐汇店" {
		t.Fatalf("patched: %v", s)
	}
	var list pageOut[map[string]any]
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/stores?limit=1", Token: admin}).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("stores: %+v", list)
	}
	// A store with staff cannot be deleted; an empty one can.
	ta.staff(identity.RoleClerk, "SH-XH")
	if r := ta.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/stores/%d", id), Token: admin}); r.ErrCode(t) != "store_in_use" {
		t.Fatalf("delete staffed store: %d %s", r.Status, r.Body)
	}
	var e map[string]any
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/stores", Token: admin, Body: map[string]any{"code": "TMP", "name": "临时"}}).Decode(t, &e)
	ta.must(204, req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/admin/stores/%d", int64(e["id"].(float64))), Token: admin})
	var audit pageOut[map[string]any]
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/audit-log?entity=store", Token: admin}).Decode(t, &audit)
	if len(audit.Items) != 4 {
		t.Fatalf("store audit records: %d", len(audit.Items))
	}
}

// Keyset pagination walks every product once, in order, for every sort.
func TestShopProductPagination(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	cat := ta.category(merch, 0, "女装")
	for i := 0; i < 25; i++ {
		b := dress(cat, fmt.Sprintf("P%02d", i), fmt.Sprintf("连衣裙 %02d", i), int64(100+i%7*10), 1)
		b["sort_weight"] = i % 3
		ta.product(merch, b)
	}
	for _, sort := range []string{"default", "price_asc", "price_desc", "newest", "sales"} {
		seen := map[int64]bool{}
		cursor, pages := "", 0
		var last int64 = -1
		for {
			var page pageOut[productOut]
			ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?limit=7&sort=" + sort + "&cursor=" + url.QueryEscape(cursor)}).Decode(t, &page)
			pages++
			for _, p := range page.Items {
				if seen[p.ID] {
					t.Fatalf("%s: product %d twice", sort, p.ID)
				}
				seen[p.ID] = true
				if sort == "price_asc" && p.MinPriceFen < last {
					t.Fatalf("%s: out of order", sort)
				}
				last = p.MinPriceFen
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(seen) != 25 || pages != 4 {
			t.Fatalf("%s: saw %d products in %d pages", sort, len(seen), pages)
		}
	}
}

// The demo data (catalog, attribution) loads, a second load changes nothing, and every
// invariant holds.
func TestDemoDataIsIdempotent(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := t.Context()
	if err := ta.app.loadDemo(ctx, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	count := func() (n [6]int) {
		for i, q := range []string{`SELECT count(*) FROM products`, `SELECT count(*) FROM skus`, `SELECT count(*) FROM stock_ledger`,
			`SELECT count(*) FROM categories`, `SELECT count(*) FROM touchpoints`, `SELECT count(*) FROM touches`} {
			if err := ta.app.db.Get(&n[i], q); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	first := count()
	if first[0] < 20 || first[3] < 10 || first[4] < 5 || first[5] < 40 {
		t.Fatalf("demo catalog too small: %v", first)
	}
	if err := ta.app.loadDemo(ctx, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	if again := count(); again != first {
		t.Fatalf("second load changed counts: %v → %v", first, again)
	}
	var out strings.Builder
	if err := ta.app.check(ctx, &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	var list pageOut[productOut]
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?q=" + url.QueryEscape("连衣裙")}).Decode(t, &list)
	if len(list.Items) < 3 {
		t.Fatalf("demo search: %+v", list)
	}
	// The demo posts have visitors in today's report.
	admin := ta.staff(identity.RoleAdmin, "")
	var rep struct {
		Items []struct {
			Name           string `json:"name"`
			Touches        int64  `json:"touches"`
			UniqueVisitors int64  `json:"unique_visitors"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post", Token: admin}).Decode(t, &rep)
	if len(rep.Items) != 3 || rep.Items[0].Touches == 0 || rep.Items[0].UniqueVisitors == 0 {
		t.Fatalf("demo attribution report %+v", rep)
	}
	// The coupon centre has the demo coupons (and the pre-heating drop), the
	// card its tiers and top-up packages, once each after two loads.
	var centre struct {
		Items []struct {
			Name      string `json:"name"`
			Claimable bool   `json:"claimable"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/coupon-center"}).Decode(t, &centre)
	if len(centre.Items) < 2 {
		t.Fatalf("demo coupon centre %+v", centre)
	}
	var tiers, pkgs struct {
		Items []any `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/member-tiers", Token: admin}).Decode(t, &tiers)
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/topup-packages", Token: admin}).Decode(t, &pkgs)
	if len(tiers.Items) != 3 || len(pkgs.Items) != 2 {
		t.Fatalf("demo tiers %d, packages %d", len(tiers.Items), len(pkgs.Items))
	}
	// The tier list pages.
	var p1, p2 struct {
		Items      []struct{ ID int64 } `json:"items"`
		NextCursor string               `json:"next_cursor"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/member-tiers?limit=2", Token: admin}).Decode(t, &p1)
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/member-tiers?limit=2&cursor=" + p1.NextCursor, Token: admin}).Decode(t, &p2)
	if len(p1.Items) != 2 || p1.NextCursor == "" || len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].ID <= p1.Items[1].ID {
		t.Fatalf("tier pages %+v then %+v", p1, p2)
	}
}

// Parallel stock adjustments over HTTP keep stock = ledger and never < 0.
func TestStockAdjustmentsOverHTTPInParallel(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	cat := ta.category(merch, 0, "女装")
	p := ta.product(merch, dress(cat, "H", "热卖连衣裙", 100, 10))
	sku := p.SKUs[0].ID
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"kind": "damage", "quantity": 1, "note": "x"}
			if i%4 == 0 {
				body = map[string]any{"kind": "receive", "quantity": 1}
			}
			r := ta.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch, Body: body})
			if r.Status != 201 && r.ErrCode(t) != "out_of_stock" {
				t.Errorf("adjust: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	var out strings.Builder
	if err := ta.app.check(t.Context(), &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
}
