package order

import (
	"context"
	"slices"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
)

// Promotions feeds the pricing engine's campaign and coupon stages: the
// program wires the campaign and coupon areas behind it. Without it
// (Service.Promotions nil) nothing is campaign-priced and coupons are
// refused.
type Promotions interface {
	// CampaignPrices returns, for the SKUs that have one at now, the running
	// campaign price and how many units the shopper may still take at it
	// (allotment left, and the shopper's own limit; shopperID 0 has none).
	CampaignPrices(ctx context.Context, shopperID int64, skuIDs []int64, now time.Time) (map[int64]CampaignPrice, error)
	// Coupons returns the shopper's coupons that pricing may consider at
	// now, and those held but refused for reasons outside pricing.
	Coupons(ctx context.Context, shopperID int64, now time.Time) ([]pricing.Coupon, []pricing.CouponProblem, error)
	// MemberDayBoost is what a member day running at now adds to a
	// member's tier discount, in basis points (0: none).
	MemberDayBoost(ctx context.Context, now time.Time) (int64, error)
}

// CampaignPrice is a SKU's running campaign price for one shopper.
type CampaignPrice struct {
	CampaignID int64
	Price      domain.Fen
	// Left is how many units the allotment still has; ShopperLeft how many
	// more the shopper may take (-1: no per-shopper limit).
	Left        int
	ShopperLeft int
}

// CouponOptions is the preview's answer about the shopper's coupons for
// this checkout: the usable ones (what each takes off alone), the others
// with their reason, and the best choice (the lowest payable).
type CouponOptions struct {
	Usable      []pricing.EligibleCoupon
	Unusable    []pricing.CouponProblem
	Best        []int64
	BestPayable domain.Fen
}

// Errors of promotions at checkout.
var (
	ErrCouponNotHeld = domain.E(domain.KindNotFound, "coupon_not_found",
		"You do not hold this coupon, or it has been used.")
	ErrCampaignLimit = domain.E(domain.KindConflict, "campaign_limit_reached",
		"You cannot buy that many at the campaign price.")
)

// offers is what Promotions said for one checkout, read before its
// transaction opens (Promotions reads on its own connections; the placed
// handlers then take what was offered with conditional updates, so a stale
// offer is refused, never honoured twice).
//
// Membership's benefits are read the same way, for the same reason: a
// placing transaction that waited on a second pooled connection would
// starve the pool under a flash sale.
type offers struct {
	prices map[int64]CampaignPrice
	held   []pricing.Coupon
	bad    []pricing.CouponProblem

	member       *pricing.Member // nil: not a member
	memberPrices map[int64]domain.Fen
	points       pricing.Points
}

// offers asks Promotions about the checkout's lines (read by the caller,
// outside any transaction; linesErr: they could not be, and the quote will
// say why) and the shopper's coupons, and Membership about their benefits.
func (s *Service) offers(ctx context.Context, in PlaceInput, lines []LineRequest, linesErr error, preview bool, now time.Time) (offers, error) {
	var o offers
	if s.Promotions == nil && (s.Membership == nil || in.ShopperID <= 0) {
		return o, nil
	}
	if linesErr != nil {
		return o, nil // the quote reports it (and a replayed placement never gets there)
	}
	var err error
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.SKUID
	}
	if s.Membership != nil && in.ShopperID > 0 && in.Points >= 0 {
		if o.member, o.memberPrices, o.points, err = s.Membership.Benefits(ctx, in.ShopperID, ids, in.Points); err != nil {
			return o, err
		}
	}
	if s.Promotions == nil {
		return o, nil
	}
	if o.member != nil {
		boost, err := s.Promotions.MemberDayBoost(ctx, now)
		if err != nil {
			return o, err
		}
		m := o.member.Boosted(boost)
		o.member = &m
	}
	if o.prices, err = s.Promotions.CampaignPrices(ctx, in.ShopperID, ids, now); err != nil {
		return o, err
	}
	if in.ShopperID > 0 && (len(in.CouponIDs) > 0 || preview) {
		if o.held, o.bad, err = s.Promotions.Coupons(ctx, in.ShopperID, now); err != nil {
			return o, err
		}
	}
	return o, nil
}

// campaignPrices sets the lines' campaign prices: a line takes the price
// when the allotment has all its units left; a shopper asking for more than
// their limit allows is refused (never silently charged the list price).
func (o offers) campaignPrices(lines []pricing.Line) error {
	for i := range lines {
		cp, ok := o.prices[lines[i].SKUID]
		if !ok || cp.Left < lines[i].Quantity {
			continue
		}
		if cp.ShopperLeft >= 0 && cp.ShopperLeft < lines[i].Quantity {
			return ErrCampaignLimit.WithMessage("You can buy %d more at the campaign price.", cp.ShopperLeft).
				WithDetails(StockProblem{SKUID: lines[i].SKUID, Requested: lines[i].Quantity, Available: cp.ShopperLeft})
		}
		p := cp.Price
		lines[i].CampaignPrice, lines[i].CampaignID = &p, cp.CampaignID
	}
	return nil
}

// coupons resolves the coupons the checkout names among those the shopper
// holds, and for a preview also returns the options (pin without coupons).
func (s *Service) coupons(o offers, in PlaceInput, pin pricing.Input, preview bool) ([]pricing.Coupon, *CouponOptions, error) {
	if s.Promotions == nil || in.ShopperID <= 0 {
		if len(in.CouponIDs) > 0 {
			return nil, nil, ErrCouponsUnavail
		}
		return nil, nil, nil
	}
	var chosen []pricing.Coupon
	for _, id := range in.CouponIDs {
		if k := slices.IndexFunc(o.held, func(c pricing.Coupon) bool { return c.ID == id }); k >= 0 {
			chosen = append(chosen, o.held[k])
			continue
		}
		if k := slices.IndexFunc(o.bad, func(p pricing.CouponProblem) bool { return p.CouponID == id }); k >= 0 {
			return nil, nil, pricing.ErrCouponNotApplicable.WithMessage("%s", o.bad[k].Message).WithDetails(o.bad[k])
		}
		return nil, nil, ErrCouponNotHeld.WithDetails(pricing.CouponProblem{CouponID: id, Reason: "coupon_not_found",
			Message: "You do not hold this coupon, or it has been used."})
	}
	if !preview {
		return chosen, nil, nil
	}
	pin.Coupons = nil
	ch, err := s.engine().BestCoupons(pin, o.held)
	if err != nil {
		return nil, nil, err
	}
	opts := &CouponOptions{Usable: ch.Eligible, Unusable: append(ch.Ineligible, o.bad...), BestPayable: ch.Breakdown.Payable}
	for _, c := range ch.Coupons {
		opts.Best = append(opts.Best, c.ID)
	}
	return chosen, opts, nil
}
