package weapp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/yutang/yutang/domain/attribution"
)

// ErrGroupInfo is returned when group-enter data cannot be decrypted, is
// not this mini-program's (watermark.appid) or names no chat.
var ErrGroupInfo = errors.New("weapp: group info: cannot decrypt")

// groupEnter is the plaintext of wx.getGroupEnterInfo (and getChatToolInfo):
// opengid in a group, open_single_roomid in a one-to-one chat (base library
// 3.7.8+, with allowSingleChat), group_openid and chat_type. Older clients
// (getShareInfo) spell the group id openGId: it is read too.
type groupEnter struct {
	OpenGID       string `json:"opengid"`
	OpenGIDLegacy string `json:"openGId"`
	SingleRoomID  string `json:"open_single_roomid"`
	GroupOpenID   string `json:"group_openid"`
	ChatType      int    `json:"chat_type"`
	Watermark     struct {
		AppID     string `json:"appid"`
		Timestamp int64  `json:"timestamp"`
	} `json:"watermark"`
}

// Decrypt decrypts WeChat's encryptedData with a session_key — AES-128-CBC,
// PKCS#7 padding, key, iv and data in base64 — and checks that the
// watermark names appID: a payload of another mini-program is refused.
func Decrypt(appID, sessionKey, encryptedData, iv string, v any) error {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return fmt.Errorf("%w: bad session_key", ErrGroupInfo)
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return fmt.Errorf("%w: bad iv", ErrGroupInfo)
	}
	data, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 || len(data) > 64<<10 {
		return fmt.Errorf("%w: bad data", ErrGroupInfo)
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, data)
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize || !bytes.Equal(plain[len(plain)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return fmt.Errorf("%w: bad padding", ErrGroupInfo)
	}
	plain = plain[:len(plain)-n]
	var wm struct {
		Watermark struct {
			AppID string `json:"appid"`
		} `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &wm); err != nil {
		return fmt.Errorf("%w: not JSON", ErrGroupInfo)
	}
	if wm.Watermark.AppID != appID {
		return fmt.Errorf("%w: watermark of another appid", ErrGroupInfo)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %v", ErrGroupInfo, err)
	}
	return nil
}

// GroupDecrypter returns attribution's decrypter of group-enter data for
// the mini-program appID.
func GroupDecrypter(appID string) attribution.GroupDecrypter {
	return func(sessionKey, encryptedData, iv string) (attribution.GroupEnter, error) {
		var g groupEnter
		if err := Decrypt(appID, sessionKey, encryptedData, iv, &g); err != nil {
			return attribution.GroupEnter{}, err
		}
		out := attribution.GroupEnter{OpenGID: g.OpenGID, SingleRoomID: g.SingleRoomID, GroupOpenID: g.GroupOpenID, ChatType: g.ChatType}
		if out.OpenGID == "" {
			out.OpenGID = g.OpenGIDLegacy
		}
		if (out.OpenGID == "" && out.SingleRoomID == "") || len(out.OpenGID) > 128 || len(out.SingleRoomID) > 128 || len(out.GroupOpenID) > 128 {
			return attribution.GroupEnter{}, fmt.Errorf("%w: no opengid or open_single_roomid", ErrGroupInfo)
		}
		return out, nil
	}
}

// EncryptGroupEnter is the inverse of the decrypter, for tests and the
// development stand-in: it encrypts g as WeChat would, watermarked appID.
func EncryptGroupEnter(appID, sessionKey string, g attribution.GroupEnter, iv []byte) (encryptedData, ivB64 string, err error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 || len(iv) != aes.BlockSize {
		return "", "", fmt.Errorf("weapp: encrypt group info: bad key or iv")
	}
	m := map[string]any{"chat_type": g.ChatType, "watermark": map[string]any{"appid": appID, "timestamp": 1}}
	if g.OpenGID != "" {
		m["opengid"] = g.OpenGID
	}
	if g.SingleRoomID != "" {
		m["open_single_roomid"] = g.SingleRoomID
	}
	if g.GroupOpenID != "" {
		m["group_openid"] = g.GroupOpenID
	}
	plain, _ := json.Marshal(m)
	n := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(n)}, n)...)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out), base64.StdEncoding.EncodeToString(iv), nil
}
