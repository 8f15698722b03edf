package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/yutang/yutang/domain"
)

// PasswordParams are the argon2id costs of new password hashes. Every hash
// records the parameters it was made with (PHC string format), so a hash
// is checked with its own whatever the current setting: changing them
// affects only passwords set from then on.
type PasswordParams struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
}

// StrongPasswordParams is the default: RFC 9106's second recommended
// option, memory reduced to 64 MiB for a 2-core server.
func StrongPasswordParams() PasswordParams {
	return PasswordParams{Time: 3, Memory: 64 * 1024, Threads: 2}
}

// CheapPasswordParams cost well under a millisecond: for tests only, never
// for real accounts.
func CheapPasswordParams() PasswordParams {
	return PasswordParams{Time: 1, Memory: 64, Threads: 1}
}

// ParsePasswordParams reads a setting: "" or "strong" (the default),
// "cheap" (tests), or explicit costs as in a hash, "m=65536,t=3,p=2".
func ParsePasswordParams(s string) (PasswordParams, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "strong":
		return StrongPasswordParams(), nil
	case "cheap":
		return CheapPasswordParams(), nil
	}
	var m, t uint32
	var p uint8
	var rest string
	if n, _ := fmt.Sscanf(s, "m=%d,t=%d,p=%d%s", &m, &t, &p, &rest); n != 3 {
		return PasswordParams{}, fmt.Errorf("%q is not strong, cheap or m=KiB,t=passes,p=threads", s)
	}
	pp := PasswordParams{Time: t, Memory: m, Threads: p}
	if err := pp.validate(); err != nil {
		return PasswordParams{}, err
	}
	return pp, nil
}

func (p PasswordParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > 100:
		return fmt.Errorf("t=%d: passes must be from 1 to 100", p.Time)
	case p.Threads < 1:
		return fmt.Errorf("p=%d: threads must be from 1 to 255", p.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > 4*1024*1024:
		return fmt.Errorf("m=%d: memory must be from 8×threads KiB to 4 GiB", p.Memory)
	}
	return nil
}

// String is the parameters as a hash writes them.
func (p PasswordParams) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// orStrong is p, or the strong default when p is the zero value.
func (p PasswordParams) orStrong() PasswordParams {
	if p == (PasswordParams{}) {
		return StrongPasswordParams()
	}
	return p
}

const passwordKeyLen = 32

// ErrWeakPassword is returned for passwords that are too short.
var ErrWeakPassword = domain.E(domain.KindInvalid, "weak_password", "The password must have at least 10 characters.")

// HashPassword hashes pw with argon2id at the costs p (the strong default
// when p is zero) in the PHC string format.
func HashPassword(pw string, p PasswordParams) (string, error) {
	if len([]rune(pw)) < 10 {
		return "", ErrWeakPassword
	}
	p = p.orStrong()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, passwordKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2.Version, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches an argon2id PHC hash, with the
// parameters the hash records.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// spend costs what checking a password hashed at p costs, so that an
// unknown username answers as slowly as a wrong password.
func (p PasswordParams) spend(pw string) {
	var salt [16]byte
	argon2.IDKey([]byte(pw), salt[:], p.Time, p.Memory, p.Threads, passwordKeyLen)
}
