package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/member"
)

// Refunds of top-ups (member.TopUpRefundStore).

const topUpRefundCols = `r.id, r.topup_id, u.card_id, u.out_trade_no, u.principal_fen AS total_fen, r.out_refund_no, r.amount_fen,
r.forfeit_fen, r.status, r.reason, r.wx_refund_id, r.failure, r.created_at, r.succeeded_at`

type topUpRefundRow struct {
	ID          int64          `db:"id"`
	TopUpID     int64          `db:"topup_id"`
	CardID      int64          `db:"card_id"`
	OutTradeNo  string         `db:"out_trade_no"`
	Total       int64          `db:"total_fen"`
	OutRefundNo string         `db:"out_refund_no"`
	Amount      int64          `db:"amount_fen"`
	Forfeit     int64          `db:"forfeit_fen"`
	Status      string         `db:"status"`
	Reason      string         `db:"reason"`
	WxRefundID  sql.NullString `db:"wx_refund_id"`
	Failure     string         `db:"failure"`
	CreatedAt   time.Time      `db:"created_at"`
	SucceededAt sql.NullTime   `db:"succeeded_at"`
}

func (r topUpRefundRow) refund() member.TopUpRefund {
	return member.TopUpRefund{ID: r.ID, TopUpID: r.TopUpID, CardID: r.CardID, OutTradeNo: r.OutTradeNo, Total: domain.Fen(r.Total),
		OutRefundNo: r.OutRefundNo, Amount: domain.Fen(r.Amount), Forfeit: domain.Fen(r.Forfeit),
		Status: cashier.RefundStatus(r.Status), Reason: r.Reason, WxRefundID: r.WxRefundID.String, Failure: r.Failure,
		CreatedAt: r.CreatedAt, SucceededAt: r.SucceededAt.Time}
}

// LockTopUpRefunds implements member.TopUpRefundStore.
func (s Members) LockTopUpRefunds(ctx context.Context, outTradeNo string) (member.TopUp, int, bool, error) {
	u, err := s.LockTopUp(ctx, outTradeNo)
	if err != nil {
		return member.TopUp{}, 0, false, err
	}
	var r struct {
		N    int `db:"n"`
		Live int `db:"live"`
	}
	if err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT count(*) n, count(*) FILTER (WHERE status NOT IN ('closed', 'failed')) live
FROM member_topup_refunds WHERE topup_id = $1`, u.ID); err != nil {
		return member.TopUp{}, 0, false, fmt.Errorf("storage: top-up refunds: %w", mapErr(err))
	}
	return u, r.N, r.Live > 0, nil
}

// CreateTopUpRefund implements member.TopUpRefundStore.
func (s Members) CreateTopUpRefund(ctx context.Context, r member.TopUpRefund) (member.TopUpRefund, error) {
	err := sqlx.GetContext(ctx, s.ext(), &r.ID, `INSERT INTO member_topup_refunds (topup_id, out_refund_no, amount_fen, forfeit_fen,
    status, reason, next_check_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, r.TopUpID, r.OutRefundNo, int64(r.Amount), int64(r.Forfeit),
		string(r.Status), r.Reason, r.CreatedAt.Add(time.Minute), r.CreatedAt)
	if isUnique(err, "member_topup_refunds_live") {
		return member.TopUpRefund{}, fmt.Errorf("storage: create top-up refund: %w", member.ErrTopUpRefunded)
	}
	if err != nil {
		return member.TopUpRefund{}, fmt.Errorf("storage: create top-up refund: %w", mapErr(err))
	}
	return r, nil
}

// LockTopUpRefund implements member.TopUpRefundStore.
func (s Members) LockTopUpRefund(ctx context.Context, outRefundNo string) (member.TopUpRefund, error) {
	var r topUpRefundRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+topUpRefundCols+`
FROM member_topup_refunds r JOIN member_topups u ON u.id = r.topup_id WHERE r.out_refund_no = $1 FOR UPDATE OF r`, outRefundNo)
	if err != nil {
		return member.TopUpRefund{}, mapErrNotFound(err, member.ErrTopUpRefundNotFound)
	}
	return r.refund(), nil
}

// UpdateTopUpRefund implements member.TopUpRefundStore.
func (s Members) UpdateTopUpRefund(ctx context.Context, r member.TopUpRefund) error {
	var succeeded any
	if !r.SucceededAt.IsZero() {
		succeeded = r.SucceededAt
	}
	var wx any
	if r.WxRefundID != "" {
		wx = r.WxRefundID
	}
	return s.exec(ctx, "update top-up refund", `UPDATE member_topup_refunds SET status = $2, wx_refund_id = $3, failure = $4,
    succeeded_at = $5 WHERE id = $1`, r.ID, string(r.Status), wx, r.Failure, succeeded)
}

// ClaimTopUpRefunds implements member.TopUpRefundStore.
func (s Members) ClaimTopUpRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]member.TopUpRefund, error) {
	var rows []topUpRefundRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
WITH c AS (
    UPDATE member_topup_refunds SET next_check_at = $1::timestamptz + $2 * interval '1 second'
    WHERE id IN (SELECT id FROM member_topup_refunds WHERE status IN ('pending', 'processing', 'abnormal') AND next_check_at <= $1
                 ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
    RETURNING *
)
SELECT `+topUpRefundCols+` FROM c r JOIN member_topups u ON u.id = r.topup_id`, now, lease.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: claim top-up refunds: %w", mapErr(err))
	}
	out := make([]member.TopUpRefund, len(rows))
	for i, r := range rows {
		out[i] = r.refund()
	}
	return out, nil
}
