package coupon_test

import (
	"errors"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/pricing"
)

var now = time.Date(2025, 6, 18, 12, 0, 0, 0, domain.Shanghai)

// held is a coupon of template t issued an hour ago under t's validity.
func held(id int64, t coupon.Template) coupon.Coupon {
	from, until := t.Validity(now.Add(-time.Hour))
	return coupon.Coupon{ID: id, TemplateID: 1, Status: coupon.CouponUsable, ValidFrom: from, ValidUntil: until, Template: t}
}

func fen(f domain.Fen) *domain.Fen { return &f }

// Lines: tea (product 10, category 100) 2 × 50.00, cups (product 20,
// category 200, a subcategory of 2) 1 × 30.00, a flash-sale kettle (product
// 30, category 100) 1 × 40.00 at a campaign price of 25.00.
func lines() []pricing.Line {
	return []pricing.Line{
		{SKUID: 1, ProductID: 10, CategoryID: 100, Quantity: 2, UnitPrice: 5000},
		{SKUID: 2, ProductID: 20, CategoryID: 200, Quantity: 1, UnitPrice: 3000},
		{SKUID: 3, ProductID: 30, CategoryID: 100, Quantity: 1, UnitPrice: 4000, CampaignPrice: fen(2500), CampaignID: 7},
	}
}

func price(t *testing.T, ls []pricing.Line, cs ...coupon.Coupon) (pricing.Breakdown, error) {
	t.Helper()
	in := pricing.Input{Lines: ls, Fulfillment: pricing.Fulfillment{Type: pricing.Pickup}, Now: now}
	for _, c := range cs {
		in.Coupons = append(in.Coupons, c.Pricing(false))
	}
	return pricing.Price(in)
}

// Every coupon kind and scope: what it takes off, from which lines, and
// why it cannot be used when it cannot. Amounts in scope: tea 10000, cups
// 3000, kettle 2500 (campaign-priced); all 15500, all but the kettle 13000.
func TestCouponEligibilityAndDiscount(t *testing.T) {
	all := pricing.Scope{Kind: pricing.ScopeAll}
	week := coupon.Template{ValidDays: 7}
	tpl := func(k pricing.CouponKind, threshold, off domain.Fen, bp int64, cap domain.Fen, s pricing.Scope, stacks bool) coupon.Template {
		t := week
		t.Kind, t.Threshold, t.AmountOff, t.PercentOffBP, t.MaxOff, t.Scope, t.StacksWithCampaign = k, threshold, off, bp, cap, s, stacks
		return t
	}
	amount := func(threshold, off domain.Fen, s pricing.Scope, stacks bool) coupon.Template {
		return tpl(pricing.CouponAmountOff, threshold, off, 0, 0, s, stacks)
	}
	percent := func(threshold domain.Fen, bp int64, cap domain.Fen, s pricing.Scope, stacks bool) coupon.Template {
		return tpl(pricing.CouponPercentOff, threshold, 0, bp, cap, s, stacks)
	}
	free := func(off domain.Fen, s pricing.Scope, stacks bool) coupon.Template {
		return tpl(pricing.CouponNoThreshold, 0, off, 0, 0, s, stacks)
	}
	cats := func(ids ...int64) pricing.Scope { return pricing.Scope{Kind: pricing.ScopeCategories, IDs: ids} }
	prods := func(ids ...int64) pricing.Scope { return pricing.Scope{Kind: pricing.ScopeProducts, IDs: ids} }
	// Category 2 with its subcategory 200, as the store widens it.
	sub := pricing.Scope{Kind: pricing.ScopeCategories, IDs: []int64{2, 200}}
	expired := amount(0, 100, all, true)
	expired.ValidDays, expired.ValidFrom, expired.ValidUntil = 0, now.Add(-48*time.Hour), now
	later := amount(0, 100, all, true)
	later.ValidDays, later.ValidFrom, later.ValidUntil = 0, now.Add(time.Minute), now.Add(48*time.Hour)

	cases := []struct {
		name   string
		t      coupon.Template
		off    domain.Fen
		byLine []domain.Fen // coupon part of each line
		reason pricing.Reason
		short  domain.Fen
	}{
		{"amount off: exactly at the threshold", amount(13000, 1000, all, false), 1000, []domain.Fen{769, 231, 0}, "", 0},
		{"amount off: one fen below", amount(13001, 1000, all, false), 0, nil, pricing.ReasonBelowThreshold, 1},
		{"amount off stacking with campaign: kettle counts", amount(15500, 1000, all, true), 1000, []domain.Fen{645, 194, 161}, "", 0},
		{"amount off stacking: one fen below", amount(15501, 1000, all, true), 0, nil, pricing.ReasonBelowThreshold, 1},
		{"amount off on a category", amount(10000, 500, cats(100), false), 500, []domain.Fen{500, 0, 0}, "", 0},
		{"amount off on a subcategory through its parent", amount(3000, 300, sub, false), 300, []domain.Fen{0, 300, 0}, "", 0},
		{"amount off on products", amount(0, 700, prods(10, 20), false), 700, []domain.Fen{538, 162, 0}, "", 0},
		{"amount off, all but an excluded product", amount(3000, 200, pricing.Scope{Kind: pricing.ScopeAll, Excluded: []int64{10}}, false), 200, []domain.Fen{0, 200, 0}, "", 0},
		{"excluded is out of scope", amount(0, 200, pricing.Scope{Kind: pricing.ScopeProducts, IDs: []int64{10}, Excluded: []int64{10}}, false), 0, nil, pricing.ReasonOutOfScope, 0},
		{"out of scope", amount(0, 200, prods(99), false), 0, nil, pricing.ReasonOutOfScope, 0},
		{"only campaign lines in scope, not stacking", amount(0, 200, prods(30), false), 0, nil, pricing.ReasonNotWithCampaign, 0},
		{"only campaign lines in scope, stacking", amount(0, 200, prods(30), true), 200, []domain.Fen{0, 0, 200}, "", 0},
		{"amount off larger than the scope is capped at it", free(5000, prods(20), false), 3000, []domain.Fen{0, 3000, 0}, "", 0},
		{"percent off, no cap", percent(0, 1000, 0, all, false), 1300, []domain.Fen{1000, 300, 0}, "", 0},
		{"percent off, cap binds", percent(0, 1000, 999, all, false), 999, []domain.Fen{768, 231, 0}, "", 0},
		{"percent off, cap exactly the discount", percent(0, 1000, 1300, all, false), 1300, []domain.Fen{1000, 300, 0}, "", 0},
		{"percent off at its threshold", percent(3000, 1500, 0, prods(20), false), 450, []domain.Fen{0, 450, 0}, "", 0},
		{"percent off below its threshold", percent(3001, 1500, 0, prods(20), false), 0, nil, pricing.ReasonBelowThreshold, 1},
		{"percent off rounds half up", percent(0, 1, 0, prods(20), false), 0, []domain.Fen{0, 0, 0}, "", 0},
		{"percent off of 50.00 at 0.01%", percent(0, 1, 0, prods(10), false), 1, []domain.Fen{1, 0, 0}, "", 0},
		{"no threshold", free(100, all, false), 100, []domain.Fen{77, 23, 0}, "", 0},
		{"no threshold stacking with campaign", free(100, all, true), 100, []domain.Fen{65, 19, 16}, "", 0},
		{"expired at its end", expired, 0, nil, pricing.ReasonExpired, 0},
		{"not started", later, 0, nil, pricing.ReasonNotStarted, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := price(t, lines(), held(5, c.t))
			if c.reason != "" {
				var de *domain.Error
				if !errors.As(err, &de) || !errors.Is(err, pricing.ErrCouponNotApplicable) {
					t.Fatalf("want %s, got %v", c.reason, err)
				}
				p := de.Details.(pricing.CouponProblem)
				if p.Reason != c.reason || p.Short != c.short || p.CouponID != 5 || p.Message == "" {
					t.Fatalf("problem %+v, want %s short %d", p, c.reason, c.short)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.DiscountBy(pricing.SourceCoupon); got != c.off {
				t.Fatalf("coupon took %d, want %d", got, c.off)
			}
			for i, l := range b.Lines {
				if got := l.DiscountBy(pricing.SourceCoupon); got != c.byLine[i] {
					t.Fatalf("line %d: coupon took %d, want %d (%+v)", i, got, c.byLine[i], b.Lines)
				}
			}
			if b.Lines[2].DiscountBy(pricing.SourceCampaign) != 1500 {
				t.Fatalf("campaign discount changed: %+v", b.Lines[2])
			}
		})
	}
}

// One coupon per order by default; the brand's one-per-kind setting lets
// coupons of different kinds stack, never two of one kind.
func TestCouponStacking(t *testing.T) {
	a := held(1, coupon.Template{Kind: pricing.CouponNoThreshold, AmountOff: 100, ValidDays: 1, Scope: pricing.Scope{Kind: pricing.ScopeAll}})
	b := held(2, coupon.Template{Kind: pricing.CouponPercentOff, PercentOffBP: 1000, ValidDays: 1, Scope: pricing.Scope{Kind: pricing.ScopeAll}})
	if _, err := price(t, lines(), a, b); !errors.Is(err, pricing.ErrCouponsNotStackable) {
		t.Fatalf("two coupons by default: %v", err)
	}
	in := pricing.Input{Lines: lines(), Fulfillment: pricing.Fulfillment{Type: pricing.Pickup}, Now: now,
		Coupons: []pricing.Coupon{a.Pricing(true), b.Pricing(true)}}
	bd, err := pricing.Price(in)
	if err != nil {
		t.Fatal(err)
	}
	// Percent first (10% of 13000 = 1300), then 100 off: 1400.
	if got := bd.DiscountBy(pricing.SourceCoupon); got != 1400 {
		t.Fatalf("stacked: %d", got)
	}
	ch, err := pricing.BestCoupons(pricing.Input{Lines: lines(), Fulfillment: pricing.Fulfillment{Type: pricing.Pickup}, Now: now},
		[]pricing.Coupon{a.Pricing(false), b.Pricing(false)})
	if err != nil || len(ch.Coupons) != 1 || ch.Coupons[0].ID != 2 {
		t.Fatalf("best single coupon: %+v %v", ch.Coupons, err)
	}
	c := held(3, coupon.Template{Kind: pricing.CouponNoThreshold, AmountOff: 200, ValidDays: 1, Scope: pricing.Scope{Kind: pricing.ScopeAll}})
	in.Coupons = []pricing.Coupon{a.Pricing(true), c.Pricing(true)}
	if _, err := pricing.Price(in); !errors.Is(err, pricing.ErrCouponsNotStackable) {
		t.Fatalf("two no-threshold coupons with one per kind: %v", err)
	}
	ch, err = pricing.BestCoupons(pricing.Input{Lines: lines(), Fulfillment: pricing.Fulfillment{Type: pricing.Pickup}, Now: now},
		[]pricing.Coupon{a.Pricing(true), b.Pricing(true), c.Pricing(true)})
	if err != nil || len(ch.Coupons) != 2 || ch.Coupons[0].ID != 2 || ch.Coupons[1].ID != 3 {
		t.Fatalf("best one per kind: %+v %v", ch.Coupons, err)
	}
}

func TestTemplateValidityAndPhases(t *testing.T) {
	issued := now
	if f, u := (coupon.Template{ValidDays: 3}).Validity(issued); !f.Equal(issued) || !u.Equal(issued.Add(72*time.Hour)) {
		t.Fatalf("3 days from claim: %v %v", f, u)
	}
	fixed := coupon.Template{ValidFrom: now.Add(time.Hour), ValidUntil: now.Add(2 * time.Hour)}
	if f, u := fixed.Validity(issued); !f.Equal(fixed.ValidFrom) || !u.Equal(fixed.ValidUntil) {
		t.Fatalf("fixed window: %v %v", f, u)
	}
	if f, _ := (coupon.Template{ValidUntil: now.Add(time.Hour)}).Validity(issued); !f.Equal(issued) {
		t.Fatalf("open start: %v", f)
	}
	base := coupon.Template{Status: coupon.StatusActive, Claimable: true, ValidDays: 1, Total: 10}
	with := func(f func(*coupon.Template)) coupon.Template { t := base; f(&t); return t }
	cases := []struct {
		t    coupon.Template
		want coupon.Phase
	}{
		{base, coupon.PhaseClaimable},
		{with(func(t *coupon.Template) { t.Status = coupon.StatusPaused }), coupon.PhaseHidden},
		{with(func(t *coupon.Template) { t.Claimable = false }), coupon.PhaseHidden},
		{with(func(t *coupon.Template) { t.VisibleFrom = now.Add(time.Second) }), coupon.PhaseHidden},
		{with(func(t *coupon.Template) { t.VisibleFrom, t.ClaimFrom = now, now.Add(time.Second) }), coupon.PhaseUpcoming},
		{with(func(t *coupon.Template) { t.VisibleFrom, t.ClaimFrom = now.Add(-time.Hour), now }), coupon.PhaseClaimable},
		{with(func(t *coupon.Template) { t.ClaimUntil = now }), coupon.PhaseOver},
		{with(func(t *coupon.Template) { t.ValidDays, t.ValidUntil = 0, now }), coupon.PhaseOver},
		{with(func(t *coupon.Template) { t.Issued = 10 }), coupon.PhaseSoldOut},
	}
	for i, c := range cases {
		if got := c.t.PhaseAt(now); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

func TestAudience(t *testing.T) {
	cases := []struct {
		t    coupon.Template
		f    coupon.Facts
		want bool
	}{
		{coupon.Template{Audience: coupon.AudienceAll}, coupon.Facts{}, true},
		{coupon.Template{Audience: coupon.AudienceNewCustomers}, coupon.Facts{}, true},
		{coupon.Template{Audience: coupon.AudienceNewCustomers}, coupon.Facts{HasPaidOrder: true}, false},
		{coupon.Template{Audience: coupon.AudienceTier, AudienceTier: 2}, coupon.Facts{}, false}, // no card
		{coupon.Template{Audience: coupon.AudienceTier, AudienceTier: 2}, coupon.Facts{Tiers: []int64{1}}, false},
		{coupon.Template{Audience: coupon.AudienceTier, AudienceTier: 2}, coupon.Facts{Tiers: []int64{1, 2}}, true},
		{coupon.Template{Audience: coupon.AudienceTier, AudienceTier: 2}, coupon.Facts{Tiers: []int64{1, 2, 3}}, true},
		{coupon.Template{Audience: coupon.AudienceTouchpoint, AudienceTouchpoint: 9}, coupon.Facts{}, false},
		{coupon.Template{Audience: coupon.AudienceTouchpoint, AudienceTouchpoint: 9}, coupon.Facts{VisitedTouchpoint: true}, true},
	}
	for i, c := range cases {
		if got, why := c.t.Admits(c.f); got != c.want || (!got && why == "") {
			t.Errorf("case %d: %v %q", i, got, why)
		}
	}
}

func TestStatusChanges(t *testing.T) {
	ok := map[[2]coupon.Status]bool{
		{coupon.StatusDraft, coupon.StatusActive}: true, {coupon.StatusDraft, coupon.StatusEnded}: true,
		{coupon.StatusActive, coupon.StatusPaused}: true, {coupon.StatusActive, coupon.StatusEnded}: true,
		{coupon.StatusPaused, coupon.StatusActive}: true, {coupon.StatusPaused, coupon.StatusEnded}: true,
	}
	all := []coupon.Status{coupon.StatusDraft, coupon.StatusActive, coupon.StatusPaused, coupon.StatusEnded}
	for _, a := range all {
		for _, b := range all {
			if got := a.CanBecome(b); got != ok[[2]coupon.Status{a, b}] {
				t.Errorf("%s → %s: %v", a, b, got)
			}
		}
	}
}

func TestTemplateValidation(t *testing.T) {
	good := coupon.Template{Name: "x", Kind: pricing.CouponAmountOff, Threshold: 1000, AmountOff: 100, ValidDays: 7, Total: 10,
		PerShopper: 1, Audience: coupon.AudienceAll, Scope: pricing.Scope{Kind: pricing.ScopeAll}, Status: coupon.StatusDraft}
	if fs := good.Validate(); len(fs) != 0 {
		t.Fatalf("good: %v", fs)
	}
	cases := map[string]func(*coupon.Template){
		"amount_off_fen": func(t *coupon.Template) { t.AmountOff = 1001 },
		"kind":           func(t *coupon.Template) { t.Kind = "bogus" },
		"percent_off_bp": func(t *coupon.Template) { t.Kind, t.AmountOff, t.PercentOffBP = pricing.CouponPercentOff, 0, 10000 },
		"threshold_fen":  func(t *coupon.Template) { t.Kind, t.Threshold = pricing.CouponNoThreshold, 5 },
		"valid_until":    func(t *coupon.Template) { t.ValidDays = 0 },
		"valid_days":     func(t *coupon.Template) { t.ValidUntil = now },
		"scope.ids":      func(t *coupon.Template) { t.Scope.Kind = pricing.ScopeCategories },
		"total":          func(t *coupon.Template) { t.Issued = 11 },
		"per_shopper":    func(t *coupon.Template) { t.PerShopper = 0 },
		"audience_tier":  func(t *coupon.Template) { t.Audience = coupon.AudienceTier },
		"claim_until":    func(t *coupon.Template) { t.ClaimFrom, t.ClaimUntil = now, now },
	}
	for field, f := range cases {
		tpl := good
		f(&tpl)
		fs := tpl.Validate()
		found := false
		for _, e := range fs {
			found = found || e.Field == field
		}
		if !found {
			t.Errorf("%s: not reported in %v", field, fs)
		}
	}
}
