package attribution

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

var placed = time.Date(2026, 11, 22, 20, 0, 0, 0, domain.Shanghai)

func touch(id int64, before time.Duration, tps ...Touchpoint) Touch {
	return Touch{ID: id, At: placed.Add(-before), Touchpoints: tps}
}

func koc(id int64) Touchpoint   { return Touchpoint{KindKOC, id} }
func group(id int64) Touchpoint { return Touchpoint{KindGroup, id} }
func post(id int64) Touchpoint  { return Touchpoint{KindPost, id} }

func touchIDs(ts []Touch) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func eqInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCandidates(t *testing.T) {
	week := 7 * 24 * time.Hour
	cases := []struct {
		name    string
		touches []Touch
		want    []int64
	}{
		{"none", nil, []int64{}},
		{"exactly at the window start is in", []Touch{touch(1, week)}, []int64{1}},
		{"just before the window is out", []Touch{touch(1, week+time.Nanosecond)}, []int64{}},
		{"exactly at placedAt is in", []Touch{touch(1, 0)}, []int64{1}},
		{"after placedAt is out", []Touch{touch(1, -time.Nanosecond), touch(2, -time.Hour)}, []int64{}},
		{"sorted by time", []Touch{touch(3, time.Hour), touch(1, 3*time.Hour), touch(2, 2*time.Hour)}, []int64{1, 2, 3}},
		{"ties in time by ID", []Touch{touch(9, time.Hour), touch(4, time.Hour), touch(7, time.Hour)}, []int64{4, 7, 9}},
		{"a touch listed twice counts once", []Touch{touch(5, time.Hour), touch(5, time.Hour)}, []int64{5}},
		{"mixed", []Touch{touch(1, 8*24*time.Hour), touch(2, 6*24*time.Hour), touch(3, 0), touch(4, -time.Minute)}, []int64{2, 3}},
	}
	for _, c := range cases {
		got := touchIDs(Candidates(c.touches, placed, week))
		if !eqInts(got, c.want) {
			t.Errorf("%s: candidates %v, want %v", c.name, got, c.want)
		}
	}
	// The window does not depend on the location of the times.
	utc := touch(1, week)
	utc.At = utc.At.UTC()
	if len(Candidates([]Touch{utc}, placed, week)) != 1 {
		t.Error("edge touch in another location must be in")
	}
}

func parts(ws []Weight) []int64 {
	out := make([]int64, len(ws))
	for i, w := range ws {
		out[i] = w.Parts
	}
	return out
}

func TestWeights(t *testing.T) {
	five := []Touch{touch(1, 50*time.Hour), touch(2, 40*time.Hour), touch(3, 30*time.Hour), touch(4, 20*time.Hour), touch(5, 10*time.Hour)}
	cases := []struct {
		name   string
		model  Model
		cands  []Touch
		want   []int64
		reason []string // substrings of each reason, "" to skip
	}{
		{"last touch, one", ModelLastTouch, five[:1], []int64{WeightScale}, []string{"last touch before the order"}},
		{"last touch, five", ModelLastTouch, five, []int64{0, 0, 0, 0, WeightScale}, []string{"not the last", "", "", "", "last touch before the order"}},
		{"default model is last touch", "", five[:2], []int64{0, WeightScale}, nil},
		{"last touch, tie in time goes to the larger ID", ModelLastTouch, []Touch{touch(8, time.Hour), touch(3, time.Hour)}, []int64{0, WeightScale}, nil},
		{"first touch", ModelFirstTouch, five, []int64{WeightScale, 0, 0, 0, 0}, []string{"first touch in the window"}},
		{"first touch, tie in time goes to the smaller ID", ModelFirstTouch, []Touch{touch(8, time.Hour), touch(3, time.Hour)}, []int64{WeightScale, 0}, nil},
		{"linear, one", ModelLinear, five[:1], []int64{WeightScale}, nil},
		{"linear, three", ModelLinear, five[:3], []int64{333333334, 333333333, 333333333}, []string{"1/3"}},
		{"linear, five", ModelLinear, five, []int64{2e8, 2e8, 2e8, 2e8, 2e8}, nil},
		{"position based, one", ModelPositionBased, five[:1], []int64{WeightScale}, []string{"100%"}},
		{"position based, two", ModelPositionBased, five[:2], []int64{5e8, 5e8}, []string{"50% first of 2", "50% last of 2"}},
		{"position based, three", ModelPositionBased, five[:3], []int64{4e8, 2e8, 4e8}, []string{"40% first of 3", "20%/1 in the middle", "40% last of 3"}},
		{"position based, five", ModelPositionBased, five, []int64{4e8, 66666667, 66666667, 66666666, 4e8}, []string{"40% first of 5", "20%/3", "", "", "40% last of 5"}},
		{"time decay halves per half-life", ModelTimeDecay, []Touch{touch(1, 48*time.Hour), touch(2, 24*time.Hour), touch(3, 0)},
			[]int64{142857143, 285714286, 571428571}, []string{"2^(-48h/24h) = 0.250", "2^(-24h/24h) = 0.500", "2^(-0h/24h) = 1.000"}},
		{"time decay 36h", ModelTimeDecay, []Touch{touch(1, 36*time.Hour), touch(2, 12*time.Hour)},
			[]int64{333333333, 666666667}, []string{"2^(-36h/24h) = 0.354", "2^(-12h/24h) = 0.707"}},
		{"time decay, one", ModelTimeDecay, []Touch{touch(1, 1000*time.Hour)}, []int64{WeightScale}, nil},
		{"time decay, same time is equal", ModelTimeDecay, []Touch{touch(1, time.Hour), touch(2, time.Hour)}, []int64{5e8, 5e8}, nil},
		{"time decay, very old touch gets nothing", ModelTimeDecay, []Touch{touch(1, 7*24*time.Hour), touch(2, 0)}, []int64{0, WeightScale}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hl := DefaultHalfLife
			if c.name == "time decay, very old touch gets nothing" {
				hl = time.Hour
			}
			ws, err := Weights(c.model, c.cands, placed, hl)
			if err != nil {
				t.Fatal(err)
			}
			if got := parts(ws); !eqInts(got, c.want) {
				t.Fatalf("weights %v, want %v", got, c.want)
			}
			var sum int64
			for i, w := range ws {
				sum += w.Parts
				if i < len(c.reason) && !strings.Contains(w.Reason, c.reason[i]) {
					t.Errorf("reason %d %q, want it to contain %q", i, w.Reason, c.reason[i])
				}
			}
			if sum != WeightScale {
				t.Fatalf("weights sum to %d", sum)
			}
		})
	}
}

func TestWeightsSortsAndRejectsUnknownModel(t *testing.T) {
	ws, err := Weights(ModelLastTouch, []Touch{touch(2, 0), touch(1, time.Hour)}, placed, 0)
	if err != nil || ws[0].TouchID != 1 || ws[1].TouchID != 2 || ws[1].Parts != WeightScale {
		t.Fatalf("weights %+v err %v", ws, err)
	}
	if ws, err := Weights(ModelLinear, nil, placed, 0); err != nil || len(ws) != 0 {
		t.Fatalf("no candidates: %v %v", ws, err)
	}
	if _, err := Weights("w_shaped", nil, placed, 0); !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("err = %v", err)
	}
}

func TestSettings(t *testing.T) {
	cases := []struct {
		s  Settings
		ok bool
	}{
		{Settings{}, true},
		{Settings{Model: ModelTimeDecay, Lookback: 24 * time.Hour, HalfLife: 6 * time.Hour}, true},
		{Settings{Model: "u_shaped"}, false},
		{Settings{Lookback: -time.Hour}, false},
		{Settings{Lookback: 91 * 24 * time.Hour}, false},
		{Settings{HalfLife: time.Second}, false},
		{Settings{HalfLife: 31 * 24 * time.Hour}, false},
	}
	for _, c := range cases {
		err := c.s.Validate()
		if (err == nil) != c.ok || (err != nil && domain.KindOf(err) != domain.KindInvalid) {
			t.Errorf("%+v: Validate = %v", c.s, err)
		}
	}
	d := Settings{}.WithDefaults()
	if d.Model != ModelLastTouch || d.Lookback != 7*24*time.Hour || d.HalfLife != 24*time.Hour {
		t.Errorf("defaults %+v", d)
	}
	if _, err := Attribute(Input{Settings: Settings{Model: "nope"}}); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("Attribute with bad settings: %v", err)
	}
}

// checkResult checks that a result splits the order exactly.
func checkResult(t *testing.T, in Input, r Result) {
	t.Helper()
	var total domain.Fen
	for _, l := range in.Lines {
		total += l.Paid
	}
	if r.Direct {
		if len(r.Credits) != 0 {
			t.Fatalf("direct order with credits %+v", r.Credits)
		}
		return
	}
	var sum, weight int64
	perLine := make([]domain.Fen, len(in.Lines))
	for _, c := range r.Credits {
		if c.Amount < 0 || c.Weight <= 0 {
			t.Fatalf("credit %+v", c)
		}
		sum += int64(c.Amount)
		weight += c.Weight
		if len(c.Lines) != len(in.Lines) {
			t.Fatalf("credit has %d lines for %d", len(c.Lines), len(in.Lines))
		}
		var cs domain.Fen
		for i, la := range c.Lines {
			if la.ItemID != in.Lines[i].ItemID || la.Amount < 0 {
				t.Fatalf("credit line %d: %+v", i, la)
			}
			cs += la.Amount
			perLine[i] += la.Amount
		}
		if cs != c.Amount {
			t.Fatalf("credit lines sum to %d, credit is %d", cs, c.Amount)
		}
	}
	if domain.Fen(sum) != total || weight != WeightScale {
		t.Fatalf("credits sum to %d (weights %d), order is %d", sum, weight, total)
	}
	for i, l := range in.Lines {
		if perLine[i] != l.Paid {
			t.Fatalf("line %d credited %d, paid %d", i, perLine[i], l.Paid)
		}
	}
}

func TestAttribute(t *testing.T) {
	lines := []Line{{ItemID: 11, Paid: 1000}, {ItemID: 12, Paid: 2001}, {ItemID: 13, Paid: 0}}
	touches := []Touch{
		touch(1, 5*24*time.Hour, post(100), koc(7)),
		touch(2, 30*time.Hour, post(100), koc(8), group(3)),
		touch(3, time.Hour, post(101)),
		touch(4, 8*24*time.Hour, koc(9)), // before the window
		touch(5, -time.Minute, koc(10)),  // after the order
	}
	cases := []struct {
		name     string
		settings Settings
		inStore  *InStore
		touches  []Touch
		direct   bool
		want     map[int64]domain.Fen // touch → amount
	}{
		{"last touch", Settings{}, nil, touches, false, map[int64]domain.Fen{3: 3001}},
		{"first touch", Settings{Model: ModelFirstTouch}, nil, touches, false, map[int64]domain.Fen{1: 3001}},
		{"linear", Settings{Model: ModelLinear}, nil, touches, false, map[int64]domain.Fen{1: 1001, 2: 1000, 3: 1000}},
		{"position based", Settings{Model: ModelPositionBased}, nil, touches, false, map[int64]domain.Fen{1: 1201, 2: 600, 3: 1200}},
		{"shorter lookback", Settings{Lookback: 2 * 24 * time.Hour, Model: ModelLinear}, nil, touches, false, map[int64]domain.Fen{2: 1501, 3: 1500}},
		{"no candidate is direct", Settings{}, nil, touches[3:], true, nil},
		{"no touch at all is direct", Settings{}, nil, nil, true, nil},
		{"in-store goes to the clerk and store", Settings{}, &InStore{ClerkID: 4, StoreID: 2}, touches, false, map[int64]domain.Fen{0: 3001}},
		{"in-store without touches", Settings{Model: ModelLinear}, &InStore{ClerkID: 4, StoreID: 2}, nil, false, map[int64]domain.Fen{0: 3001}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{OrderID: 99, PlacedAt: placed, Lines: lines, Touches: c.touches, Settings: c.settings, InStore: c.inStore}
			r, err := Attribute(in)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, in, r)
			if r.Direct != c.direct || r.OrderID != 99 {
				t.Fatalf("direct %v, want %v", r.Direct, c.direct)
			}
			got := map[int64]domain.Fen{}
			for _, cr := range r.Credits {
				got[cr.TouchID] = cr.Amount
			}
			if len(got) != len(c.want) {
				t.Fatalf("credits %v, want %v", got, c.want)
			}
			for id, a := range c.want {
				if got[id] != a {
					t.Fatalf("credits %v, want %v", got, c.want)
				}
			}
			if len(r.Explanation.Reasons) == 0 {
				t.Fatal("no explanation")
			}
		})
	}
}

func TestAttributeInStoreTouchpoints(t *testing.T) {
	r, err := Attribute(Input{PlacedAt: placed, Lines: []Line{{ItemID: 1, Paid: 500}},
		Touches: []Touch{touch(1, time.Hour, koc(3))}, InStore: &InStore{ClerkID: 4, StoreID: 2}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Credits[0]
	if !r.InStore || r.Direct || len(c.Touchpoints) != 2 || c.Touchpoints[0] != (Touchpoint{KindClerk, 4}) ||
		c.Touchpoints[1] != (Touchpoint{KindStore, 2}) || c.Weight != WeightScale {
		t.Fatalf("in-store credit %+v", r)
	}
	if !strings.Contains(r.Explanation.Reasons[0], "clerk 4 at store 2") {
		t.Fatalf("explanation %q", r.Explanation.Reasons)
	}
}

func TestAttributeExplanation(t *testing.T) {
	in := Input{PlacedAt: placed, Lines: []Line{{ItemID: 1, Paid: 10000}},
		Settings: Settings{Model: ModelPositionBased},
		Touches: []Touch{
			touch(1, 4*time.Hour, post(5), koc(6)), touch(2, 3*time.Hour, group(7)), touch(3, 2*time.Hour, koc(6)),
			touch(4, time.Hour, post(9)), touch(5, 0, koc(8)), touch(6, -time.Hour, koc(1)),
		}}
	r, err := Attribute(in)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(r.Explanation.Reasons, "\n")
	for _, want := range []string{
		"5 candidate touches in the 7-day lookback window (2026-11-15 20:00:00 – 2026-11-22 20:00:00); model position_based.",
		"1 touch after the order was placed ignored.",
		"touch 1 at 2026-11-22 16:00:00 (post 5, koc 6): 40.00% → ¥40.00 — position based: 40% first of 5",
		"touch 2 at 2026-11-22 17:00:00 (group 7): 6.67% → ¥6.67 — position based: 20%/3 in the middle, touch 2 of 5",
		"touch 5 at 2026-11-22 20:00:00 (koc 8): 40.00% → ¥40.00 — position based: 40% last of 5",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	if len(r.Explanation.Candidates) != 5 || len(r.Explanation.Weights) != 5 || r.Explanation.Model != ModelPositionBased {
		t.Errorf("explanation %+v", r.Explanation)
	}
	d, _ := Attribute(Input{PlacedAt: placed, Lines: in.Lines})
	if !d.Direct || !strings.Contains(d.Explanation.Reasons[0], "a direct order") {
		t.Errorf("direct explanation %q", d.Explanation.Reasons)
	}
}

func TestAttributeRejectsBadLines(t *testing.T) {
	for _, lines := range [][]Line{{{ItemID: 1, Paid: -1}}, {{ItemID: 1, Paid: 1}, {ItemID: 1, Paid: 2}}} {
		if _, err := Attribute(Input{PlacedAt: placed, Lines: lines}); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("lines %v: err %v", lines, err)
		}
	}
}

func TestAttributeTimeDecayZeroWeightTouchNotCredited(t *testing.T) {
	in := Input{PlacedAt: placed, Lines: []Line{{ItemID: 1, Paid: 100}},
		Settings: Settings{Model: ModelTimeDecay, HalfLife: time.Minute},
		Touches:  []Touch{touch(1, 6*24*time.Hour), touch(2, 0)}}
	r, err := Attribute(in)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, in, r)
	if len(r.Credits) != 1 || r.Credits[0].TouchID != 2 || len(r.Explanation.Weights) != 2 {
		t.Fatalf("credits %+v", r.Credits)
	}
}

func TestCandidatesDuplicateIDKeepsEarliest(t *testing.T) {
	got := Candidates([]Touch{touch(5, time.Hour), touch(3, 2*time.Hour), touch(5, 3*time.Hour)}, placed, 24*time.Hour)
	if len(got) != 2 || got[0].ID != 5 || !got[0].At.Equal(placed.Add(-3*time.Hour)) || got[1].ID != 3 {
		t.Fatalf("candidates %+v", got)
	}
}
