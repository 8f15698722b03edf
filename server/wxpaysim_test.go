package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/payments/wxpaysim"
)

// The external simulator's settings: production refuses it naming the
// setting, development wants loopback addresses and no merchant beside it.
func TestConfigExternalSimulator(t *testing.T) {
	t.Parallel()
	prod := productionEnv(t)
	with := envWith
	dev := map[string]string{}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // every one must be named; none: loads
	}{
		{"production with a merchant and a simulator URL", with(prod, map[string]string{"YUTANG_WXPAY_SIM_URL": "http://127.0.0.1:8091"}),
			[]string{"YUTANG_ENV=production: YUTANG_WXPAY_SIM_URL is set", "YUTANG_WXPAY_SIM_URL: set together with YUTANG_WXPAY_MCHID"}},
		{"production with only a simulator URL", with(prod, map[string]string{"YUTANG_WXPAY_SIM_URL": "http://127.0.0.1:8091"}, "YUTANG_WXPAY_MCHID"),
			[]string{"YUTANG_WXPAY_SIM_URL is set", "YUTANG_WXPAY_MCHID is not set"}},
		{"development", with(dev, map[string]string{"YUTANG_WXPAY_SIM_URL": "http://127.0.0.1:8091/"}), nil},
		{"development, localhost", with(dev, map[string]string{"YUTANG_WXPAY_SIM_URL": "http://localhost:8091"}), nil},
		{"a remote simulator", with(dev, map[string]string{"YUTANG_WXPAY_SIM_URL": "http://10.0.0.5:8091"}), []string{"YUTANG_WXPAY_SIM_URL", "not a loopback"}},
		{"not a URL", with(dev, map[string]string{"YUTANG_WXPAY_SIM_URL": "127.0.0.1:8091"}), []string{"YUTANG_WXPAY_SIM_URL"}},
		{"https or a path", with(dev, map[string]string{"YUTANG_WXPAY_SIM_URL": "https://127.0.0.1:8091/x"}), []string{"YUTANG_WXPAY_SIM_URL"}},
		{"the simulator on every interface", with(dev, map[string]string{"YUTANG_WXPAYSIM_ADDR": "0.0.0.0:8091"}), []string{"YUTANG_WXPAYSIM_ADDR"}},
		{"the simulator on a public address", with(dev, map[string]string{"YUTANG_WXPAYSIM_ADDR": ":8091"}), []string{"YUTANG_WXPAYSIM_ADDR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) string { return tc.env[k] })
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.WxPay.SimURL == "" || strings.HasSuffix(c.WxPay.SimURL, "/") || c.WxPay.SimAddr != "127.0.0.1:8091" ||
					c.WxPay.SimDir != filepath.Join("var", "wxpaysim") {
					t.Fatalf("sim settings %+v", c.WxPay)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}

// `yutang wxpaysim` refuses to run in production.
func TestWxpaysimCommandRefusesProduction(t *testing.T) {
	t.Parallel()
	cfg := Config{Env: EnvProduction}
	err := wxpaysimCommand(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "development only") {
		t.Fatalf("err = %v", err)
	}
}

// startExternalSim runs `yutang wxpaysim` in this process on a free
// loopback port with its state under a temporary directory, until the test
// ends; it returns its URL.
func startExternalSim(t *testing.T, appID string) string {
	t.Helper()
	addr := freeAddr(t)
	cfg := Config{Env: EnvDevelopment, LogLevel: "error", WeAppID: appID,
		WxPay: WxPayConfig{SimAddr: addr, SimDir: filepath.Join(t.TempDir(), "wxpaysim"), SimSpeedup: 1000}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wxpaysimCommand(ctx, cfg, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("wxpaysim: %v", err)
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("wxpaysim did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With YUTANG_WXPAY_SIM_URL the mall takes the merchant's keys from the
// simulator, pays through it, keeps the development pay routes (the
// simulator's control API behind them) and hears its notifications.
func TestExternalSimulatorPaysOrders(t *testing.T) {
	t.Parallel()
	pa := &payApp{}
	url, h := pa.listen(t)
	simURL := startExternalSim(t, demoAppID)
	pa.testApp = newTestApp(t, func(c *Config) {
		c.PublicURL = url
		c.WxPay.SimURL = simURL
	})
	h.Store(handlerBox{pa.srv.Config.Handler})
	if pa.app.pay.sim != nil || pa.app.pay.ext == nil {
		t.Fatal("an in-process simulator was wired beside the external one")
	}
	// By order number, through the development route.
	_, o := pa.prepaid("external-1")
	pa.shopperPays(o.OrderNo)
	eventually(t, 10*time.Second, "order paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	// A second time: the simulator says why it cannot.
	if r := pa.do(req{Method: "POST", Path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay"}); r.Status != http.StatusConflict {
		t.Errorf("paying a paid trade again: %d %s", r.Status, r.Body)
	}
	// By out_trade_no, and the simulator's routes behind /_dev/wechatpay.
	_, o2 := pa.prepaid("external-2")
	pa.must(http.StatusOK, req{Method: "POST", Path: "/_dev/wechatpay/trades/" + o2.OrderNo + "-1/pay"})
	eventually(t, 10*time.Second, "second order paid", func() bool { return pa.orderStatus(o2.OrderNo) == "paid" })
	var tr wxpaysim.Trade
	pa.must(http.StatusOK, req{Method: "GET", Path: "/_dev/wechatpay/_sim/transactions/" + o2.OrderNo + "-1"}).Decode(t, &tr)
	if tr.State != "SUCCESS" || tr.TransactionID == "" {
		t.Errorf("trade through the proxy: %+v", tr)
	}
	// The merchant's private key is not served through the mall.
	if r := pa.do(req{Method: "GET", Path: "/_dev/wechatpay/_sim/merchant"}); r.Status != http.StatusNotFound {
		t.Errorf("merchant keys through the mall: %d", r.Status)
	}
	// The in-process simulator's transfer confirmation reaches the
	// external one's control route.
	if r := pa.do(req{Method: "POST", Path: "/_dev/wechatpay/transfers/NOSUCHBILL1/confirm"}); r.Status != http.StatusNotFound ||
		!strings.Contains(string(r.Body), "wxpaysim: transfer") {
		t.Errorf("confirm an unknown transfer: %d %s", r.Status, r.Body)
	}
	// A shopper's cancel closes at the external simulator first.
	tok3, o3 := pa.prepaid("external-3")
	pa.must(http.StatusOK, req{Method: "POST", Path: "/api/v1/shop/orders/" + o3.OrderNo + "/cancel", Token: tok3, Body: map[string]string{}})
	pa.must(http.StatusOK, req{Method: "GET", Path: "/_dev/wechatpay/_sim/transactions/" + o3.OrderNo + "-1"}).Decode(t, &tr)
	if tr.State != "CLOSED" {
		t.Errorf("cancelled order's trade is %s", tr.State)
	}
	pa.checkInvariants()
}

// The mall refuses to start against a simulator that serves another
// mini-program, naming the setting.
func TestExternalSimulatorAppIDMismatch(t *testing.T) {
	t.Parallel()
	simURL := startExternalSim(t, "wxother00000000000")
	cfg := testConfig(t, map[string]string{"YUTANG_PASSWORD_HASH": "cheap", "YUTANG_WXPAY_SIM_URL": simURL})
	a, err := openApp(context.Background(), cfg, testLogWriter{t})
	if err == nil {
		a.close()
		t.Fatal("the mall started against a simulator of another AppID")
	}
	if !strings.Contains(err.Error(), "YUTANG_WEAPP_APPID") {
		t.Fatalf("err = %v", err)
	}
}

// WeChat Pay closes the trade and the answer never comes (the connection
// drops): the cancel queries, learns CLOSED, and goes through.
func TestCancelCloseAcceptedThenTimeout(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	tok, o := pa.prepaid("close-timeout")
	pa.sim().HangNextAfterEffect(wxpaysim.OpClose, 1, 100*time.Millisecond)
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/cancel", Token: tok, Body: map[string]string{}})
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.State != "CLOSED" {
		t.Fatalf("trade %s", tr.State)
	}
	if n := pa.count(`SELECT count(*) FROM payment_attempts WHERE out_trade_no = $1 AND status = 'closed' AND wx_final`, o.OrderNo+"-1"); n != 1 {
		t.Fatal("attempt not closed for good")
	}
	if s := pa.orderStatus(o.OrderNo); s != "cancelled" {
		t.Fatalf("status %s", s)
	}
	pa.checkInvariants()
}

// Expiry meets a trade paid after the last query: the close answers 403
// TRADE_ERROR (APIv3's refusal, no ORDERPAID); the cashier queries, applies
// the payment, and the order is paid, not cancelled.
func TestExpireClosePaidTradeApplies(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	_, o := pa.prepaid("expire-paid")
	pa.paysUnheard(o.OrderNo)
	pa.sql(`UPDATE orders SET expires_at = now() - interval '1 minute' WHERE order_no = $1`, o.OrderNo)
	ctx := context.Background()
	_, _ = pa.app.expireOrders(ctx, 10)
	if s := pa.orderStatus(o.OrderNo); s != "paid" || pa.payments(o.OrderNo) != 1 {
		t.Fatalf("status %s, payments %d", s, pa.payments(o.OrderNo))
	}
	if tr, _ := pa.sim().Trade(o.OrderNo + "-1"); tr.State != "SUCCESS" {
		t.Fatalf("trade %s", tr.State)
	}
	pa.checkInvariants()
}
