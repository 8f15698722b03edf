package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
)

// The KOC payout: settlement items paid by WeChat Pay merchant transfer.
// KOCs implements commission.PayoutStore as well as commission.Store.

var _ commission.PayoutStore = KOCs{}

func (k KOCs) InPayoutTx(ctx context.Context, fn func(commission.PayoutStore) error) error {
	return k.inTx(ctx, func(tx *Tx) error { return fn(tx.KOCs()) })
}

func (k KOCs) PayoutSettings(ctx context.Context) (commission.PayoutSettings, error) {
	var r struct {
		TransferLimit int64 `db:"transfer_limit_fen"`
		DailyLimit    int64 `db:"daily_limit_fen"`
		RealNameFrom  int64 `db:"real_name_from_fen"`
	}
	if err := sqlx.GetContext(ctx, k.ext(), &r, `SELECT transfer_limit_fen, daily_limit_fen, real_name_from_fen FROM koc_settings`); err != nil {
		return commission.PayoutSettings{}, fmt.Errorf("storage: payout settings: %w", mapErr(err))
	}
	return commission.PayoutSettings{TransferLimit: domain.Fen(r.TransferLimit), DailyLimit: domain.Fen(r.DailyLimit),
		RealNameFrom: domain.Fen(r.RealNameFrom)}, nil
}

func (k KOCs) SavePayoutSettings(ctx context.Context, s commission.PayoutSettings) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE koc_settings SET transfer_limit_fen = $1, daily_limit_fen = $2, real_name_from_fen = $3, updated_at = now()`,
		int64(s.TransferLimit), int64(s.DailyLimit), int64(s.RealNameFrom))
	if err != nil {
		return fmt.Errorf("storage: save payout settings: %w", mapErr(err))
	}
	return nil
}

type payoutItemRow struct {
	ID          int64          `db:"id"`
	BatchID     int64          `db:"batch_id"`
	KOCID       int64          `db:"koc_id"`
	OpenID      string         `db:"openid"`
	RealName    string         `db:"real_name"`
	Amount      int64          `db:"amount_fen"`
	Status      string         `db:"status"`
	OutBillNo   string         `db:"out_bill_no"`
	BillNo      sql.NullString `db:"bill_no"`
	PackageInfo sql.NullString `db:"package_info"`
	WxState     sql.NullString `db:"wx_state"`
	FailReason  sql.NullString `db:"fail_reason"`
	AskedAt     sql.NullTime   `db:"asked_at"`
}

func (r payoutItemRow) item() commission.PayoutItem {
	return commission.PayoutItem{ID: r.ID, BatchID: r.BatchID, KOCID: r.KOCID, OpenID: r.OpenID, RealName: r.RealName,
		Amount: domain.Fen(r.Amount), Status: r.Status, OutBillNo: r.OutBillNo, BillNo: r.BillNo.String,
		PackageInfo: r.PackageInfo.String, WxState: commission.TransferState(r.WxState.String),
		FailReason: r.FailReason.String, AskedAt: r.AskedAt.Time}
}

const payoutItemSelect = `
SELECT i.id, i.batch_id, i.koc_id, s.openid, k.real_name, i.amount_fen, i.status, i.out_bill_no, i.bill_no,
       i.package_info, i.wx_state, i.fail_reason, i.asked_at
FROM settlement_items i JOIN kocs k ON k.shopper_id = i.koc_id JOIN shoppers s ON s.id = i.koc_id`

func (k KOCs) payoutItems(ctx context.Context, q string, args ...any) ([]commission.PayoutItem, error) {
	var rows []payoutItemRow
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, payoutItemSelect+q, args...); err != nil {
		return nil, fmt.Errorf("storage: payout items: %w", mapErr(err))
	}
	out := make([]commission.PayoutItem, len(rows))
	for i, r := range rows {
		out[i] = r.item()
	}
	return out, nil
}

func (k KOCs) PayoutItems(ctx context.Context, batchID int64, status string) ([]commission.PayoutItem, error) {
	return k.payoutItems(ctx, ` WHERE i.batch_id = $1 AND i.status = $2 ORDER BY i.id`, batchID, status)
}

func (k KOCs) PayoutItem(ctx context.Context, id int64, forUpdate bool) (commission.PayoutItem, error) {
	q := payoutItemSelect + ` WHERE i.id = $1`
	if forUpdate {
		// Batch before item, as paying a batch locks them: an item's end
		// and its batch's finish are then one at a time per batch.
		if err := k.lockItemBatch(ctx, id); err != nil {
			return commission.PayoutItem{}, err
		}
		q += ` FOR UPDATE OF i`
	}
	var r payoutItemRow
	if err := sqlx.GetContext(ctx, k.ext(), &r, q, id); err != nil {
		return commission.PayoutItem{}, mapErrNotFound(err, commission.ErrTransferNotFound)
	}
	return r.item(), nil
}

func (k KOCs) PayoutItemByOutBillNo(ctx context.Context, outBillNo string) (commission.PayoutItem, error) {
	var r payoutItemRow
	if err := sqlx.GetContext(ctx, k.ext(), &r, payoutItemSelect+` WHERE i.out_bill_no = $1`, outBillNo); err != nil {
		return commission.PayoutItem{}, mapErrNotFound(err, commission.ErrTransferNotFound)
	}
	return r.item(), nil
}

func (k KOCs) LockPayoutDay(ctx context.Context) error {
	if _, err := k.ext().ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('koc_payout_day'))`); err != nil {
		return fmt.Errorf("storage: payout lock: %w", mapErr(err))
	}
	return nil
}

func (k KOCs) AskedSince(ctx context.Context, t time.Time) (domain.Fen, error) {
	var sum int64
	if err := sqlx.GetContext(ctx, k.ext(), &sum, `
SELECT COALESCE(sum(amount_fen), 0) FROM settlement_items WHERE asked_at >= $1 AND status IN ('transferring', 'paid')`, t); err != nil {
		return 0, fmt.Errorf("storage: asked since: %w", mapErr(err))
	}
	return domain.Fen(sum), nil
}

func (k KOCs) MarkTransferring(ctx context.Context, id int64, at time.Time) error {
	res, err := k.ext().ExecContext(ctx, `
UPDATE settlement_items SET status = 'transferring', asked_at = $2 WHERE id = $1 AND status = 'settled'`, id, at)
	if err != nil {
		return fmt.Errorf("storage: mark transferring: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return commission.ErrBatchStatus
	}
	return nil
}

// SaveTransferState records WeChat Pay's word on a transfer. The status is
// a parameter: with the literal 'transferring' a generic plan may read the
// item from settlement_items_open_idx (partial on it), walking every
// transfer under way (as payments.go's payOrderSQL did; issue 18).
func (k KOCs) SaveTransferState(ctx context.Context, id int64, t commission.Transfer, at time.Time) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE settlement_items SET bill_no = COALESCE(NULLIF($2, ''), bill_no), package_info = COALESCE(NULLIF($3, ''), package_info),
       wx_state = NULLIF($4, ''), fail_reason = COALESCE(NULLIF($5, ''), fail_reason), checked_at = $6
WHERE id = $1 AND status = $7`, id, t.BillNo, t.PackageInfo, string(t.State), t.FailReason, at, "transferring")
	if err != nil {
		return fmt.Errorf("storage: transfer state: %w", mapErr(err))
	}
	return nil
}

// endTransferSQL ends an open item ($2 paid or failed) and moves each
// line's settled commission of the item to paid (pay) or back to
// settleable (return), in one statement: the conditional update makes it
// happen once.
const endTransferSQL = `
WITH ended AS (
    UPDATE settlement_items SET status = $2, fail_reason = COALESCE(NULLIF($3, ''), fail_reason), ended_at = $4
    WHERE id = $1 AND status IN ('settled', 'transferring')
    RETURNING id
), lines AS (
    SELECT e.koc_id, e.order_id, e.item_id, e.level, sum(e.amount_fen) AS s
    FROM commission_entries e JOIN ended ON e.item_ref = ended.id
    WHERE e.bucket = 'settled'
    GROUP BY 1, 2, 3, 4 HAVING sum(e.amount_fen) <> 0
), moved AS (
    INSERT INTO commission_entries (koc_id, order_id, item_id, level, kind, bucket, amount_fen, item_ref, at)
    SELECT l.koc_id, l.order_id, l.item_id, l.level, CASE $2 WHEN 'paid' THEN 'pay' ELSE 'return' END, b.bucket,
           CASE b.bucket WHEN 'settled' THEN -l.s ELSE l.s END, $1, $4
    FROM lines l CROSS JOIN (VALUES ('settled'), (CASE $2 WHEN 'paid' THEN 'paid' ELSE 'settleable' END)) AS b(bucket)
    ORDER BY l.koc_id, l.order_id, l.item_id, l.level
)
SELECT count(*) FROM ended`

func (k KOCs) EndTransfer(ctx context.Context, id int64, status, reason string, at time.Time) (bool, error) {
	if status != commission.ItemPaid && status != commission.ItemFailed {
		return false, fmt.Errorf("storage: end transfer: status %q", status)
	}
	if err := k.lockItemBatch(ctx, id); err != nil {
		return false, err
	}
	var n int
	if err := sqlx.GetContext(ctx, k.ext(), &n, endTransferSQL, id, status, reason, at); err != nil {
		return false, fmt.Errorf("storage: end transfer: %w", mapErr(err))
	}
	return n == 1, nil
}

// lockItemBatch locks the batch of settlement item id, so items of one
// batch end one at a time and FinishBatch (in the same transaction) sees
// the others' outcomes: two transfers ending at once would otherwise each
// see the other still open, and the batch would stay paying.
func (k KOCs) lockItemBatch(ctx context.Context, id int64) error {
	if _, err := k.ext().ExecContext(ctx, `SELECT 1 FROM settlement_batches
WHERE id = (SELECT batch_id FROM settlement_items WHERE id = $1) FOR UPDATE`, id); err != nil {
		return fmt.Errorf("storage: lock batch of item %d: %w", id, mapErr(err))
	}
	return nil
}

func (k KOCs) FinishBatch(ctx context.Context, id int64, at time.Time) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE settlement_batches b SET status = 'paid', updated_at = $2
WHERE b.id = $1 AND b.status = 'paying'
  AND NOT EXISTS (SELECT 1 FROM settlement_items i WHERE i.batch_id = b.id AND i.status IN ('settled', 'transferring'))`, id, at)
	if err != nil {
		return fmt.Errorf("storage: finish batch: %w", mapErr(err))
	}
	return nil
}

func (k KOCs) OpenTransfers(ctx context.Context, askedBefore, checkedBefore time.Time, limit int) ([]commission.PayoutItem, error) {
	return k.payoutItems(ctx, `
WHERE i.status = 'transferring' AND i.asked_at < $1
  AND (i.bill_no IS NULL OR i.package_info IS NULL OR COALESCE(i.checked_at, i.asked_at) < $2)
ORDER BY COALESCE(i.checked_at, i.asked_at) LIMIT $3`, askedBefore, checkedBefore, limit)
}

func (k KOCs) KOCTransfers(ctx context.Context, kocID int64, status string) ([]commission.PayoutItem, error) {
	return k.payoutItems(ctx, ` WHERE i.koc_id = $1 AND i.status = $2 ORDER BY i.id DESC LIMIT 100`, kocID, status)
}
