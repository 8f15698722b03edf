package wxpaysim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Platform certificates: a merchant in certificate (or combined) mode
// downloads them from GET /v3/certificates, each encrypted with the APIv3
// key (AEAD_AES_256_GCM, associated_data "certificate") beside its
// serial_no, effective_time and expire_time (WeChat Pay's "下载平台证书":
// pay.weixin.qq.com, …/chapter8_7.shtml). Before a rotation WeChat Pay lists
// the new certificate 24 hours ahead and moves the old one's expire_time to
// the switch; answers and notifications then carry the new serial in
// Wechatpay-Serial.
//
// The simulator starts in public-key mode; UseCertificates switches it to
// certificate mode, RotatePlatformCertificate rotates, and
// AddPlatformCertificate / SignWith build any other situation (an expired
// certificate still signing …).

// PlatformCert is a simulated platform certificate.
type PlatformCert struct {
	Serial        string    `json:"serial_no"`
	EffectiveTime time.Time `json:"effective_time"`
	ExpireTime    time.Time `json:"expire_time"` // what the list says; the PEM's NotAfter is 5 years on
	PEM           string    `json:"pem"`
	Signing       bool      `json:"signing"`
}

type simCert struct {
	PlatformCert
	key     *rsa.PrivateKey
	retired bool // off the list; may still sign (SignWith)
}

// certState is the simulator's platform certificates (zero: none, public-key
// mode).
type certState struct {
	mu        sync.Mutex
	certs     []*simCert
	signer    *simCert // nil: the platform key signs as PublicKeyID
	downloads int
}

// signer returns the key that signs answers and notifications, and the
// serial sent in Wechatpay-Serial.
func (s *Simulator) signer() (*rsa.PrivateKey, string) {
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	if c := s.certs.signer; c != nil {
		return c.key, c.Serial
	}
	return s.platformKey, s.publicKeyID
}

// UseCertificates switches the simulator to certificate mode: a certificate
// for its platform key signs from now on, and GET /v3/certificates lists it
// with a second one (another key, not signing yet), as WeChat Pay does
// around a rotation. It returns both; calling it again returns the list.
func (s *Simulator) UseCertificates() ([]PlatformCert, error) {
	now := s.cfg.Now()
	s.certs.mu.Lock()
	started := len(s.certs.certs) > 0
	s.certs.mu.Unlock()
	if !started {
		first, err := newSimCert(s.platformKey, now.Add(-time.Hour), now.AddDate(5, 0, 0))
		if err != nil {
			return nil, err
		}
		second, err := newSimCert(nil, now.Add(-time.Hour), now.AddDate(5, 0, 1))
		if err != nil {
			return nil, err
		}
		s.certs.mu.Lock()
		if len(s.certs.certs) == 0 {
			s.certs.certs = []*simCert{first, second}
			s.certs.signer = first
		}
		s.certs.mu.Unlock()
	}
	return s.PlatformCertificates(), nil
}

// AddPlatformCertificate lists a new certificate (a new key) with these
// times; it does not sign until SignWith.
func (s *Simulator) AddPlatformCertificate(effective, expire time.Time) (PlatformCert, error) {
	c, err := newSimCert(nil, effective, expire)
	if err != nil {
		return PlatformCert{}, err
	}
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	s.certs.certs = append(s.certs.certs, c)
	return c.PlatformCert, nil
}

// SignWith makes the certificate with this serial (listed or retired) sign
// answers and notifications from now on; PublicKeyID() makes the platform
// public key sign again (a merchant in combined mode sees both).
func (s *Simulator) SignWith(serial string) error {
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	if serial == s.publicKeyID {
		s.certs.signer = nil
		return nil
	}
	for _, c := range s.certs.certs {
		if c.Serial == serial {
			s.certs.signer = c
			return nil
		}
	}
	return fmt.Errorf("wxpaysim: platform certificate %s: %w", serial, ErrNotFound)
}

// RetirePlatformCertificate takes a certificate off the list (it may still
// sign, if SignWith chose it: a forger's or a stale cache's view).
func (s *Simulator) RetirePlatformCertificate(serial string) error {
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	for _, c := range s.certs.certs {
		if c.Serial == serial {
			c.retired = true
			return nil
		}
	}
	return fmt.Errorf("wxpaysim: platform certificate %s: %w", serial, ErrNotFound)
}

// RotatePlatformCertificate does what WeChat Pay does at a rotation: a new
// certificate is listed and signs from now on; the one that signed until now
// stays listed, expiring in a day.
func (s *Simulator) RotatePlatformCertificate() (PlatformCert, error) {
	now := s.cfg.Now()
	c, err := newSimCert(nil, now.Add(-time.Minute), now.AddDate(5, 0, 0))
	if err != nil {
		return PlatformCert{}, err
	}
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	if old := s.certs.signer; old != nil {
		old.ExpireTime = now.Add(24 * time.Hour)
	}
	s.certs.certs = append(s.certs.certs, c)
	s.certs.signer = c
	return c.PlatformCert, nil
}

// PlatformCertificates returns the listed certificates, oldest first.
func (s *Simulator) PlatformCertificates() []PlatformCert {
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	out := make([]PlatformCert, 0, len(s.certs.certs))
	for _, c := range s.certs.certs {
		if c.retired {
			continue
		}
		pc := c.PlatformCert
		pc.Signing = c == s.certs.signer
		out = append(out, pc)
	}
	return out
}

// CertificateDownloads counts the answered GET /v3/certificates.
func (s *Simulator) CertificateDownloads() int {
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	return s.certs.downloads
}

func newSimCert(key *rsa.PrivateKey, effective, expire time.Time) (*simCert, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("wxpaysim: platform certificate key: %w", err)
		}
	}
	serial := new(big.Int).SetBytes(randomBytes(20))
	serial.SetBit(serial, 159, 1) // 40 hex digits, like WeChat Pay's
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA (wxpaysim)", Organization: []string{"Tenpay.com"}},
		NotBefore:    effective.Add(-time.Minute),
		NotAfter:     effective.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("wxpaysim: platform certificate: %w", err)
	}
	return &simCert{key: key, PlatformCert: PlatformCert{
		Serial:        strings.ToUpper(serial.Text(16)),
		EffectiveTime: effective.Truncate(time.Second),
		ExpireTime:    expire.Truncate(time.Second),
		PEM:           string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	}}, nil
}

// certificates answers GET /v3/certificates: 404 in public-key mode, as
// WeChat Pay does for merchants without platform certificates.
func (s *Simulator) certificates(*http.Request, []byte) (int, any, *apiError) {
	type encrypted struct {
		Algorithm      string `json:"algorithm"`
		Nonce          string `json:"nonce"`
		AssociatedData string `json:"associated_data"`
		Ciphertext     string `json:"ciphertext"`
	}
	type item struct {
		SerialNo           string    `json:"serial_no"`
		EffectiveTime      string    `json:"effective_time"`
		ExpireTime         string    `json:"expire_time"`
		EncryptCertificate encrypted `json:"encrypt_certificate"`
	}
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	if len(s.certs.certs) == 0 {
		return 0, nil, errf(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "商户未开通平台证书")
	}
	s.certs.downloads++
	items := make([]item, 0, len(s.certs.certs))
	for _, c := range s.certs.certs {
		if c.retired {
			continue
		}
		nonce := randomString(12, alnum)
		sealed := s.gcm.Seal(nil, []byte(nonce), []byte(c.PEM), []byte("certificate"))
		items = append(items, item{SerialNo: c.Serial, EffectiveTime: wechatTime(c.EffectiveTime),
			ExpireTime: wechatTime(c.ExpireTime), EncryptCertificate: encrypted{
				Algorithm: "AEAD_AES_256_GCM", Nonce: nonce, AssociatedData: "certificate",
				Ciphertext: base64.StdEncoding.EncodeToString(sealed)}})
	}
	return http.StatusOK, map[string]any{"data": items}, nil
}

// certRoutes serves the certificate list and its control routes:
// GET /_sim/certificates, POST /_sim/certificates (switch to certificate
// mode), POST /_sim/certificates/rotate.
func (s *Simulator) certRoutes(m *http.ServeMux) {
	m.Handle("GET /v3/certificates", s.api(s.certificates))
	m.HandleFunc("GET /_sim/certificates", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": s.PlatformCertificates()})
	})
	m.HandleFunc("POST /_sim/certificates", func(w http.ResponseWriter, r *http.Request) {
		cs, err := s.UseCertificates()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": cs})
	})
	m.HandleFunc("POST /_sim/certificates/rotate", func(w http.ResponseWriter, r *http.Request) {
		if len(s.PlatformCertificates()) == 0 {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "public-key mode: POST /_sim/certificates first"})
			return
		}
		c, err := s.RotatePlatformCertificate()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}
