package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
)

// Identity implements identity.Store.
type Identity struct{ scope }

type shopperRow struct {
	ID        int64          `db:"id"`
	OpenID    string         `db:"openid"`
	UnionID   sql.NullString `db:"unionid"`
	Phone     sql.NullString `db:"phone"`
	Nickname  string         `db:"nickname"`
	CreatedAt time.Time      `db:"created_at"`
}

func (r shopperRow) toDomain() identity.Shopper {
	return identity.Shopper{ID: r.ID, OpenID: r.OpenID, UnionID: r.UnionID.String, Phone: r.Phone.String,
		Nickname: r.Nickname, CreatedAt: r.CreatedAt}
}

const upsertShopperSQL = `
INSERT INTO shoppers (openid, unionid, session_key) VALUES ($1, NULLIF($2, ''), $3)
ON CONFLICT (openid) DO UPDATE SET session_key = EXCLUDED.session_key,
    unionid = COALESCE(EXCLUDED.unionid, shoppers.unionid), updated_at = now()
RETURNING id, openid, unionid, phone, nickname, created_at`

func (s Identity) UpsertShopper(ctx context.Context, ws identity.WeChatSession) (identity.Shopper, error) {
	var r shopperRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, upsertShopperSQL, ws.OpenID, ws.UnionID, ws.SessionKey); err != nil {
		return identity.Shopper{}, fmt.Errorf("storage: upsert shopper: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

func (s Identity) SetShopperPhone(ctx context.Context, id int64, phone identity.Phone) error {
	_, err := s.ext().ExecContext(ctx, `UPDATE shoppers SET phone = $2, phone_country_code = $3, updated_at = now() WHERE id = $1`,
		id, phone.Number, phone.CountryCode)
	if isUnique(err, "") {
		return domain.E(domain.KindConflict, "phone_taken", "This phone number is already bound to another account.")
	}
	return mapErr(err)
}

func (s Identity) Shopper(ctx context.Context, id int64) (identity.Shopper, error) {
	var r shopperRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT id, openid, unionid, phone, nickname, created_at FROM shoppers WHERE id = $1`, id)
	if err != nil {
		return identity.Shopper{}, mapErrNotFound(err, identity.ErrShopperNotFound)
	}
	return r.toDomain(), nil
}

// SessionKey returns a shopper's WeChat session_key (to decrypt group info).
func (s Identity) SessionKey(ctx context.Context, shopperID int64) (string, error) {
	var k string
	err := sqlx.GetContext(ctx, s.ext(), &k, `SELECT session_key FROM shoppers WHERE id = $1`, shopperID)
	return k, mapErrNotFound(err, identity.ErrShopperNotFound)
}

const stitchAnonSQL = `
INSERT INTO anon_visitors (anon_id, shopper_id, first_seen, stitched_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (anon_id) DO UPDATE SET shopper_id = EXCLUDED.shopper_id, stitched_at = EXCLUDED.stitched_at
WHERE anon_visitors.shopper_id IS NULL`

func (s Identity) StitchAnon(ctx context.Context, anonID string, shopperID int64, at time.Time) error {
	_, err := s.ext().ExecContext(ctx, stitchAnonSQL, anonID, shopperID, at)
	return mapErr(err)
}

type staffRow struct {
	ID           int64         `db:"id"`
	Username     string        `db:"username"`
	DisplayName  string        `db:"display_name"`
	PasswordHash string        `db:"password_hash"`
	Role         string        `db:"role"`
	StoreID      sql.NullInt64 `db:"store_id"`
	Active       bool          `db:"active"`
}

func (r staffRow) toDomain() identity.Staff {
	return identity.Staff{ID: r.ID, Username: r.Username, DisplayName: r.DisplayName, PasswordHash: r.PasswordHash,
		Role: identity.Role(r.Role), StoreID: r.StoreID.Int64, Active: r.Active}
}

const staffCols = `id, username, display_name, password_hash, role, store_id, active`

func (s Identity) StaffByUsername(ctx context.Context, username string) (identity.Staff, error) {
	var r staffRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+staffCols+` FROM staff WHERE username = $1`, username)
	if err != nil {
		return identity.Staff{}, mapErrNotFound(err, identity.ErrStaffNotFound)
	}
	return r.toDomain(), nil
}

const createStaffSQL = `
INSERT INTO staff (username, display_name, password_hash, role, store_id)
VALUES ($1, $2, $3, $4, (SELECT id FROM stores WHERE code = NULLIF($5, '')))
RETURNING ` + staffCols

func (s Identity) CreateStaff(ctx context.Context, st identity.Staff, storeCode string) (identity.Staff, error) {
	if storeCode != "" {
		var n int
		if err := sqlx.GetContext(ctx, s.ext(), &n, `SELECT count(*) FROM stores WHERE code = $1`, storeCode); err != nil {
			return identity.Staff{}, mapErr(err)
		}
		if n == 0 {
			return identity.Staff{}, domain.Errorf(domain.KindNotFound, "store_not_found", "There is no store with code %q.", storeCode)
		}
	}
	var r staffRow
	err := sqlx.GetContext(ctx, s.ext(), &r, createStaffSQL, st.Username, st.DisplayName, st.PasswordHash, string(st.Role), storeCode)
	if isUnique(err, "") {
		return identity.Staff{}, domain.Errorf(domain.KindConflict, "username_taken", "The username %q is taken.", st.Username)
	}
	if err != nil {
		return identity.Staff{}, fmt.Errorf("storage: create staff: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

// claimLoginAttemptSQL counts one attempt for a username before its password
// is checked, in one statement (the row lock of the upsert orders parallel
// attempts): past an expired lock the count starts over; an attempt beyond
// the limit ($3) while none is locked locks the username now, so of N
// parallel guesses only the first $3 are checked. It answers the attempt's
// number and the lock in force after it.
const claimLoginAttemptSQL = `
INSERT INTO login_attempts AS a (username, attempts, locked_until, updated_at) VALUES ($1, 1, NULL, $2)
ON CONFLICT (username) DO UPDATE SET
    attempts = CASE WHEN a.locked_until <= $2 THEN 1 ELSE LEAST(a.attempts, 1000000) + 1 END,
    locked_until = CASE
        WHEN a.locked_until <= $2 THEN NULL
        WHEN a.locked_until IS NULL AND a.attempts + 1 > $3 THEN $4
        ELSE a.locked_until END,
    updated_at = $2
RETURNING attempts, locked_until`

func (s Identity) ClaimLoginAttempt(ctx context.Context, username string, limit int, now, lockUntil time.Time) (bool, error) {
	var r struct {
		Attempts    int          `db:"attempts"`
		LockedUntil sql.NullTime `db:"locked_until"`
	}
	if err := sqlx.GetContext(ctx, s.ext(), &r, claimLoginAttemptSQL, username, now, limit, lockUntil); err != nil {
		return false, fmt.Errorf("storage: claim login attempt: %w", mapErr(err))
	}
	locked := r.LockedUntil.Valid && r.LockedUntil.Time.After(now)
	return !locked && r.Attempts <= limit, nil
}

// FailLoginAttempt keeps a failed attempt counted and locks the username once
// its attempts reach limit.
func (s Identity) FailLoginAttempt(ctx context.Context, username string, limit int, lockUntil time.Time) error {
	_, err := s.ext().ExecContext(ctx, `
UPDATE login_attempts SET locked_until = $3
WHERE username = $1 AND attempts >= $2 AND locked_until IS NULL`, username, limit, lockUntil)
	if err != nil {
		return fmt.Errorf("storage: fail login attempt: %w", mapErr(err))
	}
	return nil
}

// ClearLoginAttempts forgets a username's attempts after a good sign-in.
func (s Identity) ClearLoginAttempts(ctx context.Context, username string) error {
	_, err := s.ext().ExecContext(ctx, `DELETE FROM login_attempts WHERE username = $1`, username)
	if err != nil {
		return fmt.Errorf("storage: clear login attempts: %w", mapErr(err))
	}
	return nil
}

func (s Identity) CreateToken(ctx context.Context, hash []byte, kind identity.SubjectKind, id int64, exp time.Time) error {
	_, err := s.ext().ExecContext(ctx, `INSERT INTO auth_tokens (token_hash, subject_kind, subject_id, expires_at) VALUES ($1, $2, $3, $4)`,
		Bytea(hash), string(kind), id, exp)
	return mapErr(err)
}

const principalSQL = `
SELECT t.subject_kind, t.subject_id,
       COALESCE(st.username, '') AS name, COALESCE(st.role, '') AS role,
       COALESCE(st.store_id, 0) AS store_id, COALESCE(sh.openid, '') AS openid,
       COALESCE(st.active, true) AS active, t.expires_at
FROM auth_tokens t
LEFT JOIN staff st ON t.subject_kind = 'staff' AND st.id = t.subject_id
LEFT JOIN shoppers sh ON t.subject_kind = 'shopper' AND sh.id = t.subject_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2`

func (s Identity) Principal(ctx context.Context, hash []byte, now time.Time) (identity.Principal, error) {
	var r struct {
		Kind    string    `db:"subject_kind"`
		ID      int64     `db:"subject_id"`
		Name    string    `db:"name"`
		Role    string    `db:"role"`
		StoreID int64     `db:"store_id"`
		OpenID  string    `db:"openid"`
		Active  bool      `db:"active"`
		Expires time.Time `db:"expires_at"`
	}
	err := sqlx.GetContext(ctx, s.ext(), &r, principalSQL, Bytea(hash), now)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !r.Active) {
		return identity.Principal{}, domain.ErrNotFound
	}
	if err != nil {
		return identity.Principal{}, mapErr(err)
	}
	return identity.Principal{Kind: identity.SubjectKind(r.Kind), ID: r.ID, Name: r.Name, Role: identity.Role(r.Role),
		StoreID: r.StoreID, OpenID: r.OpenID, ExpiresAt: r.Expires}, nil
}

// AuthVersion answers the version of who tokens are (migration 00025).
func (s Identity) AuthVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := sqlx.GetContext(ctx, s.ext(), &v, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM auth_version`); err != nil {
		return 0, fmt.Errorf("storage: auth version: %w", mapErr(err))
	}
	return v, nil
}

func (s Identity) RevokeToken(ctx context.Context, hash []byte, at time.Time) error {
	_, err := s.ext().ExecContext(ctx, `UPDATE auth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL`, Bytea(hash), at)
	return mapErr(err)
}

// PruneTokens implements identity.Store, from the expiry's index (migration
// 00037).
func (s Identity) PruneTokens(ctx context.Context, before time.Time, limit int) (int64, error) {
	r, err := s.ext().ExecContext(ctx, `DELETE FROM auth_tokens WHERE token_hash = ANY (ARRAY(
    SELECT token_hash FROM auth_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2))`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("storage: prune tokens: %w", mapErr(err))
	}
	return r.RowsAffected()
}

// PruneLoginAttempts implements identity.Store.
func (s Identity) PruneLoginAttempts(ctx context.Context, before time.Time) (int64, error) {
	r, err := s.ext().ExecContext(ctx, `DELETE FROM login_attempts
WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1)`, before)
	if err != nil {
		return 0, fmt.Errorf("storage: prune sign-in attempts: %w", mapErr(err))
	}
	return r.RowsAffected()
}

// InTx implements identity.Store.
func (s Identity) InTx(ctx context.Context, fn func(identity.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Identity()) })
}

// SignInHandlers are the handlers of identity.SignedIn (see DB.SignedIn).
type SignInHandlers = domain.Handlers[*Tx, identity.SignedIn]

// RaiseSignedIn implements identity.Store.
func (s Identity) RaiseSignedIn(ctx context.Context, e identity.SignedIn) error {
	if s.tx == nil {
		return errNoTx
	}
	return s.db.SignedIn.Run(ctx, s.tx, e)
}
