package clerk

import (
	"bytes"
	"errors"
	"testing"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
)

func TestMaskPhone(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"13800138000", "138****8000"}, {"+8613800138000", "+86****8000"}, {"12345", "****45"}, {"12", "****"}, {"", ""},
	} {
		if got := MaskPhone(c.in); got != c.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPickupCode(t *testing.T) {
	// Bytes of 250 and above are skipped (no modulo bias).
	s := &Service{Rand: bytes.NewReader(append(bytes.Repeat([]byte{255}, 12), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 19, 249}...))}
	code, err := s.newPickupCode()
	if err != nil || code != "012345678999" {
		t.Fatalf("code %q %v", code, err)
	}
	seen := map[string]bool{}
	for range 1000 {
		c, err := (&Service{}).newPickupCode()
		if err != nil || len(c) != 12 || seen[c] {
			t.Fatalf("code %q %v (seen %t)", c, err, seen[c])
		}
		seen[c] = true
	}
}

func TestScope(t *testing.T) {
	clerkA := Staff{ID: 1, Role: identity.RoleClerk, StoreID: 10}
	admin := Staff{ID: 2, Role: identity.RoleAdmin}
	inA := order.Order{Channel: order.ChannelInStore, StoreID: 10}
	pickupB := order.Order{Channel: order.ChannelOnline, Fulfillment: order.FulfillmentPickup, PickupStore: 11}
	online := order.Order{Channel: order.ChannelOnline, Fulfillment: order.FulfillmentDelivery}
	for _, c := range []struct {
		st   Staff
		o    order.Order
		want bool
	}{{clerkA, inA, true}, {clerkA, pickupB, false}, {clerkA, online, false}, {admin, pickupB, true}, {admin, online, false}} {
		if got := c.st.seesOrder(c.o); got != c.want {
			t.Errorf("%s sees %+v: %t, want %t", c.st.Role, c.o, got, c.want)
		}
	}
	if id, err := clerkA.storeScope(0); err != nil || id != 10 {
		t.Errorf("clerk's own store: %d %v", id, err)
	}
	if _, err := clerkA.storeScope(11); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("another store: %v", err)
	}
	if id, err := admin.storeScope(11); err != nil || id != 11 {
		t.Errorf("admin: %d %v", id, err)
	}
}
