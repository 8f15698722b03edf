package wxpaysim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// MerchantKey is a generated merchant API key: what a merchant would
// download from the merchant platform, for development and tests.
type MerchantKey struct {
	PrivateKeyPEM []byte // PKCS#8, "BEGIN PRIVATE KEY"
	PrivateKey    *rsa.PrivateKey
	PublicKey     *rsa.PublicKey
	Serial        string // 40 upper-case hex digits, like a certificate serial
}

// NewMerchantKey generates a 2048-bit merchant key pair and a serial.
func NewMerchantKey() (MerchantKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return MerchantKey{}, fmt.Errorf("wxpaysim: merchant key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return MerchantKey{}, fmt.Errorf("wxpaysim: merchant key: %w", err)
	}
	return MerchantKey{
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PrivateKey:    key,
		PublicKey:     &key.PublicKey,
		Serial:        strings.ToUpper(randomHex(20)),
	}, nil
}

func publicKeyPEM(pub *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func signSHA256(key *rsa.PrivateKey, message string) string {
	h := sha256.Sum256([]byte(message))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		panic(err) // cannot fail for a valid key
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func verifySHA256(pub *rsa.PublicKey, message, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("signature is not base64")
	}
	h := sha256.Sum256([]byte(message))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n characters from alphabet.
func randomString(n int, alphabet string) string {
	b := randomBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomDigits(n int) string { return randomString(n, "0123456789") }
