package wxpaysim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// trade is one out_trade_no at the simulated WeChat Pay.
type trade struct {
	outTradeNo    string
	tradeType     string // JSAPI, NATIVE
	appID, mchID  string
	description   string
	attach        string
	notifyURL     string
	payerOpenID   string
	total         int64
	timeExpire    time.Time
	createTime    time.Time
	state         string
	transactionID string
	successTime   time.Time
	prepayIDs     []string
	refunds       []*refund
}

type prepayBody struct {
	AppID       string     `json:"appid"`
	MchID       string     `json:"mchid"`
	Description string     `json:"description"`
	OutTradeNo  string     `json:"out_trade_no"`
	TimeExpire  *time.Time `json:"time_expire"`
	Attach      string     `json:"attach"`
	NotifyURL   string     `json:"notify_url"`
	Amount      *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

var tradeNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)

func (s *Simulator) prepayJSAPI(r *http.Request, body []byte) (int, any, *apiError) {
	id, _, e := s.prepay("JSAPI", body)
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, map[string]string{"prepay_id": id}, nil
}

func (s *Simulator) prepayNative(r *http.Request, body []byte) (int, any, *apiError) {
	_, codeURL, e := s.prepay("NATIVE", body)
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, map[string]string{"code_url": codeURL}, nil
}

// prepay creates a trade or re-prepays an identical one.
func (s *Simulator) prepay(tradeType string, body []byte) (prepayID, codeURL string, e *apiError) {
	var b prepayBody
	if err := json.Unmarshal(body, &b); err != nil {
		return "", "", errf(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON: %v", err)
	}
	if e := s.checkPrepay(tradeType, &b); e != nil {
		return "", "", e
	}
	now := s.cfg.Now()
	openID := ""
	if b.Payer != nil {
		openID = b.Payer.OpenID
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[b.OutTradeNo]
	if t == nil {
		if b.TimeExpire != nil && b.TimeExpire.Before(now.Add(time.Minute)) {
			return "", "", errf(http.StatusBadRequest, "PARAM_ERROR", "time_expire 须晚于当前时间至少 1 分钟")
		}
		t = &trade{
			outTradeNo: b.OutTradeNo, tradeType: tradeType, appID: b.AppID, mchID: b.MchID,
			description: b.Description, attach: b.Attach, notifyURL: b.NotifyURL,
			payerOpenID: openID, total: *b.Amount.Total, createTime: now, state: "NOTPAY",
		}
		if b.TimeExpire != nil {
			t.timeExpire = *b.TimeExpire
		}
		s.trades[t.outTradeNo] = t
	} else {
		switch t.state {
		case "SUCCESS", "REFUND":
			return "", "", errf(http.StatusBadRequest, "ORDERPAID", "该订单已支付")
		case "CLOSED":
			return "", "", errf(http.StatusBadRequest, "ORDER_CLOSED", "订单已关闭")
		}
		// time_expire counts only on the first prepay.
		if t.tradeType != tradeType || t.appID != b.AppID || t.description != b.Description ||
			t.attach != b.Attach || t.notifyURL != b.NotifyURL || t.payerOpenID != openID ||
			t.total != *b.Amount.Total {
			return "", "", errf(http.StatusForbidden, "OUT_TRADE_NO_USED", "商户订单号重复")
		}
	}
	prepayID = "wx" + now.In(domain.Shanghai).Format("20060102150405") + randomHex(9) + randomDigits(4)
	t.prepayIDs = append(t.prepayIDs, prepayID)
	s.persistTrade(t)
	return prepayID, "weixin://wxpay/bizpayurl?pr=" + randomString(7, alnum), nil
}

func (s *Simulator) checkPrepay(tradeType string, b *prepayBody) *apiError {
	bad := func(format string, args ...any) *apiError {
		return errf(http.StatusBadRequest, "PARAM_ERROR", format, args...)
	}
	switch {
	case b.MchID != s.cfg.MchID || b.AppID != s.cfg.AppID:
		return errf(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
	case !tradeNoPattern.MatchString(b.OutTradeNo):
		return bad("out_trade_no 须为 6-32 位数字、字母、_-|*")
	case b.Description == "" || utf8.RuneCountInString(b.Description) > 127:
		return bad("description 须为 1-127 个字符")
	case utf8.RuneCountInString(b.Attach) > 128:
		return bad("attach 不能超过 128 个字符")
	case b.NotifyURL == "" || len(b.NotifyURL) > 255:
		return bad("notify_url 须为不超过 255 个字符的地址")
	case b.Amount == nil || b.Amount.Total == nil || *b.Amount.Total <= 0:
		return bad("amount.total 须为正整数（分）")
	case b.Amount.Currency != "" && b.Amount.Currency != "CNY":
		return bad("amount.currency 仅支持 CNY")
	case tradeType == "JSAPI" && (b.Payer == nil || b.Payer.OpenID == ""):
		return bad("payer.openid 不能为空")
	}
	return nil
}

func (s *Simulator) query(r *http.Request, _ []byte) (int, any, *apiError) {
	if r.URL.Query().Get("mchid") != s.cfg.MchID {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "mchid 不正确")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[r.PathValue("no")]
	if t == nil {
		return 0, nil, errf(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	return http.StatusOK, t.json(), nil
}

func (s *Simulator) close(r *http.Request, body []byte) (int, any, *apiError) {
	var b struct {
		MchID string `json:"mchid"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.MchID != s.cfg.MchID {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "mchid 不正确")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[r.PathValue("no")]
	switch {
	case t == nil:
		return 0, nil, errf(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	case t.state == "SUCCESS" || t.state == "REFUND":
		// APIv3's close lists no code for a paid order (ORDERPAID is the
		// v2 closeorder's); its business refusal is 403 TRADE_ERROR
		// "交易错误: 因业务原因交易失败,请查看接口返回的详细信息":
		// https://pay.weixin.qq.com/doc/v3/merchant/4012556398 (关闭订单,
		// 错误码) and the older
		// https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml.
		// The message naming the payment is our guess (unverified).
		return 0, nil, errf(http.StatusForbidden, "TRADE_ERROR", "订单已支付，不能关闭")
	}
	t.state = "CLOSED"
	s.persistTrade(t)
	return http.StatusNoContent, nil, nil
}

// transactionJSON is a transaction as WeChat Pay shows it in queries and in
// payment notifications.
type transactionJSON struct {
	AppID          string       `json:"appid"`
	MchID          string       `json:"mchid"`
	OutTradeNo     string       `json:"out_trade_no"`
	TransactionID  string       `json:"transaction_id,omitempty"`
	TradeType      string       `json:"trade_type,omitempty"`
	TradeState     string       `json:"trade_state"`
	TradeStateDesc string       `json:"trade_state_desc"`
	BankType       string       `json:"bank_type,omitempty"`
	Attach         string       `json:"attach"`
	SuccessTime    string       `json:"success_time,omitempty"`
	Payer          *payerJSON   `json:"payer,omitempty"`
	Amount         txAmountJSON `json:"amount"`
}

type payerJSON struct {
	OpenID string `json:"openid"`
}

type txAmountJSON struct {
	Total         int64  `json:"total"`
	PayerTotal    *int64 `json:"payer_total,omitempty"`
	Currency      string `json:"currency"`
	PayerCurrency string `json:"payer_currency"`
}

var stateDesc = map[string]string{
	"SUCCESS": "支付成功", "REFUND": "转入退款", "NOTPAY": "未支付", "CLOSED": "已关闭",
}

func (t *trade) json() transactionJSON {
	j := transactionJSON{
		AppID: t.appID, MchID: t.mchID, OutTradeNo: t.outTradeNo, TradeState: t.state,
		TradeStateDesc: stateDesc[t.state], Attach: t.attach,
		Amount: txAmountJSON{Total: t.total, Currency: "CNY", PayerCurrency: "CNY"},
	}
	if t.transactionID != "" {
		j.TransactionID = t.transactionID
		j.TradeType = t.tradeType
		j.BankType = "OTHERS"
		j.SuccessTime = wechatTime(t.successTime)
		j.Payer = &payerJSON{OpenID: t.payerOpenID}
		paid := t.total
		j.Amount.PayerTotal = &paid
	}
	return j
}

func wechatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(domain.Shanghai).Format(time.RFC3339)
}
