package payments

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Mode says how the gateway verifies WeChat Pay's answers and notifications.
type Mode string

const (
	// ModePublicKey verifies with WeChat Pay's public key (PUB_KEY_ID_…): the
	// only mode for merchants registered since late 2024.
	ModePublicKey Mode = "public_key"
	// ModeCertificate verifies with platform certificates: the configured
	// ones, then those downloaded by RefreshCertificates (certs.go).
	ModeCertificate Mode = "certificate"
	// ModeCombined accepts both while WeChat Pay migrates a merchant from
	// certificates to the public key.
	ModeCombined Mode = "combined"
)

// Config is what the gateway needs. Secrets are given as bytes; reading them
// from files is the program's business.
type Config struct {
	MchID            string
	AppID            string
	MchCertSerial    string // serial number of the merchant API certificate
	MchPrivateKeyPEM []byte // PKCS#8, "BEGIN PRIVATE KEY"
	APIv3Key         string // exactly 32 bytes

	Mode                 Mode
	PlatformPublicKeyID  string // "PUB_KEY_ID_…" (public_key, combined)
	PlatformPublicKeyPEM []byte // "BEGIN PUBLIC KEY" (public_key, combined)
	PlatformCertPEM      []byte // one or more "BEGIN CERTIFICATE" (certificate, combined): the first trusted set

	// CertRefreshGap is the least time between two certificate downloads
	// triggered by a signature with an unknown serial (default a minute).
	CertRefreshGap time.Duration
	// Now tells whether a platform certificate is in force (nil: time.Now).
	Now func() time.Time

	NotifyURL       string // payment notifications: https, no query, ≤ 255 chars
	RefundNotifyURL string // refund notifications; empty: the merchant platform's setting

	// AllowInsecureNotifyURL accepts http:// notify URLs on 127.0.0.1 or
	// localhost: only for the development simulator.
	AllowInsecureNotifyURL bool

	// HTTPClient carries every API call (nil: a client with a 10 s timeout).
	// Point it at the simulator with RewriteTransport.
	HTTPClient *http.Client
}

// ConfigError lists every problem found in a Config.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "payments: config: " + strings.Join(e.Problems, "; ")
}

// keys is a Config's parsed key material.
type keys struct {
	mchKey    *rsa.PrivateKey
	publicKey *rsa.PublicKey
	certs     []*x509.Certificate
}

// Validate reports every problem of c at once as a *ConfigError.
func (c Config) Validate() error {
	_, err := c.parse()
	return err
}

func (c Config) parse() (keys, error) {
	var k keys
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if strings.TrimSpace(c.MchID) == "" {
		bad("mch id is empty")
	}
	if strings.TrimSpace(c.AppID) == "" {
		bad("app id is empty")
	}
	if strings.TrimSpace(c.MchCertSerial) == "" {
		bad("merchant certificate serial is empty")
	}
	if n := len(c.APIv3Key); n != 32 {
		bad("APIv3 key is %d bytes, want exactly 32", n)
	}
	if key, err := parseMchKey(c.MchPrivateKeyPEM); err != nil {
		bad("merchant private key: %v", err)
	} else {
		k.mchKey = key
	}

	wantPub, wantCert := false, false
	switch c.Mode {
	case ModePublicKey:
		wantPub = true
	case ModeCertificate:
		wantCert = true
	case ModeCombined:
		wantPub, wantCert = true, true
	default:
		bad("mode %q is not public_key, certificate or combined", c.Mode)
	}
	if wantPub {
		if !strings.HasPrefix(c.PlatformPublicKeyID, "PUB_KEY_ID_") {
			bad("platform public key id %q does not start with PUB_KEY_ID_", c.PlatformPublicKeyID)
		}
		if pub, err := utils.LoadPublicKey(string(c.PlatformPublicKeyPEM)); err != nil {
			bad("platform public key: %v", err)
		} else {
			k.publicKey = pub
		}
	}
	if wantCert {
		if certs, err := parseCerts(c.PlatformCertPEM); err != nil {
			bad("platform certificate: %v", err)
		} else {
			k.certs = certs
		}
	}

	if err := checkNotifyURL(c.NotifyURL, c.AllowInsecureNotifyURL); err != nil {
		bad("notify url: %v", err)
	}
	if c.RefundNotifyURL != "" {
		if err := checkNotifyURL(c.RefundNotifyURL, c.AllowInsecureNotifyURL); err != nil {
			bad("refund notify url: %v", err)
		}
	}
	if len(problems) > 0 {
		return keys{}, &ConfigError{Problems: problems}
	}
	return k, nil
}

func parseMchKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	switch {
	case block == nil:
		return nil, fmt.Errorf("no PEM block")
	case block.Type == "RSA PRIVATE KEY":
		return nil, fmt.Errorf("PKCS#1 key; convert it to PKCS#8 (BEGIN PRIVATE KEY)")
	case block.Type != "PRIVATE KEY":
		return nil, fmt.Errorf("PEM type %q, want PRIVATE KEY (PKCS#8)", block.Type)
	}
	return utils.LoadPrivateKey(string(pemBytes))
}

func parseCerts(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM type %q, want CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("certificate %s has no RSA key", utils.GetCertificateSerialNumber(*cert))
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block")
	}
	return certs, nil
}

// checkNotifyURL applies WeChat Pay's rules for notify_url.
func checkNotifyURL(raw string, allowInsecure bool) error {
	if raw == "" {
		return fmt.Errorf("empty")
	}
	if len(raw) > 255 {
		return fmt.Errorf("%d characters, at most 255", len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%q has a query string", raw)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q has a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowInsecure && isLoopback(u.Hostname()) {
			return nil
		}
		if isLoopback(u.Hostname()) {
			return fmt.Errorf("%q is http; allowed on localhost only with AllowInsecureNotifyURL", raw)
		}
		return fmt.Errorf("%q is not https", raw)
	}
	return fmt.Errorf("%q is not https", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
