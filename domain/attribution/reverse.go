package attribution

import (
	"fmt"
	"slices"

	"github.com/yutang/yutang/domain"
)

// Reverse returns the reversals for a refund of some lines of an attributed
// order. credits are the order's credits together with every reversal
// already made for it (so that repeated partial refunds never reverse more
// than was credited); refunded maps an order line's ItemID to the amount of
// its Paid now refunded.
//
// Each refunded amount is split across the touches in proportion to what is
// still credited to them on that line, by largest remainder: the reversals
// of a line sum exactly to its refunded amount, no touch's reversal exceeds
// what it still has on that line, and refunding all that is left of a line
// reverses exactly each touch's remaining credit on it. A reversal is a
// Credit with negative amounts (one per touch with anything reversed), its
// Lines listing the refunded lines only.
//
// Refunding more than is still credited on a line is ErrOverReversal; a line
// that is not in the credits is ErrUnknownLine. An order without credits (a
// direct order) has nothing to reverse.
func Reverse(credits []Credit, refunded map[int64]domain.Fen) ([]Credit, error) {
	if len(credits) == 0 {
		return nil, nil
	}
	// Net remaining credit per touch and line, touches and lines in order
	// of first appearance.
	type touch struct {
		c   Credit
		net map[int64]domain.Fen
	}
	var touches []*touch
	byID := map[int64]*touch{}
	var items []int64
	known := map[int64]bool{}
	for _, c := range credits {
		t := byID[c.TouchID]
		if t == nil {
			t = &touch{c: c, net: map[int64]domain.Fen{}}
			byID[c.TouchID] = t
			touches = append(touches, t)
		}
		for _, la := range c.Lines {
			t.net[la.ItemID] += la.Amount
			if !known[la.ItemID] {
				known[la.ItemID] = true
				items = append(items, la.ItemID)
			}
		}
	}
	var refundItems []int64
	for id := range refunded {
		refundItems = append(refundItems, id)
	}
	// Lines in the order's order.
	slices.SortFunc(refundItems, func(a, b int64) int {
		return slices.Index(items, a) - slices.Index(items, b)
	})
	rev := make([][]LineAmount, len(touches))
	for _, item := range refundItems {
		amount := refunded[item]
		if !known[item] {
			return nil, ErrUnknownLine.WithMessage("Line %d is not part of the attributed order.", item)
		}
		if amount < 0 {
			return nil, domain.Invalid(domain.FieldError{Field: fmt.Sprintf("refunded[%d]", item), Code: "out_of_range", Message: "must not be negative"})
		}
		weights := make([]domain.Fen, len(touches))
		var left domain.Fen
		for j, t := range touches {
			n := t.net[item]
			if n < 0 {
				return nil, ErrOverReversal.WithMessage("Touch %d has reversed more than it was credited on line %d.", t.c.TouchID, item)
			}
			weights[j] = n
			left += n
		}
		if amount > left {
			return nil, ErrOverReversal.WithMessage("Line %d: ¥%s to reverse, ¥%s left credited.", item, amount.Yuan(), left.Yuan())
		}
		parts := domain.AllocateFen(amount, weights)
		for j := range touches {
			rev[j] = append(rev[j], LineAmount{ItemID: item, Amount: -parts[j]})
		}
	}
	var out []Credit
	for j, t := range touches {
		var sum domain.Fen
		for _, la := range rev[j] {
			sum += la.Amount
		}
		if sum == 0 {
			continue
		}
		out = append(out, Credit{
			TouchID:     t.c.TouchID,
			Touchpoints: slices.Clone(t.c.Touchpoints),
			Weight:      t.c.Weight,
			Amount:      sum,
			Lines:       rev[j],
		})
	}
	return out, nil
}
