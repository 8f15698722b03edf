package wxpaysim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"
)

// MaxRefunds is how many refunds one trade may have.
const MaxRefunds = 50

type refund struct {
	outRefundNo string
	refundID    string
	trade       *trade
	reason      string
	notifyURL   string
	amount      int64
	status      string // PROCESSING, SUCCESS, ABNORMAL, CLOSED
	createTime  time.Time
	successTime time.Time
}

type refundBody struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   *int64 `json:"refund"`
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

var refundNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)

func (s *Simulator) createRefund(_ *http.Request, body []byte) (int, any, *apiError) {
	var b refundBody
	if err := json.Unmarshal(body, &b); err != nil {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON: %v", err)
	}
	bad := func(format string, args ...any) (int, any, *apiError) {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", format, args...)
	}
	switch {
	case !refundNoPattern.MatchString(b.OutRefundNo):
		return bad("out_refund_no 须为 1-64 位数字、字母、_-|*@")
	case b.OutTradeNo == "" && b.TransactionID == "":
		return bad("out_trade_no 和 transaction_id 须二选一")
	case utf8.RuneCountInString(b.Reason) > 80:
		return bad("reason 不能超过 80 个字符")
	case b.Amount == nil || b.Amount.Refund == nil || b.Amount.Total == nil || *b.Amount.Refund <= 0:
		return bad("amount.refund 和 amount.total 须为正整数（分）")
	case b.Amount.Currency != "CNY":
		return bad("amount.currency 仅支持 CNY")
	}
	amount, total := *b.Amount.Refund, *b.Amount.Total
	now := s.cfg.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[b.OutTradeNo]
	if b.OutTradeNo == "" {
		t = s.byTxID[b.TransactionID]
	}
	if t == nil || (b.TransactionID != "" && t.transactionID != b.TransactionID) {
		return 0, nil, errf(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if rf := s.refunds[b.OutRefundNo]; rf != nil {
		if rf.trade != t || rf.amount != amount {
			return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "商户退款单号已被其他请求使用")
		}
		return http.StatusOK, rf.json(), nil
	}
	if e := s.takeRefusalLocked(); e != nil {
		return 0, nil, e
	}
	if t.state != "SUCCESS" && t.state != "REFUND" {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能申请退款")
	}
	if total != t.total {
		return bad("amount.total 与订单金额不一致")
	}
	if len(t.refunds) >= MaxRefunds {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "部分退款次数超过限制（%d 次）", MaxRefunds)
	}
	refunded := t.refunded()
	if refunded >= t.total {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "订单已全额退款")
	}
	if refunded+amount > t.total {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	notifyURL := b.NotifyURL
	if notifyURL == "" {
		notifyURL = s.cfg.RefundNotifyURL
	}
	rf := &refund{
		outRefundNo: b.OutRefundNo,
		refundID:    "50" + randomDigits(30),
		trade:       t,
		reason:      b.Reason,
		notifyURL:   notifyURL,
		amount:      amount,
		status:      "PROCESSING",
		createTime:  now,
	}
	t.refunds = append(t.refunds, rf)
	s.refunds[rf.outRefundNo] = rf
	s.persistRefund(rf)
	no := rf.outRefundNo
	if s.abnormalNext > 0 {
		s.abnormalNext--
		s.persistFaults()
		s.sched.after(s.cfg.RefundDelay, func() { _ = s.FailRefund(no, "ABNORMAL") })
	} else if !s.cfg.ManualRefunds {
		s.sched.after(s.cfg.RefundDelay, func() { _ = s.CompleteRefund(no) })
	}
	return http.StatusOK, rf.json(), nil
}

// refunded is the amount refunded or being refunded (closed refunds free
// their amount).
func (t *trade) refunded() int64 {
	var sum int64
	for _, rf := range t.refunds {
		if rf.status != "CLOSED" {
			sum += rf.amount
		}
	}
	return sum
}

func (s *Simulator) queryRefund(r *http.Request, _ []byte) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := s.refunds[r.PathValue("no")]
	if rf == nil {
		return 0, nil, errf(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return http.StatusOK, rf.json(), nil
}

// refundJSON is a refund as the refund APIs show it.
type refundJSON struct {
	RefundID            string           `json:"refund_id"`
	OutRefundNo         string           `json:"out_refund_no"`
	TransactionID       string           `json:"transaction_id"`
	OutTradeNo          string           `json:"out_trade_no"`
	Channel             string           `json:"channel"`
	UserReceivedAccount string           `json:"user_received_account"`
	SuccessTime         string           `json:"success_time,omitempty"`
	CreateTime          string           `json:"create_time"`
	Status              string           `json:"status"`
	FundsAccount        string           `json:"funds_account"`
	Amount              refundAmountJSON `json:"amount"`
	PromotionDetail     []struct{}       `json:"promotion_detail"`
}

type refundAmountJSON struct {
	Total            int64      `json:"total"`
	Refund           int64      `json:"refund"`
	From             []struct{} `json:"from"`
	PayerTotal       int64      `json:"payer_total"`
	PayerRefund      int64      `json:"payer_refund"`
	SettlementRefund int64      `json:"settlement_refund"`
	SettlementTotal  int64      `json:"settlement_total"`
	DiscountRefund   int64      `json:"discount_refund"`
	Currency         string     `json:"currency"`
}

func (rf *refund) json() refundJSON {
	t := rf.trade
	j := refundJSON{
		RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, TransactionID: t.transactionID,
		OutTradeNo: t.outTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		CreateTime: wechatTime(rf.createTime), Status: rf.status, FundsAccount: "AVAILABLE",
		Amount: refundAmountJSON{
			Total: t.total, Refund: rf.amount, From: []struct{}{}, PayerTotal: t.total,
			PayerRefund: rf.amount, SettlementRefund: rf.amount, SettlementTotal: t.total, Currency: "CNY",
		},
		PromotionDetail: []struct{}{},
	}
	if rf.status == "SUCCESS" {
		j.SuccessTime = wechatTime(rf.successTime)
	}
	return j
}

// refundNoticeJSON is the plaintext of a refund notification (refund_status,
// not status).
type refundNoticeJSON struct {
	MchID               string `json:"mchid"`
	OutTradeNo          string `json:"out_trade_no"`
	TransactionID       string `json:"transaction_id"`
	OutRefundNo         string `json:"out_refund_no"`
	RefundID            string `json:"refund_id"`
	RefundStatus        string `json:"refund_status"`
	SuccessTime         string `json:"success_time,omitempty"`
	UserReceivedAccount string `json:"user_received_account"`
	Amount              struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

func (rf *refund) notice() refundNoticeJSON {
	j := refundNoticeJSON{
		MchID: rf.trade.mchID, OutTradeNo: rf.trade.outTradeNo, TransactionID: rf.trade.transactionID,
		OutRefundNo: rf.outRefundNo, RefundID: rf.refundID, RefundStatus: rf.status,
		UserReceivedAccount: "支付用户零钱",
	}
	if rf.status == "SUCCESS" {
		j.SuccessTime = wechatTime(rf.successTime)
	}
	j.Amount.Total, j.Amount.Refund = rf.trade.total, rf.amount
	j.Amount.PayerTotal, j.Amount.PayerRefund = rf.trade.total, rf.amount
	return j
}
