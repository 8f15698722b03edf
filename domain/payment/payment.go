// Package payment declares what the order service needs from a payment
// provider (WeChat Pay): the Gateway interface, its requests and results in
// yutang's own types, the notification results, and the errors a caller must
// tell apart. It imports only the standard library and domain; package
// payments implements it with wechatpay-go.
package payment

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain"
)

// Gateway is a payment provider as the order service sees it. Every method
// returns an error carrying one of this package's sentinels (errors.Is); an
// error matching ErrUnknown means the outcome is not known: query before
// doing anything else, and retry only with identical parameters.
type Gateway interface {
	// PrepayJSAPI creates (or re-creates, with identical parameters) a JSAPI
	// payment and returns the parameters of wx.requestPayment.
	PrepayJSAPI(ctx context.Context, req JSAPIRequest) (RequestPayment, error)
	// PrepayNative creates an in-store QR payment and returns its code_url.
	PrepayNative(ctx context.Context, req NativeRequest) (codeURL string, err error)
	// QueryByOutTradeNo asks the provider for the state of a payment.
	QueryByOutTradeNo(ctx context.Context, outTradeNo string) (Transaction, error)
	// Close closes an unpaid payment so it can no longer be paid.
	Close(ctx context.Context, outTradeNo string) error
	// Refund requests a (partial) refund; retry with the same OutRefundNo.
	Refund(ctx context.Context, req RefundRequest) (Refund, error)
	// QueryRefund asks the provider for the state of a refund.
	QueryRefund(ctx context.Context, outRefundNo string) (Refund, error)
	// ApplyAbnormalRefund re-applies an ABNORMAL refund to a bank card.
	ApplyAbnormalRefund(ctx context.Context, req AbnormalRefundRequest) (Refund, error)
}

// JSAPIRequest asks for a payment inside the mini-program by the shopper
// whose openid is OpenID. ExpiresAt, when set, must be at least a minute
// ahead and only counts on the first prepay of an OutTradeNo.
type JSAPIRequest struct {
	OutTradeNo  string
	Description string // ≤ 127 characters
	OpenID      string
	Amount      domain.Fen
	ExpiresAt   time.Time
	Attach      string // ≤ 128 characters, echoed back in queries and notifications
}

// NativeRequest asks for a QR-code payment (a clerk collecting in store).
type NativeRequest struct {
	OutTradeNo  string
	Description string
	Amount      domain.Fen
	ExpiresAt   time.Time
	Attach      string
}

// RequestPayment holds the exact parameters of wx.requestPayment (AppID and
// PrepayID besides, for the record). Package is "prepay_id=…", SignType "RSA".
type RequestPayment struct {
	AppID     string
	TimeStamp string
	NonceStr  string
	Package   string
	SignType  string
	PaySign   string
	PrepayID  string
}

// TradeState is the state of a payment at the provider.
type TradeState string

const (
	TradeSuccess    TradeState = "SUCCESS"    // paid
	TradeRefund     TradeState = "REFUND"     // paid, then (partly) refunded
	TradeNotPay     TradeState = "NOTPAY"     // not paid yet
	TradeClosed     TradeState = "CLOSED"     // closed; can no longer be paid
	TradeRevoked    TradeState = "REVOKED"    // revoked (payment-code only)
	TradeUserPaying TradeState = "USERPAYING" // the shopper is entering a password
	TradePayError   TradeState = "PAYERROR"   // payment failed at the bank
)

// Paid reports whether money was received (SUCCESS, or REFUND after it).
func (s TradeState) Paid() bool { return s == TradeSuccess || s == TradeRefund }

// Final reports whether the state can no longer change to paid.
func (s TradeState) Final() bool {
	switch s {
	case TradeSuccess, TradeRefund, TradeClosed, TradeRevoked, TradePayError:
		return true
	}
	return false
}

// Transaction is a payment as the provider reports it, from a query or a
// notification. Amounts are in fen; SuccessTime is zero unless paid.
type Transaction struct {
	OutTradeNo    string
	TransactionID string
	TradeState    TradeState
	TradeType     string // JSAPI, NATIVE …
	AppID         string
	MchID         string
	PayerOpenID   string
	Currency      string
	Attach        string
	Total         domain.Fen
	PayerTotal    domain.Fen
	SuccessTime   time.Time
}

// RefundRequest asks to refund Refund out of a payment of Total.
type RefundRequest struct {
	OutTradeNo  string
	OutRefundNo string
	Reason      string
	Refund      domain.Fen
	Total       domain.Fen
}

// AbnormalRefundRequest re-applies an ABNORMAL refund to a bank card
// (apply-abnormal-refund). BankAccount and RealName are sent encrypted.
type AbnormalRefundRequest struct {
	RefundID    string // WeChat Pay's refund_id
	OutRefundNo string
	Type        string // AbnormalToUserCard or AbnormalToMerchantCard
	BankType    string // WeChat Pay's bank code, e.g. ICBC_DEBIT
	BankAccount string
	RealName    string
}

// The destinations of an abnormal refund.
const (
	AbnormalToUserCard     = "USER_BANK_CARD"
	AbnormalToMerchantCard = "MERCHANT_BANK_CARD"
)

// RefundStatus is the state of a refund at the provider.
type RefundStatus string

const (
	RefundSuccess    RefundStatus = "SUCCESS"
	RefundProcessing RefundStatus = "PROCESSING"
	RefundAbnormal   RefundStatus = "ABNORMAL" // needs a person (the shopper's account is frozen …)
	RefundClosed     RefundStatus = "CLOSED"
)

// Final reports whether the refund will not change any more on its own.
func (s RefundStatus) Final() bool { return s == RefundSuccess || s == RefundClosed }

// Refund is a refund as the provider reports it.
type Refund struct {
	OutRefundNo         string
	RefundID            string
	OutTradeNo          string
	TransactionID       string
	Status              RefundStatus
	Channel             string
	UserReceivedAccount string
	Refund              domain.Fen
	Total               domain.Fen
	PayerRefund         domain.Fen
	PayerTotal          domain.Fen
	CreateTime          time.Time
	SuccessTime         time.Time
}

// Notification event types.
const (
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	EventRefundSuccess      = "REFUND.SUCCESS"
	EventRefundAbnormal     = "REFUND.ABNORMAL"
	EventRefundClosed       = "REFUND.CLOSED"
)

// PaymentNotice is a verified, decrypted payment notification. The caller
// must still check EventType, MchID, AppID, Total and Currency against the
// order and apply it once (keyed by TransactionID): duplicates are normal.
type PaymentNotice struct {
	EventID    string
	EventType  string
	CreateTime time.Time
	Transaction
}

// RefundNotice is a verified, decrypted refund notification.
type RefundNotice struct {
	EventID    string
	EventType  string
	CreateTime time.Time
	MchID      string
	Refund
}
