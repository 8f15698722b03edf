package pricing

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/yutang/yutang/domain"
)

// CouponKind is how a coupon computes its discount.
type CouponKind string

// The coupon kinds.
const (
	// CouponAmountOff (满减) takes AmountOff off when the scope amount is at
	// least Threshold.
	CouponAmountOff CouponKind = "amount_off"
	// CouponPercentOff (折扣) takes PercentOffBP of the scope amount off, at
	// most MaxOff (0: no cap), when the scope amount is at least Threshold
	// (0: no threshold).
	CouponPercentOff CouponKind = "percent_off"
	// CouponNoThreshold (无门槛) takes AmountOff off whatever the amount.
	CouponNoThreshold CouponKind = "no_threshold"
)

// ScopeKind says which lines a coupon applies to.
type ScopeKind string

// The scope kinds. The zero ScopeKind is ScopeAll.
const (
	ScopeAll        ScopeKind = "all"
	ScopeCategories ScopeKind = "categories" // lines whose CategoryID is in IDs
	ScopeProducts   ScopeKind = "products"   // lines whose ProductID is in IDs
)

// Scope is the set of lines a coupon applies to: those of its kind, minus
// the lines whose ProductID is in Excluded.
type Scope struct {
	Kind     ScopeKind
	IDs      []int64
	Excluded []int64
}

// Contains reports whether l is in the scope.
func (s Scope) Contains(l Line) bool {
	if slices.Contains(s.Excluded, l.ProductID) {
		return false
	}
	switch s.Kind {
	case ScopeAll, "":
		return true
	case ScopeCategories:
		return slices.Contains(s.IDs, l.CategoryID)
	case ScopeProducts:
		return slices.Contains(s.IDs, l.ProductID)
	}
	return false
}

// Coupon is a coupon the shopper holds, with the rules of its template.
type Coupon struct {
	ID           int64
	Kind         CouponKind
	Threshold    domain.Fen // minimum scope amount, for amount_off and percent_off
	AmountOff    domain.Fen // amount_off, no_threshold
	PercentOffBP int64      // percent_off: share taken off, 2000 = 20% off (8折)
	MaxOff       domain.Fen // percent_off: the cap, 0 for none
	Scope        Scope
	// The coupon is valid for ValidFrom ≤ Now < ValidUntil; a zero time
	// leaves that side open.
	ValidFrom  time.Time
	ValidUntil time.Time
	// Stackable coupons may be used together, at most one of each Kind (the
	// brand's "one coupon per kind" setting); a coupon that is not
	// stackable must be the only coupon on its order.
	Stackable bool
	// NotWithCampaign keeps the coupon off lines a campaign price lowered:
	// they are out of its scope (and a coupon whose scope holds only such
	// lines cannot be used: ReasonNotWithCampaign).
	NotWithCampaign bool
}

// applies reports whether the coupon applies to line l: in its scope, and
// not campaign-priced when it does not stack with campaign prices.
func (c Coupon) applies(l Line) bool {
	return c.Scope.Contains(l) && !(c.NotWithCampaign && l.campaignLowered())
}

// campaignLowered reports whether the campaign stage lowers the line.
func (l Line) campaignLowered() bool {
	return l.CampaignPrice != nil && *l.CampaignPrice < l.UnitPrice
}

// Reason is why a coupon cannot be used, as a stable snake_case code.
type Reason string

// The reasons a coupon cannot be used.
const (
	ReasonInvalid        Reason = "coupon_invalid"         // its rules make no sense (a bug in the template)
	ReasonNotStarted     Reason = "coupon_not_started"     // Now is before ValidFrom
	ReasonExpired        Reason = "coupon_expired"         // Now is at or after ValidUntil
	ReasonOutOfScope     Reason = "coupon_out_of_scope"    // no line of the order is in its scope
	ReasonBelowThreshold Reason = "coupon_below_threshold" // the scope amount is below its threshold
	ReasonNotStackable   Reason = "coupon_not_stackable"   // it cannot be combined with the other coupons
	// ReasonNotWithCampaign: its scope holds only campaign-priced lines and
	// it does not stack with campaign prices.
	ReasonNotWithCampaign Reason = "coupon_not_with_campaign"
	// ReasonAudience: the shopper is no longer in its audience (a new
	// customers' coupon after a first paid order …); decided by the coupon
	// area, not by pricing.
	ReasonAudience Reason = "coupon_audience"
)

// CouponProblem says why one coupon cannot be used: the Details of
// ErrCouponNotApplicable, and an entry of Choice.Ineligible. Short is, for
// ReasonBelowThreshold, how much more the shopper must spend in scope.
type CouponProblem struct {
	CouponID int64
	Reason   Reason
	Message  string
	Short    domain.Fen
}

// Validate checks the coupon's own rules.
func (c Coupon) Validate() error {
	ok := c.Threshold >= 0 && c.AmountOff >= 0 && c.MaxOff >= 0
	switch c.Kind {
	case CouponAmountOff, CouponNoThreshold:
		ok = ok && c.AmountOff > 0
	case CouponPercentOff:
		ok = ok && c.PercentOffBP > 0 && c.PercentOffBP <= 10000
	default:
		ok = false
	}
	switch c.Scope.Kind {
	case ScopeAll, "", ScopeCategories, ScopeProducts:
	default:
		ok = false
	}
	if !c.ValidFrom.IsZero() && !c.ValidUntil.IsZero() && !c.ValidFrom.Before(c.ValidUntil) {
		ok = false
	}
	if !ok {
		return ErrCouponNotApplicable.WithMessage("Coupon %d is not set up correctly.", c.ID).
			WithDetails(CouponProblem{CouponID: c.ID, Reason: ReasonInvalid, Message: "This coupon is not set up correctly."})
	}
	return nil
}

// threshold is the scope amount the coupon needs.
func (c Coupon) threshold() domain.Fen {
	if c.Kind == CouponNoThreshold {
		return 0
	}
	return c.Threshold
}

// check says whether c may apply to lines whose in-scope amount is
// scopeAmount with hasScope lines in scope, at now.
func (c Coupon) check(now time.Time, hasScope bool, scopeAmount domain.Fen) *CouponProblem {
	p := func(r Reason, msg string) *CouponProblem {
		return &CouponProblem{CouponID: c.ID, Reason: r, Message: msg}
	}
	if err := c.Validate(); err != nil {
		return p(ReasonInvalid, "This coupon is not set up correctly.")
	}
	if !c.ValidFrom.IsZero() && now.Before(c.ValidFrom) {
		return p(ReasonNotStarted, "This coupon can be used from "+c.ValidFrom.In(domain.Shanghai).Format("2006-01-02 15:04")+".")
	}
	if !c.ValidUntil.IsZero() && !now.Before(c.ValidUntil) {
		return p(ReasonExpired, "This coupon has expired.")
	}
	if !hasScope {
		return p(ReasonOutOfScope, "No item in this order can use this coupon.")
	}
	if t := c.threshold(); scopeAmount < t {
		pr := p(ReasonBelowThreshold, fmt.Sprintf("Spend ¥%s on eligible items to use this coupon (¥%s more).",
			t.Yuan(), (t-scopeAmount).Yuan()))
		pr.Short = t - scopeAmount
		return pr
	}
	return nil
}

// discount is what c takes off an in-scope running amount.
func (c Coupon) discount(amount domain.Fen) domain.Fen {
	var d domain.Fen
	switch c.Kind {
	case CouponAmountOff, CouponNoThreshold:
		d = c.AmountOff
	case CouponPercentOff:
		d = amount.MulBasisPoints(c.PercentOffBP)
		if c.MaxOff > 0 {
			d = min(d, c.MaxOff)
		}
	}
	return max(0, min(d, amount))
}

func kindRank(k CouponKind) int {
	switch k {
	case CouponPercentOff:
		return 0
	case CouponAmountOff:
		return 1
	}
	return 2
}

// CouponStage applies Input.Coupons. At most one coupon per order unless
// every coupon is stackable, and then at most one of each kind. Each coupon's threshold is checked against its
// scope amount as it enters this stage (after campaign and member prices,
// before any coupon), and any coupon that does not qualify fails the whole
// price with ErrCouponNotApplicable (details: CouponProblem). The coupons
// then apply in a fixed order whatever the order they were listed in:
// percent-off first, then amount-off, then no-threshold, ties by ID; each
// discount is computed on, capped by and spread across the running amounts
// of the lines in its scope.
type CouponStage struct{}

// Name implements Stage.
func (CouponStage) Name() string { return "coupon" }

// Apply implements Stage.
func (CouponStage) Apply(s *State) error {
	cs := slices.Clone(s.Input.Coupons)
	if len(cs) == 0 {
		return nil
	}
	seen := map[int64]bool{}
	for _, c := range cs {
		if seen[c.ID] {
			return ErrDuplicateCoupon.WithMessage("Coupon %d is listed twice.", c.ID)
		}
		seen[c.ID] = true
	}
	if len(cs) > 1 {
		kinds := map[CouponKind]bool{}
		for _, c := range cs {
			if !c.Stackable {
				return ErrCouponsNotStackable.WithMessage("Coupon %d cannot be combined with other coupons.", c.ID).
					WithDetails(CouponProblem{CouponID: c.ID, Reason: ReasonNotStackable,
						Message: "This coupon cannot be combined with other coupons."})
			}
			if kinds[c.Kind] {
				return ErrCouponsNotStackable.WithMessage("Coupon %d is a second coupon of its kind.", c.ID).
					WithDetails(CouponProblem{CouponID: c.ID, Reason: ReasonNotStackable,
						Message: "Only one coupon of each kind can be used on an order."})
			}
			kinds[c.Kind] = true
		}
	}
	for _, c := range cs {
		has, campaignOnly, amt := false, false, domain.Fen(0)
		for _, l := range s.Lines {
			if c.applies(l.Line) {
				has = true
				amt += l.Amount
			} else if c.Scope.Contains(l.Line) {
				campaignOnly = true
			}
		}
		p := c.check(s.Input.Now, has, amt)
		if p != nil && p.Reason == ReasonOutOfScope && campaignOnly {
			p = &CouponProblem{CouponID: c.ID, Reason: ReasonNotWithCampaign,
				Message: "This coupon cannot be used on items already at a campaign price."}
		}
		if p != nil {
			return ErrCouponNotApplicable.WithMessage("%s", p.Message).WithDetails(*p)
		}
	}
	slices.SortFunc(cs, func(a, b Coupon) int {
		return cmp.Or(cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), cmp.Compare(a.ID, b.ID))
	})
	for _, c := range cs {
		var amt domain.Fen
		for _, l := range s.Lines {
			if c.applies(l.Line) {
				amt += l.Amount
			}
		}
		if _, err := s.Spread(SourceCoupon, c.ID, c.discount(amt), c.applies); err != nil {
			return err
		}
	}
	return nil
}
