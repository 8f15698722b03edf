package pricing

import (
	"errors"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

// checkInvariants checks everything a breakdown promises, whatever the input.
func checkInvariants(t *testing.T, in Input, b Breakdown) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invariant broken: "+format+"\ninput %+v\nbreakdown %+v", append(args, in, b)...)
	}
	if len(b.Lines) != len(in.Lines) {
		fail("%d lines for %d", len(b.Lines), len(in.Lines))
	}
	var sumPaid, sumList domain.Fen
	bySource := map[Source]domain.Fen{}
	byCoupon := map[int64]domain.Fen{}
	for i, l := range b.Lines {
		src := in.Lines[i]
		if l.SKUID != src.SKUID || l.Quantity != src.Quantity || l.UnitPrice != src.UnitPrice {
			fail("line %d identity", i)
		}
		if l.ListTotal != src.UnitPrice*domain.Fen(src.Quantity) {
			fail("line %d list total", i)
		}
		for _, v := range []domain.Fen{l.DiscountBy(SourceCampaign), l.DiscountBy(SourceMember), l.DiscountBy(SourceCoupon), l.DiscountBy(SourcePoints), l.Paid} {
			if v < 0 {
				fail("line %d has a negative amount", i)
			}
		}
		if l.ListTotal-l.DiscountBy(SourceCampaign)-l.DiscountBy(SourceMember)-l.DiscountBy(SourceCoupon)-l.DiscountBy(SourcePoints) != l.Paid {
			fail("line %d does not add up", i)
		}
		// Campaign and member never take more than the price difference.
		if src.CampaignPrice != nil && *src.CampaignPrice < src.UnitPrice {
			if l.DiscountBy(SourceCampaign) != (src.UnitPrice-*src.CampaignPrice)*domain.Fen(src.Quantity) || l.DiscountBy(SourceMember) != 0 {
				fail("line %d campaign", i)
			}
		} else if l.DiscountBy(SourceCampaign) != 0 {
			fail("line %d campaign without a lower campaign price", i)
		}
		if in.Member == nil && l.DiscountBy(SourceMember) != 0 {
			fail("line %d member discount for a non-member", i)
		}
		var cs domain.Fen
		for _, ca := range l.Discounts.Coupons() {
			if ca.Amount < 0 {
				fail("line %d negative coupon part", i)
			}
			cs += ca.Amount
			byCoupon[ca.CouponID] += ca.Amount
			for _, c := range in.Coupons {
				if c.ID == ca.CouponID && ca.Amount > 0 && !c.Scope.Contains(src) {
					fail("coupon %d discounts line %d outside its scope", c.ID, i)
				}
			}
		}
		if cs != l.DiscountBy(SourceCoupon) {
			fail("line %d coupon parts %d != %d", i, cs, l.DiscountBy(SourceCoupon))
		}
		bySource[SourceCampaign] += l.DiscountBy(SourceCampaign)
		bySource[SourceMember] += l.DiscountBy(SourceMember)
		bySource[SourceCoupon] += l.DiscountBy(SourceCoupon)
		bySource[SourcePoints] += l.DiscountBy(SourcePoints)
		sumPaid += l.Paid
		sumList += l.ListTotal
	}
	if b.Subtotal != sumList || b.Goods != sumPaid || b.Subtotal-b.DiscountTotal() != b.Goods {
		fail("totals: subtotal %d list %d goods %d paid %d discounts %d", b.Subtotal, sumList, b.Goods, sumPaid, b.DiscountTotal())
	}
	if sumPaid+b.Freight != b.Payable || b.Payable < 0 || b.Freight < 0 {
		fail("payable %d != Σ paid %d + freight %d", b.Payable, sumPaid, b.Freight)
	}
	for _, d := range b.Discounts {
		if d.Amount < 0 {
			fail("negative discount %+v", d)
		}
		if d.Source == SourceCoupon {
			if byCoupon[d.Ref] != d.Amount {
				fail("coupon %d: lines carry %d, discount says %d", d.Ref, byCoupon[d.Ref], d.Amount)
			}
			for _, c := range in.Coupons {
				if c.ID == d.Ref && (c.Kind != CouponPercentOff && d.Amount > c.AmountOff || c.Kind == CouponPercentOff && c.MaxOff > 0 && d.Amount > c.MaxOff) {
					fail("coupon %d takes %d, more than its face", c.ID, d.Amount)
				}
			}
		}
	}
	for src, v := range bySource {
		if b.DiscountBy(src) != v {
			fail("source %s: lines %d, discounts %d", src, v, b.DiscountBy(src))
		}
	}
	pts := b.DiscountBy(SourcePoints)
	if b.PointsUsed > in.Points.Requested || (pts > 0 && b.PointsUsed != int64(pts)*in.Points.PerFen) || (pts == 0 && b.PointsUsed != 0) {
		fail("points used %d for %d fen (requested %d)", b.PointsUsed, pts, in.Points.Requested)
	}
	if pts > 0 && pts > (b.Goods+pts).MulBasisPoints(in.Points.CapBP) {
		fail("points %d above the cap", pts)
	}
	if b.Freight != 0 && (b.Freight != in.Freight.Flat || in.Fulfillment.Type == Pickup) {
		fail("freight %d", b.Freight)
	}
}

func randomInput(r *rand.Rand) Input {
	n := 1 + r.Intn(8)
	in := Input{Now: now, Fulfillment: Fulfillment{Type: Delivery}}
	prices := []domain.Fen{0, 1, 2, 3, 99, 100, 999, 1999, 12345, 99999, 500000}
	for i := range n {
		l := Line{
			SKUID:      int64(i + 1),
			ProductID:  int64(1 + r.Intn(5)),
			CategoryID: int64(1 + r.Intn(3)),
			Quantity:   1 + r.Intn(5),
		}
		if r.Intn(3) == 0 {
			l.UnitPrice = prices[r.Intn(len(prices))]
		} else {
			l.UnitPrice = domain.Fen(r.Int63n(200000))
		}
		if r.Intn(4) == 0 {
			l.CampaignPrice = fen(domain.Fen(r.Int63n(int64(l.UnitPrice) + 100)))
			l.CampaignID = int64(1 + r.Intn(2))
		}
		if r.Intn(4) == 0 {
			l.MemberPrice = fen(domain.Fen(r.Int63n(int64(l.UnitPrice) + 100)))
		}
		in.Lines = append(in.Lines, l)
	}
	if r.Intn(2) == 0 {
		in.Member = &Member{DiscountBP: r.Int63n(10001), FreeShipping: r.Intn(5) == 0}
	}
	stack := r.Intn(2) == 0
	for k := range r.Intn(4) {
		c := Coupon{ID: int64(100 + k), Stackable: stack}
		switch r.Intn(3) {
		case 0:
			c.Kind, c.AmountOff, c.Threshold = CouponAmountOff, domain.Fen(1+r.Int63n(50000)), domain.Fen(r.Int63n(100000))
		case 1:
			c.Kind, c.PercentOffBP, c.Threshold = CouponPercentOff, 1+r.Int63n(10000), domain.Fen(r.Int63n(50000))
			if r.Intn(2) == 0 {
				c.MaxOff = domain.Fen(1 + r.Int63n(20000))
			}
		default:
			c.Kind, c.AmountOff = CouponNoThreshold, domain.Fen(1+r.Int63n(100000))
		}
		switch r.Intn(4) {
		case 1:
			c.Scope = Scope{Kind: ScopeCategories, IDs: []int64{int64(1 + r.Intn(3))}}
		case 2:
			c.Scope = Scope{Kind: ScopeProducts, IDs: []int64{int64(1 + r.Intn(5)), int64(1 + r.Intn(5))}}
		case 3:
			c.Scope = Scope{Excluded: []int64{int64(1 + r.Intn(5))}}
		}
		if r.Intn(10) == 0 {
			c.ValidUntil = now.Add(-time.Hour)
		}
		in.Coupons = append(in.Coupons, c)
	}
	if r.Intn(2) == 0 {
		in.Points = Points{Requested: r.Int63n(2_000_000), PerFen: 1 + r.Int63n(100), CapBP: r.Int63n(10001)}
	}
	if r.Intn(3) == 0 {
		in.Fulfillment.Type = Pickup
	}
	in.Freight = FreightRule{Flat: domain.Fen(r.Int63n(2000)), FreeAbove: domain.Fen(r.Int63n(300000))}
	return in
}

// TestPriceProperties prices thousands of random carts and checks every
// invariant, that the result is deterministic, and that the listing order
// of coupons does not matter.
func TestPriceProperties(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		r := rand.New(rand.NewSource(seed))
		priced, refused := 0, 0
		for iter := 0; iter < 4000; iter++ {
			in := randomInput(r)
			b, err := Price(in)
			if err != nil {
				if !errors.Is(err, ErrCouponNotApplicable) && !errors.Is(err, ErrCouponsNotStackable) {
					t.Fatalf("seed %d iter %d: unexpected error %v for %+v", seed, iter, err, in)
				}
				refused++
				// Without the coupons every cart prices.
				in.Coupons = nil
				if b, err = Price(in); err != nil {
					t.Fatalf("seed %d iter %d: %v", seed, iter, err)
				}
			} else {
				priced++
			}
			checkInvariants(t, in, b)
			again, _ := Price(in)
			if !reflect.DeepEqual(b, again) {
				t.Fatalf("seed %d iter %d: not deterministic", seed, iter)
			}
			if len(in.Coupons) > 1 {
				rev := in
				rev.Coupons = append([]Coupon(nil), in.Coupons...)
				for i, j := 0, len(rev.Coupons)-1; i < j; i, j = i+1, j-1 {
					rev.Coupons[i], rev.Coupons[j] = rev.Coupons[j], rev.Coupons[i]
				}
				b2, err := Price(rev)
				if err != nil || !reflect.DeepEqual(paid(b), paid(b2)) || b.Payable != b2.Payable {
					t.Fatalf("seed %d iter %d: coupon order changed the price (%v)", seed, iter, err)
				}
			}
		}
		if priced < 1000 || refused < 100 {
			t.Fatalf("seed %d: generator is lopsided: %d priced, %d refused", seed, priced, refused)
		}
	}
}

// TestBestCouponsProperties checks on random carts that the best choice is
// never worse than no coupon or than any single eligible coupon, and that
// every held coupon is classified exactly once.
func TestBestCouponsProperties(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for iter := 0; iter < 1500; iter++ {
		in := randomInput(r)
		held := in.Coupons
		in.Coupons = nil
		for k := range r.Intn(4) {
			c := Coupon{ID: int64(200 + k), Kind: CouponNoThreshold, AmountOff: domain.Fen(1 + r.Int63n(3000)), Stackable: r.Intn(2) == 0}
			held = append(held, c)
		}
		ch, err := BestCoupons(in, held)
		if err != nil {
			t.Fatal(err)
		}
		in.Coupons = ch.Coupons
		checkInvariants(t, in, ch.Breakdown)
		if len(ch.Eligible)+len(ch.Ineligible) != len(held) {
			t.Fatalf("iter %d: %d eligible + %d ineligible for %d held", iter, len(ch.Eligible), len(ch.Ineligible), len(held))
		}
		in.Coupons = nil
		none := mustPrice(t, in)
		if ch.Breakdown.Payable > none.Payable {
			t.Fatalf("iter %d: best %d worse than none %d", iter, ch.Breakdown.Payable, none.Payable)
		}
		for _, e := range ch.Eligible {
			in.Coupons = []Coupon{e.Coupon}
			one := mustPrice(t, in)
			if ch.Breakdown.Payable > one.Payable {
				t.Fatalf("iter %d: best %d worse than coupon %d alone %d", iter, ch.Breakdown.Payable, e.Coupon.ID, one.Payable)
			}
		}
	}
}
