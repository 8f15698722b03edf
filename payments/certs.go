package payments

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Platform certificates (certificate and combined modes).
//
// WeChat Pay replaces its platform certificates from time to time: the new
// one is listed by GET /v3/certificates 24 hours before it signs anything,
// and the old one's expire_time is moved to the switch. Its guide says to
// download the list at least every 12 hours. The SDK's own downloader
// (core/downloader) trusts the first download unverified, never drops an
// expired certificate and runs a process-wide singleton, so the gateway
// keeps its own set, with these rules:
//
//   - the set starts from the configured certificates (the trust anchor the
//     merchant downloaded once);
//   - a download is decrypted with the APIv3 key (AEAD_AES_256_GCM,
//     associated_data "certificate": only WeChat Pay and the merchant know the
//     key) and its answer's signature must verify against a certificate of
//     the set or of the download itself (or the platform public key in
//     combined mode); anything else leaves the set unchanged;
//   - a certificate whose expire_time or NotAfter has passed, or whose
//     effective_time / NotBefore has not come, verifies nothing; an expired
//     one is dropped at the next refresh;
//   - a signature with an unknown serial triggers one download at most every
//     CertRefreshGap (default a minute), so a forger cannot make the mall
//     hammer WeChat Pay, and a rotation is picked up on its first signature.

// DefaultCertRefreshGap is the least time between two downloads triggered by
// unknown serials.
const DefaultCertRefreshGap = time.Minute

// DefaultCertRefreshInterval is how often the program should call
// RefreshCertificates: WeChat Pay asks for less than 12 hours.
const DefaultCertRefreshInterval = 6 * time.Hour

// PlatformCert is one platform certificate the gateway trusts.
type PlatformCert struct {
	Serial    string
	Effective time.Time // the later of effective_time and NotBefore
	Expires   time.Time // the earlier of expire_time and NotAfter
	cert      *x509.Certificate
}

func (c PlatformCert) usable(now time.Time) bool {
	return !now.Before(c.Effective) && now.Before(c.Expires)
}

// platformCerts is the current set, safe for concurrent use. It implements
// core.CertificateGetter for the SDK's verifier (responses and
// notifications) and encryptor.
type platformCerts struct {
	apiV3Key  string
	now       func() time.Time
	gap       time.Duration
	pubKeyID  string         // combined mode: also trusted for the download's signature
	publicKey *rsa.PublicKey // combined mode
	client    *core.Client   // set after the SDK client exists; null validator
	onRefresh func(err error)

	mu    sync.RWMutex
	certs map[string]PlatformCert

	refreshMu   sync.Mutex // one download at a time
	lastAttempt time.Time  // of a download triggered by an unknown serial
}

var _ core.CertificateGetter = (*platformCerts)(nil)

func newPlatformCerts(initial []*x509.Certificate, apiV3Key string, now func() time.Time, gap time.Duration) *platformCerts {
	if now == nil {
		now = time.Now
	}
	if gap <= 0 {
		gap = DefaultCertRefreshGap
	}
	p := &platformCerts{apiV3Key: apiV3Key, now: now, gap: gap, certs: map[string]PlatformCert{}}
	for _, c := range initial {
		pc := PlatformCert{Serial: utils.GetCertificateSerialNumber(*c), Effective: c.NotBefore, Expires: c.NotAfter, cert: c}
		p.certs[pc.Serial] = pc
	}
	return p
}

// Get returns the certificate of a serial when it is usable now. An unknown
// serial triggers a download (at most one every gap) and a second look.
func (p *platformCerts) Get(ctx context.Context, serial string) (*x509.Certificate, bool) {
	if c, known := p.lookup(serial); known {
		return c, c != nil
	}
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	if c, known := p.lookup(serial); known { // another caller just refreshed
		return c, c != nil
	}
	now := p.now()
	if !p.lastAttempt.IsZero() && now.Sub(p.lastAttempt) < p.gap {
		return nil, false
	}
	p.lastAttempt = now
	_ = p.refresh(ctx)
	c, _ := p.lookup(serial)
	return c, c != nil
}

// lookup says whether the serial is known, and its certificate if usable.
func (p *platformCerts) lookup(serial string) (*x509.Certificate, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	c, ok := p.certs[serial]
	if !ok {
		return nil, false
	}
	if !c.usable(p.now()) {
		return nil, true
	}
	return c.cert, true
}

// GetAll returns the usable certificates by serial.
func (p *platformCerts) GetAll(context.Context) map[string]*x509.Certificate {
	p.mu.RLock()
	defer p.mu.RUnlock()
	now := p.now()
	out := make(map[string]*x509.Certificate, len(p.certs))
	for s, c := range p.certs {
		if c.usable(now) {
			out[s] = c.cert
		}
	}
	return out
}

// GetNewestSerial returns the usable certificate that expires last (WeChat
// Pay: encrypt with the newest).
func (p *platformCerts) GetNewestSerial(context.Context) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	now := p.now()
	best := PlatformCert{}
	for _, c := range p.certs {
		if c.usable(now) && (best.Serial == "" || c.Expires.After(best.Expires)) {
			best = c
		}
	}
	return best.Serial
}

// list returns the set, soonest expiry first.
func (p *platformCerts) list() []PlatformCert {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]PlatformCert, 0, len(p.certs))
	for _, c := range p.certs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Expires.Equal(out[j].Expires) {
			return out[i].Expires.Before(out[j].Expires)
		}
		return out[i].Serial < out[j].Serial
	})
	return out
}

// downloaded is the answer of GET /v3/certificates.
type downloaded struct {
	Data []struct {
		SerialNo           string    `json:"serial_no"`
		EffectiveTime      time.Time `json:"effective_time"`
		ExpireTime         time.Time `json:"expire_time"`
		EncryptCertificate struct {
			Algorithm      string `json:"algorithm"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
			Ciphertext     string `json:"ciphertext"`
		} `json:"encrypt_certificate"`
	} `json:"data"`
}

// refresh downloads the list and replaces the set with its usable
// certificates; on any failure the set is unchanged.
func (p *platformCerts) refresh(ctx context.Context) (err error) {
	defer func() {
		if p.onRefresh != nil {
			p.onRefresh(err)
		}
	}()
	if p.client == nil {
		return errors.New("payments: certificates: no client")
	}
	res, err := p.client.Get(ctx, consts.WechatPayAPIServer+"/v3/certificates")
	if err != nil {
		return fmt.Errorf("payments: certificates: download: %w", classify(err, nil))
	}
	var d downloaded
	if err := core.UnMarshalResponse(res.Response, &d); err != nil {
		return fmt.Errorf("payments: certificates: %w", err)
	}
	now := p.now()
	fresh := map[string]PlatformCert{}
	for _, raw := range d.Data {
		ec := raw.EncryptCertificate
		if ec.Algorithm != "AEAD_AES_256_GCM" {
			return fmt.Errorf("payments: certificates: %s: algorithm %q", raw.SerialNo, ec.Algorithm)
		}
		pemText, err := utils.DecryptAES256GCM(p.apiV3Key, ec.AssociatedData, ec.Nonce, ec.Ciphertext)
		if err != nil {
			return fmt.Errorf("payments: certificates: %s: decrypt: %w", raw.SerialNo, err)
		}
		cert, err := utils.LoadCertificate(pemText)
		if err != nil {
			return fmt.Errorf("payments: certificates: %s: %w", raw.SerialNo, err)
		}
		if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
			return fmt.Errorf("payments: certificates: %s has no RSA key", raw.SerialNo)
		}
		if got := utils.GetCertificateSerialNumber(*cert); got != raw.SerialNo {
			return fmt.Errorf("payments: certificates: serial_no %s holds certificate %s", raw.SerialNo, got)
		}
		pc := PlatformCert{Serial: raw.SerialNo, Effective: later(raw.EffectiveTime, cert.NotBefore),
			Expires: earlier(raw.ExpireTime, cert.NotAfter), cert: cert}
		if !now.Before(pc.Expires) {
			continue // expired: never trusted again
		}
		fresh[pc.Serial] = pc
	}
	if len(fresh) == 0 {
		return errors.New("payments: certificates: the download holds no certificate in force")
	}
	// The answer must be signed by a certificate known before or just
	// downloaded (or by the public key in combined mode).
	trust := newPlatformCerts(nil, p.apiV3Key, p.now, p.gap)
	for s, c := range fresh {
		trust.certs[s] = c
	}
	p.mu.RLock()
	for s, c := range p.certs {
		if _, ok := trust.certs[s]; !ok {
			trust.certs[s] = c
		}
	}
	p.mu.RUnlock()
	trust.lastAttempt, trust.gap = now, 1<<63-1 // a trust set never downloads
	var v auth.Verifier = verifiers.NewSHA256WithRSAVerifier(trust)
	if p.publicKey != nil {
		v = verifiers.NewSHA256WithRSACombinedVerifier(trust, p.pubKeyID, *p.publicKey)
	}
	if err := validators.NewWechatPayResponseValidator(v).Validate(ctx, res.Response); err != nil {
		return fmt.Errorf("payments: certificates: answer not signed by a trusted certificate: %w", err)
	}
	p.mu.Lock()
	p.certs = fresh
	p.mu.Unlock()
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// RefreshCertificates downloads WeChat Pay's platform certificates now and
// trusts the ones in force (certificate and combined modes; a no-op in
// public-key mode). On failure the set is unchanged. Run it at least every
// 12 hours (DefaultCertRefreshInterval).
func (g *Gateway) RefreshCertificates(ctx context.Context) error {
	if g.certs == nil {
		return nil
	}
	g.certs.refreshMu.Lock()
	defer g.certs.refreshMu.Unlock()
	return g.certs.refresh(ctx)
}

// PlatformCertificates returns the platform certificates the gateway holds,
// soonest expiry first (nil in public-key mode): what /metrics shows.
func (g *Gateway) PlatformCertificates() []PlatformCert {
	if g.certs == nil {
		return nil
	}
	return g.certs.list()
}
