package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// Tokens expired more than a week ago and the attempts of usernames idle
// that long are deleted; every other token still signs its holder in, and
// a username still locked keeps its attempts.
func TestIdentityPrune(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	st := storage.New(db).Identity()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc := &identity.Service{Store: st, Now: func() time.Time { return now }}
	var shopper int64
	if err := db.Get(&shopper, `INSERT INTO shoppers (openid) VALUES ('o-prune') RETURNING id`); err != nil {
		t.Fatal(err)
	}

	// Tokens expiring from 30 days ago to 30 days ahead, one a day.
	tokens := map[int]string{}
	for d := -30; d <= 30; d++ {
		tok, hash := identity.NewToken()
		if err := st.CreateToken(ctx, hash, identity.SubjectShopper, shopper, now.Add(time.Duration(d)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		tokens[d] = tok
	}
	// Attempts: idle for 10 days, idle for 3 days, idle for 10 days but
	// locked until tomorrow.
	for _, a := range []struct {
		user   string
		at     time.Time
		locked any
	}{{"idle", now.Add(-240 * time.Hour), nil}, {"recent", now.Add(-72 * time.Hour), nil}, {"locked", now.Add(-240 * time.Hour), now.Add(24 * time.Hour)}} {
		if _, err := db.Exec(`INSERT INTO login_attempts (username, attempts, locked_until, updated_at) VALUES ($1, 3, $2, $3)`, a.user, a.locked, a.at); err != nil {
			t.Fatal(err)
		}
	}

	// A limit deletes that many, the oldest first.
	if n, err := st.PruneTokens(ctx, now.Add(-identity.PruneRetention), 5); err != nil || n != 5 {
		t.Fatalf("pruned %d, %v; want 5", n, err)
	}
	var oldest int
	if err := db.Get(&oldest, `SELECT (extract(epoch FROM min(expires_at) - $1) / 86400)::int FROM auth_tokens`, now); err != nil || oldest != -25 {
		t.Fatalf("the oldest token left expired %d days ago (%v), want 25: the 5 oldest go first", -oldest, err)
	}
	n, err := svc.Prune(ctx)
	if err != nil || n != 23-5 {
		t.Fatalf("pruned %d, %v; want %d (expired 8 to 30 days ago, less the 5 already)", n, err, 23-5)
	}
	for d, tok := range tokens {
		_, err := st.Principal(ctx, identity.HashToken(tok), now)
		switch {
		case d > 0 && err != nil:
			t.Fatalf("a token expiring in %d days: %v", d, err)
		case d <= 0 && err == nil:
			t.Fatalf("a token expired %d days ago signs in", -d)
		}
	}
	var left []int
	if err := db.Select(&left, `SELECT (extract(epoch FROM expires_at - $1) / 86400)::int FROM auth_tokens ORDER BY 1`, now); err != nil {
		t.Fatal(err)
	}
	want := []int{}
	for d := -7; d <= 30; d++ {
		want = append(want, d)
	}
	if !slices.Equal(left, want) {
		t.Fatalf("tokens left expire on days %v, want %v", left, want)
	}
	var users []string
	if err := db.Select(&users, `SELECT username FROM login_attempts ORDER BY username`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(users) != "[locked recent]" {
		t.Fatalf("attempts kept for %v, want [locked recent]", users)
	}
}
