package payments_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/yutang/yutang/payments"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := payments.Config{}.Validate()
	var ce *payments.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	for _, want := range []string{"mch id", "app id", "serial", "APIv3 key is 0 bytes", "merchant private key", "mode", "notify url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	if len(ce.Problems) != 7 {
		t.Errorf("problems = %d, want 7: %q", len(ce.Problems), ce.Problems)
	}
}

func TestConfigValidate(t *testing.T) {
	e := newEnv(t)
	good := gatewayConfig(e.sim, e.simURL, "https://mall.example.com")
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(mustKey(t))})

	cases := []struct {
		name   string
		change func(*payments.Config)
		want   string
	}{
		{"16-byte key", func(c *payments.Config) { c.APIv3Key = "0123456789abcdef" }, "APIv3 key is 16 bytes"},
		{"PKCS#1 key", func(c *payments.Config) { c.MchPrivateKeyPEM = pkcs1 }, "PKCS#8"},
		{"no key", func(c *payments.Config) { c.MchPrivateKeyPEM = nil }, "no PEM block"},
		{"http notify", func(c *payments.Config) {
			c.NotifyURL = "http://127.0.0.1:8080/webhooks/wechatpay/transactions"
			c.AllowInsecureNotifyURL = false
		}, "AllowInsecureNotifyURL"},
		{"http notify on a real host", func(c *payments.Config) { c.NotifyURL = "http://mall.example.com/n" }, "not https"},
		{"query string", func(c *payments.Config) { c.NotifyURL = "https://mall.example.com/n?order=1" }, "query string"},
		{"too long", func(c *payments.Config) { c.NotifyURL = "https://mall.example.com/" + strings.Repeat("a", 240) }, "at most 255"},
		{"refund notify", func(c *payments.Config) { c.RefundNotifyURL = "ftp://x" }, "refund notify url"},
		{"key id", func(c *payments.Config) { c.PlatformPublicKeyID = "D7CE59D1F522D701" }, "PUB_KEY_ID_"},
		{"certificate mode without certificate", func(c *payments.Config) { c.Mode = payments.ModeCertificate }, "platform certificate"},
		{"combined without certificate", func(c *payments.Config) { c.Mode = payments.ModeCombined }, "platform certificate"},
		{"no public key", func(c *payments.Config) { c.PlatformPublicKeyPEM = nil }, "platform public key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if _, err := payments.New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func mustKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
