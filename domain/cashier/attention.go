package cashier

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// Errors of the refunds a person handles.
var (
	ErrRefundNotAbnormal = domain.E(domain.KindConflict, "refund_not_abnormal",
		"Only an abnormal refund can be re-applied to a bank card.")
	ErrRefundNotRefused = domain.E(domain.KindConflict, "refund_not_needing_attention",
		"Only a refund that needs attention can be retried.")
	ErrAbnormalRefundInput = domain.E(domain.KindInvalid, "abnormal_refund_invalid",
		"A refund to the shopper's bank card needs the bank type, the account number and the holder's real name.")
)

// RefundFilter selects refunds for the admin list: StatusNeedsAttention
// means every refund a person must act on (NeedsPerson), an empty Status
// every refund.
type RefundFilter struct {
	Status RefundStatus
	Page   domain.Page
}

// StatusNeedsAttention as a RefundFilter.Status selects both needs_attention
// and abnormal refunds: the admin queue.
const StatusNeedsAttention = RefundNeedsAttention

// Statuses are the refund statuses the filter selects (nil: all).
func (f RefundFilter) Statuses() []RefundStatus {
	switch f.Status {
	case "":
		return nil
	case StatusNeedsAttention:
		return []RefundStatus{RefundNeedsAttention, RefundAbnormal}
	}
	return []RefundStatus{f.Status}
}

// ListRefunds lists refunds, newest first, a page at a time (the admin
// queue: Status StatusNeedsAttention).
func (s *Service) ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, string, error) {
	switch f.Status {
	case "", RefundPending, RefundProcessing, RefundSucceeded, RefundAbnormal, RefundClosed, RefundFailed, RefundNeedsAttention:
	default:
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "is not a refund status"})
	}
	rs, next, err := s.Store.ListRefunds(ctx, f.Statuses(), f.Page)
	if err != nil {
		return nil, "", fmt.Errorf("cashier: list refunds: %w", err)
	}
	return rs, next, nil
}

// RetryRefund sends a refund WeChat Pay refused (needs_attention) again with
// the same out_refund_no, once a person has dealt with the cause (topped up
// the balance, the shopper's account is back to normal). It is audited and
// returns the refund as it now stands.
func (s *Service) RetryRefund(ctx context.Context, id int64, by domain.Actor, requestID string) (Refund, error) {
	now := s.now()
	var r Refund
	err := s.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.RefundByID(ctx, id, true)
		if err != nil {
			return err
		}
		if cur.Status != RefundNeedsAttention {
			return ErrRefundNotRefused
		}
		r = cur
		r.Status, r.Failure = RefundPending, ""
		if err := tx.UpdateRefund(ctx, r, now); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "refund.retry", Entity: "refund",
			EntityID: fmt.Sprint(r.ID), Before: map[string]any{"status": cur.Status, "failure": cur.Failure},
			After: map[string]any{"status": r.Status, "out_refund_no": r.OutRefundNo}, RequestID: requestID, At: now})
	})
	if err != nil {
		return Refund{}, fmt.Errorf("cashier: retry refund: %w", err)
	}
	return s.SubmitRefund(ctx, r), nil
}

// AbnormalRefund re-applies an abnormal refund (ApplyAbnormalRefund).
type AbnormalRefund struct {
	RefundID    int64  // ours
	Type        string // payment.AbnormalToUserCard or payment.AbnormalToMerchantCard
	BankType    string // for the shopper's card
	BankAccount string
	RealName    string
	By          domain.Actor
	RequestID   string
}

func (a AbnormalRefund) valid() bool {
	switch a.Type {
	case payment.AbnormalToUserCard:
		return a.BankType != "" && a.BankAccount != "" && a.RealName != ""
	case payment.AbnormalToMerchantCard:
		return true
	}
	return false
}

// ApplyAbnormalRefund sends an ABNORMAL refund (the shopper's account could
// not take it) out again through WeChat Pay's apply-abnormal-refund, to the
// shopper's bank card or the merchant's, and applies the answer (processing;
// the refund worker and the notification finish it). The re-application is
// audited without the card number (its last four digits) or the name.
func (s *Service) ApplyAbnormalRefund(ctx context.Context, a AbnormalRefund) (Refund, error) {
	if !a.valid() {
		return Refund{}, ErrAbnormalRefundInput
	}
	r, err := s.Store.RefundByID(ctx, a.RefundID, false)
	if err != nil {
		return Refund{}, fmt.Errorf("cashier: apply abnormal refund: %w", err)
	}
	if r.Status != RefundAbnormal || r.WxRefundID == "" {
		return Refund{}, ErrRefundNotAbnormal
	}
	res, err := s.Gateway.ApplyAbnormalRefund(ctx, payment.AbnormalRefundRequest{RefundID: r.WxRefundID,
		OutRefundNo: r.OutRefundNo, Type: a.Type, BankType: a.BankType, BankAccount: a.BankAccount, RealName: a.RealName})
	if err != nil {
		s.log().ErrorContext(ctx, "apply abnormal refund", "out_refund_no", r.OutRefundNo, "err", err)
		return Refund{}, fmt.Errorf("cashier: apply abnormal refund: %w", err)
	}
	if res.OutRefundNo == "" {
		res.OutRefundNo = r.OutRefundNo
	}
	out, _, err := s.applyRefund(ctx, res, "")
	if err != nil {
		return Refund{}, err
	}
	now := s.now()
	err = s.Store.InTx(ctx, func(tx Tx) error {
		return tx.Audit(ctx, domain.AuditEntry{Actor: a.By, Action: "refund.apply_abnormal", Entity: "refund",
			EntityID: fmt.Sprint(r.ID), Before: map[string]any{"status": r.Status},
			After: map[string]any{"status": out.Status, "out_refund_no": r.OutRefundNo, "type": a.Type,
				"bank_type": a.BankType, "bank_account_last4": last4(a.BankAccount)},
			RequestID: a.RequestID, At: now})
	})
	if err != nil {
		// WeChat Pay has it already: the refund goes on; the gap is logged.
		s.log().ErrorContext(ctx, "audit abnormal refund", "alert", true, "out_refund_no", r.OutRefundNo, "err", err)
	}
	return out, nil
}

func last4(s string) string {
	if n := utf8.RuneCountInString(s); n > 4 {
		return string([]rune(s)[n-4:])
	}
	return s
}
