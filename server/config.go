package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/platform"
)

// Config is everything the program reads from its environment, parsed and
// validated in one place. Secrets come from files named by *_FILE variables
// and are never logged (see Masked).
type Config struct {
	// Env is YUTANG_ENV: development (the default; `make run`) or
	// production, which refuses to start while any stand-in would run (see
	// StandIns) and never mounts the development routes (/_dev/…).
	Env         string
	HTTPAddr    string // YUTANG_HTTP_ADDR, default 127.0.0.1:8080
	DatabaseURL string // DATABASE_URL; empty: a private PostgreSQL under DataDir
	DataDir     string // YUTANG_DATA_DIR, default ./var
	LogLevel    string // YUTANG_LOG_LEVEL: debug|info|warn|error
	BodyLimit   string // YUTANG_BODY_LIMIT, default 1M
	// PprofAddr: YUTANG_PPROF_ADDR, a loopback host:port where the Go
	// profiler answers (/debug/pprof/); empty (the default) serves none.
	PprofAddr string
	// CacheFresh: YUTANG_CACHE_FRESH, how long a server trusts its last
	// read of a read cache's version (the catalog's, for shop product
	// pages; the auth version, for who a token is) before serving from
	// memory again (default 200ms; "off": no read cache). A change through
	// another server shows within this plus half a second.
	CacheFresh   time.Duration
	DBMaxConns   int           // YUTANG_DB_MAX_CONNS, default 20
	PublicURL    string        // YUTANG_PUBLIC_URL: how WeChat reaches us (notify URLs); default http://HTTPAddr
	Demo         bool          // YUTANG_DEMO: load demo data at start (default: true with the private PostgreSQL)
	OrderTTL     time.Duration // YUTANG_ORDER_TTL, default 15m
	ShutdownWait time.Duration // YUTANG_SHUTDOWN_TIMEOUT, default 15s
	LowStock     int           // YUTANG_LOW_STOCK: shoppers see "low" at or under this stock, default 5
	// TouchMonths: YUTANG_TOUCH_RETENTION_MONTHS, how many months of raw
	// touches to keep (default 13, at least 4: the longest lookback is 90
	// days). Reports read rollups and are not affected.
	TouchMonths int
	// PasswordParams: YUTANG_PASSWORD_HASH, the argon2id costs of new staff
	// passwords: strong (default), cheap (tests only) or m=KiB,t=passes,p=threads.
	// Stored hashes keep their own costs.
	PasswordParams identity.PasswordParams

	WeAppID     string // YUTANG_WEAPP_APPID, default wxdemo000000000000
	WeAppSecret string // from YUTANG_WEAPP_SECRET_FILE; empty: the code2session stand-in
	// WeAppEnv: YUTANG_WEAPP_ENV_VERSION, the build mini-program codes open
	// and subscribe messages target: release (default), trial or develop.
	WeAppEnv string
	// WeAppTemplates: YUTANG_WEAPP_TEMPLATES_FILE, a JSON file of subscribe
	// message templates by kind: {"paid": {"id": "…", "page": "…",
	// "fields": {"character_string1": "{order_no}", …}}, …}. Unset: demo
	// templates for the stand-in, none with a real AppSecret.
	WeAppTemplates map[string]platform.Template
	// WeAppPushToken: YUTANG_WEAPP_PUSH_TOKEN_FILE, the message-push token
	// (signature of /webhooks/weapp). Unset: the webhook refuses every push.
	WeAppPushToken string

	WxPay WxPayConfig
}

// WxPayConfig is the WeChat Pay merchant. With no MchID the simulator is used.
type WxPayConfig struct {
	MchID           string // YUTANG_WXPAY_MCHID
	CertSerial      string // YUTANG_WXPAY_CERT_SERIAL
	PrivateKeyPEM   []byte // YUTANG_WXPAY_PRIVATE_KEY_FILE
	APIv3Key        string // YUTANG_WXPAY_APIV3_KEY_FILE
	Mode            string // YUTANG_WXPAY_MODE: public_key (default) | certificate | combined
	PublicKeyID     string // YUTANG_WXPAY_PUBLIC_KEY_ID
	PublicKeyPEM    []byte // YUTANG_WXPAY_PUBLIC_KEY_FILE
	PlatformCertPEM []byte // YUTANG_WXPAY_PLATFORM_CERT_FILE
	NotifyURL       string // YUTANG_WXPAY_NOTIFY_URL (https, no query)
	RefundNotifyURL string // YUTANG_WXPAY_REFUND_NOTIFY_URL
	// SimSpeedup (YUTANG_WXPAY_SIM_SPEEDUP, default 1) compresses the
	// simulator's notification retries and refund delay: 1000 turns
	// WeChat's 15 s into 15 ms. Development and tests only.
	SimSpeedup int64
	// SimURL (YUTANG_WXPAY_SIM_URL, e.g. http://127.0.0.1:8091): talk to an
	// external simulator (`yutang wxpaysim`) instead of one in process.
	// Development only, loopback only, and not with a merchant.
	SimURL string
	// SimAddr (YUTANG_WXPAYSIM_ADDR, default 127.0.0.1:8091, loopback
	// only) and SimDir (YUTANG_WXPAYSIM_DIR, default DataDir/wxpaysim) are
	// where `yutang wxpaysim` listens and keeps its state.
	SimAddr, SimDir string
}

// Simulated reports whether no merchant is configured (the simulator runs).
func (w WxPayConfig) Simulated() bool { return w.MchID == "" }

// LoadConfig reads and validates the configuration, reporting every problem
// at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	secretFile := func(name string) []byte {
		p := strings.TrimSpace(getenv(name))
		if p == "" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: cannot read %s: %v", name, p, err))
			return nil
		}
		return b
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration like 15m", name, v))
			return def
		}
		return d
	}
	// integer reads an integer in [lo, hi]; unset is def.
	integer := func(name string, def, lo, hi int) int {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer from %d to %d", name, v, lo, hi))
			return def
		}
		return n
	}
	c := Config{
		Env:          str("YUTANG_ENV", EnvDevelopment),
		HTTPAddr:     str("YUTANG_HTTP_ADDR", "127.0.0.1:8080"),
		DatabaseURL:  str("DATABASE_URL", ""),
		DataDir:      str("YUTANG_DATA_DIR", "var"),
		LogLevel:     str("YUTANG_LOG_LEVEL", "info"),
		BodyLimit:    str("YUTANG_BODY_LIMIT", "1M"),
		PprofAddr:    str("YUTANG_PPROF_ADDR", ""),
		CacheFresh:   200 * time.Millisecond,
		PublicURL:    strings.TrimRight(str("YUTANG_PUBLIC_URL", ""), "/"),
		OrderTTL:     dur("YUTANG_ORDER_TTL", 15*time.Minute),
		ShutdownWait: dur("YUTANG_SHUTDOWN_TIMEOUT", 15*time.Second),
		WeAppID:      str("YUTANG_WEAPP_APPID", demoAppID),
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("YUTANG_HTTP_ADDR: %q is not host:port", c.HTTPAddr))
	}
	if v := getenv("YUTANG_CACHE_FRESH"); v == "off" {
		c.CacheFresh = 0
	} else {
		c.CacheFresh = dur("YUTANG_CACHE_FRESH", c.CacheFresh)
		if c.CacheFresh > 5*time.Second {
			errs = append(errs, fmt.Errorf("YUTANG_CACHE_FRESH: %s is longer than 5s (or \"off\")", c.CacheFresh))
		}
	}
	if c.PprofAddr != "" && !loopbackAddr(c.PprofAddr) {
		errs = append(errs, fmt.Errorf("YUTANG_PPROF_ADDR: %q must be a loopback host:port like 127.0.0.1:6060 (the profiler is never public)", c.PprofAddr))
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		errs = append(errs, fmt.Errorf("YUTANG_ENV: %q is not development or production", c.Env))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("YUTANG_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	c.DBMaxConns = integer("YUTANG_DB_MAX_CONNS", 20, 1, 500)
	switch v := getenv("YUTANG_DEMO"); v {
	case "":
		c.Demo = c.DatabaseURL == "" && c.Env != EnvProduction
	case "1", "true", "yes":
		c.Demo = true
	case "0", "false", "no":
		c.Demo = false
	default:
		errs = append(errs, fmt.Errorf("YUTANG_DEMO: %q is not true or false", v))
	}
	c.LowStock = integer("YUTANG_LOW_STOCK", 5, 0, 10000)
	c.TouchMonths = integer("YUTANG_TOUCH_RETENTION_MONTHS", 13, 4, 120)
	if pp, err := identity.ParsePasswordParams(getenv("YUTANG_PASSWORD_HASH")); err != nil {
		errs = append(errs, fmt.Errorf("YUTANG_PASSWORD_HASH: %v", err))
		c.PasswordParams = identity.StrongPasswordParams()
	} else {
		c.PasswordParams = pp
	}
	if OrderTTL := c.OrderTTL; OrderTTL < time.Minute || OrderTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("YUTANG_ORDER_TTL: must be between 1m and 24h"))
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	c.WeAppSecret = strings.TrimSpace(string(secretFile("YUTANG_WEAPP_SECRET_FILE")))
	c.WeAppPushToken = strings.TrimSpace(string(secretFile("YUTANG_WEAPP_PUSH_TOKEN_FILE")))
	c.WeAppEnv = str("YUTANG_WEAPP_ENV_VERSION", "release")
	if c.WeAppEnv != "release" && c.WeAppEnv != "trial" && c.WeAppEnv != "develop" {
		errs = append(errs, fmt.Errorf("YUTANG_WEAPP_ENV_VERSION: %q is not one of release, trial, develop", c.WeAppEnv))
	}
	if p := strings.TrimSpace(getenv("YUTANG_WEAPP_TEMPLATES_FILE")); p != "" {
		ts, err := readTemplates(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("YUTANG_WEAPP_TEMPLATES_FILE: %v", err))
		}
		c.WeAppTemplates = ts
	} else if c.WeAppSecret == "" {
		c.WeAppTemplates = demoTemplates()
	}

	w := &c.WxPay
	w.MchID = str("YUTANG_WXPAY_MCHID", "")
	w.CertSerial = str("YUTANG_WXPAY_CERT_SERIAL", "")
	w.PrivateKeyPEM = secretFile("YUTANG_WXPAY_PRIVATE_KEY_FILE")
	w.APIv3Key = strings.TrimSpace(string(secretFile("YUTANG_WXPAY_APIV3_KEY_FILE")))
	w.Mode = str("YUTANG_WXPAY_MODE", "public_key")
	w.PublicKeyID = str("YUTANG_WXPAY_PUBLIC_KEY_ID", "")
	w.PublicKeyPEM = secretFile("YUTANG_WXPAY_PUBLIC_KEY_FILE")
	w.PlatformCertPEM = secretFile("YUTANG_WXPAY_PLATFORM_CERT_FILE")
	w.NotifyURL = str("YUTANG_WXPAY_NOTIFY_URL", "")
	w.RefundNotifyURL = str("YUTANG_WXPAY_REFUND_NOTIFY_URL", "")
	w.SimSpeedup = 1
	simSpeedupSet := getenv("YUTANG_WXPAY_SIM_SPEEDUP") != ""
	if v := getenv("YUTANG_WXPAY_SIM_SPEEDUP"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 100000 {
			errs = append(errs, fmt.Errorf("YUTANG_WXPAY_SIM_SPEEDUP: %q is not an integer from 1 to 100000", v))
		}
		w.SimSpeedup = max(n, 1)
	}
	w.SimURL = strings.TrimRight(str("YUTANG_WXPAY_SIM_URL", ""), "/")
	w.SimAddr = str("YUTANG_WXPAYSIM_ADDR", "127.0.0.1:8091")
	w.SimDir = str("YUTANG_WXPAYSIM_DIR", filepath.Join(c.DataDir, "wxpaysim"))
	errs = append(errs, checkSimSettings(w)...)
	if w.MchID != "" {
		if w.CertSerial == "" {
			errs = append(errs, errors.New("YUTANG_WXPAY_CERT_SERIAL: required with YUTANG_WXPAY_MCHID"))
		}
		if len(w.PrivateKeyPEM) == 0 {
			errs = append(errs, errors.New("YUTANG_WXPAY_PRIVATE_KEY_FILE: required with YUTANG_WXPAY_MCHID"))
		}
		if len(w.APIv3Key) != 32 {
			errs = append(errs, fmt.Errorf("YUTANG_WXPAY_APIV3_KEY_FILE: the APIv3 key must be exactly 32 bytes (got %d)", len(w.APIv3Key)))
		}
		if w.NotifyURL == "" {
			errs = append(errs, errors.New("YUTANG_WXPAY_NOTIFY_URL: required with YUTANG_WXPAY_MCHID"))
		}
	}
	if c.Env == EnvProduction {
		for _, s := range c.StandIns() {
			errs = append(errs, fmt.Errorf("YUTANG_ENV=production: %s", s))
		}
		if simSpeedupSet {
			errs = append(errs, errors.New("YUTANG_ENV=production: YUTANG_WXPAY_SIM_SPEEDUP is for the simulator only: unset it"))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// The environments (YUTANG_ENV).
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Production reports whether the program runs for real shoppers and money.
func (c Config) Production() bool { return c.Env == EnvProduction }

// demoAppID is the mini-program AppID used when none is configured.
const demoAppID = "wxdemo000000000000"

// StandIns lists, one line each naming the setting that turns it off, every
// stand-in this configuration would run in place of WeChat or real data.
// Production refuses to start unless it is empty.
func (c Config) StandIns() []string {
	var out []string
	if c.WxPay.SimURL != "" {
		out = append(out, "YUTANG_WXPAY_SIM_URL is set: the mall would take payments at the WeChat Pay simulator "+c.WxPay.SimURL+" (unset it)")
	}
	if c.WxPay.Simulated() {
		out = append(out, "YUTANG_WXPAY_MCHID is not set: the WeChat Pay simulator would take payments (set the merchant: YUTANG_WXPAY_MCHID, _CERT_SERIAL, _PRIVATE_KEY_FILE, _APIV3_KEY_FILE, _NOTIFY_URL)")
	}
	if c.WeAppSecret == "" {
		out = append(out, "YUTANG_WEAPP_SECRET_FILE is not set: the code2session stand-in would accept any code as a shopper")
	}
	if c.WeAppID == demoAppID {
		out = append(out, "YUTANG_WEAPP_APPID is not set: the demo AppID "+demoAppID+" would be used")
	}
	if c.Demo {
		out = append(out, "YUTANG_DEMO is true: demo data would be loaded")
	}
	return out
}

// Masked returns the configuration as log attributes, secrets masked.
func (c Config) Masked() []any {
	db := "private PostgreSQL under " + c.DataDir
	if c.DatabaseURL != "" {
		db = maskURL(c.DatabaseURL)
	}
	wx := "simulator"
	if c.WxPay.SimURL != "" {
		wx = "simulator at " + c.WxPay.SimURL
	}
	if !c.WxPay.Simulated() {
		wx = "merchant " + c.WxPay.MchID + " (" + c.WxPay.Mode + " mode, key ****)"
	}
	secret := "stand-in"
	if c.WeAppSecret != "" {
		secret = "****"
	}
	return []any{"env", c.Env, "http_addr", c.HTTPAddr, "database", db, "public_url", c.PublicURL, "demo", c.Demo,
		"order_ttl", c.OrderTTL.String(), "weapp_appid", c.WeAppID, "weapp_secret", secret, "wechat_pay", wx,
		"password_hash", c.PasswordParams.String()}
}

func maskURL(raw string) string {
	i := strings.Index(raw, "://")
	j := strings.LastIndex(raw, "@")
	if i < 0 || j < i {
		return raw
	}
	user := raw[i+3 : j]
	if k := strings.IndexByte(user, ':'); k >= 0 {
		user = user[:k] + ":****"
	}
	return raw[:i+3] + user + raw[j:]
}

// readTemplates reads the subscribe-message templates: every kind must be
// one the mall sends, with an id and at least one field.
func readTemplates(path string) (map[string]platform.Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]struct {
		ID     string            `json:"id"`
		Page   string            `json:"page"`
		Fields map[string]string `json:"fields"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of templates: %v", err)
	}
	out := map[string]platform.Template{}
	var errs []error
	for kind, t := range raw {
		if !slices.Contains(platform.Kinds, kind) {
			errs = append(errs, fmt.Errorf("%q is not one of %s", kind, strings.Join(platform.Kinds, ", ")))
			continue
		}
		if t.ID == "" || len(t.ID) > 128 || len(t.Fields) == 0 {
			errs = append(errs, fmt.Errorf("%s: needs an id (≤ 128 characters) and fields", kind))
			continue
		}
		out[kind] = platform.Template{Kind: kind, ID: t.ID, Page: t.Page, Fields: t.Fields}
	}
	return out, errors.Join(errs...)
}

// demoTemplates are the stand-in's templates (development and tests).
func demoTemplates() map[string]platform.Template {
	page := "pages/order/detail?no={order_no}"
	return map[string]platform.Template{
		platform.KindPaid: {Kind: platform.KindPaid, ID: "demo-tmpl-paid", Page: page,
			Fields: map[string]string{"character_string1": "{order_no}", "amount2": "{amount}", "time3": "{time}"}},
		platform.KindShipped: {Kind: platform.KindShipped, ID: "demo-tmpl-shipped", Page: page,
			Fields: map[string]string{"character_string1": "{order_no}", "thing2": "{carrier}", "character_string3": "{tracking_no}"}},
		platform.KindRefundResult: {Kind: platform.KindRefundResult, ID: "demo-tmpl-refund", Page: page,
			Fields: map[string]string{"character_string1": "{order_no}", "amount2": "{amount}", "phrase3": "{status}"}},
		platform.KindPickupReady: {Kind: platform.KindPickupReady, ID: "demo-tmpl-pickup", Page: page,
			Fields: map[string]string{"character_string1": "{order_no}", "thing2": "{store}"}},
		platform.KindCouponExpiring: {Kind: platform.KindCouponExpiring, ID: "demo-tmpl-coupon", Page: "pages/coupons/index",
			Fields: map[string]string{"time1": "{time}"}},
	}
}

// checkSimSettings checks the external simulator's settings: loopback
// addresses only, and no simulator beside a real merchant.
func checkSimSettings(w *WxPayConfig) []error {
	var errs []error
	if w.SimURL != "" {
		u, err := url.Parse(w.SimURL)
		switch {
		case err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			errs = append(errs, fmt.Errorf("YUTANG_WXPAY_SIM_URL: %q is not like http://127.0.0.1:8091", w.SimURL))
		case !loopbackHost(u.Hostname()):
			errs = append(errs, fmt.Errorf("YUTANG_WXPAY_SIM_URL: %q is not a loopback address: the simulator serves this machine only", w.SimURL))
		}
		if w.MchID != "" {
			errs = append(errs, errors.New("YUTANG_WXPAY_SIM_URL: set together with YUTANG_WXPAY_MCHID: a merchant talks to WeChat Pay, not the simulator (unset one)"))
		}
	}
	if host, _, err := net.SplitHostPort(w.SimAddr); err != nil || !loopbackHost(host) {
		errs = append(errs, fmt.Errorf("YUTANG_WXPAYSIM_ADDR: %q is not a loopback host:port (like 127.0.0.1:8091)", w.SimAddr))
	}
	return errs
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
