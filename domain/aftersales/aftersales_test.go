package aftersales

import (
	"testing"

	"github.com/yutang/yutang/domain/order"
)

// TestStockRule is the stock half of what was cashier's
// TestFreightAndStockRules (the freight rule stayed with the cashier).
func TestStockRule(t *testing.T) {
	paid := order.Order{Status: order.StatusPaid, Freight: 1000}
	shipped := order.Order{Status: order.StatusShipped, Freight: 1000}
	if !ReturnsStock(paid, false) || ReturnsStock(shipped, false) || !ReturnsStock(shipped, true) {
		t.Fatal("stock rule")
	}
}

func TestRefundable(t *testing.T) {
	for _, c := range []struct {
		s    order.Status
		want bool
	}{
		{order.StatusPendingPayment, false}, {order.StatusPaid, true}, {order.StatusShipped, true},
		{order.StatusCompleted, true}, {order.StatusCancelled, false},
	} {
		if got := Refundable(c.s); got != c.want {
			t.Errorf("%s: %v", c.s, got)
		}
	}
}
