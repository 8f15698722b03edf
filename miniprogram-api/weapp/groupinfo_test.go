package weapp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/yutang/yutang/domain/attribution"
)

// A ciphertext made by hand with the standard library, as WeChat makes it:
// AES-128-CBC, PKCS#7, the group id spelled opengid.
func TestDecryptGroupEnter(t *testing.T) {
	key := []byte("0123456789abcdef")
	iv := []byte("fedcba9876543210")
	seal := func(plain []byte) []byte {
		pad := aes.BlockSize - len(plain)%aes.BlockSize
		for i := 0; i < pad; i++ {
			plain = append(plain, byte(pad))
		}
		block, _ := aes.NewCipher(key)
		ct := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
		return ct
	}
	b64 := base64.StdEncoding.EncodeToString
	dec := GroupDecrypter("wx1")
	ct := seal([]byte(`{"opengid":"tG1234567890abcdef","chat_type":3,"watermark":{"timestamp":1700000000,"appid":"wx1"}}`))
	g, err := dec(b64(key), b64(ct), b64(iv))
	if err != nil || g.OpenGID != "tG1234567890abcdef" || g.ChatType != 3 {
		t.Fatalf("got %+v, %v", g, err)
	}
	// The legacy spelling (getShareInfo) is still read.
	if g, err := dec(b64(key), b64(seal([]byte(`{"openGId":"tGold","watermark":{"appid":"wx1"}}`))), b64(iv)); err != nil || g.OpenGID != "tGold" {
		t.Fatalf("legacy: %+v %v", g, err)
	}
	// A one-to-one chat.
	if g, err := dec(b64(key), b64(seal([]byte(`{"open_single_roomid":"sr1","chat_type":1,"watermark":{"appid":"wx1"}}`))), b64(iv)); err != nil || g.SingleRoomID != "sr1" || g.OpenGID != "" {
		t.Fatalf("single: %+v %v", g, err)
	}
	// Another mini-program's payload is refused.
	if _, err := dec(b64(key), b64(seal([]byte(`{"opengid":"tGx","watermark":{"appid":"wx-other"}}`))), b64(iv)); !errors.Is(err, ErrGroupInfo) {
		t.Fatalf("other appid: %v", err)
	}
	if _, err := dec(b64(key), b64(seal([]byte(`{"opengid":"tGx"}`))), b64(iv)); !errors.Is(err, ErrGroupInfo) {
		t.Fatalf("no watermark: %v", err)
	}
	// A wrong key gives bad padding or garbage, never a group.
	if _, err := dec(b64([]byte("xxxxxxxxxxxxxxxx")), b64(ct), b64(iv)); !errors.Is(err, ErrGroupInfo) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, c := range []struct{ k, d, iv string }{
		{"", b64(ct), b64(iv)}, {b64(key), "", b64(iv)}, {b64(key), b64(ct), ""},
		{b64(key), b64(ct[:len(ct)-1]), b64(iv)}, {b64(key), "!!!", b64(iv)},
	} {
		if _, err := dec(c.k, c.d, c.iv); !errors.Is(err, ErrGroupInfo) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	// Round trip through the helper.
	d, ivs, err := EncryptGroupEnter("wx1", b64(key), attribution.GroupEnter{OpenGID: "tGother", ChatType: 3}, iv)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := dec(b64(key), d, ivs); err != nil || g.OpenGID != "tGother" {
		t.Fatalf("round trip: %+v, %v", g, err)
	}
}
