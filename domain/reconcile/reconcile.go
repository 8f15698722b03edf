// Package reconcile matches WeChat Pay's daily trade bill against the
// mall's payments and refunds. What the mall missed is applied through the
// cashier's own paths (a payment as the reconcile query applies it, a
// refund as the refund worker settles it); what disagrees (an amount, a
// trade or refund the mall never made, a payment the bill lacks) becomes a
// discrepancy for finance and is never changed silently. A day is
// reconciled once or many times with the same result: a discrepancy is
// recorded once per day, kind and trade/refund.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/payment"
)

// Kind is what a discrepancy is about.
type Kind string

// The discrepancy kinds.
const (
	// A payment in the bill that no payment attempt (or top-up) here has.
	KindUnknownTrade Kind = "unknown_trade"
	// A payment whose amount in the bill is not the mall's.
	KindAmountMismatch Kind = "amount_mismatch"
	// A payment in the bill, unpaid here, that applying did not pay
	// (WeChat Pay's query disagrees with its bill, or the payment failed
	// the cashier's checks): Detail says the outcome.
	KindNotApplied Kind = "not_applied"
	// A payment applied here that the bill of its day does not list.
	KindMissingInBill Kind = "missing_in_bill"
	// A refund in the bill that no refund here has.
	KindUnknownRefund Kind = "unknown_refund"
	// A refund whose amount in the bill is not the mall's.
	KindRefundAmountMismatch Kind = "refund_amount_mismatch"
)

// Kinds lists the discrepancy kinds.
var Kinds = []Kind{KindUnknownTrade, KindAmountMismatch, KindNotApplied, KindMissingInBill, KindUnknownRefund,
	KindRefundAmountMismatch}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// Discrepancy is one disagreement between the bill and the mall, for a
// person to look into and resolve with a note.
type Discrepancy struct {
	ID            int64
	RunID         int64
	BillDate      string // YYYY-MM-DD
	Kind          Kind
	OutTradeNo    string
	OutRefundNo   string
	TransactionID string
	BillAmount    *domain.Fen // nil: not in the bill
	OurAmount     *domain.Fen // nil: not here
	Detail        string
	Resolved      bool
	ResolvedBy    string
	ResolvedAt    time.Time
	Note          string
	CreatedAt     time.Time
}

// RunStatus is where a day's reconciliation is.
type RunStatus string

// The run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed" // Error says why; the worker tries again
)

// Run is a day's reconciliation: one per bill date, rerun in place.
type Run struct {
	ID       int64
	BillDate string
	Status   RunStatus
	Runs     int // how many times the day was reconciled
	// The last run's counts: bill lines, lines that agreed, payments
	// applied, refunds settled; Discrepancies is the day's (all runs).
	Lines, Matched, Applied, RefundsSettled, Discrepancies int
	Error                                                  string
	StartedBy                                              string
	StartedAt, FinishedAt                                  time.Time
}

// Trade is a payment the mall asked for (an order's payment attempt, or a
// top-up), as the reconciliation compares it.
type Trade struct {
	OutTradeNo    string
	Amount        domain.Fen // asked for
	Paid          bool
	TransactionID string     // paid: WeChat Pay's
	PaidAmount    domain.Fen // paid: what was applied
}

// Refund is a refund the mall asked for.
type Refund struct {
	OutRefundNo string
	Amount      domain.Fen // asked of WeChat Pay
	Status      string     // pending, processing, succeeded, abnormal, needs_attention, closed, failed
}

// Settled reports whether nothing is left to learn about the refund here.
func (r Refund) Settled() bool {
	return r.Status == "succeeded" || r.Status == "closed" || r.Status == "failed"
}

// Paid is a payment applied here (for the reverse check).
type Paid struct {
	OutTradeNo    string
	TransactionID string
	Amount        domain.Fen
}

// RunFilter and DiscrepancyFilter select what the admin lists show.
type RunFilter struct {
	From, To string // YYYY-MM-DD, inclusive; "" open
	Status   RunStatus
	Page     domain.Page
}

type DiscrepancyFilter struct {
	BillDate string
	Kind     Kind
	// Status: "open", "resolved" or "" (both).
	Status string
	Page   domain.Page
}

// Store is the reconciliation's database.
type Store interface {
	// StartRun marks the day's run running (creating it, or rerunning it),
	// leased until now+lease; ErrRunInProgress while another holds it.
	StartRun(ctx context.Context, date, by string, now time.Time, lease time.Duration) (Run, error)
	// FinishRun records a run's end (status, counts, error).
	FinishRun(ctx context.Context, r Run, now time.Time) error
	// Trades returns the mall's trades with these out_trade_nos.
	Trades(ctx context.Context, outTradeNos []string) (map[string]Trade, error)
	// Refunds returns the mall's refunds with these out_refund_nos.
	Refunds(ctx context.Context, outRefundNos []string) (map[string]Refund, error)
	// PaidBetween returns the payments applied here whose success time is
	// in [from, to).
	PaidBetween(ctx context.Context, from, to time.Time) ([]Paid, error)
	// AddDiscrepancies records ds for run unless the day has them already
	// (same kind and trade/refund); it returns those that were new.
	AddDiscrepancies(ctx context.Context, run Run, ds []Discrepancy, now time.Time) ([]Discrepancy, error)
	// CountDiscrepancies counts the day's discrepancies.
	CountDiscrepancies(ctx context.Context, date string) (int, error)
	// SucceededDates returns which days in [from, to] have a succeeded run.
	SucceededDates(ctx context.Context, from, to string) (map[string]bool, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, string, error)
	ListDiscrepancies(ctx context.Context, f DiscrepancyFilter) ([]Discrepancy, string, error)
	// InTx runs fn in one transaction.
	InTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is what resolving a discrepancy and auditing a request need, in one
// transaction.
type Tx interface {
	// Discrepancy returns one (ErrDiscrepancyNotFound), locked.
	Discrepancy(ctx context.Context, id int64) (Discrepancy, error)
	// Resolve marks it resolved by a person with a note.
	Resolve(ctx context.Context, id int64, by domain.Actor, note string, at time.Time) error
	Audit(ctx context.Context, e domain.AuditEntry) error
}

// Bills downloads a day's trade bill, its hash checked.
type Bills interface {
	TradeBill(ctx context.Context, date string) (payment.TradeBill, error)
}

// Cashier applies what the bill shows the mall missed, through the
// cashier's own paths.
type Cashier interface {
	ApplyBilledTrade(ctx context.Context, outTradeNo string) (cashier.Outcome, error)
	SyncBilledRefund(ctx context.Context, outRefundNo string) (cashier.Outcome, error)
}

// Errors of the reconciliation.
var (
	ErrBadDate = domain.E(domain.KindInvalid, "bill_date_invalid",
		"bill_date must be a day (YYYY-MM-DD) in the last 90 days.")
	ErrNotYet = domain.E(domain.KindConflict, "bill_not_published",
		"WeChat Pay publishes a day's bill the next morning; that day is not over yet.")
	ErrRunInProgress = domain.E(domain.KindConflict, "reconciliation_running",
		"That day is being reconciled right now; try again in a few minutes.")
	ErrDiscrepancyNotFound = domain.E(domain.KindNotFound, "discrepancy_not_found", "No such discrepancy.")
	ErrAlreadyResolved     = domain.E(domain.KindConflict, "discrepancy_resolved",
		"This discrepancy is resolved already.")
	ErrEmptyNote = domain.E(domain.KindInvalid, "resolution_note_required",
		"Say how the discrepancy was resolved (1 to 500 characters).")
)

// Service reconciles days.
type Service struct {
	Store   Store
	Bills   Bills
	Cashier Cashier
	Now     func() time.Time
	Log     *slog.Logger
	// Lease is how long a run holds its day (default 10 minutes).
	Lease time.Duration
	// PublishHour is the Beijing hour after which yesterday's bill is
	// fetched (default 10: WeChat Pay makes it from 9 am, and advises
	// fetching after 10).
	PublishHour int
	// CatchUpDays is how many days back a missed day is caught up (default 7).
	CatchUpDays int
	// Found, when set, hears of each discrepancy the first time it is
	// recorded, by kind (the payments metrics count them).
	Found func(kind string)
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func (s *Service) log() *slog.Logger { return domain.Logger(s.Log) }

// today is the Beijing day of now, at midnight.
func today(now time.Time) time.Time {
	n := now.In(domain.Shanghai)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, domain.Shanghai)
}

// ParseDate reads a bill date and checks it is a past day within 90 days
// of now (Beijing time).
func ParseDate(s string, now time.Time) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", s, domain.Shanghai)
	if err != nil || d.Format("2006-01-02") != s {
		return time.Time{}, ErrBadDate
	}
	t := today(now)
	if !d.Before(t) {
		return time.Time{}, ErrNotYet
	}
	if d.Before(t.AddDate(0, 0, -90)) {
		return time.Time{}, ErrBadDate
	}
	return d, nil
}

// Reconcile reconciles one day (YYYY-MM-DD, Beijing time) and returns its
// run. A run that cannot finish (the bill cannot be had, fails its hash,
// or applying something failed) is recorded failed with its error, which
// is also returned; running the day again is always safe.
func (s *Service) Reconcile(ctx context.Context, date string, by string) (Run, error) {
	day, err := ParseDate(date, s.now())
	if err != nil {
		return Run{}, err
	}
	lease := s.Lease
	if lease <= 0 {
		lease = 10 * time.Minute
	}
	run, err := s.Store.StartRun(ctx, date, by, s.now(), lease)
	if err != nil {
		return Run{}, fmt.Errorf("reconcile %s: %w", date, err)
	}
	run.Lines, run.Matched, run.Applied, run.RefundsSettled, run.Error = 0, 0, 0, 0, ""
	rerr := s.reconcile(ctx, day, &run)
	if n, err := s.Store.CountDiscrepancies(ctx, date); err == nil {
		run.Discrepancies = n
	} else {
		rerr = errors.Join(rerr, err)
	}
	run.Status = RunSucceeded
	if rerr != nil {
		run.Status, run.Error = RunFailed, rerr.Error()
	}
	run.FinishedAt = s.now()
	if err := s.Store.FinishRun(ctx, run, run.FinishedAt); err != nil {
		return run, fmt.Errorf("reconcile %s: %w", date, errors.Join(rerr, err))
	}
	if rerr != nil {
		s.log().ErrorContext(ctx, "reconciliation failed", "alert", true, "bill_date", date, "err", rerr)
		return run, fmt.Errorf("reconcile %s: %w", date, rerr)
	}
	if run.Discrepancies > 0 {
		s.log().WarnContext(ctx, "reconciliation discrepancies", "alert", true, "bill_date", date,
			"discrepancies", run.Discrepancies)
	}
	return run, nil
}

func fen(v domain.Fen) *domain.Fen { return &v }

// reconcile does the work of one run; the counts go into run.
func (s *Service) reconcile(ctx context.Context, day time.Time, run *Run) error {
	date := run.BillDate
	bill, err := s.Bills.TradeBill(ctx, date)
	if err != nil {
		return err // nothing of a bill that fails its hash is used
	}
	run.Lines = len(bill.Lines)
	var tradeNos, refundNos []string
	for _, l := range bill.Lines {
		if l.IsRefund() {
			refundNos = append(refundNos, l.OutRefundNo)
		} else {
			tradeNos = append(tradeNos, l.OutTradeNo)
		}
	}
	trades, err := s.Store.Trades(ctx, tradeNos)
	if err != nil {
		return err
	}
	refunds, err := s.Store.Refunds(ctx, refundNos)
	if err != nil {
		return err
	}
	var ds []Discrepancy
	var errs []error
	billed := map[string]bool{}
	for _, l := range bill.Lines {
		if l.IsRefund() {
			d, settled, err := s.matchRefund(ctx, l, refunds)
			switch {
			case err != nil:
				errs = append(errs, err)
			case d != nil:
				ds = append(ds, *d)
			case settled:
				run.RefundsSettled++
			default:
				run.Matched++
			}
			continue
		}
		billed[l.OutTradeNo] = true
		d, applied, err := s.matchTrade(ctx, l, trades)
		switch {
		case err != nil:
			errs = append(errs, err)
		case d != nil:
			ds = append(ds, *d)
		case applied:
			run.Applied++
		default:
			run.Matched++
		}
	}
	// The other way: paid here that day, not in the bill.
	paid, err := s.Store.PaidBetween(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range paid {
		if !billed[p.OutTradeNo] {
			ds = append(ds, Discrepancy{Kind: KindMissingInBill, OutTradeNo: p.OutTradeNo, TransactionID: p.TransactionID,
				OurAmount: fen(p.Amount), Detail: "paid here, not in WeChat Pay's bill of the day"})
		}
	}
	if len(ds) > 0 {
		added, err := s.Store.AddDiscrepancies(ctx, *run, ds, s.now())
		if err != nil {
			errs = append(errs, err)
		}
		for _, d := range added {
			if s.Found != nil {
				s.Found(string(d.Kind))
			}
		}
	}
	return errors.Join(errs...)
}

// matchTrade compares a payment line with the mall's trade: an unpaid
// trade of the same amount is applied through the cashier.
func (s *Service) matchTrade(ctx context.Context, l payment.BillLine, trades map[string]Trade) (*Discrepancy, bool, error) {
	t, ok := trades[l.OutTradeNo]
	if !ok {
		return &Discrepancy{Kind: KindUnknownTrade, OutTradeNo: l.OutTradeNo, TransactionID: l.TransactionID,
			BillAmount: fen(l.Total), Detail: "no payment of the mall has this out_trade_no"}, false, nil
	}
	if t.Paid {
		if t.PaidAmount != l.Total {
			return &Discrepancy{Kind: KindAmountMismatch, OutTradeNo: l.OutTradeNo, TransactionID: l.TransactionID,
				BillAmount: fen(l.Total), OurAmount: fen(t.PaidAmount), Detail: "paid amount differs"}, false, nil
		}
		if t.TransactionID != l.TransactionID {
			return &Discrepancy{Kind: KindAmountMismatch, OutTradeNo: l.OutTradeNo, TransactionID: l.TransactionID,
				BillAmount: fen(l.Total), OurAmount: fen(t.PaidAmount),
				Detail: "paid here by transaction " + t.TransactionID + ", billed under another"}, false, nil
		}
		return nil, false, nil
	}
	if t.Amount != l.Total {
		// Never applied on the bill's word when the amounts differ.
		return &Discrepancy{Kind: KindAmountMismatch, OutTradeNo: l.OutTradeNo, TransactionID: l.TransactionID,
			BillAmount: fen(l.Total), OurAmount: fen(t.Amount), Detail: "billed as paid, not paid here, amount differs; not applied"}, false, nil
	}
	out, err := s.Cashier.ApplyBilledTrade(ctx, l.OutTradeNo)
	if err != nil {
		return nil, false, err
	}
	switch out {
	case cashier.OutcomeApplied, cashier.OutcomeRefundDue:
		s.log().WarnContext(ctx, "reconciliation applied a missed payment", "alert", true,
			"out_trade_no", l.OutTradeNo, "outcome", string(out))
		return nil, true, nil
	case cashier.OutcomeDuplicate:
		return nil, false, nil // applied meanwhile
	}
	return &Discrepancy{Kind: KindNotApplied, OutTradeNo: l.OutTradeNo, TransactionID: l.TransactionID,
		BillAmount: fen(l.Total), OurAmount: fen(t.Amount), Detail: "applying it gave " + string(out)}, false, nil
}

// matchRefund compares a refund line with the mall's refund: one not
// settled here is settled by asking WeChat Pay, as the refund worker does.
func (s *Service) matchRefund(ctx context.Context, l payment.BillLine, refunds map[string]Refund) (*Discrepancy, bool, error) {
	r, ok := refunds[l.OutRefundNo]
	if !ok {
		return &Discrepancy{Kind: KindUnknownRefund, OutTradeNo: l.OutTradeNo, OutRefundNo: l.OutRefundNo,
			TransactionID: l.TransactionID, BillAmount: fen(l.Refund), Detail: "no refund of the mall has this out_refund_no"}, false, nil
	}
	if r.Amount != l.Refund {
		return &Discrepancy{Kind: KindRefundAmountMismatch, OutTradeNo: l.OutTradeNo, OutRefundNo: l.OutRefundNo,
			TransactionID: l.TransactionID, BillAmount: fen(l.Refund), OurAmount: fen(r.Amount), Detail: "refund amount differs"}, false, nil
	}
	if r.Settled() {
		return nil, false, nil
	}
	out, err := s.Cashier.SyncBilledRefund(ctx, l.OutRefundNo)
	if err != nil {
		return nil, false, err
	}
	return nil, out == cashier.OutcomeApplied, nil
}

// CatchUp reconciles every day of the last CatchUpDays that has no
// succeeded run, oldest first; yesterday only once WeChat Pay has published
// its bill (after PublishHour, Beijing time). It returns how many days it
// reconciled.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	now := s.now()
	t := today(now)
	hour, days := s.PublishHour, s.CatchUpDays
	if hour <= 0 {
		hour = 10
	}
	if days <= 0 {
		days = 7
	}
	last := t.AddDate(0, 0, -1)
	if now.In(domain.Shanghai).Hour() < hour {
		last = t.AddDate(0, 0, -2)
	}
	first := t.AddDate(0, 0, -days)
	done, err := s.Store.SucceededDates(ctx, first.Format("2006-01-02"), last.Format("2006-01-02"))
	if err != nil {
		return 0, fmt.Errorf("reconcile: catch up: %w", err)
	}
	n := 0
	var errs []error
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		date := d.Format("2006-01-02")
		if done[date] {
			continue
		}
		if _, err := s.Reconcile(ctx, date, "system"); err != nil {
			if errors.Is(err, ErrRunInProgress) {
				continue // another instance has it
			}
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Trigger reconciles a day at a person's request (audited), now.
func (s *Service) Trigger(ctx context.Context, date string, by domain.Actor, requestID string) (Run, error) {
	if _, err := ParseDate(date, s.now()); err != nil {
		return Run{}, err
	}
	err := s.Store.InTx(ctx, func(tx Tx) error {
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "reconciliation.run", Entity: "reconciliation",
			EntityID: date, After: map[string]any{"bill_date": date}, RequestID: requestID, At: s.now()})
	})
	if err != nil {
		return Run{}, fmt.Errorf("reconcile: trigger: %w", err)
	}
	name := by.Name
	if name == "" {
		name = fmt.Sprintf("%s:%d", by.Kind, by.ID)
	}
	run, err := s.Reconcile(ctx, date, name)
	if err != nil && run.ID == 0 {
		return Run{}, err
	}
	// A failed run is an answer too: its error is on it.
	return run, nil
}

// Resolve marks a discrepancy resolved with a note (audited).
func (s *Service) Resolve(ctx context.Context, id int64, note string, by domain.Actor, requestID string) (Discrepancy, error) {
	if n := len([]rune(note)); n == 0 || n > 500 {
		return Discrepancy{}, ErrEmptyNote
	}
	now := s.now()
	var out Discrepancy
	err := s.Store.InTx(ctx, func(tx Tx) error {
		d, err := tx.Discrepancy(ctx, id)
		if err != nil {
			return err
		}
		if d.Resolved {
			return ErrAlreadyResolved
		}
		if err := tx.Resolve(ctx, id, by, note, now); err != nil {
			return err
		}
		out = d
		out.Resolved, out.ResolvedBy, out.ResolvedAt, out.Note = true, by.Name, now, note
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "reconciliation.resolve", Entity: "reconciliation_discrepancy",
			EntityID: fmt.Sprint(id), Before: map[string]any{"resolved": false},
			After:     map[string]any{"resolved": true, "note": note, "kind": d.Kind, "bill_date": d.BillDate},
			RequestID: requestID, At: now})
	})
	if err != nil {
		return Discrepancy{}, fmt.Errorf("reconcile: resolve: %w", err)
	}
	return out, nil
}

// Runs and Discrepancies list for the admin.
func (s *Service) Runs(ctx context.Context, f RunFilter) ([]Run, string, error) {
	return s.Store.ListRuns(ctx, f)
}

func (s *Service) Discrepancies(ctx context.Context, f DiscrepancyFilter) ([]Discrepancy, string, error) {
	return s.Store.ListDiscrepancies(ctx, f)
}
