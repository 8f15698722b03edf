// Package identity signs shoppers and staff in and tells who a bearer token
// belongs to. Tokens are opaque random strings; only their SHA-256 is stored,
// so they are revocable (a column) and expire (a column).
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
)

// Role is a staff role.
type Role string

const (
	RoleAdmin        Role = "admin"
	RoleMerchandiser Role = "merchandiser"
	RoleOperator     Role = "operator"
	RoleStoreManager Role = "store_manager"
	RoleClerk        Role = "clerk"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleMerchandiser, RoleOperator, RoleStoreManager, RoleClerk:
		return true
	}
	return false
}

// StoreBound reports whether staff of this role belong to one store.
func (r Role) StoreBound() bool { return r == RoleClerk || r == RoleStoreManager }

// SubjectKind says whether a principal is a shopper or staff.
type SubjectKind string

const (
	SubjectShopper SubjectKind = "shopper"
	SubjectStaff   SubjectKind = "staff"
)

// Principal is who a request acts for.
type Principal struct {
	Kind    SubjectKind
	ID      int64
	Name    string // staff username; shopper: empty
	Role    Role   // staff only
	StoreID int64  // clerks and store managers: their store; else 0
	OpenID  string // shoppers only
	// ExpiresAt is when the token it was read from expires.
	ExpiresAt time.Time
}

// Actor returns the principal as the actor of an audited change.
func (p Principal) Actor() domain.Actor {
	return domain.Actor{Kind: string(p.Kind), ID: p.ID, Name: p.Name}
}

// Shopper is a mini-program user.
type Shopper struct {
	ID        int64
	OpenID    string
	UnionID   string
	Phone     string
	Nickname  string
	CreatedAt time.Time
}

// Staff is a store clerk, merchandiser, operator or admin.
type Staff struct {
	ID           int64
	Username     string
	DisplayName  string
	PasswordHash string
	Role         Role
	StoreID      int64
	Active       bool
}

// Session is an issued bearer token.
type Session struct {
	Token     string
	ExpiresAt time.Time
}

// WeChatSession is what code2session answers.
type WeChatSession struct {
	OpenID     string
	UnionID    string
	SessionKey string
}

// WeChat is the part of the mini-program server API identity needs.
type WeChat interface {
	Code2Session(ctx context.Context, code string) (WeChatSession, error)
	PhoneNumber(ctx context.Context, code string) (Phone, error)
}

// Phone is a phone number as WeChat gives it: the number without its
// country code (purePhoneNumber) and the country code ("86" for mainland
// China), kept apart so that a number from Hong Kong or abroad is not
// mistaken for a mainland one.
type Phone struct {
	Number      string
	CountryCode string
}

// Errors.
var (
	ErrBadCredentials  = domain.E(domain.KindUnauthorized, "bad_credentials", "The username or password is wrong.")
	ErrLocked          = domain.E(domain.KindTooMany, "login_locked", "Too many failed sign-ins; try again in a few minutes.")
	ErrTokenInvalid    = domain.E(domain.KindUnauthorized, "token_invalid", "Your session has expired or is not valid; sign in again.")
	ErrStaffNotFound   = domain.E(domain.KindNotFound, "staff_not_found", "No such staff member.")
	ErrShopperNotFound = domain.E(domain.KindNotFound, "shopper_not_found", "No such shopper.")
	ErrWeChatCode      = domain.E(domain.KindInvalid, "wechat_code_invalid", "The WeChat login code is invalid or expired; call wx.login again.")
)

// NewToken returns a new random token and its hash.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return h[:]
}
