package wxpaysim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// Refusal codes a refund can be refused with outright (HTTP 403): the
// merchant's balance is short, or the shopper's account cannot take money.
const (
	RefuseNotEnough           = "NOT_ENOUGH"
	RefuseUserAccountAbnormal = "USER_ACCOUNT_ABNORMAL"
)

// RefuseNextRefunds makes the next n refund requests (new out_refund_no or
// a retry alike) be refused outright with code (RefuseNotEnough,
// RefuseUserAccountAbnormal …) without creating anything.
func (s *Simulator) RefuseNextRefunds(n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals = nil
	for range n {
		s.refusals = append(s.refusals, code)
	}
	s.persistFaults()
}

// AbnormalNextRefunds makes the next n refunds accepted end ABNORMAL (the
// shopper's card is cancelled …) instead of succeeding, with their
// REFUND.ABNORMAL notification.
func (s *Simulator) AbnormalNextRefunds(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abnormalNext = n
	s.persistFaults()
}

func (s *Simulator) takeRefusalLocked() *apiError {
	if len(s.refusals) == 0 {
		return nil
	}
	code := s.refusals[0]
	s.refusals = s.refusals[1:]
	s.persistFaults()
	switch code {
	case RefuseNotEnough:
		return errf(http.StatusForbidden, code, "基本账户余额不足，请充值后重新发起")
	case RefuseUserAccountAbnormal:
		return errf(http.StatusForbidden, code, "退款请求失败：用户账户异常，请商户自行处理退款")
	}
	return errf(http.StatusForbidden, code, "退款被拒绝")
}

type abnormalRefundBody struct {
	OutRefundNo string `json:"out_refund_no"`
	Type        string `json:"type"`
	BankType    string `json:"bank_type"`
	BankAccount string `json:"bank_account"`
	RealName    string `json:"real_name"`
}

// applyAbnormalRefund is POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund:
// an ABNORMAL refund goes out again, to the shopper's card (USER_BANK_CARD:
// bank_type, bank_account and real_name, the last two encrypted with the
// platform key) or the merchant's (MERCHANT_BANK_CARD). It answers the
// refund, now PROCESSING, and succeeds a moment later.
func (s *Simulator) applyAbnormalRefund(r *http.Request, body []byte) (int, any, *apiError) {
	var b abnormalRefundBody
	if err := json.Unmarshal(body, &b); err != nil {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON: %v", err)
	}
	bad := func(format string, args ...any) (int, any, *apiError) {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", format, args...)
	}
	switch b.Type {
	case "USER_BANK_CARD":
		if b.BankType == "" || b.BankAccount == "" || b.RealName == "" {
			return bad("type 为 USER_BANK_CARD 时须填写 bank_type、bank_account、real_name")
		}
	case "MERCHANT_BANK_CARD":
	default:
		return bad("type 须为 USER_BANK_CARD 或 MERCHANT_BANK_CARD")
	}
	for _, f := range []struct{ name, v string }{{"bank_account", b.BankAccount}, {"real_name", b.RealName}} {
		if f.v == "" {
			continue
		}
		if r.Header.Get("Wechatpay-Serial") != s.publicKeyID {
			return bad("Wechatpay-Serial 与加密所用的平台公钥不符")
		}
		if _, err := s.decrypt(f.v); err != nil {
			return bad("%s 须为平台公钥加密后的 Base64: %v", f.name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := s.refunds[b.OutRefundNo]
	if rf == nil || rf.refundID != r.PathValue("id") {
		return 0, nil, errf(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	if rf.status != "ABNORMAL" {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "退款单状态为 %s，不是异常退款", rf.status)
	}
	rf.status = "PROCESSING"
	s.persistRefund(rf)
	if !s.cfg.ManualRefunds {
		no := rf.outRefundNo
		s.sched.after(s.cfg.RefundDelay, func() { _ = s.CompleteRefund(no) })
	}
	return http.StatusOK, rf.json(), nil
}

func (s *Simulator) decrypt(b64 string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	pt, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, s.platformKey, ct, nil)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	return string(pt), nil
}
