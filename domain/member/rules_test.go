package member

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func TestTierRules(t *testing.T) {
	tiers := []Tier{{ID: 1, Threshold: 0}, {ID: 3, Threshold: 1000}, {ID: 2, Threshold: 300}}
	for _, c := range []struct {
		growth      int64
		current     int64
		for_, up    int64
		next, need  int64
		nextPresent bool
	}{
		{0, 1, 1, 1, 2, 300, true},
		{299, 1, 1, 1, 2, 1, true},
		{300, 1, 2, 2, 3, 700, true}, // the exact threshold upgrades
		{300, 3, 2, 3, 0, 0, false},  // growth never downgrades
		{5000, 2, 3, 3, 0, 0, false},
	} {
		var cur Tier
		for _, x := range tiers {
			if x.ID == c.current {
				cur = x
			}
		}
		if got := TierFor(tiers, c.growth).ID; got != c.for_ {
			t.Errorf("TierFor(%d) = %d, want %d", c.growth, got, c.for_)
		}
		if got := Upgrade(tiers, cur, c.growth).ID; got != c.up {
			t.Errorf("Upgrade(%d from %d) = %d, want %d", c.growth, c.current, got, c.up)
		}
		up := Upgrade(tiers, cur, c.growth)
		n, need, ok := Next(tiers, up, c.growth)
		if ok != c.nextPresent || n.ID != c.next || need != c.need {
			t.Errorf("Next(%d at %d) = %d %d %v", c.growth, up.ID, n.ID, need, ok)
		}
	}
	if Review(tiers, 299).ID != 1 || Review(tiers, 1000).ID != 3 {
		t.Error("review")
	}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, domain.Shanghai)
	if ReviewDue(start, start.AddDate(1, 0, 0).Add(-time.Second)) || !ReviewDue(start, start.AddDate(1, 0, 0)) {
		t.Error("review due")
	}
}

func TestPointsRules(t *testing.T) {
	for _, c := range []struct {
		paid          domain.Fen
		perYuan, mult int64
		want          int64
	}{
		{999, 1, 10000, 9}, {1000, 1, 10000, 10}, {1000, 1, 15000, 15}, {1099, 3, 12500, 41}, {0, 1, 10000, 0},
	} {
		if got := EarnedPoints(c.paid, c.perYuan, c.mult); got != c.want {
			t.Errorf("EarnedPoints(%d, %d, %d) = %d, want %d", c.paid, c.perYuan, c.mult, got, c.want)
		}
	}
	for _, c := range []struct {
		total          int64
		paid, refunded domain.Fen
		already, want  int64
	}{
		{300, 3000, 1000, 0, 100},
		{300, 3000, 2000, 100, 100},
		{300, 3000, 3000, 200, 100}, // the last refund takes what is left
		{10, 3000, 1000, 0, 3},      // floor
		{10, 3000, 2000, 3, 3},
		{10, 3000, 3000, 6, 4}, // partial refunds add up to the whole
		{0, 3000, 3000, 0, 0},
		{10, 0, 0, 0, 0},
	} {
		if got := ProRata(c.total, c.paid, c.refunded, c.already); got != c.want {
			t.Errorf("ProRata(%+v) = %d, want %d", c, got, c.want)
		}
	}
	for _, c := range []struct{ bal, n, take, debt int64 }{{100, 30, 30, 0}, {50, 100, 50, 50}, {0, 10, 0, 10}} {
		if take, debt := Debit(c.bal, c.n); take != c.take || debt != c.debt {
			t.Errorf("Debit(%d, %d) = %d %d", c.bal, c.n, take, debt)
		}
	}
	if Repay(80, 50) != 50 || Repay(30, 50) != 30 || Repay(30, 0) != 0 {
		t.Error("repay")
	}
}

func TestExpiryRules(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		life int
		want int
	}{
		{time.Date(2025, 12, 31, 23, 59, 59, 0, domain.Shanghai), 1, 2023},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, domain.Shanghai), 1, 2024},
		{time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), 1, 2024}, // already 2026 in Shanghai
		{time.Date(2026, 6, 1, 0, 0, 0, 0, domain.Shanghai), 2, 2023},
	} {
		if got := ExpiryYear(c.at, c.life); got != c.want {
			t.Errorf("ExpiryYear(%s, %d) = %d, want %d", c.at, c.life, got, c.want)
		}
	}
	for _, c := range []struct{ through, ofYear, expired, debits, balance, want int64 }{
		{100, 100, 0, 30, 120, 70},  // debits spend the oldest first
		{150, 50, 70, 30, 50, 50},   // the next year, after 70 expired
		{100, 100, 0, 150, 0, 0},    // all spent
		{100, 100, 0, 0, 40, 40},    // never more than the balance
		{300, 100, 0, 50, 500, 100}, // older years' credits absorb the debits
	} {
		if got := Expiring(c.through, c.ofYear, c.expired, c.debits, c.balance); got != c.want {
			t.Errorf("Expiring(%+v) = %d, want %d", c, got, c.want)
		}
	}
}

func TestStoredValueRules(t *testing.T) {
	for _, c := range []struct {
		p, b, amount, wantP, wantB domain.Fen
		ok                         bool
	}{
		{1800, 200, 2000, 1800, 200, true},
		{1800, 200, 1000, 1000, 0, true}, // principal first
		{1800, 200, 2001, 0, 0, false},
		{0, 200, 150, 0, 150, true},
	} {
		p, b, ok := SpendBalance(c.p, c.b, c.amount)
		if p != c.wantP || b != c.wantB || ok != c.ok {
			t.Errorf("SpendBalance(%+v) = %d %d %v", c, p, b, ok)
		}
	}
	// A tender of 1800 principal + 200 bonus refunded in three parts: each
	// part splits by the bonus share on the cumulative refund, and the
	// whole comes back exactly.
	var backP, backB domain.Fen
	for _, part := range []domain.Fen{500, 333, 1167} {
		p, b := ReturnBalance(1800, 200, backP+backB+part, part, backB)
		if p+b != part || p < 0 || b < 0 {
			t.Fatalf("ReturnBalance part %d = %d + %d", part, p, b)
		}
		backP, backB = backP+p, backB+b
	}
	if backP != 1800 || backB != 200 {
		t.Fatalf("returned %d principal %d bonus", backP, backB)
	}
	if p, b := ReturnBalance(1800, 200, 500, 500, 0); p != 450 || b != 50 {
		t.Fatalf("first half-line refund %d %d", p, b)
	}
}

func TestMasks(t *testing.T) {
	if MaskPhone("13812345678") != "138****5678" || MaskPhone("123") != "****" || MaskName("张三丰") != "张**" || MaskName("李") != "*" {
		t.Error("masks")
	}
}

func TestTopUpRefundAmounts(t *testing.T) {
	for _, c := range []struct {
		principal, bonus, cardP, cardB domain.Fen
		refund, forfeit                domain.Fen
	}{
		{5000, 500, 5000, 500, 5000, 500}, // nothing spent
		{5000, 500, 3000, 500, 3000, 500}, // 2000 spent (principal first)
		{5000, 500, 0, 200, 0, 200},       // all principal spent: nothing to refund
		{5000, 500, 9000, 900, 5000, 500}, // other top-ups' value stays
		{5000, 0, 4000, 300, 4000, 0},     // no bonus: nothing forfeited
	} {
		r, f := TopUpRefundAmounts(c.principal, c.bonus, c.cardP, c.cardB)
		if r != c.refund || f != c.forfeit {
			t.Errorf("%+v: refund %d forfeit %d", c, r, f)
		}
	}
}
