package payment_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

func TestTradeState(t *testing.T) {
	cases := []struct {
		s           payment.TradeState
		paid, final bool
	}{
		{payment.TradeSuccess, true, true},
		{payment.TradeRefund, true, true},
		{payment.TradeNotPay, false, false},
		{payment.TradeUserPaying, false, false},
		{payment.TradeClosed, false, true},
		{payment.TradePayError, false, true},
	}
	for _, c := range cases {
		if got := c.s.Paid(); got != c.paid {
			t.Errorf("%s.Paid() = %v, want %v", c.s, got, c.paid)
		}
		if got := c.s.Final(); got != c.final {
			t.Errorf("%s.Final() = %v, want %v", c.s, got, c.final)
		}
	}
}

func TestRetryable(t *testing.T) {
	cause := errors.New("timeout")
	unknown := *payment.ErrUnknown
	unknown.Err = cause
	wrapped := fmt.Errorf("payments: query: %w", &unknown)
	if !payment.Retryable(wrapped) {
		t.Error("wrapped ErrUnknown is not retryable")
	}
	if !errors.Is(wrapped, cause) {
		t.Error("cause lost")
	}
	if domain.KindOf(wrapped) != domain.KindUnavailable {
		t.Errorf("kind = %v", domain.KindOf(wrapped))
	}
	for _, e := range []error{payment.ErrOrderNotExist, payment.ErrOrderPaid, payment.ErrRefundExceeded, payment.ErrRejected} {
		if payment.Retryable(e) {
			t.Errorf("%v is retryable", e)
		}
	}
	if errors.Is(payment.ErrOrderPaid, payment.ErrOrderClosed) {
		t.Error("distinct sentinels match")
	}
}
