package attribution

import (
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func attributeLinear(t *testing.T, lines []Line, n int) Result {
	t.Helper()
	var touches []Touch
	for i := range n {
		touches = append(touches, touch(int64(i+1), time.Duration(n-i)*time.Hour, koc(int64(i+1))))
	}
	r, err := Attribute(Input{PlacedAt: placed, Lines: lines, Touches: touches, Settings: Settings{Model: ModelLinear}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// net sums credits and reversals per touch and line.
func net(credits []Credit) map[[2]int64]domain.Fen {
	out := map[[2]int64]domain.Fen{}
	for _, c := range credits {
		for _, la := range c.Lines {
			out[[2]int64{c.TouchID, la.ItemID}] += la.Amount
		}
	}
	return out
}

func TestReverse(t *testing.T) {
	lines := []Line{{ItemID: 1, Paid: 1000}, {ItemID: 2, Paid: 3}}
	res := attributeLinear(t, lines, 3)
	// Line 1: 334/333/333; line 2: 1/1/1.
	cases := []struct {
		name     string
		refunded map[int64]domain.Fen
		want     map[int64]domain.Fen // touch → reversed (negative)
		err      error
	}{
		{"nothing", map[int64]domain.Fen{}, map[int64]domain.Fen{}, nil},
		{"half of line 1", map[int64]domain.Fen{1: 500}, map[int64]domain.Fen{1: -167, 2: -167, 3: -166}, nil},
		{"all of line 1 reverses exactly its credits", map[int64]domain.Fen{1: 1000}, map[int64]domain.Fen{1: -334, 2: -333, 3: -333}, nil},
		{"one fen of line 2", map[int64]domain.Fen{2: 1}, map[int64]domain.Fen{1: -1}, nil},
		{"both lines fully", map[int64]domain.Fen{1: 1000, 2: 3}, map[int64]domain.Fen{1: -335, 2: -334, 3: -334}, nil},
		{"more than paid", map[int64]domain.Fen{2: 4}, nil, ErrOverReversal},
		{"unknown line", map[int64]domain.Fen{9: 1}, nil, ErrUnknownLine},
		{"negative", map[int64]domain.Fen{1: -1}, nil, domain.Invalid()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rev, err := Reverse(res.Credits, c.refunded)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[int64]domain.Fen{}
			for _, r := range rev {
				got[r.TouchID] = r.Amount
				var s domain.Fen
				for _, la := range r.Lines {
					s += la.Amount
					if _, ok := c.refunded[la.ItemID]; !ok {
						t.Fatalf("reversal on a line not refunded: %+v", la)
					}
				}
				if s != r.Amount || r.Amount >= 0 {
					t.Fatalf("reversal %+v", r)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("reversals %v, want %v", got, c.want)
			}
			for id, a := range c.want {
				if got[id] != a {
					t.Fatalf("reversals %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestReverseRepeatedPartialRefunds(t *testing.T) {
	// Line paid 3 credited 2:1 to touches 1 and 2 (weights 2/3, 1/3).
	credits := []Credit{
		{TouchID: 1, Weight: 666666667, Amount: 2, Lines: []LineAmount{{ItemID: 1, Amount: 2}}},
		{TouchID: 2, Weight: 333333333, Amount: 1, Lines: []LineAmount{{ItemID: 1, Amount: 1}}},
	}
	all := append([]Credit(nil), credits...)
	for range 3 {
		rev, err := Reverse(all, map[int64]domain.Fen{1: 1})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rev...)
	}
	for k, v := range net(all) {
		if v != 0 {
			t.Fatalf("after refunding everything one fen at a time, %v still has %d", k, v)
		}
	}
	if _, err := Reverse(all, map[int64]domain.Fen{1: 1}); !errors.Is(err, ErrOverReversal) {
		t.Fatalf("refunding a fully refunded line: %v", err)
	}
}

func TestReverseDirectAndInStore(t *testing.T) {
	if rev, err := Reverse(nil, map[int64]domain.Fen{1: 100}); err != nil || rev != nil {
		t.Fatalf("direct: %v %v", rev, err)
	}
	r, _ := Attribute(Input{PlacedAt: placed, Lines: []Line{{ItemID: 1, Paid: 500}}, InStore: &InStore{ClerkID: 1, StoreID: 2}})
	rev, err := Reverse(r.Credits, map[int64]domain.Fen{1: 200})
	if err != nil || len(rev) != 1 || rev[0].Amount != -200 || rev[0].Touchpoints[0].Kind != KindClerk {
		t.Fatalf("in-store reversal %+v %v", rev, err)
	}
}

// TestReverseProperties refunds random orders in random partial steps until
// every line is refunded: no cell ever goes negative, every step reverses
// exactly the refunded amounts, and at the end everything is reversed.
func TestReverseProperties(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for iter := 0; iter < 2000; iter++ {
		in := randomAttribution(r)
		res, err := Attribute(in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Direct {
			continue
		}
		left := map[int64]domain.Fen{}
		for _, l := range in.Lines {
			left[l.ItemID] = l.Paid
		}
		all := append([]Credit(nil), res.Credits...)
		for step := 0; step < 20 && len(left) > 0; step++ {
			refund := map[int64]domain.Fen{}
			for id, l := range left {
				if r.Intn(2) == 0 || step == 19 {
					a := l
					if step < 19 && l > 0 {
						a = domain.Fen(r.Int63n(int64(l) + 1))
					}
					refund[id] = a
				}
			}
			rev, err := Reverse(all, refund)
			if err != nil {
				t.Fatalf("iter %d step %d: %v", iter, step, err)
			}
			got := map[int64]domain.Fen{}
			for _, c := range rev {
				for _, la := range c.Lines {
					got[la.ItemID] -= la.Amount
				}
			}
			for id, a := range refund {
				if got[id] != a {
					t.Fatalf("iter %d: line %d reversed %d, refunded %d", iter, id, got[id], a)
				}
				left[id] -= a
				if left[id] == 0 {
					delete(left, id)
				}
			}
			all = append(all, rev...)
			for k, v := range net(all) {
				if v < 0 {
					t.Fatalf("iter %d: %v reversed below zero (%d)", iter, k, v)
				}
			}
		}
		for id := range left {
			rev, err := Reverse(all, map[int64]domain.Fen{id: left[id]})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, rev...)
		}
		for k, v := range net(all) {
			if v != 0 {
				t.Fatalf("iter %d: fully refunded but %v keeps %d", iter, k, v)
			}
		}
	}
}
