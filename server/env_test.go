package main

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// productionEnv is a complete production configuration: a merchant in
// public-key mode, an AppSecret, an external database (its secret files in a
// temporary directory).
func productionEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return map[string]string{
		"YUTANG_ENV": "production", "DATABASE_URL": "postgres://db/yutang",
		"YUTANG_WEAPP_APPID": "wx1234567890abcdef", "YUTANG_WEAPP_SECRET_FILE": file("secret", "s3cret"),
		"YUTANG_WXPAY_MCHID": "1230000109", "YUTANG_WXPAY_CERT_SERIAL": "ABC",
		"YUTANG_WXPAY_PRIVATE_KEY_FILE": file("key.pem", "-----BEGIN PRIVATE KEY-----"),
		"YUTANG_WXPAY_APIV3_KEY_FILE":   file("v3", strings.Repeat("k", 32)),
		"YUTANG_WXPAY_PUBLIC_KEY_ID":    "PUB_KEY_ID_1", "YUTANG_WXPAY_PUBLIC_KEY_FILE": file("pub.pem", "x"),
		"YUTANG_WXPAY_NOTIFY_URL": "https://mall.example.com/webhooks/wechatpay/transactions",
	}
}

// envWith is a copy of base without drop and with set.
func envWith(base, set map[string]string, drop ...string) map[string]string {
	env := maps.Clone(base)
	if env == nil {
		env = map[string]string{}
	}
	for _, k := range drop {
		delete(env, k)
	}
	maps.Copy(env, set)
	return env
}

// Production refuses to start while any stand-in would run, and names every
// missing setting at once; development runs them.
func TestConfigProductionRefusesStandIns(t *testing.T) {
	t.Parallel()
	full := productionEnv(t)
	with := func(set map[string]string, drop ...string) map[string]string { return envWith(full, set, drop...) }
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // every one must be named; none: starts
	}{
		{"complete", full, nil},
		{"nothing set", map[string]string{"YUTANG_ENV": "production"},
			[]string{"YUTANG_WXPAY_MCHID is not set", "YUTANG_WEAPP_SECRET_FILE is not set", "YUTANG_WEAPP_APPID is not set"}},
		{"no merchant", with(nil, "YUTANG_WXPAY_MCHID"), []string{"WeChat Pay simulator"}},
		{"no AppSecret", with(nil, "YUTANG_WEAPP_SECRET_FILE"), []string{"code2session stand-in"}},
		{"demo data", with(map[string]string{"YUTANG_DEMO": "true"}), []string{"YUTANG_DEMO is true"}},
		{"private PostgreSQL loads no demo by default", with(nil, "DATABASE_URL"), nil},
		{"simulator speedup", with(map[string]string{"YUTANG_WXPAY_SIM_SPEEDUP": "10"}), []string{"YUTANG_WXPAY_SIM_SPEEDUP"}},
		{"merchant half configured", with(nil, "YUTANG_WXPAY_CERT_SERIAL", "YUTANG_WXPAY_NOTIFY_URL", "YUTANG_WEAPP_SECRET_FILE"),
			[]string{"YUTANG_WXPAY_CERT_SERIAL", "YUTANG_WXPAY_NOTIFY_URL", "YUTANG_WEAPP_SECRET_FILE"}},
		{"unknown env", with(map[string]string{"YUTANG_ENV": "prod"}), []string{`YUTANG_ENV: "prod" is not development or production`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) string { return tc.env[k] })
			if len(tc.want) == 0 {
				if err != nil || !c.Production() || len(c.StandIns()) != 0 {
					t.Fatalf("want a clean production config: %v %v", err, c.StandIns())
				}
				return
			}
			if err == nil {
				t.Fatal("production started with stand-ins")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
	// Development (the default) runs every stand-in and says so.
	c, err := LoadConfig(func(string) string { return "" })
	if err != nil || c.Production() || len(c.StandIns()) != 4 {
		t.Fatalf("development: %v %q", err, c.StandIns())
	}
}

// Even when a production configuration reaches the wiring with a stand-in
// (a bug in LoadConfig, a test option), the program refuses to start.
func TestProductionWiringRefusesStandIns(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, map[string]string{"YUTANG_PASSWORD_HASH": "cheap"})
	cfg.Env = EnvProduction
	a, err := openApp(context.Background(), cfg, testLogWriter{t})
	if err == nil {
		a.close()
		t.Fatal("production app wired the simulator and started")
	}
	if !strings.Contains(err.Error(), "stand-in") {
		t.Fatalf("error: %v", err)
	}
}

// The development routes answer only over loopback: a request that reached
// the listener on another address gets 404, as if they did not exist.
func TestDevRoutesLoopbackOnly(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	h := ta.srv.Config.Handler
	for _, tc := range []struct {
		local, remote string
		want          int
	}{
		{"127.0.0.1:8080", "127.0.0.1:5000", http.StatusOK},
		{"[::1]:8080", "[::1]:5000", http.StatusOK},
		{"10.1.2.3:8080", "10.9.9.9:5000", http.StatusNotFound},  // the public interface
		{"127.0.0.1:8080", "10.9.9.9:5000", http.StatusNotFound}, // forwarded from outside
		{"", "127.0.0.1:5000", http.StatusNotFound},              // not from a listener at all
	} {
		r := httptest.NewRequest("GET", "/_dev/weapp/messages", nil)
		r.RemoteAddr = tc.remote
		if tc.local != "" {
			la, err := net.ResolveTCPAddr("tcp", tc.local)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, la))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if (rec.Code == http.StatusNotFound) != (tc.want == http.StatusNotFound) {
			t.Errorf("local %s remote %s: status %d, want %d", tc.local, tc.remote, rec.Code, tc.want)
		}
	}
	// Over the test server's loopback listener the simulator answers.
	ta.must(http.StatusOK, req{Method: "GET", Path: "/_dev/weapp/messages"})
}
