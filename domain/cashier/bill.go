package cashier

import (
	"context"
	"fmt"
)

// What the daily reconciliation against the trade bill (domain/reconcile)
// asks of the cashier. Neither is a new way of applying anything: a
// payment goes through the reconcile query's path (applyQueried, or the
// TradeApplier that owns the trade), a refund through the refund worker's
// (routeRefund after a query).

// ApplyBilledTrade is for a payment the trade bill lists as successful that
// the cashier has not applied: it asks WeChat Pay about it and applies what
// WeChat Pay reports exactly as the reconcile query does (checks against
// the attempt and the order, once per transaction id, refunded if the order
// was cancelled). It returns the outcome, OutcomeIgnored when WeChat Pay
// does not report it paid.
func (s *Service) ApplyBilledTrade(ctx context.Context, outTradeNo string) (Outcome, error) {
	t, err := s.Gateway.QueryByOutTradeNo(ctx, outTradeNo)
	if err != nil {
		return "", fmt.Errorf("cashier: billed trade %s: %w", outTradeNo, err)
	}
	if !t.TradeState.Paid() {
		return OutcomeIgnored, nil
	}
	for _, a := range s.Trades {
		if a.Owns(t.OutTradeNo) {
			out, _, err := a.ApplyTrade(ctx, t, SourceQuery)
			return out, err
		}
	}
	return s.applyQueried(ctx, t)
}

// SyncBilledRefund is for a refund the trade bill lists that is not settled
// here: it asks WeChat Pay about it and applies the answer as the refund
// worker does (an order's refund, or the RefundApplier's that owns it).
func (s *Service) SyncBilledRefund(ctx context.Context, outRefundNo string) (Outcome, error) {
	res, err := s.Gateway.QueryRefund(ctx, outRefundNo)
	if err != nil {
		return "", fmt.Errorf("cashier: billed refund %s: %w", outRefundNo, err)
	}
	out, _, err := s.routeRefund(ctx, res)
	return out, err
}
