package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/yutang/yutang/domain/identity"
)

func TestHealthReadyMetricsOpenAPI(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ta.must(200, req{Method: "GET", Path: "/healthz"})
	ta.must(200, req{Method: "GET", Path: "/readyz"})
	m := ta.must(200, req{Method: "GET", Path: "/metrics"})
	for _, want := range []string{"yutang_http_requests_total", "go_sql_max_open_connections"} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	spec := ta.must(200, req{Method: "GET", Path: "/openapi.yaml"})
	if !strings.HasPrefix(string(spec.Body), "openapi: 3") {
		t.Errorf("openapi.yaml starts %q", spec.Body[:20])
	}
	if id := m.Header.Get("X-Request-Id"); id == "" {
		t.Error("no X-Request-Id on the response")
	}
}

// The program wires every service the API calls: the handlers do not look
// for nil ones (mpapi.Deps), so a missing one would be a 500, not a 503.
func TestEveryServiceWired(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	v := reflect.ValueOf(ta.app.svc)
	for i := range v.NumField() {
		if f := v.Field(i); f.IsNil() {
			t.Errorf("mpapi.Services.%s is not wired", v.Type().Field(i).Name)
		}
	}
}

func TestReadyzFailsWhileDatabaseIsUnreachableAndRecovers(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	// Take every pool connection away by terminating them and blocking new ones.
	db := ta.app.db
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	admin := adminConn(t)
	if _, err := admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Fatal(err)
	}
	r := ta.do(req{Method: "GET", Path: "/readyz"})
	if r.Status != 503 || r.ErrCode(t) != "database_unavailable" {
		t.Fatalf("readyz with the database refusing connections: %d %s", r.Status, r.Body)
	}
	ta.must(200, req{Method: "GET", Path: "/healthz"})
	// Let connections in again: readiness comes back by itself.
	if _, err := admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	ta.must(200, req{Method: "GET", Path: "/readyz"})
}

func TestBadInputGetsA4xxWithACode(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed json", `{"code": `, 400, "malformed_json"},
		{"not json at all", `hello`, 400, "malformed_json"},
		{"wrong type", `{"code": 42}`, 400, "validation_failed"},
		{"unknown field", `{"code": "a", "extra": 1}`, 400, "validation_failed"},
		{"missing field", `{}`, 400, "validation_failed"},
		{"empty body", ``, 400, "empty_body"},
		{"trailing data", `{"code":"a"} {}`, 400, "malformed_json"},
		{"oversized body", `{"code":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		r := ta.do(req{Method: "POST", Path: "/api/v1/shop/session", Body: c.body})
		if r.Status != c.status || r.ErrCode(t) != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
		if strings.Contains(string(r.Body), "goroutine") || strings.Contains(string(r.Body), ".go:") {
			t.Errorf("%s: internal text leaked: %s", c.name, r.Body)
		}
	}
	// A validation error names the field by its JSON name.
	r := ta.do(req{Method: "POST", Path: "/api/v1/shop/session", Body: `{"code": 42}`})
	if !strings.Contains(string(r.Body), `"field":"code"`) {
		t.Errorf("field not named: %s", r.Body)
	}
	ta.must(404, req{Method: "GET", Path: "/api/v1/shop/nope"})
	ta.must(405, req{Method: "PUT", Path: "/healthz"})
}

func TestSignInAndRoles(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok, id := ta.shopper("alice")
	tok2, id2 := ta.shopper("alice")
	if id != id2 || tok == tok2 {
		t.Fatalf("same code, same shopper, new token: %d %d", id, id2)
	}
	_, bob := ta.shopper("bob")
	if bob == id {
		t.Fatal("bob is alice")
	}
	// A shopper token cannot reach /admin.
	if r := ta.do(req{Method: "GET", Path: "/api/v1/admin/audit-log", Token: tok}); r.Status != 403 {
		t.Fatalf("shopper at admin: %d", r.Status)
	}
	// No token: 401; a garbage token: 401.
	ta.must(401, req{Method: "GET", Path: "/api/v1/admin/audit-log"})
	ta.must(401, req{Method: "GET", Path: "/api/v1/admin/audit-log", Token: "garbage"})
	// A merchandiser is not an admin.
	m := ta.staff(identity.RoleMerchandiser, "")
	ta.must(403, req{Method: "GET", Path: "/api/v1/admin/audit-log", Token: m})
	admin := ta.staff(identity.RoleAdmin, "")
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/audit-log", Token: admin})
	// A clerk signs in at /clerk, not at /admin.
	clerk := ta.staff(identity.RoleClerk, "S1")
	if clerk == "" {
		t.Fatal("no clerk token")
	}
	// Sign out revokes.
	ta.must(204, req{Method: "DELETE", Path: "/api/v1/admin/session", Token: admin})
	ta.must(401, req{Method: "GET", Path: "/api/v1/admin/audit-log", Token: admin})
	// Phone binding.
	r := ta.must(200, req{Method: "POST", Path: "/api/v1/shop/session/phone", Token: tok, Body: map[string]string{"code": "p1"}})
	if ph, _ := r.JSON(t)["phone"].(string); len(ph) != 11 {
		t.Fatalf("phone: %s", r.Body)
	}
	_ = tok2
}

func TestStaffLoginIsThrottled(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	if _, err := ta.app.svc.Identity.AddStaff(t.Context(), "merch1", identity.RoleMerchandiser, "", "right-password-1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		r := ta.do(req{Method: "POST", Path: "/api/v1/admin/session", Body: map[string]string{"username": "merch1", "password": "wrong"}})
		if r.Status != 401 || r.ErrCode(t) != "bad_credentials" {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	// Locked now, even with the right password.
	r := ta.do(req{Method: "POST", Path: "/api/v1/admin/session", Body: map[string]string{"username": "merch1", "password": "right-password-1"}})
	if r.Status != 429 || r.ErrCode(t) != "login_locked" {
		t.Fatalf("locked: %d %s", r.Status, r.Body)
	}
	// Unknown users get the same answer as a wrong password.
	r = ta.do(req{Method: "POST", Path: "/api/v1/admin/session", Body: map[string]string{"username": "nobody", "password": "x"}})
	if r.Status != 401 || r.ErrCode(t) != "bad_credentials" {
		t.Fatalf("unknown user: %d %s", r.Status, r.Body)
	}
}
