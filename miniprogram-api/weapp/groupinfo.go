package weapp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrGroupInfo is returned when group-enter data cannot be decrypted or has
// no openGId (a stale session_key, a tampered payload).
var ErrGroupInfo = errors.New("weapp: group info: cannot decrypt")

// DecryptGroupInfo decrypts the encryptedData of wx.getGroupEnterInfo (or
// wx.getShareInfo) with the shopper's session_key — WeChat's standard
// scheme: AES-128-CBC, PKCS#7 padding, key, iv and data in base64 — and
// returns the group's openGId.
func DecryptGroupInfo(sessionKey, encryptedData, iv string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return "", fmt.Errorf("%w: bad session_key", ErrGroupInfo)
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return "", fmt.Errorf("%w: bad iv", ErrGroupInfo)
	}
	data, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 || len(data) > 64<<10 {
		return "", fmt.Errorf("%w: bad data", ErrGroupInfo)
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, data)
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize || !bytes.Equal(plain[len(plain)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return "", fmt.Errorf("%w: bad padding", ErrGroupInfo)
	}
	var v struct {
		OpenGID string `json:"openGId"`
	}
	if err := json.Unmarshal(plain[:len(plain)-n], &v); err != nil || v.OpenGID == "" || len(v.OpenGID) > 128 {
		return "", fmt.Errorf("%w: no openGId", ErrGroupInfo)
	}
	return v.OpenGID, nil
}

// EncryptGroupInfo is the inverse of DecryptGroupInfo, for tests and the
// development stand-in: it encrypts {"openGId": openGID} as WeChat would.
func EncryptGroupInfo(sessionKey, openGID string, iv []byte) (encryptedData, ivB64 string, err error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 || len(iv) != aes.BlockSize {
		return "", "", fmt.Errorf("weapp: encrypt group info: bad key or iv")
	}
	plain, _ := json.Marshal(map[string]any{"openGId": openGID, "watermark": map[string]any{"appid": "wx-test", "timestamp": 1}})
	n := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(n)}, n)...)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out), base64.StdEncoding.EncodeToString(iv), nil
}
