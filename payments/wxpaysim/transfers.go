package wxpaysim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"
)

// Merchant transfers (商家转账, user-confirm mode):
//
//	POST /v3/fund-app/mch-transfer/transfer-bills                       → bill (with package_info)
//	GET  /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}      → bill
//
// A new transfer waits for the user (WAIT_USER_CONFIRM) until
// ConfirmTransfer (wx.requestMerchantTransfer: SUCCESS), FailTransfer
// (FAIL, e.g. the payee's account is abnormal) or ExpireTransfers (24 hours
// unconfirmed: CANCELLED); each end sends MCHTRANSFER.BILL.FINISHED.
// Asking again with the same out_bill_no and parameters returns the same
// bill; with other parameters 400 INVALID_REQUEST. user_name, when sent,
// must be encrypted with the platform key (RSA-OAEP) and named by
// Wechatpay-Serial; from 2000 yuan it is required.
//
// Control: ConfirmTransfer, FailTransfer, ExpireTransfers, TransferBill;
// POST /_sim/transfers/{no}/confirm, POST /_sim/transfers/{no}/fail
// {"reason"}, POST /_sim/transfers/expire {"at"}, GET /_sim/transfers/{no}.

// TransferConfirmWindow is how long a transfer waits for the user.
const TransferConfirmWindow = 24 * time.Hour

// TransferRealNameFrom is the amount (fen) from which user_name is required.
const TransferRealNameFrom = 200000

type transfer struct {
	outBillNo, billNo  string
	appID, openID      string
	sceneID, remark    string
	userName           string // decrypted
	notifyURL          string
	amount             int64
	state, failReason  string
	packageInfo        string
	createTime, update time.Time
}

// TransferBill is a snapshot of a simulated transfer.
type TransferBill struct {
	OutBillNo   string    `json:"out_bill_no"`
	BillNo      string    `json:"transfer_bill_no"`
	State       string    `json:"state"`
	Amount      int64     `json:"transfer_amount"`
	OpenID      string    `json:"openid"`
	UserName    string    `json:"user_name,omitempty"`
	FailReason  string    `json:"fail_reason,omitempty"`
	PackageInfo string    `json:"package_info,omitempty"`
	CreateTime  time.Time `json:"create_time"`
}

func (t *transfer) snapshot() TransferBill {
	return TransferBill{OutBillNo: t.outBillNo, BillNo: t.billNo, State: t.state, Amount: t.amount, OpenID: t.openID,
		UserName: t.userName, FailReason: t.failReason, PackageInfo: t.packageInfo, CreateTime: t.createTime}
}

func init() { summaries["MCHTRANSFER.BILL.FINISHED"] = "商家转账单据终态通知" }

func (s *Simulator) transferRoutes(m *http.ServeMux) {
	m.Handle("POST /v3/fund-app/mch-transfer/transfer-bills", s.api(s.createTransfer))
	m.Handle("GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}", s.api(s.queryTransfer))
	m.HandleFunc("POST /_sim/transfers/{no}/confirm", func(w http.ResponseWriter, r *http.Request) {
		s.answerTransfer(w, s.ConfirmTransfer(r.PathValue("no")), r.PathValue("no"))
	})
	m.HandleFunc("POST /_sim/transfers/{no}/fail", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Reason string `json:"reason"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		s.answerTransfer(w, s.FailTransfer(r.PathValue("no"), b.Reason), r.PathValue("no"))
	})
	m.HandleFunc("POST /_sim/transfers/expire", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			At time.Time `json:"at"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"cancelled": s.ExpireTransfers(b.At)})
	})
	m.HandleFunc("GET /_sim/transfers/{no}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := s.TransferBill(r.PathValue("no"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such transfer"})
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
}

func (s *Simulator) answerTransfer(w http.ResponseWriter, err error, no string) {
	if err != nil {
		s.answer(w, err, "")
		return
	}
	t, _ := s.TransferBill(no)
	writeJSON(w, http.StatusOK, t)
}

type transferBody struct {
	AppID       string `json:"appid"`
	OutBillNo   string `json:"out_bill_no"`
	SceneID     string `json:"transfer_scene_id"`
	OpenID      string `json:"openid"`
	UserName    string `json:"user_name"`
	Amount      *int64 `json:"transfer_amount"`
	Remark      string `json:"transfer_remark"`
	NotifyURL   string `json:"notify_url"`
	Perception  string `json:"user_recv_perception"`
	ReportInfos []struct {
		Type    string `json:"info_type"`
		Content string `json:"info_content"`
	} `json:"transfer_scene_report_infos"`
}

var outBillNoPattern = regexp.MustCompile(`^[0-9A-Za-z]{5,32}$`)

func (s *Simulator) createTransfer(r *http.Request, body []byte) (int, any, *apiError) {
	var b transferBody
	if err := json.Unmarshal(body, &b); err != nil {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON: %v", err)
	}
	bad := func(format string, args ...any) (int, any, *apiError) {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", format, args...)
	}
	switch {
	case b.AppID != s.cfg.AppID:
		return bad("appid 与商户号不匹配")
	case !outBillNoPattern.MatchString(b.OutBillNo):
		return bad("out_bill_no 须为 5-32 位数字、字母")
	case b.SceneID == "":
		return bad("transfer_scene_id 不能为空")
	case b.OpenID == "":
		return bad("openid 不能为空")
	case b.Amount == nil || *b.Amount <= 0:
		return bad("transfer_amount 须为正整数（分）")
	case b.Remark == "" || utf8.RuneCountInString(b.Remark) > 32:
		return bad("transfer_remark 须为 1-32 个字符")
	}
	for _, ri := range b.ReportInfos {
		if ri.Type == "" || utf8.RuneCountInString(ri.Type) > 15 || utf8.RuneCountInString(ri.Content) > 32 {
			return bad("transfer_scene_report_infos 不合法")
		}
	}
	var name string
	if b.UserName != "" {
		if r.Header.Get("Wechatpay-Serial") != s.publicKeyID {
			return bad("Wechatpay-Serial 与加密所用的平台公钥不符")
		}
		ct, err := base64.StdEncoding.DecodeString(b.UserName)
		if err != nil {
			return bad("user_name 须为平台公钥加密后的 Base64")
		}
		pt, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, s.platformKey, ct, nil)
		if err != nil {
			return bad("user_name 解密失败")
		}
		name = string(pt)
	} else if *b.Amount >= TransferRealNameFrom {
		return bad("转账金额 >= 2000 元时须填写 user_name")
	}
	now := s.cfg.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.transfers == nil {
		s.transfers = map[string]*transfer{}
	}
	if t := s.transfers[b.OutBillNo]; t != nil {
		if t.openID != b.OpenID || t.amount != *b.Amount {
			return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "商户单号已被其他请求使用")
		}
		s.expireLocked(t, now)
		return http.StatusOK, t.createAnswer(), nil
	}
	t := &transfer{outBillNo: b.OutBillNo, billNo: "1330000" + randomDigits(33), appID: b.AppID, openID: b.OpenID,
		sceneID: b.SceneID, remark: b.Remark, userName: name, notifyURL: b.NotifyURL, amount: *b.Amount,
		state: "WAIT_USER_CONFIRM", packageInfo: "ABBQO+oYAAABAAAAAAB" + randomString(40, alnum),
		createTime: now, update: now}
	s.transfers[t.outBillNo] = t
	s.persistTransfer(t)
	return http.StatusOK, t.createAnswer(), nil
}

type transferCreateJSON struct {
	OutBillNo   string `json:"out_bill_no"`
	BillNo      string `json:"transfer_bill_no"`
	CreateTime  string `json:"create_time"`
	State       string `json:"state"`
	FailReason  string `json:"fail_reason,omitempty"`
	PackageInfo string `json:"package_info,omitempty"`
}

func (t *transfer) createAnswer() transferCreateJSON {
	j := transferCreateJSON{OutBillNo: t.outBillNo, BillNo: t.billNo, CreateTime: wechatTime(t.createTime), State: t.state,
		FailReason: t.failReason}
	if t.state == "WAIT_USER_CONFIRM" {
		j.PackageInfo = t.packageInfo
	}
	return j
}

// transferJSON is a bill as the query shows it (mch_id) and, with mchid,
// as a notification's plaintext.
type transferJSON struct {
	MchID      string `json:"mch_id,omitempty"`
	MchIDAlt   string `json:"mchid,omitempty"`
	OutBillNo  string `json:"out_bill_no"`
	BillNo     string `json:"transfer_bill_no"`
	AppID      string `json:"appid,omitempty"`
	State      string `json:"state"`
	Amount     int64  `json:"transfer_amount"`
	Remark     string `json:"transfer_remark,omitempty"`
	FailReason string `json:"fail_reason,omitempty"`
	OpenID     string `json:"openid"`
	CreateTime string `json:"create_time"`
	UpdateTime string `json:"update_time"`
}

func (s *Simulator) transferJSON(t *transfer, notice bool) transferJSON {
	j := transferJSON{OutBillNo: t.outBillNo, BillNo: t.billNo, State: t.state, Amount: t.amount, FailReason: t.failReason,
		OpenID: t.openID, CreateTime: wechatTime(t.createTime), UpdateTime: wechatTime(t.update)}
	if notice {
		j.MchIDAlt = s.cfg.MchID
	} else {
		j.MchID, j.AppID, j.Remark = s.cfg.MchID, t.appID, t.remark
	}
	return j
}

func (s *Simulator) queryTransfer(r *http.Request, _ []byte) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transfers[r.PathValue("no")]
	if t == nil {
		return 0, nil, errf(http.StatusNotFound, "NOT_FOUND", "记录不存在")
	}
	s.expireLocked(t, s.cfg.Now())
	return http.StatusOK, s.transferJSON(t, false), nil
}

// TransferBill returns a snapshot of the transfer with this out_bill_no.
func (s *Simulator) TransferBill(outBillNo string) (TransferBill, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transfers[outBillNo]
	if t == nil {
		return TransferBill{}, false
	}
	return t.snapshot(), true
}

// ConfirmTransfer confirms a waiting transfer as the user would in
// wx.requestMerchantTransfer: it succeeds and is notified.
func (s *Simulator) ConfirmTransfer(outBillNo string) error {
	return s.endTransfer(outBillNo, "SUCCESS", "")
}

// FailTransfer ends a waiting transfer FAIL with reason (default
// PAYEE_ACCOUNT_ABNORMAL) and notifies it.
func (s *Simulator) FailTransfer(outBillNo, reason string) error {
	if reason == "" {
		reason = "PAYEE_ACCOUNT_ABNORMAL"
	}
	return s.endTransfer(outBillNo, "FAIL", reason)
}

func (s *Simulator) endTransfer(outBillNo, state, reason string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transfers[outBillNo]
	if t == nil {
		return fmt.Errorf("wxpaysim: transfer %q: %w", outBillNo, ErrNotFound)
	}
	s.expireLocked(t, now)
	if t.state != "WAIT_USER_CONFIRM" {
		return fmt.Errorf("wxpaysim: transfer %q is %s: %w", outBillNo, t.state, ErrState)
	}
	s.finishLocked(t, state, reason, now)
	return nil
}

// ExpireTransfers cancels every transfer still waiting for its user
// TransferConfirmWindow after it was created, as of at (zero: Config.Now),
// notifying each; it returns how many.
func (s *Simulator) ExpireTransfers(at time.Time) int {
	if at.IsZero() {
		at = s.cfg.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.transfers {
		if s.expireLocked(t, at) {
			n++
		}
	}
	return n
}

// expireLocked cancels t if it waited too long. Call with s.mu held.
func (s *Simulator) expireLocked(t *transfer, now time.Time) bool {
	if t.state != "WAIT_USER_CONFIRM" || now.Before(t.createTime.Add(TransferConfirmWindow)) {
		return false
	}
	s.finishLocked(t, "CANCELLED", "TRANSFER_TIMEOUT", now)
	return true
}

func (s *Simulator) finishLocked(t *transfer, state, reason string, now time.Time) {
	t.state, t.failReason, t.update = state, reason, now
	s.persistTransfer(t)
	s.notify(t.outBillNo, t.notifyURL, "MCHTRANSFER.BILL.FINISHED", "mch_payment", s.transferJSON(t, true))
}
