package wxpaysim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// "Effect applied, then 5xx" and "effect applied, then no answer" exist for
// prepay, close, refund and query, armed through the HTTP control API as an
// out-of-process simulator's tests arm them: the merchant sees an
// ambiguous failure (payment.ErrUnknown) while the effect took place.
func TestFaultsAfterEffectThroughControlAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDurable(t, wxpaysim.Config{ManualRefunds: true, RetrySchedule: []time.Duration{}}, "http://127.0.0.1:1/n")
	gw := d.gw // its HTTP client gives up after 2 s
	arm := func(body string) {
		t.Helper()
		resp, err := http.Post(d.srv.URL+"/_sim/api-faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("arm %s: %s", body, resp.Status)
		}
	}
	for _, mode := range []string{`"status":500`, `"timeout":true`} {
		t.Run(mode, func(t *testing.T) {
			no := "FAULT" + map[string]string{`"status":500`: "AAA", `"timeout":true`: "BBB"}[mode]
			ambiguous := func(what string, err error) {
				t.Helper()
				if !payment.Retryable(err) {
					t.Errorf("%s: err = %v, want an ambiguous failure", what, err)
				}
			}
			// prepay: the trade exists though the answer failed.
			arm(`{"count":1,"after_effect":true,"operation":"prepay",` + mode + `}`)
			_, err := gw.PrepayJSAPI(ctx, payment.JSAPIRequest{OutTradeNo: no + "1", Description: "x", OpenID: "o", Amount: 100})
			ambiguous("prepay", err)
			if tr, ok := d.sim().Trade(no + "1"); !ok || tr.State != "NOTPAY" {
				t.Errorf("prepay's effect: %+v %v", tr, ok)
			}
			// close: closed though the answer failed.
			arm(`{"count":1,"after_effect":true,"operation":"close",` + mode + `}`)
			ambiguous("close", gw.Close(ctx, no+"1"))
			if tr, _ := d.sim().Trade(no + "1"); tr.State != "CLOSED" {
				t.Errorf("close's effect: %+v", tr)
			}
			// refund: accepted though the answer failed.
			prepay(t, gw, no+"2", 100)
			if err := d.sim().Pay(no+"2", ""); err != nil {
				t.Fatal(err)
			}
			arm(`{"count":1,"after_effect":true,"operation":"refund",` + mode + `}`)
			_, err = gw.Refund(ctx, payment.RefundRequest{OutTradeNo: no + "2", OutRefundNo: no + "R", Refund: 40, Total: 100})
			ambiguous("refund", err)
			if tr, _ := d.sim().Trade(no + "2"); tr.Refunded != 40 {
				t.Errorf("refund's effect: %+v", tr)
			}
			// query: answered (nothing to apply) but the answer is lost;
			// the fault is aimed, so the close before it is untouched.
			arm(`{"count":1,"after_effect":true,"operation":"query",` + mode + `}`)
			prepay(t, gw, no+"3", 100)
			if err := gw.Close(ctx, no+"3"); err != nil {
				t.Errorf("close with a fault aimed at query: %v", err)
			}
			_, err = gw.QueryByOutTradeNo(ctx, no+"2")
			ambiguous("query", err)
			if q, err := gw.QueryByOutTradeNo(ctx, no+"2"); err != nil || !q.TradeState.Paid() && q.TradeState != payment.TradeState("REFUND") {
				t.Errorf("the next query: %+v %v", q, err)
			}
		})
	}
	for _, bad := range []string{`{"count":1,"timeout":true}`, `{"count":1,"after_effect":true,"operation":"ship","status":500}`,
		`{"count":1,"after_effect":true,"timeout":true,"hang":"1h"}`, `{"count":1,"status":500,"operation":"close"}`} {
		resp, err := http.Post(d.srv.URL+"/_sim/api-faults", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("arm %s: %s, want 400", bad, resp.Status)
		}
	}
}

// Closing a paid trade answers what APIv3 documents for a business refusal
// (403 TRADE_ERROR), not v2's ORDERPAID; the gateway reads it as paid.
func TestClosePaidTradeAnswersTradeError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDurable(t, wxpaysim.Config{RetrySchedule: []time.Duration{}}, "http://127.0.0.1:1/n")
	prepay(t, d.gw, "CLOSEPAID001", 100)
	if err := d.sim().Pay("CLOSEPAID001", ""); err != nil {
		t.Fatal(err)
	}
	err := d.gw.Close(ctx, "CLOSEPAID001")
	if !errors.Is(err, payment.ErrOrderPaid) {
		t.Fatalf("close of a paid trade: %v, want ErrOrderPaid", err)
	}
	if !strings.Contains(err.Error(), "TRADE_ERROR") || strings.Contains(err.Error(), "ORDERPAID") {
		t.Errorf("close of a paid trade answered %v, want 403 TRADE_ERROR", err)
	}
	if tr, _ := d.sim().Trade("CLOSEPAID001"); tr.State != "SUCCESS" {
		t.Errorf("the paid trade became %s", tr.State)
	}
}
