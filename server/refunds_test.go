package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/payments/wxpaysim"
)

type refundAnswer struct {
	ID          int64  `json:"id"`
	OutRefundNo string `json:"out_refund_no"`
	Status      string `json:"status"`
	NeedsPerson bool   `json:"needs_person"`
	Failure     string `json:"failure"`
	WxRefundID  string `json:"wx_refund_id"`
}

type refundList struct {
	Items      []refundAnswer `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// approvedRefund has a shopper of a new SKU ask for one unit back and an
// admin approve it; it returns the refund's out_refund_no as approval left
// it, the after-sales request and the admin's token.
func (pa *payApp) approvedRefund(shopper string) (a afterSalesAnswer, admin string) {
	t := pa.t
	t.Helper()
	sku := pa.sku(10)
	tok, _ := pa.shopper(shopper)
	o := pa.placeOrder(tok, sku, 1)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	eventually(t, 5*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	var itemID int64
	_ = pa.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, o.OrderNo)
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/after-sales", Token: tok,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": 1}}, "reason": "broken"}}).Decode(t, &a)
	admin = pa.staff(identity.RoleAdmin, "")
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", a.ID), Token: admin}).Decode(t, &a)
	if a.Refund == nil {
		t.Fatalf("approval without a refund: %+v", a)
	}
	return a, admin
}

func (pa *payApp) refundStatus(outRefundNo string) (status, failure string) {
	pa.t.Helper()
	if err := pa.app.db.QueryRow(`SELECT status, failure FROM refunds WHERE out_refund_no = $1`, outRefundNo).Scan(&status, &failure); err != nil {
		pa.t.Fatalf("refund %s: %v", outRefundNo, err)
	}
	return status, failure
}

func (pa *payApp) attentionQueue(admin string) refundList {
	var l refundList
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/refunds?status=needs_attention&limit=10", Token: admin}).Decode(pa.t, &l)
	return l
}

// TestRefundNotEnoughRetried: WeChat Pay refuses a refund for a short
// merchant balance (NOT_ENOUGH); it stays pending with the reason noted,
// stays out of the admin queue, and the refund worker resubmits it later
// with the same out_refund_no: it succeeds and the after-sales request is
// refunded.
func TestRefundNotEnoughRetried(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	pa.sim().RefuseNextRefunds(1, wxpaysim.RefuseNotEnough)
	a, admin := pa.approvedRefund("short-balance")
	no := a.Refund.OutRefundNo
	if a.Refund.Status != "pending" {
		t.Fatalf("refund after NOT_ENOUGH is %q, want pending", a.Refund.Status)
	}
	if st, failure := pa.refundStatus(no); st != "pending" || failure == "" {
		t.Fatalf("refund %s %q, want pending with the reason", st, failure)
	}
	if l := pa.attentionQueue(admin); len(l.Items) != 0 {
		t.Fatalf("a NOT_ENOUGH refund is in the admin queue: %+v", l.Items)
	}
	// Not yet due: the worker leaves it alone.
	if n, err := pa.cashierAt(0).SyncRefunds(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("sync before due: %d, %v", n, err)
	}
	if n, err := pa.cashierAt(10*time.Minute).SyncRefunds(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("sync refunds: %d, %v", n, err)
	}
	eventually(t, 10*time.Second, "refund succeeded", func() bool { st, _ := pa.refundStatus(no); return st == "succeeded" })
	if _, failure := pa.refundStatus(no); failure != "" {
		t.Fatalf("succeeded refund keeps failure %q", failure)
	}
	if n := pa.count(`SELECT count(*) FROM after_sales_requests WHERE id = $1 AND status = 'refunded'`, a.ID); n != 1 {
		t.Fatalf("after-sales request not refunded")
	}
	if tr, _ := pa.sim().Trade(pa.outTradeNoOfRefund(no)); tr.Refunded != a.Refund.AmountFen {
		t.Fatalf("simulator refunded %d, want %d", tr.Refunded, a.Refund.AmountFen)
	}
	pa.waitIdle()
	pa.checkInvariants()
}

func (pa *payApp) outTradeNoOfRefund(outRefundNo string) string {
	var s string
	_ = pa.app.db.Get(&s, `SELECT a.out_trade_no FROM refunds r JOIN payments p ON p.id = r.payment_id
JOIN payment_attempts a ON a.id = p.attempt_id WHERE r.out_refund_no = $1`, outRefundNo)
	return s
}

// TestRefundRefusedNeedsAPerson: a refund refused because the shopper's
// account is abnormal is not dropped: it needs attention, keeps its amount,
// says why in the admin queue, the worker leaves it alone; an admin retries
// it (audited) with the same out_refund_no and it succeeds.
func TestRefundRefusedNeedsAPerson(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	pa.sim().RefuseNextRefunds(1, wxpaysim.RefuseUserAccountAbnormal)
	a, admin := pa.approvedRefund("frozen-account")
	no := a.Refund.OutRefundNo
	if a.Refund.Status != "needs_attention" {
		t.Fatalf("refund after USER_ACCOUNT_ABNORMAL is %q", a.Refund.Status)
	}
	l := pa.attentionQueue(admin)
	if len(l.Items) != 1 || l.Items[0].OutRefundNo != no || !l.Items[0].NeedsPerson || l.Items[0].Failure == "" {
		t.Fatalf("admin queue %+v", l.Items)
	}
	if n, err := pa.cashierAt(time.Hour).SyncRefunds(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("the worker touched a refund that needs a person: %d, %v", n, err)
	}
	pa.checkInvariants()
	pa.must(400, req{Method: "GET", Path: "/api/v1/admin/refunds?status=nonsense", Token: admin})
	pa.must(409, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/refunds/%d/apply-abnormal", l.Items[0].ID), Token: admin,
		Body: map[string]any{"type": "MERCHANT_BANK_CARD"}})

	var r refundAnswer
	pa.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/refunds/%d/retry", l.Items[0].ID), Token: admin}).Decode(t, &r)
	if r.Status != "processing" || r.OutRefundNo != no {
		t.Fatalf("retried refund %+v", r)
	}
	pa.must(409, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/refunds/%d/retry", l.Items[0].ID), Token: admin})
	eventually(t, 10*time.Second, "refund succeeded", func() bool { st, _ := pa.refundStatus(no); return st == "succeeded" })
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'refund.retry' AND entity_id = $1`, fmt.Sprint(r.ID)); n != 1 {
		t.Fatalf("retry audited %d times", n)
	}
	if l := pa.attentionQueue(admin); len(l.Items) != 0 {
		t.Fatalf("queue after the retry %+v", l.Items)
	}
	pa.waitIdle()
	pa.checkInvariants()
}

// TestAbnormalRefundReapplied: WeChat Pay accepts a refund and it ends
// ABNORMAL (the shopper's card is gone); it appears in the admin queue; an
// admin re-applies it to the shopper's bank card through
// apply-abnormal-refund (account and name encrypted, audited without them);
// WeChat Pay completes it and the order line is refunded.
func TestAbnormalRefundReapplied(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	pa.sim().AbnormalNextRefunds(1)
	a, admin := pa.approvedRefund("abnormal")
	no := a.Refund.OutRefundNo
	eventually(t, 10*time.Second, "refund abnormal", func() bool { st, _ := pa.refundStatus(no); return st == "abnormal" })
	l := pa.attentionQueue(admin)
	if len(l.Items) != 1 || l.Items[0].Status != "abnormal" || l.Items[0].WxRefundID == "" {
		t.Fatalf("admin queue %+v", l.Items)
	}
	id := l.Items[0].ID
	path := fmt.Sprintf("/api/v1/admin/refunds/%d/apply-abnormal", id)
	pa.must(400, req{Method: "POST", Path: path, Token: admin, Body: map[string]any{"type": "USER_BANK_CARD"}})
	pa.must(400, req{Method: "POST", Path: path, Token: admin, Body: map[string]any{"type": "CASH"}})
	pa.must(409, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/refunds/%d/retry", id), Token: admin})
	var r refundAnswer
	pa.must(200, req{Method: "POST", Path: path, Token: admin, Body: map[string]any{"type": "USER_BANK_CARD",
		"bank_type": "ICBC_DEBIT", "bank_account": "6222020202020202", "real_name": "张三"}}).Decode(t, &r)
	if r.Status != "processing" {
		t.Fatalf("re-applied refund %+v", r)
	}
	eventually(t, 10*time.Second, "refund succeeded", func() bool { st, _ := pa.refundStatus(no); return st == "succeeded" })
	if n := pa.count(`SELECT count(*) FROM after_sales_requests WHERE id = $1 AND status = 'refunded'`, a.ID); n != 1 {
		t.Fatalf("after-sales request not refunded")
	}
	var after string
	_ = pa.app.db.Get(&after, `SELECT after::text FROM audit_log WHERE action = 'refund.apply_abnormal' AND entity_id = $1`, fmt.Sprint(id))
	if after == "" || containsAny(after, "6222020202020202", "张三") {
		t.Fatalf("audit of the re-application: %q", after)
	}
	pa.must(409, req{Method: "POST", Path: path, Token: admin, Body: map[string]any{"type": "MERCHANT_BANK_CARD"}})
	pa.waitIdle()
	pa.checkInvariants()
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
