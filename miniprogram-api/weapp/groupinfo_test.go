package weapp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"testing"
)

// A ciphertext made by hand with the standard library (not with
// EncryptGroupInfo), as WeChat makes it: AES-128-CBC, PKCS#7.
func TestDecryptGroupInfo(t *testing.T) {
	key := []byte("0123456789abcdef")
	iv := []byte("fedcba9876543210")
	plain := []byte(`{"openGId":"tG1234567890abcdef","watermark":{"timestamp":1700000000,"appid":"wx1"}}`)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	for i := 0; i < pad; i++ {
		plain = append(plain, byte(pad))
	}
	block, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	b64 := base64.StdEncoding.EncodeToString
	gid, err := DecryptGroupInfo(b64(key), b64(ct), b64(iv))
	if err != nil || gid != "tG1234567890abcdef" {
		t.Fatalf("got %q, %v", gid, err)
	}
	// A wrong key gives bad padding or garbage, never a group.
	if _, err := DecryptGroupInfo(b64([]byte("xxxxxxxxxxxxxxxx")), b64(ct), b64(iv)); !errors.Is(err, ErrGroupInfo) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, c := range []struct{ k, d, iv string }{
		{"", b64(ct), b64(iv)}, {b64(key), "", b64(iv)}, {b64(key), b64(ct), ""},
		{b64(key), b64(ct[:len(ct)-1]), b64(iv)}, {b64(key), "!!!", b64(iv)},
	} {
		if _, err := DecryptGroupInfo(c.k, c.d, c.iv); !errors.Is(err, ErrGroupInfo) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	// Round trip through the helper.
	d, ivs, err := EncryptGroupInfo(b64(key), "tGother", iv)
	if err != nil {
		t.Fatal(err)
	}
	if gid, err := DecryptGroupInfo(b64(key), d, ivs); err != nil || gid != "tGother" {
		t.Fatalf("round trip: %q, %v", gid, err)
	}
}
