package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/storage/pglocal"
)

// PostgreSQL stopped: ordinary routes answer 503 database_unavailable with
// Retry-After, never 500; started again: the same app answers 200, without a
// restart. The test runs its own private cluster so it can stop it.
func TestDatabaseStoppedAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cluster, err := pglocal.Start(ctx, pglocal.Options{Dir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Stop()
		_ = os.RemoveAll(cluster.Dir)
	})
	ta := newTestApp(t, func(c *Config) { c.DatabaseURL = cluster.URL("postgres") })
	shopper, _ := ta.shopper("down-alice")
	admin := ta.staff(identity.RoleAdmin, "")
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/products", Token: admin})

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	routes := []req{
		{Method: "GET", Path: "/api/v1/shop/categories"},
		{Method: "GET", Path: "/api/v1/shop/products?q=tea"},
		{Method: "GET", Path: "/api/v1/shop/products/1"},
		{Method: "GET", Path: "/api/v1/shop/cart", Header: map[string]string{"X-Anon-Id": "anon-visitor-1"}},
		{Method: "GET", Path: "/api/v1/shop/cart", Token: shopper},
		{Method: "GET", Path: "/api/v1/shop/orders", Token: shopper},
		{Method: "POST", Path: "/api/v1/shop/session", Body: map[string]string{"code": "down-bob"}},
		{Method: "POST", Path: "/api/v1/admin/session", Body: map[string]string{"username": "someone", "password": "some-password"}},
		{Method: "POST", Path: "/api/v1/clerk/session", Body: map[string]string{"username": "someone", "password": "some-password"}},
		{Method: "GET", Path: "/api/v1/admin/products", Token: admin},
		{Method: "POST", Path: "/api/v1/admin/categories", Token: admin, Body: map[string]any{"name": "Tea"}},
		{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post", Token: admin},
		{Method: "POST", Path: "/api/v1/shop/track", Header: map[string]string{"X-Anon-Id": "anon-visitor-1"},
			Body: map[string]any{"events": []any{map[string]any{"id": "e1", "code": "x", "at": time.Now()}}}},
		{Method: "GET", Path: "/readyz"},
	}
	for _, r := range routes {
		got := ta.do(r)
		if got.Status != 503 || got.ErrCode(t) != "database_unavailable" || got.Header.Get("Retry-After") == "" {
			t.Errorf("database stopped: %s %s: %d %q (Retry-After %q), want 503 database_unavailable with Retry-After",
				r.Method, r.Path, got.Status, got.Body, got.Header.Get("Retry-After"))
		}
	}
	ta.must(200, req{Method: "GET", Path: "/healthz"})

	// Start it again (same directory, same port): the pool reconnects.
	again, err := pglocal.Start(ctx, pglocal.Options{Dir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Port != cluster.Port {
		t.Fatalf("the cluster came back on port %d, not %d", again.Port, cluster.Port)
	}
	eventually(t, 30*time.Second, "the app to answer 200 again", func() bool {
		r := ta.do(req{Method: "GET", Path: "/api/v1/admin/products", Token: admin})
		if r.Status >= 500 && r.Status != 503 {
			t.Fatalf("while the database comes back: %d %s", r.Status, r.Body)
		}
		return r.Status == 200
	})
	for _, r := range routes {
		if r.Method != "GET" {
			continue
		}
		if got := ta.do(r); got.Status >= 500 { // 200, or 404 for the product that does not exist
			t.Errorf("database back: %s %s: %d %s", r.Method, r.Path, got.Status, got.Body)
		}
	}
}
