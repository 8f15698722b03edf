package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/yutang/yutang/domain"
)

// BenchmarkMemberPointsHotCard measures points credits and debits on one
// card from many goroutines at once: each operation is a transaction that
// locks the card, writes a ledger entry and moves the cached sums (the same
// AddPoints path that earning and redeeming take), audited. Each worker
// alternates +2 and −1; at the end the card must hold exactly what the
// ledger says (no lost update) and `check` must be clean.
//
//	go run ./storage/pglocal/pgrun -- go test -run '^$' -bench MemberPointsHotCard -benchtime 2000x ./server/
func BenchmarkMemberPointsHotCard(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchHotCard(b, workers) })
	}
}

func benchHotCard(b *testing.B, workers int) {
	ctx := context.Background()
	a := benchOpen(b, testConfig(b, map[string]string{"YUTANG_DB_MAX_CONNS": "40"}))
	var shopper int64
	if err := a.db.Get(&shopper, `INSERT INTO shoppers (openid, phone) VALUES ('o-hot', '13900000000') RETURNING id`); err != nil {
		b.Fatal(err)
	}
	svc := a.svc.Members
	if _, _, err := svc.Activate(ctx, shopper, nil); err != nil {
		b.Fatal(err)
	}
	ops := make(chan int, b.N)
	for i := 0; i < b.N; i++ {
		ops <- i
	}
	close(ops)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want int64
	b.ResetTimer()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine int64
			for i := range ops {
				delta, reason := int64(2), "earn"
				if i%2 == 1 {
					delta, reason = -1, "redeem"
				}
				if _, err := svc.AdjustPoints(ctx, domain.System, "", shopper, delta, reason); err != nil {
					b.Error(err)
					return
				}
				mine += delta
			}
			mu.Lock()
			want += mine
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	var got int64
	if err := a.db.Get(&got, `SELECT points FROM member_cards WHERE shopper_id = $1`, shopper); err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("card holds %d points, the operations add up to %d: a lost update", got, want)
	}
	breaches, err := a.store.Check(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, br := range breaches {
		if br.Count > 0 {
			b.Fatalf("%s: %v", br.Invariant, br.Lines)
		}
	}
}
