package wxpaysim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Errors of the control API.
var (
	ErrNotFound = errors.New("wxpaysim: not found")
	ErrState    = errors.New("wxpaysim: not allowed in this state")
)

// Trade is a snapshot of a simulated payment.
type Trade struct {
	OutTradeNo    string    `json:"out_trade_no"`
	TradeType     string    `json:"trade_type"`
	State         string    `json:"trade_state"`
	TransactionID string    `json:"transaction_id,omitempty"`
	PayerOpenID   string    `json:"payer_openid,omitempty"`
	Total         int64     `json:"total"`
	Refunded      int64     `json:"refunded"`
	PrepayIDs     []string  `json:"prepay_ids"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
}

// Trade returns a snapshot of the trade with this out_trade_no.
func (s *Simulator) Trade(outTradeNo string) (Trade, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[outTradeNo]
	if t == nil {
		return Trade{}, false
	}
	return Trade{
		OutTradeNo: t.outTradeNo, TradeType: t.tradeType, State: t.state, TransactionID: t.transactionID,
		PayerOpenID: t.payerOpenID, Total: t.total, Refunded: t.refunded(),
		PrepayIDs: append([]string(nil), t.prepayIDs...), ExpiresAt: t.timeExpire,
	}, true
}

// Pay pays an unpaid, unexpired trade as the shopper would and schedules
// its TRANSACTION.SUCCESS notification. payerOpenID may be empty for a
// JSAPI trade (the prepay's payer pays); it must match it when given.
func (s *Simulator) Pay(outTradeNo, payerOpenID string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[outTradeNo]
	switch {
	case t == nil:
		return fmt.Errorf("wxpaysim: pay %q: %w", outTradeNo, ErrNotFound)
	case t.state != "NOTPAY":
		return fmt.Errorf("wxpaysim: pay %q is %s: %w", outTradeNo, t.state, ErrState)
	case !t.timeExpire.IsZero() && now.After(t.timeExpire):
		return fmt.Errorf("wxpaysim: pay %q expired at %s: %w", outTradeNo, t.timeExpire, ErrState)
	case t.tradeType == "JSAPI" && payerOpenID != "" && payerOpenID != t.payerOpenID:
		return fmt.Errorf("wxpaysim: pay %q: prepaid for another openid: %w", outTradeNo, ErrState)
	}
	if payerOpenID != "" {
		t.payerOpenID = payerOpenID
	}
	if t.payerOpenID == "" {
		t.payerOpenID = "o_native_" + randomString(19, alnum)
	}
	t.state = "SUCCESS"
	t.successTime = now
	t.transactionID = "4200" + randomDigits(6) + now.Format("20060102") + randomDigits(10)
	s.byTxID[t.transactionID] = t
	s.persistTrade(t)
	s.notify(t.outTradeNo, t.notifyURL, "TRANSACTION.SUCCESS", "transaction", t.json())
	return nil
}

// CompleteRefund makes a PROCESSING (or ABNORMAL) refund succeed and
// schedules its REFUND.SUCCESS notification.
func (s *Simulator) CompleteRefund(outRefundNo string) error {
	return s.settleRefund(outRefundNo, "SUCCESS")
}

// FailRefund ends a PROCESSING refund as ABNORMAL or CLOSED (a closed
// refund frees its amount) and schedules the matching notification.
func (s *Simulator) FailRefund(outRefundNo, status string) error {
	if status != "ABNORMAL" && status != "CLOSED" {
		return fmt.Errorf("wxpaysim: fail refund: status %q is not ABNORMAL or CLOSED", status)
	}
	return s.settleRefund(outRefundNo, status)
}

func (s *Simulator) settleRefund(outRefundNo, status string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := s.refunds[outRefundNo]
	if rf == nil {
		return fmt.Errorf("wxpaysim: refund %q: %w", outRefundNo, ErrNotFound)
	}
	if rf.status != "PROCESSING" && !(rf.status == "ABNORMAL" && status == "SUCCESS") {
		return fmt.Errorf("wxpaysim: refund %q is %s: %w", outRefundNo, rf.status, ErrState)
	}
	rf.status = status
	if status == "SUCCESS" {
		rf.successTime = now
		rf.trade.state = "REFUND"
	}
	s.persistRefund(rf)
	s.notify(rf.outRefundNo, rf.notifyURL, "REFUND."+status, "refund", rf.notice())
	return nil
}

// InjectNotificationFault spoils the next notification for key (an
// out_trade_no, or an out_refund_no). Faults queue up, one per notification.
func (s *Simulator) InjectNotificationFault(key string, f Fault) error {
	if !f.valid() {
		return fmt.Errorf("wxpaysim: unknown fault %q", f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyFaults[key] = append(s.notifyFaults[key], notifyFault{fault: f})
	return nil
}

// DelayNextNotification holds the first attempt of the next notification
// for key for d.
func (s *Simulator) DelayNextNotification(key string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyFaults[key] = append(s.notifyFaults[key], notifyFault{delay: d})
}

// FailNextAPICalls makes the next n API calls answer status without doing
// anything: 429 FREQUENCY_LIMITED, 5xx SYSTEM_ERROR, another 4xx
// INVALID_REQUEST.
func (s *Simulator) FailNextAPICalls(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiFailures, s.apiFailCode = n, status
}

// Deliveries returns every delivery attempt so far, oldest first.
func (s *Simulator) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitIdle waits until no notification, retry or automatic refund is
// scheduled or in flight, or ctx ends.
func (s *Simulator) WaitIdle(ctx context.Context) error { return s.sched.waitIdle(ctx) }

var _ http.Handler = (*Simulator)(nil)
