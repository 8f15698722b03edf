package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// shopView is what a shopper sees of one product on one server: its list
// entry's price and stock state, and its detail's first SKU.
func (ta *testApp) shopView(prod int64) (listPrice int64, listStock string, skuPrice int64, skuStock string) {
	ta.t.Helper()
	var list pageOut[productOut]
	ta.must(200, req{Method: "GET", Path: "/api/v1/shop/products?limit=50"}).Decode(ta.t, &list)
	for _, p := range list.Items {
		if p.ID == prod {
			listPrice, listStock = p.MinPriceFen, p.StockState
		}
	}
	var det productOut
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products/%d", prod)}).Decode(ta.t, &det)
	return listPrice, listStock, det.SKUs[0].PriceFen, det.SKUs[0].StockState
}

// Two servers on one database, each caching the shop's product pages: a
// change through one shows on it at once, and on the other within a second
// (the catalog's version, re-read every 200 ms, plus the half-second grace
// for writers not yet committed), however each had its pages cached.
func TestCatalogCacheTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := newTestApp(t, func(c *Config) { c.DatabaseURL = a.app.cfg.DatabaseURL })
	merch := a.staff(identity.RoleMerchandiser, "")
	cat := a.category(merch, 0, "女装")
	p := a.product(merch, dress(cat, "CC1", "缓存连衣裙", 29900, 10))
	sku := p.SKUs[0].ID

	for _, ta := range []*testApp{a, b} {
		if lp, ls, kp, ks := ta.shopView(p.ID); lp != 29900 || ls != "in_stock" || kp != 29900 || ks != "in_stock" {
			t.Fatalf("before: %d %s %d %s", lp, ls, kp, ks)
		}
	}
	// Both servers have the pages now; the merchandiser, on a, lowers the
	// price and a shows it on the very next read.
	a.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/skus/%d", sku), Token: merch,
		Body: map[string]any{"price_fen": 19900}})
	if lp, _, kp, _ := a.shopView(p.ID); lp != 19900 || kp != 19900 {
		t.Fatalf("the writing server after its write: list %d detail %d, want 19900", lp, kp)
	}
	waitShown := func(ta *testApp, what string, ok func(lp int64, ls string, kp int64, ks string) bool) {
		t.Helper()
		start := time.Now()
		for {
			if ok(ta.shopView(p.ID)) {
				if d := time.Since(start); d > time.Second {
					t.Errorf("%s took %v to show on the other server, want under a second", what, d)
				}
				return
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s never showed on the other server", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitShown(b, "a price change", func(lp int64, _ string, kp int64, _ string) bool { return lp == 19900 && kp == 19900 })

	// Stock: b takes the SKU's stock down; a's cached pages follow.
	b.must(201, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch,
		Body: map[string]any{"kind": "correct", "quantity": -10, "note": "盘点"}})
	if _, _, _, ks := b.shopView(p.ID); ks != "sold_out" {
		t.Fatalf("the writing server after its stock change: %s", ks)
	}
	waitShown(a, "a sell-out", func(_ int64, _ string, _ int64, ks string) bool { return ks == "sold_out" })
}
