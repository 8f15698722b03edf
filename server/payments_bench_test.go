package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/order"
)

// BenchmarkPaymentNotification measures notification handling end to end:
// POST /webhooks/wechatpay/transactions with a genuine signed, encrypted
// notification from the simulator → SDK verification (RSA-SHA256) and
// AES-256-GCM decryption → checks → the exactly-once apply transaction
// (payment row, attempt, order paid, stock sold, notification log). Setup
// (placing b.N orders, prepaying and paying them at the simulator, capturing
// the notifications) is not timed.
//
//	go run ./storage/pglocal/pgrun -- go test -run '^$' -bench PaymentNotification -benchtime 1000x ./server/
func BenchmarkPaymentNotification(b *testing.B) {
	for _, workers := range []int{1, 8} {
		for _, koc := range []bool{false, true} {
			b.Run(fmt.Sprintf("senders=%d/commission=%t", workers, koc), func(b *testing.B) { benchNotifications(b, workers, koc) })
		}
	}
}

// benchNotifications applies b.N payment notifications. Every order's buyer
// arrived through a shopper's share link, so applying the payment
// attributes the order to them; with koc that shopper is an active KOC and
// the payment also accrues commission (the difference is the accrual).
func benchNotifications(b *testing.B, workers int, koc bool) {
	ctx := context.Background()
	pa := &payApp{}
	url, h := pa.listen(b)
	cfg := testConfig(b, nil)
	cfg.PublicURL, cfg.WxPay.SimSpeedup = url, 1000
	a := benchOpen(b, cfg)
	srv := httptest.NewServer(a.api().Handler())
	b.Cleanup(srv.Close)
	h.Store(handlerBox{srv.Config.Handler})
	pa.capture.Store(true) // the simulator's deliveries are recorded, not applied

	var storeID, sku int64
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(a.db.Get(&storeID, `INSERT INTO stores (code, name) VALUES ('BENCH', 'Bench') RETURNING id`))
	must(a.db.Get(&sku, `WITH c AS (INSERT INTO categories (name) VALUES ('Tea') RETURNING id),
p AS (INSERT INTO products (category_id, title, status, images, min_price_fen) SELECT id, '龙井', 'on_sale', '{https://img/1.jpg}', 1000 FROM c RETURNING id)
INSERT INTO skus (product_id, code, specs, price_fen, stock) SELECT id, 'B-1', '{}', 1000, $1 FROM p RETURNING id`, b.N))
	_, err := a.db.Exec(`INSERT INTO stock_ledger (sku_id, kind, delta, actor, at) VALUES ($1, 'receive', $2, 'system', now())`, sku, b.N)
	must(err)
	_, sh, err := a.svc.Identity.ShopperSignIn(ctx, "bench-shopper", "")
	must(err)
	benchKOC(b, a, sh.ID, sku, koc)
	for i := 0; i < b.N; i++ {
		o, err := a.svc.Orders.Place(ctx, order.PlaceInput{ShopperID: sh.ID, Items: []order.LineRequest{{SKUID: sku, Quantity: 1}},
			Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: storeID}, IdempotencyKey: fmt.Sprint("bench-", i)})
		must(err)
		_, err = a.svc.Cashier.Pay(ctx, sh.ID, o.Number)
		must(err)
		must(a.pay.sim.Pay(o.Number+"-1", ""))
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	must(a.pay.sim.WaitIdle(wctx))
	ds := pa.deliveries()
	if len(ds) != b.N {
		b.Fatalf("captured %d notifications, want %d", len(ds), b.N)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ds) {
					return
				}
				d := ds[i]
				hr, _ := http.NewRequest("POST", srv.URL+d.Path, bytes.NewReader(d.Body))
				hr.Header = d.Header.Clone()
				res, err := client.Do(hr)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusNoContent {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d notifications not answered 204", failed.Load())
	}
	var paid int
	must(a.db.Get(&paid, `SELECT count(*) FROM orders WHERE status = 'paid'`))
	if paid != b.N {
		b.Fatalf("%d orders paid, want %d", paid, b.N)
	}
	if koc {
		var earned int
		must(a.db.Get(&earned, `SELECT count(*) FROM commission_orders`))
		if earned != b.N {
			b.Fatalf("%d orders earned commission, want %d", earned, b.N)
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
}
