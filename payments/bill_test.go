package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

func TestParseYuanExactFen(t *testing.T) {
	for in, want := range map[string]domain.Fen{
		"0.01": 1, "0.10": 10, "0.1": 10, "1": 100, "12.30": 1230, "19.99": 1999, "-0.05": -5,
		"1234567.89": 123456789, "0.29": 29, "0.57": 57, "1.15": 115, "4.35": 435, // float64 would round 0.29*100 to 28.999…
		" 8.00 ": 800,
	} {
		got, err := payments.ParseYuan(in)
		if err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "0.00500", "1,00", "abc", "1e2", "+1.00", ".5", "1."} {
		if got, err := payments.ParseYuan(in); err == nil {
			t.Errorf("ParseYuan(%q) = %d, want an error", in, got)
		}
	}
}

// A bill in the official layout (the header of binarywang/WxJava's
// WxPayBillResultTest; a payment, a refund of it, a comma in a product name).
const officialBill = "\ufeff" + wxpaysim.BillHeader + "\r\n" +
	"`2026-11-30 10:37:11,`wxd678efh567hg6787,`1900000109,`0,`,`4200000925202611304997714292,`YT1001-1,`o_alice,`JSAPI,`SUCCESS,`OTHERS,`CNY,`1.15,`0.00,`0,`0,`0.00,`0.00,`,`,`桂花糕, 两盒,`,`0.00690,`0.60%,`1.15,`0.00,`\r\n" +
	"`2026-11-30 11:02:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200000925202611304997714292,`YT1001-1,`o_alice,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000000000000001,`YT1001-R1,`0.29,`0.00,`ORIGINAL,`PROCESSING,`桂花糕, 两盒,`,`-0.00174,`0.60%,`0.00,`0.29,`\r\n" +
	wxpaysim.BillSummaryHeader + "\r\n" +
	"`2,`1.15,`0.29,`0.00,`0.00516,`1.15,`0.29\r\n"

func TestParseTradeBill(t *testing.T) {
	lines, err := payments.ParseTradeBill([]byte(officialBill))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	p, r := lines[0], lines[1]
	at := time.Date(2026, 11, 30, 10, 37, 11, 0, domain.Shanghai)
	if !p.TradeTime.Equal(at) || p.TradeState != payment.TradeSuccess || p.IsRefund() || p.OutTradeNo != "YT1001-1" ||
		p.TransactionID != "4200000925202611304997714292" || p.Total != 115 || p.Settlement != 115 ||
		p.OpenID != "o_alice" || p.TradeType != "JSAPI" || p.MchID != "1900000109" || p.OutRefundNo != "" || p.Refund != 0 {
		t.Errorf("payment line: %+v", p)
	}
	if !r.IsRefund() || r.OutRefundNo != "YT1001-R1" || r.RefundID != "50300000000000000001" || r.Refund != 29 ||
		r.SettlementRefund != 29 || r.RefundStatus != payment.RefundProcessing || r.Total != 0 || r.OutTradeNo != "YT1001-1" {
		t.Errorf("refund line: %+v", r)
	}
	// LF line ends read the same.
	lf, err := payments.ParseTradeBill([]byte(strings.ReplaceAll(officialBill, "\r\n", "\n")))
	if err != nil || len(lf) != 2 || lf[1] != r {
		t.Errorf("LF bill: %v, %+v", err, lf)
	}
}

func TestParseTradeBillRefusesBadBills(t *testing.T) {
	for name, c := range map[string]struct {
		bill string
		want *domain.Error
	}{
		"summary count":  {strings.Replace(officialBill, "`2,`1.15", "`3,`1.15", 1), payment.ErrBillIntegrity},
		"summary total":  {strings.Replace(officialBill, "`0.00516,`1.15", "`0.00516,`1.16", 1), payment.ErrBillIntegrity},
		"sub-fen amount": {strings.Replace(officialBill, "`1.15,`0.00,`\r", "`1.151,`0.00,`\r", 1), payment.ErrBillFormat},
		"no summary":     {strings.SplitAfter(officialBill, "\r\n")[0] + strings.SplitAfter(officialBill, "\r\n")[1], payment.ErrBillFormat},
		"missing column": {strings.Replace(officialBill, ",申请退款金额,", ",其他,", 1), payment.ErrBillFormat},
		"bad state":      {strings.Replace(officialBill, "`SUCCESS,", "`PAYERROR,", 1), payment.ErrBillFormat},
		"field count":    {strings.Replace(officialBill, "`0.60%,`1.15,", "`0.60%,", 1), payment.ErrBillFormat},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := payments.ParseTradeBill([]byte(c.bill)); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestTradeBillRoundTrip: the gateway applies for the bill, downloads the
// gzip file from the simulator, checks its hash and parses it.
func TestTradeBillRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R1", Refund: 280, Total: 1280}); err != nil {
		t.Fatal(err)
	}
	e.sim.InjectBillLine(wxpaysim.BillLine{TradeTime: time.Now(), TransactionID: "4200000000000000000001",
		OutTradeNo: "NOTOURS0001", TradeState: "SUCCESS", Total: 999})
	day := time.Now().In(domain.Shanghai).Format("2006-01-02")
	bill, err := e.gw.TradeBill(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if bill.Date != day || bill.NoStatement || len(bill.Lines) != 3 {
		t.Fatalf("bill: %+v", bill)
	}
	byKind := map[string]payment.BillLine{}
	for _, l := range bill.Lines {
		byKind[l.OutTradeNo+"/"+string(l.TradeState)] = l
	}
	tr, _ := e.sim.Trade(no)
	if l := byKind[no+"/SUCCESS"]; l.Total != 1280 || l.TransactionID != tr.TransactionID || l.OpenID != "o_alice" {
		t.Errorf("payment line %+v", l)
	}
	if l := byKind[no+"/REFUND"]; l.OutRefundNo != no+"R1" || l.Refund != 280 || l.RefundStatus != payment.RefundProcessing {
		t.Errorf("refund line %+v", l)
	}
	if l := byKind["NOTOURS0001/SUCCESS"]; l.Total != 999 {
		t.Errorf("injected line %+v", l)
	}

	// The bill shows another amount once WeChat Pay's record says so.
	e.sim.AlterBillAmount(no, 1300)
	bill, err = e.gw.TradeBill(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bill.Lines {
		if l.OutTradeNo == no && !l.IsRefund() && l.Total != 1300 {
			t.Errorf("altered amount: %+v", l)
		}
	}

	// A file that does not match its hash is refused whole.
	e.sim.TamperNextBillDownload()
	if b, err := e.gw.TradeBill(ctx, day); !errors.Is(err, payment.ErrBillIntegrity) || len(b.Lines) != 0 {
		t.Fatalf("tampered bill: %+v, %v", b, err)
	}

	// A day without trades has no statement: an empty bill.
	yesterday := time.Now().In(domain.Shanghai).AddDate(0, 0, -1).Format("2006-01-02")
	if b, err := e.gw.TradeBill(ctx, yesterday); err != nil || !b.NoStatement || len(b.Lines) != 0 {
		t.Fatalf("empty day: %+v, %v", b, err)
	}
	// A day not over yet in the future, or a malformed date, is refused.
	tomorrow := time.Now().In(domain.Shanghai).AddDate(0, 0, 1).Format("2006-01-02")
	if _, err := e.gw.TradeBill(ctx, tomorrow); err == nil {
		t.Fatal("a future day's bill was served")
	}
	if _, err := e.gw.TradeBill(ctx, "2026-13-01"); !errors.Is(err, payment.ErrBillFormat) {
		t.Fatalf("bad date: %v", err)
	}
}
