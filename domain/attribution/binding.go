package attribution

import (
	"slices"
	"time"

	"github.com/yutang/yutang/domain"
)

// Binding (锁客) ties a customer to the KOC or clerk who first brought them:
// from From until Until (exclusive), commission on the customer's orders
// goes to Referrer whatever the later touches. Reports still show the
// touches.
type Binding struct {
	Referrer Touchpoint // a koc or a clerk
	From     time.Time
	Until    time.Time
}

// Active reports whether b binds at now: From ≤ now < Until. A nil binding
// is never active.
func (b *Binding) Active(now time.Time) bool {
	return b != nil && !now.Before(b.From) && now.Before(b.Until)
}

// ResolveBinding returns the customer's binding given their current one
// (nil: never bound), their touches and the brand's binding length in days
// (≤ 0: binding is off). A customer is bound once: an existing binding,
// active or expired, is returned unchanged — nobody can take over a customer
// by touching them later, and an expired binding is not renewed. Otherwise
// the customer is bound, from the time of that touch for days × 24 hours,
// to the first referrer (koc or clerk, in the order the touch lists them)
// on their earliest touch at or before now that has one; with no such
// touch, the result is nil.
func ResolveBinding(current *Binding, touches []Touch, now time.Time, days int) *Binding {
	if current != nil {
		return current
	}
	if days <= 0 {
		return nil
	}
	ts := slices.Clone(touches)
	sortTouches(ts)
	for _, t := range ts {
		if t.At.After(now) {
			break
		}
		for _, tp := range t.Touchpoints {
			if tp.Kind == KindKOC || tp.Kind == KindClerk {
				return &Binding{Referrer: tp, From: t.At, Until: t.At.Add(time.Duration(days) * 24 * time.Hour)}
			}
		}
	}
	return nil
}

// Earner is a referrer who earns commission on part of an order: Lines are
// the amounts of each order line the commission rate applies to, Amount
// their sum. Bound says the referrer earns through a binding.
type Earner struct {
	Referrer Touchpoint
	Bound    bool
	Amount   domain.Fen
	Lines    []LineAmount
}

// CommissionReferrer says who earns commission on an order paid at now,
// whose lines are lines and whose attribution credits are credits:
//
//   - while b is active, the bound referrer alone, on the whole paid goods
//     amount of every line (even for a direct order);
//   - otherwise each KOC on a credited touch, on that touch's credited line
//     amounts (a KOC on several touches earns on their sum); clerks, stores,
//     groups and posts earn no commission.
//
// The earners come in the order of the credits. Commission rates, the
// self-purchase rule and the second level are the commission package's.
func CommissionReferrer(b *Binding, lines []Line, credits []Credit, now time.Time) []Earner {
	if b.Active(now) {
		e := Earner{Referrer: b.Referrer, Bound: true, Lines: make([]LineAmount, len(lines))}
		for i, l := range lines {
			e.Lines[i] = LineAmount{ItemID: l.ItemID, Amount: l.Paid}
			e.Amount += l.Paid
		}
		return []Earner{e}
	}
	var out []Earner
	index := map[Touchpoint]int{}
	for _, c := range credits {
		for _, tp := range c.Touchpoints {
			if tp.Kind != KindKOC {
				continue
			}
			k, ok := index[tp]
			if !ok {
				k = len(out)
				index[tp] = k
				out = append(out, Earner{Referrer: tp})
			}
			e := &out[k]
			e.Amount += c.Amount
			for _, la := range c.Lines {
				if i := slices.IndexFunc(e.Lines, func(x LineAmount) bool { return x.ItemID == la.ItemID }); i >= 0 {
					e.Lines[i].Amount += la.Amount
				} else {
					e.Lines = append(e.Lines, la)
				}
			}
		}
	}
	return out
}
