package order

import (
	"math/rand/v2"
	"testing"

	"github.com/yutang/yutang/domain"
)

func TestSplitRefundTable(t *testing.T) {
	card := Tender{ID: 1, Kind: "test_card", Amount: 1234}
	wx := Tender{ID: 2, Kind: TenderWeChatPay, Amount: 2766}
	cases := []struct {
		name    string
		tenders []Tender
		amount  domain.Fen
		want    map[int64]domain.Fen
	}{
		{"WeChat Pay alone", []Tender{{ID: 9, Kind: TenderWeChatPay, Amount: 500}}, 200, map[int64]domain.Fen{9: 200}},
		{"in proportion, rounding to WeChat Pay", []Tender{card, wx}, 1000, map[int64]domain.Fen{1: 308, 2: 692}},
		{"WeChat Pay listed first still takes the rest", []Tender{wx, card}, 1000, map[int64]domain.Fen{1: 308, 2: 692}},
		{"counted on what was refunded before", []Tender{withRefunded(card, 308), withRefunded(wx, 692)}, 3000,
			map[int64]domain.Fen{1: 926, 2: 2074}},
		{"one fen goes to WeChat Pay", []Tender{card, wx}, 1, map[int64]domain.Fen{2: 1}},
		{"no WeChat Pay: the last tender takes the rest", []Tender{{ID: 3, Kind: "a", Amount: 1}, {ID: 4, Kind: "b", Amount: 2}}, 2,
			map[int64]domain.Fen{4: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts, err := SplitRefund(c.tenders, c.amount)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int64]domain.Fen{}
			for _, p := range parts {
				got[p.TenderID] += p.Amount
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for id, w := range c.want {
				if got[id] != w {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
	if _, err := SplitRefund([]Tender{withRefunded(card, 1234), withRefunded(wx, 2766)}, 1); err == nil {
		t.Fatal("refunded more than was paid")
	}
	if _, err := SplitRefund([]Tender{card}, 0); err == nil {
		t.Fatal("a zero refund was split")
	}
}

func withRefunded(t Tender, r domain.Fen) Tender {
	t.Refunded = r
	return t
}

// Any sequence of partial refunds: each part is between 0 and what its
// tender has left, the parts sum to the refund, and refunding everything
// returns every tender whole.
func TestSplitRefundProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 20))
	for iter := 0; iter < 3000; iter++ {
		n := 1 + r.IntN(4)
		tenders := make([]Tender, n)
		var payable domain.Fen
		for i := range tenders {
			kind := TenderKind("other")
			if i == n-1 && r.IntN(4) > 0 {
				kind = TenderWeChatPay
			}
			tenders[i] = Tender{ID: int64(i + 1), Kind: kind, Amount: domain.Fen(1 + r.Int64N(100_000))}
			payable += tenders[i].Amount
		}
		r.Shuffle(n, func(i, j int) { tenders[i], tenders[j] = tenders[j], tenders[i] })
		left := payable
		for left > 0 {
			amount := min(left, domain.Fen(1+r.Int64N(int64(payable)/2+1)))
			parts, err := SplitRefund(tenders, amount)
			if err != nil {
				t.Fatalf("iter %d: %v (tenders %+v, amount %d)", iter, err, tenders, amount)
			}
			var sum domain.Fen
			for _, p := range parts {
				sum += p.Amount
				for i := range tenders {
					if tenders[i].ID == p.TenderID {
						tenders[i].Refunded += p.Amount
						if p.Amount <= 0 || tenders[i].Refunded > tenders[i].Amount {
							t.Fatalf("iter %d: tender %+v got %d", iter, tenders[i], p.Amount)
						}
					}
				}
			}
			if sum != amount {
				t.Fatalf("iter %d: parts sum to %d of %d", iter, sum, amount)
			}
			left -= amount
		}
		for _, tt := range tenders {
			if tt.Refunded != tt.Amount {
				t.Fatalf("iter %d: after a full refund tender %+v", iter, tt)
			}
		}
	}
}

func TestDueThroughWeChat(t *testing.T) {
	if d := DueThroughWeChat(4000, []Tender{{Kind: "test_card", Amount: 1234}, {Kind: TenderWeChatPay, Amount: 2766}}); d != 2766 {
		t.Fatalf("due %d", d)
	}
}
