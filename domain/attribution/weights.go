package attribution

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
)

// WeightScale is the whole of an order's credit: weights are integers of
// WeightScale parts (one part is a billionth) and the weights of one order
// always sum exactly to WeightScale.
const WeightScale int64 = 1_000_000_000

// Weight is one candidate touch's share of the credit, and why.
type Weight struct {
	TouchID int64
	Parts   int64 // of WeightScale
	Reason  string
}

// Percent is the weight as a percentage (for display only).
func (w Weight) Percent() float64 { return float64(w.Parts) * 100 / float64(WeightScale) }

// ErrUnknownModel is returned for a model Weights does not know.
var ErrUnknownModel = domain.E(domain.KindInvalid, "unknown_attribution_model",
	"The attribution model is not known.")

// Weights weighs the candidates of an order placed at placedAt under model
// (halfLife is used by time_decay only; ≤ 0 means DefaultHalfLife). The
// candidates are taken in time order, then ID order (as Candidates returns
// them; Weights sorts a copy anyway) and the weights are returned in that
// order, summing exactly to WeightScale whenever there is a candidate.
// Shares that do not divide WeightScale exactly (a third, the middle of
// position based …) are rounded by largest remainder, earlier touches first
// on ties.
func Weights(model Model, candidates []Touch, placedAt time.Time, halfLife time.Duration) ([]Weight, error) {
	if model == "" {
		model = DefaultModel
	}
	if !model.Valid() {
		return nil, ErrUnknownModel.WithMessage("The attribution model %q is not known.", model)
	}
	ts := slices.Clone(candidates)
	sortTouches(ts)
	n := len(ts)
	ws := make([]Weight, n)
	for i, t := range ts {
		ws[i].TouchID = t.ID
	}
	if n == 0 {
		return ws, nil
	}
	nth := func(i int) string { return strconv.Itoa(i+1) + " of " + strconv.Itoa(n) }
	switch model {
	case ModelLastTouch:
		for i := range ws {
			ws[i].Reason = "not the last touch before the order"
		}
		ws[n-1].Parts = WeightScale
		ws[n-1].Reason = "last touch before the order"
	case ModelFirstTouch:
		for i := range ws {
			ws[i].Reason = "not the first touch in the window"
		}
		ws[0].Parts = WeightScale
		ws[0].Reason = "first touch in the window"
	case ModelLinear:
		parts := split(WeightScale, equal(n))
		for i := range ws {
			ws[i].Parts = parts[i]
			ws[i].Reason = fmt.Sprintf("linear: 1/%d, touch %s", n, nth(i))
		}
	case ModelPositionBased:
		switch n {
		case 1:
			ws[0].Parts, ws[0].Reason = WeightScale, "position based: the only touch gets 100%"
		case 2:
			ws[0].Parts, ws[0].Reason = WeightScale/2, "position based: 50% first of 2"
			ws[1].Parts, ws[1].Reason = WeightScale/2, "position based: 50% last of 2"
		default:
			edge := WeightScale * 4 / 10
			ws[0].Parts, ws[0].Reason = edge, "position based: 40% first of "+strconv.Itoa(n)
			ws[n-1].Parts, ws[n-1].Reason = edge, "position based: 40% last of "+strconv.Itoa(n)
			mid := split(WeightScale-2*edge, equal(n-2))
			for i := 1; i < n-1; i++ {
				ws[i].Parts = mid[i-1]
				ws[i].Reason = fmt.Sprintf("position based: 20%%/%d in the middle, touch %s", n-2, nth(i))
			}
		}
	case ModelTimeDecay:
		if halfLife <= 0 {
			halfLife = DefaultHalfLife
		}
		// raw_i = 2^(−age_i/h). The raws are normalised by the youngest
		// touch's (so the largest is exactly 1 and nothing underflows to an
		// all-zero set), scaled to integers, and WeightScale is split in
		// proportion. The floats only choose the integer weights; the split
		// itself is exact.
		ages := make([]time.Duration, n)
		youngest := placedAt.Sub(ts[n-1].At)
		for i, t := range ts {
			ages[i] = placedAt.Sub(t.At)
			youngest = min(youngest, ages[i])
		}
		const rawScale = 1 << 40
		raw := make([]int64, n)
		for i := range ts {
			rel := float64(ages[i]-youngest) / float64(halfLife)
			raw[i] = int64(math.Round(math.Exp2(-rel) * rawScale))
		}
		parts := split(WeightScale, raw)
		for i := range ts {
			ws[i].Parts = parts[i]
			ws[i].Reason = fmt.Sprintf("time decay: 2^(-%s/%s) = %.3f", hours(ages[i]), hours(halfLife),
				math.Exp2(-float64(ages[i])/float64(halfLife)))
		}
	}
	return ws, nil
}

func equal(n int) []int64 {
	w := make([]int64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// split is domain.Allocate on plain integers.
func split(total int64, weights []int64) []int64 {
	parts := domain.Allocate(domain.Fen(total), weights)
	out := make([]int64, len(parts))
	for i, p := range parts {
		out[i] = int64(p)
	}
	return out
}

func hours(d time.Duration) string {
	return strconv.FormatFloat(d.Hours(), 'f', -1, 64) + "h"
}

// percent formats parts of WeightScale as a percentage with two decimals,
// exactly (no float): 333333334 → "33.33%".
func percent(parts int64) string {
	bp := domain.Fen(parts).MulRat(10000, WeightScale) // hundredths of a percent, half up
	return fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
}
