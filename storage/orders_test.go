package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// orderFixture is a store, a product and its SKUs (with stock received
// through the ledger) and shoppers.
type orderFixture struct {
	db       *sqlx.DB
	storeID  int64
	skus     []int64
	shoppers []int64
}

func newOrderFixture(t testing.TB, db *sqlx.DB, skus, stock, shoppers int) orderFixture {
	t.Helper()
	f := orderFixture{db: db}
	must(t, db.Get(&f.storeID, `INSERT INTO stores (code, name) VALUES ('S1', 'Store one') RETURNING id`))
	var cat, prod int64
	must(t, db.Get(&cat, `INSERT INTO categories (name) VALUES ('Tea') RETURNING id`))
	must(t, db.Get(&prod, `INSERT INTO products (category_id, title, status) VALUES ($1, 'Longjing', 'on_sale') RETURNING id`, cat))
	must(t, db.Select(&f.skus, `
INSERT INTO skus (product_id, code, specs, price_fen, stock)
SELECT $1, 'SKU-' || g, jsonb_build_object('size', g::text), 1990 + g, $3 FROM generate_series(1, $2) g RETURNING id`,
		prod, skus, stock))
	_, err := db.Exec(`INSERT INTO stock_ledger (sku_id, kind, delta, actor, at) SELECT id, 'receive', stock, 'system', now() FROM skus`)
	must(t, err)
	must(t, db.Select(&f.shoppers, `INSERT INTO shoppers (openid) SELECT 'o-' || g FROM generate_series(1, $1) g RETURNING id`, shoppers))
	return f
}

func newOrderService(db *sqlx.DB) *order.Service {
	return &order.Service{Store: storage.New(db).Orders()}
}

func pickup(storeID int64) order.FulfillmentRequest {
	return order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: storeID}
}

// checkStock fails unless the SKU's counters are as wanted and equal its ledger.
func checkStock(t testing.TB, db *sqlx.DB, sku int64, stock, reserved int) {
	t.Helper()
	var r struct {
		Stock    int `db:"stock"`
		Reserved int `db:"reserved"`
		D        int `db:"d"`
		R        int `db:"r"`
	}
	if err := db.Get(&r, `SELECT s.stock, s.reserved, (SELECT COALESCE(sum(delta), 0) FROM stock_ledger WHERE sku_id = s.id) d,
  (SELECT COALESCE(sum(reserved_delta), 0) FROM stock_ledger WHERE sku_id = s.id) r FROM skus s WHERE id = $1`, sku); err != nil {
		t.Fatal(err)
	}
	if r.Stock != stock || r.Reserved != reserved || r.D != r.Stock || r.R != r.Reserved {
		t.Fatalf("sku %d: stock %d reserved %d (ledger %d/%d), want %d/%d", sku, r.Stock, r.Reserved, r.D, r.R, stock, reserved)
	}
}

// Flash sale: 500 shoppers at once try to buy the last 20 units of one SKU.
// Exactly 20 orders exist, the stock is zero, the ledger balances, and every
// other shopper got out_of_stock.
func TestOrderFlashSaleNeverOversells(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	db.SetMaxOpenConns(20)
	const shoppers, units = 500, 20
	f := newOrderFixture(t, db, 1, units, shoppers)
	svc := newOrderService(db)
	ctx := context.Background()
	q, err := svc.Preview(ctx, order.PlaceInput{ShopperID: f.shoppers[0], Items: []order.LineRequest{{SKUID: f.skus[0], Quantity: 1}},
		Fulfillment: pickup(f.storeID)})
	if err != nil {
		t.Fatal(err)
	}
	payable := q.Breakdown.Payable
	var ok, sold, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := svc.Place(ctx, order.PlaceInput{ShopperID: f.shoppers[i], Items: []order.LineRequest{{SKUID: f.skus[0], Quantity: 1}},
				Fulfillment: pickup(f.storeID), ExpectedPayable: &payable, IdempotencyKey: fmt.Sprintf("k-%d", i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, order.ErrOutOfStock):
				sold.Add(1)
			default:
				other.Add(1)
				t.Errorf("shopper %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != units || sold.Load() != shoppers-units || other.Load() != 0 {
		t.Fatalf("placed %d, out_of_stock %d, other %d; want %d, %d, 0", ok.Load(), sold.Load(), other.Load(), units, shoppers-units)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM orders`); err != nil || n != units {
		t.Fatalf("%d orders (%v), want %d", n, err, units)
	}
	checkStock(t, db, f.skus[0], 0, units)
}

// The same Idempotency-Key sent twice at once creates one order, and both
// callers get it; the same key with another body is refused.
func TestOrderIdempotencyKeyInParallel(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	f := newOrderFixture(t, db, 1, 100, 1)
	svc := newOrderService(db)
	ctx := context.Background()
	in := order.PlaceInput{ShopperID: f.shoppers[0], Items: []order.LineRequest{{SKUID: f.skus[0], Quantity: 2}},
		Fulfillment: pickup(f.storeID), IdempotencyKey: "same-key"}
	const n = 8
	nums := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := svc.Place(ctx, in)
			if err != nil {
				t.Errorf("place %d: %v", i, err)
				return
			}
			nums[i] = o.Number
		}()
	}
	wg.Wait()
	for _, x := range nums {
		if x != nums[0] {
			t.Fatalf("different orders for one key: %v", nums)
		}
	}
	var count int
	if err := db.Get(&count, `SELECT count(*) FROM orders`); err != nil || count != 1 {
		t.Fatalf("%d orders, want 1 (%v)", count, err)
	}
	checkStock(t, db, f.skus[0], 98, 2)
	in.Items[0].Quantity = 3
	if _, err := svc.Place(ctx, in); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other body: %v", err)
	}
}

// Cancelling releases the stock; the auto-confirm worker completes shipped
// orders after the delay and only those; expired unpaid orders are cancelled.
func TestOrderCancelAutoConfirmAndExpiry(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	f := newOrderFixture(t, db, 2, 10, 1)
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, domain.Shanghai)
	svc := newOrderService(db)
	svc.Now = func() time.Time { return now }
	ctx := context.Background()
	place := func(key string, sku int64) order.Order {
		t.Helper()
		o, err := svc.Place(ctx, order.PlaceInput{ShopperID: f.shoppers[0], Items: []order.LineRequest{{SKUID: sku, Quantity: 3}},
			Fulfillment: pickup(f.storeID), IdempotencyKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a := place("a", f.skus[0])
	checkStock(t, db, f.skus[0], 7, 3)
	if _, err := svc.Cancel(ctx, f.shoppers[0], a.Number, ""); err != nil {
		t.Fatal(err)
	}
	checkStock(t, db, f.skus[0], 10, 0)
	if _, err := svc.Cancel(ctx, f.shoppers[0], a.Number, ""); !errors.Is(err, order.ErrInvalidTransition) {
		t.Fatalf("cancel twice: %v", err)
	}

	b := place("b", f.skus[1])
	now = now.Add(16 * time.Minute)
	if n, err := svc.CancelExpired(ctx, 10); err != nil || n != 1 {
		t.Fatalf("cancel expired: %d %v", n, err)
	}
	checkStock(t, db, f.skus[1], 10, 0)
	got, _ := svc.Get(ctx, f.shoppers[0], b.Number)
	if got.Status != order.StatusCancelled || got.CancelReason != "expired unpaid" {
		t.Fatalf("expired order: %s %q", got.Status, got.CancelReason)
	}

	// A shipped delivery order (paid and shipped by hand here: payment is another area).
	c := place("c", f.skus[0])
	if _, err := db.Exec(`UPDATE orders SET fulfillment = 'delivery', address = '{}', status = 'shipped', paid_at = $2,
  shipped_at = $2, carrier = 'SF', tracking_no = 'SF1' WHERE order_no = $1`, c.Number, now); err != nil {
		t.Fatal(err)
	}
	svc.AutoConfirmAfter = 7 * 24 * time.Hour
	now = now.Add(6 * 24 * time.Hour)
	if n, err := svc.AutoConfirm(ctx, 10); err != nil || n != 0 {
		t.Fatalf("auto-confirm too early: %d %v", n, err)
	}
	now = now.Add(2 * 24 * time.Hour)
	if n, err := svc.AutoConfirm(ctx, 10); err != nil || n != 1 {
		t.Fatalf("auto-confirm: %d %v", n, err)
	}
	got, _ = svc.Get(ctx, f.shoppers[0], c.Number)
	if got.Status != order.StatusCompleted || !got.CompletedAt.Equal(now) {
		t.Fatalf("auto-confirmed order: %s %v", got.Status, got.CompletedAt)
	}
}

// The key is claimed with the number of the order it places, in the placing
// transaction: a placement that fails leaves no key (the same key then
// places an order), a placed order's key replays it, and the same key with
// another body is refused.
func TestOrderIdempotencyKeyClaimedWithItsOrder(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	f := newOrderFixture(t, db, 1, 10, 1)
	svc := newOrderService(db)
	ctx := context.Background()
	wrong := domain.Fen(1)
	in := order.PlaceInput{ShopperID: f.shoppers[0], Items: []order.LineRequest{{SKUID: f.skus[0], Quantity: 1}},
		Fulfillment: pickup(f.storeID), ExpectedPayable: &wrong, IdempotencyKey: "claimed-with-order"}
	if _, err := svc.Place(ctx, in); !errors.Is(err, order.ErrPriceChanged) {
		t.Fatalf("place at a stale payable: %v", err)
	}
	var keys int
	if err := db.Get(&keys, `SELECT count(*) FROM idempotency_keys`); err != nil || keys != 0 {
		t.Fatalf("%d keys after a refused placement (%v), want 0", keys, err)
	}
	right := domain.Fen(1991)
	in.ExpectedPayable = &right
	o, err := svc.Place(ctx, in)
	if err != nil {
		t.Fatalf("place with the same key at the right payable: %v", err)
	}
	var k struct {
		Status  int    `db:"status"`
		OrderNo string `db:"order_no"`
	}
	if err := db.Get(&k, `SELECT status, response->>'order_no' AS order_no FROM idempotency_keys
WHERE scope = $1 AND subject = $2 AND key = $3`, order.IdempotencyScope, fmt.Sprintf("shopper:%d", f.shoppers[0]), in.IdempotencyKey); err != nil {
		t.Fatal(err)
	}
	if k.Status != 201 || k.OrderNo != o.Number {
		t.Fatalf("key %+v, want 201 and order %s", k, o.Number)
	}
	again, err := svc.Place(ctx, in)
	if err != nil || again.Number != o.Number || again.ID != o.ID {
		t.Fatalf("replay: %s %v, want %s", again.Number, err, o.Number)
	}
	var orders int
	if err := db.Get(&orders, `SELECT count(*) FROM orders`); err != nil || orders != 1 {
		t.Fatalf("%d orders (%v), want 1", orders, err)
	}
	checkStock(t, db, f.skus[0], 9, 1)
	in.Items[0].Quantity = 2
	if _, err := svc.Place(ctx, in); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other body: %v", err)
	}
}
