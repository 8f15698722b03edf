package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/catalog"
)

// Stock moves. Every change of skus.stock, skus.reserved and skus.sold is one
// conditional UPDATE (it never takes a column below zero, whatever runs
// concurrently: under READ COMMITTED a waiting UPDATE re-evaluates its WHERE
// on the row as committed) and one stock_ledger row, in one statement, so a
// caller's transaction holds both or neither. Other areas (orders, after-sales)
// call these inside their own transactions.

// StockMove is one SKU and a quantity (> 0).
type StockMove struct {
	SKUID int64
	Qty   int
}

// ReserveStock holds qty of a SKU for an unpaid order (available → reserved).
// It fails with catalog.ErrOutOfStock when less than qty is available and
// catalog.ErrSKUNotFound when there is no such SKU.
func ReserveStock(ctx context.Context, q sqlx.ExtContext, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return moveStock(ctx, q, skuID, qty, catalog.StockReserve, ref, actor, "", at)
}

// ReleaseStock gives back qty reserved by a cancelled or expired order
// (reserved → available); catalog.ErrNotReserved when less is reserved.
func ReleaseStock(ctx context.Context, q sqlx.ExtContext, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return moveStock(ctx, q, skuID, qty, catalog.StockRelease, ref, actor, "", at)
}

// SellStock commits qty reserved by an order that was paid (reserved → sold)
// and counts it in the product's sales; catalog.ErrNotReserved when less is
// reserved.
func SellStock(ctx context.Context, q sqlx.ExtContext, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return moveStock(ctx, q, skuID, qty, catalog.StockSale, ref, actor, "", at)
}

// ReturnStock puts qty of sold goods that came back on sale again (sold →
// available) and takes them off the product's sales; catalog.ErrNotReserved
// when less was sold.
func ReturnStock(ctx context.Context, q sqlx.ExtContext, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error {
	return moveStock(ctx, q, skuID, qty, catalog.StockReturn, ref, actor, "", at)
}

// ReserveStocks reserves several SKUs for one order, in SKU id order (so two
// orders locking the same SKUs never deadlock). Quantities of a repeated SKU
// are added. The first SKU short of stock fails the whole call with
// catalog.ErrOutOfStock, its details naming sku_id; the caller's transaction
// must then roll back.
func ReserveStocks(ctx context.Context, q sqlx.ExtContext, moves []StockMove, ref string, actor domain.Actor, at time.Time) error {
	return moveStocks(ctx, q, moves, catalog.StockReserve, ref, actor, at)
}

// ReleaseStocks is ReleaseStock for several SKUs, in SKU id order.
func ReleaseStocks(ctx context.Context, q sqlx.ExtContext, moves []StockMove, ref string, actor domain.Actor, at time.Time) error {
	return moveStocks(ctx, q, moves, catalog.StockRelease, ref, actor, at)
}

// SellStocks is SellStock for several SKUs, in SKU id order.
func SellStocks(ctx context.Context, q sqlx.ExtContext, moves []StockMove, ref string, actor domain.Actor, at time.Time) error {
	return moveStocks(ctx, q, moves, catalog.StockSale, ref, actor, at)
}

func moveStocks(ctx context.Context, q sqlx.ExtContext, moves []StockMove, kind catalog.StockKind, ref string, actor domain.Actor, at time.Time) error {
	merged := map[int64]int{}
	for _, m := range moves {
		merged[m.SKUID] += m.Qty
	}
	ids := make([]int64, 0, len(merged))
	for id := range merged {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	for _, id := range ids {
		if err := moveStock(ctx, q, id, merged[id], kind, ref, actor, "", at); err != nil {
			return err
		}
	}
	return nil
}

// stockDeltas returns the changes of (stock, reserved, sold) of kind for qty > 0.
func stockDeltas(kind catalog.StockKind, qty int) (d, r, s int) {
	switch kind {
	case catalog.StockReserve:
		return -qty, qty, 0
	case catalog.StockRelease:
		return qty, -qty, 0
	case catalog.StockSale:
		return 0, -qty, qty
	case catalog.StockReturn:
		return qty, 0, -qty
	}
	panic("storage: stockDeltas: not an order stock kind: " + string(kind))
}

func moveStock(ctx context.Context, q sqlx.ExtContext, skuID int64, qty int, kind catalog.StockKind, ref string, actor domain.Actor, note string, at time.Time) error {
	if qty <= 0 {
		return catalog.ErrBadQuantity
	}
	d, r, s := stockDeltas(kind, qty)
	_, _, err := applyStock(ctx, q, skuID, kind, d, r, s, ref, actor.String(), note, at)
	return err
}

// applyStockSQL changes a SKU's counters only when none goes below zero,
// writes the ledger row, in one statement; with
// a limit ($10 > 0) an increase must keep stock + reserved within it. It
// answers the SKU's new available stock and the ledger row's id, or no row
// when the update did not apply.
const applyStockSQL = `
WITH u AS (
    UPDATE skus SET stock = stock + $2, reserved = reserved + $3, sold = sold + $4, updated_at = $9
    WHERE id = $1 AND stock + $2 >= 0 AND reserved + $3 >= 0 AND sold + $4 >= 0
      AND ($10::bigint = 0 OR $2 <= 0 OR stock::bigint + reserved + $2 <= $10)
    RETURNING id, product_id, stock
), l AS (
    INSERT INTO stock_ledger (sku_id, kind, delta, reserved_delta, sold_delta, ref, actor, note, at)
    SELECT id, $5, $2, $3, $4, $6, $7, $8, $9 FROM u
    RETURNING id
)
SELECT u.stock, l.id AS ledger_id FROM u, l`

// applyStock runs applyStockSQL and maps a refused update to the right error.
func applyStock(ctx context.Context, q sqlx.ExtContext, skuID int64, kind catalog.StockKind, d, r, s int, ref, actor, note string, at time.Time) (stock int, ledgerID int64, err error) {
	var row struct {
		Stock    int   `db:"stock"`
		LedgerID int64 `db:"ledger_id"`
	}
	// Manual adjustments are bounded by catalog.MaxStock; order moves only
	// shift units between the counters (a return puts back what was sold).
	var limit int64
	if kind == catalog.StockReceive || kind == catalog.StockCorrect {
		limit = catalog.MaxStock
	}
	err = sqlx.GetContext(ctx, q, &row, applyStockSQL, skuID, d, r, s, string(kind), ref, actor, note, at, limit)
	if err == nil {
		return row.Stock, row.LedgerID, nil
	}
	if isCheck(err, "") {
		return 0, 0, catalog.ErrOutOfStock.WithDetails(map[string]any{"sku_id": skuID})
	}
	if err := mapErr(err); domain.KindOf(err) != domain.KindNotFound {
		return 0, 0, fmt.Errorf("storage: stock %s: %w", kind, err)
	}
	// Nothing was updated: no such SKU, or not enough of the counter.
	var onHand sql.NullInt64
	if err := sqlx.GetContext(ctx, q, &onHand, `SELECT (SELECT stock::bigint + reserved FROM skus WHERE id = $1)`, skuID); err != nil {
		return 0, 0, fmt.Errorf("storage: stock %s: %w", kind, mapErr(err))
	}
	if !onHand.Valid {
		return 0, 0, catalog.ErrSKUNotFound
	}
	if limit > 0 && d > 0 && onHand.Int64+int64(d) > limit {
		return 0, 0, catalog.ErrStockLimit.WithDetails(map[string]any{"sku_id": skuID, "max_stock": limit})
	}
	if d < 0 {
		return 0, 0, catalog.ErrOutOfStock.WithDetails(map[string]any{"sku_id": skuID})
	}
	return 0, 0, catalog.ErrNotReserved.WithDetails(map[string]any{"sku_id": skuID})
}
