package payments

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// Refund asks WeChat Pay to refund part or all of a payment. Retrying with
// the same OutRefundNo returns the same refund.
func (g *Gateway) Refund(ctx context.Context, r payment.RefundRequest) (payment.Refund, error) {
	req := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(r.OutTradeNo),
		OutRefundNo: core.String(r.OutRefundNo),
		Reason:      optional(r.Reason),
		NotifyUrl:   optional(g.refundNotifyURL),
		Amount: &refunddomestic.AmountReq{
			Refund:   core.Int64(int64(r.Refund)),
			Total:    core.Int64(int64(r.Total)),
			Currency: core.String("CNY"),
		},
	}
	resp, _, err := g.refunds.Create(ctx, req)
	if err != nil {
		return payment.Refund{}, fmt.Errorf("payments: refund: %w", classify(err, nil))
	}
	return toRefund(resp), nil
}

// QueryRefund asks WeChat Pay for the state of a refund.
func (g *Gateway) QueryRefund(ctx context.Context, outRefundNo string) (payment.Refund, error) {
	resp, _, err := g.refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{
		OutRefundNo: core.String(outRefundNo),
	})
	if err != nil {
		return payment.Refund{}, fmt.Errorf("payments: query refund: %w", classify(err, payment.ErrRefundNotExist))
	}
	return toRefund(resp), nil
}

// abnormalRefundRequest is the body of apply-abnormal-refund; the SDK has
// no service for it. bank_account and real_name are encrypted with the
// platform key (EncryptRequest reads the encryption tags).
type abnormalRefundRequest struct {
	OutRefundNo string  `json:"out_refund_no"`
	Type        string  `json:"type"`
	BankType    string  `json:"bank_type,omitempty"`
	BankAccount *string `json:"bank_account,omitempty" encryption:"EM_APIV3"`
	RealName    *string `json:"real_name,omitempty" encryption:"EM_APIV3"`
}

// ApplyAbnormalRefund re-applies an ABNORMAL refund to a bank card through
// the SDK's core.Client (signing and response verification stay the SDK's).
// WeChat Pay answers the refund as it now stands (PROCESSING).
func (g *Gateway) ApplyAbnormalRefund(ctx context.Context, r payment.AbnormalRefundRequest) (payment.Refund, error) {
	req := &abnormalRefundRequest{OutRefundNo: r.OutRefundNo, Type: r.Type, BankType: r.BankType}
	header := http.Header{}
	if r.BankAccount != "" || r.RealName != "" {
		account, name := r.BankAccount, r.RealName
		req.BankAccount, req.RealName = &account, &name
		serial, err := g.client.EncryptRequest(ctx, req)
		if err != nil {
			return payment.Refund{}, fmt.Errorf("payments: apply abnormal refund: encrypt: %w", err)
		}
		if serial != "" {
			header.Set(consts.WechatPaySerial, serial)
		}
	}
	res, err := g.client.Request(ctx, http.MethodPost,
		consts.WechatPayAPIServer+"/v3/refund/domestic/refunds/"+url.PathEscape(r.RefundID)+"/apply-abnormal-refund",
		header, nil, req, "application/json")
	if err != nil {
		return payment.Refund{}, fmt.Errorf("payments: apply abnormal refund: %w", classify(err, payment.ErrRefundNotExist))
	}
	var out refunddomestic.Refund
	if err := core.UnMarshalResponse(res.Response, &out); err != nil {
		return payment.Refund{}, fmt.Errorf("payments: apply abnormal refund: %w", withCause(payment.ErrUnknown, err))
	}
	return toRefund(&out), nil
}

func toRefund(r *refunddomestic.Refund) payment.Refund {
	out := payment.Refund{
		OutRefundNo:         deref(r.OutRefundNo),
		RefundID:            deref(r.RefundId),
		OutTradeNo:          deref(r.OutTradeNo),
		TransactionID:       deref(r.TransactionId),
		Status:              payment.RefundStatus(deref(r.Status)),
		Channel:             string(deref(r.Channel)),
		UserReceivedAccount: deref(r.UserReceivedAccount),
		CreateTime:          derefTime(r.CreateTime),
		SuccessTime:         derefTime(r.SuccessTime),
	}
	if r.Amount != nil {
		out.Refund = domain.Fen(deref(r.Amount.Refund))
		out.Total = domain.Fen(deref(r.Amount.Total))
		out.PayerRefund = domain.Fen(deref(r.Amount.PayerRefund))
		out.PayerTotal = domain.Fen(deref(r.Amount.PayerTotal))
	}
	return out
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
