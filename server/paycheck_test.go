package main

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// newPayAppWith is newPayApp with more configuration.
func newPayAppWith(t *testing.T, speedup int64, opt func(*Config)) *payApp {
	t.Helper()
	pa := &payApp{}
	url, h := pa.listen(t)
	pa.testApp = newTestApp(t, func(c *Config) {
		c.PublicURL = url
		c.WxPay.SimSpeedup = speedup
		opt(c)
	})
	h.Store(handlerBox{pa.srv.Config.Handler})
	return pa
}

type payCheck struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Paid    bool   `json:"paid"`
	Queried bool   `json:"queried"`
}

func (pa *payApp) payCheck(tok, no string) payCheck {
	pa.t.Helper()
	var pc payCheck
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + no + "/pay/check", Token: tok}).Decode(pa.t, &pc)
	if pc.OrderNo != no {
		pa.t.Fatalf("pay/check answered for %q, want %q", pc.OrderNo, no)
	}
	return pc
}

// metric returns the value of the series name{labels} on /metrics (0 when
// absent); labels as Prometheus writes them, sorted: `kind="payment",outcome="applied"`.
func (pa *payApp) metric(name, labels string) float64 {
	pa.t.Helper()
	body := pa.must(200, req{Method: "GET", Path: "/metrics"}).Body
	want := name
	if labels != "" {
		want += "{" + labels + "}"
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, want+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				pa.t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestPayCheckLateNotification: the shopper back from wx.requestPayment asks
// before WeChat Pay's notification arrives: the order is paid at once, by a
// query, exactly once; the late notification then changes nothing; another
// shopper's order is 404; an unpaid order is queried at most once per 2 s.
func TestPayCheckLateNotification(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("back-from-pay")
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	pa.sim().DelayNextNotification(o.OrderNo+"-1", 1500*time.Millisecond)
	pa.shopperPays(o.OrderNo)

	if pc := pa.payCheck(tok, o.OrderNo); !pc.Paid || pc.Status != "paid" || !pc.Queried {
		t.Fatalf("pay/check after paying: %+v", pc)
	}
	if len(pa.deliveries()) != 0 {
		t.Fatal("the notification came before pay/check: the test proves nothing")
	}
	if n := pa.count(`SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1 AND p.source = 'query'`, o.OrderNo); n != 1 {
		t.Fatalf("payments by query: %d", n)
	}
	if st, res := pa.stockOf(sku); st != 9 || res != 0 || pa.soldOf(sku) != 1 {
		t.Fatalf("stock %d reserved %d sold %d", st, res, pa.soldOf(sku))
	}
	// Idempotent: asked again, the answer is the same and nothing is applied twice.
	if pc := pa.payCheck(tok, o.OrderNo); !pc.Paid || pc.Status != "paid" {
		t.Fatalf("pay/check again: %+v", pc)
	}
	// Only the shopper's own order.
	other, _ := pa.shopper("someone-else")
	pa.must(404, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay/check", Token: other})
	pa.must(404, req{Method: "POST", Path: "/api/v1/shop/orders/NOPE/pay/check", Token: tok})
	pa.must(401, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay/check"})

	// The late notification: acknowledged, a duplicate, nothing changes.
	pa.waitIdle()
	ds := pa.deliveries()
	if len(ds) != 1 || ds[0].Status != 204 {
		t.Fatalf("late notification: %+v", ds)
	}
	if n := pa.payments(o.OrderNo); n != 1 {
		t.Fatalf("payments after the late notification: %d", n)
	}
	if n := pa.count(`SELECT count(*) FROM payment_notifications WHERE out_no = $1 AND source = 'notification' AND outcome = 'duplicate'`, o.OrderNo+"-1"); n != 1 {
		t.Fatalf("late notification not recorded as a duplicate: %d", n)
	}
	if st, _ := pa.stockOf(sku); st != 9 || pa.soldOf(sku) != 1 {
		t.Fatalf("stock %d sold %d after the late notification", st, pa.soldOf(sku))
	}

	// Unpaid: asked once, then answered from the database within 2 s.
	u := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, u.OrderNo)
	notpay := pa.metric("yutang_wxpay_queries_total", `result="NOTPAY"`)
	if pc := pa.payCheck(tok, u.OrderNo); pc.Paid || pc.Status != "pending_payment" || !pc.Queried {
		t.Fatalf("pay/check unpaid: %+v", pc)
	}
	if pc := pa.payCheck(tok, u.OrderNo); pc.Paid || pc.Queried {
		t.Fatalf("pay/check unpaid again within 2 s: %+v", pc)
	}
	if d := pa.metric("yutang_wxpay_queries_total", `result="NOTPAY"`) - notpay; d != 1 {
		t.Fatalf("%v NOTPAY queries for two checks within 2 s, want 1", d)
	}
	pa.checkInvariants()
}

// TestPaymentMetrics: /metrics counts a paid notification, a forged one, a
// query, a worker's failure and a reconciliation discrepancy.
func TestPaymentMetrics(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	const notes = "yutang_wxpay_notifications_total"
	applied, forged := `kind="payment",outcome="applied"`, `kind="payment",outcome="bad_signature"`
	if pa.metric(notes, applied) != 0 || pa.metric(notes, forged) != 0 {
		t.Fatal("counters not at zero")
	}
	sku := pa.sku(10)
	tok, _ := pa.shopper("metered")

	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if v := pa.metric(notes, applied); v != 1 {
		t.Fatalf("applied %v after a paid notification", v)
	}

	// Forged first, then WeChat's genuine retry.
	f := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, f.OrderNo)
	_ = pa.sim().InjectNotificationFault(f.OrderNo+"-1", wxpaysim.FaultForge)
	pa.shopperPays(f.OrderNo)
	pa.waitIdle()
	if v := pa.metric(notes, forged); v != 1 {
		t.Fatalf("bad_signature %v after a forged notification", v)
	}
	if v := pa.metric(notes, applied); v != 2 {
		t.Fatalf("applied %v after the genuine retry", v)
	}
	// The genuine retry's duplicate delivery (none here) would count as duplicate.
	if v := pa.metric(notes, `kind="payment",outcome="duplicate"`); v != 0 {
		t.Fatalf("duplicate %v", v)
	}

	// A query, by its result.
	q := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, q.OrderNo)
	pa.payCheck(tok, q.OrderNo)
	if v := pa.metric("yutang_wxpay_queries_total", `result="NOTPAY"`); v != 1 {
		t.Fatalf("NOTPAY queries %v", v)
	}
	pa.shopperPays(q.OrderNo)
	pa.waitIdle() // the notification pays it; a check now answers from the database
	if pc := pa.payCheck(tok, q.OrderNo); !pc.Paid || pc.Queried {
		t.Fatalf("pay/check of a paid order: %+v", pc)
	}
	if v := pa.metric("yutang_wxpay_queries_total", `result="SUCCESS"`); v != 0 {
		t.Fatalf("SUCCESS queries %v: a paid order was queried", v)
	}

	// A worker that fails, run as serve runs workers.
	ctx, cancel := context.WithCancel(withWorkerFailures(context.Background(), pa.app.pay.metrics.WorkerFailed))
	failures := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every(time.Millisecond, slog.New(slog.DiscardHandler), "test.broken", func(context.Context) error {
			select {
			case failures <- struct{}{}:
			default:
			}
			return errors.New("broken")
		})(ctx)
	}()
	<-failures
	<-failures
	cancel()
	<-done
	if v := pa.metric("yutang_worker_failures_total", `worker="test.broken"`); v < 1 {
		t.Fatalf("worker failures %v", v)
	}

	// The reconciler's hook.
	pa.app.pay.metrics.ReconciliationDiscrepancy("amount_mismatch")
	if v := pa.metric("yutang_wxpay_reconciliation_discrepancies_total", `kind="amount_mismatch"`); v != 1 {
		t.Fatalf("discrepancies %v", v)
	}
	// Public-key mode: no platform certificate to expire.
	body := string(pa.must(200, req{Method: "GET", Path: "/metrics"}).Body)
	if strings.Contains(body, "yutang_wxpay_platform_certificate_expiry_timestamp_seconds{") {
		t.Fatal("certificate expiry shown in public-key mode")
	}
}

// TestCertificateModeRotation: the mall in certificate mode against the
// simulator. A rotation is picked up from the first notification signed by
// the new certificate; a notification with a serial WeChat Pay does not list
// is refused (401), changes nothing and downloads nothing more within the
// minute; the expiry of each trusted certificate is on /metrics.
func TestCertificateModeRotation(t *testing.T) {
	t.Parallel()
	pa := newPayAppWith(t, 100000, func(c *Config) { c.WxPay.Mode = "certificate" })
	sim, gw := pa.sim(), pa.app.pay.gw
	listed := sim.PlatformCertificates()
	if len(listed) != 2 || !listed[0].Signing {
		t.Fatalf("simulator certificates: %+v", listed)
	}
	sku := pa.sku(10)
	tok, _ := pa.shopper("certified")
	paidBy := func(before func()) (string, []delivery) {
		t.Helper()
		o := pa.placeOrder(tok, sku, 1)
		pa.pay(tok, o.OrderNo)
		if before != nil {
			before()
		}
		n := len(pa.deliveries())
		pa.shopperPays(o.OrderNo)
		pa.waitIdle()
		return o.OrderNo, pa.deliveries()[n:]
	}

	// The configured certificate signs.
	if no, ds := paidBy(nil); pa.orderStatus(no) != "paid" || len(ds) != 1 || ds[0].Status != 204 {
		t.Fatalf("certificate mode: %s, %+v", pa.orderStatus(no), ds)
	}
	expiry := pa.metric("yutang_wxpay_platform_certificate_expiry_timestamp_seconds", `serial="`+listed[0].Serial+`"`)
	// Before any download the gateway knows the configured PEM's NotAfter.
	held := gw.PlatformCertificates()
	if len(held) != 1 || held[0].Serial != listed[0].Serial || expiry != float64(held[0].Expires.Unix()) ||
		held[0].Expires.Before(time.Now().AddDate(4, 0, 0)) {
		t.Fatalf("expiry of %s on /metrics: %v; gateway holds %+v", listed[0].Serial, expiry, held)
	}

	// Rotation between prepay and payment.
	var rotated wxpaysim.PlatformCert
	before := sim.CertificateDownloads()
	no, ds := paidBy(func() {
		var err error
		if rotated, err = sim.RotatePlatformCertificate(); err != nil {
			t.Fatal(err)
		}
	})
	if pa.orderStatus(no) != "paid" || len(ds) != 1 || ds[0].Status != 204 || ds[0].Header.Get("Wechatpay-Serial") != rotated.Serial {
		t.Fatalf("after rotation: %s, %+v", pa.orderStatus(no), ds)
	}
	if n := sim.CertificateDownloads() - before; n != 1 {
		t.Fatalf("rotation picked up with %d downloads, want 1", n)
	}
	if pa.metric("yutang_wxpay_platform_certificate_expiry_timestamp_seconds", `serial="`+rotated.Serial+`"`) == 0 {
		t.Fatal("the rotated certificate's expiry is not on /metrics")
	}

	// An unknown serial: refused on every retry, nothing changes.
	stranger, err := sim.AddPlatformCertificate(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.RetirePlatformCertificate(stranger.Serial); err != nil {
		t.Fatal(err)
	}
	heldSerials := serialsOf(gw.PlatformCertificates())
	before = sim.CertificateDownloads()
	forgedBefore := pa.metric("yutang_wxpay_notifications_total", `kind="payment",outcome="bad_signature"`)
	no, ds = paidBy(func() {
		if err := sim.SignWith(stranger.Serial); err != nil {
			t.Fatal(err)
		}
	})
	if len(ds) < 2 {
		t.Fatalf("unknown serial: %d deliveries, want the first and retries", len(ds))
	}
	for _, d := range ds {
		if d.Status != 401 || d.Header.Get("Wechatpay-Serial") != stranger.Serial {
			t.Fatalf("unknown serial answered %d (%s)", d.Status, d.Header.Get("Wechatpay-Serial"))
		}
	}
	if s := pa.orderStatus(no); s != "pending_payment" || pa.payments(no) != 0 {
		t.Fatalf("an unknown serial changed the order: %s, %d payments", s, pa.payments(no))
	}
	if n := sim.CertificateDownloads() - before; n != 0 {
		t.Fatalf("unknown serial within a minute of a download: %d downloads, want 0", n)
	}
	if got := serialsOf(gw.PlatformCertificates()); !slices.Equal(got, heldSerials) {
		t.Fatalf("certificates changed: %v, were %v", got, heldSerials)
	}
	if d := pa.metric("yutang_wxpay_notifications_total", `kind="payment",outcome="bad_signature"`) - forgedBefore; d != float64(len(ds)) {
		t.Fatalf("bad_signature counted %v, want %d", d, len(ds))
	}
	// WeChat Pay signs with its real certificate again: the shopper's check
	// learns the payment the refused notifications carried.
	if err := sim.SignWith(rotated.Serial); err != nil {
		t.Fatal(err)
	}
	if pc := pa.payCheck(tok, no); !pc.Paid {
		t.Fatalf("pay/check after the refused notifications: %+v", pc)
	}
	pa.checkInvariants()
}

func serialsOf(cs []payments.PlatformCert) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Serial)
	}
	slices.Sort(out)
	return out
}

// TestRefundMetrics: a payment that lands after its order was cancelled is
// refunded; /metrics shows the refund's states as WeChat Pay reported them
// (accepted PROCESSING, then the SUCCESS notification) and the payment
// notification's refund_due outcome.
func TestRefundMetrics(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	pa.paidAfterCancel("refunded")
	eventually(t, 10*time.Second, "the refund's SUCCESS notification", func() bool {
		return pa.metric("yutang_wxpay_refund_states_total", `source="notification",status="SUCCESS"`) == 1
	})
	if v := pa.metric("yutang_wxpay_refund_states_total", `source="create",status="PROCESSING"`); v != 1 {
		t.Fatalf("refunds accepted PROCESSING: %v", v)
	}
	if v := pa.metric("yutang_wxpay_notifications_total", `kind="payment",outcome="refund_due"`); v != 1 {
		t.Fatalf("refund_due notifications: %v", v)
	}
	pa.waitIdle()
	if v := pa.metric("yutang_wxpay_notifications_total", `kind="refund",outcome="applied"`); v != 1 {
		t.Fatalf("applied refund notifications: %v", v)
	}
}
