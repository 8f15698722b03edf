package payment

import (
	"time"

	"github.com/yutang/yutang/domain"
)

// BillLine is one detail line of the provider's daily trade bill (交易账单):
// a payment (TradeState SUCCESS) or a refund (TradeState REFUND). Amounts
// are exact fen. A refund line shows its status as of when the bill was
// made.
type BillLine struct {
	TradeTime     time.Time
	AppID, MchID  string
	OpenID        string
	TradeType     string
	TransactionID string
	OutTradeNo    string
	TradeState    TradeState // TradeSuccess or TradeRefund
	// Total is the payment's amount (订单金额), Settlement what is settled to
	// the merchant (应结订单金额: Total less non-merchant vouchers).
	Total, Settlement domain.Fen
	RefundID          string
	OutRefundNo       string
	// Refund is the amount the merchant asked to refund (申请退款金额),
	// SettlementRefund what was refunded of the settled amount (退款金额).
	Refund, SettlementRefund domain.Fen
	RefundStatus             RefundStatus
}

// IsRefund reports whether the line is a refund.
func (l BillLine) IsRefund() bool { return l.TradeState == TradeRefund }

// TradeBill is one day's trade bill, its hash verified and its summary
// checked against its lines.
type TradeBill struct {
	Date  string // YYYY-MM-DD, Beijing time
	Lines []BillLine
	// NoStatement: the provider has no bill for the day (no trade, no
	// refund): an empty bill.
	NoStatement bool
}

// Errors of the trade bill.
var (
	// ErrBillIntegrity: the downloaded bill does not match its hash or its
	// own summary; nothing of it may be used.
	ErrBillIntegrity = domain.E(domain.KindUnavailable, "bill_integrity",
		"The trade bill failed its integrity check; it will be downloaded again.")
	// ErrBillFormat: the bill could not be read.
	ErrBillFormat = domain.E(domain.KindUnavailable, "bill_format",
		"The trade bill could not be read.")
	// ErrBillNotReady: the provider has not made the day's bill yet.
	ErrBillNotReady = domain.E(domain.KindUnavailable, "bill_not_ready",
		"The trade bill of that day is not ready yet.")
)
