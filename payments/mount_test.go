package payments_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// TestMountedUnderPrefix mounts the simulator as the dev server does, with
// and without http.StripPrefix, and drives it through the real SDK.
func TestMountedUnderPrefix(t *testing.T) {
	e := newEnv(t)
	for _, strip := range []bool{true, false} {
		t.Run(fmt.Sprintf("strip=%v", strip), func(t *testing.T) {
			mux := http.NewServeMux()
			if strip {
				mux.Handle("/_dev/wechatpay/", http.StripPrefix("/_dev/wechatpay", e.sim))
			} else {
				mux.Handle("/_dev/wechatpay/", e.sim)
			}
			srv := httptest.NewServer(mux)
			defer srv.Close()
			gw := mustGateway(t, gatewayConfig(e.sim, srv.URL+"/_dev/wechatpay", "http://127.0.0.1:2"))

			ctx := context.Background()
			no := newTradeNo()
			if _, err := gw.PrepayJSAPI(ctx, jsapiRequest(no)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(srv.URL+"/_dev/wechatpay/_sim/transactions/"+no+"/pay", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("control pay: %s", resp.Status)
			}
			tx, err := gw.QueryByOutTradeNo(ctx, no)
			if err != nil || tx.TradeState != payment.TradeSuccess {
				t.Fatalf("query: %+v, %v", tx, err)
			}
			if err := gw.Close(ctx, newTradeNo()); err == nil {
				t.Fatal("closed an unknown trade")
			}
		})
	}
}

func TestCertificateAndCombinedModes(t *testing.T) {
	key := mustKey(t)
	serial := big.NewInt(0x5157F09EFDC096DE)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "Tenpay.com Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := merchantKey()

	t.Run("certificate", func(t *testing.T) {
		sim, err := wxpaysim.New(wxpaysim.Config{
			MchID: testMchID, AppID: testAppID, APIv3Key: testAPIKey, MerchantPublicKey: k.PublicKey,
			PlatformKey: key, PlatformSerial: fmt.Sprintf("%X", serial),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		srv := httptest.NewServer(sim)
		defer srv.Close()
		cfg := gatewayConfig(sim, srv.URL, "http://127.0.0.1:2")
		cfg.Mode, cfg.PlatformPublicKeyID, cfg.PlatformPublicKeyPEM, cfg.PlatformCertPEM =
			payments.ModeCertificate, "", nil, certPEM
		gw := mustGateway(t, cfg)
		if _, err := gw.PrepayJSAPI(context.Background(), jsapiRequest(newTradeNo())); err != nil {
			t.Fatalf("certificate mode: %v", err)
		}
	})
	t.Run("combined", func(t *testing.T) {
		e := newEnv(t)
		cfg := gatewayConfig(e.sim, e.simURL, "http://127.0.0.1:2")
		cfg.Mode, cfg.PlatformCertPEM = payments.ModeCombined, certPEM
		gw := mustGateway(t, cfg)
		if _, err := gw.PrepayJSAPI(context.Background(), jsapiRequest(newTradeNo())); err != nil {
			t.Fatalf("combined mode: %v", err)
		}
	})
}

func TestRewriteTransport(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Host + " " + r.RequestURI
	}))
	defer srv.Close()
	c := &http.Client{Transport: payments.RewriteTransport(srv.URL+"/_dev/wechatpay/", nil)}
	resp, err := c.Get("https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/A1?mchid=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := strings.TrimPrefix(srv.URL, "http://") + " /_dev/wechatpay/v3/pay/transactions/out-trade-no/A1?mchid=1"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	bad := &http.Client{Transport: payments.RewriteTransport("not a url", nil)}
	if _, err := bad.Get("https://api.mch.weixin.qq.com/v3/x"); err == nil {
		t.Fatal("a bad base URL did not fail")
	}
}
