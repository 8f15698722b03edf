package pricing

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func ids(cs []Coupon) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestBestCoupons(t *testing.T) {
	in := cart(
		Line{SKUID: 1, ProductID: 10, CategoryID: 1, Quantity: 1, UnitPrice: 8000},
		Line{SKUID: 2, ProductID: 20, CategoryID: 2, Quantity: 1, UnitPrice: 4000},
	)
	big := amountOff(1, 10000, 1500)                                                    // 15.00 off 100
	small := amountOff(2, 0, 1000)                                                      // 10.00 off
	pct := Coupon{ID: 3, Kind: CouponPercentOff, PercentOffBP: 2000, MaxOff: 1000}      // 20% up to 10.00
	s1 := Coupon{ID: 4, Kind: CouponNoThreshold, AmountOff: 900, Stackable: true}       // 9.00, stackable
	s2 := Coupon{ID: 5, Kind: CouponAmountOff, AmountOff: 800, Stackable: true}         // 8.00, stackable, another kind
	expired := Coupon{ID: 6, Kind: CouponNoThreshold, AmountOff: 5000, ValidUntil: now} // expired
	far := amountOff(7, 50000, 10000)                                                   // threshold not met
	scoped := Coupon{ID: 8, Kind: CouponNoThreshold, AmountOff: 100, Scope: Scope{Kind: ScopeProducts, IDs: []int64{99}}}
	notYet := Coupon{ID: 9, Kind: CouponNoThreshold, AmountOff: 100, ValidFrom: now.Add(time.Hour)}
	s3 := Coupon{ID: 10, Kind: CouponNoThreshold, AmountOff: 700, Stackable: true}                  // 7.00, stackable, s1's kind
	sp := Coupon{ID: 11, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true}               // 10%, stackable
	s4 := Coupon{ID: 12, Kind: CouponAmountOff, Threshold: 12001, AmountOff: 5000, Stackable: true} // threshold not met

	cases := []struct {
		name    string
		held    []Coupon
		want    []int64
		payable domain.Fen
	}{
		{"nothing held", nil, nil, 12000},
		{"single best", []Coupon{small, big, pct}, []int64{1}, 10500},
		{"stacked beats single", []Coupon{big, s1, s2}, []int64{4, 5}, 10300},
		{"only ineligible", []Coupon{expired, far, scoped, notYet}, nil, 12000},
		{"tie goes to lower id", []Coupon{pct, small}, []int64{2}, 11000},
		{"duplicates count once", []Coupon{s1, s1}, []int64{4}, 11100},
		// One coupon per kind: s1 and s3 are both no-threshold.
		{"two of one kind do not stack", []Coupon{big, s1, s3}, []int64{1}, 10500},
		{"one of each kind stacks", []Coupon{s1, s3, s2, sp}, []int64{4, 5, 11}, 9100}, // 1200, then 800 and 900
		{"best of a kind with the others", []Coupon{s3, s1, s2}, []int64{4, 5}, 10300},
		{"a stackable coupon that does not apply", []Coupon{s4, s1, s2}, []int64{4, 5}, 10300},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := BestCoupons(in, c.held)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(ch.Coupons)
			if len(got) != len(c.want) || ch.Breakdown.Payable != c.payable {
				t.Fatalf("best %v payable %d, want %v payable %d", got, ch.Breakdown.Payable, c.want, c.payable)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("best %v, want %v", got, c.want)
				}
			}
		})
	}

	ch, err := BestCoupons(in, []Coupon{expired, small, far, scoped, big, notYet})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Eligible) != 2 || ch.Eligible[0].Coupon.ID != 1 || ch.Eligible[0].Discount != 1500 || ch.Eligible[1].Coupon.ID != 2 {
		t.Fatalf("eligible %+v", ch.Eligible)
	}
	wantReasons := []Reason{ReasonExpired, ReasonBelowThreshold, ReasonOutOfScope, ReasonNotStarted}
	if len(ch.Ineligible) != len(wantReasons) {
		t.Fatalf("ineligible %+v", ch.Ineligible)
	}
	for i, r := range wantReasons {
		if ch.Ineligible[i].Reason != r || ch.Ineligible[i].Message == "" {
			t.Errorf("ineligible[%d] = %+v, want %s", i, ch.Ineligible[i], r)
		}
	}
	if ch.Ineligible[1].Short != 50000-12000 {
		t.Errorf("short %d", ch.Ineligible[1].Short)
	}
}

func TestBestCouponsInvalidInput(t *testing.T) {
	if _, err := BestCoupons(Input{Now: now, Fulfillment: Fulfillment{Type: Delivery}}, nil); err != ErrEmptyOrder {
		t.Fatalf("err = %v", err)
	}
}

func TestBestCouponsManyStackable(t *testing.T) {
	in := cart(line(1, 1, 100000))
	var held []Coupon
	for i := range 15 {
		held = append(held, Coupon{ID: int64(i + 1), Kind: CouponNoThreshold, AmountOff: domain.Fen(100 + i), Stackable: true})
	}
	ch, err := BestCoupons(in, held)
	if err != nil {
		t.Fatal(err)
	}
	// One coupon per kind: fifteen of one kind do not combine.
	if len(ch.Coupons) != 1 || ch.Coupons[0].ID != 15 {
		t.Fatalf("best %v", ids(ch.Coupons))
	}

	// Ten of each kind: the best of each kind together.
	held = nil
	for i := range 10 {
		held = append(held,
			Coupon{ID: int64(100 + i), Kind: CouponNoThreshold, AmountOff: domain.Fen(100 + i), Stackable: true},
			Coupon{ID: int64(200 + i), Kind: CouponAmountOff, Threshold: 50000, AmountOff: domain.Fen(1000 + i), Stackable: true},
			Coupon{ID: int64(300 + i), Kind: CouponPercentOff, PercentOffBP: int64(100 + i), Stackable: true})
	}
	ch, err = BestCoupons(in, held)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ch.Coupons); len(got) != 3 || got[0] != 109 || got[1] != 209 || got[2] != 309 {
		t.Fatalf("best %v", got)
	}
	in.Coupons = ch.Coupons
	checkInvariants(t, in, ch.Breakdown)
}
