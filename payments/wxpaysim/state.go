package wxpaysim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// State is what a durable simulator and the mall must agree on across
// restarts: the simulated merchant's key pair, the APIv3 key, and the
// platform key with its public key id. It lives in keys.json under the
// state directory, mode 0600.
type State struct {
	Merchant       MerchantKey
	APIv3Key       string
	PlatformKey    *rsa.PrivateKey
	PlatformSerial string // PUB_KEY_ID_…
}

const keysName = "keys.json"

type stateFile struct {
	MerchantPrivateKeyPEM string `json:"merchant_private_key_pem"`
	MerchantSerial        string `json:"merchant_serial"`
	APIv3Key              string `json:"apiv3_key"`
	PlatformPrivateKeyPEM string `json:"platform_private_key_pem"`
	PlatformPublicKeyID   string `json:"platform_public_key_id"`
}

// LoadState reads the keys under dir, generating and saving them (0600, in
// a 0700 directory) on first use.
func LoadState(dir string) (State, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	path := filepath.Join(dir, keysName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createState(dir, path)
	}
	if err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state %s: %w", path, err)
	}
	mk, err := parsePrivateKey(f.MerchantPrivateKeyPEM)
	if err != nil {
		return State{}, fmt.Errorf("wxpaysim: state %s: merchant key: %w", path, err)
	}
	pk, err := parsePrivateKey(f.PlatformPrivateKeyPEM)
	if err != nil {
		return State{}, fmt.Errorf("wxpaysim: state %s: platform key: %w", path, err)
	}
	if len(f.APIv3Key) != 32 || f.MerchantSerial == "" || !strings.HasPrefix(f.PlatformPublicKeyID, "PUB_KEY_ID_") {
		return State{}, fmt.Errorf("wxpaysim: state %s: incomplete (remove it to start afresh)", path)
	}
	return State{
		Merchant: MerchantKey{PrivateKeyPEM: []byte(f.MerchantPrivateKeyPEM), PrivateKey: mk, PublicKey: &mk.PublicKey,
			Serial: f.MerchantSerial},
		APIv3Key: f.APIv3Key, PlatformKey: pk, PlatformSerial: f.PlatformPublicKeyID,
	}, nil
}

func createState(dir, path string) (State, error) {
	mk, err := NewMerchantKey()
	if err != nil {
		return State{}, err
	}
	pk, err := NewMerchantKey() // the same kind of key plays WeChat Pay's
	if err != nil {
		return State{}, err
	}
	st := State{Merchant: mk, APIv3Key: randomString(32, alnum), PlatformKey: pk.PrivateKey,
		PlatformSerial: "PUB_KEY_ID_01" + randomDigits(28)}
	b, err := json.MarshalIndent(stateFile{
		MerchantPrivateKeyPEM: string(mk.PrivateKeyPEM), MerchantSerial: mk.Serial, APIv3Key: st.APIv3Key,
		PlatformPrivateKeyPEM: string(pk.PrivateKeyPEM), PlatformPublicKeyID: st.PlatformSerial,
	}, "", "  ")
	if err != nil {
		return State{}, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return State{}, fmt.Errorf("wxpaysim: state: %w", err)
	}
	return st, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// MerchantConfig is what the mall needs to talk to this simulator as its
// merchant: served by `yutang wxpaysim` at GET /_sim/merchant (loopback
// only, development only).
type MerchantConfig struct {
	MchID                string `json:"mchid"`
	AppID                string `json:"appid"`
	MerchantSerial       string `json:"merchant_serial"`
	MerchantKeyPEM       string `json:"merchant_private_key_pem"`
	APIv3Key             string `json:"apiv3_key"`
	PlatformPublicKeyID  string `json:"platform_public_key_id"`
	PlatformPublicKeyPEM string `json:"platform_public_key_pem"`
}

// MerchantConfig returns the merchant's side of st for this simulator.
func (s *Simulator) MerchantConfig(st State) MerchantConfig {
	return MerchantConfig{
		MchID: s.cfg.MchID, AppID: s.cfg.AppID, MerchantSerial: st.Merchant.Serial,
		MerchantKeyPEM: string(st.Merchant.PrivateKeyPEM), APIv3Key: st.APIv3Key,
		PlatformPublicKeyID: s.PublicKeyID(), PlatformPublicKeyPEM: string(s.PlatformPublicKeyPEM()),
	}
}
