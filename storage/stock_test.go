package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/catalog"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// seedSKU inserts a category, a product and one SKU with stock (written
// through the ledger) and returns the SKU id.
func seedSKU(t *testing.T, db *sqlx.DB, code string, stock int) int64 {
	t.Helper()
	var cat, prod, sku int64
	if err := db.Get(&cat, `INSERT INTO categories (name) VALUES ('c') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&prod, `INSERT INTO products (category_id, title) VALUES ($1, 'p') RETURNING id`, cat); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&sku, `INSERT INTO skus (product_id, code, price_fen) VALUES ($1, $2, 100) RETURNING id`, prod, code); err != nil {
		t.Fatal(err)
	}
	if stock > 0 {
		if _, err := catalogService(db).AdjustStock(context.Background(), domain.System, sku, catalog.Adjustment{Kind: catalog.StockReceive, Quantity: stock, Note: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	return sku
}

func catalogService(db *sqlx.DB) *catalog.Service {
	return &catalog.Service{Store: storage.New(db).Catalog()}
}

type counters struct {
	Stock    int `db:"stock"`
	Reserved int `db:"reserved"`
	Sold     int `db:"sold"`
	Sales    int `db:"sales"`
	LStock   int `db:"l_stock"`
	LRes     int `db:"l_reserved"`
	LSold    int `db:"l_sold"`
}

func readCounters(t *testing.T, db *sqlx.DB, sku int64) counters {
	t.Helper()
	var c counters
	err := db.Get(&c, `
SELECT s.stock, s.reserved, s.sold, (SELECT sum(sold) FROM skus WHERE product_id = s.product_id) AS sales,
       COALESCE((SELECT sum(delta) FROM stock_ledger WHERE sku_id = s.id), 0) AS l_stock,
       COALESCE((SELECT sum(reserved_delta) FROM stock_ledger WHERE sku_id = s.id), 0) AS l_reserved,
       COALESCE((SELECT sum(sold_delta) FROM stock_ledger WHERE sku_id = s.id), 0) AS l_sold
FROM skus s WHERE s.id = $1`, sku)
	if err != nil {
		t.Fatal(err)
	}
	if c.Stock != c.LStock || c.Reserved != c.LRes || c.Sold != c.LSold {
		t.Fatalf("counters disagree with the ledger: %+v", c)
	}
	return c
}

func TestStockOrderMoves(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	sku := seedSKU(t, db, "A-1", 10)
	now := time.Now()
	who := domain.Actor{Kind: "shopper", ID: 7}
	step := func(name string, err error, want counters) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := readCounters(t, db, sku)
		if got.Stock != want.Stock || got.Reserved != want.Reserved || got.Sold != want.Sold || got.Sales != want.Sales {
			t.Fatalf("%s: got %+v, want %+v", name, got, want)
		}
	}
	step("reserve", storage.ReserveStock(ctx, db, sku, 4, "O1", who, now), counters{Stock: 6, Reserved: 4})
	step("release", storage.ReleaseStock(ctx, db, sku, 1, "O1", who, now), counters{Stock: 7, Reserved: 3})
	step("sell", storage.SellStock(ctx, db, sku, 3, "O1", domain.System, now), counters{Stock: 7, Sold: 3, Sales: 3})
	step("return", storage.ReturnStock(ctx, db, sku, 2, "O1", domain.System, now), counters{Stock: 9, Sold: 1, Sales: 1})

	if err := storage.ReserveStock(ctx, db, sku, 10, "O2", who, now); !errors.Is(err, catalog.ErrOutOfStock) {
		t.Fatalf("reserve more than available: %v", err)
	}
	if err := storage.SellStock(ctx, db, sku, 1, "O2", who, now); !errors.Is(err, catalog.ErrNotReserved) {
		t.Fatalf("sell unreserved: %v", err)
	}
	if err := storage.ReleaseStock(ctx, db, sku, 1, "O2", who, now); !errors.Is(err, catalog.ErrNotReserved) {
		t.Fatalf("release unreserved: %v", err)
	}
	if err := storage.ReturnStock(ctx, db, sku, 2, "O2", who, now); !errors.Is(err, catalog.ErrNotReserved) {
		t.Fatalf("return more than sold: %v", err)
	}
	if err := storage.ReserveStock(ctx, db, 999999, 1, "O2", who, now); !errors.Is(err, catalog.ErrSKUNotFound) {
		t.Fatalf("unknown sku: %v", err)
	}
	if err := storage.ReserveStock(ctx, db, sku, 0, "O2", who, now); !errors.Is(err, catalog.ErrBadQuantity) {
		t.Fatalf("zero quantity: %v", err)
	}
	step("refusals change nothing", nil, counters{Stock: 9, Sold: 1, Sales: 1})

	var actor, ref string
	if err := db.Get(&actor, `SELECT actor FROM stock_ledger WHERE sku_id = $1 AND kind = 'reserve'`, sku); err != nil || actor != "shopper:7" {
		t.Fatalf("ledger actor %q %v", actor, err)
	}
	if err := db.Get(&ref, `SELECT ref FROM stock_ledger WHERE sku_id = $1 AND kind = 'sale'`, sku); err != nil || ref != "O1" {
		t.Fatalf("ledger ref %q %v", ref, err)
	}
}

// A multi-SKU reservation in a transaction is all or nothing.
func TestReserveStocksIsAllOrNothing(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	a := seedSKU(t, db, "A", 5)
	b := seedSKU(t, db, "B", 1)
	err := storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return storage.ReserveStocks(ctx, tx.SQL(), []storage.StockMove{{b, 1}, {a, 2}, {b, 1}}, "O9", domain.System, time.Now())
	})
	de, _ := domain.AsError(err)
	if !errors.Is(err, catalog.ErrOutOfStock) || de.Details.(map[string]any)["sku_id"] != b {
		t.Fatalf("want out_of_stock naming sku %d: %v", b, err)
	}
	if c := readCounters(t, db, a); c.Stock != 5 || c.Reserved != 0 {
		t.Fatalf("a changed: %+v", c)
	}
	if err := storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return storage.ReserveStocks(ctx, tx.SQL(), []storage.StockMove{{b, 1}, {a, 2}}, "O10", domain.System, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if c := readCounters(t, db, b); c.Stock != 0 || c.Reserved != 1 {
		t.Fatalf("b: %+v", c)
	}
}

// 100 parallel stock changes (adjustments and reservations, many of which must
// fail) leave stock equal to the ledger sum, never below zero, and exactly as
// many units as were granted.
func TestStockConcurrency(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	db.SetMaxOpenConns(30)
	ctx := context.Background()
	sku := seedSKU(t, db, "HOT", 20)
	var wg sync.WaitGroup
	type result struct {
		delta int
		err   error
	}
	results := make(chan result, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0: // receive 1
				_, err := catalogService(db).AdjustStock(ctx, domain.System, sku, catalog.Adjustment{Kind: catalog.StockReceive, Quantity: 1, Note: "in"})
				results <- result{1, err}
			case 1: // damage 3
				_, err := catalogService(db).AdjustStock(ctx, domain.System, sku, catalog.Adjustment{Kind: catalog.StockDamage, Quantity: 3, Note: "broken"})
				results <- result{-3, err}
			default: // an order reserves 2 in its own transaction
				err := storage.New(db).InTx(ctx, func(stx *storage.Tx) error {
					tx := stx.SQL()
					return storage.ReserveStock(ctx, tx, sku, 2, fmt.Sprintf("O%d", i), domain.System, time.Now())
				})
				results <- result{-2, err}
			}
		}()
	}
	wg.Wait()
	close(results)
	want, refused := 20, 0
	for r := range results {
		switch {
		case r.err == nil:
			want += r.delta
		case errors.Is(r.err, catalog.ErrOutOfStock):
			refused++
		default:
			t.Fatalf("unexpected error: %v", r.err)
		}
	}
	c := readCounters(t, db, sku)
	if c.Stock != want || c.Stock < 0 {
		t.Fatalf("stock %d, want %d (granted changes)", c.Stock, want)
	}
	if refused == 0 {
		t.Fatalf("expected some refusals with 20 units and %d demanded", 25*3+50*2)
	}
	var minSeen int
	if err := db.Get(&minSeen, `SELECT min(running) FROM (SELECT sum(delta) OVER (ORDER BY id) AS running FROM stock_ledger WHERE sku_id = $1) x`, sku); err != nil {
		t.Fatal(err)
	}
	if minSeen < 0 {
		t.Fatalf("ledger running stock went to %d", minSeen)
	}
}
