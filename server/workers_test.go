package main

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A worker's first round comes soon after start-up whatever its period, and
// the next one a period after the first ends.
func TestWorkerFirstRoundSoonAfterStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rounds := make(chan time.Time, 4)
	start := time.Now()
	go everyFrom(20*time.Millisecond, 300*time.Millisecond, slog.New(slog.DiscardHandler), "test.rounds", func(context.Context) error {
		rounds <- time.Now()
		return nil
	})(ctx)
	first := <-rounds
	second := <-rounds
	if d := first.Sub(start); d < 20*time.Millisecond || d > 250*time.Millisecond {
		t.Fatalf("first round after %v, want 20 ms (well before the period)", d)
	}
	if d := second.Sub(first); d < 300*time.Millisecond {
		t.Fatalf("second round %v after the first, want a period (300 ms)", d)
	}
	// every's first round: after a minute for a daily or hourly worker,
	// after its period for a quicker one.
	for d, want := range map[time.Duration]time.Duration{24 * time.Hour: time.Minute, time.Hour: time.Minute, 5 * time.Second: 5 * time.Second} {
		if got := firstRound(d); got != want {
			t.Fatalf("first round of a worker every %v: after %v, want %v", d, got, want)
		}
	}
}
