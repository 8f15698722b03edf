package cashier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/yutang/yutang/domain/order"
)

// PaymentCheck is what a shopper back from wx.requestPayment learns of an
// order.
type PaymentCheck struct {
	Number string
	Status order.Status
	// Paid: the order is paid (paid, shipped or completed).
	Paid bool
	// Queried: WeChat Pay was asked now; false when the answer comes from
	// the database alone (nothing open to ask about, or asked too recently:
	// Service.Checks).
	Queried bool
}

// DefaultCheckInterval is the least time between two queries of one
// attempt on a shopper's behalf (NewCheckLimiter).
const DefaultCheckInterval = 2 * time.Second

// CheckPayment answers whether one of the shopper's orders is paid, asking
// WeChat Pay first about its open attempts — at most once per attempt per
// interval of s.Checks — and applying a payment it reports through the reconciler's
// path (queryAndApply, then Apply: once per transaction id). WeChat Pay's
// notification can come late or never: the shopper need not wait for it. When
// WeChat Pay cannot be asked, the answer comes from the database and the
// reconciler asks again later. Another shopper's order is
// order.ErrOrderNotFound.
func (s *Service) CheckPayment(ctx context.Context, shopperID int64, number string) (PaymentCheck, error) {
	if !order.ValidNumber(number) || shopperID <= 0 {
		return PaymentCheck{}, fmt.Errorf("cashier: check payment: %w", order.ErrOrderNotFound)
	}
	o, err := s.Store.Order(ctx, number, shopperID, false)
	if err != nil {
		return PaymentCheck{}, fmt.Errorf("cashier: check payment: %w", err)
	}
	queried := false
	if o.Status == order.StatusPendingPayment {
		for _, tt := range []string{TradeJSAPI, TradeNative} {
			a, err := s.Store.OpenAttempt(ctx, o.ID, tt)
			if errors.Is(err, ErrNoAttempt) {
				continue
			}
			if err != nil {
				return PaymentCheck{}, fmt.Errorf("cashier: check payment: %w", err)
			}
			if !s.Checks.claim(a.ID, s.now()) {
				continue
			}
			queried = true
			if _, err := s.queryAndApply(ctx, a); err != nil {
				s.log().WarnContext(ctx, "payment check: not confirmed", "out_trade_no", a.OutTradeNo, "err", err)
			}
		}
		if queried {
			if o, err = s.Store.Order(ctx, number, shopperID, false); err != nil {
				return PaymentCheck{}, fmt.Errorf("cashier: check payment: %w", err)
			}
		}
	}
	return PaymentCheck{Number: o.Number, Status: o.Status, Queried: queried,
		Paid: errors.Is(payable(o), ErrAlreadyPaid)}, nil
}

// CheckLimiter remembers when each attempt was last queried on a shopper's
// behalf, in this process (several instances each allow their own query).
type CheckLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[int64]time.Time
}

// NewCheckLimiter allows one query per attempt every d (0:
// DefaultCheckInterval).
func NewCheckLimiter(d time.Duration) *CheckLimiter {
	return &CheckLimiter{every: orDefault(d, DefaultCheckInterval), last: map[int64]time.Time{}}
}

// claim reports whether attempt may be queried now, and if so records it. A
// nil limiter allows everything.
func (l *CheckLimiter) claim(attempt int64, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[attempt]; ok && now.Sub(t) < l.every && !now.Before(t) {
		return false
	}
	if len(l.last) >= 4096 { // forget what is past its interval
		for id, t := range l.last {
			if now.Sub(t) >= l.every {
				delete(l.last, id)
			}
		}
	}
	l.last[attempt] = now
	return true
}
