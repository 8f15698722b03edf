package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// wxpay is the WeChat Pay wiring: the gateway (the real SDK) and in
// development the simulator.
type wxpay struct {
	gw      *payments.Gateway
	sim     *wxpaysim.Simulator // nil with a real merchant or an external simulator
	ext     *externalSim        // the simulator in its own process (wxpay_external.go)
	metrics *payments.Metrics   // metrics_wiring.go
}

// The simulated merchant.
const (
	simMchID = "1900000109"
)

// devMerchantKey is the simulated merchant's API key, generated once per
// process (RSA generation is slow, and every test app would pay for it);
// it exists only in development.
var devMerchantKey = sync.OnceValues(wxpaysim.NewMerchantKey)

// wireWxPay builds the gateway (against the simulator when no merchant is
// configured), the cashier and its workers. With a real merchant, start-up
// fails on bad configuration, naming every problem.
func (a *app) wireWxPay() error {
	w := &wxpay{}
	cfg := a.cfg.WxPay
	mchID, appID := cfg.MchID, a.cfg.WeAppID
	var gcfg payments.Config
	if cfg.SimURL != "" {
		var err error
		if gcfg, err = a.wireExternalSim(w); err != nil {
			return err
		}
		mchID = gcfg.MchID
	} else if cfg.Simulated() {
		mchID = simMchID
		key, err := devMerchantKey()
		if err != nil {
			return err
		}
		apiKey, err := randomAlnum(32)
		if err != nil {
			return err
		}
		notify := a.cfg.PublicURL + "/webhooks/wechatpay/transactions"
		refundNotify := a.cfg.PublicURL + "/webhooks/wechatpay/refunds"
		speedup := max(cfg.SimSpeedup, 1)
		w.sim, err = wxpaysim.New(wxpaysim.Config{
			MchID: mchID, AppID: appID, APIv3Key: apiKey,
			MerchantPublicKey: key.PublicKey, MerchantCertSerial: key.Serial,
			NotifyURL: notify, RefundNotifyURL: refundNotify,
			RetrySchedule: wxpaysim.ScaleSchedule(wxpaysim.DefaultRetrySchedule(), speedup),
			RefundDelay:   2 * time.Second / time.Duration(speedup),
			Now:           a.now,
		})
		if err != nil {
			return err
		}
		a.closers = append(a.closers, w.sim.Close)
		gcfg = payments.Config{
			MchID: mchID, AppID: appID, MchCertSerial: key.Serial, MchPrivateKeyPEM: key.PrivateKeyPEM,
			APIv3Key: apiKey, Mode: payments.ModePublicKey,
			PlatformPublicKeyID: w.sim.PublicKeyID(), PlatformPublicKeyPEM: w.sim.PlatformPublicKeyPEM(),
			NotifyURL: notify, RefundNotifyURL: refundNotify, AllowInsecureNotifyURL: true,
			HTTPClient: &http.Client{Timeout: payments.DefaultTimeout,
				Transport: payments.RewriteTransport(loopbackURL(a.cfg)+"/_dev/wechatpay", nil)},
		}
		// YUTANG_WXPAY_MODE=certificate|combined: the simulator plays a
		// merchant with platform certificates (its first one configured, the
		// rest downloaded: payments/certs.go).
		if m := payments.Mode(cfg.Mode); m == payments.ModeCertificate || m == payments.ModeCombined {
			certs, err := w.sim.UseCertificates()
			if err != nil {
				return err
			}
			gcfg.Mode, gcfg.PlatformCertPEM = m, []byte(certs[0].PEM)
			if m == payments.ModeCertificate {
				gcfg.PlatformPublicKeyID, gcfg.PlatformPublicKeyPEM = "", nil
			}
		}
		a.dev = w.devHandler(a, a.dev)
	} else {
		refundNotify := cfg.RefundNotifyURL
		if refundNotify == "" && strings.HasSuffix(cfg.NotifyURL, "/transactions") {
			refundNotify = strings.TrimSuffix(cfg.NotifyURL, "/transactions") + "/refunds"
		}
		gcfg = payments.Config{
			MchID: cfg.MchID, AppID: appID, MchCertSerial: cfg.CertSerial, MchPrivateKeyPEM: cfg.PrivateKeyPEM,
			APIv3Key: cfg.APIv3Key, Mode: payments.Mode(cfg.Mode),
			PlatformPublicKeyID: cfg.PublicKeyID, PlatformPublicKeyPEM: cfg.PublicKeyPEM,
			PlatformCertPEM: cfg.PlatformCertPEM, NotifyURL: cfg.NotifyURL, RefundNotifyURL: refundNotify,
		}
	}
	gw, err := payments.New(gcfg)
	if err != nil {
		return fmt.Errorf("wechat pay: %w", err)
	}
	w.gw = gw
	a.pay = w
	var metered payment.Gateway
	w.metrics, metered = a.wirePayMetrics(gw) // metrics_wiring.go: also sets a.svc.PayNotices
	a.svc.Cashier = &cashier.Service{Store: a.store.Payments(), Gateway: metered,
		MchID: mchID, AppID: appID, Now: a.now, Log: a.log,
		Checks: cashier.NewCheckLimiter(cashier.DefaultCheckInterval)} // POST …/pay/check
	c := a.svc.Cashier
	a.workers = append(a.workers,
		every(5*time.Second, a.log, "payments.reconcile", func(ctx context.Context) error {
			_, err := c.Reconcile(ctx, 200)
			return err
		}),
		every(30*time.Second, a.log, "payments.expire", func(ctx context.Context) error {
			_, err := a.expireOrders(ctx, 200)
			return err
		}),
		every(20*time.Second, a.log, "payments.refunds", func(ctx context.Context) error {
			_, err := c.SyncRefunds(ctx, 200)
			return err
		}))
	if m := gcfg.Mode; m == payments.ModeCertificate || m == payments.ModeCombined {
		// WeChat Pay lists a new platform certificate a day before it signs
		// with it and asks merchants to download the list within 12 hours.
		a.workers = append(a.workers, every(payments.DefaultCertRefreshInterval, a.log, "payments.certificates", gw.RefreshCertificates))
		if !cfg.Simulated() { // the simulator is not listening yet
			if err := gw.RefreshCertificates(context.Background()); err != nil {
				a.log.Warn("platform certificates not refreshed at start-up", "err", err)
			}
		}
	}
	return nil
}

// expireOrders closes at WeChat Pay the attempts of orders that expired (or
// were cancelled or paid otherwise), then cancels the expired unpaid orders,
// releasing their stock; it returns how many orders it cancelled.
func (a *app) expireOrders(ctx context.Context, limit int) (int, error) {
	_, cerr := a.svc.Cashier.Expire(ctx, limit)
	n, err := a.svc.Orders.CancelExpired(ctx, limit)
	return n, errors.Join(cerr, err)
}

// devHandler serves the simulator under /_dev/wechatpay/ and
// POST /_dev/wechatpay/orders/{order_no}/pay, which pays the order's current
// payment attempt as the shopper would (the notification follows), and
// POST /_dev/wechatpay/trades/{out_trade_no}/pay, any trade by its
// out_trade_no (a top-up). Other
// development stand-ins (prev) keep their routes.
func (w *wxpay) devHandler(a *app, prev http.Handler) http.Handler {
	mux := http.NewServeMux()
	if prev != nil {
		mux.Handle("/", prev)
	}
	if w.ext != nil {
		mux.Handle("/_dev/wechatpay/", w.ext.proxy())
	} else {
		mux.Handle("/_dev/wechatpay/", http.StripPrefix("/_dev/wechatpay", w.sim))
	}
	mux.HandleFunc("POST /_dev/wechatpay/orders/{order_no}/pay", func(rw http.ResponseWriter, r *http.Request) {
		// ?trade_type=NATIVE (or JSAPI) pays that attempt when an order has
		// both (a member's in-store order: QR shown and pushed).
		var at cashier.Attempt
		var err error
		if tt := r.URL.Query().Get("trade_type"); tt != "" {
			at, err = a.svc.Cashier.OpenAttempt(r.Context(), r.PathValue("order_no"), strings.ToUpper(tt))
		} else {
			at, err = a.svc.Cashier.CurrentAttempt(r.Context(), r.PathValue("order_no"))
		}
		if errors.Is(err, cashier.ErrNoAttempt) {
			writeDevJSON(rw, http.StatusConflict, map[string]string{"error": "the order has no payment in progress: POST /api/v1/shop/orders/{no}/pay (or /api/v1/clerk/orders/{no}/collect) first"})
			return
		}
		if err != nil {
			writeDevJSON(rw, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		w.payAtSim(rw, r, at.OutTradeNo)
	})
	// Any trade by out_trade_no (a stored-value top-up …), paid as the
	// shopper would.
	mux.HandleFunc("POST /_dev/wechatpay/trades/{out_trade_no}/pay", func(rw http.ResponseWriter, r *http.Request) {
		w.payAtSim(rw, r, r.PathValue("out_trade_no"))
	})
	return mux
}

func writeDevJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomAlnum(n int) (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// loopbackURL is how the program reaches its own development routes, which
// answer on loopback only: PublicURL when it is a loopback address (tests
// put a proxy there), else the listener's port on 127.0.0.1.
func loopbackURL(c Config) string {
	if u, err := url.Parse(c.PublicURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return c.PublicURL
		}
	}
	_, port, _ := net.SplitHostPort(c.HTTPAddr)
	return "http://127.0.0.1:" + port
}
