package main

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
)

// wireKOC builds the KOC programme and hooks it in. It must be called after
// wireAttribution: the paid handler reads the order's attribution, so it
// has to run after attribution's paid handler (handlers run in the order
// they subscribe). Customers are bound at sign-in and, at the latest, when
// their payment is applied; refunds reverse the refunded lines'
// commission; completion starts the after-sales window, and a worker
// matures what has passed it.
func (a *app) wireKOC() {
	svc := &commission.Service{Store: a.store.KOCs(), Touchpoints: a.store.Attribution(), Now: func() time.Time { return a.now() }}
	a.svc.KOC = svc
	a.store.SignedIn.On("koc", func(ctx context.Context, tx *storage.Tx, e identity.SignedIn) error {
		_, err := svc.Bind(ctx, tx.KOCs(), e.ShopperID, e.At)
		return err
	})
	a.store.Lifecycle.On(order.MomentPaid, "koc", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		o, err := paidForCommission(e)
		if err != nil {
			return err
		}
		return svc.Accrue(ctx, tx.KOCs(), tx.Attribution(), o)
	})
	a.store.Lifecycle.On(order.MomentRefunded, "koc", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		if len(e.Lines) == 0 {
			return nil
		}
		return svc.Reverse(ctx, tx.KOCs(), e.OrderID, refundedLines(e))
	})
	a.store.Lifecycle.On(order.MomentCompleted, "koc", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Completed(ctx, tx.KOCs(), e.OrderID, e.At)
	})
	a.workers = append(a.workers, every(10*time.Minute, a.log, "koc.mature", func(ctx context.Context) error {
		for {
			n, err := svc.Mature(ctx, 500)
			if err != nil || n < 500 {
				return err
			}
		}
	}))
}

// paidForCommission is the paid moment's order as the KOC programme reads
// it (commission.PaidOrder): the buyer, when it was paid (the moment's
// time, which the cashier rounded to the microsecond and stored as paid_at)
// and its lines with their products' categories.
func paidForCommission(e order.Event) (commission.PaidOrder, error) {
	lines, err := e.PaidOrderLines()
	if err != nil {
		return commission.PaidOrder{}, err
	}
	o := commission.PaidOrder{ID: e.OrderID, BuyerID: e.ShopperID, PaidAt: e.At}
	for _, l := range lines {
		o.Lines = append(o.Lines, commission.Line{ItemID: l.ItemID, ProductID: l.ProductID, CategoryID: l.CategoryID, Paid: l.Paid})
	}
	return o, nil
}
