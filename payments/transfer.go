package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/payment"
)

// Merchant transfers (商家转账, user-confirm mode): wechatpay-go v0.2.21 has
// no service for them, so they go through the SDK's core.Client, which
// still signs each request, verifies each answer and encrypts user_name.
//
// Field names follow WeChat Pay's documentation as mirrored by
// wechatpay-im/website (openapi/v3/fund-app/mch-transfer/…) and
// TheNorthMemory/wechatpay.js.org (webhook MCHTRANSFER.BILL.FINISHED);
// unverified against a live merchant: whether the query and the
// notification say mch_id or mchid (both are read), the scene id and report
// infos for KOC commission (TransferConfig), and that asking again with the
// same out_bill_no returns the same bill with its package_info.

// TransferConfig describes how the merchant's transfers are asked for.
type TransferConfig struct {
	NotifyURL string // where MCHTRANSFER.BILL.FINISHED is sent (HTTPS in production)
	// SceneID is the transfer scene (转账场景ID) enabled for the merchant;
	// ReportInfos the scene's required report (info_type → info_content).
	SceneID     string
	ReportInfos []TransferReportInfo
	// Perception is user_recv_perception (optional).
	Perception string
}

// TransferReportInfo is one transfer_scene_report_infos entry.
type TransferReportInfo struct {
	Type    string `json:"info_type"`
	Content string `json:"info_content"`
}

// DefaultTransferConfig is the 佣金报酬 scene (1005) with its report
// (unverified: check the scene enabled in the merchant platform).
func DefaultTransferConfig(notifyURL string) TransferConfig {
	return TransferConfig{NotifyURL: notifyURL, SceneID: "1005", ReportInfos: []TransferReportInfo{
		{Type: "岗位类型", Content: "推广员"}, {Type: "报酬说明", Content: "推广佣金"}}}
}

// Transfers implements commission.Transferer on a Gateway.
type Transfers struct {
	g   *Gateway
	cfg TransferConfig
}

var _ commission.Transferer = (*Transfers)(nil)

// Transfers returns the gateway's merchant-transfer client.
func (g *Gateway) Transfers(cfg TransferConfig) (*Transfers, error) {
	var problems []string
	if cfg.SceneID == "" {
		problems = append(problems, "transfer scene id is empty")
	}
	if u, err := url.Parse(cfg.NotifyURL); cfg.NotifyURL != "" && (err != nil || u.Host == "" || u.RawQuery != "") {
		problems = append(problems, "transfer notify URL must be absolute, without a query")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("payments: transfers: %s", strings.Join(problems, "; "))
	}
	return &Transfers{g: g, cfg: cfg}, nil
}

// MchID and AppID are the merchant's, for wx.requestMerchantTransfer.
func (t *Transfers) MchID() string { return t.g.mchID }

// AppID is the mini-program's app id.
func (t *Transfers) AppID() string { return t.g.appID }

type transferBillRequest struct {
	AppID           string               `json:"appid"`
	OutBillNo       string               `json:"out_bill_no"`
	SceneID         string               `json:"transfer_scene_id"`
	OpenID          string               `json:"openid"`
	UserName        *string              `json:"user_name,omitempty" encryption:"EM_APIV3"`
	Amount          int64                `json:"transfer_amount"`
	Remark          string               `json:"transfer_remark"`
	NotifyURL       string               `json:"notify_url,omitempty"`
	Perception      string               `json:"user_recv_perception,omitempty"`
	SceneReportInfo []TransferReportInfo `json:"transfer_scene_report_infos,omitempty"`
}

// transferBill is an answer (create: out_bill_no, transfer_bill_no,
// create_time, state, fail_reason, package_info) or a query (adds mch_id,
// appid, transfer_amount, openid, update_time …), or a notification's
// plaintext.
type transferBill struct {
	MchID          string `json:"mch_id"`
	MchIDAlt       string `json:"mchid"`
	AppID          string `json:"appid"`
	OutBillNo      string `json:"out_bill_no"`
	TransferBillNo string `json:"transfer_bill_no"`
	State          string `json:"state"`
	Amount         int64  `json:"transfer_amount"`
	OpenID         string `json:"openid"`
	FailReason     string `json:"fail_reason"`
	PackageInfo    string `json:"package_info"`
	CreateTime     string `json:"create_time"`
	UpdateTime     string `json:"update_time"`
}

func (b transferBill) transfer() commission.Transfer {
	return commission.Transfer{OutBillNo: b.OutBillNo, BillNo: b.TransferBillNo, State: commission.TransferState(b.State),
		Amount: domain.Fen(b.Amount), OpenID: b.OpenID, PackageInfo: b.PackageInfo, FailReason: b.FailReason}
}

func (b transferBill) mchID() string {
	if b.MchID != "" {
		return b.MchID
	}
	return b.MchIDAlt
}

// Transfer asks for a transfer. Asking again with the same out_bill_no and
// parameters returns the same bill.
func (t *Transfers) Transfer(ctx context.Context, r commission.TransferRequest) (commission.Transfer, error) {
	remark := r.Remark
	if utf8.RuneCountInString(remark) > 32 {
		remark = string([]rune(remark)[:32])
	}
	req := &transferBillRequest{AppID: t.g.appID, OutBillNo: r.OutBillNo, SceneID: t.cfg.SceneID, OpenID: r.OpenID,
		Amount: int64(r.Amount), Remark: remark, NotifyURL: t.cfg.NotifyURL, Perception: t.cfg.Perception,
		SceneReportInfo: t.cfg.ReportInfos}
	header := http.Header{}
	if r.UserName != "" {
		name := r.UserName
		req.UserName = &name
		serial, err := t.g.client.EncryptRequest(ctx, req)
		if err != nil {
			return commission.Transfer{}, fmt.Errorf("payments: transfer: encrypt user_name: %w", err)
		}
		if serial != "" {
			header.Set(consts.WechatPaySerial, serial)
		}
	}
	res, err := t.g.client.Request(ctx, http.MethodPost, consts.WechatPayAPIServer+"/v3/fund-app/mch-transfer/transfer-bills",
		header, nil, req, "application/json")
	if err != nil {
		return commission.Transfer{}, fmt.Errorf("payments: transfer: %w", classifyTransfer(err, false))
	}
	var b transferBill
	if err := core.UnMarshalResponse(res.Response, &b); err != nil {
		return commission.Transfer{}, fmt.Errorf("payments: transfer: %w", withCause(commission.ErrTransferUnknown, err))
	}
	if b.OutBillNo == "" {
		b.OutBillNo = r.OutBillNo
	}
	return b.transfer(), nil
}

// QueryTransfer asks for a transfer by out_bill_no.
func (t *Transfers) QueryTransfer(ctx context.Context, outBillNo string) (commission.Transfer, error) {
	res, err := t.g.client.Get(ctx, consts.WechatPayAPIServer+"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"+url.PathEscape(outBillNo))
	if err != nil {
		return commission.Transfer{}, fmt.Errorf("payments: query transfer: %w", classifyTransfer(err, true))
	}
	var b transferBill
	if err := core.UnMarshalResponse(res.Response, &b); err != nil {
		return commission.Transfer{}, fmt.Errorf("payments: query transfer: %w", withCause(commission.ErrTransferUnknown, err))
	}
	if m := b.mchID(); m != "" && m != t.g.mchID {
		return commission.Transfer{}, fmt.Errorf("payments: query transfer: %w",
			commission.ErrTransferMismatch.WithMessage("The transfer is for mchid %q, not this merchant.", m))
	}
	return b.transfer(), nil
}

// transferAPIError carries WeChat Pay's code for the fail reason.
type transferAPIError struct{ *core.APIError }

func (e transferAPIError) TransferCode() string { return e.Code }
func (e transferAPIError) Unwrap() error        { return e.APIError }

// classifyTransfer: a 404 (or NOT_FOUND) on a query is ErrTransferNotFound;
// a 4xx other than 429 and not a system code is a definite refusal;
// anything else leaves the outcome unknown.
func classifyTransfer(err error, query bool) *domain.Error {
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) {
		return withCause(commission.ErrTransferUnknown, err)
	}
	code := normalizeCode(apiErr.Code)
	switch {
	case apiErr.StatusCode == http.StatusTooManyRequests, apiErr.StatusCode >= 500, unknownCodes[code]:
		return withCause(commission.ErrTransferUnknown, err)
	case query && (apiErr.StatusCode == http.StatusNotFound || code == "NOTFOUND"):
		return withCause(commission.ErrTransferNotFound, err)
	case query:
		return withCause(commission.ErrTransferUnknown, err)
	}
	return withCause(commission.ErrTransferRejected, transferAPIError{apiErr})
}

// ParseTransferNotification verifies and decrypts a merchant-transfer
// notification (MCHTRANSFER.BILL.FINISHED), with the errors of
// ParsePaymentNotification.
func (g *Gateway) ParseTransferNotification(ctx context.Context, r *http.Request) (commission.TransferNotice, error) {
	var b transferBill
	n, err := g.parseNotification(ctx, r, &b)
	if err != nil {
		return commission.TransferNotice{}, fmt.Errorf("payments: transfer notification: %w", err)
	}
	if m := b.mchID(); m != "" && m != g.mchID {
		return commission.TransferNotice{}, fmt.Errorf("payments: transfer notification: %w",
			payment.ErrNotificationInvalid.WithMessage("The notification is for mchid %q, not this merchant.", m))
	}
	return commission.TransferNotice{EventID: n.ID, EventType: n.EventType, Transfer: b.transfer()}, nil
}
