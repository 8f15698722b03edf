package wxpaysim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

const durableAppID = "wx0000000000000001"

// durable is a simulator on a state directory behind one URL that
// survives its restarts, and a gateway built once from the state's keys, as
// the mall builds its own at start.
type durable struct {
	dir string
	cfg wxpaysim.Config
	cur atomic.Pointer[wxpaysim.Simulator]
	srv *httptest.Server
	gw  *payments.Gateway
}

func newDurable(t *testing.T, cfg wxpaysim.Config, notify string) *durable {
	t.Helper()
	d := &durable{dir: t.TempDir(), cfg: cfg}
	d.cfg.MchID, d.cfg.AppID = "1900000109", durableAppID
	if d.cfg.NotifyTimeout == 0 {
		d.cfg.NotifyTimeout = 500 * time.Millisecond
	}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.cur.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	st := d.restart(t)
	mc := d.cur.Load().MerchantConfig(st)
	gw, err := payments.New(payments.Config{
		MchID: mc.MchID, AppID: mc.AppID, MchCertSerial: mc.MerchantSerial,
		MchPrivateKeyPEM: []byte(mc.MerchantKeyPEM), APIv3Key: mc.APIv3Key, Mode: payments.ModePublicKey,
		PlatformPublicKeyID: mc.PlatformPublicKeyID, PlatformPublicKeyPEM: []byte(mc.PlatformPublicKeyPEM),
		NotifyURL: notify, RefundNotifyURL: notify, AllowInsecureNotifyURL: true,
		HTTPClient: &http.Client{Timeout: 2 * time.Second, Transport: payments.RewriteTransport(d.srv.URL, nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.gw = gw
	return d
}

// restart stops the current simulator (if any) and opens a new one on the
// same directory.
func (d *durable) restart(t *testing.T) wxpaysim.State {
	t.Helper()
	if old := d.cur.Load(); old != nil {
		old.Close()
	}
	sim, st, err := wxpaysim.Open(d.dir, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	d.cur.Store(sim)
	return st
}

func (d *durable) sim() *wxpaysim.Simulator { return d.cur.Load() }

func prepay(t *testing.T, gw *payments.Gateway, no string, fen domain.Fen) {
	t.Helper()
	if _, err := gw.PrepayJSAPI(context.Background(), payment.JSAPIRequest{
		OutTradeNo: no, Description: "durable", OpenID: "o_durable", Amount: fen}); err != nil {
		t.Fatalf("prepay %s: %v", no, err)
	}
}

// A restarted simulator holds the trades, refunds, keys and armed refund
// faults it had: the merchant's gateway, built before, still works with it.
func TestOpenKeepsStateAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDurable(t, wxpaysim.Config{ManualRefunds: true, RetrySchedule: []time.Duration{}}, "http://127.0.0.1:1/n")
	gw := d.gw
	prepay(t, gw, "DURABLEPAID1", 500)
	prepay(t, gw, "DURABLECLOSED1", 300)
	prepay(t, gw, "DURABLEOPEN1", 200)
	prepay(t, gw, "DURABLEOPEN1", 200) // a second prepay_id
	if err := d.sim().Pay("DURABLEPAID1", ""); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(ctx, "DURABLECLOSED1"); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Refund(ctx, payment.RefundRequest{OutTradeNo: "DURABLEPAID1", OutRefundNo: "DURABLER1", Refund: 100, Total: 500}); err != nil {
		t.Fatal(err)
	}
	d.sim().RefuseNextRefunds(1, wxpaysim.RefuseNotEnough)
	paid, _ := d.sim().Trade("DURABLEPAID1")
	keyID := d.sim().PublicKeyID()

	d.restart(t)
	sim2 := d.sim()
	if sim2.PublicKeyID() != keyID {
		t.Fatalf("platform key id changed across restart: %s → %s", keyID, sim2.PublicKeyID())
	}
	after, ok := sim2.Trade("DURABLEPAID1")
	if !ok || after.State != "SUCCESS" || after.TransactionID != paid.TransactionID || after.Refunded != 100 {
		t.Fatalf("paid trade after restart = %+v, before %+v", after, paid)
	}
	if c, _ := sim2.Trade("DURABLECLOSED1"); c.State != "CLOSED" {
		t.Errorf("closed trade after restart = %+v", c)
	}
	if o, _ := sim2.Trade("DURABLEOPEN1"); o.State != "NOTPAY" || len(o.PrepayIDs) != 2 {
		t.Errorf("open trade after restart = %+v", o)
	}
	// The gateway made before the restart (its keys) is still the merchant.
	q, err := gw.QueryByOutTradeNo(ctx, "DURABLEPAID1")
	if err != nil || q.TransactionID != paid.TransactionID {
		t.Fatalf("query after restart = %+v, %v", q, err)
	}
	rf, err := gw.QueryRefund(ctx, "DURABLER1")
	if err != nil || rf.Status != payment.RefundProcessing || rf.Refund != 100 {
		t.Fatalf("refund after restart = %+v, %v", rf, err)
	}
	if _, err := gw.Refund(ctx, payment.RefundRequest{OutTradeNo: "DURABLEPAID1", OutRefundNo: "DURABLER2", Refund: 100, Total: 500}); !errors.Is(err, payment.ErrNotEnough) {
		t.Errorf("the armed NOT_ENOUGH refusal did not survive the restart: %v", err)
	}
	if _, err := gw.Refund(ctx, payment.RefundRequest{OutTradeNo: "DURABLEPAID1", OutRefundNo: "DURABLER2", Refund: 100, Total: 500}); err != nil {
		t.Errorf("a refund after the refusal: %v", err)
	}
	if err := sim2.Pay("DURABLEOPEN1", ""); err != nil {
		t.Errorf("pay an open trade after restart: %v", err)
	}
	if _, err := gw.PrepayJSAPI(ctx, payment.JSAPIRequest{OutTradeNo: "DURABLEOPEN1", Description: "durable", OpenID: "o_durable", Amount: 200}); !errors.Is(err, payment.ErrOrderPaid) {
		t.Errorf("prepay of a paid trade after restart: %v", err)
	}
}

// A notification the mall did not acknowledge before the simulator stopped
// is delivered again after it restarts, with the same event id.
func TestOpenResumesUndeliveredNotifications(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	var got atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	d := newDurable(t, wxpaysim.Config{RetrySchedule: []time.Duration{time.Hour}}, receiver.URL+"/n")
	prepay(t, d.gw, "RESUME000001", 100)
	if err := d.sim().Pay("RESUME000001", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(d.sim().Deliveries()) == 1 })
	first := d.sim().Deliveries()[0]
	if first.OK() {
		t.Fatalf("first attempt = %+v, want a failure", first)
	}
	up.Store(true)
	d.restart(t) // the retry was an hour away
	waitFor(t, func() bool { return got.Load() == 1 && len(d.sim().Deliveries()) == 1 })
	dl := d.sim().Deliveries()
	if dl[0].EventID != first.EventID || dl[0].Attempt != 2 || !dl[0].OK() {
		t.Fatalf("after restart deliveries = %+v, want attempt 2 of %s acknowledged", dl, first.EventID)
	}
	// Acknowledged: the next start sends nothing.
	d.restart(t)
	time.Sleep(200 * time.Millisecond)
	if n := len(d.sim().Deliveries()); n != 0 || got.Load() != 1 {
		t.Fatalf("an acknowledged notification was sent again: %d deliveries, %d received", n, got.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A crash mid-write leaves a last line without its newline: it is dropped
// and the rest is kept; a corrupt line in the middle refuses to start.
func TestOpenToleratesATornLastLine(t *testing.T) {
	t.Parallel()
	d := newDurable(t, wxpaysim.Config{}, "http://127.0.0.1:1/n")
	dir := d.dir
	prepay(t, d.gw, "TORNLINE0001", 100)
	d.sim().Close()
	path := filepath.Join(dir, "journal.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"k":"trade","trade":{"out_trade_no":"TORNLI`)
	f.Close()
	d.restart(t)
	if tr, ok := d.sim().Trade("TORNLINE0001"); !ok || tr.State != "NOTPAY" {
		t.Fatalf("trade after a torn line = %+v %v", tr, ok)
	}
	d.sim().Close()
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "TORNLI\"") || !strings.HasSuffix(string(b), "\n") {
		t.Errorf("compaction kept the torn line: %q", b)
	}
	if err := os.WriteFile(path, append([]byte("not json\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wxpaysim.Open(dir, wxpaysim.Config{MchID: "1900000109", AppID: durableAppID}); err == nil {
		t.Error("a corrupt journal line in the middle was accepted")
	}
}

// Keys are created on first start, 0600, and the same on the next.
func TestLoadStateCreatesPrivateKeysOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	a, err := wxpaysim.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "keys.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys.json: %v %v", fi.Mode(), err)
	}
	b, err := wxpaysim.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.APIv3Key != b.APIv3Key || len(a.APIv3Key) != 32 || a.Merchant.Serial != b.Merchant.Serial ||
		!a.PlatformKey.Equal(b.PlatformKey) || a.PlatformSerial != b.PlatformSerial {
		t.Fatal("the state's keys changed between two loads")
	}
}
