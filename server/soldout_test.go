package main

import (
	"testing"
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
