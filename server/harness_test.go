package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/storage/storagetest"
)

// testApp is the whole program wired against a fresh database, served by
// httptest: API tests drive it over real HTTP with real services.
type testApp struct {
	t   *testing.T
	app *app
	srv *httptest.Server
}

// newTestApp starts the program on a fresh database. Options may adjust the
// configuration before wiring.
func newTestApp(t *testing.T, opts ...func(*Config)) *testApp {
	t.Helper()
	// Cheap password hashes: staff sign in in every other test, and strong
	// argon2id would spend a third of the suite's CPU.
	cfg := testConfig(t, map[string]string{"YUTANG_PASSWORD_HASH": "cheap"})
	for _, o := range opts {
		o(&cfg)
	}
	a, err := openApp(context.Background(), cfg, testLogWriter{t})
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	ta := &testApp{t: t, app: a}
	ta.srv = httptest.NewServer(a.api().Handler())
	t.Cleanup(func() {
		ta.srv.Close()
		a.close()
	})
	return ta
}

// testConfig is the configuration of the program on a fresh database,
// quiet, with env's variables over the defaults.
func testConfig(tb testing.TB, env map[string]string) Config {
	tb.Helper()
	vars := map[string]string{"DATABASE_URL": storagetest.NewURL(tb), "YUTANG_DEMO": "false",
		"YUTANG_DATA_DIR": tb.TempDir(), "YUTANG_LOG_LEVEL": "error"}
	maps.Copy(vars, env)
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// benchOpen opens the program for a benchmark, without its log, and closes
// it when the benchmark ends.
func benchOpen(b *testing.B, cfg Config) *app {
	b.Helper()
	a, err := openApp(context.Background(), cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	return a
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// resp is an HTTP answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r resp) Decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
}

// ErrCode returns error.code of an error body.
func (r resp) ErrCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// req is one request to send.
type req struct {
	Method, Path string
	Token        string
	Body         any               // marshalled as JSON unless []byte or string
	Header       map[string]string // extra headers
}

// do sends r and returns the answer.
func (ta *testApp) do(r req) resp {
	ta.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ta.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.Method, ta.srv.URL+r.Path, body)
	if err != nil {
		ta.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	res, err := ta.srv.Client().Do(hr)
	if err != nil {
		ta.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends r and fails the test unless the status is want.
func (ta *testApp) must(want int, r req) resp {
	ta.t.Helper()
	out := ta.do(r)
	if out.Status != want {
		ta.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, out.Status, want, out.Body)
	}
	return out
}

// shopper signs a shopper in through the code2session stand-in and returns
// the token and the shopper id.
func (ta *testApp) shopper(code string) (string, int64) {
	ta.t.Helper()
	var s struct {
		Token   string `json:"token"`
		Shopper struct {
			ID int64 `json:"id"`
		} `json:"shopper"`
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/session", Body: map[string]string{"code": code}}).Decode(ta.t, &s)
	return s.Token, s.Shopper.ID
}

// staff creates a staff account with role (and store code for store staff)
// and signs it in; it returns the token.
func (ta *testApp) staff(role identity.Role, storeCode string) string {
	ta.t.Helper()
	if storeCode != "" {
		_, err := ta.app.db.Exec(`INSERT INTO stores (code, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, storeCode)
		if err != nil {
			ta.t.Fatal(err)
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	username := string(role) + "-" + hex.EncodeToString(b[:])
	username = strings.ReplaceAll(username, "_", "-")
	pw := "pw-" + hex.EncodeToString(b[:]) + "-long"
	if _, err := ta.app.svc.Identity.AddStaff(context.Background(), username, role, storeCode, pw); err != nil {
		ta.t.Fatal(err)
	}
	path := "/api/v1/admin/session"
	if role.StoreBound() {
		path = "/api/v1/clerk/session"
	}
	var s struct {
		Token string `json:"token"`
	}
	ta.must(200, req{Method: "POST", Path: path, Body: map[string]string{"username": username, "password": pw}}).Decode(ta.t, &s)
	return s.Token
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
