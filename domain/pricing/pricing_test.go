package pricing

import (
	"errors"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, domain.Shanghai)

func fen(f domain.Fen) *domain.Fen { return &f }

// cart builds an Input for delivery with no freight from lines.
func cart(lines ...Line) Input {
	return Input{Lines: lines, Fulfillment: Fulfillment{Type: Delivery}, Now: now}
}

func line(sku int64, qty int, unit domain.Fen) Line {
	return Line{SKUID: sku, ProductID: sku * 10, CategoryID: 1, Quantity: qty, UnitPrice: unit}
}

func mustPrice(t *testing.T, in Input) Breakdown {
	t.Helper()
	b, err := Price(in)
	if err != nil {
		t.Fatalf("Price: %v", err)
	}
	checkInvariants(t, in, b)
	return b
}

func paid(b Breakdown) []domain.Fen {
	out := make([]domain.Fen, len(b.Lines))
	for i, l := range b.Lines {
		out[i] = l.Paid
	}
	return out
}

func eqFen(a, b []domain.Fen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCampaignStage(t *testing.T) {
	cases := []struct {
		name      string
		line      Line
		wantDisc  domain.Fen
		wantPaid  domain.Fen
		discounts int
	}{
		{"lower campaign price applies", Line{SKUID: 1, Quantity: 3, UnitPrice: 1000, CampaignPrice: fen(800), CampaignID: 7}, 600, 2400, 1},
		{"equal campaign price ignored", Line{SKUID: 1, Quantity: 3, UnitPrice: 1000, CampaignPrice: fen(1000)}, 0, 3000, 0},
		{"higher campaign price ignored", Line{SKUID: 1, Quantity: 3, UnitPrice: 1000, CampaignPrice: fen(1200)}, 0, 3000, 0},
		{"free campaign", Line{SKUID: 1, Quantity: 2, UnitPrice: 1000, CampaignPrice: fen(0)}, 2000, 0, 1},
		{"no campaign", Line{SKUID: 1, Quantity: 2, UnitPrice: 1000}, 0, 2000, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustPrice(t, cart(c.line))
			if b.Lines[0].DiscountBy(SourceCampaign) != c.wantDisc || b.Lines[0].Paid != c.wantPaid || len(b.Discounts) != c.discounts {
				t.Fatalf("got campaign %d paid %d discounts %v", b.Lines[0].DiscountBy(SourceCampaign), b.Lines[0].Paid, b.Discounts)
			}
		})
	}
}

func TestCampaignDiscountsPerCampaign(t *testing.T) {
	b := mustPrice(t, cart(
		Line{SKUID: 1, Quantity: 1, UnitPrice: 1000, CampaignPrice: fen(900), CampaignID: 5},
		Line{SKUID: 2, Quantity: 1, UnitPrice: 1000, CampaignPrice: fen(700), CampaignID: 6},
		Line{SKUID: 3, Quantity: 2, UnitPrice: 1000, CampaignPrice: fen(950), CampaignID: 5},
	))
	want := []Discount{{SourceCampaign, 5, 200}, {SourceCampaign, 6, 300}}
	if len(b.Discounts) != 2 || b.Discounts[0] != want[0] || b.Discounts[1] != want[1] {
		t.Fatalf("discounts %v, want %v", b.Discounts, want)
	}
}

func TestMemberStage(t *testing.T) {
	cases := []struct {
		name   string
		member *Member
		line   Line
		want   domain.Fen // member discount
	}{
		{"not a member", nil, line(1, 1, 1000), 0},
		{"tier rate", &Member{DiscountBP: 500}, line(1, 3, 999), 150},      // 2997 × 5% = 149.85 → 150
		{"tier rate half up", &Member{DiscountBP: 50}, line(1, 1, 100), 1}, // 0.5 → 1
		{"zero rate", &Member{}, line(1, 1, 1000), 0},
		{"explicit member price wins", &Member{DiscountBP: 500}, Line{SKUID: 1, Quantity: 2, UnitPrice: 1000, MemberPrice: fen(880)}, 240},
		{"member price not lower", &Member{DiscountBP: 500}, Line{SKUID: 1, Quantity: 2, UnitPrice: 1000, MemberPrice: fen(1000)}, 0},
		{"campaign line skipped", &Member{DiscountBP: 500}, Line{SKUID: 1, Quantity: 2, UnitPrice: 1000, CampaignPrice: fen(900)}, 0},
		{"campaign not lower: member applies", &Member{DiscountBP: 1000}, Line{SKUID: 1, Quantity: 1, UnitPrice: 1000, CampaignPrice: fen(1000)}, 100},
		{"member price ignored for non-members", nil, Line{SKUID: 1, Quantity: 1, UnitPrice: 1000, MemberPrice: fen(1)}, 0},
		{"full rate", &Member{DiscountBP: 10000}, line(1, 1, 1000), 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cart(c.line)
			in.Member = c.member
			b := mustPrice(t, in)
			if b.Lines[0].DiscountBy(SourceMember) != c.want || b.DiscountBy(SourceMember) != c.want {
				t.Fatalf("member discount %d (order %d), want %d", b.Lines[0].DiscountBy(SourceMember), b.DiscountBy(SourceMember), c.want)
			}
		})
	}
}

func amountOff(id int64, threshold, off domain.Fen) Coupon {
	return Coupon{ID: id, Kind: CouponAmountOff, Threshold: threshold, AmountOff: off}
}

func TestCouponStage(t *testing.T) {
	three := []Line{
		{SKUID: 1, ProductID: 10, CategoryID: 1, Quantity: 1, UnitPrice: 5000},
		{SKUID: 2, ProductID: 20, CategoryID: 2, Quantity: 1, UnitPrice: 3000},
		{SKUID: 3, ProductID: 30, CategoryID: 2, Quantity: 1, UnitPrice: 2000},
	}
	cases := []struct {
		name     string
		lines    []Line
		member   *Member
		coupons  []Coupon
		wantLine []domain.Fen // coupon discount per line
		wantErr  error
		reason   Reason
	}{
		{"满减 met, spread by amount", three, nil, []Coupon{amountOff(1, 10000, 1000)}, []domain.Fen{500, 300, 200}, nil, ""},
		{"满减 threshold exactly met", three, nil, []Coupon{amountOff(1, 10000, 999)}, []domain.Fen{499, 300, 200}, nil, ""},
		{"满减 below threshold", three, nil, []Coupon{amountOff(1, 10001, 1000)}, nil, ErrCouponNotApplicable, ReasonBelowThreshold},
		{"threshold after member price", three, &Member{DiscountBP: 100}, []Coupon{amountOff(1, 10000, 1000)}, nil, ErrCouponNotApplicable, ReasonBelowThreshold},
		{"percent off", three, nil, []Coupon{{ID: 2, Kind: CouponPercentOff, PercentOffBP: 1000}}, []domain.Fen{500, 300, 200}, nil, ""},
		{"percent off capped", three, nil, []Coupon{{ID: 2, Kind: CouponPercentOff, PercentOffBP: 5000, MaxOff: 1001}}, []domain.Fen{501, 300, 200}, nil, ""},
		{"percent off threshold", three, nil, []Coupon{{ID: 2, Kind: CouponPercentOff, PercentOffBP: 1000, Threshold: 20000}}, nil, ErrCouponNotApplicable, ReasonBelowThreshold},
		{"no threshold", three, nil, []Coupon{{ID: 3, Kind: CouponNoThreshold, AmountOff: 500, Threshold: 99999}}, []domain.Fen{250, 150, 100}, nil, ""},
		{"no threshold larger than order", []Line{line(1, 1, 300)}, nil, []Coupon{{ID: 3, Kind: CouponNoThreshold, AmountOff: 500}}, []domain.Fen{300}, nil, ""},
		{"category scope", three, nil, []Coupon{{ID: 4, Kind: CouponAmountOff, Threshold: 5000, AmountOff: 1000, Scope: Scope{Kind: ScopeCategories, IDs: []int64{2}}}}, []domain.Fen{0, 600, 400}, nil, ""},
		{"category scope threshold on scope only", three, nil, []Coupon{{ID: 4, Kind: CouponAmountOff, Threshold: 5001, AmountOff: 1000, Scope: Scope{Kind: ScopeCategories, IDs: []int64{2}}}}, nil, ErrCouponNotApplicable, ReasonBelowThreshold},
		{"product scope", three, nil, []Coupon{{ID: 5, Kind: CouponNoThreshold, AmountOff: 700, Scope: Scope{Kind: ScopeProducts, IDs: []int64{10, 30}}}}, []domain.Fen{500, 0, 200}, nil, ""},
		{"excluded products", three, nil, []Coupon{{ID: 6, Kind: CouponNoThreshold, AmountOff: 500, Scope: Scope{Excluded: []int64{10}}}}, []domain.Fen{0, 300, 200}, nil, ""},
		{"out of scope", three, nil, []Coupon{{ID: 7, Kind: CouponNoThreshold, AmountOff: 500, Scope: Scope{Kind: ScopeProducts, IDs: []int64{99}}}}, nil, ErrCouponNotApplicable, ReasonOutOfScope},
		{"not started", three, nil, []Coupon{{ID: 8, Kind: CouponNoThreshold, AmountOff: 1, ValidFrom: now.Add(time.Second)}}, nil, ErrCouponNotApplicable, ReasonNotStarted},
		{"starts now", three, nil, []Coupon{{ID: 8, Kind: CouponNoThreshold, AmountOff: 10, ValidFrom: now}}, []domain.Fen{5, 3, 2}, nil, ""},
		{"expired: until is exclusive", three, nil, []Coupon{{ID: 9, Kind: CouponNoThreshold, AmountOff: 1, ValidUntil: now}}, nil, ErrCouponNotApplicable, ReasonExpired},
		{"valid until later", three, nil, []Coupon{{ID: 9, Kind: CouponNoThreshold, AmountOff: 10, ValidUntil: now.Add(time.Nanosecond)}}, []domain.Fen{5, 3, 2}, nil, ""},
		{"bad template", three, nil, []Coupon{{ID: 10, Kind: CouponPercentOff, PercentOffBP: 10001}}, nil, ErrCouponNotApplicable, ReasonInvalid},
		{"two non-stackable", three, nil, []Coupon{amountOff(1, 0, 100), amountOff(2, 0, 100)}, nil, ErrCouponsNotStackable, ReasonNotStackable},
		{"one stackable one not", three, nil, []Coupon{amountOff(1, 0, 100), {ID: 2, Kind: CouponAmountOff, AmountOff: 100, Stackable: true}}, nil, ErrCouponsNotStackable, ReasonNotStackable},
		{"duplicate", three, nil, []Coupon{{ID: 1, Kind: CouponNoThreshold, AmountOff: 1, Stackable: true}, {ID: 1, Kind: CouponNoThreshold, AmountOff: 1, Stackable: true}}, nil, ErrDuplicateCoupon, ""},
		{"two stackable: percent first, then amount", three, nil, []Coupon{
			{ID: 1, Kind: CouponAmountOff, Threshold: 10000, AmountOff: 1000, Stackable: true},
			{ID: 2, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true},
		}, []domain.Fen{1000, 600, 400}, nil, ""}, // 10% of 10000 = 1000, then 1000 off 9000
		{"stacked thresholds use the amount entering the stage", three, nil, []Coupon{
			{ID: 1, Kind: CouponAmountOff, Threshold: 10000, AmountOff: 1000, Stackable: true},
			{ID: 2, Kind: CouponPercentOff, Threshold: 10000, PercentOffBP: 1000, Stackable: true},
		}, []domain.Fen{1000, 600, 400}, nil, ""},
		// One per kind: stackable coupons combine across kinds only.
		{"one of each kind", three, nil, []Coupon{
			{ID: 1, Kind: CouponAmountOff, Threshold: 10000, AmountOff: 1000, Stackable: true},
			{ID: 2, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true},
			{ID: 3, Kind: CouponNoThreshold, AmountOff: 800, Stackable: true},
		}, []domain.Fen{1400, 840, 560}, nil, ""}, // 1000 off 10000, 1000 off 9000, 800 off 8000
		{"two amount-off of one kind", three, nil, []Coupon{
			{ID: 1, Kind: CouponAmountOff, Threshold: 10000, AmountOff: 1000, Stackable: true},
			{ID: 2, Kind: CouponAmountOff, Threshold: 0, AmountOff: 100, Stackable: true},
		}, nil, ErrCouponsNotStackable, ReasonNotStackable},
		{"two percent-off of one kind", three, nil, []Coupon{
			{ID: 1, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true},
			{ID: 2, Kind: CouponPercentOff, PercentOffBP: 500, Stackable: true},
		}, nil, ErrCouponsNotStackable, ReasonNotStackable},
		{"two no-threshold of one kind among others", three, nil, []Coupon{
			{ID: 1, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true},
			{ID: 2, Kind: CouponNoThreshold, AmountOff: 100, Stackable: true},
			{ID: 3, Kind: CouponNoThreshold, AmountOff: 200, Stackable: true},
		}, nil, ErrCouponsNotStackable, ReasonNotStackable},
		{"kinds differ but one not stackable", three, nil, []Coupon{
			{ID: 1, Kind: CouponPercentOff, PercentOffBP: 1000, Stackable: true},
			{ID: 2, Kind: CouponNoThreshold, AmountOff: 100},
		}, nil, ErrCouponsNotStackable, ReasonNotStackable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cart(c.lines...)
			in.Member = c.member
			in.Coupons = c.coupons
			b, err := Price(in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				if c.reason != "" {
					p, ok := problem(err)
					if !ok || p.Reason != c.reason {
						t.Fatalf("problem = %+v, want reason %s", p, c.reason)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, in, b)
			got := make([]domain.Fen, len(b.Lines))
			for i, l := range b.Lines {
				got[i] = l.DiscountBy(SourceCoupon)
			}
			if !eqFen(got, c.wantLine) {
				t.Fatalf("coupon per line %v, want %v", got, c.wantLine)
			}
		})
	}
}

func TestCouponOrderDoesNotMatter(t *testing.T) {
	a := Coupon{ID: 1, Kind: CouponAmountOff, Threshold: 1000, AmountOff: 333, Stackable: true}
	p := Coupon{ID: 2, Kind: CouponPercentOff, PercentOffBP: 1500, MaxOff: 700, Stackable: true}
	n := Coupon{ID: 3, Kind: CouponNoThreshold, AmountOff: 99, Stackable: true}
	in := cart(line(1, 2, 1999), line(2, 1, 4550), line(3, 5, 129))
	in.Coupons = []Coupon{a, p, n}
	b1 := mustPrice(t, in)
	in.Coupons = []Coupon{n, a, p}
	b2 := mustPrice(t, in)
	if !eqFen(paid(b1), paid(b2)) || b1.Payable != b2.Payable {
		t.Fatalf("listing order changed the price: %v vs %v", paid(b1), paid(b2))
	}
	// Discounts appear in the order applied: percent, amount, no-threshold.
	refs := []int64{b1.Discounts[0].Ref, b1.Discounts[1].Ref, b1.Discounts[2].Ref}
	if refs[0] != 2 || refs[1] != 1 || refs[2] != 3 {
		t.Fatalf("coupon order %v, want [2 1 3]", refs)
	}
}

func TestCouponProblemMessage(t *testing.T) {
	in := cart(line(1, 1, 8000))
	in.Coupons = []Coupon{amountOff(42, 10000, 1000)}
	_, err := Price(in)
	de, ok := domain.AsError(err)
	if !ok || de.Kind != domain.KindConflict || de.Code != "coupon_not_applicable" {
		t.Fatalf("err = %#v", err)
	}
	p := de.Details.(CouponProblem)
	if p.CouponID != 42 || p.Short != 2000 || p.Message != "Spend ¥100.00 on eligible items to use this coupon (¥20.00 more)." {
		t.Fatalf("problem %+v", p)
	}
}

func TestPointsStage(t *testing.T) {
	cases := []struct {
		name     string
		points   Points
		coupon   *Coupon
		wantFen  domain.Fen
		wantUsed int64
	}{
		{"none requested", Points{PerFen: 1, CapBP: 10000}, nil, 0, 0},
		{"all requested used", Points{Requested: 500, PerFen: 1, CapBP: 10000}, nil, 500, 500},
		{"rate 100 points a fen", Points{Requested: 50_000, PerFen: 100, CapBP: 10000}, nil, 500, 50_000},
		{"partial fen not spent", Points{Requested: 1_099, PerFen: 100, CapBP: 10000}, nil, 10, 1_000},
		{"capped by share", Points{Requested: 1_000_000, PerFen: 1, CapBP: 3000}, nil, 3000, 3000},
		{"cap after coupons", Points{Requested: 1_000_000, PerFen: 1, CapBP: 3000}, &Coupon{ID: 1, Kind: CouponNoThreshold, AmountOff: 1000}, 2700, 2700},
		{"never more than needed", Points{Requested: 1_000_000, PerFen: 1, CapBP: 10000}, nil, 10000, 10000},
		{"cap 0 disables", Points{Requested: 1000, PerFen: 1, CapBP: 0}, nil, 0, 0},
		{"cap rounds half up", Points{Requested: 1_000_000, PerFen: 1, CapBP: 1}, &Coupon{ID: 1, Kind: CouponNoThreshold, AmountOff: 5000}, 1, 1}, // 5000 × 0.01% = 0.5 → 1
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cart(line(1, 1, 6000), line(2, 2, 2000))
			in.Points = c.points
			if c.coupon != nil {
				in.Coupons = []Coupon{*c.coupon}
			}
			b := mustPrice(t, in)
			if b.DiscountBy(SourcePoints) != c.wantFen || b.PointsUsed != c.wantUsed {
				t.Fatalf("points %d fen using %d points, want %d using %d", b.DiscountBy(SourcePoints), b.PointsUsed, c.wantFen, c.wantUsed)
			}
		})
	}
}

func TestFreightStage(t *testing.T) {
	rule := FreightRule{Flat: 800, FreeAbove: 9900}
	cases := []struct {
		name   string
		typ    FulfillmentType
		member *Member
		unit   domain.Fen
		points int64
		want   domain.Fen
	}{
		{"below threshold", Delivery, nil, 9899, 0, 800},
		{"at threshold", Delivery, nil, 9900, 0, 0},
		{"above threshold", Delivery, nil, 12000, 0, 0},
		{"threshold on goods after points", Delivery, nil, 9900, 1, 800},
		{"pickup", Pickup, nil, 100, 0, 0},
		{"member free shipping", Delivery, &Member{FreeShipping: true}, 100, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cart(line(1, 1, c.unit))
			in.Fulfillment.Type = c.typ
			in.Member = c.member
			in.Freight = rule
			in.Points = Points{Requested: c.points, PerFen: 1, CapBP: 10000}
			b := mustPrice(t, in)
			if b.Freight != c.want || b.Payable != b.Goods+c.want {
				t.Fatalf("freight %d payable %d goods %d, want freight %d", b.Freight, b.Payable, b.Goods, c.want)
			}
		})
	}
	in := cart(line(1, 1, 100))
	in.Freight = FreightRule{Flat: 800}
	if b := mustPrice(t, in); b.Freight != 800 {
		t.Fatalf("FreeAbove 0 must never waive: freight %d", b.Freight)
	}
}

// TestStageOrder follows one order through every stage.
func TestStageOrder(t *testing.T) {
	in := Input{
		Lines: []Line{
			{SKUID: 1, ProductID: 10, CategoryID: 1, Quantity: 2, UnitPrice: 5000, CampaignPrice: fen(4000), CampaignID: 9}, // 10000 → 8000
			{SKUID: 2, ProductID: 20, CategoryID: 1, Quantity: 1, UnitPrice: 6000},                                          // 6000 → member 10% → 5400
		},
		Member:      &Member{DiscountBP: 1000},
		Coupons:     []Coupon{amountOff(77, 13400, 1340)}, // threshold met exactly by 8000 + 5400
		Points:      Points{Requested: 100_000, PerFen: 10, CapBP: 1000},
		Fulfillment: Fulfillment{Type: Delivery},
		Freight:     FreightRule{Flat: 1000, FreeAbove: 11000},
		Now:         now,
	}
	b := mustPrice(t, in)
	// coupon 1340 spread 8000:5400 → 800, 540; goods 12060; points cap 10% = 1206 fen = 12060 points.
	want := []LineBreakdown{
		{SKUID: 1, Quantity: 2, UnitPrice: 5000, ListTotal: 10000, Discounts: LineDiscounts{{SourceCampaign, 0, 2000}, {SourceCoupon, 77, 800}, {SourcePoints, 0, 720}}, Paid: 6480},
		{SKUID: 2, Quantity: 1, UnitPrice: 6000, ListTotal: 6000, Discounts: LineDiscounts{{SourceMember, 0, 600}, {SourceCoupon, 77, 540}, {SourcePoints, 0, 486}}, Paid: 4374},
	}
	for i, w := range want {
		g := b.Lines[i]
		if g.SKUID != w.SKUID || g.ListTotal != w.ListTotal || g.DiscountBy(SourceCampaign) != w.DiscountBy(SourceCampaign) || g.DiscountBy(SourceMember) != w.DiscountBy(SourceMember) ||
			g.DiscountBy(SourceCoupon) != w.DiscountBy(SourceCoupon) || g.DiscountBy(SourcePoints) != w.DiscountBy(SourcePoints) || g.Paid != w.Paid || len(g.Discounts.Coupons()) != 1 || g.Discounts.Coupons()[0] != w.Discounts.Coupons()[0] {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
	}
	wantDisc := []Discount{{SourceCampaign, 9, 2000}, {SourceMember, 0, 600}, {SourceCoupon, 77, 1340}, {SourcePoints, 0, 1206}}
	if len(b.Discounts) != len(wantDisc) {
		t.Fatalf("discounts %v, want %v", b.Discounts, wantDisc)
	}
	for i := range wantDisc {
		if b.Discounts[i] != wantDisc[i] {
			t.Fatalf("discounts %v, want %v", b.Discounts, wantDisc)
		}
	}
	if b.Subtotal != 16000 || b.Goods != 10854 || b.Freight != 1000 || b.Payable != 11854 || b.PointsUsed != 12060 {
		t.Fatalf("subtotal %d goods %d freight %d payable %d points %d", b.Subtotal, b.Goods, b.Freight, b.Payable, b.PointsUsed)
	}
}

type flatOff struct{ off domain.Fen }

func (flatOff) Name() string { return "flat" }
func (f flatOff) Apply(s *State) error {
	_, err := s.Spread(SourceCoupon, 0, f.off, nil)
	return err
}

type badStage struct{}

func (badStage) Name() string { return "bad" }
func (badStage) Apply(s *State) error {
	parts := make([]domain.Fen, len(s.Lines))
	parts[0] = s.Lines[0].Amount + 1
	return s.Discount(SourceCoupon, 0, parts)
}

func TestCustomStages(t *testing.T) {
	e := &Engine{Stages: []Stage{flatOff{off: 1_000_000}, FreightStage{}}}
	in := cart(line(1, 1, 300), line(2, 1, 700))
	b, err := e.Price(in)
	if err != nil {
		t.Fatal(err)
	}
	if b.Goods != 0 || b.Payable != 0 || b.DiscountTotal() != 1000 {
		t.Fatalf("a discount larger than the order must stop at zero: %+v", b)
	}
	if _, err := (&Engine{Stages: []Stage{badStage{}}}).Price(in); err == nil {
		t.Fatal("a stage taking more than a line has must fail")
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Input)
		want error
	}{
		{"empty", func(in *Input) { in.Lines = nil }, ErrEmptyOrder},
		{"zero quantity", func(in *Input) { in.Lines[0].Quantity = 0 }, domain.Invalid()},
		{"negative price", func(in *Input) { in.Lines[0].UnitPrice = -1 }, domain.Invalid()},
		{"huge price", func(in *Input) { in.Lines[0].UnitPrice = MaxUnitPrice + 1 }, domain.Invalid()},
		{"negative campaign", func(in *Input) { in.Lines[0].CampaignPrice = fen(-1) }, domain.Invalid()},
		{"member rate", func(in *Input) { in.Member = &Member{DiscountBP: 10001} }, domain.Invalid()},
		{"negative points", func(in *Input) { in.Points.Requested = -1 }, domain.Invalid()},
		{"points without rate", func(in *Input) { in.Points = Points{Requested: 1, CapBP: 100} }, domain.Invalid()},
		{"fulfillment", func(in *Input) { in.Fulfillment.Type = "drone" }, domain.Invalid()},
		{"too many coupons", func(in *Input) { in.Coupons = make([]Coupon, MaxCoupons+1) }, ErrTooManyCoupons},
	}
	for _, c := range cases {
		in := cart(line(1, 1, 100))
		c.mod(&in)
		_, err := Price(in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%s: kind %v, want invalid", c.name, domain.KindOf(err))
		}
	}
}

func TestErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  *domain.Error
		kind domain.Kind
		code string
	}{
		{ErrCouponNotApplicable, domain.KindConflict, "coupon_not_applicable"},
		{ErrCouponsNotStackable, domain.KindConflict, "coupons_not_stackable"},
		{ErrDuplicateCoupon, domain.KindInvalid, "duplicate_coupon"},
		{ErrTooManyCoupons, domain.KindInvalid, "too_many_coupons"},
		{ErrEmptyOrder, domain.KindInvalid, "empty_order"},
	} {
		if c.err.Kind != c.kind || c.err.Code != c.code {
			t.Errorf("%v: kind %v code %q", c.err, c.err.Kind, c.err.Code)
		}
	}
}
