package payments_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// clock is a movable clock for the gateway's view of certificate validity
// and its refresh rate limit (the SDK's timestamp check stays on real time).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// certEnv is a simulator in certificate mode and a certificate-mode gateway
// whose notification receiver records what it accepted and refused.
type certEnv struct {
	sim   *wxpaysim.Simulator
	gw    *payments.Gateway
	clock *clock

	mu       sync.Mutex
	accepted []string // out_trade_no
	refused  int
}

func newCertEnv(t *testing.T, mode payments.Mode) *certEnv {
	t.Helper()
	k := merchantKey()
	ce := &certEnv{clock: &clock{}}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := ce.gw.ParsePaymentNotification(r.Context(), r)
		ce.mu.Lock()
		defer ce.mu.Unlock()
		if err != nil {
			ce.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ce.accepted = append(ce.accepted, n.OutTradeNo)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	sim, err := wxpaysim.New(wxpaysim.Config{
		MchID: testMchID, AppID: testAppID, APIv3Key: testAPIKey,
		MerchantPublicKey: k.PublicKey, MerchantCertSerial: k.Serial,
		RetrySchedule: []time.Duration{}, // one attempt each: what was refused stays refused
		ManualRefunds: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ce.sim = sim
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	certs, err := sim.UseCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Signing {
		t.Fatalf("simulator certificates: %+v", certs)
	}
	cfg := gatewayConfig(sim, srv.URL, receiver.URL)
	// Only the signing certificate is configured: the trust anchor.
	cfg.Mode, cfg.PlatformCertPEM = mode, []byte(certs[0].PEM)
	if mode == payments.ModeCertificate {
		cfg.PlatformPublicKeyID, cfg.PlatformPublicKeyPEM = "", nil
	}
	cfg.Now = ce.clock.now
	ce.gw = mustGateway(t, cfg)
	return ce
}

func (ce *certEnv) serials() []string {
	var out []string
	for _, c := range ce.gw.PlatformCertificates() {
		out = append(out, c.Serial)
	}
	slices.Sort(out)
	return out
}

// payAndDeliver prepays a trade (the answer must verify), lets before run
// (a rotation …), pays it at the simulator and waits for its one delivery.
func (ce *certEnv) payAndDeliver(t *testing.T, before func()) (no string, accepted bool) {
	t.Helper()
	no = newTradeNo()
	if _, err := ce.gw.PrepayJSAPI(context.Background(), jsapiRequest(no)); err != nil {
		t.Fatalf("prepay %s: %v", no, err)
	}
	if before != nil {
		before()
	}
	if err := ce.sim.Pay(no, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ce.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	ce.mu.Lock()
	defer ce.mu.Unlock()
	return no, slices.Contains(ce.accepted, no)
}

func sortedSerials(cs ...wxpaysim.PlatformCert) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Serial)
	}
	slices.Sort(out)
	return out
}

func TestPlatformCertificatesRefreshAndRotation(t *testing.T) {
	ce := newCertEnv(t, payments.ModeCertificate)
	ctx := context.Background()
	listed := ce.sim.PlatformCertificates()

	// The configured certificate alone, until the first refresh.
	if got := ce.serials(); !slices.Equal(got, sortedSerials(listed[0])) {
		t.Fatalf("before refresh: %v", got)
	}
	if err := ce.gw.RefreshCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := ce.serials(), sortedSerials(listed...); !slices.Equal(got, want) {
		t.Fatalf("after refresh: %v, want %v", got, want)
	}
	if _, ok := ce.payAndDeliver(t, nil); !ok {
		t.Fatal("a notification signed by the current certificate was refused")
	}

	// Rotation between prepay and payment: the notification is the first
	// thing signed by the new certificate; its unknown serial triggers one
	// download, and it is accepted.
	before := ce.sim.CertificateDownloads()
	var rotated wxpaysim.PlatformCert
	_, ok := ce.payAndDeliver(t, func() {
		var err error
		if rotated, err = ce.sim.RotatePlatformCertificate(); err != nil {
			t.Fatal(err)
		}
	})
	if !ok {
		t.Fatal("the notification signed by the rotated certificate was refused")
	}
	if n := ce.sim.CertificateDownloads() - before; n != 1 {
		t.Fatalf("rotation picked up with %d downloads, want 1", n)
	}
	if !slices.Contains(ce.serials(), rotated.Serial) {
		t.Fatalf("rotated certificate %s not held: %v", rotated.Serial, ce.serials())
	}
	// And the answers signed by it verify too.
	if _, ok := ce.payAndDeliver(t, nil); !ok {
		t.Fatal("a second notification signed by the rotated certificate was refused")
	}
}

func TestPlatformCertificatesUnknownAndExpired(t *testing.T) {
	ce := newCertEnv(t, payments.ModeCertificate)
	ctx := context.Background()
	if err := ce.gw.RefreshCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	held := ce.serials()
	signing := ce.sim.PlatformCertificates()[0].Serial

	// An unknown serial (a certificate WeChat Pay does not list): refused,
	// after one download; a second one within the minute downloads nothing.
	stranger, err := ce.sim.AddPlatformCertificate(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := ce.sim.RetirePlatformCertificate(stranger.Serial); err != nil {
		t.Fatal(err)
	}
	signWith := func(serial string) func() {
		return func() {
			if err := ce.sim.SignWith(serial); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := ce.sim.CertificateDownloads()
	if _, ok := ce.payAndDeliver(t, signWith(stranger.Serial)); ok {
		t.Fatal("a notification with an unknown serial was accepted")
	}
	if n := ce.sim.CertificateDownloads() - before; n != 1 {
		t.Fatalf("unknown serial: %d downloads, want 1", n)
	}
	signWith(signing)()
	if _, ok := ce.payAndDeliver(t, signWith(stranger.Serial)); ok {
		t.Fatal("a second notification with an unknown serial was accepted")
	}
	if n := ce.sim.CertificateDownloads() - before; n != 1 {
		t.Fatalf("two unknown serials within a minute: %d downloads, want 1 (rate limit)", n)
	}
	if got := ce.serials(); !slices.Equal(got, held) {
		t.Fatalf("an unknown serial changed the set: %v, was %v", got, held)
	}

	// A listed certificate whose expire_time has passed (its PEM is valid
	// for years): never trusted, even right after a download.
	signWith(signing)()
	expired, err := ce.sim.AddPlatformCertificate(time.Now().AddDate(-1, 0, 0), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ce.clock.advance(2 * time.Minute) // past the rate limit
	if err := ce.gw.RefreshCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ce.serials(), expired.Serial) {
		t.Fatalf("expired certificate %s held: %v", expired.Serial, ce.serials())
	}
	before = ce.sim.CertificateDownloads()
	if _, ok := ce.payAndDeliver(t, signWith(expired.Serial)); ok {
		t.Fatal("a notification signed by an expired certificate was accepted")
	}
	if n := ce.sim.CertificateDownloads() - before; n != 1 {
		t.Fatalf("expired serial: %d downloads, want 1", n)
	}

	// A rotation retires the old certificate a day later: past that, its
	// signature is refused although its PEM is still valid, and a download
	// it signs is not trusted.
	signWith(signing)()
	if _, err := ce.sim.RotatePlatformCertificate(); err != nil {
		t.Fatal(err)
	}
	if err := ce.gw.RefreshCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	var oldExpiry time.Time
	for _, c := range ce.gw.PlatformCertificates() {
		if c.Serial == signing {
			oldExpiry = c.Expires
		}
	}
	if d := time.Until(oldExpiry); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("the rotated-out certificate expires in %v, want about a day", d)
	}
	ce.clock.advance(25 * time.Hour)
	if _, ok := ce.payAndDeliver(t, signWith(signing)); ok {
		t.Fatal("a notification signed by a retired certificate was accepted")
	}
	if err := ce.gw.RefreshCertificates(ctx); err == nil {
		t.Fatal("a download signed by a retired certificate was trusted")
	}
	if !slices.Contains(ce.serials(), signing) {
		t.Fatal("a failed download changed the set")
	}
	ce.mu.Lock()
	defer ce.mu.Unlock()
	if ce.refused != 4 {
		t.Fatalf("refused %d notifications, want 4", ce.refused)
	}
}

// TestCombinedModeAcceptsBoth: in combined mode notifications signed by the
// platform public key and by the platform certificates (rotated ones too)
// are accepted, and the certificate list downloads.
func TestCombinedModeAcceptsBoth(t *testing.T) {
	ce := newCertEnv(t, payments.ModeCombined)
	if err := ce.gw.RefreshCertificates(context.Background()); err != nil {
		t.Fatalf("combined mode download: %v", err)
	}
	if got, want := ce.serials(), sortedSerials(ce.sim.PlatformCertificates()...); !slices.Equal(got, want) {
		t.Fatalf("certificates %v, want %v", got, want)
	}
	if _, ok := ce.payAndDeliver(t, nil); !ok {
		t.Fatal("combined mode refused a certificate's signature")
	}
	if _, ok := ce.payAndDeliver(t, func() {
		if err := ce.sim.SignWith(ce.sim.PublicKeyID()); err != nil {
			t.Fatal(err)
		}
	}); !ok {
		t.Fatal("combined mode refused the public key's signature")
	}
	// A download signed by the public key is trusted too.
	if err := ce.gw.RefreshCertificates(context.Background()); err != nil {
		t.Fatalf("download signed by the public key: %v", err)
	}
	if _, ok := ce.payAndDeliver(t, func() {
		if _, err := ce.sim.RotatePlatformCertificate(); err != nil {
			t.Fatal(err)
		}
	}); !ok {
		t.Fatal("combined mode refused a rotated certificate's signature")
	}
}
