package identity

import (
	"context"
	"errors"
	"testing"
	"time"
)

// signInStore answers sign-in's questions; everything else is unused.
type signInStore struct {
	Store
	staff map[string]Staff
}

func (s signInStore) ClaimLoginAttempt(context.Context, string, int, time.Time, time.Time) (bool, error) {
	return true, nil
}

func (s signInStore) StaffByUsername(_ context.Context, username string) (Staff, error) {
	if st, ok := s.staff[username]; ok {
		return st, nil
	}
	return Staff{}, ErrStaffNotFound
}

func (s signInStore) FailLoginAttempt(context.Context, string, int, time.Time) error { return nil }

// An unknown username costs a password hash, as a wrong password does, so
// timing does not tell which usernames exist. Only a lower bound is
// asserted: a busy machine makes both slower, never faster.
func TestUnknownUsernameCostsAHash(t *testing.T) {
	params := PasswordParams{Time: 2, Memory: 32 * 1024, Threads: 1}
	hash, err := HashPassword("right-password", params)
	if err != nil {
		t.Fatal(err)
	}
	// The cheapest of three checks: a busy machine only inflates it.
	oneHash := time.Hour
	for range 3 {
		start := time.Now()
		CheckPassword(hash, "wrong-password")
		oneHash = min(oneHash, time.Since(start))
	}

	s := &Service{Store: signInStore{staff: map[string]Staff{"known": {ID: 1, Username: "known", PasswordHash: hash, Active: true}}},
		PasswordParams: params}
	for _, username := range []string{"known", "nobody"} {
		start := time.Now()
		_, _, err := s.StaffSignIn(context.Background(), username, "wrong-password")
		took := time.Since(start)
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s: %v", username, err)
		}
		if took < oneHash/4 {
			t.Errorf("%s: sign-in took %v, one hash %v: the hash was skipped", username, took, oneHash)
		}
	}
}
