package domain

import (
	"fmt"
	"math/big"
	"sort"
)

// Fen is an amount of money in fen (0.01 yuan). Money is never a float.
type Fen int64

// Yuan formats f as yuan with two decimals ("12.30", "-0.05"), for display at
// the edge only.
func (f Fen) Yuan() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MulRat returns f × num / den rounded half up (away from zero for negative
// amounts): the one rounding rule of yutang for a rate applied to an amount
// (a percentage discount, a commission rate, a points value). den must be > 0.
// It computes exactly with big integers, so no intermediate overflows.
func (f Fen) MulRat(num, den int64) Fen {
	if den <= 0 {
		panic("domain: MulRat: non-positive denominator")
	}
	p := new(big.Int).Mul(big.NewInt(int64(f)), big.NewInt(num))
	neg := p.Sign() < 0
	p.Abs(p)
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(p, d, new(big.Int))
	if new(big.Int).Mul(r, big.NewInt(2)).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return Fen(q.Int64())
}

// MulBasisPoints returns f × bp / 10000, rounded half up (1 bp = 0.01%).
func (f Fen) MulBasisPoints(bp int64) Fen { return f.MulRat(bp, 10000) }

// Allocate splits total into len(weights) parts proportional to the weights by
// the largest-remainder method: each part is floor(total×w/Σw), and the fen
// left over go one each to the parts with the largest remainders (ties to the
// earlier part). The parts always sum exactly to total; with total ≥ 0 and
// weights ≥ 0 no part is negative and no part exceeds its exact share rounded
// up. When every weight is zero the split is by equal weights. total may be
// negative (a reversal): the parts are then the negated split of -total.
// It panics on a negative weight, which is a programming error.
func Allocate(total Fen, weights []int64) []Fen {
	n := len(weights)
	parts := make([]Fen, n)
	if n == 0 {
		return parts
	}
	if total < 0 {
		for i, p := range Allocate(-total, weights) {
			parts[i] = -p
		}
		return parts
	}
	sum := new(big.Int)
	for _, w := range weights {
		if w < 0 {
			panic("domain: Allocate: negative weight")
		}
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Sign() == 0 {
		eq := make([]int64, n)
		for i := range eq {
			eq[i] = 1
		}
		return Allocate(total, eq)
	}
	rems := make([]*big.Int, n)
	given := int64(0)
	t := big.NewInt(int64(total))
	for i, w := range weights {
		p := new(big.Int).Mul(t, big.NewInt(w))
		q, r := new(big.Int).QuoRem(p, sum, new(big.Int))
		parts[i] = Fen(q.Int64())
		rems[i] = r
		given += q.Int64()
	}
	left := int64(total) - given
	// Hand out the leftover fen to the largest remainders, earliest first on ties.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sortByRemainder(idx, rems)
	for k := 0; k < int(left); k++ {
		parts[idx[k%n]]++
	}
	return parts
}

// AllocateFen is Allocate with Fen weights (amounts split pro rata to amounts).
func AllocateFen(total Fen, weights []Fen) []Fen {
	w := make([]int64, len(weights))
	for i, f := range weights {
		if f < 0 {
			f = 0
		}
		w[i] = int64(f)
	}
	return Allocate(total, w)
}

func sortByRemainder(idx []int, rems []*big.Int) {
	sort.SliceStable(idx, func(i, j int) bool { return rems[idx[i]].Cmp(rems[idx[j]]) > 0 })
}

// Sum adds amounts.
func Sum(fs ...Fen) Fen {
	var s Fen
	for _, f := range fs {
		s += f
	}
	return s
}
