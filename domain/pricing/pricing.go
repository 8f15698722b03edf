// Package pricing prices a cart: list prices, campaign prices, member prices,
// coupons, points and freight, in that fixed order, down to what each line
// actually costs.
//
// The engine runs a list of stages over a State. Each stage takes money off
// the lines' running amounts and records a Discount; a discount is split
// across the lines it applies to by largest remainder on their running
// amounts (domain.AllocateFen), so that:
//
//   - every line knows what was paid for it (LineBreakdown.Paid), and the
//     lines' Paid plus Freight is exactly the Payable;
//   - the discounts sum exactly to Subtotal − Σ Paid;
//   - no discount takes more than what is left of the lines it applies to,
//     so nothing is ever negative.
//
// The default stages, in order (DefaultStages):
//
//  1. CampaignStage: a line's campaign unit price replaces its list price
//     when it is lower.
//  2. MemberStage: a member's price on lines the campaign did not lower — the
//     SKU's explicit member price when it has one and it is lower, else the
//     tier's discount rate.
//  3. CouponStage: the coupons, each on the lines in its scope.
//  4. PointsStage: points pay a capped share of the goods left.
//  5. FreightStage: delivery freight on top of the goods (not a discount).
//
// Price prices an order with the coupons it names and refuses a coupon that
// does not apply (ErrCouponNotApplicable, with the reason); BestCoupons, for
// the checkout preview, finds the combination of held coupons with the
// lowest payable and says why each other coupon cannot be used.
package pricing

import (
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
)

// Line is one SKU of the cart, as the catalog priced it at Now.
type Line struct {
	SKUID      int64
	ProductID  int64
	CategoryID int64
	Quantity   int
	// UnitPrice is the list price of one unit.
	UnitPrice domain.Fen
	// CampaignPrice is the price of one unit in a running campaign (flash
	// sale …), nil when none; CampaignID names that campaign.
	CampaignPrice *domain.Fen
	CampaignID    int64
	// MemberPrice is an explicit price of one unit for members, nil when the
	// SKU has none (the member's tier rate applies then).
	MemberPrice *domain.Fen
}

// Member is the shopper's membership as it bears on prices.
type Member struct {
	// DiscountBP is the share of the price the tier takes off, in basis
	// points: 500 is 5% off (a 95折 tier). 0 for none.
	DiscountBP int64
	// FreeShipping waives freight for the tier.
	FreeShipping bool
}

// MaxMemberDiscountBP is the most a member discount takes off, a member
// day's boost included.
const MaxMemberDiscountBP = 9000

// Boosted is the member's discount with a member day's boost added (basis
// points, at most MaxMemberDiscountBP).
func (m Member) Boosted(bp int64) Member {
	if bp > 0 {
		m.DiscountBP = min(m.DiscountBP+bp, max(m.DiscountBP, MaxMemberDiscountBP))
	}
	return m
}

// Points is the shopper's request to pay with points, and the brand's rule.
type Points struct {
	// Requested is how many points the shopper offers; the engine uses at
	// most this many, and never more than needed.
	Requested int64
	// PerFen is how many points make one fen (100 means 100 points = ¥0.01).
	// It must be ≥ 1 when Requested > 0.
	PerFen int64
	// CapBP is the largest share of the goods amount (after coupons) points
	// may pay, in basis points (5000 = half). 0 means points cannot pay.
	CapBP int64
}

// FulfillmentType is how the goods reach the shopper. Its values are the
// same strings as order.FulfillmentType ("delivery", "pickup"); pricing keeps
// its own type so that order can import pricing.
type FulfillmentType string

// The fulfillment types.
const (
	Delivery FulfillmentType = "delivery"
	Pickup   FulfillmentType = "pickup"
	InStore  FulfillmentType = "in_store"
)

// Fulfillment is how the order will be fulfilled.
type Fulfillment struct {
	Type FulfillmentType
}

// FreightRule is the brand's delivery fee: Flat per order, waived when the
// goods payable reaches FreeAbove (FreeAbove 0: never waived by amount).
type FreightRule struct {
	Flat      domain.Fen
	FreeAbove domain.Fen
}

// Input is everything the price of an order depends on.
type Input struct {
	Lines       []Line
	Member      *Member // nil: not a member
	Coupons     []Coupon
	Points      Points
	Fulfillment Fulfillment
	Freight     FreightRule
	Now         time.Time
}

// Source names what a discount came from.
type Source string

// The discount sources, in the order the default stages apply them.
const (
	SourceCampaign Source = "campaign"
	SourceMember   Source = "member"
	SourceCoupon   Source = "coupon"
	SourcePoints   Source = "points"
)

// Discount is money taken off the order by one source. Ref is the coupon id
// for a coupon, the campaign id for a campaign, 0 otherwise.
type Discount struct {
	Source Source
	Ref    int64
	Amount domain.Fen
}

// CouponAmount is the part of one coupon's discount carried by one line.
type CouponAmount struct {
	CouponID int64
	Amount   domain.Fen
}

// LineDiscount is what one source took off one line: Ref is the coupon id
// for a coupon, the campaign id for a campaign, 0 otherwise (as Discount).
type LineDiscount struct {
	Source Source
	Ref    int64
	Amount domain.Fen
}

// LineDiscounts are the discounts of one line, in the order the stages
// took them (one entry per source and ref).
type LineDiscounts []LineDiscount

// DiscountBy is what one source took off the line.
func (ds LineDiscounts) DiscountBy(src Source) domain.Fen {
	var s domain.Fen
	for _, d := range ds {
		if d.Source == src {
			s += d.Amount
		}
	}
	return s
}

// Total is everything taken off the line.
func (ds LineDiscounts) Total() domain.Fen {
	var s domain.Fen
	for _, d := range ds {
		s += d.Amount
	}
	return s
}

// Coupons is the part of each coupon carried by the line, in the order
// applied.
func (ds LineDiscounts) Coupons() []CouponAmount {
	var out []CouponAmount
	for _, d := range ds {
		if d.Source == SourceCoupon {
			out = append(out, CouponAmount{CouponID: d.Ref, Amount: d.Amount})
		}
	}
	return out
}

// LineBreakdown is what one line costs: its list total, each discount on
// it, and what is paid for it: ListTotal − Σ Discounts = Paid. A new
// discount source is a new Stage: nothing here changes.
type LineBreakdown struct {
	SKUID     int64
	Quantity  int
	UnitPrice domain.Fen
	ListTotal domain.Fen
	Discounts LineDiscounts
	Paid      domain.Fen
}

// DiscountBy is what one source took off the line.
func (l LineBreakdown) DiscountBy(src Source) domain.Fen { return l.Discounts.DiscountBy(src) }

// Breakdown is the priced order. Subtotal − Σ Discounts = Goods = Σ
// Lines[i].Paid, and Goods + Freight = Payable, always exactly.
type Breakdown struct {
	Subtotal   domain.Fen
	Discounts  []Discount
	Goods      domain.Fen // what the goods cost after every discount
	Freight    domain.Fen
	Payable    domain.Fen
	PointsUsed int64
	Lines      []LineBreakdown
}

// DiscountTotal is the sum of the discounts.
func (b Breakdown) DiscountTotal() domain.Fen {
	var s domain.Fen
	for _, d := range b.Discounts {
		s += d.Amount
	}
	return s
}

// DiscountBy is the sum of the discounts from one source.
func (b Breakdown) DiscountBy(src Source) domain.Fen {
	var s domain.Fen
	for _, d := range b.Discounts {
		if d.Source == src {
			s += d.Amount
		}
	}
	return s
}

// Limits on the input, so that no amount can overflow.
const (
	MaxLines     = 1000
	MaxQuantity  = 100_000
	MaxUnitPrice = domain.Fen(10_000_000_000) // ¥100,000,000
	MaxCoupons   = 20
)

// Errors of pricing. Details of ErrCouponNotApplicable is a CouponProblem.
var (
	ErrCouponNotApplicable = domain.E(domain.KindConflict, "coupon_not_applicable",
		"This coupon cannot be used on this order.")
	ErrCouponsNotStackable = domain.E(domain.KindConflict, "coupons_not_stackable",
		"These coupons cannot be used together.")
	ErrDuplicateCoupon = domain.E(domain.KindInvalid, "duplicate_coupon",
		"The same coupon is listed twice.")
	ErrTooManyCoupons = domain.E(domain.KindInvalid, "too_many_coupons",
		"Too many coupons on one order.")
	ErrEmptyOrder = domain.E(domain.KindInvalid, "empty_order",
		"The order has no items.")
)

// State is the order being priced, passed from stage to stage. Stages read
// Input and the lines' running amounts and take money off through Discount
// and Spread, which keep every invariant.
type State struct {
	Input      *Input
	Lines      []LineState
	Discounts  []Discount
	Freight    domain.Fen
	PointsUsed int64
}

// LineState is one line while it is priced: Amount is what is left to pay
// for it so far, Discounts what the stages took off it.
type LineState struct {
	Line
	ListTotal domain.Fen
	Amount    domain.Fen
	Discounts LineDiscounts
}

// DiscountBy is what one source has taken off the line so far.
func (l LineState) DiscountBy(src Source) domain.Fen { return l.Discounts.DiscountBy(src) }

// Goods is what is left to pay for all lines.
func (s *State) Goods() domain.Fen {
	var g domain.Fen
	for _, l := range s.Lines {
		g += l.Amount
	}
	return g
}

// Discount takes perLine[i] off line i for source/ref. Each part must be
// between 0 and the line's running amount; anything else is a bug in a
// stage and is reported as an internal error without changing the state.
func (s *State) Discount(src Source, ref int64, perLine []domain.Fen) error {
	if len(perLine) != len(s.Lines) {
		return fmt.Errorf("pricing: %s discount: %d parts for %d lines", src, len(perLine), len(s.Lines))
	}
	var total domain.Fen
	for i, p := range perLine {
		if p < 0 || p > s.Lines[i].Amount {
			return fmt.Errorf("pricing: %s discount: %d on line %d which has %d left", src, p, i, s.Lines[i].Amount)
		}
		total += p
	}
	for i, p := range perLine {
		l := &s.Lines[i]
		if p == 0 {
			continue
		}
		l.Amount -= p
		if k := len(l.Discounts) - 1; k >= 0 && l.Discounts[k].Source == src && l.Discounts[k].Ref == ref {
			l.Discounts[k].Amount += p
		} else {
			l.Discounts = append(l.Discounts, LineDiscount{Source: src, Ref: ref, Amount: p})
		}
	}
	for i := range s.Discounts {
		if s.Discounts[i].Source == src && s.Discounts[i].Ref == ref {
			s.Discounts[i].Amount += total
			return nil
		}
	}
	s.Discounts = append(s.Discounts, Discount{Source: src, Ref: ref, Amount: total})
	return nil
}

// Spread takes up to total off the lines for which in is true (all lines
// when in is nil), split by largest remainder on their running amounts, and
// returns how much it took: total, or what those lines had left if less.
func (s *State) Spread(src Source, ref int64, total domain.Fen, in func(Line) bool) (domain.Fen, error) {
	if total < 0 {
		return 0, fmt.Errorf("pricing: %s discount: negative total %d", src, total)
	}
	idx := make([]int, 0, len(s.Lines))
	weights := make([]domain.Fen, 0, len(s.Lines))
	var avail domain.Fen
	for i, l := range s.Lines {
		if in == nil || in(l.Line) {
			idx = append(idx, i)
			weights = append(weights, l.Amount)
			avail += l.Amount
		}
	}
	total = min(total, avail)
	perLine := make([]domain.Fen, len(s.Lines))
	if total > 0 {
		for k, p := range domain.AllocateFen(total, weights) {
			perLine[idx[k]] = p
		}
	}
	if err := s.Discount(src, ref, perLine); err != nil {
		return 0, err
	}
	return total, nil
}

// Stage is one step of pricing. Apply takes its discounts off the state
// (through State.Discount or State.Spread) or sets its fees; it returns a
// *domain.Error when the input asks for something the rules refuse.
type Stage interface {
	Name() string
	Apply(*State) error
}

// DefaultStages are the stages of yutang's pricing, in their fixed order:
// campaign price → member price → coupons → points → freight.
func DefaultStages() []Stage {
	return []Stage{CampaignStage{}, MemberStage{}, CouponStage{}, PointsStage{}, FreightStage{}}
}

// Engine prices orders by running its stages in order.
type Engine struct {
	Stages []Stage
}

// NewEngine returns an engine with the default stages.
func NewEngine() *Engine { return &Engine{Stages: DefaultStages()} }

// Price prices in with the default stages.
func Price(in Input) (Breakdown, error) { return NewEngine().Price(in) }

// Price validates in, runs the stages in order and returns the breakdown.
// Errors are *domain.Error for bad or refused input (validation_failed,
// coupon_not_applicable …) and plain errors for broken invariants (bugs).
func (e *Engine) Price(in Input) (Breakdown, error) {
	if err := validate(in); err != nil {
		return Breakdown{}, err
	}
	st := &State{Input: &in, Lines: make([]LineState, len(in.Lines))}
	for i, l := range in.Lines {
		lt := l.UnitPrice * domain.Fen(l.Quantity)
		st.Lines[i] = LineState{Line: l, ListTotal: lt, Amount: lt}
	}
	for _, s := range e.Stages {
		if err := s.Apply(st); err != nil {
			return Breakdown{}, err
		}
	}
	return st.breakdown()
}

func (s *State) breakdown() (Breakdown, error) {
	b := Breakdown{
		Discounts:  s.Discounts,
		Freight:    s.Freight,
		PointsUsed: s.PointsUsed,
		Lines:      make([]LineBreakdown, len(s.Lines)),
	}
	for i, l := range s.Lines {
		b.Subtotal += l.ListTotal
		b.Goods += l.Amount
		b.Lines[i] = LineBreakdown{
			SKUID: l.SKUID, Quantity: l.Quantity, UnitPrice: l.UnitPrice, ListTotal: l.ListTotal,
			Discounts: l.Discounts, Paid: l.Amount,
		}
		if l.ListTotal-l.Discounts.Total() != l.Amount || l.Amount < 0 {
			return Breakdown{}, fmt.Errorf("pricing: line %d does not add up: %+v", i, l)
		}
	}
	b.Payable = b.Goods + b.Freight
	if b.Subtotal-b.DiscountTotal() != b.Goods || b.Freight < 0 {
		return Breakdown{}, fmt.Errorf("pricing: discounts do not add up: subtotal %d, discounts %d, goods %d",
			b.Subtotal, b.DiscountTotal(), b.Goods)
	}
	return b, nil
}

func validate(in Input) error {
	if len(in.Lines) == 0 {
		return ErrEmptyOrder
	}
	var fe []domain.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, domain.FieldError{Field: field, Code: code, Message: msg})
	}
	if len(in.Lines) > MaxLines {
		bad("lines", "too_many", fmt.Sprintf("at most %d lines", MaxLines))
	}
	for i, l := range in.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			bad(p+"quantity", "out_of_range", fmt.Sprintf("must be between 1 and %d", MaxQuantity))
		}
		if l.UnitPrice < 0 || l.UnitPrice > MaxUnitPrice {
			bad(p+"unit_price", "out_of_range", "must be between 0 and 10000000000 fen")
		}
		if l.CampaignPrice != nil && *l.CampaignPrice < 0 {
			bad(p+"campaign_price", "out_of_range", "must not be negative")
		}
		if l.MemberPrice != nil && *l.MemberPrice < 0 {
			bad(p+"member_price", "out_of_range", "must not be negative")
		}
	}
	if m := in.Member; m != nil && (m.DiscountBP < 0 || m.DiscountBP > 10000) {
		bad("member.discount_bp", "out_of_range", "must be between 0 and 10000")
	}
	if in.Points.Requested < 0 {
		bad("points", "out_of_range", "must not be negative")
	}
	if in.Points.Requested > 0 && in.Points.PerFen < 1 {
		bad("points.per_fen", "out_of_range", "must be at least 1 to pay with points")
	}
	if in.Points.CapBP < 0 || in.Points.CapBP > 10000 {
		bad("points.cap_bp", "out_of_range", "must be between 0 and 10000")
	}
	switch in.Fulfillment.Type {
	case Delivery, Pickup, InStore:
	default:
		bad("fulfillment.type", "one_of", "must be delivery or pickup")
	}
	if in.Freight.Flat < 0 || in.Freight.FreeAbove < 0 {
		bad("freight", "out_of_range", "must not be negative")
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	if len(in.Coupons) > MaxCoupons {
		return ErrTooManyCoupons
	}
	return nil
}
