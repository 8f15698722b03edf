package order

import (
	"errors"
	"testing"

	"github.com/yutang/yutang/domain"
)

// TestStatusCanBecome lists every (from, to, fulfillment) triple of the known
// statuses and fulfillment types, allowed and forbidden.
func TestStatusCanBecome(t *testing.T) {
	cases := []struct {
		from, to    Status
		fulfillment FulfillmentType
		want        bool
	}{
		{StatusPendingPayment, StatusPendingPayment, FulfillmentDelivery, false},
		{StatusPendingPayment, StatusPendingPayment, FulfillmentPickup, false},
		{StatusPendingPayment, StatusPaid, FulfillmentDelivery, true},
		{StatusPendingPayment, StatusPaid, FulfillmentPickup, true},
		{StatusPendingPayment, StatusShipped, FulfillmentDelivery, false},
		{StatusPendingPayment, StatusShipped, FulfillmentPickup, false},
		{StatusPendingPayment, StatusCompleted, FulfillmentDelivery, false},
		{StatusPendingPayment, StatusCompleted, FulfillmentPickup, false},
		{StatusPendingPayment, StatusCancelled, FulfillmentDelivery, true},
		{StatusPendingPayment, StatusCancelled, FulfillmentPickup, true},
		{StatusPaid, StatusPendingPayment, FulfillmentDelivery, false},
		{StatusPaid, StatusPendingPayment, FulfillmentPickup, false},
		{StatusPaid, StatusPaid, FulfillmentDelivery, false},
		{StatusPaid, StatusPaid, FulfillmentPickup, false},
		{StatusPaid, StatusShipped, FulfillmentDelivery, true},
		{StatusPaid, StatusShipped, FulfillmentPickup, false},
		{StatusPaid, StatusCompleted, FulfillmentDelivery, false},
		{StatusPaid, StatusCompleted, FulfillmentPickup, true},
		{StatusPaid, StatusCancelled, FulfillmentDelivery, false},
		{StatusPaid, StatusCancelled, FulfillmentPickup, false},
		{StatusShipped, StatusPendingPayment, FulfillmentDelivery, false},
		{StatusShipped, StatusPendingPayment, FulfillmentPickup, false},
		{StatusShipped, StatusPaid, FulfillmentDelivery, false},
		{StatusShipped, StatusPaid, FulfillmentPickup, false},
		{StatusShipped, StatusShipped, FulfillmentDelivery, false},
		{StatusShipped, StatusShipped, FulfillmentPickup, false},
		{StatusShipped, StatusCompleted, FulfillmentDelivery, true},
		{StatusShipped, StatusCompleted, FulfillmentPickup, false},
		{StatusShipped, StatusCancelled, FulfillmentDelivery, false},
		{StatusShipped, StatusCancelled, FulfillmentPickup, false},
		{StatusCompleted, StatusPendingPayment, FulfillmentDelivery, false},
		{StatusCompleted, StatusPendingPayment, FulfillmentPickup, false},
		{StatusCompleted, StatusPaid, FulfillmentDelivery, false},
		{StatusCompleted, StatusPaid, FulfillmentPickup, false},
		{StatusCompleted, StatusShipped, FulfillmentDelivery, false},
		{StatusCompleted, StatusShipped, FulfillmentPickup, false},
		{StatusCompleted, StatusCompleted, FulfillmentDelivery, false},
		{StatusCompleted, StatusCompleted, FulfillmentPickup, false},
		{StatusCompleted, StatusCancelled, FulfillmentDelivery, false},
		{StatusCompleted, StatusCancelled, FulfillmentPickup, false},
		{StatusCancelled, StatusPendingPayment, FulfillmentDelivery, false},
		{StatusCancelled, StatusPendingPayment, FulfillmentPickup, false},
		{StatusCancelled, StatusPaid, FulfillmentDelivery, false},
		{StatusCancelled, StatusPaid, FulfillmentPickup, false},
		{StatusCancelled, StatusShipped, FulfillmentDelivery, false},
		{StatusCancelled, StatusShipped, FulfillmentPickup, false},
		{StatusCancelled, StatusCompleted, FulfillmentDelivery, false},
		{StatusCancelled, StatusCompleted, FulfillmentPickup, false},
		{StatusCancelled, StatusCancelled, FulfillmentDelivery, false},
		{StatusCancelled, StatusCancelled, FulfillmentPickup, false},
	}
	seen := map[[3]string]bool{}
	for _, c := range cases {
		seen[[3]string{string(c.from), string(c.to), string(c.fulfillment)}] = true
		if got := c.from.CanBecome(c.to, c.fulfillment); got != c.want {
			t.Errorf("%s → %s (%s) = %v, want %v", c.from, c.to, c.fulfillment, got, c.want)
		}
		err := c.from.Transition(c.to, c.fulfillment)
		if c.want && err != nil {
			t.Errorf("%s → %s (%s): Transition = %v, want nil", c.from, c.to, c.fulfillment, err)
		}
		if !c.want && !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("%s → %s (%s): Transition = %v, want ErrInvalidTransition", c.from, c.to, c.fulfillment, err)
		}
	}
	// The table must cover every triple.
	for _, from := range Statuses {
		for _, to := range Statuses {
			for _, f := range []FulfillmentType{FulfillmentDelivery, FulfillmentPickup} {
				if !seen[[3]string{string(from), string(to), string(f)}] {
					t.Errorf("table misses %s → %s (%s)", from, to, f)
				}
			}
		}
	}
}

func TestStatusUnknownNeverMoves(t *testing.T) {
	for _, s := range Statuses {
		if Status("refunded").CanBecome(s, FulfillmentDelivery) || s.CanBecome("refunded", FulfillmentDelivery) {
			t.Errorf("unknown status moves to or from %s", s)
		}
		for _, next := range Statuses {
			if s.CanBecome(next, "") || s.CanBecome(next, "drone") {
				t.Errorf("%s → %s allowed with an unknown fulfillment type", s, next)
			}
		}
	}
}

func TestStatusTerminal(t *testing.T) {
	for _, s := range Statuses {
		anyNext := false
		for _, n := range Statuses {
			for _, f := range []FulfillmentType{FulfillmentDelivery, FulfillmentPickup} {
				anyNext = anyNext || s.CanBecome(n, f)
			}
		}
		if s.Terminal() == anyNext {
			t.Errorf("%s: Terminal() = %v but has a next status = %v", s, s.Terminal(), anyNext)
		}
	}
}

func TestInvalidTransitionError(t *testing.T) {
	err := StatusCancelled.Transition(StatusPaid, FulfillmentDelivery)
	de, ok := domain.AsError(err)
	if !ok || !errors.Is(err, ErrInvalidTransition) || de.Kind != domain.KindConflict {
		t.Fatalf("err = %v", err)
	}
	if ErrInvalidTransition.Code != "invalid_order_status" {
		t.Fatalf("code = %q", ErrInvalidTransition.Code)
	}
}

func TestLineRefundStatusCanBecome(t *testing.T) {
	allowed := map[[2]LineRefundStatus]bool{
		{LineRefundNone, LineRefundRequested}:     true,
		{LineRefundNone, LineRefundApproved}:      true,
		{LineRefundRequested, LineRefundApproved}: true,
		{LineRefundRequested, LineRefundRejected}: true,
		{LineRefundApproved, LineRefundRefunding}: true,
		{LineRefundRefunding, LineRefundRefunded}: true,
		{LineRefundRefunding, LineRefundApproved}: true,
		{LineRefundRejected, LineRefundRequested}: true,
	}
	for _, from := range LineRefundStatuses {
		for _, to := range LineRefundStatuses {
			want := allowed[[2]LineRefundStatus{from, to}]
			if got := from.CanBecome(to); got != want {
				t.Errorf("%s → %s = %v, want %v", from, to, got, want)
			}
		}
	}
	if LineRefundRefunded.CanBecome(LineRefundNone) {
		t.Error("refunded is final")
	}
}
