package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// Anonymous carts untouched for 30 days are deleted, every one of them
// (more than a statement looks at); a cart with any line changed since is
// kept whole, and a shopper's cart is never pruned.
func TestPruneAnonymousCarts(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc := &cart.Service{Store: storage.New(db).Carts(), Now: func() time.Time { return now }}
	var sku1, sku2, shopper int64
	if err := db.Get(&shopper, `INSERT INTO shoppers (openid) VALUES ('o-cart') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Select(&[]int64{}, `INSERT INTO categories (name) VALUES ('c') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	for i, sku := range []*int64{&sku1, &sku2} {
		if err := db.Get(sku, `WITH p AS (INSERT INTO products (category_id, title, status, created_at, updated_at)
    SELECT id, 'p', 'on_sale', now(), now() FROM categories LIMIT 1 RETURNING id)
INSERT INTO skus (product_id, code, price_fen, status, created_at, updated_at) SELECT id, $1, 100, 'on_sale', now(), now() FROM p RETURNING id`,
			fmt.Sprint("SKU", i)); err != nil {
			t.Fatal(err)
		}
	}
	old, fresh := now.Add(-31*24*time.Hour), now.Add(-29*24*time.Hour)
	// 2,500 stale anonymous carts of two lines; one cart with a stale and a
	// fresh line; one fresh cart; a shopper's stale cart.
	if _, err := db.Exec(`INSERT INTO cart_items (anon_id, sku_id, quantity, selected, added_at, updated_at)
SELECT 'anon-' || lpad(g::text, 5, '0'), s, 1, true, $1, $1 FROM generate_series(1, 2500) g, unnest(ARRAY[$2::bigint, $3::bigint]) s`, old, sku1, sku2); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		anon string
		sku  int64
		at   time.Time
	}{{"anon-mixed", sku1, old}, {"anon-mixed", sku2, fresh}, {"anon-fresh", sku1, fresh}} {
		if _, err := db.Exec(`INSERT INTO cart_items (anon_id, sku_id, quantity, selected, added_at, updated_at) VALUES ($1, $2, 1, true, $3, $3)`, l.anon, l.sku, l.at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO cart_items (shopper_id, sku_id, quantity, selected, added_at, updated_at) VALUES ($1, $2, 1, true, $3, $3)`, shopper, sku1, old); err != nil {
		t.Fatal(err)
	}

	n, err := svc.PruneAnonymous(ctx)
	if err != nil || n != 2500 {
		t.Fatalf("pruned %d carts, %v; want 2500", n, err)
	}
	var left []struct {
		Owner string `db:"owner"`
		Lines int    `db:"lines"`
	}
	if err := db.Select(&left, `SELECT COALESCE(anon_id, 'shopper') AS owner, count(*) AS lines FROM cart_items GROUP BY 1 ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(left) != 3 || left[0].Owner != "anon-fresh" || left[0].Lines != 1 || left[1].Owner != "anon-mixed" || left[1].Lines != 2 ||
		left[2].Owner != "shopper" || left[2].Lines != 1 {
		t.Fatalf("carts left %+v, want anon-fresh (1 line), anon-mixed (2), the shopper's (1)", left)
	}
	if n, err := svc.PruneAnonymous(ctx); err != nil || n != 0 {
		t.Fatalf("pruned again: %d, %v", n, err)
	}
}
