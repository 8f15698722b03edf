package main

import (
	"testing"
	"time"
)

// Two servers on one database keep who a token is in memory: a sign-out on
// one is refused there on the very next request and on the other within a
// second (the auth version, migration 00025), although both had the
// principal cached.
func TestSignOutRefusedOnEveryServer(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := newTestApp(t, func(c *Config) { c.DatabaseURL = a.app.cfg.DatabaseURL })
	tok, _ := a.shopper("cache-alice")
	mine := req{Method: "GET", Path: "/api/v1/shop/orders", Token: tok}
	for range 3 { // both servers have the principal in memory now
		a.must(200, mine)
		b.must(200, mine)
	}
	a.must(204, req{Method: "DELETE", Path: "/api/v1/shop/session", Token: tok})
	if r := a.do(mine); r.Status != 401 {
		t.Fatalf("the signing-out server, next request: %d, want 401", r.Status)
	}
	start := time.Now()
	for b.do(mine).Status != 401 {
		if time.Since(start) > 3*time.Second {
			t.Fatal("the other server never refused the signed-out token")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other server refused it after %v, want under a second", d)
	}
}
