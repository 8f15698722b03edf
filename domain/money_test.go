package domain

import (
	"math/rand"
	"testing"
)

func TestFenYuan(t *testing.T) {
	cases := []struct {
		in   Fen
		want string
	}{{0, "0.00"}, {5, "0.05"}, {1230, "12.30"}, {-5, "-0.05"}, {-12345, "-123.45"}}
	for _, c := range cases {
		if got := c.in.Yuan(); got != c.want {
			t.Errorf("Fen(%d).Yuan() = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMulRatRoundsHalfUp(t *testing.T) {
	cases := []struct {
		f        Fen
		num, den int64
		want     Fen
	}{
		{100, 1, 3, 33},
		{200, 1, 3, 67},
		{5, 1, 2, 3},        // 2.5 → 3
		{-5, 1, 2, -3},      // -2.5 → -3 (away from zero)
		{999, 85, 100, 849}, // 849.15
		{1, 1, 2, 1},
		{1, 1, 3, 0},
		{9223372036854775807 / 2, 2, 2, 9223372036854775807 / 2}, // no overflow
	}
	for _, c := range cases {
		if got := c.f.MulRat(c.num, c.den); got != c.want {
			t.Errorf("%d×%d/%d = %d, want %d", c.f, c.num, c.den, got, c.want)
		}
	}
}

func TestAllocateTable(t *testing.T) {
	cases := []struct {
		name    string
		total   Fen
		weights []int64
		want    []Fen
	}{
		{"even", 100, []int64{1, 1}, []Fen{50, 50}},
		{"thirds", 100, []int64{1, 1, 1}, []Fen{34, 33, 33}},
		{"largest remainder wins", 10, []int64{1, 2, 3}, []Fen{2, 3, 5}},
		{"zero weights split equally", 5, []int64{0, 0}, []Fen{3, 2}},
		{"zero weight gets nothing", 7, []int64{0, 5}, []Fen{0, 7}},
		{"negative total", -100, []int64{1, 1, 1}, []Fen{-34, -33, -33}},
		{"empty", 10, nil, []Fen{}},
		{"zero total", 0, []int64{3, 4}, []Fen{0, 0}},
	}
	for _, c := range cases {
		got := Allocate(c.total, c.weights)
		if len(got) != len(c.want) {
			t.Fatalf("%s: len %d, want %d", c.name, len(got), len(c.want))
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: Allocate(%d, %v) = %v, want %v", c.name, c.total, c.weights, got, c.want)
				break
			}
		}
	}
}

// TestAllocateProperties checks, over many random inputs, that the parts sum
// exactly to the whole, none is negative, and each part is within one fen of
// its exact proportional share.
func TestAllocateProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for iter := 0; iter < 20000; iter++ {
		n := 1 + r.Intn(12)
		w := make([]int64, n)
		var sw int64
		for i := range w {
			if r.Intn(5) > 0 {
				w[i] = r.Int63n(1_000_000)
			}
			sw += w[i]
		}
		total := Fen(r.Int63n(10_000_000))
		parts := Allocate(total, w)
		var sum Fen
		for i, p := range parts {
			if p < 0 {
				t.Fatalf("negative part %d in %v for total %d weights %v", p, parts, total, w)
			}
			if sw > 0 {
				exact := float64(total) * float64(w[i]) / float64(sw)
				if float64(p) < exact-1 || float64(p) > exact+1 {
					t.Fatalf("part %d=%d far from exact %.3f (total %d weights %v)", i, p, exact, total, w)
				}
			}
			sum += p
		}
		if sum != total {
			t.Fatalf("parts %v sum to %d, want %d (weights %v)", parts, sum, total, w)
		}
	}
}
