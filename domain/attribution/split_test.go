package attribution

import (
	"math/big"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func TestSplitTable(t *testing.T) {
	cases := []struct {
		name    string
		lines   []domain.Fen
		weights []int64
		cols    []domain.Fen
		cells   [][]domain.Fen
	}{
		{"one touch", []domain.Fen{100, 50}, []int64{1}, []domain.Fen{150}, [][]domain.Fen{{100}, {50}}},
		{"halves of odd lines", []domain.Fen{1, 1, 1}, []int64{1, 1}, []domain.Fen{2, 1},
			// per line every fen would go to the first touch; the order split is 2:1, so one
			// fen moves to the second touch, on the earliest line (all are equally far off).
			[][]domain.Fen{{0, 1}, {1, 0}, {1, 0}}},
		{"zero weight gets nothing", []domain.Fen{7, 9}, []int64{0, 3, 1}, []domain.Fen{0, 12, 4}, [][]domain.Fen{{0, 5, 2}, {0, 7, 2}}},
		{"no lines", nil, []int64{1, 1}, []domain.Fen{0, 0}, [][]domain.Fen{}},
		{"zero lines", []domain.Fen{0, 0}, []int64{1, 2}, []domain.Fen{0, 0}, [][]domain.Fen{{0, 0}, {0, 0}}},
	}
	for _, c := range cases {
		cols, cells := Split(c.lines, c.weights)
		if !reflect.DeepEqual(cols, c.cols) || !reflect.DeepEqual(cells, c.cells) {
			t.Errorf("%s: Split = %v %v, want %v %v", c.name, cols, cells, c.cols, c.cells)
		}
	}
}

// TestSplitProperties checks the 2-D split over many random orders: exact
// row and column sums, columns equal to the 1-D split of the total, nothing
// negative, each cell within 2 fen of its exact share.
func TestSplitProperties(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for iter := 0; iter < 20000; iter++ {
		n, m := r.Intn(8), 1+r.Intn(8)
		lines := make([]domain.Fen, n)
		for i := range lines {
			switch r.Intn(4) {
			case 0:
				lines[i] = domain.Fen(r.Intn(5))
			case 1:
				lines[i] = domain.Fen(r.Int63n(1_000_000_000_000))
			default:
				lines[i] = domain.Fen(r.Int63n(100_000))
			}
		}
		weights := make([]int64, m)
		var w int64
		for w == 0 {
			w = 0
			for j := range weights {
				if r.Intn(4) > 0 {
					weights[j] = r.Int63n(WeightScale / int64(m))
				} else {
					weights[j] = 0
				}
				w += weights[j]
			}
		}
		cols, cells := Split(lines, weights)
		var total domain.Fen
		for _, l := range lines {
			total += l
		}
		if !reflect.DeepEqual(cols, domain.Allocate(total, weights)) {
			t.Fatalf("cols %v are not the split of the total", cols)
		}
		colSum := make([]domain.Fen, m)
		for i, row := range cells {
			var rs domain.Fen
			for j, c := range row {
				if c < 0 || (weights[j] == 0 && c != 0) {
					t.Fatalf("cell %d,%d = %d (weight %d)", i, j, c, weights[j])
				}
				rs += c
				colSum[j] += c
				// |c − l×w_j/w| < 2, exactly: |c×w − l×w_j| < 2w.
				d := new(big.Int).Sub(new(big.Int).Mul(big.NewInt(int64(c)), big.NewInt(w)),
					new(big.Int).Mul(big.NewInt(int64(lines[i])), big.NewInt(weights[j])))
				if d.Abs(d).Cmp(big.NewInt(2*w)) >= 0 {
					t.Fatalf("cell %d,%d = %d too far from %d×%d/%d", i, j, c, lines[i], weights[j], w)
				}
			}
			if rs != lines[i] {
				t.Fatalf("row %d sums to %d, want %d", i, rs, lines[i])
			}
		}
		if !reflect.DeepEqual(colSum, cols) {
			t.Fatalf("columns sum to %v, want %v", colSum, cols)
		}
	}
}

func randomAttribution(r *rand.Rand) Input {
	in := Input{OrderID: r.Int63n(1000), PlacedAt: placed}
	for i := range 1 + r.Intn(6) {
		paid := domain.Fen(r.Int63n(50_000))
		if r.Intn(6) == 0 {
			paid = domain.Fen(r.Intn(3))
		}
		in.Lines = append(in.Lines, Line{ItemID: int64(100 + i), Paid: paid})
	}
	for i := range r.Intn(9) {
		at := placed.Add(-time.Duration(r.Int63n(int64(9 * 24 * time.Hour)))).Add(time.Duration(r.Int63n(int64(2 * time.Hour))))
		if r.Intn(5) == 0 && i > 0 {
			at = in.Touches[r.Intn(i)].At // ties in time
		}
		kinds := []TouchpointKind{KindGroup, KindKOC, KindPost, KindStore, KindClerk}
		in.Touches = append(in.Touches, Touch{ID: int64(r.Intn(20) + 1), At: at,
			Touchpoints: []Touchpoint{{kinds[r.Intn(5)], int64(r.Intn(5))}}})
	}
	in.Settings.Model = append([]Model{""}, Models...)[r.Intn(len(Models)+1)]
	if r.Intn(2) == 0 {
		in.Settings.Lookback = time.Duration(1+r.Intn(10*24)) * time.Hour
	}
	if r.Intn(2) == 0 {
		in.Settings.HalfLife = time.Duration(1+r.Intn(72)) * time.Hour
	}
	if r.Intn(10) == 0 {
		in.InStore = &InStore{ClerkID: 1, StoreID: 2}
	}
	return in
}

// TestAttributeProperties: for random orders, touches and settings the
// credits sum exactly to the order and to each line, nothing is negative,
// credited touches are candidates, and the result is deterministic and does
// not depend on the order the touches are listed in.
func TestAttributeProperties(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		r := rand.New(rand.NewSource(seed))
		direct := 0
		for iter := 0; iter < 3000; iter++ {
			in := randomAttribution(r)
			res, err := Attribute(in)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, in, res)
			if res.Direct {
				direct++
			}
			set := in.Settings.WithDefaults()
			cands := map[int64]bool{}
			for _, c := range Candidates(in.Touches, in.PlacedAt, set.Lookback) {
				cands[c.ID] = true
			}
			for _, c := range res.Credits {
				if in.InStore == nil && !cands[c.TouchID] {
					t.Fatalf("seed %d iter %d: credit for non-candidate touch %d", seed, iter, c.TouchID)
				}
			}
			shuffled := in
			shuffled.Touches = append([]Touch(nil), in.Touches...)
			r.Shuffle(len(shuffled.Touches), func(i, j int) {
				shuffled.Touches[i], shuffled.Touches[j] = shuffled.Touches[j], shuffled.Touches[i]
			})
			again, _ := Attribute(shuffled)
			// Duplicate touch IDs at different times may keep a different copy; compare only without duplicates.
			if !hasDuplicateIDs(in.Touches) && !reflect.DeepEqual(res.Credits, again.Credits) {
				t.Fatalf("seed %d iter %d: result depends on the listing order of touches", seed, iter)
			}
		}
		if direct == 0 || direct > 2000 {
			t.Fatalf("generator is lopsided: %d direct", direct)
		}
	}
}

func hasDuplicateIDs(ts []Touch) bool {
	seen := map[int64]bool{}
	for _, t := range ts {
		if seen[t.ID] {
			return true
		}
		seen[t.ID] = true
	}
	return false
}
