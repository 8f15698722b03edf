package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/clerk"
	"github.com/yutang/yutang/domain/order"
)

// Clerks implements clerk.Store (db.Clerks(), tx.Clerks()).
type Clerks struct{ scope }

var _ clerk.Store = Clerks{}

func (d *DB) Clerks() Clerks { return Clerks{d.scope()} }
func (t *Tx) Clerks() Clerks { return Clerks{t.scope()} }

// InTx implements clerk.Store.
func (s Clerks) InTx(ctx context.Context, fn func(clerk.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Clerks()) })
}

// Audit implements clerk.Store.
func (s Clerks) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

// ShopperByPhone implements clerk.Store.
func (s Clerks) ShopperByPhone(ctx context.Context, phone string) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.ext(), &id, `SELECT id FROM shoppers WHERE phone = $1`, phone)
	return id, mapErrNotFound(err, clerk.ErrMemberNotFound)
}

// StaffStore implements clerk.Store.
func (s Clerks) StaffStore(ctx context.Context, staffID int64) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.ext(), &id, `SELECT store_id FROM staff WHERE id = $1 AND role IN ('clerk', 'store_manager')`, staffID)
	return id, mapErrNotFound(err, clerk.ErrClerkNotFound)
}

// Order implements clerk.Store.
func (s Clerks) Order(ctx context.Context, number string, forUpdate bool) (order.Order, error) {
	return Orders(s).Order(ctx, number, 0, forUpdate)
}

// UpdateStatus implements clerk.Store.
func (s Clerks) UpdateStatus(ctx context.Context, o order.Order) error {
	return Orders(s).UpdateStatus(ctx, o)
}

// StoreOrders implements clerk.Store: a store's orders (sold there or picked
// up there), or every store's, newest first. Each store's orders are read
// from its own indexes by key, a page at most per store and kind, and the
// pages merged: the catch-all "($1 = 0 OR store_id = $1 OR pickup_store_id =
// $1) AND ($2 = <empty> OR status = $2)" it replaces had one generic plan, a walk
// of every order of the mall newest first, filtering (every store's paid
// orders at 290,000 orders, none of them a store's: 285 ms; issue 18).
func (s Clerks) StoreOrders(ctx context.Context, f clerk.ListFilter, page domain.Page) ([]order.Order, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(page.Limit)
	var args stmtArgs
	arg := args.add
	n := arg(limit + 1)
	var also string // the order's own conditions beyond its store
	if f.Status != "" {
		also += " AND status = " + arg(string(f.Status))
	}
	if page.Cursor != "" {
		also += " AND id < " + arg(before)
	}
	one := "" // every store, or one
	// An order sold in one store and picked up in another is in both
	// stores' lists, and once in every store's: with the store that sold it.
	pickupOnly := "store_id IS NULL"
	if f.StoreID != 0 {
		id := arg(f.StoreID)
		one = " WHERE s.id = " + id
		pickupOnly = "(store_id IS NULL OR store_id <> " + id + ")"
	}
	q := `SELECT * FROM (
  SELECT o.* FROM stores s CROSS JOIN LATERAL (SELECT ` + orderCols + ` FROM orders
    WHERE store_id = s.id` + also + ` ORDER BY id DESC LIMIT ` + n + `) o` + one + `
  UNION ALL
  SELECT o.* FROM stores s CROSS JOIN LATERAL (SELECT ` + orderCols + ` FROM orders
    WHERE pickup_store_id = s.id AND ` + pickupOnly + also + ` ORDER BY id DESC LIMIT ` + n + `) o` + one + `
) x ORDER BY id DESC LIMIT ` + n
	return Orders(s).page(ctx, q, limit, args...)
}

// IssuePickupCode implements clerk.Store.
func (s Clerks) IssuePickupCode(ctx context.Context, p clerk.Pickup) (bool, error) {
	res, err := s.ext().ExecContext(ctx, `INSERT INTO pickup_codes (order_id, store_id, code, created_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING`, p.OrderID, p.StoreID, p.Code, p.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("storage: issue pickup code: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

type pickupRow struct {
	OrderID    int64          `db:"order_id"`
	OrderNo    string         `db:"order_no"`
	StoreID    int64          `db:"store_id"`
	Code       string         `db:"code"`
	CreatedAt  time.Time      `db:"created_at"`
	VerifiedAt sql.NullTime   `db:"verified_at"`
	VerifiedBy sql.NullInt64  `db:"verified_by"`
	VerifyKey  sql.NullString `db:"verify_key"`
}

func (r pickupRow) toDomain() clerk.Pickup {
	return clerk.Pickup{OrderID: r.OrderID, OrderNumber: r.OrderNo, StoreID: r.StoreID, Code: r.Code, CreatedAt: r.CreatedAt,
		VerifiedAt: r.VerifiedAt.Time, VerifiedBy: r.VerifiedBy.Int64, VerifyKey: r.VerifyKey.String}
}

const pickupCols = `p.order_id, o.order_no, p.store_id, p.code, p.created_at, p.verified_at, p.verified_by, p.verify_key`

// Pickup implements clerk.Store: the code's row is locked.
func (s Clerks) Pickup(ctx context.Context, code string) (clerk.Pickup, error) {
	var r pickupRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+pickupCols+` FROM pickup_codes p JOIN orders o ON o.id = p.order_id
WHERE p.code = $1 FOR UPDATE OF p`, code)
	if err != nil {
		return clerk.Pickup{}, mapErrNotFound(err, clerk.ErrPickupNotFound)
	}
	return r.toDomain(), nil
}

// PickupOf implements clerk.Store.
func (s Clerks) PickupOf(ctx context.Context, orderID int64) (clerk.Pickup, error) {
	var r pickupRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+pickupCols+` FROM pickup_codes p JOIN orders o ON o.id = p.order_id
WHERE p.order_id = $1`, orderID)
	if err != nil {
		return clerk.Pickup{}, mapErrNotFound(err, clerk.ErrNotPickup)
	}
	return r.toDomain(), nil
}

// MarkPickupVerified implements clerk.Store.
func (s Clerks) MarkPickupVerified(ctx context.Context, orderID, by int64, key string, at time.Time) error {
	res, err := s.ext().ExecContext(ctx, `UPDATE pickup_codes SET verified_at = $2, verified_by = $3, verify_key = NULLIF($4, '')
WHERE order_id = $1 AND verified_at IS NULL`, orderID, at, by, key)
	if err != nil {
		return fmt.Errorf("storage: verify pickup: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return clerk.ErrPickupUsed
	}
	return nil
}

// periodArgs are a period's bounds: the first and last Shanghai day, and
// the instants they span.
func periodArgs(q clerk.PeriodQuery) (from, to string, start, end time.Time) {
	return q.From.Format(time.DateOnly), q.To.Format(time.DateOnly), q.From, q.To.AddDate(0, 0, 1)
}

// clerkPeriod builds a desk statement: its arguments, and the placeholders
// of the period's bounds [from, to) and of the store and clerk asked for
// ("" for every store, every clerk). Only the store and clerk asked for
// are in the statement, so that each case has its own generic plan: with
// "($3 = 0 OR o.store_id = $3) AND ($4 = 0 OR o.clerk_id = $4)" the plan
// read every order of the mall (a clerk's month at 289,000 orders: 195 ms;
// issue 18), and every pickup code once per day of the period (310 ms a
// month at 57,000 codes).
type clerkPeriod struct {
	args         stmtArgs
	from, to     string
	store, clerk string
}

func newClerkPeriod(q clerk.PeriodQuery) *clerkPeriod {
	_, _, start, end := periodArgs(q)
	c := &clerkPeriod{}
	c.from, c.to = c.args.add(start), c.args.add(end)
	if q.StoreID != 0 {
		c.store = c.args.add(q.StoreID)
	}
	if q.ClerkID != 0 {
		c.clerk = c.args.add(q.ClerkID)
	}
	return c
}

// ordersCTE is the in-store orders paid in the period by the store and
// clerk asked for, with their Shanghai day, paid goods amount (what
// attribution credits) and refunds; and the pickups handed over in it. A
// clerk's orders are read from (clerk_id, paid_at), a store's or every
// store's from (store_id, paid_at) (00031; store_id is set exactly on
// in-store orders, orders_channel_parties); pickups from (store_id,
// verified_at) or (verified_by, verified_at) (00033), once: the days read
// what was kept.
func (c *clerkPeriod) ordersCTE() string {
	who, handed := "", ""
	if c.store != "" {
		who += " AND o.store_id = " + c.store
		handed += " AND p.store_id = " + c.store
	}
	if c.clerk != "" {
		who += " AND o.clerk_id = " + c.clerk
		handed += " AND p.verified_by = " + c.clerk
	}
	return `
paid AS (
    SELECT o.id, o.shopper_id, o.clerk_id, o.store_id, (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
           o.payable_fen - o.freight_fen AS gmv,
           (SELECT COALESCE(sum(i.refunded_fen), 0) FROM order_items i WHERE i.order_id = o.id) AS refunded
    FROM orders o
    WHERE o.channel = 'in_store' AND o.store_id IS NOT NULL AND o.paid_at >= ` + c.from + ` AND o.paid_at < ` + c.to + who + `
),
pickups AS MATERIALIZED (
    SELECT p.verified_by, (p.verified_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM pickup_codes p
    WHERE p.verified_at >= ` + c.from + ` AND p.verified_at < ` + c.to + handed + `
)`
}

// day is the Shanghai date of a period bound's placeholder.
func day(bound string) string {
	return "(" + bound + "::timestamptz AT TIME ZONE 'Asia/Shanghai')::date"
}

// performanceSQL: the period's numbers by day; share-link visitors are the
// clerk's touchpoint's, or the store's (every store's) when no clerk is
// asked for.
func (c *clerkPeriod) performanceSQL(q clerk.PeriodQuery) string {
	firstDay, lastDay, _, _ := periodArgs(q)
	first, last := c.args.add(firstDay), c.args.add(lastDay)
	visited := "d.kind = 'store'"
	if c.clerk != "" {
		visited = "d.kind = 'clerk' AND t.staff_id = " + c.clerk
	} else if c.store != "" {
		visited += " AND t.store_id = " + c.store
	}
	return `
WITH ` + c.ordersCTE() + `,
visits AS (
    SELECT d.day, sum(d.visitors) AS n
    FROM touch_tp_daily d JOIN touchpoints t ON t.id = d.touchpoint_id
    WHERE ` + visited + ` AND d.day BETWEEN ` + first + `::date AND ` + last + `::date
    GROUP BY d.day
)
SELECT g.day::date AS day,
       (SELECT count(*) FROM paid p WHERE p.day = g.day) AS orders,
       (SELECT COALESCE(sum(p.gmv), 0) FROM paid p WHERE p.day = g.day) AS gmv,
       (SELECT COALESCE(sum(p.refunded), 0) FROM paid p WHERE p.day = g.day) AS refunded,
       (SELECT count(DISTINCT p.shopper_id) FROM paid p WHERE p.day = g.day) AS customers,
       (SELECT count(*) FROM pickups k WHERE k.day = g.day) AS pickups,
       COALESCE((SELECT v.n FROM visits v WHERE v.day = g.day), 0) AS visitors
FROM generate_series(` + first + `::date, ` + last + `::date, interval '1 day') AS g(day)
ORDER BY g.day`
}

type deskStatsRow struct {
	Orders    int64 `db:"orders"`
	GMV       int64 `db:"gmv"`
	Refunded  int64 `db:"refunded"`
	Customers int64 `db:"customers"`
	Pickups   int64 `db:"pickups"`
	Visitors  int64 `db:"visitors"`
}

func (r deskStatsRow) toDomain() clerk.Stats {
	return clerk.Stats{Orders: r.Orders, GMV: domain.Fen(r.GMV), Refunded: domain.Fen(r.Refunded), Customers: r.Customers,
		Pickups: r.Pickups, Visitors: r.Visitors}
}

// Performance implements clerk.Store.
func (s Clerks) Performance(ctx context.Context, q clerk.PeriodQuery) ([]clerk.DayStats, error) {
	c := newClerkPeriod(q)
	query := c.performanceSQL(q)
	var rows []struct {
		Day time.Time `db:"day"`
		deskStatsRow
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, query, c.args...); err != nil {
		return nil, fmt.Errorf("storage: clerk performance: %w", mapErr(err))
	}
	out := make([]clerk.DayStats, len(rows))
	for i, r := range rows {
		y, m, d := r.Day.Date()
		out[i] = clerk.DayStats{Day: time.Date(y, m, d, 0, 0, 0, 0, domain.Shanghai), Stats: r.deskStatsRow.toDomain()}
	}
	return out, nil
}

// DistinctCustomers implements clerk.Store.
func (s Clerks) DistinctCustomers(ctx context.Context, q clerk.PeriodQuery) (int64, error) {
	c := newClerkPeriod(q)
	query := `WITH ` + c.ordersCTE() + ` SELECT count(DISTINCT shopper_id) FROM paid`
	var n int64
	err := sqlx.GetContext(ctx, s.ext(), &n, query, c.args...)
	return n, mapErr(err)
}

// byClerkSQL: the period's numbers of each clerk of the store(s), by clerk
// id (after the cursor's id; a page of n).
func (c *clerkPeriod) byClerkSQL(after int64, n int) string {
	staff := ""
	if c.store != "" {
		staff += " AND st.store_id = " + c.store
	}
	if c.clerk != "" {
		staff += " AND st.id = " + c.clerk
	}
	return `
WITH ` + c.ordersCTE() + `
SELECT st.id AS clerk_id, st.username, st.store_id,
       (SELECT count(*) FROM paid p WHERE p.clerk_id = st.id) AS orders,
       (SELECT COALESCE(sum(p.gmv), 0) FROM paid p WHERE p.clerk_id = st.id) AS gmv,
       (SELECT COALESCE(sum(p.refunded), 0) FROM paid p WHERE p.clerk_id = st.id) AS refunded,
       (SELECT count(DISTINCT p.shopper_id) FROM paid p WHERE p.clerk_id = st.id) AS customers,
       (SELECT count(*) FROM pickups k WHERE k.verified_by = st.id) AS pickups,
       COALESCE((SELECT sum(d.visitors) FROM touch_tp_daily d JOIN touchpoints t ON t.id = d.touchpoint_id
                 WHERE d.kind = 'clerk' AND t.staff_id = st.id
                   AND d.day >= ` + day(c.from) + ` AND d.day < ` + day(c.to) + `), 0) AS visitors
FROM staff st
WHERE st.role IN ('clerk', 'store_manager')` + staff + ` AND st.id > ` + c.args.add(after) + `
ORDER BY st.id LIMIT ` + c.args.add(n)
}

// ClerkPerformance implements clerk.Store.
func (s Clerks) ClerkPerformance(ctx context.Context, q clerk.PeriodQuery, page domain.Page) ([]clerk.ClerkStats, string, error) {
	after, err := idAfter(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(page.Limit)
	c := newClerkPeriod(q)
	query := c.byClerkSQL(after, limit+1)
	var rows []struct {
		ClerkID  int64  `db:"clerk_id"`
		Username string `db:"username"`
		StoreID  int64  `db:"store_id"`
		deskStatsRow
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, query, c.args...); err != nil {
		return nil, "", fmt.Errorf("storage: store performance: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ClerkID })
	out := make([]clerk.ClerkStats, len(rows))
	for i, r := range rows {
		out[i] = clerk.ClerkStats{ClerkID: r.ClerkID, Username: r.Username, StoreID: r.StoreID, Stats: r.deskStatsRow.toDomain()}
	}
	return out, next, nil
}

// customersSQL: the members with paid in-store orders of the store (0:
// all) and clerk (0: all) asked for, newest member first (below id $1; $2:
// page size). Only the store and clerk asked for are in the statement: with
// "($1 = 0 OR o.store_id = $1)" the generic plan walked every member's
// orders, online ones too, newest member first, until it had a page of
// in-store buyers (5 ms at 289,000 orders, growing with the online buyers
// newer than the store's). A store's members come from (store_id,
// shopper_id) of its paid orders (00032): a page reads its members' orders.
func customersSQL(q clerk.CustomerQuery, before int64, n int) (string, []any) {
	args := stmtArgs{before, n}
	who := ""
	if q.StoreID != 0 {
		who += " AND o.store_id = " + args.add(q.StoreID)
	}
	if q.ClerkID != 0 {
		who += " AND o.clerk_id = " + args.add(q.ClerkID)
	}
	return `
SELECT sh.id, sh.nickname, COALESCE(sh.phone, '') AS phone, x.orders, x.gmv, x.last_at
FROM (SELECT o.shopper_id, count(*) AS orders, sum(o.payable_fen - o.freight_fen) AS gmv, max(o.paid_at) AS last_at
      FROM orders o
      WHERE o.channel = 'in_store' AND o.store_id IS NOT NULL AND o.shopper_id IS NOT NULL AND o.paid_at IS NOT NULL
        AND o.shopper_id < $1` + who + `
      GROUP BY o.shopper_id ORDER BY o.shopper_id DESC LIMIT $2) x
JOIN shoppers sh ON sh.id = x.shopper_id
ORDER BY sh.id DESC`, args
}

// Customers implements clerk.Store.
func (s Clerks) Customers(ctx context.Context, q clerk.CustomerQuery, page domain.Page) ([]clerk.Customer, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(page.Limit)
	var rows []struct {
		ID       int64     `db:"id"`
		Nickname string    `db:"nickname"`
		Phone    string    `db:"phone"`
		Orders   int64     `db:"orders"`
		GMV      int64     `db:"gmv"`
		LastAt   time.Time `db:"last_at"`
	}
	query, args := customersSQL(q, before, limit+1)
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, query, args...); err != nil {
		return nil, "", fmt.Errorf("storage: clerk customers: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]clerk.Customer, len(rows))
	for i, r := range rows {
		out[i] = clerk.Customer{ShopperID: r.ID, Nickname: r.Nickname, MaskedPhone: clerk.MaskPhone(r.Phone), Orders: r.Orders,
			GMV: domain.Fen(r.GMV), LastOrderAt: r.LastAt}
	}
	return out, next, nil
}
