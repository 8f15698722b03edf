package payments_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

const (
	testMchID  = "1900000109"
	testAppID  = "wxd678efh567hg6787"
	testAPIKey = "0123456789abcdef0123456789ABCDEF" // 32 bytes
)

// merchantKey is generated once per test binary: RSA key generation is slow.
var merchantKey = sync.OnceValue(func() wxpaysim.MerchantKey {
	k, err := wxpaysim.NewMerchantKey()
	if err != nil {
		panic(err)
	}
	return k
})

// env is a gateway wired to a simulator and a notification receiver.
type env struct {
	sim *wxpaysim.Simulator
	gw  *payments.Gateway
	key wxpaysim.MerchantKey
	// simURL is the simulator's base URL.
	simURL string

	mu       sync.Mutex
	receive  func(w http.ResponseWriter, r *http.Request) // replaces the default receiver
	payments []payment.PaymentNotice
	refunds  []payment.RefundNotice
	errs     []error
}

type envOption func(*wxpaysim.Config)

// newEnv starts a simulator behind httptest, a receiver for notifications
// that parses them with the gateway, and the gateway itself.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	e := &env{key: merchantKey()}
	receiver := httptest.NewServer(http.HandlerFunc(e.serveNotification))
	t.Cleanup(receiver.Close)

	cfg := wxpaysim.Config{
		MchID: testMchID, AppID: testAppID, APIv3Key: testAPIKey,
		MerchantPublicKey: e.key.PublicKey, MerchantCertSerial: e.key.Serial,
		RetrySchedule: wxpaysim.ScaleSchedule(wxpaysim.DefaultRetrySchedule(), 1000),
		ManualRefunds: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	sim, err := wxpaysim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	e.sim = sim
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	e.simURL = srv.URL
	e.gw = mustGateway(t, gatewayConfig(sim, srv.URL, receiver.URL))
	return e
}

func mustGateway(t testing.TB, cfg payments.Config) *payments.Gateway {
	t.Helper()
	gw, err := payments.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func gatewayConfig(sim *wxpaysim.Simulator, simURL, receiverURL string) payments.Config {
	k := merchantKey()
	return payments.Config{
		MchID: testMchID, AppID: testAppID, MchCertSerial: k.Serial, MchPrivateKeyPEM: k.PrivateKeyPEM,
		APIv3Key: testAPIKey, Mode: payments.ModePublicKey,
		PlatformPublicKeyID: sim.PublicKeyID(), PlatformPublicKeyPEM: sim.PlatformPublicKeyPEM(),
		NotifyURL:              receiverURL + "/webhooks/wechatpay/transactions",
		RefundNotifyURL:        receiverURL + "/webhooks/wechatpay/refunds",
		AllowInsecureNotifyURL: true,
		HTTPClient: &http.Client{
			Timeout:   5 * time.Second,
			Transport: payments.RewriteTransport(simURL, nil),
		},
	}
}

func (e *env) serveNotification(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	custom := e.receive
	e.mu.Unlock()
	if custom != nil {
		custom(w, r)
		return
	}
	e.handle(w, r)
}

// handle is what the server's webhook does: parse, record, answer.
func (e *env) handle(w http.ResponseWriter, r *http.Request) {
	var err error
	if r.URL.Path == "/webhooks/wechatpay/refunds" {
		var n payment.RefundNotice
		n, err = e.gw.ParseRefundNotification(r.Context(), r)
		if err == nil {
			e.mu.Lock()
			e.refunds = append(e.refunds, n)
			e.mu.Unlock()
		}
	} else {
		var n payment.PaymentNotice
		n, err = e.gw.ParsePaymentNotification(r.Context(), r)
		if err == nil {
			e.mu.Lock()
			e.payments = append(e.payments, n)
			e.mu.Unlock()
		}
	}
	if err != nil {
		e.mu.Lock()
		e.errs = append(e.errs, err)
		e.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"FAIL","message":"rejected"}`))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *env) waitIdle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err != nil {
		t.Fatalf("simulator not idle: %v", err)
	}
}

func (e *env) snapshot() ([]payment.PaymentNotice, []payment.RefundNotice, []error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]payment.PaymentNotice(nil), e.payments...),
		append([]payment.RefundNotice(nil), e.refunds...),
		append([]error(nil), e.errs...)
}

func domainFen(v int64) domain.Fen { return domain.Fen(v) }

// setReceive replaces the receiver's handler.
func (e *env) setReceive(h func(w http.ResponseWriter, r *http.Request)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.receive = h
}
