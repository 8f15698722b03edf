package main

import (
	"context"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/payment"
)

// TestMemberTopUpRefund: an operator refunds a paid top-up through WeChat
// Pay (the simulator): principal only, minus what the card spent; the
// bonus is forfeited as a ledger entry; the refund notification, routed to
// membership by its out_refund_no, settles it once; a second refund, an
// unpaid top-up and an unknown one are refused; check stays clean.
func TestMemberTopUpRefund(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	ops := pa.staff(identity.RoleOperator, "")
	var pkg struct {
		ID int64 `json:"id"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/topup-packages", Token: ops,
		Body: map[string]any{"name": "充50送5", "pay_fen": 5000, "bonus_fen": 500}}).Decode(t, &pkg)
	tok, _ := pa.member("topup-refund")
	var tu struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/topups", Token: tok, Body: map[string]any{"package_id": pkg.ID}}).Decode(t, &tu)
	// Not paid yet: nothing to refund.
	path := "/api/v1/admin/topups/" + tu.OutTradeNo + "/refund"
	if r := pa.do(req{Method: "POST", Path: path, Token: ops, Body: map[string]any{}}); r.ErrCode(t) != "topup_not_paid" {
		t.Fatalf("refund of an unpaid top-up: %d %s", r.Status, r.Body)
	}
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/trades/" + tu.OutTradeNo + "/pay"})
	eventually(t, 10*time.Second, "the top-up credited", func() bool { return pa.card(tok).BalanceFen == 5500 })

	// An order of 1000 + 1000 freight paid by stored value, principal first.
	o := pa.placeWith(tok, sku, 1, map[string]any{"balance_fen": 100000})
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: tok})
	if c := pa.card(tok); c.PrincipalFen != 3000 || c.BonusFen != 500 {
		t.Fatalf("after spending: %+v", c)
	}

	// Refund: 3000 principal back through WeChat Pay, 500 bonus forfeited.
	var rf struct {
		OutRefundNo string `json:"out_refund_no"`
		AmountFen   int64  `json:"amount_fen"`
		ForfeitFen  int64  `json:"forfeit_fen"`
		Status      string `json:"status"`
	}
	pa.must(201, req{Method: "POST", Path: path, Token: ops, Body: map[string]any{"reason": "顾客要求退储值"}}).Decode(t, &rf)
	if rf.OutRefundNo != tu.OutTradeNo+"R01" || rf.AmountFen != 3000 || rf.ForfeitFen != 500 {
		t.Fatalf("refund %+v", rf)
	}
	if c := pa.card(tok); c.PrincipalFen != 0 || c.BonusFen != 0 {
		t.Fatalf("after asking for the refund: %+v", c)
	}
	eventually(t, 10*time.Second, "the top-up refund succeeded", func() bool {
		return pa.count(`SELECT count(*) FROM member_topup_refunds WHERE out_refund_no = $1 AND status = 'succeeded'`, rf.OutRefundNo) == 1
	})
	if tr, _ := pa.sim().Trade(tu.OutTradeNo); tr.Refunded != 3000 {
		t.Fatalf("WeChat Pay refunded %d", tr.Refunded)
	}
	// The notification again: routed to membership, applied once.
	res, err := pa.app.pay.gw.QueryRefund(context.Background(), rf.OutRefundNo)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pa.app.svc.Cashier.HandleRefundNotice(context.Background(),
		payment.RefundNotice{EventID: "replay", EventType: payment.EventRefundSuccess, Refund: res})
	if err != nil || out != cashier.OutcomeDuplicate {
		t.Fatalf("replayed top-up refund notification: %s %v", out, err)
	}
	var l struct {
		Items []struct {
			Kind         string `json:"kind"`
			PrincipalFen int64  `json:"principal_fen"`
			BonusFen     int64  `json:"bonus_fen"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/ledger?kind=balance", Token: tok}).Decode(t, &l)
	if len(l.Items) != 4 || l.Items[0].Kind != "forfeit" || l.Items[0].BonusFen != -500 ||
		l.Items[1].Kind != "topup_refund" || l.Items[1].PrincipalFen != -3000 {
		t.Fatalf("balance ledger %+v", l)
	}
	pa.checkInvariants()

	// Refunded already; unknown top-ups.
	if r := pa.do(req{Method: "POST", Path: path, Token: ops, Body: map[string]any{}}); r.ErrCode(t) != "topup_refunded" {
		t.Fatalf("a second refund: %d %s", r.Status, r.Body)
	}
	for _, no := range []string{"TU000000000000000000000000", "YT1", "x"} {
		if r := pa.do(req{Method: "POST", Path: "/api/v1/admin/topups/" + no + "/refund", Token: ops, Body: map[string]any{}}); r.Status != 404 {
			t.Fatalf("refund of %s: %d %s", no, r.Status, r.Body)
		}
	}
	// A shopper cannot.
	if r := pa.do(req{Method: "POST", Path: path, Token: tok, Body: map[string]any{}}); r.Status != 401 && r.Status != 403 {
		t.Fatalf("a shopper refunding: %d", r.Status)
	}
}
