package payments_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// paidTrade prepays and pays a trade of amount fen.
func paidTrade(t *testing.T, e *env, amount int64) string {
	t.Helper()
	no := newTradeNo()
	req := jsapiRequest(no)
	req.Amount = domainFen(amount)
	if _, err := e.gw.PrepayJSAPI(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	return no
}

func TestRefund(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := paidTrade(t, e, 1000)

	req := payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R1", Reason: "少发一件", Refund: 300, Total: 1000}
	rf, err := e.gw.Refund(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rf.Status != payment.RefundProcessing || rf.RefundID == "" || rf.Refund != 300 || rf.Total != 1000 ||
		rf.OutTradeNo != no || rf.TransactionID == "" || rf.CreateTime.IsZero() {
		t.Fatalf("refund = %+v", rf)
	}

	same, err := e.gw.Refund(ctx, req)
	if err != nil {
		t.Fatalf("retry with the same out_refund_no: %v", err)
	}
	if same.RefundID != rf.RefundID {
		t.Errorf("retry made another refund: %s, want %s", same.RefundID, rf.RefundID)
	}

	over := payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R2", Refund: 701, Total: 1000}
	if _, err := e.gw.Refund(ctx, over); !errors.Is(err, payment.ErrRefundExceeded) {
		t.Fatalf("over-refund: err = %v, want ErrRefundExceeded", err)
	}
	rest := payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R3", Refund: 700, Total: 1000}
	if _, err := e.gw.Refund(ctx, rest); err != nil {
		t.Fatalf("refund of the rest: %v", err)
	}
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R4", Refund: 1, Total: 1000}); !errors.Is(err, payment.ErrRefundExceeded) {
		t.Fatalf("refund after a full refund: err = %v, want ErrRefundExceeded", err)
	}

	if err := e.sim.CompleteRefund(req.OutRefundNo); err != nil {
		t.Fatal(err)
	}
	got, err := e.gw.QueryRefund(ctx, req.OutRefundNo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != payment.RefundSuccess || got.SuccessTime.IsZero() || got.RefundID != rf.RefundID {
		t.Fatalf("after completion: %+v", got)
	}
	tx, err := e.gw.QueryByOutTradeNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TradeState != payment.TradeRefund {
		t.Errorf("trade state = %s, want REFUND", tx.TradeState)
	}

	if _, err := e.gw.QueryRefund(ctx, "nope"+no); !errors.Is(err, payment.ErrRefundNotExist) {
		t.Errorf("unknown refund: err = %v, want ErrRefundNotExist", err)
	}
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: newTradeNo(), OutRefundNo: "X1", Refund: 1, Total: 1}); !errors.Is(err, payment.ErrOrderNotExist) {
		t.Errorf("refund of an unknown trade: err = %v, want ErrOrderNotExist", err)
	}
}

func TestRefundClosedFreesAmount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := paidTrade(t, e, 500)
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "A", Refund: 500, Total: 500}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.FailRefund(no+"A", "CLOSED"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "B", Refund: 500, Total: 500}); err != nil {
		t.Fatalf("refund after a closed one: %v", err)
	}
}

func TestRefundLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := paidTrade(t, e, 100)
	for i := range wxpaysim.MaxRefunds {
		req := payment.RefundRequest{OutTradeNo: no, OutRefundNo: fmt.Sprintf("%sR%02d", no, i), Refund: 1, Total: 100}
		if _, err := e.gw.Refund(ctx, req); err != nil {
			t.Fatalf("refund %d: %v", i+1, err)
		}
	}
	req := payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R50", Refund: 1, Total: 100}
	if _, err := e.gw.Refund(ctx, req); !errors.Is(err, payment.ErrRefundLimit) {
		t.Fatalf("refund 51: err = %v, want ErrRefundLimit", err)
	}
}

func TestRefundNotification(t *testing.T) {
	e := newEnv(t, func(c *wxpaysim.Config) {
		c.ManualRefunds = false
		c.RefundDelay = 20 * time.Millisecond
	})
	ctx := context.Background()
	no := paidTrade(t, e, 880)
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R", Refund: 80, Total: 880}); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	_, refunds, errs := e.snapshot()
	if len(errs) > 0 {
		t.Fatalf("receiver errors: %v", errs)
	}
	if len(refunds) != 1 {
		t.Fatalf("refund notices = %d, want 1", len(refunds))
	}
	n := refunds[0]
	if n.EventType != payment.EventRefundSuccess || n.Status != payment.RefundSuccess || n.OutRefundNo != no+"R" ||
		n.OutTradeNo != no || n.Refund.Refund != 80 || n.Total != 880 || n.MchID != testMchID ||
		n.SuccessTime.IsZero() || n.EventID == "" {
		t.Fatalf("refund notice = %+v", n)
	}
	got, err := e.gw.QueryRefund(ctx, no+"R")
	if err != nil || got.Status != payment.RefundSuccess {
		t.Fatalf("query after auto-completion: %+v, %v", got, err)
	}
}

func TestRefundAbnormalNotification(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := paidTrade(t, e, 300)
	if _, err := e.gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no, OutRefundNo: no + "R", Refund: 300, Total: 300}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.FailRefund(no+"R", "ABNORMAL"); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	_, refunds, _ := e.snapshot()
	if len(refunds) != 1 || refunds[0].EventType != payment.EventRefundAbnormal || refunds[0].Status != payment.RefundAbnormal {
		t.Fatalf("refund notices = %+v", refunds)
	}
}
