package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
	"github.com/yutang/yutang/storage"
)

// wireCoupons builds the coupon and campaign services, feeds the checkout
// (order.Service.Promotions), and subscribes both areas to an order's life:
//
//   - placed: each coupon the order was priced with is locked (a
//     redemption, which the order's coupon adjustments then name) and each
//     campaign-priced line takes its units from the allotment and the
//     shopper's limit — conditional updates that refuse the order when
//     another took them first;
//   - paid: the coupons are used, the campaign units sold;
//   - cancelled (shopper, expiry, staff): the coupons come back while valid,
//     the campaign units go back to their allotment and shopper.
//
// A refund returns neither. Workers move campaigns on time and run bulk
// issue jobs.
func (a *app) wireCoupons() {
	st := a.store
	coupons := &coupon.Service{Store: st.Coupons(), Issuing: st.Coupons(), Members: st.Members(), Now: a.now}
	campaigns := &campaign.Service{Store: st.Campaigns(), Now: a.now}
	a.svc.Coupons, a.svc.Campaigns = coupons, campaigns
	a.svc.Orders.Promotions = promotions{coupons: coupons, campaigns: campaigns}

	st.Lifecycle.On(order.MomentPlaced, "coupons", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return placeCoupons(ctx, tx, e)
	})
	st.Lifecycle.On(order.MomentPaid, "coupons", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		// Only what the order carries: an order with no coupon (campaign)
		// adjustment has no redemption (units) — placeCoupons makes them from
		// those adjustments only — and is spared the statement.
		if e.MayCarry(pricing.SourceCoupon) {
			if _, err := tx.Coupons().Use(ctx, e.OrderID, e.At); err != nil {
				return err
			}
		}
		if e.MayCarry(pricing.SourceCampaign) {
			return tx.Campaigns().Sell(ctx, e.OrderID)
		}
		return nil
	})
	st.Lifecycle.On(order.MomentCancelled, "coupons", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		if _, err := tx.Coupons().Return(ctx, e.OrderID, e.At); err != nil {
			return err
		}
		return tx.Campaigns().Release(ctx, e.OrderID)
	})
	a.workers = append(a.workers,
		every(5*time.Second, a.log, "campaigns.advance", func(ctx context.Context) error {
			_, err := campaigns.Advance(ctx, 100)
			return err
		}),
		every(2*time.Second, a.log, "coupons.jobs", func(ctx context.Context) error {
			_, err := coupons.WorkJobs(ctx, 200, 50)
			return err
		}))
}

// placeCoupons takes what a placed order was priced with: its coupons
// (renaming their adjustments to the redemptions) and its campaign units.
func placeCoupons(ctx context.Context, tx *storage.Tx, e order.Event) error {
	o, err := e.PlacedOrder()
	if err != nil {
		return err
	}
	coupons := map[int64]domain.Fen{}
	var ids []int64
	for _, it := range o.Items {
		for _, ad := range it.Adjustments {
			switch ad.Source {
			case pricing.SourceCoupon:
				if _, ok := coupons[ad.SourceID]; !ok {
					ids = append(ids, ad.SourceID)
				}
				coupons[ad.SourceID] += ad.Amount
			case pricing.SourceCampaign:
				if err := tx.Campaigns().Take(ctx, ad.SourceID, it.SKUID, o.ID, o.ShopperID, it.Quantity, e.At); err != nil {
					return err
				}
			}
		}
	}
	slices.Sort(ids) // lock coupons in one order
	for _, id := range ids {
		rid, err := tx.Coupons().Lock(ctx, id, o.ShopperID, o.ID, coupons[id], e.At)
		if err != nil {
			return err
		}
		if err := tx.Orders().RenameAdjustments(ctx, order.AdjustmentRename{OrderID: o.ID, Source: pricing.SourceCoupon, From: id, To: rid}); err != nil {
			return fmt.Errorf("coupons: name redemption: %w", err)
		}
	}
	return nil
}

// promotions is the checkout's view of campaigns and coupons.
type promotions struct {
	coupons   *coupon.Service
	campaigns *campaign.Service
}

func (p promotions) CampaignPrices(ctx context.Context, shopperID int64, skuIDs []int64, now time.Time) (map[int64]order.CampaignPrice, error) {
	offers, err := p.campaigns.Offers(ctx, shopperID, skuIDs, now)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]order.CampaignPrice, len(offers))
	for sku, o := range offers {
		out[sku] = order.CampaignPrice{CampaignID: o.CampaignID, Price: o.Price, Left: o.Left, ShopperLeft: o.ShopperLeft}
	}
	return out, nil
}

func (p promotions) MemberDayBoost(ctx context.Context, now time.Time) (int64, error) {
	return p.campaigns.MemberDay(ctx, now)
}

func (p promotions) Coupons(ctx context.Context, shopperID int64, now time.Time) ([]pricing.Coupon, []pricing.CouponProblem, error) {
	return p.coupons.Checkout(ctx, shopperID, now)
}
