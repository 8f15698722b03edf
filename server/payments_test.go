package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// payApp is a test app whose PublicURL is live before wiring: a proxy
// listener, bound first, forwards to the app's handler. The simulator's
// notifications and the gateway's calls to /_dev/wechatpay go through it,
// and it records every webhook delivery (body, headers and our answer) so a
// test can replay one.
type payApp struct {
	*testApp
	mu        sync.Mutex
	delivered []delivery
	capture   atomic.Bool // answer webhooks 204 without forwarding (benchmark setup)
}

type delivery struct {
	Path   string
	Header http.Header
	Body   []byte
	Status int
	Answer []byte
}

// newPayApp starts a test app against the simulator with its retry
// schedule and refund delay divided by speedup.
func newPayApp(t *testing.T, speedup int64) *payApp {
	t.Helper()
	pa := &payApp{}
	url, h := pa.listen(t)
	pa.testApp = newTestApp(t, func(c *Config) {
		c.PublicURL = url
		c.WxPay.SimSpeedup = speedup
	})
	h.Store(handlerBox{pa.srv.Config.Handler})
	return pa
}

type handlerBox struct{ http.Handler }

// listen binds the proxy and returns its URL and the slot for the handler.
func (pa *payApp) listen(t testing.TB) (string, *atomic.Value) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var h atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next, _ := h.Load().(handlerBox)
		if next.Handler == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/webhooks/") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		d := delivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: http.StatusNoContent}
		if !pa.capture.Load() {
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			d.Status, d.Answer = rec.Code, rec.Body.Bytes()
		}
		pa.mu.Lock()
		pa.delivered = append(pa.delivered, d)
		pa.mu.Unlock()
		w.WriteHeader(d.Status)
		_, _ = w.Write(d.Answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), &h
}

func (pa *payApp) deliveries() []delivery {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	return append([]delivery(nil), pa.delivered...)
}

func (pa *payApp) sim() *wxpaysim.Simulator { return pa.app.pay.sim }

func (pa *payApp) waitIdle() {
	pa.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pa.sim().WaitIdle(ctx); err != nil {
		pa.t.Fatalf("simulator not idle: %v", err)
	}
}

// cashierAt is the app's cashier with its clock moved by d (workers only).
func (pa *payApp) cashierAt(d time.Duration) *cashier.Service {
	c := *pa.app.svc.Cashier
	c.Now = func() time.Time { return time.Now().Add(d) }
	return &c
}

// placeOrder places a delivery order for qty units of sku and returns it.
func (pa *payApp) placeOrder(tok string, sku int64, qty int) orderAnswer {
	pa.t.Helper()
	return pa.placeWith(tok, sku, qty, nil)
}

// sku makes one on-sale SKU at 1000 fen with stock (orderSKUs, with the
// product's derived min price kept true for the catalog's invariant).
func (pa *payApp) sku(stock int) int64 {
	pa.t.Helper()
	id := pa.orderSKUs(1, stock)[0]
	if _, err := pa.app.db.Exec(`UPDATE products p SET min_price_fen = s.price_fen FROM skus s WHERE s.id = $1 AND p.id = s.product_id`, id); err != nil {
		pa.t.Fatal(err)
	}
	return id
}

type requestPayment struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

func (pa *payApp) pay(tok, no string) requestPayment {
	pa.t.Helper()
	r := pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + no + "/pay", Token: tok})
	var rp requestPayment
	r.Decode(pa.t, &rp)
	if len(r.JSON(pa.t)) != 5 || rp.TimeStamp == "" || rp.NonceStr == "" || !strings.HasPrefix(rp.Package, "prepay_id=") ||
		rp.SignType != "RSA" || rp.PaySign == "" {
		pa.t.Fatalf("requestPayment: %s", r.Body)
	}
	return rp
}

// shopperPays pays the order's current attempt at the simulator, as the
// shopper would, through the development route.
func (pa *payApp) shopperPays(no string) {
	pa.t.Helper()
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/orders/" + no + "/pay"})
}

func (pa *payApp) orderStatus(no string) string {
	pa.t.Helper()
	var s string
	if err := pa.app.db.Get(&s, `SELECT status FROM orders WHERE order_no = $1`, no); err != nil {
		pa.t.Fatal(err)
	}
	return s
}

func (pa *payApp) count(query string, args ...any) int {
	pa.t.Helper()
	var n int
	if err := pa.app.db.Get(&n, query, args...); err != nil {
		pa.t.Fatal(err)
	}
	return n
}

func (pa *payApp) payments(no string) int {
	return pa.count(`SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, no)
}

func (pa *payApp) soldOf(sku int64) int {
	return pa.count(`SELECT sold FROM skus WHERE id = $1`, sku)
}

func TestPayNotifyPaid(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("payer")
	o := pa.placeOrder(tok, sku, 2) // 2000 + 1000 freight
	if o.PayableFen != 3000 {
		t.Fatalf("payable %d", o.PayableFen)
	}
	rp := pa.pay(tok, o.OrderNo)
	// A valid prepay is handed out again without asking WeChat Pay.
	if again := pa.pay(tok, o.OrderNo); again != rp {
		t.Fatalf("prepay not reused: %+v vs %+v", again, rp)
	}
	trade, ok := pa.sim().Trade(o.OrderNo + "-1")
	if !ok || len(trade.PrepayIDs) != 1 || trade.Total != 3000 || "prepay_id="+trade.PrepayIDs[0] != rp.Package {
		t.Fatalf("trade %+v", trade)
	}
	// Another shopper cannot pay it.
	other, _ := pa.shopper("stranger")
	pa.must(404, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: other})

	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "paid" {
		t.Fatalf("status %s", s)
	}
	if st, res := pa.stockOf(sku); st != 8 || res != 0 || pa.soldOf(sku) != 2 {
		t.Fatalf("stock %d reserved %d sold %d", st, res, pa.soldOf(sku))
	}
	if n := pa.payments(o.OrderNo); n != 1 {
		t.Fatalf("payments %d", n)
	}
	if n := pa.count(`SELECT count(*) FROM payment_notifications WHERE out_no = $1 AND outcome = 'applied'`, o.OrderNo+"-1"); n != 1 {
		t.Fatalf("notification log: %d applied", n)
	}
	got := pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + o.OrderNo, Token: tok}).JSON(t)
	if got["status"] != "paid" || got["paid_at"] == nil {
		t.Fatalf("order: %v", got)
	}
	// Paying a paid order is refused.
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: tok}); r.Status != 409 || r.ErrCode(t) != "order_already_paid" {
		t.Fatalf("pay again: %d %s", r.Status, r.Body)
	}
	pa.checkInvariants()
}

// TestPayAmountChangedNewAttempt: when the order's payable changes, the old
// out_trade_no is closed at WeChat Pay and a new attempt is made.
func TestPayAmountChangedNewAttempt(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("changer")
	o := pa.placeOrder(tok, sku, 1)
	first := pa.pay(tok, o.OrderNo)
	if _, err := pa.app.db.Exec(`UPDATE orders SET freight_fen = freight_fen + 100, payable_fen = payable_fen + 100 WHERE order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	second := pa.pay(tok, o.OrderNo)
	if second.Package == first.Package {
		t.Fatal("same prepay after the amount changed")
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.State != "CLOSED" {
		t.Fatalf("old trade %s", tr.State)
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-2"); tr.State != "NOTPAY" || tr.Total != o.PayableFen+100 {
		t.Fatalf("new trade %+v", tr)
	}
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "paid" {
		t.Fatalf("status %s", s)
	}
}

// TestPayNotificationFiveTimes: WeChat's duplicate plus our own replays of
// the same signed notification, some at once: one payment.
func TestPayNotificationFiveTimes(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("dup")
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	if err := pa.sim().InjectNotificationFault(o.OrderNo+"-1", wxpaysim.FaultDuplicate); err != nil {
		t.Fatal(err)
	}
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	ds := pa.deliveries()
	if len(ds) != 2 || ds[0].Status != 204 || ds[1].Status != 204 {
		t.Fatalf("deliveries %+v", ds)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hr, _ := http.NewRequest("POST", pa.srv.URL+ds[0].Path, bytes.NewReader(ds[0].Body))
			hr.Header = ds[0].Header.Clone()
			res, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != 204 {
				t.Errorf("replay: %d", res.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := pa.payments(o.OrderNo); n != 1 {
		t.Fatalf("payments %d", n)
	}
	if n := pa.count(`SELECT count(*) FROM payment_notifications WHERE out_no = $1`, o.OrderNo+"-1"); n != 5 {
		t.Fatalf("notification log has %d entries, want 5", n)
	}
	if pa.soldOf(sku) != 1 {
		t.Fatalf("sold %d", pa.soldOf(sku))
	}
	pa.checkInvariants()
}

// TestPayNotificationDroppedReconciled: the worker finds the payment.
func TestPayNotificationDroppedReconciled(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("dropped")
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	_ = pa.sim().InjectNotificationFault(o.OrderNo+"-1", wxpaysim.FaultDrop)
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" {
		t.Fatalf("status %s before reconciling", s)
	}
	ctx := context.Background()
	// Too early: a prepay younger than QueryAfter (10 s) is left to the notification.
	if n, err := pa.app.svc.Cashier.Reconcile(ctx, 10); err != nil || n != 0 {
		t.Fatalf("early reconcile: %d, %v", n, err)
	}
	if n, err := pa.cashierAt(2*time.Minute).Reconcile(ctx, 10); err != nil || n != 1 {
		t.Fatalf("reconcile: %d, %v", n, err)
	}
	if s := pa.orderStatus(o.OrderNo); s != "paid" {
		t.Fatalf("status %s", s)
	}
	if n := pa.count(`SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1 AND p.source = 'query'`, o.OrderNo); n != 1 {
		t.Fatalf("payments by query: %d", n)
	}
	// Running it again (another instance, later) finds nothing to do.
	if n, err := pa.cashierAt(10*time.Minute).Reconcile(ctx, 10); err != nil || n != 0 {
		t.Fatalf("second reconcile: %d, %v", n, err)
	}
	pa.checkInvariants()
}

// TestPayNotificationSpoiled: forged, SIGNTEST and stale notifications are
// refused with 401 FAIL and change nothing; WeChat's genuine retry then
// pays the order.
func TestPayNotificationSpoiled(t *testing.T) {
	t.Parallel()
	for _, f := range []wxpaysim.Fault{wxpaysim.FaultForge, wxpaysim.FaultSignTest, wxpaysim.FaultStale} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			pa := newPayApp(t, 10) // the first retry comes 1.5 s later
			sku := pa.sku(10)
			tok, _ := pa.shopper("spoiled")
			o := pa.placeOrder(tok, sku, 1)
			pa.pay(tok, o.OrderNo)
			_ = pa.sim().InjectNotificationFault(o.OrderNo+"-1", f)
			pa.shopperPays(o.OrderNo)
			eventually(t, 5*time.Second, "the spoiled delivery", func() bool { return len(pa.deliveries()) >= 1 })
			d := pa.deliveries()[0]
			if d.Status != 401 || !strings.Contains(string(d.Answer), `"code":"FAIL"`) {
				t.Fatalf("spoiled delivery answered %d %s", d.Status, d.Answer)
			}
			if s := pa.orderStatus(o.OrderNo); s != "pending_payment" || pa.payments(o.OrderNo) != 0 || pa.soldOf(sku) != 0 {
				t.Fatalf("a %s notification changed the order: %s", f, s)
			}
			pa.waitIdle()
			if s := pa.orderStatus(o.OrderNo); s != "paid" {
				t.Fatalf("after the genuine retry: %s", s)
			}
		})
	}
}

// TestPayWrongAmountNotification: a verified notification whose amount is
// not the attempt's changes nothing; it is acknowledged (204, WeChat's
// retries cannot fix it) and recorded as an alert.
func TestPayWrongAmountNotification(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("amount")
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	if _, err := pa.app.db.Exec(`UPDATE payment_attempts SET amount_fen = amount_fen - 1`); err != nil {
		t.Fatal(err)
	}
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if ds := pa.deliveries(); len(ds) != 1 || ds[0].Status != 204 {
		t.Fatalf("deliveries %+v", ds)
	}
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" || pa.payments(o.OrderNo) != 0 || pa.soldOf(sku) != 0 {
		t.Fatalf("mismatch changed the order: %s", s)
	}
	if n := pa.count(`SELECT count(*) FROM payment_notifications WHERE outcome = 'alert_amount_mismatch'`); n != 1 {
		t.Fatalf("alerts %d", n)
	}
}

// TestPayOrderExpired: the worker closes the attempt at WeChat Pay, then
// cancels the order and releases its stock.
func TestPayOrderExpired(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	tok, _ := pa.shopper("late")
	o := pa.placeOrder(tok, sku, 3)
	pa.pay(tok, o.OrderNo)
	if _, err := pa.app.db.Exec(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_no = $1`, o.OrderNo); err != nil {
		t.Fatal(err)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: tok}); r.Status != 409 || r.ErrCode(t) != "order_expired" {
		t.Fatalf("pay expired: %d %s", r.Status, r.Body)
	}
	n, err := pa.app.expireOrders(context.Background(), 10)
	if err != nil || n != 1 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.State != "CLOSED" {
		t.Fatalf("trade %s", tr.State)
	}
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}
	if st, res := pa.stockOf(sku); st != 10 || res != 0 {
		t.Fatalf("stock %d reserved %d", st, res)
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts WHERE status = 'closed'`); n != 1 {
		t.Fatalf("closed attempts %d", n)
	}
	// The shopper can no longer pay it at WeChat either.
	if r := pa.do(req{Method: "POST", Path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay"}); r.Status != 409 {
		t.Fatalf("dev pay after close: %d %s", r.Status, r.Body)
	}
	pa.checkInvariants()
}

// paidAfterCancel places and prepays an order of shopper, cancels it and
// then pays it at WeChat Pay: the attempt was closed here without WeChat
// Pay's word (a cancel closes at WeChat Pay first, so only such a close lets
// a payment through) while the shopper had the payment sheet open.
func (pa *payApp) paidAfterCancel(shopper string) orderAnswer {
	pa.t.Helper()
	tok, _ := pa.shopper(shopper)
	o := pa.placeOrder(tok, pa.sku(10), 1)
	pa.pay(tok, o.OrderNo)
	// Closed here (as if by the expiry sweep) but not yet queried: the query
	// is put off so that WeChat Pay's notification, not the reconciler's
	// query of a closed attempt, applies the payment (under a loaded
	// machine's delays the query could come first, and TestRefundMetrics
	// counted no refund_due notification).
	pa.sql(`UPDATE payment_attempts SET status = 'closed', closed_at = now(), next_check_at = now() + interval '1 hour'
WHERE out_trade_no = $1`, o.OrderNo+"-1")
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok})
	if err := pa.sim().Pay(o.OrderNo+"-1", ""); err != nil {
		pa.t.Fatal(err)
	}
	return o
}

// TestPaidAfterCancelRefunded: a payment arriving for a cancelled order is
// recorded and refunded in full, automatically.
func TestPaidAfterCancelRefunded(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	o := pa.paidAfterCancel("cancelled")
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}
	var r struct {
		Kind   string `db:"kind"`
		Amount int64  `db:"amount_fen"`
		Status string `db:"status"`
	}
	eventually(t, 5*time.Second, "the refund", func() bool {
		_ = pa.app.db.Get(&r, `SELECT r.kind, r.amount_fen, r.status FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.order_no = $1`, o.OrderNo)
		return r.Status == "succeeded"
	})
	if r.Kind != "paid_after_cancel" || r.Amount != o.PayableFen {
		t.Fatalf("refund %+v", r)
	}
	if n := pa.count(`SELECT count(*) FROM payments WHERE outcome = 'refund_due'`); n != 1 {
		t.Fatalf("refund_due payments %d", n)
	}
	if pa.soldOf(o.Items[0].SKUID) != 0 {
		t.Fatal("stock sold for a cancelled order")
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.Refunded != o.PayableFen {
		t.Fatalf("simulator refunded %d", tr.Refunded)
	}
	pa.checkInvariants()
}

// TestRefundWorkerCompletesProcessing: a refund whose notification is lost
// is completed by the refund worker's query.
func TestRefundWorkerCompletesProcessing(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	pa.lostRefundNotice("worker", 1)
	if n := pa.count(`SELECT count(*) FROM refunds WHERE status = 'processing'`); n != 1 {
		t.Fatalf("processing refunds %d", n)
	}
	n, err := pa.cashierAt(time.Minute).SyncRefunds(context.Background(), 10)
	if err != nil || n != 1 {
		t.Fatalf("sync refunds: %d, %v", n, err)
	}
	if n := pa.count(`SELECT count(*) FROM after_sales_requests WHERE status = 'refunded'`); n != 1 {
		t.Fatalf("refunded requests %d", n)
	}
	pa.checkInvariants()
}

// markPaid pays an order as WeChat Pay would have, without the simulator:
// it records a payment attempt and applies a successful transaction through
// the cashier, the same path as a notification (order paid, stock sold,
// hooks run). For tests of later stages: shipping, after-sales.
func (ta *testApp) markPaid(no string) {
	ta.t.Helper()
	ctx := context.Background()
	c, st := ta.app.svc.Cashier, ta.app.store.Payments()
	o, err := st.Order(ctx, no, 0, false)
	if err != nil {
		ta.t.Fatal(err)
	}
	now := time.Now()
	a, err := st.CreateAttempt(ctx, cashier.Attempt{OrderID: o.ID, OrderNumber: o.Number, TradeType: cashier.TradeJSAPI,
		Amount: o.Due(), OpenID: o.OpenID, Description: "test payment", TimeExpire: o.ExpiresAt, CreatedAt: now})
	if err != nil {
		ta.t.Fatal(err)
	}
	out, detail, err := c.Apply(ctx, payment.Transaction{OutTradeNo: a.OutTradeNo, TransactionID: fmt.Sprintf("4200test%d", now.UnixNano()),
		TradeState: payment.TradeSuccess, TradeType: "JSAPI", AppID: c.AppID, MchID: c.MchID, PayerOpenID: o.OpenID,
		Currency: "CNY", Total: o.Due(), PayerTotal: o.Due(), SuccessTime: now}, cashier.SourceQuery)
	if err != nil || out != cashier.OutcomeApplied {
		ta.t.Fatalf("mark paid: %s %s %v", out, detail, err)
	}
}
