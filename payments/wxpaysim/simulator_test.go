package wxpaysim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

var merchantKey = sync.OnceValue(func() wxpaysim.MerchantKey {
	k, err := wxpaysim.NewMerchantKey()
	if err != nil {
		panic(err)
	}
	return k
})

const apiKey = "0123456789abcdef0123456789ABCDEF"

func newSim(t *testing.T, notifyURL string) (*wxpaysim.Simulator, *httptest.Server, *payments.Gateway) {
	t.Helper()
	k := merchantKey()
	sim, err := wxpaysim.New(wxpaysim.Config{
		MchID: "1900000109", AppID: "wx0000000000000001", APIv3Key: apiKey,
		MerchantPublicKey: k.PublicKey, MerchantCertSerial: k.Serial,
		NotifyTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	gw, err := payments.New(payments.Config{
		MchID: "1900000109", AppID: "wx0000000000000001", MchCertSerial: k.Serial,
		MchPrivateKeyPEM: k.PrivateKeyPEM, APIv3Key: apiKey, Mode: payments.ModePublicKey,
		PlatformPublicKeyID: sim.PublicKeyID(), PlatformPublicKeyPEM: sim.PlatformPublicKeyPEM(),
		NotifyURL: notifyURL, AllowInsecureNotifyURL: true,
		HTTPClient: &http.Client{Transport: payments.RewriteTransport(srv.URL, nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sim, srv, gw
}

func TestNewValidates(t *testing.T) {
	_, err := wxpaysim.New(wxpaysim.Config{APIv3Key: "short"})
	if err == nil || !strings.Contains(err.Error(), "MchID") || !strings.Contains(err.Error(), "APIv3Key") ||
		!strings.Contains(err.Error(), "MerchantPublicKey") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnsignedRequestRefused(t *testing.T) {
	_, srv, _ := newSim(t, "http://127.0.0.1:1/n")
	resp, err := http.Get(srv.URL + "/v3/pay/transactions/out-trade-no/ABCDEF1?mchid=1900000109")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code, Message string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusUnauthorized || body.Code != "SIGN_ERROR" {
		t.Fatalf("%s %+v", resp.Status, body)
	}
	if resp.Header.Get("Wechatpay-Signature") != "" {
		t.Error("an error answer is signed")
	}
}

func TestControlRoutes(t *testing.T) {
	sim, srv, gw := newSim(t, "http://127.0.0.1:1/n")
	post := func(path, body string) int {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/_sim/transactions/NOSUCHTRADE/pay", ""); got != http.StatusNotFound {
		t.Errorf("pay unknown = %d", got)
	}
	if got := post("/_sim/notifications/X/faults", `{"fault":"gremlins"}`); got != http.StatusBadRequest {
		t.Errorf("unknown fault = %d", got)
	}
	if got := post("/_sim/api-faults", `{"count":1,"status":503}`); got != http.StatusOK {
		t.Errorf("api fault = %d", got)
	}
	_, err := gw.QueryByOutTradeNo(context.Background(), "ABCDEF1")
	if !payment.Retryable(err) {
		t.Errorf("after an injected 503: err = %v", err)
	}
	resp, err := http.Get(srv.URL + "/_sim/platform-key")
	if err != nil {
		t.Fatal(err)
	}
	var key struct {
		ID string `json:"public_key_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&key)
	resp.Body.Close()
	if key.ID != sim.PublicKeyID() {
		t.Errorf("platform key id = %q", key.ID)
	}
}

// TestCloseStopsDeliveries: a receiver that never answers in time keeps a
// notification retrying; Close ends that at once.
func TestCloseStopsDeliveries(t *testing.T) {
	block := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer receiver.Close()
	defer close(block)
	sim, _, gw := newSim(t, receiver.URL+"/n")
	no := "CLOSE" + time.Now().Format("150405.000000")[7:] + "X"
	if _, err := gw.PrepayJSAPI(context.Background(), payment.JSAPIRequest{
		OutTradeNo: no, Description: "x", OpenID: "o", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the first attempt times out; a retry is scheduled 15 s later
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := sim.WaitIdle(ctx); err == nil {
		t.Fatal("idle while a retry is scheduled")
	}
	done := make(chan struct{})
	go func() { sim.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := sim.WaitIdle(context.Background()); err != nil {
		t.Fatalf("WaitIdle after Close: %v", err)
	}
	d := sim.Deliveries()
	if len(d) != 1 || d[0].Err == "" {
		t.Fatalf("deliveries = %+v, want one timed out attempt", d)
	}
}
