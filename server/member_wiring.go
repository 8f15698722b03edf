package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
)

// wireMembers builds membership and hooks it in: the order quote learns the
// shopper's tier, member prices and points (order.Membership); the order's
// moments freeze, spend and return points and stored value, earn and
// reverse points and growth; the cashier hands top-up payments to it
// (cashier.TradeApplier); workers reconcile top-ups, expire points and
// review tiers; the birthday worker grants the tier's birthday coupon
// through the coupons area (birthdayCoupons), in its own transaction. It
// must be called after wireCoupons.
func (a *app) wireMembers() {
	st := a.store
	svc := &member.Service{Store: st.Members(), Gateway: a.pay.gw, MchID: a.svc.Cashier.MchID, AppID: a.svc.Cashier.AppID,
		Now: func() time.Time { return a.now() }}
	a.svc.Members = svc
	svc.Coupons = memberCoupons{a.svc.Coupons}
	a.svc.Clerks.Members = svc // in-store orders identify members by their code
	a.svc.Orders.Membership = svc
	a.svc.Cashier.Trades = append(a.svc.Cashier.Trades, svc)
	a.svc.Cashier.Refunds = append(a.svc.Cashier.Refunds, svc) // refunds of top-ups (TU…R01)
	lc := &st.Lifecycle
	lc.On(order.MomentPlaced, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Placed(ctx, tx.Members(), tx.Orders(), e)
	})
	lc.On(order.MomentCancelled, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Cancelled(ctx, tx.Members(), e)
	})
	lc.On(order.MomentPaid, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Paid(ctx, tx.Members(), e)
	})
	lc.On(order.MomentRefunded, "members", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.Refunded(ctx, tx.Members(), tx.Orders(), e)
	})
	a.workers = append(a.workers,
		every(30*time.Second, a.log, "members.topups", func(ctx context.Context) error {
			_, err := svc.ReconcileTopUps(ctx, 200)
			return err
		}),
		every(30*time.Second, a.log, "members.topup_refunds", func(ctx context.Context) error {
			_, err := svc.SyncTopUpRefunds(ctx, 200)
			return err
		}),
		every(time.Hour, a.log, "members.points_expiry", func(ctx context.Context) error {
			_, err := svc.ExpirePoints(ctx, 500)
			return err
		}),
		every(time.Hour, a.log, "members.tier_review", func(ctx context.Context) error {
			_, err := svc.ReviewTiers(ctx, 500)
			return err
		}),
		every(time.Hour, a.log, "members.birthdays", func(ctx context.Context) error {
			_, err := svc.GrantBirthdays(ctx, birthdayCoupons{a.svc.Coupons}, 200)
			return err
		}))
}

// memberCoupons is the coupons area as the clerk's member lookup sees it
// (member.CouponLister): the member's usable coupons.
type memberCoupons struct{ coupons *coupon.Service }

// Usable implements member.CouponLister.
func (m memberCoupons) Usable(ctx context.Context, shopperID int64) ([]member.HeldCoupon, error) {
	cs, _, err := m.coupons.Mine(ctx, shopperID, coupon.CouponUsable, domain.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	out := make([]member.HeldCoupon, len(cs))
	for i, c := range cs {
		t := c.Template
		out[i] = member.HeldCoupon{ID: c.ID, Name: t.Name, Kind: string(t.Kind), Threshold: t.Threshold, AmountOff: t.AmountOff,
			PercentOffBP: t.PercentOffBP, ValidUntil: c.ValidUntil}
	}
	return out, nil
}

// birthdayCoupons is the coupons area as membership's birthday worker sees
// it (member.CouponGranter): the coupon is issued in the worker's own
// transaction, the one that records the card's grant for the year.
type birthdayCoupons struct{ coupons *coupon.Service }

// Grant implements member.CouponGranter. A template that cannot be given
// (not active, sold out, gone) records the year as skipped with the reason
// rather than holding back every other card of the batch each hour.
func (b birthdayCoupons) Grant(ctx context.Context, tx member.Store, shopperID, templateID int64, year int, at time.Time) (string, error) {
	st, ok := tx.(storage.Members)
	if !ok || st.Tx() == nil {
		return "", errors.New("birthday coupons: not inside a storage transaction")
	}
	c, err := b.coupons.GiveBirthday(ctx, st.Tx().Coupons(), templateID, shopperID, year, at)
	var de *domain.Error
	switch {
	case err == nil:
		return "coupon " + strconv.FormatInt(c.ID, 10), nil
	case errors.As(err, &de) && de.Kind != domain.KindInternal:
		return "skipped: " + de.Code, nil
	}
	return "", err
}
