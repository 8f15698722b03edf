// Package coupon is the brand's coupons: templates merchandisers design, the
// coupons shoppers hold (claimed in the coupon centre, redeemed from a code,
// issued in bulk or handed out by a clerk from a budget), and how a held
// coupon becomes a pricing.Coupon at checkout.
//
// The rules are pure functions on Template and Coupon (validation, validity
// from a claim, the coupon centre's phases, audience, status changes); the
// use cases are Service's methods. Every limit (total, per shopper, a code
// used once, a budget, one live order per coupon) is held by the store with
// conditional updates and unique constraints, never by reading first.
//
// A coupon's life on an order is driven by the order's lifecycle (see
// order.Lifecycle): placed locks it (a redemption row, whose id the order's
// coupon adjustments name), paid uses it, cancelled or expired returns it
// while its validity lasts. A refund does not return it.
package coupon

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
)

// Status is a template's status: draft → active ⇄ paused → ended.
type Status string

// The template statuses.
const (
	StatusDraft  Status = "draft"
	StatusActive Status = "active"
	StatusPaused Status = "paused"
	StatusEnded  Status = "ended"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusDraft, StatusActive, StatusPaused, StatusEnded:
		return true
	}
	return false
}

// CanBecome reports whether a template may move from s to next.
func (s Status) CanBecome(next Status) bool {
	switch s {
	case StatusDraft:
		return next == StatusActive || next == StatusEnded
	case StatusActive:
		return next == StatusPaused || next == StatusEnded
	case StatusPaused:
		return next == StatusActive || next == StatusEnded
	}
	return false
}

// Audience is who may get a template's coupons.
type Audience string

// The audiences.
const (
	AudienceAll          Audience = "all"
	AudienceTier         Audience = "tier"          // members of tier AudienceTier (a member tier id) or above
	AudienceNewCustomers Audience = "new_customers" // no paid order yet
	AudienceTouchpoint   Audience = "touchpoint"    // arrived through AudienceTouchpoint (since AudienceSince)
)

// Template is a coupon design.
type Template struct {
	ID          int64
	Name        string
	Description string

	Kind         pricing.CouponKind
	Threshold    domain.Fen
	AmountOff    domain.Fen
	PercentOffBP int64
	MaxOff       domain.Fen
	Scope        pricing.Scope // category scopes include their subcategories

	// Validity: a fixed window [ValidFrom, ValidUntil) (ValidFrom zero: from
	// the claim), or ValidDays days from the claim.
	ValidFrom  time.Time
	ValidUntil time.Time
	ValidDays  int

	Total      int // how many may ever be issued
	Issued     int
	PerShopper int // claims and codes per shopper

	Audience           Audience
	AudienceTier       int
	AudienceTouchpoint int64
	AudienceSince      time.Time

	StacksWithCampaign bool

	// The coupon centre: Claimable templates are listed there, visible from
	// VisibleFrom (pre-heat), claimable from ClaimFrom (launch) until
	// ClaimUntil; zero times leave that side open.
	Claimable   bool
	VisibleFrom time.Time
	ClaimFrom   time.Time
	ClaimUntil  time.Time

	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits of a template.
const (
	MaxTotal      = 100_000_000
	MaxPerShopper = 100
	MaxValidDays  = 3650
	MaxScopeIDs   = 500
)

// Validate checks a template's fields, by their wire names.
func (t Template) Validate() []domain.FieldError {
	var fs []domain.FieldError
	bad := func(field, code, msg string) {
		fs = append(fs, domain.FieldError{Field: field, Code: code, Message: msg})
	}
	if n := utf8.RuneCountInString(t.Name); n < 1 || n > 100 {
		bad("name", "range", "must have 1 to 100 characters")
	}
	if utf8.RuneCountInString(t.Description) > 500 {
		bad("description", "max", "must have at most 500 characters")
	}
	if t.Threshold < 0 || t.Threshold > pricing.MaxUnitPrice {
		bad("threshold_fen", "range", "must be between 0 and 10000000000")
	}
	if t.MaxOff < 0 || t.MaxOff > pricing.MaxUnitPrice {
		bad("max_off_fen", "range", "must be between 0 and 10000000000")
	}
	switch t.Kind {
	case pricing.CouponAmountOff, pricing.CouponNoThreshold:
		if t.AmountOff < 1 || t.AmountOff > pricing.MaxUnitPrice {
			bad("amount_off_fen", "range", "must be between 1 and 10000000000")
		}
		if t.PercentOffBP != 0 {
			bad("percent_off_bp", "excluded", "is only for percent_off")
		}
		if t.Kind == pricing.CouponAmountOff && t.Threshold > 0 && t.AmountOff > t.Threshold {
			bad("amount_off_fen", "max", "must not exceed the threshold")
		}
		if t.Kind == pricing.CouponNoThreshold && t.Threshold != 0 {
			bad("threshold_fen", "excluded", "must be 0 for no_threshold")
		}
	case pricing.CouponPercentOff:
		if t.PercentOffBP < 1 || t.PercentOffBP > 9999 {
			bad("percent_off_bp", "range", "must be between 1 and 9999")
		}
		if t.AmountOff != 0 {
			bad("amount_off_fen", "excluded", "is not for percent_off")
		}
	default:
		bad("kind", "oneof", "must be one of: amount_off percent_off no_threshold")
	}
	switch t.Scope.Kind {
	case pricing.ScopeAll:
		if len(t.Scope.IDs) > 0 {
			bad("scope.ids", "excluded", "must be empty for scope all")
		}
	case pricing.ScopeCategories, pricing.ScopeProducts:
		if len(t.Scope.IDs) == 0 {
			bad("scope.ids", "required", "must list at least one id")
		}
	default:
		bad("scope.kind", "oneof", "must be one of: all categories products")
	}
	if len(t.Scope.IDs) > MaxScopeIDs || len(t.Scope.Excluded) > MaxScopeIDs {
		bad("scope", "max", fmt.Sprintf("at most %d ids", MaxScopeIDs))
	}
	for _, id := range append(append([]int64{}, t.Scope.IDs...), t.Scope.Excluded...) {
		if id <= 0 {
			bad("scope", "gt", "ids must be positive")
			break
		}
	}
	switch {
	case t.ValidDays != 0 && !t.ValidUntil.IsZero():
		bad("valid_days", "excluded_with", "send either valid_days or valid_until")
	case t.ValidDays == 0 && t.ValidUntil.IsZero():
		bad("valid_until", "required", "send valid_until or valid_days")
	case t.ValidDays < 0 || t.ValidDays > MaxValidDays:
		bad("valid_days", "range", fmt.Sprintf("must be between 1 and %d", MaxValidDays))
	case !t.ValidFrom.IsZero() && !t.ValidUntil.IsZero() && !t.ValidFrom.Before(t.ValidUntil):
		bad("valid_until", "gtfield", "must be after valid_from")
	case t.ValidDays != 0 && !t.ValidFrom.IsZero():
		bad("valid_from", "excluded_with", "is only for a fixed window")
	}
	if t.Total < 0 || t.Total > MaxTotal {
		bad("total", "range", fmt.Sprintf("must be between 0 and %d", MaxTotal))
	}
	if t.Total < t.Issued {
		bad("total", "min", fmt.Sprintf("must be at least the %d already issued", t.Issued))
	}
	if t.PerShopper < 1 || t.PerShopper > MaxPerShopper {
		bad("per_shopper", "range", fmt.Sprintf("must be between 1 and %d", MaxPerShopper))
	}
	switch t.Audience {
	case AudienceAll, AudienceNewCustomers:
	case AudienceTier:
		if t.AudienceTier < 1 {
			bad("audience_tier", "required", "is required for audience tier")
		}
	case AudienceTouchpoint:
		if t.AudienceTouchpoint < 1 {
			bad("audience_touchpoint_id", "required", "is required for audience touchpoint")
		}
	default:
		bad("audience", "oneof", "must be one of: all tier new_customers touchpoint")
	}
	if t.Audience != AudienceTier && t.AudienceTier != 0 {
		bad("audience_tier", "excluded", "is only for audience tier")
	}
	if t.Audience != AudienceTouchpoint && t.AudienceTouchpoint != 0 {
		bad("audience_touchpoint_id", "excluded", "is only for audience touchpoint")
	}
	if !t.VisibleFrom.IsZero() && !t.ClaimFrom.IsZero() && t.ClaimFrom.Before(t.VisibleFrom) {
		bad("claim_from", "gtefield", "must not be before visible_from")
	}
	if !t.ClaimFrom.IsZero() && !t.ClaimUntil.IsZero() && !t.ClaimFrom.Before(t.ClaimUntil) {
		bad("claim_until", "gtfield", "must be after claim_from")
	}
	if !t.Status.Valid() {
		bad("status", "oneof", "must be one of: draft active paused ended")
	}
	return fs
}

// Normalize trims the template's text.
func (t *Template) Normalize() {
	t.Name = strings.TrimSpace(t.Name)
	t.Description = strings.TrimSpace(t.Description)
	if t.Scope.Kind == "" {
		t.Scope.Kind = pricing.ScopeAll
	}
	if t.Audience == "" {
		t.Audience = AudienceAll
	}
}

// Validity is the window of a coupon of t issued at issuedAt: the fixed
// window (opening at issuedAt when it has no start), or ValidDays × 24 h
// from issuedAt.
func (t Template) Validity(issuedAt time.Time) (from, until time.Time) {
	if t.ValidDays > 0 {
		return issuedAt, issuedAt.Add(time.Duration(t.ValidDays) * 24 * time.Hour)
	}
	from = t.ValidFrom
	if from.IsZero() {
		from = issuedAt
	}
	return from, t.ValidUntil
}

// Phase is where a template stands in the coupon centre at a moment.
type Phase string

// The phases.
const (
	PhaseHidden    Phase = "hidden"    // not listed (not active, not claimable, before pre-heat)
	PhaseUpcoming  Phase = "upcoming"  // visible, not yet claimable (pre-heat)
	PhaseClaimable Phase = "claimable" // may be claimed now
	PhaseSoldOut   Phase = "sold_out"  // all issued
	PhaseOver      Phase = "over"      // the claim window has ended, or no coupon of it could be used any more
)

// PhaseAt is t's phase in the coupon centre at now.
func (t Template) PhaseAt(now time.Time) Phase {
	switch {
	case t.Status != StatusActive || !t.Claimable:
		return PhaseHidden
	case !t.VisibleFrom.IsZero() && now.Before(t.VisibleFrom):
		return PhaseHidden
	case !t.ClaimFrom.IsZero() && now.Before(t.ClaimFrom):
		return PhaseUpcoming
	case !t.ClaimUntil.IsZero() && !now.Before(t.ClaimUntil),
		t.ValidDays == 0 && !now.Before(t.ValidUntil):
		return PhaseOver
	case t.Issued >= t.Total:
		return PhaseSoldOut
	}
	return PhaseClaimable
}

// Facts are what the audience rules need to know of a shopper.
type Facts struct {
	// Tiers are the membership tiers the shopper's card is at or above
	// (empty without a card: then no tier audience admits them).
	Tiers []int64
	// HasPaidOrder: the shopper has paid at least one order.
	HasPaidOrder bool
	// VisitedTouchpoint: the shopper arrived through the template's
	// audience touchpoint (since AudienceSince).
	VisitedTouchpoint bool
}

// Admits reports whether the shopper with facts f is in t's audience, and
// if not, why (a message safe to show).
func (t Template) Admits(f Facts) (bool, string) {
	switch t.Audience {
	case AudienceTier:
		if !slices.Contains(f.Tiers, int64(t.AudienceTier)) {
			return false, "This coupon is for members of a higher tier."
		}
	case AudienceNewCustomers:
		if f.HasPaidOrder {
			return false, "This coupon is for new customers only."
		}
	case AudienceTouchpoint:
		if !f.VisitedTouchpoint {
			return false, "This coupon is for visitors of a particular event or page."
		}
	}
	return true, ""
}

// CouponStatus is the state of a held coupon.
type CouponStatus string

// The coupon statuses (expired is also how a usable coupon past its
// validity reads).
const (
	CouponUsable  CouponStatus = "usable"
	CouponLocked  CouponStatus = "locked"
	CouponUsed    CouponStatus = "used"
	CouponExpired CouponStatus = "expired"
)

// Valid reports whether s is a known coupon status.
func (s CouponStatus) Valid() bool {
	switch s {
	case CouponUsable, CouponLocked, CouponUsed, CouponExpired:
		return true
	}
	return false
}

// Source is how a shopper got a coupon.
type Source string

// The sources.
const (
	SourceClaim Source = "claim"
	SourceCode  Source = "code"
	SourceBulk  Source = "bulk"
	SourceGrant Source = "grant"
	// SourceBirthday: membership's birthday gift (its ref is the year).
	SourceBirthday Source = "birthday"
)

// Coupon is a coupon a shopper holds, with its template.
type Coupon struct {
	ID         int64
	TemplateID int64
	ShopperID  int64
	Status     CouponStatus // as stored
	ValidFrom  time.Time
	ValidUntil time.Time
	Source     Source
	IssuedAt   time.Time
	Template   Template
}

// StatusAt is the coupon's status as the shopper sees it at now: a usable
// coupon past its validity is expired.
func (c Coupon) StatusAt(now time.Time) CouponStatus {
	if c.Status == CouponUsable && !now.Before(c.ValidUntil) {
		return CouponExpired
	}
	return c.Status
}

// Pricing is the coupon as the pricing engine applies it. Only one coupon
// per order unless stackable (the brand's one-per-kind setting): then at
// most one of each kind.
func (c Coupon) Pricing(stackable bool) pricing.Coupon {
	t := c.Template
	return pricing.Coupon{ID: c.ID, Kind: t.Kind, Threshold: t.Threshold, AmountOff: t.AmountOff,
		PercentOffBP: t.PercentOffBP, MaxOff: t.MaxOff, Scope: t.Scope, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil,
		Stackable: stackable, NotWithCampaign: !t.StacksWithCampaign}
}

// Errors of coupons.
var (
	ErrTemplateNotFound = domain.E(domain.KindNotFound, "coupon_template_not_found", "No such coupon.")
	ErrCouponNotFound   = domain.E(domain.KindNotFound, "coupon_not_found", "You do not hold this coupon.")
	ErrNotClaimable     = domain.E(domain.KindConflict, "coupon_not_claimable", "This coupon cannot be claimed now.")
	ErrSoldOut          = domain.E(domain.KindConflict, "coupon_sold_out", "All of these coupons have been handed out.")
	ErrLimitReached     = domain.E(domain.KindConflict, "coupon_limit_reached", "You already hold as many of this coupon as allowed.")
	ErrAudience         = domain.E(domain.KindForbidden, "coupon_audience", "This coupon is not for you.")
	ErrInvalidStatus    = domain.E(domain.KindConflict, "invalid_status_change", "This status change is not allowed.")
	ErrCodeInvalid      = domain.E(domain.KindNotFound, "coupon_code_invalid", "This code is not valid or has been used.")
	ErrTooManyGuesses   = domain.E(domain.KindTooMany, "too_many_attempts", "Too many wrong codes; try again in a few minutes.")
	ErrCouponTaken      = domain.E(domain.KindConflict, "coupon_not_applicable", "This coupon is already on another order or no longer usable.")
	ErrNoBudget         = domain.E(domain.KindConflict, "coupon_budget_exhausted", "No coupons of this kind are left for you to hand out.")
	ErrJobNotFound      = domain.E(domain.KindNotFound, "job_not_found", "No such job.")
	ErrShopperNotFound  = domain.E(domain.KindNotFound, "shopper_not_found", "No such shopper.")
)
