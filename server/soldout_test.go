package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
)

// After the last unit, placing answers out_of_stock before any transaction
// (order.Service.soldOut) — but a retry of the order that took the last unit
// still answers that order, and nothing is claimed or reserved for a
// refused attempt.
func TestSoldOutAnsweredEarlyReplayStillAnswers(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	sku := ta.orderSKUs(1, 2)[0]
	alice, _ := ta.shopper("so-alice")
	bob, _ := ta.shopper("so-bob")
	body := func(tok string) map[string]any {
		b := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 2}},
			"fulfillment": map[string]any{"type": "delivery", "address_id": ta.address(tok)}}
		var q struct {
			PayableFen int64 `json:"payable_fen"`
		}
		ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: b}).Decode(t, &q)
		b["expected_payable_fen"] = q.PayableFen
		return b
	}
	ab, bb := body(alice), body(bob)
	key := map[string]string{"Idempotency-Key": "last-units"}
	var first orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: alice, Body: ab, Header: key}).Decode(t, &first)
	if s, r := ta.stockOf(sku); s != 0 || r != 2 {
		t.Fatalf("after the last units: stock %d reserved %d", s, r)
	}

	// The same request again (a retry after a lost answer): the same order.
	var again orderAnswer
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: alice, Body: ab, Header: key}).Decode(t, &again)
	if again.OrderNo != first.OrderNo {
		t.Fatalf("replay answered %s, want %s", again.OrderNo, first.OrderNo)
	}
	// Someone else, and alice with a new key: sold out, nothing claimed.
	for i, r := range []req{
		{Method: "POST", Path: "/api/v1/shop/orders", Token: bob, Body: bb, Header: map[string]string{"Idempotency-Key": "bob-1"}},
		{Method: "POST", Path: "/api/v1/shop/orders", Token: alice, Body: ab, Header: map[string]string{"Idempotency-Key": "alice-2"}},
	} {
		got := ta.do(r)
		if got.Status != 409 || got.ErrCode(t) != "out_of_stock" {
			t.Fatalf("attempt %d after sell-out: %d %s", i, got.Status, got.Body)
		}
	}
	var keys int
	if err := ta.app.db.Get(&keys, `SELECT count(*) FROM idempotency_keys`); err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Fatalf("%d idempotency keys recorded, want only the placed order's", keys)
	}
	if s, r := ta.stockOf(sku); s != 0 || r != 2 {
		t.Fatalf("after refusals: stock %d reserved %d", s, r)
	}
	ta.checkInvariants()
}

// soldOutReads counts the sold-out check's SKU reads and key lookups on one
// server.
type soldOutReads struct {
	order.Store
	n, keys atomic.Int64
}

func (s *soldOutReads) SKUs(ctx context.Context, ids []int64) ([]order.SKU, error) {
	s.n.Add(1)
	return s.Store.SKUs(ctx, ids)
}

func (s *soldOutReads) IdempotencyKeyUsed(ctx context.Context, scope, subject, key string) (bool, error) {
	s.keys.Add(1)
	return s.Store.IdempotencyKeyUsed(ctx, scope, subject, key)
}

// Each server remembers a sell-out (order.SoldOutMemo) with who bought and
// with which keys: the crowd after the last unit is refused with no read at
// all, a buyer's retry still answers their order and their new key is
// refused, stock returned through the server is sold at once, and stock
// returned through another server within a second.
func TestSoldOutRememberedBrieflyOnEachServer(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := newTestApp(t, func(c *Config) { c.DatabaseURL = a.app.cfg.DatabaseURL; c.CacheFresh = time.Second })
	sku := a.orderSKUs(1, 1)[0]
	merch := a.staff(identity.RoleMerchandiser, "")
	type buyer struct {
		tok  string
		addr int64
	}
	var alice, bob, carol buyer
	for _, s := range []*buyer{&alice, &bob, &carol} {
		s.tok, _ = a.shopper(fmt.Sprintf("sm-%p", s))
		s.addr = a.address(s.tok)
	}
	body := func(s buyer) map[string]any {
		return map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}},
			"fulfillment": map[string]any{"type": "delivery", "address_id": s.addr}}
	}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	a.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: alice.tok, Body: body(alice)}).Decode(t, &q)
	place := func(ta *testApp, s buyer, key string) resp {
		b := body(s)
		b["expected_payable_fen"] = q.PayableFen
		return ta.do(req{Method: "POST", Path: "/api/v1/shop/orders", Token: s.tok, Header: map[string]string{"Idempotency-Key": key}, Body: b})
	}
	soldOut := func(r resp) bool { return r.Status == 409 && r.ErrCode(t) == "out_of_stock" }
	restock := func(ta *testApp) {
		ta.must(201, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/skus/%d/stock-adjustments", sku), Token: merch,
			Body: map[string]any{"kind": "correct", "quantity": 1, "note": "退回"}})
	}

	placed := func(r resp) (o orderAnswer) {
		t.Helper()
		if r.Status != 201 {
			t.Fatalf("placing: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &o)
		return o
	}
	first := placed(place(a, alice, "alice-1"))
	reads := &soldOutReads{Store: b.app.svc.Orders.Store}
	b.app.svc.Orders.Store = reads
	// b learns the catalog's version, and lets its grace pass (readcache:
	// what is read within half a second of a version change is read again).
	b.must(200, req{Method: "GET", Path: "/api/v1/shop/products"})
	time.Sleep(600 * time.Millisecond)
	for i := range 3 {
		if r := place(b, bob, fmt.Sprintf("bob-%d", i)); !soldOut(r) {
			t.Fatalf("bob's try %d after the sell-out: %d %s", i, r.Status, r.Body)
		}
	}
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("three refusals read the SKU %d times, want once", n)
	}
	// Alice bought it: her retry answers her order; a new key of hers is
	// refused. No key was looked up for any of these tries.
	if again := placed(place(b, alice, "alice-1")); again.OrderNo != first.OrderNo {
		t.Fatalf("alice's retry answered %s, want %s", again.OrderNo, first.OrderNo)
	}
	if r := place(b, alice, "alice-2"); !soldOut(r) {
		t.Fatalf("alice's new try: %d %s", r.Status, r.Body)
	}
	if n, k := reads.n.Load(), reads.keys.Load(); n != 1 || k != 0 {
		t.Fatalf("five tries after the sell-out: %d SKU reads and %d key lookups, want 1 and 0", n, k)
	}

	// A unit returned through b sells on b at once.
	restock(b)
	if r := place(b, bob, "bob-after-restock"); r.Status != 201 {
		t.Fatalf("bob right after a restock on the same server: %d %s", r.Status, r.Body)
	}
	// A unit returned through b sells on a, which remembered the sell-out,
	// within a second.
	if r := place(a, carol, "carol-0"); !soldOut(r) {
		t.Fatalf("carol before the second restock: %d %s", r.Status, r.Body)
	}
	restock(b)
	start := time.Now()
	for i := 1; ; i++ {
		r := place(a, carol, fmt.Sprintf("carol-%d", i))
		if r.Status == 201 {
			break
		}
		if !soldOut(r) {
			t.Fatalf("carol's try %d: %d %s", i, r.Status, r.Body)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("stock returned on another server still refused after %v", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s, r := a.stockOf(sku); s != 0 || r != 3 {
		t.Fatalf("stock %d reserved %d, want 0 and 3", s, r)
	}
	a.checkInvariants()
}
