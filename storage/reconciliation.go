package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/reconcile"
)

// Reconciliation is the daily trade-bill reconciliation's store
// (reconcile.Store).
type Reconciliation struct{ scope }

func (d *DB) Reconciliation() Reconciliation { return Reconciliation{d.scope()} }
func (t *Tx) Reconciliation() Reconciliation { return Reconciliation{t.scope()} }

var _ reconcile.Store = Reconciliation{}
var _ reconcile.Tx = Reconciliation{}

// InTx implements reconcile.Store.
func (s Reconciliation) InTx(ctx context.Context, fn func(reconcile.Tx) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Reconciliation()) })
}

type runRow struct {
	ID             int64        `db:"id"`
	BillDate       string       `db:"bill_date"`
	Status         string       `db:"status"`
	Runs           int          `db:"runs"`
	Lines          int          `db:"lines"`
	Matched        int          `db:"matched"`
	Applied        int          `db:"applied"`
	RefundsSettled int          `db:"refunds_settled"`
	Discrepancies  int          `db:"discrepancies"`
	Error          string       `db:"error"`
	StartedBy      string       `db:"started_by"`
	StartedAt      time.Time    `db:"started_at"`
	FinishedAt     sql.NullTime `db:"finished_at"`
}

func (r runRow) run() reconcile.Run {
	return reconcile.Run{ID: r.ID, BillDate: r.BillDate, Status: reconcile.RunStatus(r.Status), Runs: r.Runs,
		Lines: r.Lines, Matched: r.Matched, Applied: r.Applied, RefundsSettled: r.RefundsSettled,
		Discrepancies: r.Discrepancies, Error: r.Error, StartedBy: r.StartedBy, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt.Time}
}

const runCols = `id, to_char(bill_date, 'YYYY-MM-DD') AS bill_date, status, runs, lines, matched, applied,
    refunds_settled, discrepancies, error, started_by, started_at, finished_at`

const startRunSQL = `
INSERT INTO reconciliation_runs AS r (bill_date, status, started_by, started_at, lease_until)
VALUES ($1, 'running', $2, $3, $4)
ON CONFLICT (bill_date) DO UPDATE
SET status = 'running', runs = r.runs + 1, started_by = EXCLUDED.started_by, started_at = EXCLUDED.started_at,
    lease_until = EXCLUDED.lease_until, finished_at = NULL, error = ''
WHERE r.status <> 'running' OR r.lease_until < $3
RETURNING ` + runCols

// StartRun implements reconcile.Store: the day's run, running and leased;
// reconcile.ErrRunInProgress while another holds it.
func (s Reconciliation) StartRun(ctx context.Context, date, by string, now time.Time, lease time.Duration) (reconcile.Run, error) {
	var r runRow
	err := sqlx.GetContext(ctx, s.ext(), &r, startRunSQL, date, by, now, now.Add(lease))
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Run{}, reconcile.ErrRunInProgress
	}
	if err != nil {
		return reconcile.Run{}, fmt.Errorf("storage: start reconciliation run: %w", mapErr(err))
	}
	return r.run(), nil
}

const finishRunSQL = `
UPDATE reconciliation_runs SET status = $2, lines = $3, matched = $4, applied = $5, refunds_settled = $6,
    discrepancies = $7, error = $8, finished_at = $9, lease_until = NULL
WHERE id = $1`

// FinishRun implements reconcile.Store.
func (s Reconciliation) FinishRun(ctx context.Context, r reconcile.Run, now time.Time) error {
	errText := r.Error
	if len(errText) > 2000 {
		errText = errText[:2000]
	}
	_, err := s.ext().ExecContext(ctx, finishRunSQL, r.ID, string(r.Status), r.Lines, r.Matched, r.Applied,
		r.RefundsSettled, r.Discrepancies, errText, now)
	if err != nil {
		return fmt.Errorf("storage: finish reconciliation run: %w", mapErr(err))
	}
	return nil
}

// An order's payment attempt (with its payment, if applied) or a stored-value
// top-up.
const tradesSQL = `
SELECT a.out_trade_no, a.amount_fen, p.id IS NOT NULL AS paid,
       COALESCE(p.transaction_id, '') AS transaction_id, COALESCE(p.amount_fen, 0) AS paid_fen
FROM payment_attempts a LEFT JOIN payments p ON p.attempt_id = a.id
WHERE a.out_trade_no = ANY($1)
UNION ALL
SELECT t.out_trade_no, t.principal_fen, t.status = 'paid',
       COALESCE(t.transaction_id, ''), CASE WHEN t.status = 'paid' THEN t.principal_fen ELSE 0 END
FROM member_topups t
WHERE t.out_trade_no = ANY($1)`

// Trades implements reconcile.Store.
func (s Reconciliation) Trades(ctx context.Context, outTradeNos []string) (map[string]reconcile.Trade, error) {
	out := make(map[string]reconcile.Trade, len(outTradeNos))
	if len(outTradeNos) == 0 {
		return out, nil
	}
	var rows []struct {
		OutTradeNo    string `db:"out_trade_no"`
		Amount        int64  `db:"amount_fen"`
		Paid          bool   `db:"paid"`
		TransactionID string `db:"transaction_id"`
		PaidFen       int64  `db:"paid_fen"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, tradesSQL, pq.Array(outTradeNos)); err != nil {
		return nil, fmt.Errorf("storage: reconciliation trades: %w", mapErr(err))
	}
	for _, r := range rows {
		out[r.OutTradeNo] = reconcile.Trade{OutTradeNo: r.OutTradeNo, Amount: domain.Fen(r.Amount), Paid: r.Paid,
			TransactionID: r.TransactionID, PaidAmount: domain.Fen(r.PaidFen)}
	}
	return out, nil
}

const refundsSQL = `
SELECT out_refund_no, wechat_fen AS amount_fen, status FROM refunds WHERE out_refund_no = ANY($1)
UNION ALL
SELECT out_refund_no, amount_fen, status FROM member_topup_refunds WHERE out_refund_no = ANY($1)`

// Refunds implements reconcile.Store.
func (s Reconciliation) Refunds(ctx context.Context, outRefundNos []string) (map[string]reconcile.Refund, error) {
	out := make(map[string]reconcile.Refund, len(outRefundNos))
	if len(outRefundNos) == 0 {
		return out, nil
	}
	var rows []struct {
		OutRefundNo string `db:"out_refund_no"`
		Amount      int64  `db:"amount_fen"`
		Status      string `db:"status"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, refundsSQL, pq.Array(outRefundNos)); err != nil {
		return nil, fmt.Errorf("storage: reconciliation refunds: %w", mapErr(err))
	}
	for _, r := range rows {
		out[r.OutRefundNo] = reconcile.Refund{OutRefundNo: r.OutRefundNo, Amount: domain.Fen(r.Amount), Status: r.Status}
	}
	return out, nil
}

const paidBetweenSQL = `
SELECT a.out_trade_no, p.transaction_id, p.amount_fen
FROM payments p JOIN payment_attempts a ON a.id = p.attempt_id
WHERE p.success_time >= $1 AND p.success_time < $2
ORDER BY p.id`

// PaidBetween implements reconcile.Store (orders' payments; top-ups are
// not checked this way).
func (s Reconciliation) PaidBetween(ctx context.Context, from, to time.Time) ([]reconcile.Paid, error) {
	var rows []struct {
		OutTradeNo    string `db:"out_trade_no"`
		TransactionID string `db:"transaction_id"`
		Amount        int64  `db:"amount_fen"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, paidBetweenSQL, from, to); err != nil {
		return nil, fmt.Errorf("storage: reconciliation paid: %w", mapErr(err))
	}
	out := make([]reconcile.Paid, len(rows))
	for i, r := range rows {
		out[i] = reconcile.Paid{OutTradeNo: r.OutTradeNo, TransactionID: r.TransactionID, Amount: domain.Fen(r.Amount)}
	}
	return out, nil
}

const addDiscrepancySQL = `
INSERT INTO reconciliation_discrepancies (run_id, bill_date, kind, out_trade_no, out_refund_no, transaction_id,
    bill_amount_fen, our_amount_fen, detail, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (bill_date, kind, out_trade_no, out_refund_no) DO NOTHING`

// AddDiscrepancies implements reconcile.Store.
func (s Reconciliation) AddDiscrepancies(ctx context.Context, run reconcile.Run, ds []reconcile.Discrepancy, now time.Time) ([]reconcile.Discrepancy, error) {
	var added []reconcile.Discrepancy
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, d := range ds {
			res, err := tx.x.ExecContext(ctx, addDiscrepancySQL, run.ID, run.BillDate, string(d.Kind), d.OutTradeNo,
				d.OutRefundNo, d.TransactionID, nullFen(d.BillAmount), nullFen(d.OurAmount), d.Detail, now)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				added = append(added, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: add discrepancies: %w", mapErr(err))
	}
	return added, nil
}

func nullFen(f *domain.Fen) any {
	if f == nil {
		return nil
	}
	return int64(*f)
}

// CountDiscrepancies implements reconcile.Store.
func (s Reconciliation) CountDiscrepancies(ctx context.Context, date string) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, s.ext(), &n, `SELECT count(*) FROM reconciliation_discrepancies WHERE bill_date = $1`, date); err != nil {
		return 0, fmt.Errorf("storage: count discrepancies: %w", mapErr(err))
	}
	return n, nil
}

// SucceededDates implements reconcile.Store.
func (s Reconciliation) SucceededDates(ctx context.Context, from, to string) (map[string]bool, error) {
	var dates []string
	err := sqlx.SelectContext(ctx, s.ext(), &dates, `
SELECT to_char(bill_date, 'YYYY-MM-DD') FROM reconciliation_runs
WHERE status = 'succeeded' AND bill_date BETWEEN $1 AND $2`, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: reconciled days: %w", mapErr(err))
	}
	out := make(map[string]bool, len(dates))
	for _, d := range dates {
		out[d] = true
	}
	return out, nil
}

// ListRuns implements reconcile.Store: newest first.
func (s Reconciliation) ListRuns(ctx context.Context, f reconcile.RunFilter) ([]reconcile.Run, string, error) {
	before, err := idBefore(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(f.Page.Limit)
	// Only the filters given are in the statement (stmtArgs).
	args := stmtArgs{before, limit + 1}
	where := ""
	if f.From != "" {
		where += " AND bill_date >= " + args.add(f.From) + "::date"
	}
	if f.To != "" {
		where += " AND bill_date <= " + args.add(f.To) + "::date"
	}
	if f.Status != "" {
		where += " AND status = " + args.add(string(f.Status))
	}
	var rows []runRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT `+runCols+` FROM reconciliation_runs
WHERE id < $1`+where+` ORDER BY id DESC LIMIT $2`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: list reconciliation runs: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]reconcile.Run, len(rows))
	for i, r := range rows {
		out[i] = r.run()
	}
	return out, next, nil
}

type discrepancyRow struct {
	ID            int64         `db:"id"`
	RunID         int64         `db:"run_id"`
	BillDate      string        `db:"bill_date"`
	Kind          string        `db:"kind"`
	OutTradeNo    string        `db:"out_trade_no"`
	OutRefundNo   string        `db:"out_refund_no"`
	TransactionID string        `db:"transaction_id"`
	BillAmount    sql.NullInt64 `db:"bill_amount_fen"`
	OurAmount     sql.NullInt64 `db:"our_amount_fen"`
	Detail        string        `db:"detail"`
	ResolvedAt    sql.NullTime  `db:"resolved_at"`
	ResolverName  string        `db:"resolver_name"`
	Note          string        `db:"resolution_note"`
	CreatedAt     time.Time     `db:"created_at"`
}

func optFen(v sql.NullInt64) *domain.Fen {
	if !v.Valid {
		return nil
	}
	f := domain.Fen(v.Int64)
	return &f
}

func (r discrepancyRow) discrepancy() reconcile.Discrepancy {
	return reconcile.Discrepancy{ID: r.ID, RunID: r.RunID, BillDate: r.BillDate, Kind: reconcile.Kind(r.Kind),
		OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, TransactionID: r.TransactionID,
		BillAmount: optFen(r.BillAmount), OurAmount: optFen(r.OurAmount), Detail: r.Detail,
		Resolved: r.ResolvedAt.Valid, ResolvedAt: r.ResolvedAt.Time, ResolvedBy: r.ResolverName, Note: r.Note,
		CreatedAt: r.CreatedAt}
}

const discrepancyCols = `id, run_id, to_char(bill_date, 'YYYY-MM-DD') AS bill_date, kind, out_trade_no, out_refund_no,
    transaction_id, bill_amount_fen, our_amount_fen, detail, resolved_at, resolver_name, resolution_note, created_at`

// ListDiscrepancies implements reconcile.Store: newest first.
func (s Reconciliation) ListDiscrepancies(ctx context.Context, f reconcile.DiscrepancyFilter) ([]reconcile.Discrepancy, string, error) {
	before, err := idBefore(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(f.Page.Limit)
	// Only the filters given are in the statement (stmtArgs).
	args := stmtArgs{before, limit + 1}
	where := ""
	if f.BillDate != "" {
		where += " AND bill_date = " + args.add(f.BillDate) + "::date"
	}
	if f.Kind != "" {
		where += " AND kind = " + args.add(string(f.Kind))
	}
	switch f.Status {
	case "open":
		where += " AND resolved_at IS NULL"
	case "":
	default:
		where += " AND resolved_at IS NOT NULL"
	}
	var rows []discrepancyRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT `+discrepancyCols+` FROM reconciliation_discrepancies
WHERE id < $1`+where+` ORDER BY id DESC LIMIT $2`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: list discrepancies: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]reconcile.Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = r.discrepancy()
	}
	return out, next, nil
}

// Discrepancy implements reconcile.Tx: one discrepancy, locked.
func (s Reconciliation) Discrepancy(ctx context.Context, id int64) (reconcile.Discrepancy, error) {
	var r discrepancyRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+discrepancyCols+` FROM reconciliation_discrepancies WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("storage: discrepancy: %w", mapErrNotFound(err, reconcile.ErrDiscrepancyNotFound))
	}
	return r.discrepancy(), nil
}

// Resolve implements reconcile.Tx.
func (s Reconciliation) Resolve(ctx context.Context, id int64, by domain.Actor, note string, at time.Time) error {
	var staffID any
	if by.Kind == "staff" {
		staffID = by.ID
	}
	_, err := s.ext().ExecContext(ctx, `
UPDATE reconciliation_discrepancies SET resolved_at = $2, resolved_by = $3, resolver_name = $4, resolution_note = $5
WHERE id = $1 AND resolved_at IS NULL`, id, at, staffID, by.Name, note)
	if err != nil {
		return fmt.Errorf("storage: resolve discrepancy: %w", mapErr(err))
	}
	return nil
}

// Audit implements reconcile.Tx.
func (s Reconciliation) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

// Health returns how many discrepancies are open and how many days' last
// run failed (for /metrics).
func (s Reconciliation) Health(ctx context.Context) (open, failedDays int, err error) {
	err = s.ext().QueryRowxContext(ctx, `
SELECT (SELECT count(*) FROM reconciliation_discrepancies WHERE resolved_at IS NULL),
       (SELECT count(*) FROM reconciliation_runs WHERE status = 'failed')`).Scan(&open, &failedDays)
	if err != nil {
		return 0, 0, fmt.Errorf("storage: reconciliation health: %w", mapErr(err))
	}
	return open, failedDays, nil
}
