package payments_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
)

var tradeSeq atomic.Int64

func newTradeNo() string { return fmt.Sprintf("YT%d%06d", time.Now().UnixNano(), tradeSeq.Add(1)) }

func jsapiRequest(no string) payment.JSAPIRequest {
	return payment.JSAPIRequest{
		OutTradeNo: no, Description: "玉棠-桂花糕 x2", OpenID: "o_alice", Amount: 1280,
		ExpiresAt: time.Now().Add(30 * time.Minute), Attach: "order=1",
	}
}

func TestPrepayJSAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()

	rp, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no))
	if err != nil {
		t.Fatal(err)
	}
	if rp.AppID != testAppID || rp.SignType != "RSA" || rp.Package != "prepay_id="+rp.PrepayID ||
		rp.TimeStamp == "" || rp.NonceStr == "" || rp.PaySign == "" || !strings.HasPrefix(rp.PrepayID, "wx") {
		t.Fatalf("request payment = %+v", rp)
	}
	msg := rp.AppID + "\n" + rp.TimeStamp + "\n" + rp.NonceStr + "\n" + rp.Package + "\n"
	sig, err := base64.StdEncoding.DecodeString(rp.PaySign)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(e.key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
		t.Fatalf("paySign does not verify with the merchant public key: %v", err)
	}

	again, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no))
	if err != nil {
		t.Fatalf("re-prepay with identical parameters: %v", err)
	}
	if again.PrepayID == rp.PrepayID {
		t.Error("re-prepay returned the same prepay_id")
	}

	changed := jsapiRequest(no)
	changed.Amount = 999
	if _, err := e.gw.PrepayJSAPI(ctx, changed); !errors.Is(err, payment.ErrOutTradeNoUsed) {
		t.Fatalf("changed parameters: err = %v, want ErrOutTradeNoUsed", err)
	}
	if tr, _ := e.sim.Trade(no); len(tr.PrepayIDs) != 2 {
		t.Errorf("prepay ids = %v", tr.PrepayIDs)
	}
}

func TestPrepayRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := jsapiRequest("short")
	if _, err := e.gw.PrepayJSAPI(ctx, bad); err == nil {
		t.Error("a 5-character out_trade_no was accepted")
	}
	soon := jsapiRequest(newTradeNo())
	soon.ExpiresAt = time.Now().Add(10 * time.Second)
	if _, err := e.gw.PrepayJSAPI(ctx, soon); !errors.Is(err, payment.ErrRejected) {
		t.Errorf("time_expire 10 s ahead: err = %v, want ErrRejected", err)
	}
}

func TestQueryAfterPay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); err != nil {
		t.Fatal(err)
	}
	tx, err := e.gw.QueryByOutTradeNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TradeState != payment.TradeNotPay || tx.TransactionID != "" || tx.Total != 1280 {
		t.Fatalf("before paying: %+v", tx)
	}
	if err := e.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	tx, err = e.gw.QueryByOutTradeNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TradeState != payment.TradeSuccess || tx.TransactionID == "" || tx.PayerOpenID != "o_alice" ||
		tx.Total != 1280 || tx.PayerTotal != 1280 || tx.Currency != "CNY" || tx.MchID != testMchID ||
		tx.AppID != testAppID || tx.Attach != "order=1" || tx.TradeType != "JSAPI" ||
		time.Since(tx.SuccessTime) > time.Minute {
		t.Fatalf("after paying: %+v", tx)
	}
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); !errors.Is(err, payment.ErrOrderPaid) {
		t.Errorf("prepay of a paid trade: err = %v, want ErrOrderPaid", err)
	}
	if err := e.gw.Close(ctx, no); !errors.Is(err, payment.ErrOrderPaid) {
		t.Errorf("close of a paid trade: err = %v, want ErrOrderPaid", err)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Close(ctx, no); err != nil {
		t.Fatal(err)
	}
	tx, err := e.gw.QueryByOutTradeNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TradeState != payment.TradeClosed {
		t.Fatalf("state = %s, want CLOSED", tx.TradeState)
	}
	if err := e.gw.Close(ctx, no); err != nil {
		t.Errorf("closing twice: %v", err)
	}
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); !errors.Is(err, payment.ErrOrderClosed) {
		t.Errorf("prepay after close: err = %v, want ErrOrderClosed", err)
	}
	if err := e.sim.Pay(no, ""); err == nil {
		t.Error("paid a closed trade")
	}
	if _, err := e.gw.QueryByOutTradeNo(ctx, newTradeNo()); !errors.Is(err, payment.ErrOrderNotExist) {
		t.Errorf("query of an unknown trade: err = %v, want ErrOrderNotExist", err)
	}
	if err := e.gw.Close(ctx, newTradeNo()); !errors.Is(err, payment.ErrOrderNotExist) {
		t.Errorf("close of an unknown trade: err = %v, want ErrOrderNotExist", err)
	}
}

func TestPrepayNative(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()
	codeURL, err := e.gw.PrepayNative(ctx, payment.NativeRequest{OutTradeNo: no, Description: "门店收款", Amount: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(codeURL, "weixin://wxpay/bizpayurl?pr=") {
		t.Fatalf("code_url = %q", codeURL)
	}
	if err := e.sim.Pay(no, "o_bob"); err != nil {
		t.Fatal(err)
	}
	tx, err := e.gw.QueryByOutTradeNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TradeState != payment.TradeSuccess || tx.TradeType != "NATIVE" || tx.PayerOpenID != "o_bob" {
		t.Fatalf("native after paying: %+v", tx)
	}
}

func TestAPIFaultsAreRetryable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := newTradeNo()
	for _, status := range []int{429, 500, 503} {
		e.sim.FailNextAPICalls(1, status)
		_, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no))
		if !payment.Retryable(err) {
			t.Errorf("status %d: err = %v, want retryable", status, err)
		}
	}
	if _, ok := e.sim.Trade(no); ok {
		t.Error("a failed call created the trade")
	}
	if _, err := e.gw.PrepayJSAPI(ctx, jsapiRequest(no)); err != nil {
		t.Fatalf("after the faults: %v", err)
	}

	e.sim.FailNextAPICalls(2, 500)
	if _, err := e.gw.QueryByOutTradeNo(ctx, no); !payment.Retryable(err) {
		t.Errorf("query: err = %v, want retryable", err)
	}
	if err := e.gw.Close(ctx, no); !payment.Retryable(err) {
		t.Errorf("close: err = %v, want retryable", err)
	}
	if _, err := e.gw.QueryByOutTradeNo(ctx, no); err != nil {
		t.Errorf("query after the faults: %v", err)
	}
}

func TestTransportErrorsAreRetryable(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.gw.QueryByOutTradeNo(ctx, newTradeNo())
	if !payment.Retryable(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query: err = %v, want retryable wrapping context.Canceled", err)
	}
}

func TestUnverifiableAnswerIsRetryable(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t) // another simulator, another platform key
	gw := mustGateway(t, gatewayConfig(other.sim, e.simURL, "http://127.0.0.1:2"))
	no := newTradeNo()
	_, err := gw.PrepayJSAPI(context.Background(), jsapiRequest(no))
	if !payment.Retryable(err) {
		t.Fatalf("answer signed by an unknown key: err = %v, want retryable", err)
	}
	if _, ok := e.sim.Trade(no); !ok {
		t.Error("the simulator did not record the trade (the outcome really is unknown to the caller)")
	}
}
