package cashier

import (
	"testing"
	"time"
)

func TestCheckLimiter(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := NewCheckLimiter(2 * time.Second)
	steps := []struct {
		attempt int64
		at      time.Duration
		want    bool
	}{
		{1, 0, true},
		{1, time.Second, false},             // within 2 s of the last query
		{2, time.Second, true},              // another attempt has its own allowance
		{1, 2 * time.Second, true},          // 2 s on
		{1, 3 * time.Second, false},         // counted from the query at 2 s
		{1, 500 * time.Millisecond, true},   // the clock went back: allowed
		{2, 2999 * time.Millisecond, false}, // 1.999 s after its query at 1 s
		{2, 3 * time.Second, true},          // 2 s after
	}
	for i, s := range steps {
		if got := l.claim(s.attempt, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d (attempt %d at %v): %v, want %v", i, s.attempt, s.at, got, s.want)
		}
	}
	var none *CheckLimiter
	if !none.claim(1, t0) || !none.claim(1, t0) {
		t.Fatal("a nil limiter limited")
	}
}
