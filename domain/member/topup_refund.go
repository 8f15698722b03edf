package member

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/payment"
)

// Refunds of top-ups. A paid top-up is refunded through WeChat Pay, out of
// its own trade, for its principal only, minus what was spent: the card's
// principal is one pool (spent before bonus), so what was spent of a
// top-up is what the pool no longer holds of it, and the refund is
// min(top-up principal, card principal). The top-up's bonus is forfeited,
// min(top-up bonus, card bonus). Both leave the card when the refund is
// asked for (ledger entries topup_refund and forfeit, in the transaction
// that records the refund), so they cannot be spent while WeChat Pay
// works; a refund WeChat Pay closes or refuses gives both back (restore).
// Its out_refund_no is the top-up's out_trade_no, "R" and a two-digit
// sequence — the top-up's own space (TU…), so the cashier hands its
// notifications here (cashier.RefundApplier); the same number is sent on
// every retry. A top-up has at most one live refund.

// TopUpRefund is the refund of a paid top-up.
type TopUpRefund struct {
	ID          int64
	TopUpID     int64
	CardID      int64
	OutTradeNo  string     // the top-up's
	Total       domain.Fen // the top-up's principal: WeChat Pay's payment
	OutRefundNo string
	Amount      domain.Fen // principal refunded through WeChat Pay
	Forfeit     domain.Fen // bonus forfeited
	Status      cashier.RefundStatus
	Reason      string
	WxRefundID  string
	Failure     string
	CreatedAt   time.Time
	SucceededAt time.Time
}

// TopUpRefundStore is what refunding top-ups needs from the database
// (storage.Members implements it beside Store).
type TopUpRefundStore interface {
	Store
	// LockTopUpRefunds returns a top-up by its out_trade_no, locked
	// (ErrTopUpNotFound), how many refunds it has had and whether one of
	// them is live.
	LockTopUpRefunds(ctx context.Context, outTradeNo string) (u TopUp, refunds int, live bool, err error)
	// CreateTopUpRefund records a refund; ErrTopUpRefunded when the top-up
	// has a live one.
	CreateTopUpRefund(ctx context.Context, r TopUpRefund) (TopUpRefund, error)
	// LockTopUpRefund returns a refund by out_refund_no, locked
	// (ErrTopUpRefundNotFound).
	LockTopUpRefund(ctx context.Context, outRefundNo string) (TopUpRefund, error)
	// UpdateTopUpRefund saves a refund's status, WeChat id, failure and
	// success time.
	UpdateTopUpRefund(ctx context.Context, r TopUpRefund) error
	// ClaimTopUpRefunds leases up to limit refunds not yet final and due
	// for a look (FOR UPDATE SKIP LOCKED).
	ClaimTopUpRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]TopUpRefund, error)
}

// Errors of top-up refunds.
var (
	ErrTopUpNotPaid = domain.E(domain.KindConflict, "topup_not_paid", "Only a paid top-up can be refunded.")
	ErrTopUpSpent   = domain.E(domain.KindConflict, "topup_spent",
		"The card holds no principal of this top-up any more; there is nothing to refund.")
	ErrTopUpRefunded       = domain.E(domain.KindConflict, "topup_refunded", "This top-up is refunded already (or being refunded).")
	ErrTopUpRefundNotFound = domain.E(domain.KindNotFound, "topup_refund_not_found", "No such top-up refund.")
)

// KindTopUpRefund, KindForfeit and KindRestore are the stored-value
// entries of top-up refunds.
const (
	KindTopUpRefund EntryKind = "topup_refund"
	KindForfeit     EntryKind = "forfeit"
	KindRestore     EntryKind = "restore"
)

// TopUpRefundAmounts is the rule: the principal refunded and the bonus
// forfeited when a top-up of principal and bonus is refunded from a card
// that holds cardPrincipal and cardBonus.
func TopUpRefundAmounts(principal, bonus, cardPrincipal, cardBonus domain.Fen) (refund, forfeit domain.Fen) {
	return max(min(principal, cardPrincipal), 0), max(min(bonus, cardBonus), 0)
}

// OutTopUpRefundNo is the out_refund_no of a top-up's seq-th refund.
func OutTopUpRefundNo(outTradeNo string, seq int) string {
	return fmt.Sprintf("%sR%02d", outTradeNo, seq)
}

func (s *Service) refundStore(st Store) (TopUpRefundStore, error) {
	rs, ok := st.(TopUpRefundStore)
	if !ok {
		return nil, errors.New("member: the store cannot refund top-ups")
	}
	return rs, nil
}

// RefundTopUp refunds a paid top-up (audited): it records the refund, takes
// its principal and forfeited bonus off the card, and, after the commit,
// asks WeChat Pay (the refund worker retries what is left unconfirmed).
func (s *Service) RefundTopUp(ctx context.Context, by domain.Actor, requestID, outTradeNo, reason string) (TopUpRefund, error) {
	if !s.Owns(outTradeNo) {
		return TopUpRefund{}, ErrTopUpNotFound
	}
	if n := len([]rune(reason)); n > 80 {
		return TopUpRefund{}, domain.Invalid(domain.FieldError{Field: "reason", Code: "max", Message: "must have at most 80 characters"})
	}
	if reason == "" {
		reason = "储值退款"
	}
	now := s.now()
	var out TopUpRefund
	err := s.Store.InTx(ctx, func(st Store) error {
		tx, err := s.refundStore(st)
		if err != nil {
			return err
		}
		u, n, live, err := tx.LockTopUpRefunds(ctx, outTradeNo)
		if err != nil {
			return err
		}
		if u.Status != TopUpPaid {
			return ErrTopUpNotPaid
		}
		if live || n >= cashier.MaxRefundsPerOrder {
			return ErrTopUpRefunded
		}
		c, err := tx.CardByID(ctx, u.CardID, true)
		if err != nil {
			return err
		}
		amount, forfeit := TopUpRefundAmounts(u.Principal, u.Bonus, c.Principal, c.Bonus)
		if amount <= 0 {
			return ErrTopUpSpent
		}
		if out, err = tx.CreateTopUpRefund(ctx, TopUpRefund{TopUpID: u.ID, CardID: u.CardID, OutTradeNo: u.OutTradeNo,
			Total: u.Principal, OutRefundNo: OutTopUpRefundNo(u.OutTradeNo, n+1), Amount: amount, Forfeit: forfeit,
			Status: cashier.RefundPending, Reason: reason, CreatedAt: now}); err != nil {
			return err
		}
		e := BalanceEntry{CardID: u.CardID, TopUpID: u.ID, TopUpRefundID: out.ID, Actor: by.String(), At: now}
		e.Kind, e.Principal, e.Reason = KindTopUpRefund, -amount, "refund of top-up "+u.OutTradeNo
		if _, err := tx.AddBalance(ctx, e); err != nil {
			return err
		}
		if forfeit > 0 {
			e.Kind, e.Principal, e.Bonus, e.Reason = KindForfeit, 0, -forfeit, "bonus of refunded top-up "+u.OutTradeNo
			if _, err := tx.AddBalance(ctx, e); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "topup.refund", Entity: "topup", EntityID: u.OutTradeNo,
			After:     map[string]any{"out_refund_no": out.OutRefundNo, "amount_fen": amount, "forfeit_fen": forfeit, "reason": reason},
			RequestID: requestID, At: now})
	})
	if err != nil {
		return TopUpRefund{}, fmt.Errorf("member: refund top-up: %w", err)
	}
	return s.submitTopUpRefund(ctx, out), nil
}

// submitTopUpRefund asks WeChat Pay for a recorded refund (the same
// out_refund_no on every retry) and applies its answer; an unknown
// outcome is left to the worker. It returns the refund as it now stands.
func (s *Service) submitTopUpRefund(ctx context.Context, r TopUpRefund) TopUpRefund {
	res, err := s.Gateway.Refund(ctx, payment.RefundRequest{OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
		Reason: r.Reason, Refund: r.Amount, Total: r.Total})
	failure := ""
	if err != nil {
		if payment.Retryable(err) {
			return r
		}
		res, failure = payment.Refund{OutRefundNo: r.OutRefundNo, Status: "FAILED", Refund: r.Amount}, err.Error()
	}
	r2, _, _, err := s.applyTopUpRefund(ctx, res, failure)
	if err != nil {
		return r
	}
	return r2
}

// OwnsRefund implements cashier.RefundApplier: refunds of top-ups.
func (s *Service) OwnsRefund(outRefundNo string) bool {
	return strings.HasPrefix(outRefundNo, topUpPrefix)
}

// ApplyRefund implements cashier.RefundApplier: it moves a top-up refund to
// what WeChat Pay reports, once.
func (s *Service) ApplyRefund(ctx context.Context, res payment.Refund) (cashier.Outcome, string, error) {
	_, out, detail, err := s.applyTopUpRefund(ctx, res, "")
	return out, detail, err
}

func (s *Service) applyTopUpRefund(ctx context.Context, res payment.Refund, failure string) (TopUpRefund, cashier.Outcome, string, error) {
	now := s.now()
	var out TopUpRefund
	var outcome cashier.Outcome
	var detail string
	err := s.Store.InTx(ctx, func(st Store) error {
		tx, err := s.refundStore(st)
		if err != nil {
			return err
		}
		r, err := tx.LockTopUpRefund(ctx, res.OutRefundNo)
		if errors.Is(err, ErrTopUpRefundNotFound) {
			outcome, detail = cashier.OutcomeUnknown, "no top-up refund has out_refund_no "+res.OutRefundNo
			return nil
		}
		if err != nil {
			return err
		}
		out = r
		if res.Refund != 0 && res.Refund != r.Amount {
			outcome, detail = cashier.OutcomeAmountAlert, fmt.Sprintf("refund of %d fen reported, %d asked", res.Refund, r.Amount)
			return nil
		}
		next := r.Status
		switch res.Status {
		case payment.RefundSuccess:
			next = cashier.RefundSucceeded
		case payment.RefundProcessing:
			next = cashier.RefundProcessing
		case payment.RefundAbnormal:
			next = cashier.RefundAbnormal
		case payment.RefundClosed:
			next = cashier.RefundClosed
		case "FAILED":
			next = cashier.RefundFailed
		}
		if next == r.Status || r.Status == cashier.RefundSucceeded || !r.Status.Live() {
			outcome = cashier.OutcomeDuplicate
			if r.WxRefundID == "" && res.RefundID != "" {
				r.WxRefundID = res.RefundID
				out = r
				return tx.UpdateTopUpRefund(ctx, r)
			}
			return nil
		}
		r.Status, r.Failure, outcome = next, failure, cashier.OutcomeApplied
		if res.RefundID != "" {
			r.WxRefundID = res.RefundID
		}
		if next == cashier.RefundSucceeded {
			r.SucceededAt = res.SuccessTime
			if r.SucceededAt.IsZero() {
				r.SucceededAt = now
			}
		}
		if next == cashier.RefundAbnormal {
			detail = "top-up refund abnormal: needs a person"
		}
		if err := tx.UpdateTopUpRefund(ctx, r); err != nil {
			return err
		}
		out = r
		if !next.Live() {
			// The money did not go back: the card holds it again.
			_, err := tx.AddBalance(ctx, BalanceEntry{CardID: r.CardID, Kind: KindRestore, Principal: r.Amount, Bonus: r.Forfeit,
				TopUpID: r.TopUpID, TopUpRefundID: r.ID, Reason: "top-up refund " + string(next) + ": " + r.OutRefundNo,
				Actor: domain.System.String(), At: now})
			return err
		}
		return nil
	})
	if err != nil {
		return TopUpRefund{}, "", "", fmt.Errorf("member: apply top-up refund %s: %w", res.OutRefundNo, err)
	}
	return out, outcome, detail, nil
}

// SyncTopUpRefunds is the top-up refund worker: it submits refunds WeChat
// Pay has not confirmed (same out_refund_no) and asks about those still
// processing or abnormal. It returns how many it moved on.
func (s *Service) SyncTopUpRefunds(ctx context.Context, limit int) (int, error) {
	rs0, err := s.refundStore(s.Store)
	if err != nil {
		return 0, err
	}
	rs, err := rs0.ClaimTopUpRefunds(ctx, s.now(), time.Minute, limit)
	if err != nil {
		return 0, fmt.Errorf("member: sync top-up refunds: %w", err)
	}
	n := 0
	var errs []error
	for _, r := range rs {
		if r.Status != cashier.RefundPending {
			res, err := s.Gateway.QueryRefund(ctx, r.OutRefundNo)
			if err == nil {
				_, out, _, err := s.applyTopUpRefund(ctx, res, "")
				if err != nil {
					errs = append(errs, err)
				} else if out == cashier.OutcomeApplied {
					n++
				}
				continue
			}
			if !errors.Is(err, payment.ErrRefundNotExist) {
				errs = append(errs, fmt.Errorf("%s: %w", r.OutRefundNo, err))
				continue
			}
		}
		if r2 := s.submitTopUpRefund(ctx, r); r2.Status != r.Status {
			n++
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("member: sync top-up refunds: %w", errors.Join(errs...))
	}
	return n, nil
}
