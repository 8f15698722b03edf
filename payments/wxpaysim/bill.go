package wxpaysim

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yutang/yutang/domain"
)

// The trade bill (交易账单), as WeChat Pay serves it:
//
//   - GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL[&tar_type=GZIP]
//     answers {hash_type: "SHA1", hash_value, download_url}, signed like any
//     answer. hash_value is the SHA1 of the original bill, before gzip
//     ("原始账单(gzip需要解压缩)的摘要值"):
//     https://pay.weixin.qq.com/doc/v3/merchant/4012556654 (申请交易账单).
//   - GET download_url (/v3/billdownload/file?token=…) needs a signed request
//     and its answer is NOT signed (wechatpay-go v0.2.21 FAQ.md, "如何下载账单":
//     skip response validation for this step, then check the file against
//     the hash).
//   - The file (交易账单文件格式说明,
//     https://pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html):
//     a detail header, detail lines, a summary header, a summary line;
//     fields separated by ",", every detail and summary field prefixed with a
//     backquote. A payment is billed on the day of its success time, a refund
//     on the day WeChat Pay accepted it (商户退款受理成功时间), Beijing time, and
//     a refund line shows its status as of when the bill was made. Amounts
//     are yuan with two decimals. The ALL bill's columns, as in
//     binarywang/WxJava's WxPayBillResultTest and the official sample:
//     交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,
//     交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,
//     商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,
//     手续费,费率,订单金额,申请退款金额,费率备注
//     then 总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,
//     订单总金额,申请退款总金额. Lines end with CRLF.
//
// Simplifications: SUCCESS and REFUND bills keep the ALL bill's columns
// (WeChat Pay's REFUND bill adds 退款申请时间 and 退款成功时间); the fee is
// 0.60% of each line; the bill is made when asked for, so a day's bill
// changes while the day is not over.

// BillHeader is the ALL trade bill's detail header.
const BillHeader = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," +
	"应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"

// BillSummaryHeader is the trade bill's summary header.
const BillSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"

// BillLine is one line a test puts into a day's bill (InjectBillLine): a
// payment (TradeState SUCCESS) or a refund (REFUND).
type BillLine struct {
	TradeTime     time.Time // decides the bill's day (Beijing time)
	TransactionID string
	OutTradeNo    string
	TradeState    string // SUCCESS or REFUND
	Total         int64  // fen: the payment's amount (SUCCESS)
	RefundID      string
	OutRefundNo   string
	Refund        int64  // fen: the refund's amount (REFUND)
	RefundStatus  string // REFUND: SUCCESS, PROCESSING …
}

// billState is what the bill control functions set. The Simulator struct
// is shared with other work, so it lives beside it, keyed by simulator.
type billState struct {
	mu       sync.Mutex
	injected []BillLine
	amounts  map[string]int64 // out_trade_no → the amount the bill shows
	omitted  map[string]bool  // out_trade_no → its payment is not in the bill
	tamper   int              // the next downloads serve a file that is not the hashed one
	files    map[string]billFile
}

type billFile struct {
	data    []byte // the original bill (the hash is of this)
	gzip    bool
	expires time.Time
}

// bills is the simulator's bill state (made on first use; its own lock).
func (s *Simulator) bills() *billState {
	s.billOnce.Do(func() {
		s.billState = &billState{amounts: map[string]int64{}, omitted: map[string]bool{}, files: map[string]billFile{}}
	})
	return s.billState
}

// InjectBillLine adds a line to the bill of its trade time's day: a payment
// or refund the mall never heard of.
func (s *Simulator) InjectBillLine(l BillLine) {
	b := s.bills()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.injected = append(b.injected, l)
}

// AlterBillAmount makes the bill show fen as the amount of the payment
// with this out_trade_no (WeChat Pay's record disagreeing with the mall's).
func (s *Simulator) AlterBillAmount(outTradeNo string, fen int64) {
	b := s.bills()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.amounts[outTradeNo] = fen
}

// OmitFromBill leaves the payment with this out_trade_no out of its day's
// bill (WeChat Pay's record lacking a payment the mall applied).
func (s *Simulator) OmitFromBill(outTradeNo string) {
	b := s.bills()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.omitted[outTradeNo] = true
}

// TamperNextBillDownload makes the next bill download serve a file that
// differs from the one its hash_value describes (corrupted in transit).
func (s *Simulator) TamperNextBillDownload() {
	b := s.bills()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tamper++
}

// billRoutes registers the bill routes.
func (s *Simulator) billRoutes(m *http.ServeMux) {
	m.Handle("GET /v3/bill/tradebill", s.api(s.tradeBill))
	m.HandleFunc("GET /v3/billdownload/file", s.downloadBill)
}

func (s *Simulator) tradeBill(r *http.Request, _ []byte) (int, any, *apiError) {
	q := r.URL.Query()
	date, err := time.ParseInLocation("2006-01-02", q.Get("bill_date"), domain.Shanghai)
	if err != nil {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "bill_date 格式须为 yyyy-MM-DD")
	}
	billType := q.Get("bill_type")
	if billType == "" {
		billType = "ALL"
	}
	if billType != "ALL" && billType != "SUCCESS" && billType != "REFUND" {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "bill_type 不正确")
	}
	tarType := q.Get("tar_type")
	if tarType != "" && tarType != "GZIP" {
		return 0, nil, errf(http.StatusBadRequest, "PARAM_ERROR", "tar_type 不正确")
	}
	now := s.cfg.Now().In(domain.Shanghai)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, domain.Shanghai)
	if date.After(today) {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "账单日期不能晚于今天")
	}
	if date.Before(today.AddDate(0, -3, 0)) {
		return 0, nil, errf(http.StatusBadRequest, "INVALID_REQUEST", "仅支持三个月内的账单下载申请")
	}
	data, n := s.billFor(date, billType)
	if n == 0 {
		return 0, nil, errf(http.StatusBadRequest, "NO_STATEMENT_EXIST", "账单文件不存在")
	}
	sum := sha1.Sum(data)
	token := randomString(64, alnum)
	b := s.bills()
	b.mu.Lock()
	b.files[token] = billFile{data: data, gzip: tarType == "GZIP", expires: time.Now().Add(5 * time.Minute)}
	b.mu.Unlock()
	u := "https://api.mch.weixin.qq.com/v3/billdownload/file?token=" + token
	if tarType == "GZIP" {
		u += "&tartype=gzip"
	}
	return http.StatusOK, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]), "download_url": u}, nil
}

// downloadBill serves a bill file: the request is authenticated like any
// call, the answer is not signed.
func (s *Simulator) downloadBill(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.admit(w, r); !ok {
		return
	}
	b := s.bills()
	b.mu.Lock()
	f, ok := b.files[r.URL.Query().Get("token")]
	tamper := ok && b.tamper > 0
	if tamper {
		b.tamper--
	}
	b.mu.Unlock()
	if !ok || time.Now().After(f.expires) {
		writeError(w, errf(http.StatusBadRequest, "INVALID_REQUEST", "下载链接过期，请重新请求文件下载"))
		return
	}
	data := f.data
	if tamper {
		// One amount digit changed in transit: 0.01 more on the first line.
		data = bytes.Replace(append([]byte(nil), data...), []byte(",`CNY,`"), []byte(",`CNY,`9"), 1)
	}
	if f.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(data)
		_ = zw.Close()
		data = buf.Bytes()
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Request-Id", randomHex(16))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// billRow is one detail line before formatting.
type billRow struct {
	at                       time.Time
	appID, mchID             string
	txID, outTradeNo, openID string
	tradeType, state         string
	total                    int64 // payment
	refundID, outRefundNo    string
	refund                   int64
	refundStatus             string
	description, attach      string
}

// billFor makes the bill of one Beijing day and returns it with its number
// of lines.
func (s *Simulator) billFor(day time.Time, billType string) ([]byte, int) {
	end := day.AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(day) && t.Before(end) }
	var rows []billRow
	b := s.bills()
	b.mu.Lock()
	amounts := make(map[string]int64, len(b.amounts))
	for k, v := range b.amounts {
		amounts[k] = v
	}
	injected := append([]BillLine(nil), b.injected...)
	omitted := make(map[string]bool, len(b.omitted))
	for k, v := range b.omitted {
		omitted[k] = v
	}
	b.mu.Unlock()

	s.mu.Lock()
	for _, t := range s.trades {
		if t.transactionID == "" || !in(t.successTime) || omitted[t.outTradeNo] {
			continue
		}
		total := t.total
		if v, ok := amounts[t.outTradeNo]; ok {
			total = v
		}
		rows = append(rows, billRow{at: t.successTime, appID: t.appID, mchID: t.mchID, txID: t.transactionID,
			outTradeNo: t.outTradeNo, openID: t.payerOpenID, tradeType: t.tradeType, state: "SUCCESS",
			total: total, description: t.description, attach: t.attach})
	}
	for _, rf := range s.refunds {
		if !in(rf.createTime) {
			continue
		}
		t := rf.trade
		rows = append(rows, billRow{at: rf.createTime, appID: t.appID, mchID: t.mchID, txID: t.transactionID,
			outTradeNo: t.outTradeNo, openID: t.payerOpenID, tradeType: t.tradeType, state: "REFUND",
			refundID: rf.refundID, outRefundNo: rf.outRefundNo, refund: rf.amount, refundStatus: rf.status,
			description: t.description, attach: t.attach})
	}
	s.mu.Unlock()
	for _, l := range injected {
		if !in(l.TradeTime) {
			continue
		}
		rows = append(rows, billRow{at: l.TradeTime, appID: s.cfg.AppID, mchID: s.cfg.MchID, txID: l.TransactionID,
			outTradeNo: l.OutTradeNo, openID: "o_injected", tradeType: "JSAPI", state: l.TradeState, total: l.Total,
			refundID: l.RefundID, outRefundNo: l.OutRefundNo, refund: l.Refund, refundStatus: l.RefundStatus,
			description: "injected"})
	}
	kept := rows[:0]
	for _, r := range rows {
		if billType == "ALL" || r.state == billType {
			kept = append(kept, r)
		}
	}
	rows = kept
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	return formatBill(rows), len(rows)
}

func formatBill(rows []billRow) []byte {
	var buf bytes.Buffer
	buf.WriteString(BillHeader + "\r\n")
	var settle, refunds, fees, totals, asked int64 // fees in 1/100000 yuan
	for _, r := range rows {
		var f []string
		if r.state == "REFUND" {
			fee := -r.refund * 6 // 0.60% of r.refund fen, in 1/100000 yuan
			f = []string{r.at.In(domain.Shanghai).Format("2006-01-02 15:04:05"), r.appID, r.mchID, "0", "", r.txID,
				r.outTradeNo, r.openID, r.tradeType, "REFUND", "OTHERS", "CNY", "0.00", "0.00", r.refundID,
				r.outRefundNo, yuan(r.refund), "0.00", "ORIGINAL", r.refundStatus, r.description, r.attach,
				feeYuan(fee), "0.60%", "0.00", yuan(r.refund), ""}
			refunds += r.refund
			asked += r.refund
			fees += fee
		} else {
			fee := r.total * 6
			f = []string{r.at.In(domain.Shanghai).Format("2006-01-02 15:04:05"), r.appID, r.mchID, "0", "", r.txID,
				r.outTradeNo, r.openID, r.tradeType, "SUCCESS", "OTHERS", "CNY", yuan(r.total), "0.00", "0", "0",
				"0.00", "0.00", "", "", r.description, r.attach, feeYuan(fee), "0.60%", yuan(r.total), "0.00", ""}
			settle += r.total
			totals += r.total
			fees += fee
		}
		buf.WriteString("`" + strings.Join(f, ",`") + "\r\n")
	}
	buf.WriteString(BillSummaryHeader + "\r\n")
	buf.WriteString(fmt.Sprintf("`%d,`%s,`%s,`0.00,`%s,`%s,`%s\r\n", len(rows), yuan(settle), yuan(refunds),
		feeYuan(fees), yuan(totals), yuan(asked)))
	return buf.Bytes()
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// feeYuan formats 1/100000 yuan with five decimals.
func feeYuan(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return sign + strconv.FormatInt(v/100000, 10) + "." + fmt.Sprintf("%05d", v%100000)
}
