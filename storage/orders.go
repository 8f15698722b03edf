package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

// Orders implements order.Store (db.Orders(), tx.Orders()).
type Orders struct{ scope }

var _ order.Store = Orders{}

// InTx implements order.Store.
func (s Orders) InTx(ctx context.Context, fn func(order.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Orders()) })
}

type orderSKURow struct {
	ID            int64  `db:"id"`
	ProductID     int64  `db:"product_id"`
	CategoryID    int64  `db:"category_id"`
	Code          string `db:"code"`
	Title         string `db:"title"`
	Specs         []byte `db:"specs"`
	Image         string `db:"image"`
	Price         int64  `db:"price_fen"`
	OnSale        bool   `db:"on_sale"`
	Stock         int    `db:"stock"`
	PerOrderLimit int    `db:"per_order_limit"`
}

const orderSKUsSQL = `
SELECT s.id, s.product_id, p.category_id, s.code, p.title, s.specs, COALESCE(p.images[1], '') AS image,
       s.price_fen, (s.status = 'on_sale' AND p.status = 'on_sale') AS on_sale, s.stock,
       COALESCE(s.per_order_limit, 0) AS per_order_limit
FROM skus s JOIN products p ON p.id = s.product_id
WHERE s.id = ANY($1)`

// loadOrderSKUs reads SKUs as orders and carts see them.
func loadOrderSKUs(ctx context.Context, q sqlx.QueryerContext, ids []int64) ([]order.SKU, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []orderSKURow
	if err := sqlx.SelectContext(ctx, q, &rows, orderSKUsSQL, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("storage: order skus: %w", mapErr(err))
	}
	out := make([]order.SKU, len(rows))
	for i, r := range rows {
		specs, err := decodeSpecs(r.Specs)
		if err != nil {
			return nil, err
		}
		out[i] = order.SKU{ID: r.ID, ProductID: r.ProductID, CategoryID: r.CategoryID, Code: r.Code, Title: r.Title,
			Specs: specs, Image: r.Image, Price: domain.Fen(r.Price), OnSale: r.OnSale, Stock: r.Stock,
			PerOrderLimit: r.PerOrderLimit}
	}
	return out, nil
}

// decodeSpecs reads a specs object; values that are not strings are shown
// as their JSON text.
func decodeSpecs(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return map[string]string{}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("storage: specs: %w", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		out[k] = s
	}
	return out, nil
}

// SKUs implements order.Store.
func (s Orders) SKUs(ctx context.Context, ids []int64) ([]order.SKU, error) {
	return loadOrderSKUs(ctx, s.ext(), ids)
}

// Address implements order.Store.
func (s Orders) Address(ctx context.Context, shopperID, id int64) (order.AddressSnapshot, error) {
	var r addressRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+addressCols+` FROM addresses
WHERE id = $1 AND shopper_id = $2 AND deleted_at IS NULL`, id, shopperID)
	if err != nil {
		return order.AddressSnapshot{}, mapErrNotFound(err, order.ErrAddressNotFound)
	}
	return order.AddressSnapshot{AddressID: r.ID, Name: r.Name, Phone: r.Phone, Province: r.Province, City: r.City,
		District: r.District, Detail: r.Detail}, nil
}

// StoreOpen implements order.Store.
func (s Orders) StoreOpen(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, s.ext(), &ok, `SELECT EXISTS (SELECT 1 FROM stores WHERE id = $1 AND status = 'open')`, id)
	return ok, mapErr(err)
}

// SelectedCartLines implements order.Store.
func (s Orders) SelectedCartLines(ctx context.Context, shopperID int64) ([]order.LineRequest, error) {
	var rows []struct {
		SKUID    int64 `db:"sku_id"`
		Quantity int   `db:"quantity"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT sku_id, quantity FROM cart_items
WHERE shopper_id = $1 AND selected ORDER BY added_at DESC, id DESC`, shopperID)
	if err != nil {
		return nil, fmt.Errorf("storage: selected cart lines: %w", mapErr(err))
	}
	out := make([]order.LineRequest, len(rows))
	for i, r := range rows {
		out[i] = order.LineRequest{SKUID: r.SKUID, Quantity: r.Quantity}
	}
	return out, nil
}

// RemoveCartLines implements order.Store.
func (s Orders) RemoveCartLines(ctx context.Context, shopperID int64, skuIDs []int64) error {
	_, err := s.ext().ExecContext(ctx, `DELETE FROM cart_items WHERE shopper_id = $1 AND sku_id = ANY($2)`, shopperID, pq.Array(skuIDs))
	return mapErr(err)
}

// claimKeySQL inserts the key first: a concurrent transaction inserting the
// same key waits on the unique index until this one ends, so two parallel
// requests with one key never both get past it. The key is written complete,
// with the number of the order its transaction places: that transaction
// commits both or neither, so no later statement has to complete it.
const claimKeySQL = `
INSERT INTO idempotency_keys (scope, subject, key, request_hash, status, response)
VALUES ($1, $2, $3, $4, 201, jsonb_build_object('order_no', $5::text))
ON CONFLICT (scope, subject, key) DO NOTHING
RETURNING true`

// IdempotencyKeyUsed implements order.Store.
func (s Orders) IdempotencyKeyUsed(ctx context.Context, scope, subject, key string) (bool, error) {
	var used bool
	err := sqlx.GetContext(ctx, s.ext(), &used, `SELECT EXISTS (SELECT 1 FROM idempotency_keys
WHERE scope = $1 AND subject = $2 AND key = $3)`, scope, subject, key)
	if err != nil {
		return false, fmt.Errorf("storage: idempotency key: %w", mapErr(err))
	}
	return used, nil
}

// SKUBuyers implements order.Store. A shopper's key is claimed under the
// subject "shopper:<id>" (domain.Actor's form), with the order it placed in
// its response. The lines are read SKU by SKU from their index, and each
// line's order and keys by key: with "sku_id = ANY($1) … JOIN orders" the
// generic plan walked order_items until it had the lines and hashed every
// order of the mall to join them (a flash-sale SKU's sold-out memo at
// 289,000 orders: 556 ms, growing with the table; issue 18).
func (s Orders) SKUBuyers(ctx context.Context, scope string, skuIDs []int64, limit int) (map[int64][]string, bool, error) {
	var rows []struct {
		ShopperID int64          `db:"shopper_id"`
		Key       sql.NullString `db:"key"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT COALESCE(o.shopper_id, 0) AS shopper_id, k.key
FROM (SELECT l.order_id FROM (SELECT DISTINCT id FROM unnest($1::bigint[]) id) s
      CROSS JOIN LATERAL (SELECT order_id FROM order_items WHERE sku_id = s.id LIMIT $2) l
      LIMIT $2) i
CROSS JOIN LATERAL (SELECT o.shopper_id, o.order_no FROM orders o WHERE o.id = i.order_id) o
LEFT JOIN LATERAL (SELECT k.key FROM idempotency_keys k WHERE k.scope = $3 AND k.subject = 'shopper:' || o.shopper_id
     AND k.response->>'order_no' = o.order_no) k ON true`, pq.Array(skuIDs), limit+1, scope)
	if err != nil {
		return nil, false, fmt.Errorf("storage: sku buyers: %w", mapErr(err))
	}
	buyers := make(map[int64][]string, len(rows))
	for _, r := range rows {
		keys := buyers[r.ShopperID]
		if r.Key.Valid && !slices.Contains(keys, r.Key.String) {
			keys = append(keys, r.Key.String)
		}
		buyers[r.ShopperID] = keys
	}
	return buyers, len(rows) <= limit, nil
}

// ClaimIdempotencyKey implements order.Store.
func (s Orders) ClaimIdempotencyKey(ctx context.Context, scope, subject, key string, hash []byte, orderNo string) (string, bool, error) {
	var inserted bool
	err := sqlx.GetContext(ctx, s.ext(), &inserted, claimKeySQL, scope, subject, key, Bytea(hash), orderNo)
	if err == nil {
		return "", false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("storage: claim idempotency key: %w", mapErr(err))
	}
	var r struct {
		Hash    []byte         `db:"request_hash"`
		OrderNo sql.NullString `db:"order_no"`
	}
	err = sqlx.GetContext(ctx, s.ext(), &r, `SELECT request_hash, response->>'order_no' AS order_no FROM idempotency_keys
WHERE scope = $1 AND subject = $2 AND key = $3 FOR UPDATE`, scope, subject, key)
	if err != nil {
		return "", false, fmt.Errorf("storage: claim idempotency key: %w", mapErr(err))
	}
	if string(r.Hash) != string(hash) {
		return "", false, domain.ErrIdempotencyKeyReused
	}
	if !r.OrderNo.Valid {
		// Written by another kind of request, or never completed: treat as busy.
		return "", false, &domain.Error{Kind: domain.KindConflict, Code: "idempotency_key_in_use",
			Message: "A request with this Idempotency-Key is still being processed; try again shortly."}
	}
	return r.OrderNo.String, true, nil
}

// ReserveStock implements order.Store with the catalog's stock moves.
func (s Orders) ReserveStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return ReserveStock(ctx, s.ext(), skuID, qty, ref, actor, at)
}

// ReleaseStock implements order.Store with the catalog's stock moves.
func (s Orders) ReleaseStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return ReleaseStock(ctx, s.ext(), skuID, qty, ref, actor, at)
}

// createOrderSQL writes the order, its items and their adjustments in one
// statement and returns the ids of the order and its items by line.
const createOrderSQL = `
WITH o AS (
    INSERT INTO orders (order_no, shopper_id, status, fulfillment, address, pickup_store_id,
        subtotal_fen, discount_fen, freight_fen, payable_fen, points_used, note, placed_at, expires_at,
        store_id, clerk_id, channel, updated_at)
    VALUES ($1, NULLIF($2, 0), $3, $4, $5, NULLIF($6, 0), $7, $8, $9, $10, $11, $12, $13, $14,
        NULLIF($15, 0), NULLIF($16, 0), $17, $13)
    RETURNING id
), i AS (
    INSERT INTO order_items (order_id, line_no, sku_id, product_id, sku_code, title, specs, image, unit_price_fen,
        quantity, list_total_fen, discount_fen, paid_fen)
    SELECT o.id, u.* FROM o, unnest($18::int[], $19::bigint[], $20::bigint[], $21::text[], $22::text[],
        $23::text[]::jsonb[], $24::text[], $25::bigint[], $26::int[], $27::bigint[], $28::bigint[], $29::bigint[]) AS u
    RETURNING id, line_no
), a AS (
    INSERT INTO order_adjustments (order_id, item_id, source, source_id, amount_fen)
    SELECT o.id, i.id, u.source, u.source_id, u.amount
    FROM o, unnest($30::int[], $31::text[], $32::bigint[], $33::bigint[]) WITH ORDINALITY AS u(line_no, source, source_id, amount, n)
    JOIN i ON i.line_no = u.line_no
    ORDER BY u.n
)
SELECT o.id AS order_id, i.id AS item_id, i.line_no FROM o, i ORDER BY i.line_no`

// CreateOrder implements order.Store.
func (s Orders) CreateOrder(ctx context.Context, o order.Order) (order.Order, error) {
	var addr any
	if o.Address != nil {
		b, err := json.Marshal(addressJSON(*o.Address))
		if err != nil {
			return order.Order{}, fmt.Errorf("storage: create order: %w", err)
		}
		addr = string(b)
	}
	n := len(o.Items)
	lineNo, qty := make([]int64, n), make([]int64, n)
	sku, prod := make([]int64, n), make([]int64, n)
	code, title, specs, image := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	unit, list, disc, paid := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	var adjLine, adjSourceID, adjAmount []int64
	var adjSource []string
	for i, it := range o.Items {
		sp, err := json.Marshal(it.Specs)
		if err != nil {
			return order.Order{}, fmt.Errorf("storage: create order: %w", err)
		}
		if it.Specs == nil {
			sp = []byte("{}")
		}
		lineNo[i], sku[i], prod[i], code[i], title[i], specs[i], image[i] = int64(it.LineNo), it.SKUID, it.ProductID,
			it.SKUCode, it.Title, string(sp), it.Image
		unit[i], qty[i], list[i], disc[i], paid[i] = int64(it.UnitPrice), int64(it.Quantity), int64(it.ListTotal),
			int64(it.Discount), int64(it.Paid)
		for _, a := range it.Adjustments {
			adjLine = append(adjLine, int64(it.LineNo))
			adjSource = append(adjSource, string(a.Source))
			adjSourceID = append(adjSourceID, a.SourceID)
			adjAmount = append(adjAmount, int64(a.Amount))
		}
	}
	channel := o.Channel
	if channel == "" {
		channel = order.ChannelOnline
	}
	var ids []struct {
		OrderID int64 `db:"order_id"`
		ItemID  int64 `db:"item_id"`
		LineNo  int   `db:"line_no"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &ids, createOrderSQL,
		o.Number, o.ShopperID, string(o.Status), string(o.Fulfillment), addr, o.PickupStore,
		int64(o.Subtotal), int64(o.Discount), int64(o.Freight), int64(o.Payable), o.PointsUsed, o.Note, o.PlacedAt,
		o.ExpiresAt, o.StoreID, o.ClerkID, string(channel),
		pq.Array(lineNo), pq.Array(sku), pq.Array(prod), pq.Array(code), pq.Array(title), pq.Array(specs), pq.Array(image),
		pq.Array(unit), pq.Array(qty), pq.Array(list), pq.Array(disc), pq.Array(paid),
		pq.Array(adjLine), pq.Array(adjSource), pq.Array(adjSourceID), pq.Array(adjAmount))
	if err != nil {
		return order.Order{}, fmt.Errorf("storage: create order: %w", mapErr(err))
	}
	if len(ids) != n {
		return order.Order{}, fmt.Errorf("storage: create order: %d lines written of %d", len(ids), n)
	}
	o.Channel = channel
	o.Items = slices.Clone(o.Items)
	for i := range o.Items {
		it := &o.Items[i]
		o.ID = ids[i].OrderID
		it.ID = ids[i].ItemID
		it.Adjustments = slices.Clone(it.Adjustments)
		for k := range it.Adjustments {
			it.Adjustments[k].ItemID = it.ID
		}
	}
	return o, nil
}

type addressJSON struct {
	AddressID int64  `json:"address_id"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Province  string `json:"province"`
	City      string `json:"city"`
	District  string `json:"district"`
	Detail    string `json:"detail"`
}

const orderCols = `id, order_no, COALESCE(shopper_id, 0) AS shopper_id, status, fulfillment, channel, address,
COALESCE(pickup_store_id, 0) AS pickup_store_id, subtotal_fen, discount_fen,
freight_fen, payable_fen, points_used, note, placed_at, expires_at, paid_at, shipped_at,
COALESCE(carrier, '') AS carrier, COALESCE(tracking_no, '') AS tracking_no, completed_at, cancelled_at,
COALESCE(cancel_reason, '') AS cancel_reason, COALESCE(store_id, 0) AS store_id, COALESCE(clerk_id, 0) AS clerk_id`

type orderRow struct {
	ID           int64        `db:"id"`
	Number       string       `db:"order_no"`
	ShopperID    int64        `db:"shopper_id"`
	Status       string       `db:"status"`
	Fulfillment  string       `db:"fulfillment"`
	Channel      string       `db:"channel"`
	Address      []byte       `db:"address"`
	PickupStore  int64        `db:"pickup_store_id"`
	Subtotal     int64        `db:"subtotal_fen"`
	Discount     int64        `db:"discount_fen"`
	Freight      int64        `db:"freight_fen"`
	Payable      int64        `db:"payable_fen"`
	PointsUsed   int64        `db:"points_used"`
	Note         string       `db:"note"`
	PlacedAt     time.Time    `db:"placed_at"`
	ExpiresAt    time.Time    `db:"expires_at"`
	PaidAt       sql.NullTime `db:"paid_at"`
	ShippedAt    sql.NullTime `db:"shipped_at"`
	Carrier      string       `db:"carrier"`
	TrackingNo   string       `db:"tracking_no"`
	CompletedAt  sql.NullTime `db:"completed_at"`
	CancelledAt  sql.NullTime `db:"cancelled_at"`
	CancelReason string       `db:"cancel_reason"`
	StoreID      int64        `db:"store_id"`
	ClerkID      int64        `db:"clerk_id"`
}

func (r orderRow) toDomain() (order.Order, error) {
	o := order.Order{
		ID: r.ID, Number: r.Number, ShopperID: r.ShopperID, Status: order.Status(r.Status),
		Fulfillment: order.FulfillmentType(r.Fulfillment), Channel: order.Channel(r.Channel), PickupStore: r.PickupStore,
		Subtotal: domain.Fen(r.Subtotal), Discount: domain.Fen(r.Discount),
		Freight: domain.Fen(r.Freight), Payable: domain.Fen(r.Payable), PointsUsed: r.PointsUsed,
		Note: r.Note, PlacedAt: r.PlacedAt, ExpiresAt: r.ExpiresAt,
		PaidAt: r.PaidAt.Time, ShippedAt: r.ShippedAt.Time, Carrier: r.Carrier, TrackingNo: r.TrackingNo,
		CompletedAt: r.CompletedAt.Time, CancelledAt: r.CancelledAt.Time, CancelReason: r.CancelReason,
		StoreID: r.StoreID, ClerkID: r.ClerkID,
	}
	if len(r.Address) > 0 {
		var a addressJSON
		if err := json.Unmarshal(r.Address, &a); err != nil {
			return order.Order{}, fmt.Errorf("storage: order address: %w", err)
		}
		o.Address = &order.AddressSnapshot{AddressID: a.AddressID, Name: a.Name, Phone: a.Phone, Province: a.Province,
			City: a.City, District: a.District, Detail: a.Detail}
	}
	return o, nil
}

type itemRow struct {
	ID               int64  `db:"id"`
	OrderID          int64  `db:"order_id"`
	LineNo           int    `db:"line_no"`
	SKUID            int64  `db:"sku_id"`
	ProductID        int64  `db:"product_id"`
	SKUCode          string `db:"sku_code"`
	Title            string `db:"title"`
	Specs            []byte `db:"specs"`
	Image            string `db:"image"`
	UnitPrice        int64  `db:"unit_price_fen"`
	Quantity         int    `db:"quantity"`
	ListTotal        int64  `db:"list_total_fen"`
	Discount         int64  `db:"discount_fen"`
	Adjustments      []byte `db:"adjustments"`
	Paid             int64  `db:"paid_fen"`
	RefundStatus     string `db:"refund_status"`
	RefundedQuantity int    `db:"refunded_quantity"`
	RefundedFen      int64  `db:"refunded_fen"`
}

const itemCols = `id, order_id, line_no, sku_id, product_id, sku_code, title, specs, image, unit_price_fen, quantity,
list_total_fen, discount_fen, paid_fen, refund_status, refunded_quantity, refunded_fen,
(SELECT COALESCE(json_agg(json_build_array(a.source, a.source_id, a.amount_fen) ORDER BY a.id), '[]')
   FROM order_adjustments a WHERE a.item_id = order_items.id) AS adjustments`

// decodeAdjustments reads an item's adjustments ([[source, source_id, amount] …]).
func decodeAdjustments(itemID int64, lineNo int, b []byte) ([]order.Adjustment, error) {
	var raw [][3]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("storage: order adjustments: %w", err)
	}
	out := make([]order.Adjustment, 0, len(raw))
	for _, r := range raw {
		var a order.Adjustment
		var src string
		var amt int64
		if err := errors.Join(json.Unmarshal(r[0], &src), json.Unmarshal(r[1], &a.SourceID), json.Unmarshal(r[2], &amt)); err != nil {
			return nil, fmt.Errorf("storage: order adjustments: %w", err)
		}
		a.ItemID, a.LineNo, a.Source, a.Amount = itemID, lineNo, pricing.Source(src), domain.Fen(amt)
		out = append(out, a)
	}
	return out, nil
}

// withItems loads the items of rows and converts them.
func withItems(ctx context.Context, q sqlx.QueryerContext, rows []orderRow) ([]order.Order, error) {
	out := make([]order.Order, len(rows))
	ids := make([]int64, len(rows))
	at := make(map[int64]int, len(rows))
	for i, r := range rows {
		o, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out[i], ids[i], at[r.ID] = o, r.ID, i
	}
	if len(rows) == 0 {
		return out, nil
	}
	var items []itemRow
	if err := sqlx.SelectContext(ctx, q, &items, `SELECT `+itemCols+` FROM order_items
WHERE order_id = ANY($1) ORDER BY order_id, line_no`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("storage: order items: %w", mapErr(err))
	}
	for _, it := range items {
		specs, err := decodeSpecs(it.Specs)
		if err != nil {
			return nil, err
		}
		adj, err := decodeAdjustments(it.ID, it.LineNo, it.Adjustments)
		if err != nil {
			return nil, err
		}
		o := &out[at[it.OrderID]]
		o.Items = append(o.Items, order.Item{
			ID: it.ID, LineNo: it.LineNo, SKUID: it.SKUID, ProductID: it.ProductID, SKUCode: it.SKUCode, Title: it.Title,
			Specs: specs, Image: it.Image, UnitPrice: domain.Fen(it.UnitPrice), Quantity: it.Quantity,
			ListTotal: domain.Fen(it.ListTotal), Discount: domain.Fen(it.Discount), Adjustments: adj, Paid: domain.Fen(it.Paid),
			RefundStatus: order.LineRefundStatus(it.RefundStatus), RefundedQuantity: it.RefundedQuantity,
			RefundedFen: domain.Fen(it.RefundedFen),
		})
	}
	return out, nil
}

// Order implements order.Store.
func (s Orders) Order(ctx context.Context, number string, shopperID int64, forUpdate bool) (order.Order, error) {
	q := `SELECT ` + orderCols + ` FROM orders WHERE order_no = $1 AND ($2::bigint = 0 OR shopper_id = $2::bigint)`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r orderRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, q, number, shopperID); err != nil {
		return order.Order{}, mapErrNotFound(err, order.ErrOrderNotFound)
	}
	os, err := withItems(ctx, s.ext(), []orderRow{r})
	if err != nil {
		return order.Order{}, err
	}
	return os[0], nil
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func optText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UpdateStatus implements order.Store.
func (s Orders) UpdateStatus(ctx context.Context, o order.Order) error {
	now := time.Now()
	for _, t := range []time.Time{o.CancelledAt, o.CompletedAt, o.ShippedAt, o.PaidAt} {
		if !t.IsZero() {
			now = t
			break
		}
	}
	res, err := s.ext().ExecContext(ctx, `
UPDATE orders SET status = $2, paid_at = $3, shipped_at = $4, carrier = $5, tracking_no = $6, completed_at = $7,
    cancelled_at = $8, cancel_reason = $9, updated_at = $10
WHERE id = $1`, o.ID, string(o.Status), optTime(o.PaidAt), optTime(o.ShippedAt), optText(o.Carrier),
		optText(o.TrackingNo), optTime(o.CompletedAt), optTime(o.CancelledAt), optText(o.CancelReason), now)
	if err != nil {
		return fmt.Errorf("storage: update order status: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return order.ErrOrderNotFound
	}
	return nil
}

func (s Orders) page(ctx context.Context, q string, limit int, args ...any) ([]order.Order, string, error) {
	var rows []orderRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, q, args...); err != nil {
		return nil, "", fmt.Errorf("storage: list orders: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	os, err := withItems(ctx, s.ext(), rows)
	return os, next, err
}

// ListOrders implements order.Store. The status is in the statement only
// when it is given (stmtArgs): with a catch-all "($2 = <empty> OR status
// = $2)" the generic plan walked all of the shopper's orders newest first
// for a rare status; given, it is read from (shopper_id, status, id).
func (s Orders) ListOrders(ctx context.Context, shopperID int64, status order.Status, p domain.Page) ([]order.Order, string, error) {
	before, err := idBefore(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(p.Limit)
	args := stmtArgs{shopperID, before, limit + 1}
	where := "shopper_id = $1"
	if status != "" {
		where += " AND status = " + args.add(string(status))
	}
	return s.page(ctx, `SELECT `+orderCols+` FROM orders
WHERE `+where+` AND id < $2 ORDER BY id DESC LIMIT $3`, limit, args...)
}

// SearchOrders implements order.Store. Only the filters given are in the
// statement, so each combination gets its own generic plan: a catch-all
// "($1 = <empty> OR order_no = $1) AND …" cannot use an index for any filter, and
// its generic plan read every order below the cursor and sorted them (the
// first page, unfiltered or by number, shopper or status, ~120–280 ms at
// 290,000 orders; issue 18).
//
// Newest first: by id, or with a period by the time placed (then id), read
// from (placed_at, id) (migration 00036) a page at a time. By id, a
// period's page had to read every order placed in it and sort them: ~56 ms
// for a month of 32,000 orders, growing with the month.
func (s Orders) SearchOrders(ctx context.Context, f order.Filter, p domain.Page) ([]order.Order, string, error) {
	period := !f.From.IsZero() || !f.To.IsZero()
	var before int64
	var after keyCursor // a period's: the time placed (µs since the epoch) and id
	var err error
	if period {
		after, err = decodeKeyCursor(p.Cursor)
	} else {
		before, err = idBefore(p.Cursor)
	}
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(p.Limit)
	var where []string
	var args stmtArgs
	arg := args.add
	if f.Number != "" {
		where = append(where, "order_no = "+arg(f.Number))
	}
	if f.Status != "" {
		// Spelled out (quoted; one of a few): within a period a rare
		// status is read from its index, a common one along the period's.
		where = append(where, "status = "+pq.QuoteLiteral(string(f.Status)))
	}
	if f.ShopperID != 0 {
		where = append(where, "shopper_id = "+arg(f.ShopperID))
	}
	if !f.From.IsZero() {
		where = append(where, "placed_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "placed_at < "+arg(f.To))
	}
	order := "id DESC"
	switch {
	case period:
		order = "placed_at DESC, id DESC"
		if p.Cursor != "" {
			where = append(where, "(placed_at, id) < ("+arg(time.UnixMicro(after.Key))+", "+arg(after.ID)+")")
		}
	case p.Cursor != "":
		// Only past the first page: the first page's statement has no
		// cursor at all, its plan a walk from the newest order.
		where = append(where, "id < "+arg(before))
	}
	w := ""
	if len(where) > 0 {
		w = "\nWHERE " + strings.Join(where, " AND ")
	}
	q := `SELECT ` + orderCols + ` FROM orders` + w + ` ORDER BY ` + order + ` LIMIT ` + arg(limit+1)
	os, next, err := s.page(ctx, q, limit, args...)
	if period && next != "" {
		last := os[len(os)-1]
		next = encodeKeyCursor(keyCursor{Key: last.PlacedAt.UnixMicro(), ID: last.ID})
	}
	return os, next, err
}

// ShippedBefore implements order.Store.
func (s Orders) ShippedBefore(ctx context.Context, cutoff time.Time, limit int) ([]order.Order, error) {
	var rows []orderRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+orderCols+` FROM orders
WHERE status = 'shipped' AND shipped_at < $1 ORDER BY shipped_at LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: shipped orders: %w", mapErr(err))
	}
	return withItems(ctx, s.ext(), rows)
}

// PendingExpired implements order.Store. An order with a payment attempt
// still open is left alone: its attempt must be closed at WeChat Pay first
// (cashier.Expire), or a payment could land on a cancelled order unseen.
func (s Orders) PendingExpired(ctx context.Context, now time.Time, limit int) ([]order.Order, error) {
	var rows []orderRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+orderCols+` FROM orders
WHERE status = 'pending_payment' AND expires_at < $1
    AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.order_id = orders.id AND a.status = 'open')
ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expired orders: %w", mapErr(err))
	}
	return withItems(ctx, s.ext(), rows)
}

// Audit implements order.Store.
func (s Orders) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

// AddTender records a tender that settles part of an order's payable (a
// placed handler of the area that took the money calls it).
func (s Orders) AddTender(ctx context.Context, orderID int64, t order.Tender, at time.Time) (order.Tender, error) {
	err := sqlx.GetContext(ctx, s.ext(), &t.ID, `INSERT INTO order_tenders (order_id, kind, ref, amount_fen, created_at)
VALUES ($1, $2, $3, $4, $5) RETURNING id`, orderID, string(t.Kind), t.Ref, int64(t.Amount), at)
	if err != nil {
		return order.Tender{}, fmt.Errorf("storage: add tender: %w", mapErr(err))
	}
	return t, nil
}

// Tenders returns an order's tenders, oldest first, each with what live
// refunds (not failed or closed) give back of it.
func (s Orders) Tenders(ctx context.Context, orderID int64) ([]order.Tender, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Kind     string `db:"kind"`
		Ref      string `db:"ref"`
		Amount   int64  `db:"amount_fen"`
		Refunded int64  `db:"refunded"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT t.id, t.kind, t.ref, t.amount_fen,
       COALESCE((SELECT sum(rt.amount_fen) FROM refund_tenders rt JOIN refunds r ON r.id = rt.refund_id
                 WHERE rt.tender_id = t.id AND r.status NOT IN ('closed', 'failed')), 0) AS refunded
FROM order_tenders t WHERE t.order_id = $1 ORDER BY t.id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("storage: tenders: %w", mapErr(err))
	}
	out := make([]order.Tender, len(rows))
	for i, r := range rows {
		out[i] = order.Tender{ID: r.ID, Kind: order.TenderKind(r.Kind), Ref: r.Ref, Amount: domain.Fen(r.Amount),
			Refunded: domain.Fen(r.Refunded)}
	}
	return out, nil
}

// RenameAdjustments names the row an adjustment's discount came from, once
// a placed handler has written it (the coupon's redemption, the points'
// ledger entry): see order.AdjustmentRename. Renaming nothing is an error.
func (s Orders) RenameAdjustments(ctx context.Context, r order.AdjustmentRename) error {
	res, err := s.ext().ExecContext(ctx, `
UPDATE order_adjustments SET source_id = $5
WHERE order_id = $1 AND ($2::bigint = 0 OR item_id = $2::bigint) AND source = $3 AND source_id = $4`,
		r.OrderID, r.ItemID, string(r.Source), r.From, r.To)
	if err != nil {
		return fmt.Errorf("storage: rename adjustments: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("storage: rename adjustments: order %d has no %s adjustment %d", r.OrderID, r.Source, r.From)
	}
	return nil
}
