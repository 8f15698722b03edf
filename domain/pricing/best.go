package pricing

import (
	"cmp"
	"errors"
	"slices"

	"github.com/yutang/yutang/domain"
)

// EligibleCoupon is a held coupon that can be used on the order, with what
// it would take off on its own.
type EligibleCoupon struct {
	Coupon   Coupon
	Discount domain.Fen
}

// Choice is the checkout preview's answer about coupons: the combination of
// held coupons that minimises the payable (possibly none), the order priced
// with it, and every held coupon as eligible or not, with the reason.
type Choice struct {
	Coupons    []Coupon // by ID
	Breakdown  Breakdown
	Eligible   []EligibleCoupon // by discount, largest first, then by ID
	Ineligible []CouponProblem  // in the order held
}

// MaxStackSearch bounds the search over stackable coupons: of each kind,
// only this many stackable coupons with the largest discounts on their own
// are combined, one of each kind at most ((MaxStackSearch+1)^3 − 1
// combinations at most, singles included).
const MaxStackSearch = 6

// BestCoupons is Engine.BestCoupons with the default stages.
func BestCoupons(in Input, held []Coupon) (Choice, error) { return NewEngine().BestCoupons(in, held) }

// BestCoupons prices in (ignoring in.Coupons) with every usable combination
// of the held coupons — no coupon, each eligible coupon alone, and every
// combination of eligible stackable ones with at most one of each kind —
// and returns the one with the
// lowest payable; ties go to fewer coupons, then to the smaller coupon IDs.
// A held coupon listed twice counts once. It fails only when in itself is
// invalid.
func (e *Engine) BestCoupons(in Input, held []Coupon) (Choice, error) {
	in.Coupons = nil
	base, err := e.Price(in)
	if err != nil {
		return Choice{}, err
	}
	best := Choice{Breakdown: base}
	seen := map[int64]bool{}
	var stackable []EligibleCoupon
	for _, c := range held {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		b, err := e.priceWith(in, []Coupon{c})
		if err != nil {
			p, ok := problem(err)
			if !ok {
				return Choice{}, err
			}
			best.Ineligible = append(best.Ineligible, p)
			continue
		}
		ec := EligibleCoupon{Coupon: c, Discount: b.DiscountBy(SourceCoupon)}
		best.Eligible = append(best.Eligible, ec)
		if c.Stackable {
			stackable = append(stackable, ec)
		}
		best.consider([]Coupon{c}, b)
	}
	slices.SortStableFunc(best.Eligible, func(a, b EligibleCoupon) int {
		return cmp.Or(cmp.Compare(b.Discount, a.Discount), cmp.Compare(a.Coupon.ID, b.Coupon.ID))
	})
	slices.SortStableFunc(stackable, func(a, b EligibleCoupon) int {
		return cmp.Or(cmp.Compare(b.Discount, a.Discount), cmp.Compare(a.Coupon.ID, b.Coupon.ID))
	})
	// One slot per kind: no coupon of it, or one of its best MaxStackSearch.
	var slots [][]Coupon
	byKind := map[CouponKind]int{}
	for _, ec := range stackable {
		i, ok := byKind[ec.Coupon.Kind]
		if !ok {
			i = len(slots)
			byKind[ec.Coupon.Kind] = i
			slots = append(slots, nil)
		}
		if len(slots[i]) < MaxStackSearch {
			slots[i] = append(slots[i], ec.Coupon)
		}
	}
	pick := make([]int, len(slots)) // 0: none of the kind; k: slots[i][k-1]
	for {
		i := 0
		for ; i < len(pick); i++ {
			if pick[i] < len(slots[i]) {
				pick[i]++
				break
			}
			pick[i] = 0
		}
		if i == len(pick) {
			break
		}
		var cs []Coupon
		for i, k := range pick {
			if k > 0 {
				cs = append(cs, slots[i][k-1])
			}
		}
		if len(cs) < 2 {
			continue // single coupons were priced above
		}
		b, err := e.priceWith(in, cs)
		if err != nil {
			if _, ok := problem(err); ok {
				continue
			}
			return Choice{}, err
		}
		best.consider(cs, b)
	}
	return best, nil
}

func (e *Engine) priceWith(in Input, cs []Coupon) (Breakdown, error) {
	in.Coupons = cs
	return e.Price(in)
}

// consider replaces the best combination with cs when cs is better.
func (ch *Choice) consider(cs []Coupon, b Breakdown) {
	better := b.Payable < ch.Breakdown.Payable
	if b.Payable == ch.Breakdown.Payable {
		switch {
		case len(cs) != len(ch.Coupons):
			better = len(cs) < len(ch.Coupons)
		default:
			better = slices.Compare(couponIDs(cs), couponIDs(ch.Coupons)) < 0
		}
	}
	if better {
		ch.Coupons = slices.Clone(cs)
		slices.SortFunc(ch.Coupons, func(a, b Coupon) int { return cmp.Compare(a.ID, b.ID) })
		ch.Breakdown = b
	}
}

func couponIDs(cs []Coupon) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

// problem extracts the CouponProblem of a refused coupon.
func problem(err error) (CouponProblem, bool) {
	if !errors.Is(err, ErrCouponNotApplicable) && !errors.Is(err, ErrCouponsNotStackable) {
		return CouponProblem{}, false
	}
	de, _ := domain.AsError(err)
	p, ok := de.Details.(CouponProblem)
	return p, ok
}
