package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

// BenchmarkCouponClaimHot measures claims on one hot template (every claim
// takes the same row): 32 clients claim for distinct shoppers at once until
// 5,000 coupons are issued. Reports claims/s and the p50/p99 latency.
func BenchmarkCouponClaimHot(b *testing.B) {
	a, _ := benchApp(b)
	ctx := context.Background()
	const claims, clients = 5000, 32
	var ids []int64
	if err := a.db.Select(&ids, `INSERT INTO shoppers (openid) SELECT 'hot-' || g FROM generate_series(1, $1) g RETURNING id`, claims); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		t, err := a.svc.Coupons.CreateTemplate(ctx, domain.System, "", coupon.Template{Name: "hot", Kind: pricing.CouponNoThreshold,
			AmountOff: 100, ValidDays: 7, Total: claims, PerShopper: 1, Claimable: true, Status: coupon.StatusActive})
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		lat := make([]time.Duration, claims)
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= claims {
						return
					}
					t0 := time.Now()
					if _, err := a.svc.Coupons.Claim(ctx, ids[i], t.ID); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(claims)/el.Seconds(), "claims/s")
		b.ReportMetric(float64(lat[claims/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[claims*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkCheckoutPreview30Coupons measures POST /checkout/preview's
// service for a shopper holding 30 coupons (10 stackable-free kinds: amount
// off, percent off with caps, no threshold, over scopes) on a 5-line cart:
// loading the coupons, pricing each alone and choosing the best. Reports
// the p50/p99 latency.
func BenchmarkCheckoutPreview30Coupons(b *testing.B) {
	a, _ := benchApp(b)
	ctx := context.Background()
	var cat, prod, store, shopper int64
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(a.db.Get(&cat, `INSERT INTO categories (name) VALUES ('Tea') RETURNING id`))
	must(a.db.Get(&prod, `INSERT INTO products (category_id, title, status) VALUES ($1, 'Longjing', 'on_sale') RETURNING id`, cat))
	var skus []int64
	must(a.db.Select(&skus, `INSERT INTO skus (product_id, code, specs, price_fen, stock)
SELECT $1::bigint, 'B-' || g, jsonb_build_object('g', g), 1000 * g, 1000 FROM generate_series(1, 5) g RETURNING id`, prod))
	must(a.db.Get(&store, `INSERT INTO stores (code, name) VALUES ('B1', 'B1') RETURNING id`))
	must(a.db.Get(&shopper, `INSERT INTO shoppers (openid) VALUES ('bench-30') RETURNING id`))
	for i := range 30 {
		t := coupon.Template{Name: fmt.Sprint("c", i), ValidDays: 7, Total: 10, PerShopper: 1, Claimable: true, Status: coupon.StatusActive}
		switch i % 3 {
		case 0:
			t.Kind, t.Threshold, t.AmountOff = pricing.CouponAmountOff, domain.Fen(1000*(i%8)), domain.Fen(100+i)
		case 1:
			t.Kind, t.PercentOffBP, t.MaxOff = pricing.CouponPercentOff, int64(500+i*10), domain.Fen(500+i)
		default:
			t.Kind, t.AmountOff = pricing.CouponNoThreshold, domain.Fen(50+i)
		}
		if i%5 == 0 {
			t.Scope = pricing.Scope{Kind: pricing.ScopeCategories, IDs: []int64{cat}}
		}
		tp, err := a.svc.Coupons.CreateTemplate(ctx, domain.System, "", t)
		must(err)
		_, err = a.svc.Coupons.Claim(ctx, shopper, tp.ID)
		must(err)
	}
	in := order.PlaceInput{ShopperID: shopper, Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: store}}
	for i, k := range skus {
		in.Items = append(in.Items, order.LineRequest{SKUID: k, Quantity: i + 1})
	}
	var lat []time.Duration
	for b.Loop() {
		for range 200 {
			t0 := time.Now()
			q, err := a.svc.Orders.Preview(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if len(q.Coupons.Usable)+len(q.Coupons.Unusable) != 30 {
				b.Fatalf("%d usable, %d unusable", len(q.Coupons.Usable), len(q.Coupons.Unusable))
			}
			lat = append(lat, time.Since(t0))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
