package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/address"
	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/domain/order"
)

// Carts implements cart.Store.
type Carts struct{ scope }

var _ cart.Store = Carts{}

// ownerCond is the WHERE condition selecting o's lines, as $1.
func ownerCond(o cart.Owner) (string, any) {
	if o.ShopperID > 0 {
		return "shopper_id = $1", o.ShopperID
	}
	return "anon_id = $1", o.AnonID
}

// SKUs implements cart.Store.
func (s Carts) SKUs(ctx context.Context, ids []int64) ([]order.SKU, error) {
	return loadOrderSKUs(ctx, s.ext(), ids)
}

// CartLines implements cart.Store.
func (s Carts) CartLines(ctx context.Context, o cart.Owner) ([]cart.Stored, error) {
	cond, arg := ownerCond(o)
	var rows []struct {
		SKUID    int64     `db:"sku_id"`
		Quantity int       `db:"quantity"`
		Selected bool      `db:"selected"`
		AddedAt  time.Time `db:"added_at"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT sku_id, quantity, selected, added_at FROM cart_items
WHERE `+cond+` ORDER BY added_at DESC, id DESC`, arg)
	if err != nil {
		return nil, fmt.Errorf("storage: cart lines: %w", mapErr(err))
	}
	out := make([]cart.Stored, len(rows))
	for i, r := range rows {
		out[i] = cart.Stored{SKUID: r.SKUID, Quantity: r.Quantity, Selected: r.Selected, AddedAt: r.AddedAt}
	}
	return out, nil
}

// addCartLineSQL merges into an existing line only while the sum stays
// within $4 (the line's limit), and adds a new line only while the cart has
// fewer than $5 lines; it answers no row otherwise.
const addCartLineSQL = `
INSERT INTO cart_items (shopper_id, anon_id, sku_id, quantity, selected, added_at, updated_at)
SELECT NULLIF($6::bigint, 0), NULLIF($7::text, ''), $2, $3, true, $8, $8
WHERE EXISTS (SELECT 1 FROM cart_items WHERE %[1]s AND sku_id = $2)
   OR (SELECT count(*) FROM cart_items WHERE %[1]s) < $5
ON CONFLICT %[2]s DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity, selected = true,
    updated_at = EXCLUDED.updated_at
WHERE cart_items.quantity + EXCLUDED.quantity <= $4
RETURNING quantity`

// AddCartLine implements cart.Store.
func (s Carts) AddCartLine(ctx context.Context, o cart.Owner, skuID int64, qty, maxQty, maxLines int, at time.Time) error {
	cond, arg := ownerCond(o)
	target := "(shopper_id, sku_id) WHERE shopper_id IS NOT NULL"
	if o.ShopperID == 0 {
		target = "(anon_id, sku_id) WHERE anon_id IS NOT NULL"
	}
	var n int
	err := sqlx.GetContext(ctx, s.ext(), &n, fmt.Sprintf(addCartLineSQL, cond, target), arg, skuID, qty, maxQty, maxLines,
		o.ShopperID, o.AnonID, at)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: add cart line: %w", mapErr(err))
	}
	var exists bool
	if err := sqlx.GetContext(ctx, s.ext(), &exists, `SELECT EXISTS (SELECT 1 FROM cart_items WHERE `+cond+` AND sku_id = $2)`, arg, skuID); err != nil {
		return fmt.Errorf("storage: add cart line: %w", mapErr(err))
	}
	if exists {
		return order.ErrOverLimit
	}
	return cart.ErrCartFull
}

// SetCartLine implements cart.Store.
func (s Carts) SetCartLine(ctx context.Context, o cart.Owner, skuID int64, qty *int, selected *bool, at time.Time) error {
	cond, arg := ownerCond(o)
	res, err := s.ext().ExecContext(ctx, `UPDATE cart_items SET quantity = COALESCE($3, quantity),
    selected = COALESCE($4, selected), updated_at = $5
WHERE `+cond+` AND sku_id = $2`, arg, skuID, qty, selected, at)
	if err != nil {
		return fmt.Errorf("storage: set cart line: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cart.ErrLineNotFound
	}
	return nil
}

// RemoveCartLine implements cart.Store.
func (s Carts) RemoveCartLine(ctx context.Context, o cart.Owner, skuID int64) error {
	cond, arg := ownerCond(o)
	_, err := s.ext().ExecContext(ctx, `DELETE FROM cart_items WHERE `+cond+` AND sku_id = $2`, arg, skuID)
	return mapErr(err)
}

// mergeCartSQL moves the visitor's lines to the shopper in one statement.
const mergeCartSQL = `
WITH moved AS (
    DELETE FROM cart_items WHERE anon_id = $1 RETURNING sku_id, quantity, selected, added_at
)
INSERT INTO cart_items (shopper_id, sku_id, quantity, selected, added_at, updated_at)
SELECT $2, sku_id, LEAST(quantity, $3), selected, added_at, $4 FROM moved
ON CONFLICT (shopper_id, sku_id) WHERE shopper_id IS NOT NULL DO UPDATE
SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, $3),
    selected = cart_items.selected OR EXCLUDED.selected, updated_at = EXCLUDED.updated_at`

// MergeCart implements cart.Store.
func (s Carts) MergeCart(ctx context.Context, anonID string, shopperID int64, maxQty int, at time.Time) error {
	_, err := s.ext().ExecContext(ctx, mergeCartSQL, anonID, shopperID, maxQty, at)
	return mapErr(err)
}

// Addresses implements address.Store.
type Addresses struct{ scope }

var _ address.Store = Addresses{}

type addressRow struct {
	ID        int64     `db:"id"`
	ShopperID int64     `db:"shopper_id"`
	Name      string    `db:"name"`
	Phone     string    `db:"phone"`
	Province  string    `db:"province"`
	City      string    `db:"city"`
	District  string    `db:"district"`
	Detail    string    `db:"detail"`
	IsDefault bool      `db:"is_default"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

const addressCols = `id, shopper_id, name, phone, province, city, district, detail, is_default, created_at, updated_at`

func (r addressRow) toDomain() address.Address {
	return address.Address{ID: r.ID, ShopperID: r.ShopperID, Name: r.Name, Phone: r.Phone, Province: r.Province,
		City: r.City, District: r.District, Detail: r.Detail, IsDefault: r.IsDefault, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListAddresses implements address.Store.
func (s Addresses) ListAddresses(ctx context.Context, shopperID int64) ([]address.Address, error) {
	var rows []addressRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+addressCols+` FROM addresses
WHERE shopper_id = $1 AND deleted_at IS NULL ORDER BY is_default DESC, id DESC`, shopperID)
	if err != nil {
		return nil, fmt.Errorf("storage: list addresses: %w", mapErr(err))
	}
	out := make([]address.Address, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// CountAddresses implements address.Store.
func (s Addresses) CountAddresses(ctx context.Context, shopperID int64) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.ext(), &n, `SELECT count(*) FROM addresses WHERE shopper_id = $1 AND deleted_at IS NULL`, shopperID)
	return n, mapErr(err)
}

// GetAddress implements address.Store.
func (s Addresses) GetAddress(ctx context.Context, shopperID, id int64) (address.Address, error) {
	var r addressRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+addressCols+` FROM addresses
WHERE id = $1 AND shopper_id = $2 AND deleted_at IS NULL`, id, shopperID)
	if err != nil {
		return address.Address{}, mapErrNotFound(err, address.ErrNotFound)
	}
	return r.toDomain(), nil
}

const clearDefaultSQL = `UPDATE addresses SET is_default = false
WHERE shopper_id = $1 AND is_default AND deleted_at IS NULL AND id <> $2`

// CreateAddress implements address.Store. The shopper's first live address
// becomes the default.
func (s Addresses) CreateAddress(ctx context.Context, a address.Address) (address.Address, error) {
	var r addressRow
	err := s.inTx(ctx, func(t *Tx) error {
		tx := t.x
		if a.IsDefault {
			if _, err := tx.ExecContext(ctx, clearDefaultSQL, a.ShopperID, 0); err != nil {
				return err
			}
		}
		return tx.GetContext(ctx, &r, `
INSERT INTO addresses (shopper_id, name, phone, province, city, district, detail, is_default, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7,
        $8 OR NOT EXISTS (SELECT 1 FROM addresses WHERE shopper_id = $1 AND deleted_at IS NULL), $9, $9)
RETURNING `+addressCols, a.ShopperID, a.Name, a.Phone, a.Province, a.City, a.District, a.Detail, a.IsDefault, a.CreatedAt)
	})
	if err != nil {
		return address.Address{}, fmt.Errorf("storage: create address: %w", addressErr(err))
	}
	return r.toDomain(), nil
}

// UpdateAddress implements address.Store.
func (s Addresses) UpdateAddress(ctx context.Context, a address.Address) (address.Address, error) {
	var r addressRow
	err := s.inTx(ctx, func(t *Tx) error {
		tx := t.x
		if a.IsDefault {
			if _, err := tx.ExecContext(ctx, clearDefaultSQL, a.ShopperID, a.ID); err != nil {
				return err
			}
		}
		return tx.GetContext(ctx, &r, `
UPDATE addresses SET name = $3, phone = $4, province = $5, city = $6, district = $7, detail = $8, is_default = $9,
    updated_at = $10
WHERE id = $1 AND shopper_id = $2 AND deleted_at IS NULL
RETURNING `+addressCols, a.ID, a.ShopperID, a.Name, a.Phone, a.Province, a.City, a.District, a.Detail, a.IsDefault, a.UpdatedAt)
	})
	if err != nil {
		return address.Address{}, fmt.Errorf("storage: update address: %w", addressErr(err))
	}
	return r.toDomain(), nil
}

func addressErr(err error) error {
	if isUnique(err, "addresses_one_default_idx") {
		return &domain.Error{Kind: domain.KindConflict, Code: "busy", Message: "Another change to your addresses is in progress; try again.", Err: err}
	}
	return mapErrNotFound(err, address.ErrNotFound)
}

// DeleteAddress implements address.Store.
func (s Addresses) DeleteAddress(ctx context.Context, shopperID, id int64, at time.Time) error {
	res, err := s.ext().ExecContext(ctx, `UPDATE addresses SET deleted_at = $3, is_default = false, updated_at = $3
WHERE id = $1 AND shopper_id = $2 AND deleted_at IS NULL`, id, shopperID, at)
	if err != nil {
		return fmt.Errorf("storage: delete address: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return address.ErrNotFound
	}
	return nil
}

// PruneAnonymousCarts implements cart.Store: the carts are read in anon id
// order from their lines' index. A line changed while it runs is kept (the
// delete rechecks its time).
func (s Carts) PruneAnonymousCarts(ctx context.Context, before time.Time, after string, limit int) (string, int, error) {
	var r struct {
		Last    sql.NullString `db:"last"`
		Deleted int            `db:"deleted"`
	}
	err := sqlx.GetContext(ctx, s.ext(), &r, `
WITH carts AS (
    SELECT anon_id, max(updated_at) AS changed FROM cart_items
    WHERE anon_id > $2 GROUP BY anon_id ORDER BY anon_id LIMIT $3
), gone AS (
    DELETE FROM cart_items WHERE anon_id IN (SELECT anon_id FROM carts WHERE changed < $1) AND updated_at < $1
    RETURNING anon_id
)
SELECT (SELECT max(anon_id) FROM carts) AS last, (SELECT count(DISTINCT anon_id) FROM gone) AS deleted`, before, after, limit)
	if err != nil {
		return "", 0, fmt.Errorf("storage: prune anonymous carts: %w", mapErr(err))
	}
	return r.Last.String, r.Deleted, nil
}
