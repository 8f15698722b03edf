package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/yutang/yutang/payments/wxpaysim"
)

// A payment that lands between the last query and the shopper's cancel: the
// cancel closes at WeChat Pay first, learns the trade was paid, applies it
// and refuses to cancel. Nothing is lost, nothing refunded.
func TestCancelPaidBetweenQueryAndClose(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	tok, o := pa.prepaid("paid-before-close")
	pa.paysUnheard(o.OrderNo)
	r := pa.do(req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok, Body: map[string]string{}})
	if r.Status != http.StatusConflict || r.ErrCode(t) != "order_already_paid" {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if s := pa.orderStatus(o.OrderNo); s != "paid" || pa.payments(o.OrderNo) != 1 {
		t.Fatalf("status %s, payments %d", s, pa.payments(o.OrderNo))
	}
	pa.checkInvariants()
}

// WeChat Pay accepts the close and then answers 500: the query after it
// confirms CLOSED, so the shopper's cancel goes through.
func TestCancelCloseAcceptedThen5xx(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	tok, o := pa.prepaid("close-5xx")
	pa.sim().FailNextAPICallsAfterEffect(1, http.StatusInternalServerError)
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok, Body: map[string]string{}})
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.State != "CLOSED" {
		t.Fatalf("trade %s", tr.State)
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts WHERE out_trade_no = $1 AND status = 'closed' AND wx_final`, o.OrderNo+"-1"); n != 1 {
		t.Fatal("attempt not closed for good")
	}
	pa.checkInvariants()
}

// Expiry never cancels an order whose attempt could not be closed: WeChat
// Pay unreachable leaves it pending with its stock; the next round closes
// and cancels it.
func TestExpireKeepsOrderWhenCloseFails(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	_, o := pa.prepaid("expire-fail")
	pa.sql(`UPDATE orders SET expires_at = now() - interval '1 minute' WHERE order_no = $1`, o.OrderNo)
	ctx := context.Background()
	pa.sim().FailNextAPICalls(10, http.StatusServiceUnavailable)
	if _, err := pa.app.expireOrders(ctx, 10); err == nil {
		t.Fatal("expire reported no error with WeChat Pay down")
	}
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" {
		t.Fatalf("cancelled with its attempt still open at WeChat Pay: %s", s)
	}
	pa.sim().FailNextAPICalls(0, 0)
	// The next round, once the first one's lease ran out.
	if _, err := pa.cashierAt(2*time.Minute).Expire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if n, err := pa.app.svc.Orders.CancelExpired(ctx, 10); err != nil || n != 1 {
		t.Fatalf("second round: %d %v", n, err)
	}
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}
	pa.checkInvariants()
}

// An attempt closed here without WeChat Pay's word (an older close, an
// ambiguous answer) whose payment notification was lost, its order then
// cancelled: the reconciler keeps querying closed attempts, finds the
// payment and refunds it.
func TestLostNotificationCancelledOrderRefunded(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	tok, o := pa.prepaid("lost-cancelled")
	pa.paysUnheard(o.OrderNo)
	pa.sql(`UPDATE payment_attempts SET status = 'closed', closed_at = now() WHERE out_trade_no = $1`, o.OrderNo+"-1")
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok, Body: map[string]string{}})
	if n, err := pa.cashierAt(time.Minute).Reconcile(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("reconcile: %d %v", n, err)
	}
	if n := pa.count(`SELECT count(*) FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.order_no = $1 AND r.kind = 'paid_after_cancel'`, o.OrderNo); n != 1 {
		t.Fatalf("refunds %d", n)
	}
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}
	pa.checkInvariants()
}

// prepaid is a shopper's order of one unit, its payment asked for.
func (pa *payApp) prepaid(code string) (string, orderAnswer) {
	pa.t.Helper()
	sku := pa.sku(10)
	tok, _ := pa.shopper(code)
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	return tok, o
}

// paysUnheard pays the order's first attempt at the simulator, its
// notification lost.
func (pa *payApp) paysUnheard(no string) {
	pa.t.Helper()
	_ = pa.sim().InjectNotificationFault(no+"-1", wxpaysim.FaultDrop)
	pa.shopperPays(no)
	pa.waitIdle()
}
