// Package attribution decides which touchpoints drove an order and how much
// of it each is credited with.
//
// When an order is paid, the buyer's touches in the lookback window before
// the order was placed are the candidates (Candidates). A model gives each
// candidate a weight (Weights); weights are integers of WeightScale parts
// that sum exactly to WeightScale. The order's paid goods amount is split
// across the touches by those weights, line by line, so that every credit
// and every line sums exactly (Attribute). A refund of some lines reverses
// the credits of those lines pro rata (Reverse). Binding (锁客) decides who
// earns commission while a customer is bound to the referrer who brought
// them (ResolveBinding, CommissionReferrer).
//
// Everything here is pure: the same touches, settings and order give the
// same result, so a report can answer under another model from the same
// touches.
package attribution

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
)

// TouchpointKind is a kind of thing that can drive an order.
type TouchpointKind string

// The touchpoint kinds.
const (
	KindGroup TouchpointKind = "group" // a WeChat group
	KindKOC   TouchpointKind = "koc"   // a shopper who shares for the brand
	KindPost  TouchpointKind = "post"  // content: moments post, article, video, live, poster …
	KindStore TouchpointKind = "store"
	KindClerk TouchpointKind = "clerk"
)

// Valid reports whether k is a known kind.
func (k TouchpointKind) Valid() bool {
	switch k {
	case KindGroup, KindKOC, KindPost, KindStore, KindClerk:
		return true
	}
	return false
}

// Touchpoint is one group, KOC, post, store or clerk.
type Touchpoint struct {
	Kind TouchpointKind
	ID   int64
}

func (t Touchpoint) String() string { return fmt.Sprintf("%s %d", t.Kind, t.ID) }

// Touch is one arrival of the visitor through one share link: the link's
// touchpoints, the mini-program scene and the link's code, at a time.
type Touch struct {
	ID          int64
	At          time.Time
	Touchpoints []Touchpoint
	Scene       int
	Code        string
	Chat        Chat // a share opened in a group or a one-to-one chat, when known
}

// Model is how candidate touches share the credit for an order.
type Model string

// The attribution models.
const (
	// ModelLastTouch gives everything to the last touch before the order.
	ModelLastTouch Model = "last_touch"
	// ModelFirstTouch gives everything to the first touch in the window.
	ModelFirstTouch Model = "first_touch"
	// ModelLinear shares equally.
	ModelLinear Model = "linear"
	// ModelTimeDecay weighs each touch by 2^(−age/half-life), age measured
	// back from the order.
	ModelTimeDecay Model = "time_decay"
	// ModelPositionBased gives 40% to the first touch, 40% to the last and
	// shares 20% equally among those between; one touch gets 100%, two get
	// 50% each.
	ModelPositionBased Model = "position_based"
)

// Models lists every model.
var Models = []Model{ModelLastTouch, ModelFirstTouch, ModelLinear, ModelTimeDecay, ModelPositionBased}

// Valid reports whether m is a known model.
func (m Model) Valid() bool { return slices.Contains(Models, m) }

// Defaults and bounds of the settings.
const (
	DefaultModel    = ModelLastTouch
	DefaultLookback = 7 * 24 * time.Hour
	DefaultHalfLife = 24 * time.Hour
	MaxLookback     = 90 * 24 * time.Hour
	MinHalfLife     = time.Minute
	MaxHalfLife     = 30 * 24 * time.Hour
)

// Settings are the brand's attribution settings. Zero fields mean the
// defaults: last touch, a 7-day lookback, a 24-hour half-life.
type Settings struct {
	Model    Model
	Lookback time.Duration
	HalfLife time.Duration // time_decay only
}

// Validate reports every field out of bounds as one validation error.
func (s Settings) Validate() error {
	var fe []domain.FieldError
	if s.Model != "" && !s.Model.Valid() {
		fe = append(fe, domain.FieldError{Field: "model", Code: "one_of",
			Message: "must be one of last_touch, first_touch, linear, time_decay, position_based"})
	}
	if s.Lookback < 0 || s.Lookback > MaxLookback {
		fe = append(fe, domain.FieldError{Field: "lookback", Code: "out_of_range",
			Message: "must be between 0 (the default, 7 days) and 90 days"})
	}
	if s.HalfLife != 0 && (s.HalfLife < MinHalfLife || s.HalfLife > MaxHalfLife) {
		fe = append(fe, domain.FieldError{Field: "half_life", Code: "out_of_range",
			Message: "must be between 1 minute and 30 days (0 for the default, 24 hours)"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

// WithDefaults returns s with its zero fields set to the defaults.
func (s Settings) WithDefaults() Settings {
	if s.Model == "" {
		s.Model = DefaultModel
	}
	if s.Lookback == 0 {
		s.Lookback = DefaultLookback
	}
	if s.HalfLife == 0 {
		s.HalfLife = DefaultHalfLife
	}
	return s
}

// Candidates returns the touches that may take credit for an order placed
// at placedAt: those with placedAt − lookback ≤ At ≤ placedAt. Both edges
// are in: a touch exactly at the start of the window counts, and so does a
// touch at the very instant the order was placed; a touch after placedAt
// never counts (it cannot have driven the order). The result is sorted by
// time, then by ID, so that touches at the same instant always come in the
// same order; a touch ID listed twice counts once, at its earliest time.
func Candidates(touches []Touch, placedAt time.Time, lookback time.Duration) []Touch {
	from := placedAt.Add(-lookback)
	out := make([]Touch, 0, len(touches))
	for _, t := range touches {
		if !t.At.Before(from) && !t.At.After(placedAt) {
			out = append(out, t)
		}
	}
	sortTouches(out)
	seen := make(map[int64]bool, len(out))
	return slices.DeleteFunc(out, func(t Touch) bool {
		dup := seen[t.ID]
		seen[t.ID] = true
		return dup
	})
}

func sortTouches(ts []Touch) {
	slices.SortStableFunc(ts, func(a, b Touch) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
}

// Line is one order line's paid goods amount (freight excluded), the
// amount attribution splits.
type Line struct {
	ItemID int64
	Paid   domain.Fen
}

// LineAmount is the part of a credit (or a reversal) on one order line.
type LineAmount struct {
	ItemID int64
	Amount domain.Fen
}

// InStore marks an order a clerk took in a store: it is credited wholly to
// that clerk and store, whatever the buyer's touches.
type InStore struct {
	ClerkID int64
	StoreID int64
}

// Input is an order to attribute.
type Input struct {
	OrderID  int64
	PlacedAt time.Time
	Lines    []Line
	Touches  []Touch // the buyer's touches; Attribute picks the candidates
	Settings Settings
	InStore  *InStore
}

// Credit is what one touch is credited with: Amount of the order, split
// into Lines (one entry per order line, in the order's line order, zero
// amounts included), booked to every one of Touchpoints. A reversal (from
// Reverse) has the same shape with negative amounts.
type Credit struct {
	TouchID     int64 // 0 for an in-store order
	Touchpoints []Touchpoint
	Weight      int64 // parts of WeightScale
	Amount      domain.Fen
	Lines       []LineAmount
}

// Explanation is the human-readable story of an attribution, kept with the
// order: which touches were candidates, which model, and why each touch got
// its weight.
type Explanation struct {
	Model      Model
	Lookback   time.Duration
	HalfLife   time.Duration // time_decay only
	Candidates []Touch
	Weights    []Weight
	Reasons    []string
}

// Result is the attribution of one order. Direct is true when no touch was
// a candidate (Credits is empty then); InStore when a clerk took the order.
// The credits' Amounts sum exactly to the order's paid goods amount.
type Result struct {
	OrderID     int64
	Model       Model
	Direct      bool
	InStore     bool
	Credits     []Credit
	Explanation Explanation
}

// Errors of attribution.
var (
	ErrOverReversal = domain.E(domain.KindConflict, "attribution_over_reversal",
		"More would be reversed on an order line than is left credited on it.")
	ErrUnknownLine = domain.E(domain.KindInvalid, "attribution_unknown_line",
		"The refunded line is not part of the attributed order.")
)

// Attribute splits the order's paid goods amount among the touches that
// drove it:
//
//   - an in-store order (InStore set) is credited 100% to its clerk and
//     store, as one credit with TouchID 0;
//   - otherwise the candidates (Candidates with Settings.Lookback) are
//     weighed by Settings.Model (Weights); with no candidate the order is
//     Direct;
//   - each line's Paid is split across the touches with a positive weight
//     and the order total likewise, by largest remainder, such that each
//     credit's line amounts sum to its Amount, each line's amounts over all
//     credits sum to its Paid, and the credits sum to the order (see Split).
func Attribute(in Input) (Result, error) {
	if err := in.Settings.Validate(); err != nil {
		return Result{}, err
	}
	set := in.Settings.WithDefaults()
	paid := make([]domain.Fen, len(in.Lines))
	seen := map[int64]bool{}
	var total domain.Fen
	for i, l := range in.Lines {
		if l.Paid < 0 {
			return Result{}, domain.Invalid(domain.FieldError{Field: fmt.Sprintf("lines[%d].paid", i), Code: "out_of_range", Message: "must not be negative"})
		}
		if seen[l.ItemID] {
			return Result{}, domain.Invalid(domain.FieldError{Field: fmt.Sprintf("lines[%d].item_id", i), Code: "duplicate", Message: "is listed twice"})
		}
		seen[l.ItemID] = true
		paid[i] = l.Paid
		total += l.Paid
	}
	res := Result{OrderID: in.OrderID, Model: set.Model}
	ex := Explanation{Model: set.Model, Lookback: set.Lookback}
	if set.Model == ModelTimeDecay {
		ex.HalfLife = set.HalfLife
	}
	at := func(t time.Time) string { return t.In(domain.Shanghai).Format("2006-01-02 15:04:05") }

	if in.InStore != nil {
		res.InStore = true
		c := Credit{
			Touchpoints: []Touchpoint{{KindClerk, in.InStore.ClerkID}, {KindStore, in.InStore.StoreID}},
			Weight:      WeightScale,
			Amount:      total,
			Lines:       lineAmounts(in.Lines, paid),
		}
		res.Credits = []Credit{c}
		ex.Reasons = append(ex.Reasons, fmt.Sprintf(
			"In-store order taken by clerk %d at store %d: 100%% (¥%s) to them, whatever the buyer's touches.",
			in.InStore.ClerkID, in.InStore.StoreID, total.Yuan()))
		res.Explanation = ex
		return res, nil
	}

	cands := Candidates(in.Touches, in.PlacedAt, set.Lookback)
	ex.Candidates = cands
	var after, before int
	for _, t := range in.Touches {
		switch {
		case t.At.After(in.PlacedAt):
			after++
		case t.At.Before(in.PlacedAt.Add(-set.Lookback)):
			before++
		}
	}
	window := fmt.Sprintf("the %s lookback window (%s – %s)", lookbackText(set.Lookback),
		at(in.PlacedAt.Add(-set.Lookback)), at(in.PlacedAt))
	if len(cands) == 0 {
		res.Direct = true
		ex.Reasons = append(ex.Reasons, "No touch in "+window+": a direct order.")
	} else {
		ex.Reasons = append(ex.Reasons, fmt.Sprintf("%d candidate touch%s in %s; model %s.",
			len(cands), plural(len(cands), "", "es"), window, set.Model))
	}
	if before > 0 {
		ex.Reasons = append(ex.Reasons, fmt.Sprintf("%d touch%s before the window ignored.", before, plural(before, "", "es")))
	}
	if after > 0 {
		ex.Reasons = append(ex.Reasons, fmt.Sprintf("%d touch%s after the order was placed ignored.", after, plural(after, "", "es")))
	}
	if res.Direct {
		res.Explanation = ex
		return res, nil
	}

	ws, err := Weights(set.Model, cands, in.PlacedAt, set.HalfLife)
	if err != nil {
		return Result{}, err
	}
	ex.Weights = ws
	var credited []int // indexes into cands with a positive weight
	var weights []int64
	for i, w := range ws {
		if w.Parts > 0 {
			credited = append(credited, i)
			weights = append(weights, w.Parts)
		}
	}
	cols, cells := Split(paid, weights)
	amountOf := map[int64]domain.Fen{}
	for k, i := range credited {
		t := cands[i]
		c := Credit{TouchID: t.ID, Touchpoints: slices.Clone(t.Touchpoints), Weight: ws[i].Parts, Amount: cols[k]}
		c.Lines = make([]LineAmount, len(in.Lines))
		for li, l := range in.Lines {
			c.Lines[li] = LineAmount{ItemID: l.ItemID, Amount: cells[li][k]}
		}
		res.Credits = append(res.Credits, c)
		amountOf[t.ID] = cols[k]
	}
	for i, w := range ws {
		t := cands[i]
		ex.Reasons = append(ex.Reasons, fmt.Sprintf("touch %d at %s (%s): %s → ¥%s — %s",
			t.ID, at(t.At), touchpointsText(t.Touchpoints), percent(w.Parts), amountOf[t.ID].Yuan(), w.Reason))
	}
	res.Explanation = ex
	return res, nil
}

func lineAmounts(lines []Line, amounts []domain.Fen) []LineAmount {
	out := make([]LineAmount, len(lines))
	for i, l := range lines {
		out[i] = LineAmount{ItemID: l.ItemID, Amount: amounts[i]}
	}
	return out
}

func touchpointsText(tps []Touchpoint) string {
	if len(tps) == 0 {
		return "no touchpoint"
	}
	s := make([]string, len(tps))
	for i, t := range tps {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func lookbackText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	}
	return d.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
