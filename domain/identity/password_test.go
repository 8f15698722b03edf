package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePasswordParams(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want PasswordParams
		err  string
	}{
		{in: "", want: StrongPasswordParams()},
		{in: "strong", want: StrongPasswordParams()},
		{in: " cheap ", want: CheapPasswordParams()},
		{in: "m=19456,t=2,p=1", want: PasswordParams{Time: 2, Memory: 19456, Threads: 1}},
		{in: "fast", err: "is not strong, cheap"},
		{in: "m=19456,t=2", err: "is not strong, cheap"},
		{in: "m=19456,t=2,p=1x", err: "is not strong, cheap"},
		{in: "m=19456,t=0,p=1", err: "t=0"},
		{in: "m=19456,t=2,p=0", err: "p=0"},
		{in: "m=8,t=2,p=2", err: "m=8"},
		{in: "m=19456,t=2,p=256", err: "is not strong, cheap"},
	} {
		got, err := ParsePasswordParams(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %+v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// A hash records its parameters: it verifies whatever the current setting,
// and a new hash is made with the current one.
func TestPasswordHashKeepsItsParams(t *testing.T) {
	t.Parallel()
	// made with m=256,t=2,p=1, neither the strong nor the cheap setting
	const old = "$argon2id$v=19$m=256,t=2,p=1$h5p5mgoMakKaf4fuNbyR+g$gi+KP4QViBCDAxGneu9D6VITjoD3a/nIBJ9PXIhSKP0"
	if !CheckPassword(old, "correct horse battery") {
		t.Error("an m=256,t=2,p=1 hash does not verify")
	}
	if CheckPassword(old, "correct horse battery!") {
		t.Error("a wrong password verifies")
	}
	h, err := HashPassword("correct horse battery", CheapPasswordParams())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("cheap hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batter") {
		t.Error("the cheap hash does not check")
	}
	if _, err := HashPassword("short", CheapPasswordParams()); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	if (PasswordParams{}).orStrong() != StrongPasswordParams() {
		t.Error("zero parameters are not the strong default")
	}
}
