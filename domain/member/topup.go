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

// Top-ups are WeChat Pay trades of their own: out_trade_no "TU" and 24
// random characters, never an order's (order numbers start "YT"), so the
// cashier hands their payments here (cashier.TradeApplier). A top-up is
// credited exactly once, keyed by the top-up (a unique ledger entry) and
// checked against WeChat's transaction; pending top-ups whose
// notification is late are queried, and expired ones closed at WeChat Pay
// before they are closed here.

// topUpPrefix marks a top-up's out_trade_no.
const topUpPrefix = "TU"

// Owns implements cashier.TradeApplier: top-ups' out_trade_nos.
func (s *Service) Owns(outTradeNo string) bool { return strings.HasPrefix(outTradeNo, topUpPrefix) }

// Packages lists top-up packages (activeOnly for shoppers).
func (s *Service) Packages(ctx context.Context, activeOnly bool, page domain.Page) ([]Package, string, error) {
	return s.Store.Packages(ctx, activeOnly, page)
}

// CreatePackage adds a top-up package, audited.
func (s *Service) CreatePackage(ctx context.Context, by domain.Actor, requestID string, p Package) (Package, error) {
	var fe []domain.FieldError
	if n := len([]rune(p.Name)); n < 1 || n > 32 {
		fe = append(fe, domain.FieldError{Field: "name", Code: "range", Message: "must have 1 to 32 characters"})
	}
	if p.Pay < 1 || p.Pay > 100_000_000 {
		fe = append(fe, domain.FieldError{Field: "pay_fen", Code: "range", Message: "must be from 1 to 100000000"})
	}
	if p.Bonus < 0 || p.Bonus > 100_000_000 {
		fe = append(fe, domain.FieldError{Field: "bonus_fen", Code: "range", Message: "must be from 0 to 100000000"})
	}
	if len(fe) > 0 {
		return Package{}, domain.Invalid(fe...)
	}
	now := s.now()
	p.Active, p.CreatedAt, p.UpdatedAt = true, now, now
	var out Package
	err := s.Store.InTx(ctx, func(tx Store) error {
		var err error
		if out, err = tx.CreatePackage(ctx, p); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "topup_package.create", Entity: "topup_package",
			EntityID: fmt.Sprint(out.ID), After: out, RequestID: requestID, At: now})
	})
	if err != nil {
		return Package{}, fmt.Errorf("member: create package: %w", err)
	}
	return out, nil
}

// TopUp starts a top-up of a package for the shopper's card and returns
// the wx.requestPayment parameters. No transaction is open while WeChat
// Pay is asked.
func (s *Service) TopUp(ctx context.Context, shopperID, packageID int64) (TopUp, error) {
	c, err := s.Store.Card(ctx, shopperID, false)
	if err != nil {
		return TopUp{}, err
	}
	p, err := s.Store.Package(ctx, packageID)
	if err != nil {
		return TopUp{}, err
	}
	if !p.Active {
		return TopUp{}, ErrPackageNotFound
	}
	_, _, openID, err := s.Store.Contact(ctx, shopperID)
	if err != nil {
		return TopUp{}, err
	}
	no, err := s.digits(24)
	if err != nil {
		return TopUp{}, err
	}
	now := s.now()
	ttl := s.TopUpTTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	t, err := s.Store.CreateTopUp(ctx, TopUp{CardID: c.ID, PackageID: p.ID, OutTradeNo: topUpPrefix + no, Principal: p.Pay,
		Bonus: p.Bonus, OpenID: openID, Status: TopUpPending, TimeExpire: now.Add(ttl), CreatedAt: now})
	if err != nil {
		return TopUp{}, fmt.Errorf("member: top up: %w", err)
	}
	desc := fmt.Sprintf("储值 %s ¥%s", p.Name, p.Pay.Yuan())
	rp, err := s.Gateway.PrepayJSAPI(ctx, payment.JSAPIRequest{OutTradeNo: t.OutTradeNo, Description: desc,
		OpenID: openID, Amount: t.Principal, ExpiresAt: t.TimeExpire})
	if err != nil {
		return TopUp{}, fmt.Errorf("member: top up: %w", err)
	}
	t.Params, t.PrepayValidUntil = rp, t.TimeExpire
	if err := s.Store.SavePrepay(ctx, t.ID, rp, t.TimeExpire); err != nil {
		return TopUp{}, fmt.Errorf("member: top up: %w", err)
	}
	return t, nil
}

// ApplyTrade implements cashier.TradeApplier: it credits a paid top-up to
// its card exactly once. A mismatch (merchant, app, amount, currency)
// changes nothing and is reported as an alert outcome.
func (s *Service) ApplyTrade(ctx context.Context, t payment.Transaction, src cashier.Source) (cashier.Outcome, string, error) {
	if !t.TradeState.Paid() {
		return cashier.OutcomeIgnored, "trade state " + string(t.TradeState), nil
	}
	var outcome cashier.Outcome
	var detail string
	now := s.now()
	err := s.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.LockTopUp(ctx, t.OutTradeNo)
		if errors.Is(err, ErrTopUpNotFound) {
			outcome, detail = cashier.OutcomeUnknown, "no top-up has out_trade_no "+t.OutTradeNo
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case t.MchID != s.MchID || t.AppID != s.AppID:
			outcome, detail = cashier.OutcomeMerchant, fmt.Sprintf("mchid %q appid %q", t.MchID, t.AppID)
			return nil
		case t.Currency != "CNY" || t.Total != u.Principal || t.TransactionID == "":
			outcome, detail = cashier.OutcomeAmountAlert, fmt.Sprintf("paid %d %s, top-up asked %d", t.Total, t.Currency, u.Principal)
			return nil
		case u.Status == TopUpPaid:
			outcome = cashier.OutcomeDuplicate
			return nil
		}
		// A top-up closed here is closed at WeChat Pay first, so a payment
		// of one should not happen; if it does, the money arrived: credit it.
		if err := tx.MarkTopUpPaid(ctx, u.ID, t.TransactionID, now); err != nil {
			return err
		}
		at := t.SuccessTime
		if at.IsZero() {
			at = now
		}
		if _, err := tx.AddBalance(ctx, BalanceEntry{CardID: u.CardID, Kind: KindTopUp, Principal: u.Principal, Bonus: u.Bonus,
			TopUpID: u.ID, Reason: "top-up " + u.OutTradeNo, Actor: domain.System.String(), At: at}); err != nil {
			return err
		}
		outcome = cashier.OutcomeApplied
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("member: apply top-up %s: %w", t.OutTradeNo, err)
	}
	return outcome, detail, nil
}

// ReconcileTopUps asks WeChat Pay about pending top-ups whose notification
// is late, credits those paid and closes those expired (at WeChat Pay
// first). It returns how many it credited.
func (s *Service) ReconcileTopUps(ctx context.Context, limit int) (int, error) {
	now := s.now()
	us, err := s.Store.ClaimTopUps(ctx, now, time.Minute, limit)
	if err != nil {
		return 0, fmt.Errorf("member: reconcile top-ups: %w", err)
	}
	n := 0
	var errs []error
	for _, u := range us {
		t, err := s.Gateway.QueryByOutTradeNo(ctx, u.OutTradeNo)
		switch {
		case errors.Is(err, payment.ErrOrderNotExist):
		case err != nil:
			errs = append(errs, err)
			continue
		case t.TradeState.Paid():
			out, _, err := s.ApplyTrade(ctx, t, cashier.SourceQuery)
			if err != nil {
				errs = append(errs, err)
			} else if out == cashier.OutcomeApplied {
				n++
			}
			continue
		}
		if now.Before(u.TimeExpire) {
			continue
		}
		switch err := s.Gateway.Close(ctx, u.OutTradeNo); {
		case err == nil, errors.Is(err, payment.ErrOrderClosed), errors.Is(err, payment.ErrOrderNotExist):
			if err := s.Store.CloseTopUp(ctx, u.ID, now); err != nil {
				errs = append(errs, err)
			}
		case errors.Is(err, payment.ErrOrderPaid):
			// Paid meanwhile: the next round's query credits it.
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("member: reconcile top-ups: %w", errors.Join(errs...))
	}
	return n, nil
}
