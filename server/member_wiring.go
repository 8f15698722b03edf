package main

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
)

// wireMembers builds membership and hooks it in: the order quote learns the
// shopper's tier, member prices and points (order.Membership); the order's
// moments freeze, spend and return points and stored value, earn and
// reverse points and growth; the cashier hands top-up payments to it
// (cashier.TradeApplier); workers reconcile top-ups, expire points and
// review tiers. The birthday worker (svc.GrantBirthdays) needs the coupons
// area, which this tree does not have yet: it is started here, with the
// coupons area's member.CouponGranter, when that lands.
func (a *app) wireMembers() {
	st := a.store
	svc := &member.Service{Store: st.Members(), Gateway: a.pay.gw, MchID: a.svc.Cashier.MchID, AppID: a.svc.Cashier.AppID,
		Now: func() time.Time { return a.now() }}
	a.svc.Members = svc
	a.svc.Orders.Membership = svc
	a.svc.Cashier.Trades = append(a.svc.Cashier.Trades, svc)
	lc := &st.Lifecycle
	lc.On(order.MomentPlaced, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Placed(ctx, tx.Members(), tx.Orders(), e)
	})
	lc.On(order.MomentCancelled, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Cancelled(ctx, tx.Members(), e)
	})
	lc.On(order.MomentPaid, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Paid(ctx, tx.Members(), tx.Orders(), e)
	})
	lc.On(order.MomentRefunded, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Refunded(ctx, tx.Members(), tx.Orders(), e)
	})
	a.workers = append(a.workers,
		every(30*time.Second, a.log, "members.topups", func(ctx context.Context) error {
			_, err := svc.ReconcileTopUps(ctx, 200)
			return err
		}),
		every(time.Hour, a.log, "members.points_expiry", func(ctx context.Context) error {
			_, err := svc.ExpirePoints(ctx, 500)
			return err
		}),
		every(time.Hour, a.log, "members.tier_review", func(ctx context.Context) error {
			_, err := svc.ReviewTiers(ctx, 500)
			return err
		}))
}
