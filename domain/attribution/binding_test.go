package attribution

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func clerk(id int64) Touchpoint { return Touchpoint{KindClerk, id} }

func TestResolveBinding(t *testing.T) {
	now := placed
	existing := &Binding{Referrer: koc(1), From: now.Add(-100 * 24 * time.Hour), Until: now.Add(-70 * 24 * time.Hour)}
	cases := []struct {
		name    string
		current *Binding
		touches []Touch
		days    int
		want    *Binding
	}{
		{"off", nil, []Touch{touch(1, time.Hour, koc(5))}, 0, nil},
		{"no referrer on any touch", nil, []Touch{touch(1, time.Hour, post(5), group(2))}, 30, nil},
		{"first KOC", nil, []Touch{touch(2, time.Hour, koc(6)), touch(1, 2*time.Hour, post(3), koc(5))}, 30,
			&Binding{Referrer: koc(5), From: now.Add(-2 * time.Hour), Until: now.Add(-2*time.Hour + 30*24*time.Hour)}},
		{"first clerk", nil, []Touch{touch(2, time.Hour, koc(6)), touch(1, 2*time.Hour, clerk(4), Touchpoint{KindStore, 1})}, 7,
			&Binding{Referrer: clerk(4), From: now.Add(-2 * time.Hour), Until: now.Add(-2*time.Hour + 7*24*time.Hour)}},
		{"touches after now ignored", nil, []Touch{touch(1, -time.Hour, koc(6))}, 30, nil},
		{"existing kept even when expired", existing, []Touch{touch(1, time.Hour, koc(6))}, 30, existing},
	}
	for _, c := range cases {
		got := ResolveBinding(c.current, c.touches, now, c.days)
		if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: binding %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestBindingActive(t *testing.T) {
	b := &Binding{Referrer: koc(1), From: placed, Until: placed.Add(time.Hour)}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{placed.Add(-time.Nanosecond), false}, {placed, true}, {placed.Add(time.Hour - 1), true}, {placed.Add(time.Hour), false}} {
		if b.Active(c.at) != c.want {
			t.Errorf("Active(%v) = %v", c.at, !c.want)
		}
	}
	var nilB *Binding
	if nilB.Active(placed) {
		t.Error("nil binding is active")
	}
}

func TestCommissionReferrer(t *testing.T) {
	lines := []Line{{ItemID: 1, Paid: 1000}, {ItemID: 2, Paid: 500}}
	res, err := Attribute(Input{PlacedAt: placed, Lines: lines, Settings: Settings{Model: ModelLinear}, Touches: []Touch{
		touch(1, 3*time.Hour, koc(7), group(1)),
		touch(2, 2*time.Hour, post(3)),
		touch(3, time.Hour, koc(7)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	active := &Binding{Referrer: clerk(9), From: placed.Add(-24 * time.Hour), Until: placed.Add(24 * time.Hour)}
	expired := &Binding{Referrer: clerk(9), From: placed.Add(-48 * time.Hour), Until: placed.Add(-24 * time.Hour)}

	e := CommissionReferrer(active, lines, res.Credits, placed)
	if len(e) != 1 || e[0].Referrer != clerk(9) || !e[0].Bound || e[0].Amount != 1500 || len(e[0].Lines) != 2 {
		t.Fatalf("bound: %+v", e)
	}
	e = CommissionReferrer(active, lines, nil, placed)
	if len(e) != 1 || e[0].Amount != 1500 {
		t.Fatalf("bound, direct order: %+v", e)
	}
	for _, b := range []*Binding{nil, expired} {
		e = CommissionReferrer(b, lines, res.Credits, placed)
		// KOC 7 is on touches 1 and 3: 2/3 of the order (1000 → 334+333, 500 → 167+166 or so).
		if len(e) != 1 || e[0].Referrer != koc(7) || e[0].Bound || e[0].Amount != 1000 {
			t.Fatalf("unbound: %+v", e)
		}
		var s domain.Fen
		for _, la := range e[0].Lines {
			s += la.Amount
		}
		if s != e[0].Amount || len(e[0].Lines) != 2 {
			t.Fatalf("earner lines %+v", e[0])
		}
	}
	if e := CommissionReferrer(nil, lines, nil, placed); len(e) != 0 {
		t.Fatalf("direct, unbound: %+v", e)
	}
}
