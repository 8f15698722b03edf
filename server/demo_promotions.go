package main

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/pricing"
)

// loadDemoPromotions gives a fresh mall something to show in the coupon
// centre, on the membership card and in the KOC programme: two coupons
// (满减 and 折扣) active now and a drop pre-heating for tomorrow, silver and
// gold tiers, two top-up packages and a KOC level. Each is created once, by
// name, through the areas' own services (audited as the system).
func (a *app) loadDemoPromotions(ctx context.Context) error {
	by := domain.System
	now := a.now()
	tpls, _, err := a.svc.Coupons.Templates(ctx, "", domain.Page{Limit: 100})
	if err != nil {
		return fmt.Errorf("demo: coupon templates: %w", err)
	}
	haveTpl := map[string]bool{}
	for _, t := range tpls {
		haveTpl[t.Name] = true
	}
	day := 24 * time.Hour
	for _, t := range []coupon.Template{
		{Name: "满199减30", Kind: pricing.CouponAmountOff, Threshold: 19900, AmountOff: 3000, ValidDays: 30,
			Total: 10000, PerShopper: 1, Audience: coupon.AudienceAll, Claimable: true, Status: coupon.StatusActive},
		{Name: "新人9折券", Description: "新客专享，最高减50元", Kind: pricing.CouponPercentOff, PercentOffBP: 1000, MaxOff: 5000,
			ValidDays: 14, Total: 5000, PerShopper: 1, Audience: coupon.AudienceNewCustomers, Claimable: true, Status: coupon.StatusActive},
		{Name: "双12预热 满299减60", Kind: pricing.CouponAmountOff, Threshold: 29900, AmountOff: 6000, ValidDays: 7,
			Total: 2000, PerShopper: 1, Audience: coupon.AudienceAll, Claimable: true, VisibleFrom: now,
			ClaimFrom: now.Add(day).Truncate(time.Hour), Status: coupon.StatusActive},
	} {
		if haveTpl[t.Name] {
			continue
		}
		if _, err := a.svc.Coupons.CreateTemplate(ctx, by, "demo", t); err != nil {
			return fmt.Errorf("demo: coupon template %s: %w", t.Name, err)
		}
	}

	tiers, err := a.svc.Members.Tiers(ctx)
	if err != nil {
		return fmt.Errorf("demo: tiers: %w", err)
	}
	haveTier := map[string]bool{}
	for _, t := range tiers {
		haveTier[t.Name] = true
	}
	for _, t := range []member.Tier{
		{Name: "银卡", Threshold: 1000, DiscountBP: 300, MultiplierBP: 12000},
		{Name: "金卡", Threshold: 5000, DiscountBP: 800, MultiplierBP: 15000, FreeShipping: true},
	} {
		if haveTier[t.Name] {
			continue
		}
		if _, err := a.svc.Members.SaveTier(ctx, by, "demo", t); err != nil {
			return fmt.Errorf("demo: tier %s: %w", t.Name, err)
		}
	}
	pkgs, _, err := a.svc.Members.Packages(ctx, false, domain.Page{Limit: 100})
	if err != nil {
		return fmt.Errorf("demo: top-up packages: %w", err)
	}
	havePkg := map[string]bool{}
	for _, p := range pkgs {
		havePkg[p.Name] = true
	}
	for _, p := range []member.Package{
		{Name: "充500送50", Pay: 50000, Bonus: 5000, Active: true},
		{Name: "充1000送150", Pay: 100000, Bonus: 15000, Active: true},
	} {
		if havePkg[p.Name] {
			continue
		}
		if _, err := a.svc.Members.CreatePackage(ctx, by, "demo", p); err != nil {
			return fmt.Errorf("demo: top-up package %s: %w", p.Name, err)
		}
	}

	levels, err := a.svc.KOC.Levels(ctx)
	if err != nil {
		return fmt.Errorf("demo: KOC levels: %w", err)
	}
	for _, l := range levels {
		if l.Name == "推广达人" {
			return nil
		}
	}
	if _, err := a.svc.KOC.SaveLevel(ctx, by, "demo", commission.Level{Name: "推广达人", RateBP: 800, OverrideBP: 200}); err != nil {
		return fmt.Errorf("demo: KOC level: %w", err)
	}
	return nil
}
