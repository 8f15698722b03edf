package cashier

import (
	"context"

	"github.com/yutang/yutang/domain/payment"
)

// RefundApplier applies what WeChat Pay reports of refunds that are not an
// order's (refunds of stored-value top-ups …), told apart by their
// out_refund_no, as TradeApplier does for payments. The applier submits
// and retries its own refunds; the cashier only routes their
// notifications.
type RefundApplier interface {
	OwnsRefund(outRefundNo string) bool
	ApplyRefund(ctx context.Context, res payment.Refund) (Outcome, string, error)
}

// routeRefund applies a refund's result through the RefundApplier that owns
// its out_refund_no, or as an order's refund.
func (s *Service) routeRefund(ctx context.Context, res payment.Refund) (Outcome, string, error) {
	for _, a := range s.Refunds {
		if a.OwnsRefund(res.OutRefundNo) {
			return a.ApplyRefund(ctx, res)
		}
	}
	_, outcome, err := s.applyRefund(ctx, res, "")
	return outcome, "", err
}
