package commission

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

func TestDecisionNext(t *testing.T) {
	cases := []struct {
		d    Decision
		from Status
		want Status
		ok   bool
	}{
		{Approve, StatusPending, StatusActive, true},
		{Reject, StatusPending, StatusRejected, true},
		{Suspend, StatusActive, StatusSuspended, true},
		{Resume, StatusSuspended, StatusActive, true},
		{Approve, StatusActive, StatusActive, false},
		{Suspend, StatusPending, StatusPending, false},
		{Resume, StatusActive, StatusActive, false},
		{Reject, StatusSuspended, StatusSuspended, false},
	}
	for _, c := range cases {
		got, err := c.d.Next(c.from)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%s from %s = %s, %v", c.d, c.from, got, err)
		}
	}
}

func TestRecruitable(t *testing.T) {
	root := KOC{ShopperID: 1, Status: StatusActive, Depth: 1}
	cases := []struct {
		name string
		r    KOC
		want error
	}{
		{"root recruits", root, nil},
		{"recruit cannot recruit (third level)", KOC{ShopperID: 2, Status: StatusActive, Depth: 2, RecruiterID: 1}, ErrThirdLevel},
		{"inactive recruiter", KOC{ShopperID: 3, Status: StatusSuspended, Depth: 1}, ErrRecruiterInactive},
		{"self", KOC{ShopperID: 9, Status: StatusActive, Depth: 1}, ErrSelfRecruit},
	}
	for _, c := range cases {
		if err := Recruitable(9, c.r); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAccrue(t *testing.T) {
	koc := func(id int64) attribution.Touchpoint {
		return attribution.Touchpoint{Kind: attribution.KindKOC, ID: id}
	}
	lines := []Line{{ItemID: 1, ProductID: 10, CategoryID: 100, Paid: 1000}, {ItemID: 2, ProductID: 20, CategoryID: 200, Paid: 3000}}
	whole := attribution.Earner{Referrer: koc(501), Lines: []attribution.LineAmount{{ItemID: 1, Amount: 1000}, {ItemID: 2, Amount: 3000}}}
	kocs := map[int64]KOC{
		501: {ShopperID: 5, TouchpointID: 501, Status: StatusActive, LevelID: 1, Depth: 2, RecruiterID: 4},
		502: {ShopperID: 6, TouchpointID: 502, Status: StatusSuspended, LevelID: 1, Depth: 1},
	}
	recs := map[int64]KOC{4: {ShopperID: 4, Status: StatusActive, LevelID: 1, Depth: 1}}
	levels := map[int64]Level{1: {ID: 1, RateBP: 1000, OverrideBP: 200, Categories: map[int64]int{200: 500}, Products: map[int64]int{20: 300}}}
	sum := func(as []Accrual, koc int64) (s domain.Fen) {
		for _, a := range as {
			if a.KOCID == koc {
				s += a.Amount
			}
		}
		return s
	}
	cases := []struct {
		name      string
		buyer     int64
		earners   []attribution.Earner
		cap       domain.Fen
		want5     domain.Fen
		want4     domain.Fen
		wantCount int
	}{
		// line 1: 10% of 1000; line 2: product rate 3% of 3000 = 90.
		{"rates and override", 7, []attribution.Earner{whole}, 0, 100 + 90, 20 + 60, 4},
		{"own purchase earns nothing, no override", 5, []attribution.Earner{whole}, 0, 0, 0, 0},
		{"recruiter buying earns no override", 4, []attribution.Earner{whole}, 0, 190, 0, 2},
		{"suspended earns nothing", 7, []attribution.Earner{{Referrer: koc(502), Lines: whole.Lines}}, 0, 0, 0, 0},
		{"clerk earns nothing", 7, []attribution.Earner{{Referrer: attribution.Touchpoint{Kind: attribution.KindClerk, ID: 501}, Lines: whole.Lines}}, 0, 0, 0, 0},
		{"cap shares by largest remainder", 7, []attribution.Earner{whole}, 100, 70, 30, 4},
	}
	for _, c := range cases {
		as := Accrue(AccrueInput{BuyerID: c.buyer, Lines: lines, Earners: c.earners, KOCs: kocs, Recruiters: recs, Levels: levels, Cap: c.cap})
		if got5, got4 := sum(as, 5), sum(as, 4); got5 != c.want5 || got4 != c.want4 || len(as) != c.wantCount {
			t.Errorf("%s: koc %d, recruiter %d, %d accruals; want %d, %d, %d", c.name, got5, got4, len(as), c.want5, c.want4, c.wantCount)
		}
		for _, a := range as {
			if a.Level != 1 && a.Level != 2 {
				t.Errorf("%s: level %d", c.name, a.Level)
			}
		}
	}
}

func TestLineReversalSumsToCommission(t *testing.T) {
	for _, c := range []struct {
		c, paid domain.Fen
		parts   []domain.Fen
	}{
		{100, 1000, []domain.Fen{333, 333, 334}},
		{7, 3, []domain.Fen{1, 1, 1}},
		{99, 1000, []domain.Fen{1, 998, 1}},
	} {
		var before, total domain.Fen
		for _, p := range c.parts {
			total += LineReversal(c.c, c.paid, before, p)
			before += p
		}
		if total != c.c {
			t.Errorf("%+v reversed %d", c, total)
		}
	}
	if got := LineReversal(100, 1000, 0, 500); got != 50 {
		t.Errorf("half: %d", got)
	}
}

func TestSplitReversal(t *testing.T) {
	cases := []struct {
		r, p, s domain.Fen
		want    Split
	}{
		{50, 100, 0, Split{FromPending: 50}},
		{50, 0, 100, Split{FromSettleable: 50}},
		{50, 0, 0, Split{Carry: 50}},
		{150, 100, 30, Split{FromPending: 100, FromSettleable: 30, Carry: 20}},
		{50, 0, -20, Split{Carry: 50}},
	}
	for _, c := range cases {
		if got := SplitReversal(c.r, c.p, c.s); got != c.want {
			t.Errorf("%+v: %+v", c, got)
		}
	}
}

func TestFlagAndMask(t *testing.T) {
	if Flag(FraudFacts{SharesAddressWithKOC: true}, 3) != "address_shared_with_koc" ||
		Flag(FraudFacts{CustomersAtAddress: 3}, 3) != "many_customers_one_address" || Flag(FraudFacts{CustomersAtAddress: 2}, 3) != "" {
		t.Error("flag")
	}
	if MaskName("王小明") != "王**" || MaskName("") != "*" {
		t.Error("mask")
	}
	if !SettleableAfter(time.Unix(0, 0), 7).Equal(time.Unix(7*86400, 0)) {
		t.Error("settleable after")
	}
}
