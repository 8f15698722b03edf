package payments

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// PrepayJSAPI asks WeChat Pay for a JSAPI prepay and returns the signed
// parameters of wx.requestPayment.
func (g *Gateway) PrepayJSAPI(ctx context.Context, r payment.JSAPIRequest) (payment.RequestPayment, error) {
	if err := checkTrade(r.OutTradeNo, r.Amount); err != nil {
		return payment.RequestPayment{}, fmt.Errorf("payments: prepay jsapi: %w", err)
	}
	req := jsapi.PrepayRequest{
		Appid:       core.String(g.appID),
		Mchid:       core.String(g.mchID),
		Description: core.String(r.Description),
		OutTradeNo:  core.String(r.OutTradeNo),
		TimeExpire:  wechatTime(r.ExpiresAt),
		Attach:      optional(r.Attach),
		NotifyUrl:   core.String(g.notifyURL),
		Amount:      &jsapi.Amount{Total: core.Int64(int64(r.Amount)), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(r.OpenID)},
	}
	resp, _, err := g.jsapi.PrepayWithRequestPayment(ctx, req)
	if err != nil {
		return payment.RequestPayment{}, fmt.Errorf("payments: prepay jsapi: %w", classify(err, nil))
	}
	return payment.RequestPayment{
		AppID:     deref(resp.Appid),
		TimeStamp: deref(resp.TimeStamp),
		NonceStr:  deref(resp.NonceStr),
		Package:   deref(resp.Package),
		SignType:  deref(resp.SignType),
		PaySign:   deref(resp.PaySign),
		PrepayID:  deref(resp.PrepayId),
	}, nil
}

// PrepayNative asks WeChat Pay for a QR-code payment and returns its code_url.
func (g *Gateway) PrepayNative(ctx context.Context, r payment.NativeRequest) (string, error) {
	if err := checkTrade(r.OutTradeNo, r.Amount); err != nil {
		return "", fmt.Errorf("payments: prepay native: %w", err)
	}
	req := native.PrepayRequest{
		Appid:       core.String(g.appID),
		Mchid:       core.String(g.mchID),
		Description: core.String(r.Description),
		OutTradeNo:  core.String(r.OutTradeNo),
		TimeExpire:  wechatTime(r.ExpiresAt),
		Attach:      optional(r.Attach),
		NotifyUrl:   core.String(g.notifyURL),
		Amount:      &native.Amount{Total: core.Int64(int64(r.Amount)), Currency: core.String("CNY")},
	}
	resp, _, err := g.native.Prepay(ctx, req)
	if err != nil {
		return "", fmt.Errorf("payments: prepay native: %w", classify(err, nil))
	}
	return deref(resp.CodeUrl), nil
}

var tradeNoPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{6,32}$`)

// checkTrade refuses locally what WeChat Pay would refuse anyway.
func checkTrade(outTradeNo string, amount domain.Fen) error {
	var fields []domain.FieldError
	if !tradeNoPattern.MatchString(outTradeNo) {
		fields = append(fields, domain.FieldError{Field: "out_trade_no", Code: "invalid",
			Message: "must be 6 to 32 characters from [0-9A-Za-z_-]"})
	}
	if amount <= 0 {
		fields = append(fields, domain.FieldError{Field: "amount", Code: "invalid",
			Message: "must be positive"})
	}
	if len(fields) > 0 {
		return domain.Invalid(fields...)
	}
	return nil
}

// wechatTime formats t as WeChat Pay wants it: whole seconds, +08:00.
func wechatTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	w := t.Truncate(time.Second).In(domain.Shanghai)
	return &w
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
