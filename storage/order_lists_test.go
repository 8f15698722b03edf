package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/aftersales"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/clerk"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// listFixture is 120 orders over two stores, three shoppers and every
// status: online deliveries, pickups at either store, and in-store sales
// (one of them picked up at the other store, one at its own).
type listFixture struct {
	db       *sqlx.DB
	stores   []int64
	shoppers []int64
	clerks   []int64
	numbers  []string
	t0       time.Time
}

func newListFixture(t *testing.T) listFixture {
	t.Helper()
	db := storagetest.NewDB(t)
	f := listFixture{db: db, t0: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	must(t, db.Select(&f.stores, `INSERT INTO stores (code, name) VALUES ('S1', 'one'), ('S2', 'two') RETURNING id`))
	must(t, db.Select(&f.shoppers, `INSERT INTO shoppers (openid) SELECT 'o-' || g FROM generate_series(1, 3) g RETURNING id`))
	must(t, db.Select(&f.clerks, `INSERT INTO staff (username, password_hash, role, store_id)
VALUES ('clerk1', 'x', 'clerk', $1), ('clerk2', 'x', 'clerk', $2) RETURNING id`, f.stores[0], f.stores[1]))
	statuses := []string{"pending_payment", "paid", "shipped", "completed", "cancelled"}
	for i := 0; i < 120; i++ {
		st := statuses[(i*7)%len(statuses)]
		at := f.t0.Add(time.Duration(i) * 6 * time.Hour)
		no := fmt.Sprintf("T%04d", i)
		var shopper, store, clerkID, pickupStore any
		channel, fulfillment, address := "online", "delivery", any(`{}`)
		shopper = f.shoppers[i%3]
		switch i % 6 {
		case 1, 2: // picked up at a store
			fulfillment, address, pickupStore = "pickup", nil, f.stores[i%2]
		case 3: // sold in a store, no shopper
			channel, fulfillment, address, shopper = "in_store", "in_store", nil, nil
			store, clerkID = f.stores[(i/6)%2], f.clerks[(i/6)%2]
		case 4: // sold in a store to a member, picked up at the other or the same one
			channel, fulfillment, address, shopper = "in_store", "pickup", nil, f.shoppers[(i/6)%3]
			store, clerkID, pickupStore = f.stores[(i/6)%2], f.clerks[(i/6)%2], f.stores[(i/12)%2]
		}
		_, err := db.Exec(`INSERT INTO orders (order_no, shopper_id, status, fulfillment, channel, address, pickup_store_id,
  store_id, clerk_id, subtotal_fen, discount_fen, freight_fen, payable_fen, placed_at, expires_at, paid_at, shipped_at,
  carrier, tracking_no, completed_at, cancelled_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 100 + $11, 0, 0, 100 + $11, $10, $10::timestamptz + interval '15 minutes',
  CASE WHEN $3 IN ('paid', 'shipped', 'completed') THEN $10::timestamptz END,
  CASE WHEN $3 IN ('shipped', 'completed') THEN $10::timestamptz END,
  CASE WHEN $3 IN ('shipped', 'completed') THEN 'SF' END, CASE WHEN $3 IN ('shipped', 'completed') THEN 'T' END,
  CASE WHEN $3 = 'completed' THEN $10::timestamptz END, CASE WHEN $3 = 'cancelled' THEN $10::timestamptz END, $10)`,
			no, shopper, st, fulfillment, channel, address, pickupStore, store, clerkID, at, i)
		must(t, err)
		f.numbers = append(f.numbers, no)
	}
	return f
}

// everyPage follows a list's cursor from its first page to its last, size
// a page, and answers every row in order.
func everyPage[T any](t *testing.T, size int, list func(domain.Page) ([]T, string, error)) []T {
	t.Helper()
	var got []T
	p := domain.Page{Limit: size}
	for range 500 {
		rows, next, err := list(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
		if next == "" {
			return got
		}
		p.Cursor = next
	}
	t.Fatal("more than 500 pages")
	return nil
}

// all pages of a list, as order numbers, 7 a page.
func allPages(t *testing.T, list func(domain.Page) ([]order.Order, string, error)) []string {
	t.Helper()
	var got []string
	for _, o := range everyPage(t, 7, list) {
		got = append(got, o.Number)
	}
	return got
}

// The admin order search returns what the catch-all statement it replaced
// (every filter always present, "($1 = <empty> OR …)") returned, for every
// combination of filters, page after page, newest first: by id, or with a
// period by the time placed, orders placed out of id order and at the same
// moment among them; and so does a shopper's own
// order list, all or by status.
func TestSearchOrdersSameAsCatchAll(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	store := storage.New(f.db).Orders()
	numbers := []string{"", f.numbers[17], "T9999"}
	statuses := []order.Status{"", order.StatusPendingPayment, order.StatusPaid, order.StatusShipped, order.StatusCompleted, order.StatusCancelled}
	shoppers := []int64{0, f.shoppers[1], 999999}
	times := [][2]time.Time{{}, {f.t0.Add(48 * time.Hour), {}}, {{}, f.t0.Add(200 * time.Hour)}, {f.t0.Add(30 * time.Hour), f.t0.Add(300 * time.Hour)}}
	// Orders placed out of id order, and at the same moment (a period's
	// pages follow the time placed, then id).
	if _, err := f.db.Exec(`UPDATE orders SET placed_at = placed_at - interval '1 hour' * ((id * 37) % 50) WHERE id % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`UPDATE orders SET placed_at = $1::timestamptz + interval '100 hours' WHERE id % 10 = 1`, f.t0); err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for _, no := range numbers {
		for _, st := range statuses {
			for _, sh := range shoppers {
				for _, tw := range times {
					filter := order.Filter{Number: no, Status: st, ShopperID: sh, From: tw[0], To: tw[1]}
					var want []string
					var from, to any
					if !tw[0].IsZero() {
						from = tw[0]
					}
					if !tw[1].IsZero() {
						to = tw[1]
					}
					sortBy := "id DESC"
					if from != nil || to != nil {
						sortBy = "placed_at DESC, id DESC"
					}
					if err := f.db.Select(&want, `SELECT order_no FROM orders
WHERE ($1 = '' OR order_no = $1) AND ($2 = '' OR status = $2) AND ($3::bigint = 0 OR shopper_id = $3::bigint)
  AND ($4::timestamptz IS NULL OR placed_at >= $4) AND ($5::timestamptz IS NULL OR placed_at < $5)
ORDER BY `+sortBy, no, string(st), sh, from, to); err != nil {
						t.Fatal(err)
					}
					got := allPages(t, func(p domain.Page) ([]order.Order, string, error) { return store.SearchOrders(ctx, filter, p) })
					if !slices.Equal(got, want) {
						t.Fatalf("%+v: got %v, want %v", filter, got, want)
					}
					if len(want) > 0 {
						nonEmpty++
					}
				}
			}
		}
	}
	if nonEmpty < 40 {
		t.Fatalf("only %d filter combinations matched any order: the fixture does not exercise the filters", nonEmpty)
	}

	// A shopper's own orders, all or by status.
	nonEmpty = 0
	for _, sh := range append(slices.Clone(f.shoppers), 999999) {
		for _, st := range statuses {
			var want []string
			if err := f.db.Select(&want, `SELECT order_no FROM orders WHERE shopper_id = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC`, sh, string(st)); err != nil {
				t.Fatal(err)
			}
			got := allPages(t, func(p domain.Page) ([]order.Order, string, error) { return store.ListOrders(ctx, sh, st, p) })
			if !slices.Equal(got, want) {
				t.Fatalf("shopper %d, status %q: got %v, want %v", sh, st, got, want)
			}
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	if nonEmpty < 4 {
		t.Fatalf("only %d of a shopper's lists had orders: the fixture does not exercise them", nonEmpty)
	}
}

// The store order list (clerks, and admins over every store) returns what
// the catch-all statement it replaced returned, for every store (and none)
// and status, page after page: an order sold in one store and picked up in
// another is in both stores' lists and once in every store's.
func TestStoreOrdersSameAsCatchAll(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	store := storage.New(f.db).Clerks()
	statuses := []order.Status{"", order.StatusPendingPayment, order.StatusPaid, order.StatusShipped, order.StatusCompleted, order.StatusCancelled}
	var crossed int
	if err := f.db.Get(&crossed, `SELECT count(*) FROM orders WHERE store_id <> pickup_store_id`); err != nil || crossed == 0 {
		t.Fatalf("fixture: %d orders picked up at another store than the one that sold them (%v)", crossed, err)
	}
	for _, storeID := range []int64{0, f.stores[0], f.stores[1], 999999} {
		for _, st := range statuses {
			filter := clerk.ListFilter{StoreID: storeID, Status: st}
			var want []string
			if err := f.db.Select(&want, `SELECT order_no FROM orders
WHERE (store_id IS NOT NULL OR pickup_store_id IS NOT NULL)
  AND ($1 = 0 OR store_id = $1 OR pickup_store_id = $1) AND ($2 = '' OR status = $2)
ORDER BY id DESC`, storeID, string(st)); err != nil {
				t.Fatal(err)
			}
			got := allPages(t, func(p domain.Page) ([]order.Order, string, error) { return store.StoreOrders(ctx, filter, p) })
			if !slices.Equal(got, want) {
				t.Fatalf("%+v: got %v, want %v", filter, got, want)
			}
			if storeID != 999999 && st == "" && len(want) < 30 {
				t.Fatalf("%+v: only %d orders", filter, len(want))
			}
		}
	}
}

// The clerk desk's numbers count each in-store order paid in the period
// once, for every store (and none) and clerk (and none) asked for: orders,
// paid goods amount, distinct members and pickups handed over, by day, in
// all and by clerk.
func TestClerkPeriodNumbersByStoreAndClerk(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	store := storage.New(f.db).Clerks()
	from := time.Date(2026, 3, 3, 0, 0, 0, 0, domain.Shanghai)
	to := time.Date(2026, 3, 20, 0, 0, 0, 0, domain.Shanghai)
	// Pickup codes: handed over (by the store's clerk, an hour after the
	// order) for two orders in three.
	if _, err := f.db.Exec(`INSERT INTO pickup_codes (order_id, store_id, code, created_at, verified_at, verified_by)
SELECT o.id, o.pickup_store_id, lpad(o.id::text, 12, '0'), o.placed_at,
       CASE WHEN o.id % 3 <> 0 THEN o.placed_at + interval '1 hour' END,
       CASE WHEN o.id % 3 <> 0 THEN (SELECT st.id FROM staff st WHERE st.store_id = o.pickup_store_id) END
FROM orders o WHERE o.pickup_store_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	// Share-link visitors of each store's and each clerk's touchpoint, on
	// days in and around the period.
	if _, err := f.db.Exec(`
WITH tp AS (
    INSERT INTO touchpoints (kind, store_id, staff_id, name)
    SELECT 'store', s.id, NULL, s.name FROM stores s
    UNION ALL SELECT 'clerk', NULL, st.id, st.username FROM staff st WHERE st.store_id IS NOT NULL
    RETURNING id, kind)
INSERT INTO touch_tp_daily (kind, day, touchpoint_id, touches, visitors, last_visitors)
SELECT tp.kind, d::date, tp.id, 3 * tp.id + g, tp.id + g % 4, 0
FROM tp, generate_series(1, 30) g, LATERAL (SELECT date '2026-02-25' + g AS d) x`); err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, storeID := range []int64{0, f.stores[0], f.stores[1]} {
		for _, clerkID := range []int64{0, f.clerks[0], f.clerks[1]} {
			q := clerk.PeriodQuery{From: from, To: to, StoreID: storeID, ClerkID: clerkID}
			var want struct {
				Orders    int64 `db:"orders"`
				GMV       int64 `db:"gmv"`
				Customers int64 `db:"customers"`
				Pickups   int64 `db:"pickups"`
				Visitors  int64 `db:"visitors"`
			}
			if err := f.db.Get(&want, `SELECT count(*) AS orders, COALESCE(sum(payable_fen - freight_fen), 0) AS gmv,
  count(DISTINCT shopper_id) AS customers,
  (SELECT count(*) FROM pickup_codes p WHERE p.verified_at >= $1 AND p.verified_at < $2
     AND ($3 = 0 OR p.store_id = $3) AND ($4 = 0 OR p.verified_by = $4)) AS pickups,
  (SELECT COALESCE(sum(d.visitors), 0) FROM touch_tp_daily d JOIN touchpoints t ON t.id = d.touchpoint_id
   WHERE d.day BETWEEN $5::date AND $6::date
     AND (($4 <> 0 AND d.kind = 'clerk' AND t.staff_id = $4) OR ($4 = 0 AND d.kind = 'store' AND ($3 = 0 OR t.store_id = $3)))) AS visitors
FROM orders
WHERE channel = 'in_store' AND paid_at >= $1 AND paid_at < $2 AND ($3 = 0 OR store_id = $3) AND ($4 = 0 OR clerk_id = $4)`,
				from, to.AddDate(0, 0, 1), storeID, clerkID, from.Format(time.DateOnly), to.Format(time.DateOnly)); err != nil {
				t.Fatal(err)
			}
			var clerkVisitors int64 // the clerks' own, as the numbers by clerk count them
			if err := f.db.Get(&clerkVisitors, `SELECT COALESCE(sum(d.visitors), 0) FROM touch_tp_daily d
JOIN touchpoints t ON t.id = d.touchpoint_id JOIN staff st ON st.id = t.staff_id
WHERE d.kind = 'clerk' AND d.day BETWEEN $1::date AND $2::date AND ($3 = 0 OR st.store_id = $3) AND ($4 = 0 OR st.id = $4)`,
				from.Format(time.DateOnly), to.Format(time.DateOnly), storeID, clerkID); err != nil {
				t.Fatal(err)
			}
			days, err := store.Performance(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var orders, gmv, pickups, visitors int64
			for _, d := range days {
				orders += d.Orders
				gmv += int64(d.GMV)
				pickups += d.Pickups
				visitors += d.Visitors
			}
			customers, err := store.DistinctCustomers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 18 || orders != want.Orders || gmv != want.GMV || customers != want.Customers || pickups != want.Pickups ||
				visitors != want.Visitors || want.Visitors == 0 {
				t.Fatalf("%+v: %d days, %d orders, %d fen, %d customers, %d pickups, %d visitors; want 18 days, %+v", q, len(days), orders, gmv,
					customers, pickups, visitors, want)
			}
			clerks, _, err := store.ClerkPerformance(ctx, q, domain.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			orders, pickups, visitors = 0, 0, 0
			for _, c := range clerks {
				orders += c.Orders
				pickups += c.Pickups
				visitors += c.Visitors
			}
			if orders != want.Orders || pickups != want.Pickups || visitors != clerkVisitors {
				t.Fatalf("%+v: clerks' orders %d, pickups %d, visitors %d, want %+v and %d visitors", q, orders, pickups, visitors, want, clerkVisitors)
			}
			if want.Orders > 0 && want.Customers > 0 && want.Pickups > 0 {
				covered++
			}
		}
	}
	if covered < 5 {
		t.Fatalf("only %d of 9 cases have in-store orders with members: the fixture does not exercise them", covered)
	}
}

// SKUBuyers answers the shoppers of every order with a line of the SKUs
// (a SKU asked twice counts once) and the keys that placed them as the
// shopper, and says whether it read them all within the limit.
func TestSKUBuyersByKey(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	store := storage.New(f.db).Orders()
	var cat, prod int64
	if err := f.db.Get(&cat, `INSERT INTO categories (name) VALUES ('Tea') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Get(&prod, `INSERT INTO products (category_id, title, status) VALUES ($1, 'Longjing', 'on_sale') RETURNING id`, cat); err != nil {
		t.Fatal(err)
	}
	var skus []int64
	if err := f.db.Select(&skus, `INSERT INTO skus (product_id, code, specs, price_fen) SELECT $1, 'K-' || g, jsonb_build_object('size', g::text), 100 FROM generate_series(1, 3) g RETURNING id`, prod); err != nil {
		t.Fatal(err)
	}
	// Each order gets a line of SKU i%3 (and every fifth one of SKU 2
	// too); a shopper's order is placed with a key, two for every
	// seventh (a retry with another key), and a key of another order.
	for _, q := range []string{
		`INSERT INTO order_items (order_id, line_no, sku_id, product_id, sku_code, title, unit_price_fen, quantity, list_total_fen, paid_fen)
SELECT o.id, 1, ($1::bigint[])[1 + ((o.n / 3) % 3)], $2, 'K', 'Longjing', 100, 1, 100, 100
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM orders) o`,
		`INSERT INTO order_items (order_id, line_no, sku_id, product_id, sku_code, title, unit_price_fen, quantity, list_total_fen, paid_fen)
SELECT o.id, 2, ($1::bigint[])[3], $2, 'K', 'Longjing', 100, 1, 100, 100
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM orders) o WHERE o.n % 5 = 0 AND (o.n / 3) % 3 <> 2`,
		`INSERT INTO idempotency_keys (scope, subject, key, request_hash, status, response)
SELECT 'shop.orders', 'shopper:' || o.shopper_id, 'k-' || o.order_no || '-' || g, '\x00', 201, jsonb_build_object('order_no', o.order_no)
FROM orders o CROSS JOIN generate_series(1, 2) g WHERE o.shopper_id IS NOT NULL AND (g = 1 OR o.id % 7 = 0)`,
		`INSERT INTO idempotency_keys (scope, subject, key, request_hash, status, response)
SELECT 'shop.orders', 'shopper:' || o.shopper_id, 'other-' || o.order_no, '\x00', 201, jsonb_build_object('order_no', 'elsewhere')
FROM orders o WHERE o.shopper_id IS NOT NULL`,
	} {
		args := []any{pq.Array(skus), prod}
		if !strings.Contains(q, "$1") {
			args = nil
		}
		if _, err := f.db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	want := func(ids []int64) map[int64][]string {
		var rows []struct {
			ShopperID int64          `db:"shopper_id"`
			Key       sql.NullString `db:"key"`
		}
		if err := f.db.Select(&rows, `SELECT DISTINCT COALESCE(o.shopper_id, 0) AS shopper_id, k.key
FROM orders o LEFT JOIN idempotency_keys k ON k.scope = 'shop.orders' AND k.subject = 'shopper:' || o.shopper_id
  AND k.response->>'order_no' = o.order_no
WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.sku_id = ANY($1))`, pq.Array(ids)); err != nil {
			t.Fatal(err)
		}
		m := map[int64][]string{}
		for _, r := range rows {
			m[r.ShopperID] = m[r.ShopperID]
			if r.Key.Valid {
				m[r.ShopperID] = append(m[r.ShopperID], r.Key.String)
			}
		}
		return m
	}
	var lines int
	if err := f.db.Get(&lines, `SELECT count(*) FROM order_items WHERE sku_id = ANY($1)`, pq.Array(skus[1:])); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int64{{skus[0]}, {skus[1], skus[2], skus[1]}, skus} {
		got, complete, err := store.SKUBuyers(ctx, "shop.orders", ids, 1000)
		if err != nil {
			t.Fatal(err)
		}
		w := want(ids)
		if !complete || len(got) != len(w) || len(w) < 3 {
			t.Fatalf("%v: complete %v, %d buyers, want %d", ids, complete, len(got), len(w))
		}
		for sh, keys := range w {
			g, ok := got[sh]
			slices.Sort(g)
			slices.Sort(keys)
			if !ok || !slices.Equal(g, keys) {
				t.Fatalf("%v: shopper %d: keys %v, want %v", ids, sh, g, keys)
			}
		}
	}
	// Whether all were read within the limit is as the statement it
	// replaced said: at most limit+1 lines read (a SKU asked twice
	// once), complete when they gave at most limit rows, a row per key.
	ids := []int64{skus[2], skus[1], skus[2]}
	for _, limit := range []int{1000, lines + 20, lines + 5, lines, lines - 1, 1} {
		var rows int
		if err := f.db.Get(&rows, `SELECT count(*)
FROM (SELECT order_id FROM order_items WHERE sku_id = ANY($1) LIMIT $2) i
JOIN orders o ON o.id = i.order_id
LEFT JOIN idempotency_keys k ON k.scope = 'shop.orders' AND k.subject = 'shopper:' || o.shopper_id
     AND k.response->>'order_no' = o.order_no`, pq.Array(ids), limit+1); err != nil {
			t.Fatal(err)
		}
		_, complete, err := store.SKUBuyers(ctx, "shop.orders", ids, limit)
		if err != nil {
			t.Fatal(err)
		}
		if complete != (rows <= limit) {
			t.Fatalf("%d lines, limit %d: complete %v, the old statement read %d rows", lines, limit, complete, rows)
		}
	}
}

// The clerk desk's customer list returns what the catch-all statement it
// replaced returned, for every store (and none) and clerk (and none), page
// after page: the members with paid in-store orders, their count and GMV.
func TestClerkCustomersSameAsCatchAll(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	store := storage.New(f.db).Clerks()
	// More members than a page: each in-store order with a member gets
	// one of its own, but for every fourth (the fixture's three members).
	if _, err := f.db.Exec(`
WITH m AS (
    SELECT o.id, 'm-' || o.order_no AS openid FROM orders o
    WHERE o.channel = 'in_store' AND o.shopper_id IS NOT NULL AND o.id % 4 <> 0
), s AS (INSERT INTO shoppers (openid) SELECT openid FROM m RETURNING id, openid)
UPDATE orders o SET shopper_id = s.id FROM m JOIN s USING (openid) WHERE o.id = m.id`); err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, storeID := range []int64{0, f.stores[0], f.stores[1]} {
		for _, clerkID := range []int64{0, f.clerks[0], f.clerks[1]} {
			var want []string
			if err := f.db.Select(&want, `
SELECT x.shopper_id || ':' || x.orders || ':' || x.gmv
FROM (SELECT o.shopper_id, count(*) AS orders, sum(o.payable_fen - o.freight_fen) AS gmv
      FROM orders o
      WHERE o.channel = 'in_store' AND o.shopper_id IS NOT NULL AND o.paid_at IS NOT NULL
        AND ($1 = 0 OR o.store_id = $1) AND ($2 = 0 OR o.clerk_id = $2)
      GROUP BY o.shopper_id) x
ORDER BY x.shopper_id DESC`, storeID, clerkID); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range everyPage(t, 2, func(p domain.Page) ([]clerk.Customer, string, error) {
				return store.Customers(ctx, clerk.CustomerQuery{StoreID: storeID, ClerkID: clerkID}, p)
			}) {
				got = append(got, fmt.Sprintf("%d:%d:%d", c.ShopperID, c.Orders, c.GMV))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("store %d clerk %d: got %v, want %v", storeID, clerkID, got, want)
			}
			if len(want) > 2 {
				covered++
			}
		}
	}
	if covered < 5 {
		t.Fatalf("only %d of 9 cases have more than a page of members", covered)
	}
}

// The admin's after-sales and refund lists return what the catch-all
// statements they replaced returned, for every status (and none; for
// refunds, the attention queue's pair too), page after page.
func TestAfterSalesAndRefundListsSameAsCatchAll(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	ctx := context.Background()
	db := storage.New(f.db)
	// A request for every online order with a shopper, in every status,
	// and a refund without a WeChat Pay part for every request, in every
	// refund status.
	for _, q := range []string{`
INSERT INTO after_sales_requests (order_id, shopper_id, status, reason, created_at, updated_at)
SELECT o.id, o.shopper_id, (ARRAY['requested', 'approved', 'rejected', 'refunded'])[1 + (o.id * 7) % 4], 'r', o.placed_at, o.placed_at
FROM orders o WHERE o.shopper_id IS NOT NULL`, `
INSERT INTO refunds (out_refund_no, order_id, after_sales_id, kind, amount_fen, status, failure, next_check_at,
  created_at, updated_at, succeeded_at, wechat_fen)
SELECT 'R' || r.id, r.order_id, r.id, 'after_sales', 1, s.status, CASE WHEN s.status = 'needs_attention' THEN 'why' ELSE '' END,
  r.created_at, r.created_at, r.created_at, CASE WHEN s.status = 'succeeded' THEN r.created_at END, 0
FROM after_sales_requests r
CROSS JOIN LATERAL (SELECT (ARRAY['pending', 'processing', 'succeeded', 'abnormal', 'closed', 'failed', 'needs_attention'])[1 + (r.id * 5) % 7] AS status) s`} {
		if _, err := f.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []aftersales.Status{"", aftersales.StatusRequested, aftersales.StatusApproved, aftersales.StatusRejected, aftersales.StatusRefunded} {
		var want []int64
		if err := f.db.Select(&want, `SELECT r.id FROM after_sales_requests r JOIN orders o ON o.id = r.order_id
WHERE ($1 = '' OR r.status = $1) ORDER BY r.id DESC`, string(st)); err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range everyPage(t, 3, func(p domain.Page) ([]aftersales.Request, string, error) {
			return db.AfterSales().ListRequests(ctx, st, p)
		}) {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) || len(want) < 4 {
			t.Fatalf("after-sales %q: got %v, want %v (at least 4)", st, got, want)
		}
	}
	for _, sts := range [][]cashier.RefundStatus{nil, {cashier.RefundNeedsAttention, cashier.RefundAbnormal}, {cashier.RefundPending},
		{cashier.RefundProcessing}, {cashier.RefundSucceeded}, {cashier.RefundAbnormal}, {cashier.RefundClosed}, {cashier.RefundFailed}, {cashier.RefundNeedsAttention}} {
		names := make([]string, len(sts))
		for i, s := range sts {
			names[i] = string(s)
		}
		var want []int64
		if err := f.db.Select(&want, `SELECT r.id FROM refunds r JOIN orders o ON o.id = r.order_id
WHERE (cardinality($1::text[]) = 0 OR r.status = ANY($1)) ORDER BY r.id DESC`, pq.Array(names)); err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range everyPage(t, 2, func(p domain.Page) ([]cashier.Refund, string, error) {
			return db.Payments().ListRefunds(ctx, sts, p)
		}) {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) || len(want) < 2 {
			t.Fatalf("refunds %v: got %v, want %v (at least 2)", sts, got, want)
		}
	}
}

// CloseTopUp closes a pending top-up and leaves a paid one alone.
func TestCloseTopUpOnlyPending(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	var ids []int64
	if err := db.Select(&ids, `
WITH s AS (INSERT INTO shoppers (openid) VALUES ('o-topup') RETURNING id),
c AS (INSERT INTO member_cards (shopper_id, card_no, tier_id, activated_at, period_start, updated_at)
      SELECT s.id, '1000000000000001', (SELECT min(id) FROM member_tiers), now(), now(), now() FROM s RETURNING id),
p AS (INSERT INTO member_topup_packages (name, pay_fen, created_at, updated_at) VALUES ('p', 100, now(), now()) RETURNING id)
INSERT INTO member_topups (card_id, package_id, out_trade_no, principal_fen, bonus_fen, openid, status, transaction_id, time_expire, next_check_at, created_at)
SELECT c.id, p.id, 'TU' || g || '0000000000', 100, 0, 'o', CASE g WHEN 1 THEN 'pending' ELSE 'paid' END,
       CASE g WHEN 2 THEN 'tx2' END, now(), now(), now()
FROM c, p, generate_series(1, 2) g ORDER BY g RETURNING id`); err != nil {
		t.Fatal(err)
	}
	store := storage.New(db).Members()
	for _, id := range ids {
		if err := store.CloseTopUp(context.Background(), id, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := db.Select(&got, `SELECT status FROM member_topups ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"closed", "paid"}) {
		t.Fatalf("statuses %v, want [closed paid]", got)
	}
}
