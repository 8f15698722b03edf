package order_test

import (
	"bytes"
	"testing"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/domain/order"
)

// Two placements are the same request exactly when everything but the key is
// the same.
func TestPlaceInputHash(t *testing.T) {
	fen := domain.Fen(100)
	base := func() order.PlaceInput {
		return order.PlaceInput{ShopperID: 1, Items: []order.LineRequest{{SKUID: 2, Quantity: 3}},
			Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentPickup, StoreID: 4}, ExpectedPayable: &fen, IdempotencyKey: "a"}
	}
	h := base().Hash()
	same := base()
	same.IdempotencyKey = "b"
	if !bytes.Equal(h, same.Hash()) {
		t.Error("the key changed the hash")
	}
	for name, change := range map[string]func(*order.PlaceInput){
		"quantity":    func(in *order.PlaceInput) { in.Items[0].Quantity = 4 },
		"sku":         func(in *order.PlaceInput) { in.Items[0].SKUID = 5 },
		"from cart":   func(in *order.PlaceInput) { in.FromCart = true },
		"fulfillment": func(in *order.PlaceInput) { in.Fulfillment.StoreID = 6 },
		"points":      func(in *order.PlaceInput) { in.Points = 1 },
		"coupons":     func(in *order.PlaceInput) { in.CouponIDs = []int64{1} },
		"expected":    func(in *order.PlaceInput) { in.ExpectedPayable = nil },
		"note":        func(in *order.PlaceInput) { in.Note = "x" },
		"shopper":     func(in *order.PlaceInput) { in.ShopperID = 2 },
	} {
		in := base()
		change(&in)
		if bytes.Equal(h, in.Hash()) {
			t.Errorf("%s did not change the hash", name)
		}
	}
}

func TestLineLimitAndCartStates(t *testing.T) {
	cases := []struct {
		sku   order.SKU
		qty   int
		limit int
		state cart.LineState
	}{
		{order.SKU{OnSale: true, Stock: 10}, 3, order.MaxLineQuantity, cart.StateAvailable},
		{order.SKU{OnSale: true, Stock: 10, PerOrderLimit: 2}, 3, 2, cart.StateOverLimit},
		{order.SKU{OnSale: true, Stock: 2}, 3, order.MaxLineQuantity, cart.StateShort},
		{order.SKU{OnSale: true, Stock: 0}, 1, order.MaxLineQuantity, cart.StateSoldOut},
		{order.SKU{OnSale: false, Stock: 10}, 1, order.MaxLineQuantity, cart.StateOffSale},
		{order.SKU{OnSale: true, Stock: 5000, PerOrderLimit: 5000}, 1, order.MaxLineQuantity, cart.StateAvailable},
	}
	for i, c := range cases {
		if got := order.LineLimit(c.sku); got != c.limit {
			t.Errorf("%d: limit %d, want %d", i, got, c.limit)
		}
		if got := cart.StateOf(c.sku, c.qty); got != c.state {
			t.Errorf("%d: state %s, want %s", i, got, c.state)
		}
	}
}
