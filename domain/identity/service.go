package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/readcache"
)

// Store is what identity needs from the database.
type Store interface {
	// InTx runs fn in one transaction; fn's Store runs in it.
	InTx(ctx context.Context, fn func(Store) error) error
	// RaiseSignedIn runs the SignedIn handlers in the transaction.
	RaiseSignedIn(ctx context.Context, e SignedIn) error
	UpsertShopper(ctx context.Context, ws WeChatSession) (Shopper, error)
	SetShopperPhone(ctx context.Context, shopperID int64, phone Phone) error
	Shopper(ctx context.Context, id int64) (Shopper, error)
	StitchAnon(ctx context.Context, anonID string, shopperID int64, at time.Time) error
	StaffByUsername(ctx context.Context, username string) (Staff, error)
	CreateStaff(ctx context.Context, s Staff, storeCode string) (Staff, error)
	// ClaimLoginAttempt counts one sign-in attempt for username (known or
	// not) before its password is checked, atomically, and reports whether
	// the attempt may proceed: false while the username is locked or when
	// more than limit attempts are under way, which locks it until lockUntil.
	ClaimLoginAttempt(ctx context.Context, username string, limit int, now, lockUntil time.Time) (bool, error)
	// FailLoginAttempt keeps a failed attempt counted, locking the username
	// until lockUntil once its attempts reach limit.
	FailLoginAttempt(ctx context.Context, username string, limit int, lockUntil time.Time) error
	// ClearLoginAttempts forgets the attempts after a good sign-in.
	ClearLoginAttempts(ctx context.Context, username string) error
	CreateToken(ctx context.Context, hash []byte, kind SubjectKind, subjectID int64, expiresAt time.Time) error
	Principal(ctx context.Context, hash []byte, now time.Time) (Principal, error)
	RevokeToken(ctx context.Context, hash []byte, at time.Time) error
	// PruneTokens deletes up to limit tokens that expired before before,
	// and answers how many it deleted.
	PruneTokens(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneLoginAttempts forgets the attempts of usernames neither tried
	// nor locked since before.
	PruneLoginAttempts(ctx context.Context, before time.Time) (int64, error)
}

// Service signs people in.
type Service struct {
	Store           Store
	WeChat          WeChat
	Now             func() time.Time
	ShopperTokenTTL time.Duration // default 30 days
	StaffTokenTTL   time.Duration // default 12 hours
	// PasswordParams are the argon2id costs of new staff passwords (zero:
	// StrongPasswordParams). Stored hashes keep their own.
	PasswordParams PasswordParams
	// Principals, when set, keeps who a token is in memory under the auth
	// version (migration 00025: a revocation or a staff change anywhere
	// advances it), so a signed-in request need not read its token: see
	// domain/readcache. nil: every request reads it.
	Principals *readcache.Cache[Principal]
}

// SignedIn is an anonymous visitor (X-Anon-Id) signing in as a shopper. The
// areas that keep what visitors do (cart lines, touches) subscribe to it and
// move it to the shopper, inside the sign-in transaction: a refusal fails
// the sign-in and nothing is half moved.
type SignedIn struct {
	AnonID    string
	ShopperID int64
	At        time.Time
}

const (
	maxFailedLogins = 5
	lockDuration    = 15 * time.Minute
)

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// ShopperSignIn exchanges a wx.login code for a session, creating the shopper
// on first sign-in and stitching the anonymous visitor anonID (if any).
func (s *Service) ShopperSignIn(ctx context.Context, code, anonID string) (Session, Shopper, error) {
	ws, err := s.WeChat.Code2Session(ctx, code)
	if err != nil {
		return Session{}, Shopper{}, err
	}
	sh, err := s.Store.UpsertShopper(ctx, ws)
	if err != nil {
		return Session{}, Shopper{}, fmt.Errorf("identity: shopper sign-in: %w", err)
	}
	now := s.now()
	if anonID != "" {
		err := s.Store.InTx(ctx, func(tx Store) error {
			if err := tx.StitchAnon(ctx, anonID, sh.ID, now); err != nil {
				return err
			}
			return tx.RaiseSignedIn(ctx, SignedIn{AnonID: anonID, ShopperID: sh.ID, At: now})
		})
		if err != nil {
			return Session{}, Shopper{}, fmt.Errorf("identity: stitch anonymous visitor: %w", err)
		}
	}
	ttl := s.ShopperTokenTTL
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	sess, err := s.issue(ctx, SubjectShopper, sh.ID, now.Add(ttl))
	return sess, sh, err
}

// BindPhone resolves a getPhoneNumber code and stores the number.
func (s *Service) BindPhone(ctx context.Context, shopperID int64, code string) (Shopper, error) {
	phone, err := s.WeChat.PhoneNumber(ctx, code)
	if err != nil {
		return Shopper{}, err
	}
	if err := s.Store.SetShopperPhone(ctx, shopperID, phone); err != nil {
		return Shopper{}, fmt.Errorf("identity: bind phone: %w", err)
	}
	return s.Store.Shopper(ctx, shopperID)
}

// Shopper returns a shopper.
func (s *Service) Shopper(ctx context.Context, id int64) (Shopper, error) {
	return s.Store.Shopper(ctx, id)
}

// StaffSignIn checks a username and password. Every attempt is counted
// before its password is checked, so of any number of parallel guesses only
// five are checked; after five failures in a row the username is locked for
// fifteen minutes, whatever the password. A username no staff member has is
// counted, checked (against a dummy hash, so it takes as long) and locked the
// same way: the answers never tell whether it exists.
func (s *Service) StaffSignIn(ctx context.Context, username, password string) (Session, Staff, error) {
	now := s.now()
	username = strings.ToLower(strings.TrimSpace(username))
	ok, err := s.Store.ClaimLoginAttempt(ctx, username, maxFailedLogins, now, now.Add(lockDuration))
	if err != nil {
		return Session{}, Staff{}, fmt.Errorf("identity: staff sign-in: %w", err)
	}
	if !ok {
		return Session{}, Staff{}, ErrLocked
	}
	st, err := s.Store.StaffByUsername(ctx, username)
	known := err == nil
	if err != nil && !errors.Is(err, ErrStaffNotFound) {
		return Session{}, Staff{}, fmt.Errorf("identity: staff sign-in: %w", err)
	}
	good := false
	if known {
		good = CheckPassword(st.PasswordHash, password)
	} else {
		// spend the same time as a real check, so timing does not reveal usernames
		s.PasswordParams.orStrong().spend(password)
	}
	if !good || !known || !st.Active {
		if err := s.Store.FailLoginAttempt(ctx, username, maxFailedLogins, now.Add(lockDuration)); err != nil {
			return Session{}, Staff{}, fmt.Errorf("identity: staff sign-in: %w", err)
		}
		return Session{}, Staff{}, ErrBadCredentials
	}
	if err := s.Store.ClearLoginAttempts(ctx, username); err != nil {
		return Session{}, Staff{}, fmt.Errorf("identity: staff sign-in: %w", err)
	}
	ttl := s.StaffTokenTTL
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	sess, err := s.issue(ctx, SubjectStaff, st.ID, now.Add(ttl))
	return sess, st, err
}

// AddStaff creates a staff account (the `staff add` subcommand).
func (s *Service) AddStaff(ctx context.Context, username string, role Role, storeCode, password string) (Staff, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	var fields []domain.FieldError
	if !role.Valid() {
		fields = append(fields, domain.FieldError{Field: "role", Code: "oneof", Message: "must be one of admin, merchandiser, operator, store_manager, clerk"})
	}
	if role.StoreBound() && storeCode == "" {
		fields = append(fields, domain.FieldError{Field: "store", Code: "required", Message: "is required for clerks and store managers"})
	}
	if !role.StoreBound() && storeCode != "" {
		fields = append(fields, domain.FieldError{Field: "store", Code: "forbidden", Message: "only clerks and store managers belong to a store"})
	}
	if !validUsername(username) {
		fields = append(fields, domain.FieldError{Field: "username", Code: "format", Message: "3–40 characters of a-z, 0-9, _ . -"})
	}
	if len(fields) > 0 {
		return Staff{}, domain.Invalid(fields...)
	}
	hash, err := HashPassword(password, s.PasswordParams)
	if err != nil {
		return Staff{}, err
	}
	return s.Store.CreateStaff(ctx, Staff{Username: username, DisplayName: username, PasswordHash: hash, Role: role, Active: true}, storeCode)
}

func validUsername(u string) bool {
	if len(u) < 3 || len(u) > 40 {
		return false
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// Authenticate resolves a bearer token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 200 {
		return Principal{}, ErrTokenInvalid
	}
	hash := HashToken(token)
	read := func(ctx context.Context) (Principal, time.Time, error) {
		p, err := s.Store.Principal(ctx, hash, s.now())
		return p, p.ExpiresAt, err
	}
	var p Principal
	var err error
	if s.Principals != nil {
		p, err = s.Principals.Get(ctx, string(hash), read)
	} else {
		p, _, err = read(ctx)
	}
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			return Principal{}, ErrTokenInvalid
		}
		return Principal{}, fmt.Errorf("identity: authenticate: %w", err)
	}
	return p, nil
}

// SignOut revokes a token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.Store.RevokeToken(ctx, HashToken(token), s.now())
}

// PruneRetention is how long an expired token and an idle username's
// sign-in attempts are kept.
const PruneRetention = 7 * 24 * time.Hour

// Prune deletes the tokens that expired more than PruneRetention ago and
// the sign-in attempts of usernames idle that long (every sign-in writes a
// token, and every username tried, known or not, its attempts: both would
// grow without end). It answers how many tokens it deleted.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	before := s.now().Add(-PruneRetention)
	var total int64
	for {
		n, err := s.Store.PruneTokens(ctx, before, 10_000)
		total += n
		if err != nil {
			return total, fmt.Errorf("identity: prune tokens: %w", err)
		}
		if n < 10_000 {
			break
		}
	}
	if _, err := s.Store.PruneLoginAttempts(ctx, before); err != nil {
		return total, fmt.Errorf("identity: prune sign-in attempts: %w", err)
	}
	return total, nil
}

func (s *Service) issue(ctx context.Context, kind SubjectKind, id int64, exp time.Time) (Session, error) {
	tok, hash := NewToken()
	if err := s.Store.CreateToken(ctx, hash, kind, id, exp); err != nil {
		return Session{}, fmt.Errorf("identity: issue token: %w", err)
	}
	return Session{Token: tok, ExpiresAt: exp}, nil
}
