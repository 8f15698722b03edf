package payments

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// The daily trade bill (交易账单). wechatpay-go v0.2.21 has no service for
// it; both steps go through the SDK's core.Client:
//
//  1. GET /v3/bill/tradebill?bill_date&bill_type=ALL&tar_type=GZIP, signed
//     and its answer verified like any call: {hash_type, hash_value,
//     download_url}.
//  2. GET download_url with a signed request; the answer is not signed, so
//     this one request uses a copy of the client without response
//     validation (core.NewClientWithValidator + validators.NullValidator, as
//     the SDK's FAQ.md "如何下载账单" says), and the file is checked against
//     hash_value instead before anything of it is used. hash_value is the
//     SHA1 of the original bill, so a GZIP download is decompressed first
//     ("原始账单(gzip需要解压缩)的摘要值",
//     https://pay.weixin.qq.com/doc/v3/merchant/4012556654).
//
// The file format is described in payments/wxpaysim/bill.go (with its
// sources) and parsed by ParseTradeBill.

// maxBill bounds a downloaded bill (compressed and uncompressed).
const maxBill = 256 << 20

type tradeBillAnswer struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
}

// TradeBill downloads the ALL trade bill of date (YYYY-MM-DD, Beijing
// time), checks its SHA1 hash and its summary, and parses it. A day without
// trades answers an empty bill (NoStatement). A hash or summary mismatch is
// payment.ErrBillIntegrity; nothing of such a bill is returned.
func (g *Gateway) TradeBill(ctx context.Context, date string) (payment.TradeBill, error) {
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill: date %q: %w", date, payment.ErrBillFormat)
	}
	res, err := g.client.Request(ctx, http.MethodGet, consts.WechatPayAPIServer+"/v3/bill/tradebill", nil,
		url.Values{"bill_date": {date}, "bill_type": {"ALL"}, "tar_type": {"GZIP"}}, nil, "")
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) {
			switch normalizeCode(apiErr.Code) {
			case "NOSTATEMENTEXIST":
				return payment.TradeBill{Date: date, NoStatement: true}, nil
			case "STATEMENTCREATING":
				return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, withCause(payment.ErrBillNotReady, err))
			}
		}
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, classify(err, nil))
	}
	var ans tradeBillAnswer
	if err := core.UnMarshalResponse(res.Response, &ans); err != nil {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, withCause(payment.ErrUnknown, err))
	}
	if !strings.EqualFold(ans.HashType, "SHA1") || ans.HashValue == "" || ans.DownloadURL == "" {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: answer %+v: %w", date, ans, payment.ErrBillFormat)
	}
	data, err := g.downloadBill(ctx, ans.DownloadURL)
	if err != nil {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, err)
	}
	if err := checkSHA1(data, ans.HashValue); err != nil {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, err)
	}
	lines, err := ParseTradeBill(data)
	if err != nil {
		return payment.TradeBill{}, fmt.Errorf("payments: trade bill %s: %w", date, err)
	}
	return payment.TradeBill{Date: date, Lines: lines}, nil
}

// downloadBill fetches a bill file (signed request, unsigned answer) and
// returns it uncompressed.
func (g *Gateway) downloadBill(ctx context.Context, downloadURL string) ([]byte, error) {
	u, err := url.Parse(downloadURL)
	if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Hostname(), ".mch.weixin.qq.com") {
		// Only WeChat Pay's own hosts: the signed request must not go
		// anywhere else.
		return nil, fmt.Errorf("download url %q: %w", downloadURL, payment.ErrBillFormat)
	}
	dl := core.NewClientWithValidator(g.client, &validators.NullValidator{})
	res, err := dl.Request(ctx, http.MethodGet, downloadURL, nil, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("download: %w", classify(err, nil))
	}
	defer res.Response.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Response.Body, maxBill+1))
	if err != nil {
		return nil, fmt.Errorf("download: %w", withCause(payment.ErrUnknown, err))
	}
	if len(raw) > maxBill {
		return nil, fmt.Errorf("download: bill over %d bytes: %w", maxBill, payment.ErrBillFormat)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil // not gzip (tar_type ignored): the original bill
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", withCause(payment.ErrBillIntegrity, err))
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxBill+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", withCause(payment.ErrBillIntegrity, err))
	}
	if len(data) > maxBill {
		return nil, fmt.Errorf("gunzip: bill over %d bytes: %w", maxBill, payment.ErrBillFormat)
	}
	return data, nil
}

func checkSHA1(data []byte, want string) error {
	sum := sha1.Sum(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, strings.TrimSpace(want)) {
		return fmt.Errorf("sha1 %s, bill says %s: %w", got, want, payment.ErrBillIntegrity)
	}
	return nil
}

// The columns ParseTradeBill reads, found by name in the header (WeChat
// Pay does not promise their order).
const (
	colTime         = "交易时间"
	colAppID        = "公众账号ID"
	colMchID        = "商户号"
	colTxID         = "微信订单号"
	colOutTradeNo   = "商户订单号"
	colOpenID       = "用户标识"
	colTradeType    = "交易类型"
	colState        = "交易状态"
	colSettlement   = "应结订单金额"
	colRefundID     = "微信退款单号"
	colOutRefundNo  = "商户退款单号"
	colSettleRefund = "退款金额"
	colRefundStatus = "退款状态"
	colTotal        = "订单金额"
	colRefund       = "申请退款金额"
	summaryStart    = "总交易单数"
)

var requiredCols = []string{colTime, colTxID, colOutTradeNo, colState, colTotal, colRefundID, colOutRefundNo,
	colRefund, colRefundStatus}

// ParseTradeBill reads an ALL trade bill: the header (columns found by
// name), one line per payment or refund (every field prefixed with a
// backquote), then the summary, whose line count and totals (订单总金额,
// 申请退款总金额) must agree with the lines. Amounts are parsed exactly to
// fen (never through floats); a malformed file is payment.ErrBillFormat, a
// summary that disagrees payment.ErrBillIntegrity.
func ParseTradeBill(data []byte) ([]payment.BillLine, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var rows []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			rows = append(rows, l)
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("bill: "+format+": %w", append(args, payment.ErrBillFormat)...)
	}
	if len(rows) < 3 {
		return nil, bad("%d lines, want a header, a summary header and a summary", len(rows))
	}
	header := splitBillRow(rows[0])
	col := make(map[string]int, len(header))
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range requiredCols {
		if _, ok := col[c]; !ok {
			return nil, bad("header has no %s column", c)
		}
	}
	field := func(f []string, name string) string {
		if i, ok := col[name]; ok && i < len(f) {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	var lines []payment.BillLine
	i := 1
	for ; i < len(rows) && !strings.HasPrefix(strings.TrimPrefix(rows[i], "`"), summaryStart); i++ {
		if !strings.HasPrefix(rows[i], "`") {
			return nil, bad("line %d does not start with a backquote", i+1)
		}
		f := splitBillRow(rows[i])
		if len(f) != len(header) {
			return nil, bad("line %d has %d fields, the header %d", i+1, len(f), len(header))
		}
		l, err := billLine(f, field)
		if err != nil {
			return nil, bad("line %d: %v", i+1, err)
		}
		lines = append(lines, l)
	}
	if i+1 >= len(rows) {
		return nil, bad("no summary")
	}
	sumHeader, sum := splitBillRow(rows[i]), splitBillRow(rows[i+1])
	if len(sumHeader) != len(sum) {
		return nil, bad("summary has %d fields, its header %d", len(sum), len(sumHeader))
	}
	summary := make(map[string]string, len(sum))
	for k, h := range sumHeader {
		summary[strings.TrimSpace(h)] = strings.TrimSpace(sum[k])
	}
	count, err := strconv.Atoi(summary[summaryStart])
	if err != nil {
		return nil, bad("summary count %q", summary[summaryStart])
	}
	if count != len(lines) {
		return nil, fmt.Errorf("bill: summary counts %d lines, the bill has %d: %w", count, len(lines), payment.ErrBillIntegrity)
	}
	var totals, refunds domain.Fen
	for _, l := range lines {
		totals += l.Total
		refunds += l.Refund
	}
	for name, got := range map[string]domain.Fen{"订单总金额": totals, "申请退款总金额": refunds} {
		v, ok := summary[name]
		if !ok {
			continue
		}
		want, err := ParseYuan(v)
		if err != nil {
			return nil, bad("summary %s: %v", name, err)
		}
		if want != got {
			return nil, fmt.Errorf("bill: summary %s is %d fen, the lines add up to %d: %w", name, want, got, payment.ErrBillIntegrity)
		}
	}
	return lines, nil
}

// splitBillRow splits a bill line into its fields, dropping each field's
// backquote. Fields are separated by ",`" so that a comma inside a product
// name does not split it; a header (no backquotes) splits on ",".
func splitBillRow(row string) []string {
	if !strings.HasPrefix(row, "`") {
		return strings.Split(row, ",")
	}
	return strings.Split(row[1:], ",`")
}

func billLine(f []string, field func([]string, string) string) (payment.BillLine, error) {
	at, err := time.ParseInLocation("2006-01-02 15:04:05", field(f, colTime), domain.Shanghai)
	if err != nil {
		return payment.BillLine{}, fmt.Errorf("trade time %q", field(f, colTime))
	}
	l := payment.BillLine{TradeTime: at, AppID: field(f, colAppID), MchID: field(f, colMchID),
		OpenID: field(f, colOpenID), TradeType: field(f, colTradeType), TransactionID: field(f, colTxID),
		OutTradeNo: field(f, colOutTradeNo), TradeState: payment.TradeState(field(f, colState))}
	amount := func(name string) (domain.Fen, error) {
		v := field(f, name)
		if v == "" {
			return 0, nil
		}
		fen, err := ParseYuan(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return fen, nil
	}
	if l.Total, err = amount(colTotal); err != nil {
		return l, err
	}
	if l.Settlement, err = amount(colSettlement); err != nil {
		return l, err
	}
	switch l.TradeState {
	case payment.TradeSuccess:
	case payment.TradeRefund:
		l.RefundID, l.OutRefundNo = field(f, colRefundID), field(f, colOutRefundNo)
		l.RefundStatus = payment.RefundStatus(field(f, colRefundStatus))
		if l.Refund, err = amount(colRefund); err != nil {
			return l, err
		}
		if l.SettlementRefund, err = amount(colSettleRefund); err != nil {
			return l, err
		}
		if l.OutRefundNo == "" {
			return l, fmt.Errorf("refund line without 商户退款单号")
		}
	default:
		return l, fmt.Errorf("trade state %q", l.TradeState)
	}
	if l.OutTradeNo == "" || l.TransactionID == "" {
		return l, fmt.Errorf("line without 商户订单号 or 微信订单号")
	}
	return l, nil
}

var yuanPattern = regexp.MustCompile(`^(-?)([0-9]{1,15})(?:\.([0-9]{1,2}))?$`)

// ParseYuan reads an amount in yuan with at most two decimals ("12.30",
// "-0.05", "7") as exact fen, without floating point.
func ParseYuan(s string) (domain.Fen, error) {
	m := yuanPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("amount %q is not yuan with at most two decimals", s)
	}
	whole, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %v", s, err)
	}
	frac := m[3]
	for len(frac) < 2 {
		frac += "0"
	}
	cents, _ := strconv.ParseInt(frac, 10, 64)
	fen := whole*100 + cents
	if m[1] == "-" {
		fen = -fen
	}
	return domain.Fen(fen), nil
}
