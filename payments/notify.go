package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// signTestPrefix marks WeChat Pay's probe notifications, whose signature
// must not verify.
const signTestPrefix = "WECHATPAY/SIGNTEST/"

// ParsePaymentNotification verifies (headers, timestamp within 5 minutes,
// signature and key id) and decrypts a payment notification. Pass the
// request untouched: nothing may read its body before. Errors match
// payment.ErrNotificationUnverified (forged, stale, SIGNTEST probe; answer
// 4xx) or payment.ErrNotificationInvalid (answer 5xx so WeChat retries).
// The caller still checks EventType, amount and currency against the order
// and applies the notice once per TransactionID.
func (g *Gateway) ParsePaymentNotification(ctx context.Context, r *http.Request) (payment.PaymentNotice, error) {
	var tx payments.Transaction
	n, err := g.parseNotification(ctx, r, &tx)
	if err != nil {
		return payment.PaymentNotice{}, fmt.Errorf("payments: payment notification: %w", err)
	}
	notice := payment.PaymentNotice{
		EventID:     n.ID,
		EventType:   n.EventType,
		CreateTime:  derefTime(n.CreateTime),
		Transaction: toTransaction(&tx),
	}
	if notice.MchID != g.mchID || notice.AppID != g.appID {
		return payment.PaymentNotice{}, fmt.Errorf("payments: payment notification: %w",
			payment.ErrNotificationInvalid.WithMessage(
				"The notification is for mchid %q appid %q, not this merchant.", notice.MchID, notice.AppID))
	}
	return notice, nil
}

// refundResource is the plaintext of a refund notification; it says
// refund_status where the query API says status, and has no SDK struct.
type refundResource struct {
	MchID               string     `json:"mchid"`
	OutTradeNo          string     `json:"out_trade_no"`
	TransactionID       string     `json:"transaction_id"`
	OutRefundNo         string     `json:"out_refund_no"`
	RefundID            string     `json:"refund_id"`
	RefundStatus        string     `json:"refund_status"`
	SuccessTime         *time.Time `json:"success_time,omitempty"`
	UserReceivedAccount string     `json:"user_received_account"`
	Amount              struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// ParseRefundNotification verifies and decrypts a refund notification, with
// the same errors as ParsePaymentNotification.
func (g *Gateway) ParseRefundNotification(ctx context.Context, r *http.Request) (payment.RefundNotice, error) {
	var res refundResource
	n, err := g.parseNotification(ctx, r, &res)
	if err != nil {
		return payment.RefundNotice{}, fmt.Errorf("payments: refund notification: %w", err)
	}
	if res.MchID != g.mchID {
		return payment.RefundNotice{}, fmt.Errorf("payments: refund notification: %w",
			payment.ErrNotificationInvalid.WithMessage("The notification is for mchid %q, not this merchant.", res.MchID))
	}
	return payment.RefundNotice{
		EventID:    n.ID,
		EventType:  n.EventType,
		CreateTime: derefTime(n.CreateTime),
		MchID:      res.MchID,
		Refund: payment.Refund{
			OutRefundNo:         res.OutRefundNo,
			RefundID:            res.RefundID,
			OutTradeNo:          res.OutTradeNo,
			TransactionID:       res.TransactionID,
			Status:              payment.RefundStatus(res.RefundStatus),
			UserReceivedAccount: res.UserReceivedAccount,
			Refund:              domain.Fen(res.Amount.Refund),
			Total:               domain.Fen(res.Amount.Total),
			PayerRefund:         domain.Fen(res.Amount.PayerRefund),
			PayerTotal:          domain.Fen(res.Amount.PayerTotal),
			SuccessTime:         derefTime(res.SuccessTime),
		},
	}, nil
}

// parseNotification runs the SDK and sorts its errors into unverified
// (the SDK's validator refused: "invalid notification …", or an unknown
// signature type) and invalid (everything after verification).
func (g *Gateway) parseNotification(ctx context.Context, r *http.Request, content any) (*notify.Request, error) {
	if strings.HasPrefix(r.Header.Get("Wechatpay-Signature"), signTestPrefix) {
		return nil, withCause(payment.ErrNotificationUnverified, errors.New("signature is a WECHATPAY/SIGNTEST probe"))
	}
	n, err := g.notify.ParseNotifyRequest(ctx, r, content)
	if err == nil {
		return n, nil
	}
	msg := err.Error()
	// The SDK appends the whole request ("…, request: &{…}"); keep the reason.
	if i := strings.Index(msg, ", request: "); i >= 0 {
		msg = msg[:i]
	}
	cause := errors.New(msg)
	if n == nil && (strings.HasPrefix(msg, "invalid notification") ||
		strings.HasPrefix(msg, "unsupported Wechatpay-Signature-Type")) {
		return nil, withCause(payment.ErrNotificationUnverified, cause)
	}
	return nil, withCause(payment.ErrNotificationInvalid, cause)
}
