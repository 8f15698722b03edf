package attribution

import (
	"math/bits"

	"github.com/yutang/yutang/domain"
)

// maxSplitWeight bounds the sum of the weights given to Split so that its
// rounding errors, kept in units of 1/Σweights fen, fit in an int64.
const maxSplitWeight = 1 << 40

// Split divides an order across touches in two dimensions at once. lines
// are the order lines' amounts (≥ 0), weights the touches' weights (≥ 0,
// summing to more than 0 and at most 2^40). It returns cols, the touches'
// shares of the order total, and cells[i][j], touch j's share of line i,
// such that exactly:
//
//   - cols is domain.Allocate(Σ lines, weights): the order total split by
//     largest remainder;
//   - Σ_j cells[i][j] = lines[i] for every line;
//   - Σ_i cells[i][j] = cols[j] for every touch;
//   - every cell is ≥ 0, and a touch of weight 0 gets nothing.
//
// It first splits each line by largest remainder; the touches' column sums
// then differ from cols by at most a few fen, which are moved one at a time
// between two touches within one line — from the touch whose cell is most
// over its exact share to the one most under it — so each cell stays within
// about a fen of lines[i] × weights[j] / Σ weights.
func Split(lines []domain.Fen, weights []int64) (cols []domain.Fen, cells [][]domain.Fen) {
	var w, total int64
	for _, x := range weights {
		if x < 0 {
			panic("attribution: Split: negative weight")
		}
		w += x
		if w > maxSplitWeight {
			panic("attribution: Split: weights sum above 2^40")
		}
	}
	if w == 0 && len(weights) > 0 {
		panic("attribution: Split: all weights are zero")
	}
	for _, l := range lines {
		if l < 0 {
			panic("attribution: Split: negative line amount")
		}
		total += int64(l)
	}
	m := len(weights)
	cols = domain.Allocate(domain.Fen(total), weights)
	cells = make([][]domain.Fen, len(lines))
	// err[i][j] = cells[i][j] × w − lines[i] × weights[j]: how far the cell
	// is over its exact share, in 1/w fen.
	errs := make([][]int64, len(lines))
	diff := make([]domain.Fen, m) // column sum − cols
	for j := range diff {
		diff[j] = -cols[j]
	}
	for i, l := range lines {
		cells[i] = domain.Allocate(l, weights)
		errs[i] = make([]int64, m)
		for j, x := range weights {
			hi, lo := bits.Mul64(uint64(l), uint64(x))
			q, r := bits.Div64(hi, lo, uint64(w)) // exact share = q + r/w
			errs[i][j] = (int64(cells[i][j])-int64(q))*w - int64(r)
			diff[j] += cells[i][j]
		}
	}
	if m == 0 {
		return cols, cells
	}
	for j := range m {
		for diff[j] > 0 {
			k := 0
			for diff[k] >= 0 {
				k++
			}
			best := -1
			var bestScore int64
			for i := range lines {
				if cells[i][j] == 0 {
					continue
				}
				if s := errs[i][j] - errs[i][k]; best < 0 || s > bestScore {
					best, bestScore = i, s
				}
			}
			cells[best][j]--
			cells[best][k]++
			errs[best][j] -= w
			errs[best][k] += w
			diff[j]--
			diff[k]++
		}
	}
	return cols, cells
}
