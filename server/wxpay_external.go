package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// externalSim is the WeChat Pay simulator in its own process (`yutang
// wxpaysim`, YUTANG_WXPAY_SIM_URL). The mall learns the simulated
// merchant's keys from its loopback-only control route GET /_sim/merchant
// (the simulator owns them, in its state directory), points the SDK at it,
// and pays trades through its control API.
type externalSim struct {
	base   string
	client *http.Client
}

// simWait is how long the mall waits for the simulator to answer at start
// (make run starts both at once; the simulator's first start makes keys).
const simWait = 30 * time.Second

// wireExternalSim returns the gateway configuration for the external
// simulator and mounts the development routes that reach it.
func (a *app) wireExternalSim(w *wxpay) (payments.Config, error) {
	ext := &externalSim{base: a.cfg.WxPay.SimURL, client: &http.Client{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), simWait)
	defer cancel()
	mc, err := ext.merchant(ctx)
	if err != nil {
		return payments.Config{}, err
	}
	if mc.AppID != a.cfg.WeAppID {
		return payments.Config{}, fmt.Errorf("wechat pay: the simulator at %s serves AppID %s, the mall is %s (YUTANG_WEAPP_APPID must be the same for both)",
			ext.base, mc.AppID, a.cfg.WeAppID)
	}
	w.ext = ext
	notify := a.cfg.PublicURL + "/webhooks/wechatpay/transactions"
	refundNotify := a.cfg.PublicURL + "/webhooks/wechatpay/refunds"
	a.dev = w.devHandler(a, a.dev)
	a.log.Info("wechat pay simulator", "url", ext.base, "mchid", mc.MchID, "public_key_id", mc.PlatformPublicKeyID)
	return payments.Config{
		MchID: mc.MchID, AppID: a.cfg.WeAppID, MchCertSerial: mc.MerchantSerial,
		MchPrivateKeyPEM: []byte(mc.MerchantKeyPEM), APIv3Key: mc.APIv3Key, Mode: payments.ModePublicKey,
		PlatformPublicKeyID: mc.PlatformPublicKeyID, PlatformPublicKeyPEM: []byte(mc.PlatformPublicKeyPEM),
		NotifyURL: notify, RefundNotifyURL: refundNotify, AllowInsecureNotifyURL: true,
		HTTPClient: &http.Client{Timeout: payments.DefaultTimeout, Transport: payments.RewriteTransport(ext.base, nil)},
	}, nil
}

// merchant asks the simulator for the merchant's configuration, retrying
// until ctx ends.
func (e *externalSim) merchant(ctx context.Context) (wxpaysim.MerchantConfig, error) {
	var last error
	for {
		mc, err := e.getMerchant(ctx)
		if err == nil {
			return mc, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return wxpaysim.MerchantConfig{}, fmt.Errorf("wechat pay: the simulator at %s (YUTANG_WXPAY_SIM_URL) did not answer: %w; start it with `yutang wxpaysim`", e.base, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *externalSim) getMerchant(ctx context.Context) (wxpaysim.MerchantConfig, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/_sim/merchant", nil)
	if err != nil {
		return wxpaysim.MerchantConfig{}, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return wxpaysim.MerchantConfig{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return wxpaysim.MerchantConfig{}, fmt.Errorf("GET /_sim/merchant: %s", resp.Status)
	}
	var mc wxpaysim.MerchantConfig
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&mc); err != nil {
		return wxpaysim.MerchantConfig{}, fmt.Errorf("GET /_sim/merchant: %w", err)
	}
	return mc, nil
}

// pay pays a trade at the simulator as the shopper would; it answers the
// simulator's status and body (the trade, or the reason it cannot be paid).
func (e *externalSim) pay(ctx context.Context, outTradeNo string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		e.base+"/_sim/transactions/"+url.PathEscape(outTradeNo)+"/pay", bytes.NewReader([]byte("{}")))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// proxy serves /_dev/wechatpay/… from the simulator (its /v3 and /_sim
// routes), except the merchant's keys; POST
// /_dev/wechatpay/transfers/{no}/confirm (wirePayout's route for the
// in-process simulator) goes to the simulator's /_sim/transfers/{no}/confirm,
// which answers the same.
func (e *externalSim) proxy() http.Handler {
	target, _ := url.Parse(e.base) // checked by LoadConfig
	rp := httputil.NewSingleHostReverseProxy(target)
	inner := http.StripPrefix("/_dev/wechatpay", rp)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/_dev/wechatpay/_sim/merchant":
			http.NotFound(w, r)
			return
		case r.Method == http.MethodPost && strings.HasPrefix(p, "/_dev/wechatpay/transfers/") && strings.HasSuffix(p, "/confirm"):
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/_dev/wechatpay/_sim" + strings.TrimPrefix(p, "/_dev/wechatpay")
			r2.URL.RawPath = ""
			r = r2
		}
		inner.ServeHTTP(w, r)
	})
}

// payAtSim pays outTradeNo at the simulator, in process or not, and
// answers the trade (200) or why it cannot be paid (404, 409).
func (w *wxpay) payAtSim(rw http.ResponseWriter, r *http.Request, outTradeNo string) {
	if w.ext != nil {
		status, body, err := w.ext.pay(r.Context(), outTradeNo)
		if err != nil {
			writeDevJSON(rw, http.StatusBadGateway, map[string]string{"error": "the WeChat Pay simulator did not answer: " + err.Error()})
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_, _ = rw.Write(body)
		return
	}
	if err := w.sim.Pay(outTradeNo, ""); err != nil {
		writeDevJSON(rw, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	t, _ := w.sim.Trade(outTradeNo)
	writeDevJSON(rw, http.StatusOK, t)
}

// printWxPay tells the developer where payments go.
func (a *app) printWxPay(w io.Writer) {
	switch {
	case a.pay == nil:
	case a.pay.ext != nil:
		fmt.Fprintf(w, "WeChat Pay: the simulator at %s (its own process); pay an order as the shopper would:\n  curl -s -XPOST %s/_dev/wechatpay/orders/ORDER_NO/pay\n",
			a.pay.ext.base, loopbackURL(a.cfg))
	case a.pay.sim != nil:
		fmt.Fprintf(w, "WeChat Pay: the simulator in process; pay an order as the shopper would:\n  curl -s -XPOST %s/_dev/wechatpay/orders/ORDER_NO/pay\n", loopbackURL(a.cfg))
	}
}
