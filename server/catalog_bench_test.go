package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"
)

// benchCatalogSQL generates a 10,000-product catalog in one go: 4 root and
// 20 leaf categories, 10,000 products (90% on sale, titles mixing Chinese
// words so that search has something to find), three SKUs each, and the
// ledger rows the SKUs' stock came from.
const benchCatalogSQL = `
INSERT INTO categories (name, sort) SELECT '根' || g, g FROM generate_series(1, 4) g;
INSERT INTO categories (parent_id, name, sort) SELECT 1 + g % 4, '类' || g, g FROM generate_series(1, 20) g;
INSERT INTO products (category_id, title, subtitle, images, spec_dims, status, sort_weight, sales, min_price_fen, created_at)
SELECT 5 + g % 20,
       (ARRAY['法式','复古','简约','真丝','纯棉','亚麻','针织','宽松','修身','碎花'])[1 + g % 10] ||
       (ARRAY['连衣裙','衬衫','T恤','半身裙','外套','卫衣','长裤','开衫','风衣','马甲','西装','毛衣','短裤'])[1 + g % 13] || ' ' || g,
       '副标题 ' || g,
       ARRAY['https://img.example.com/p/' || g || '.jpg'],
       '[{"name":"颜色","values":["红","蓝","黑"]}]',
       CASE WHEN g % 10 = 0 THEN 'off_sale' ELSE 'on_sale' END,
       g % 50, (g * 7919) % 5000, 1000 + (g * 104729) % 90000,
       now() - make_interval(mins => g)
FROM generate_series(1, 10000) g;
INSERT INTO skus (product_id, code, specs, price_fen, list_price_fen, stock, status)
SELECT p.id, 'B' || p.id || '-' || c.n, jsonb_build_object('颜色', c.v), p.min_price_fen + (c.n - 1) * 100, 0,
       (p.id * c.n) % 40, 'on_sale'
FROM products p CROSS JOIN (VALUES (1, '红'), (2, '蓝'), (3, '黑')) AS c(n, v);
INSERT INTO stock_ledger (sku_id, kind, delta, actor, note, at)
SELECT id, 'receive', stock, 'system', 'bench', now() FROM skus WHERE stock > 0;
ANALYZE;`

// benchServer is the whole program on a fresh database holding the
// generated catalog, served over HTTP.
func benchServer(b *testing.B) (*httptest.Server, *app) {
	b.Helper()
	a := benchOpen(b, testConfig(b, nil))
	if _, err := a.db.Exec(benchCatalogSQL); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.api().Handler())
	b.Cleanup(srv.Close)
	return srv, a
}

// latencies runs get b.N times and reports p50 and p99 in microseconds.
func latencies(b *testing.B, get func(i int) string, client *http.Client) {
	b.Helper()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := get(i)
		t0 := time.Now()
		res, err := client.Get(path)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		ds = append(ds, time.Since(t0))
		if res.StatusCode != 200 {
			b.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	b.StopTimer()
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkProductList: shopper list pages over HTTP against 10,000
// products, per sort, with a category filter and with Chinese search.
func BenchmarkProductList(b *testing.B) {
	srv, _ := benchServer(b)
	base := srv.URL + "/api/v1/shop/products?limit=20"
	// a deep cursor: page 50 of price_asc
	deep := ""
	{
		cur := ""
		for i := 0; i < 50; i++ {
			var page struct {
				Next string `json:"next_cursor"`
			}
			res, err := srv.Client().Get(base + "&sort=price_asc&cursor=" + url.QueryEscape(cur))
			if err != nil {
				b.Fatal(err)
			}
			err = json.NewDecoder(res.Body).Decode(&page)
			res.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			cur = page.Next
		}
		deep = cur
	}
	cases := []struct{ name, query string }{
		{"default", ""},
		{"price_asc", "&sort=price_asc"},
		{"price_asc_page50", "&sort=price_asc&cursor=" + url.QueryEscape(deep)},
		{"newest", "&sort=newest"},
		{"sales", "&sort=sales"},
		{"category", "&category_id=1"},
		{"search_连衣裙", "&q=" + url.QueryEscape("连衣裙")},
		{"search_法式连衣裙_sales", "&sort=sales&q=" + url.QueryEscape("法式连衣裙")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			latencies(b, func(int) string { return base + c.query }, srv.Client())
		})
	}
}

// BenchmarkProductDetail: a product with its SKU matrix over HTTP.
func BenchmarkProductDetail(b *testing.B) {
	srv, _ := benchServer(b)
	latencies(b, func(i int) string {
		id := 1 + (i*7919)%10000
		if id%10 == 0 {
			id++ // off sale ones answer 404
		}
		return fmt.Sprintf("%s/api/v1/shop/products/%d", srv.URL, id)
	}, srv.Client())
}
