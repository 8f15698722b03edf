package payments_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments/wxpaysim"
)

func TestPaymentNotification(t *testing.T) {
	e := newEnv(t)
	no := paidTrade(t, e, 1280)
	e.waitIdle(t)
	notices, _, errs := e.snapshot()
	if len(errs) > 0 {
		t.Fatalf("receiver errors: %v", errs)
	}
	if len(notices) != 1 {
		t.Fatalf("notices = %d, want 1", len(notices))
	}
	n := notices[0]
	tx, err := e.gw.QueryByOutTradeNo(context.Background(), no)
	if err != nil {
		t.Fatal(err)
	}
	if n.EventType != payment.EventTransactionSuccess || n.EventID == "" || n.CreateTime.IsZero() {
		t.Errorf("notice header = %+v", n)
	}
	if n.Transaction != tx {
		t.Errorf("notice transaction = %+v\nquery              = %+v", n.Transaction, tx)
	}
	d := e.sim.Deliveries()
	if len(d) != 1 || !d[0].OK() || d[0].Attempt != 1 {
		t.Errorf("deliveries = %+v", d)
	}
}

// TestNotificationSpoiled: a forged signature, a SIGNTEST probe and a stale
// timestamp are each refused as unverified; WeChat's retry then gets through.
func TestNotificationSpoiled(t *testing.T) {
	for _, f := range []wxpaysim.Fault{wxpaysim.FaultForge, wxpaysim.FaultSignTest, wxpaysim.FaultStale} {
		t.Run(string(f), func(t *testing.T) {
			e := newEnv(t)
			no := newTradeNo()
			if _, err := e.gw.PrepayJSAPI(context.Background(), jsapiRequest(no)); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.InjectNotificationFault(no, f); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.Pay(no, ""); err != nil {
				t.Fatal(err)
			}
			e.waitIdle(t)
			notices, _, errs := e.snapshot()
			if len(errs) != 1 || !errors.Is(errs[0], payment.ErrNotificationUnverified) {
				t.Fatalf("receiver errors = %v, want one ErrNotificationUnverified", errs)
			}
			if len(notices) != 1 || notices[0].OutTradeNo != no {
				t.Fatalf("notices = %+v, want the retry's", notices)
			}
			d := e.sim.Deliveries()
			if len(d) != 2 || d[0].Fault != f || d[0].OK() || !d[1].OK() || d[1].Attempt != 2 {
				t.Fatalf("deliveries = %+v", d)
			}
		})
	}
}

func TestNotificationRetriedAfter500(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	e.setReceive(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"code":"FAIL","message":"database down"}`))
			return
		}
		e.handle(w, r)
	})
	no := paidTrade(t, e, 100)
	e.waitIdle(t)
	notices, _, _ := e.snapshot()
	if len(notices) != 1 || notices[0].OutTradeNo != no {
		t.Fatalf("notices = %+v", notices)
	}
	d := e.sim.Deliveries()
	if len(d) != 3 || d[0].Status != 500 || d[1].Status != 500 || !d[2].OK() {
		t.Fatalf("deliveries = %+v", d)
	}
	if gap := d[1].At.Sub(d[0].At); gap < 10*time.Millisecond {
		t.Errorf("retry after %v, want the scaled 15 s (15 ms)", gap)
	}
}

func TestNotificationDroppedAndDuplicated(t *testing.T) {
	e := newEnv(t)
	dropped, doubled := newTradeNo(), newTradeNo()
	for _, no := range []string{dropped, doubled} {
		if _, err := e.gw.PrepayJSAPI(context.Background(), jsapiRequest(no)); err != nil {
			t.Fatal(err)
		}
	}
	_ = e.sim.InjectNotificationFault(dropped, wxpaysim.FaultDrop)
	_ = e.sim.InjectNotificationFault(doubled, wxpaysim.FaultDuplicate)
	for _, no := range []string{dropped, doubled} {
		if err := e.sim.Pay(no, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.waitIdle(t)
	notices, _, _ := e.snapshot()
	if len(notices) != 2 || notices[0].OutTradeNo != doubled || notices[1].OutTradeNo != doubled ||
		notices[0].EventID != notices[1].EventID {
		t.Fatalf("notices = %+v, want the duplicated one twice with one event id", notices)
	}
	// The lost notification is found by querying, as the order worker does.
	tx, err := e.gw.QueryByOutTradeNo(context.Background(), dropped)
	if err != nil || tx.TradeState != payment.TradeSuccess {
		t.Fatalf("query of the dropped one: %+v, %v", tx, err)
	}
}

func TestNotificationDelayed(t *testing.T) {
	e := newEnv(t)
	no := newTradeNo()
	if _, err := e.gw.PrepayJSAPI(context.Background(), jsapiRequest(no)); err != nil {
		t.Fatal(err)
	}
	e.sim.DelayNextNotification(no, 100*time.Millisecond)
	start := time.Now()
	if err := e.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	d := e.sim.Deliveries()
	if len(d) != 1 || d[0].At.Sub(start) < 100*time.Millisecond {
		t.Fatalf("deliveries = %+v, want one after 100 ms", d)
	}
}

func TestParseRejectsTamperedBody(t *testing.T) {
	e := newEnv(t)
	body, header := captureNotification(t, e)
	body = bytes.Replace(body, []byte(`"TRANSACTION.SUCCESS"`), []byte(`"TRANSACTION.SUCCESS" `), 1)
	r := httptest.NewRequest(http.MethodPost, "/webhooks/wechatpay/transactions", bytes.NewReader(body))
	r.Header = header.Clone()
	if _, err := e.gw.ParsePaymentNotification(context.Background(), r); !errors.Is(err, payment.ErrNotificationUnverified) {
		t.Fatalf("tampered body: err = %v, want ErrNotificationUnverified", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if _, err := e.gw.ParsePaymentNotification(context.Background(), r); !errors.Is(err, payment.ErrNotificationUnverified) {
		t.Fatalf("no headers: err = %v, want ErrNotificationUnverified", err)
	}
}

func TestParseWithWrongAPIv3Key(t *testing.T) {
	e := newEnv(t)
	body, header := captureNotification(t, e)
	cfg := gatewayConfig(e.sim, e.simURL, "http://127.0.0.1:2")
	cfg.APIv3Key = "ffffffffffffffffffffffffffffffff"
	gw := mustGateway(t, cfg)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = header.Clone()
	if _, err := gw.ParsePaymentNotification(context.Background(), r); !errors.Is(err, payment.ErrNotificationInvalid) {
		t.Fatalf("wrong APIv3 key: err = %v, want ErrNotificationInvalid", err)
	}
}

// captureNotification pays a trade and returns the body and headers of its
// notification as they arrived.
func captureNotification(t testing.TB, e *env) ([]byte, http.Header) {
	t.Helper()
	var once sync.Once
	var body []byte
	var header http.Header
	e.setReceive(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			body, _ = io.ReadAll(r.Body)
			header = r.Header.Clone()
		})
		w.WriteHeader(http.StatusNoContent)
	})
	no := newTradeNo()
	if _, err := e.gw.PrepayJSAPI(context.Background(), jsapiRequest(no)); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	if body == nil {
		t.Fatal("no notification captured")
	}
	return body, header
}

func BenchmarkParsePaymentNotification(b *testing.B) {
	e := newEnv(b)
	body, header := captureNotification(b, e)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/wechatpay/transactions", bytes.NewReader(body))
		r.Header = header
		if _, err := e.gw.ParsePaymentNotification(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
