package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// QueryByOutTradeNo asks WeChat Pay for the state of a payment (JSAPI or
// native alike).
func (g *Gateway) QueryByOutTradeNo(ctx context.Context, outTradeNo string) (payment.Transaction, error) {
	tx, _, err := g.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(outTradeNo),
		Mchid:      core.String(g.mchID),
	})
	if err != nil {
		return payment.Transaction{}, fmt.Errorf("payments: query: %w", classify(err, nil))
	}
	return toTransaction(tx), nil
}

// Close closes an unpaid payment. Closing a closed payment succeeds;
// closing a paid one fails with payment.ErrOrderPaid.
//
// APIv3's close documents no code for a paid order
// (https://pay.weixin.qq.com/doc/v3/merchant/4012556398): its business
// refusal is 403 TRADE_ERROR, read here as "paid" (v2's ORDERPAID too).
// Callers query after any close answer anyway (cashier.closeAttempt), so a
// TRADE_ERROR for another reason only costs that query.
func (g *Gateway) Close(ctx context.Context, outTradeNo string) error {
	_, err := g.jsapi.CloseOrder(ctx, jsapi.CloseOrderRequest{
		OutTradeNo: core.String(outTradeNo),
		Mchid:      core.String(g.mchID),
	})
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden && normalizeCode(apiErr.Code) == "TRADEERROR" {
			return fmt.Errorf("payments: close: %w", withCause(payment.ErrOrderPaid, err))
		}
		return fmt.Errorf("payments: close: %w", classify(err, nil))
	}
	return nil
}

func toTransaction(tx *payments.Transaction) payment.Transaction {
	t := payment.Transaction{
		OutTradeNo:    deref(tx.OutTradeNo),
		TransactionID: deref(tx.TransactionId),
		TradeState:    payment.TradeState(deref(tx.TradeState)),
		TradeType:     deref(tx.TradeType),
		AppID:         deref(tx.Appid),
		MchID:         deref(tx.Mchid),
		Attach:        deref(tx.Attach),
		SuccessTime:   parseTime(deref(tx.SuccessTime)),
	}
	if tx.Payer != nil {
		t.PayerOpenID = deref(tx.Payer.Openid)
	}
	if tx.Amount != nil {
		t.Currency = deref(tx.Amount.Currency)
		t.Total = domain.Fen(deref(tx.Amount.Total))
		t.PayerTotal = domain.Fen(deref(tx.Amount.PayerTotal))
	}
	return t
}

// parseTime reads an RFC 3339 time; WeChat Pay omits or empties unset times.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
