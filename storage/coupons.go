package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/pricing"
)

// Coupons implements coupon.Store (db.Coupons(), tx.Coupons()), and the
// coupons' part of an order's life (Lock, Use, Return).
type Coupons struct{ scope }

var _ coupon.Store = Coupons{}

// InTx implements coupon.Store.
func (s Coupons) InTx(ctx context.Context, fn func(coupon.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Coupons()) })
}

// Tx is the transaction the store runs in (nil on the pool): a grant hands
// it to the KOC programme and attribution, which work in the same one.
func (s Coupons) Tx() *Tx { return s.tx }

// Settings implements coupon.Store.
func (s Coupons) Settings(ctx context.Context) (coupon.Settings, error) {
	var set coupon.Settings
	if err := sqlx.GetContext(ctx, s.ext(), &set.OnePerKind, `SELECT one_per_kind FROM coupon_settings`); err != nil {
		return coupon.Settings{}, fmt.Errorf("storage: coupon settings: %w", mapErr(err))
	}
	return set, nil
}

// PutSettings implements coupon.Store.
func (s Coupons) PutSettings(ctx context.Context, n coupon.Settings, at time.Time) error {
	if _, err := s.ext().ExecContext(ctx, `UPDATE coupon_settings SET one_per_kind = $1, updated_at = $2`, n.OnePerKind, at); err != nil {
		return fmt.Errorf("storage: put coupon settings: %w", mapErr(err))
	}
	return nil
}

// Audit records an admin write in the current transaction.
func (s Coupons) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

type templateRow struct {
	ID                 int64         `db:"id"`
	Name               string        `db:"name"`
	Description        string        `db:"description"`
	Kind               string        `db:"kind"`
	Threshold          int64         `db:"threshold_fen"`
	AmountOff          int64         `db:"amount_off_fen"`
	PercentOffBP       int64         `db:"percent_off_bp"`
	MaxOff             int64         `db:"max_off_fen"`
	ScopeKind          string        `db:"scope_kind"`
	ScopeIDs           pq.Int64Array `db:"scope_ids"`
	Excluded           pq.Int64Array `db:"excluded_product_ids"`
	ValidFrom          sql.NullTime  `db:"valid_from"`
	ValidUntil         sql.NullTime  `db:"valid_until"`
	ValidDays          sql.NullInt64 `db:"valid_days"`
	Total              int           `db:"total"`
	Issued             int           `db:"issued"`
	PerShopper         int           `db:"per_shopper"`
	Audience           string        `db:"audience"`
	AudienceTier       sql.NullInt64 `db:"audience_tier"`
	AudienceTouchpoint sql.NullInt64 `db:"audience_touchpoint_id"`
	AudienceSince      sql.NullTime  `db:"audience_since"`
	StacksWithCampaign bool          `db:"stacks_with_campaign"`
	Claimable          bool          `db:"claimable"`
	VisibleFrom        sql.NullTime  `db:"visible_from"`
	ClaimFrom          sql.NullTime  `db:"claim_from"`
	ClaimUntil         sql.NullTime  `db:"claim_until"`
	Status             string        `db:"status"`
	CreatedAt          time.Time     `db:"created_at"`
	UpdatedAt          time.Time     `db:"updated_at"`
}

const templateCols = `t.id, t.name, t.description, t.kind, t.threshold_fen, t.amount_off_fen, t.percent_off_bp, t.max_off_fen,
    t.scope_kind, t.scope_ids, t.excluded_product_ids, t.valid_from, t.valid_until, t.valid_days, t.total, t.issued,
    t.per_shopper, t.audience, t.audience_tier, t.audience_touchpoint_id, t.audience_since, t.stacks_with_campaign,
    t.claimable, t.visible_from, t.claim_from, t.claim_until, t.status, t.created_at, t.updated_at`

func timeOf(n sql.NullTime) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.Time
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

func nullPositive(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n > 0} }

func (r templateRow) toDomain() coupon.Template {
	return coupon.Template{ID: r.ID, Name: r.Name, Description: r.Description, Kind: pricing.CouponKind(r.Kind),
		Threshold: domain.Fen(r.Threshold), AmountOff: domain.Fen(r.AmountOff), PercentOffBP: r.PercentOffBP,
		MaxOff:    domain.Fen(r.MaxOff),
		Scope:     pricing.Scope{Kind: pricing.ScopeKind(r.ScopeKind), IDs: []int64(r.ScopeIDs), Excluded: []int64(r.Excluded)},
		ValidFrom: timeOf(r.ValidFrom), ValidUntil: timeOf(r.ValidUntil), ValidDays: int(r.ValidDays.Int64),
		Total: r.Total, Issued: r.Issued, PerShopper: r.PerShopper, Audience: coupon.Audience(r.Audience),
		AudienceTier: int(r.AudienceTier.Int64), AudienceTouchpoint: r.AudienceTouchpoint.Int64,
		AudienceSince: timeOf(r.AudienceSince), StacksWithCampaign: r.StacksWithCampaign, Claimable: r.Claimable,
		VisibleFrom: timeOf(r.VisibleFrom), ClaimFrom: timeOf(r.ClaimFrom), ClaimUntil: timeOf(r.ClaimUntil),
		Status: coupon.Status(r.Status), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func int64s(ids []int64) pq.Int64Array {
	if ids == nil {
		return pq.Int64Array{}
	}
	return pq.Int64Array(ids)
}

// templateArgs are a template's columns from name to claim_until, in order.
func templateArgs(t coupon.Template) []any {
	return []any{t.Name, t.Description, string(t.Kind), int64(t.Threshold), int64(t.AmountOff), t.PercentOffBP,
		int64(t.MaxOff), string(t.Scope.Kind), int64s(t.Scope.IDs), int64s(t.Scope.Excluded), nullTime(t.ValidFrom),
		nullTime(t.ValidUntil), nullPositive(int64(t.ValidDays)), t.Total, t.PerShopper, string(t.Audience),
		nullPositive(int64(t.AudienceTier)), nullPositive(t.AudienceTouchpoint), nullTime(t.AudienceSince),
		t.StacksWithCampaign, t.Claimable, nullTime(t.VisibleFrom), nullTime(t.ClaimFrom), nullTime(t.ClaimUntil),
		string(t.Status)}
}

const createTemplateSQL = `
INSERT INTO coupon_templates AS t (name, description, kind, threshold_fen, amount_off_fen, percent_off_bp, max_off_fen,
    scope_kind, scope_ids, excluded_product_ids, valid_from, valid_until, valid_days, total, per_shopper, audience,
    audience_tier, audience_touchpoint_id, audience_since, stacks_with_campaign, claimable, visible_from, claim_from,
    claim_until, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $26)
RETURNING ` + templateCols

// CreateTemplate implements coupon.Store.
func (s Coupons) CreateTemplate(ctx context.Context, t coupon.Template, at time.Time) (coupon.Template, error) {
	var r templateRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, createTemplateSQL, append(templateArgs(t), at)...); err != nil {
		return coupon.Template{}, fmt.Errorf("storage: create coupon template: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

const updateTemplateSQL = `
UPDATE coupon_templates AS t SET name = $1, description = $2, kind = $3, threshold_fen = $4, amount_off_fen = $5,
    percent_off_bp = $6, max_off_fen = $7, scope_kind = $8, scope_ids = $9, excluded_product_ids = $10, valid_from = $11,
    valid_until = $12, valid_days = $13, total = $14, per_shopper = $15, audience = $16, audience_tier = $17,
    audience_touchpoint_id = $18, audience_since = $19, stacks_with_campaign = $20, claimable = $21, visible_from = $22,
    claim_from = $23, claim_until = $24, status = $25, updated_at = $26
WHERE id = $27 RETURNING ` + templateCols

// UpdateTemplate implements coupon.Store. The table's CHECK keeps total ≥
// issued even against a claim that commits meanwhile.
func (s Coupons) UpdateTemplate(ctx context.Context, t coupon.Template, at time.Time) (coupon.Template, error) {
	var r templateRow
	err := sqlx.GetContext(ctx, s.ext(), &r, updateTemplateSQL, append(templateArgs(t), at, t.ID)...)
	if isCheck(err, "coupon_templates_issued_bounds") {
		return coupon.Template{}, domain.Invalid(domain.FieldError{Field: "total", Code: "min", Message: "must be at least the number already issued"})
	}
	if err != nil {
		return coupon.Template{}, mapErrNotFound(err, coupon.ErrTemplateNotFound)
	}
	return r.toDomain(), nil
}

// Template implements coupon.Store.
func (s Coupons) Template(ctx context.Context, id int64, forUpdate bool) (coupon.Template, error) {
	q := `SELECT ` + templateCols + ` FROM coupon_templates t WHERE t.id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r templateRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, q, id); err != nil {
		return coupon.Template{}, mapErrNotFound(err, coupon.ErrTemplateNotFound)
	}
	return r.toDomain(), nil
}

// pageTemplates runs a newest-first template list query whose last two
// parameters are the id cursor and the limit.
func (s Coupons) pageTemplates(ctx context.Context, q string, page domain.Page, args ...any) ([]coupon.Template, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []templateRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, q, append(args, before, limit+1)...); err != nil {
		return nil, "", fmt.Errorf("storage: coupon templates: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]coupon.Template, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

// Templates implements coupon.Store. The status is in the statement only
// when it is given (as stmtArgs does for the other lists).
func (s Coupons) Templates(ctx context.Context, status coupon.Status, page domain.Page) ([]coupon.Template, string, error) {
	if status == "" {
		return s.pageTemplates(ctx, `SELECT `+templateCols+` FROM coupon_templates t
WHERE t.id < $1 ORDER BY t.id DESC LIMIT $2`, page)
	}
	return s.pageTemplates(ctx, `SELECT `+templateCols+` FROM coupon_templates t
WHERE t.status = $1 AND t.id < $2 ORDER BY t.id DESC LIMIT $3`, page, string(status))
}

// CentreTemplates implements coupon.Store.
func (s Coupons) CentreTemplates(ctx context.Context, now time.Time, page domain.Page) ([]coupon.Template, string, error) {
	return s.pageTemplates(ctx, `SELECT `+templateCols+` FROM coupon_templates t
WHERE t.status = 'active' AND t.claimable AND (t.visible_from IS NULL OR t.visible_from <= $1)
  AND (t.claim_until IS NULL OR t.claim_until > $1) AND (t.valid_until IS NULL OR t.valid_until > $1)
  AND t.id < $2 ORDER BY t.id DESC LIMIT $3`, page, now)
}

// HeldCounts implements coupon.Store.
func (s Coupons) HeldCounts(ctx context.Context, shopperID int64, templateIDs []int64) (map[int64]int, error) {
	var rows []struct {
		TemplateID int64 `db:"template_id"`
		N          int   `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT template_id, count(*) AS n FROM coupons WHERE shopper_id = $1 AND template_id = ANY($2) GROUP BY template_id`,
		shopperID, pq.Array(templateIDs)); err != nil {
		return nil, fmt.Errorf("storage: held coupons: %w", mapErr(err))
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.TemplateID] = r.N
	}
	return out, nil
}

// Facts implements coupon.Store: a paid order is any order that reached
// paid; a visit is a touch through the touchpoint (since AudienceSince).
// Tiers are the service's (membership is read before the transaction).
func (s Coupons) Facts(ctx context.Context, shopperID int64, t coupon.Template) (coupon.Facts, error) {
	var f coupon.Facts
	var err error
	switch t.Audience {
	case coupon.AudienceNewCustomers:
		err = sqlx.GetContext(ctx, s.ext(), &f.HasPaidOrder, `
SELECT EXISTS (SELECT 1 FROM orders WHERE shopper_id = $1 AND paid_at IS NOT NULL)`, shopperID)
	case coupon.AudienceTouchpoint:
		err = sqlx.GetContext(ctx, s.ext(), &f.VisitedTouchpoint, `
SELECT EXISTS (SELECT 1 FROM touches WHERE shopper_id = $1 AND $2 = ANY (touchpoint_ids) AND at >= $3)`,
			shopperID, t.AudienceTouchpoint, nullTime(t.AudienceSince).Time)
	}
	if err != nil {
		return f, fmt.Errorf("storage: coupon audience: %w", mapErr(err))
	}
	return f, nil
}

// countClaimSQL counts one claim of a template by a shopper while below
// the template's per-shopper limit; the row lock serialises one shopper's
// claims, so parallel claims stop exactly at the limit.
const countClaimSQL = `
INSERT INTO coupon_claims AS c (template_id, shopper_id, claimed) VALUES ($1, $2, 1)
ON CONFLICT (template_id, shopper_id) DO UPDATE SET claimed = c.claimed + 1
WHERE c.claimed < (SELECT per_shopper FROM coupon_templates WHERE id = $1)
RETURNING claimed`

// takeOneSQL takes one coupon from a template's total while any is left.
const takeOneSQL = `UPDATE coupon_templates SET issued = issued + 1 WHERE id = $1 AND issued < total AND status = 'active'`

const couponCols = `c.id, c.template_id, c.shopper_id, c.status, c.valid_from, c.valid_until, c.source, c.issued_at`

type couponRow struct {
	ID         int64     `db:"id"`
	TemplateID int64     `db:"template_id"`
	ShopperID  int64     `db:"shopper_id"`
	Status     string    `db:"status"`
	ValidFrom  time.Time `db:"valid_from"`
	ValidUntil time.Time `db:"valid_until"`
	Source     string    `db:"source"`
	IssuedAt   time.Time `db:"issued_at"`
}

func (r couponRow) toDomain(t coupon.Template) coupon.Coupon {
	return coupon.Coupon{ID: r.ID, TemplateID: r.TemplateID, ShopperID: r.ShopperID, Status: coupon.CouponStatus(r.Status),
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, Source: coupon.Source(r.Source), IssuedAt: r.IssuedAt, Template: t}
}

// Issue implements coupon.Store.
func (s Coupons) Issue(ctx context.Context, t coupon.Template, shopperID int64, src coupon.Source, ref int64, countClaim bool,
	from, until, at time.Time) (coupon.Coupon, error) {
	if countClaim {
		var n int
		err := sqlx.GetContext(ctx, s.ext(), &n, countClaimSQL, t.ID, shopperID)
		if errors.Is(err, sql.ErrNoRows) {
			return coupon.Coupon{}, coupon.ErrLimitReached
		}
		if isFKViolation(err) {
			return coupon.Coupon{}, coupon.ErrShopperNotFound
		}
		if err != nil {
			return coupon.Coupon{}, fmt.Errorf("storage: count claim: %w", mapErr(err))
		}
	}
	res, err := s.ext().ExecContext(ctx, takeOneSQL, t.ID)
	if err != nil {
		return coupon.Coupon{}, fmt.Errorf("storage: issue coupon: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return coupon.Coupon{}, coupon.ErrSoldOut
	}
	var r couponRow
	err = sqlx.GetContext(ctx, s.ext(), &r, `
INSERT INTO coupons AS c (template_id, shopper_id, valid_from, valid_until, source, source_ref, issued_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+couponCols, t.ID, shopperID, from, until, string(src), ref, at)
	if isFKViolation(err) {
		return coupon.Coupon{}, coupon.ErrShopperNotFound
	}
	if err != nil {
		return coupon.Coupon{}, fmt.Errorf("storage: issue coupon: %w", mapErr(err))
	}
	t.Issued++
	return r.toDomain(t), nil
}

type heldRow struct {
	couponRow
	T templateRow `db:"t"`
}

// heldSQL selects coupons (c) with their templates (t) as t.* columns.
const heldSQL = `SELECT ` + couponCols + `,
    t.id "t.id", t.name "t.name", t.description "t.description", t.kind "t.kind", t.threshold_fen "t.threshold_fen",
    t.amount_off_fen "t.amount_off_fen", t.percent_off_bp "t.percent_off_bp", t.max_off_fen "t.max_off_fen",
    t.scope_kind "t.scope_kind", t.scope_ids "t.scope_ids", t.excluded_product_ids "t.excluded_product_ids",
    t.valid_from "t.valid_from", t.valid_until "t.valid_until", t.valid_days "t.valid_days", t.total "t.total",
    t.issued "t.issued", t.per_shopper "t.per_shopper", t.audience "t.audience", t.audience_tier "t.audience_tier",
    t.audience_touchpoint_id "t.audience_touchpoint_id", t.audience_since "t.audience_since",
    t.stacks_with_campaign "t.stacks_with_campaign", t.claimable "t.claimable", t.visible_from "t.visible_from",
    t.claim_from "t.claim_from", t.claim_until "t.claim_until", t.status "t.status", t.created_at "t.created_at",
    t.updated_at "t.updated_at"
FROM coupons c JOIN coupon_templates t ON t.id = c.template_id`

// held loads coupons with their templates; category scopes are widened to
// the categories' subcategories.
func (s Coupons) held(ctx context.Context, q string, args ...any) ([]coupon.Coupon, error) {
	var rows []heldRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: held coupons: %w", mapErr(err))
	}
	out := make([]coupon.Coupon, len(rows))
	subs := map[string][]int64{}
	for i, r := range rows {
		t := r.T.toDomain()
		if t.Scope.Kind == pricing.ScopeCategories {
			key := fmt.Sprint(t.Scope.IDs)
			ids, ok := subs[key]
			if !ok {
				var err error
				if ids, err = s.categoryTree(ctx, t.Scope.IDs); err != nil {
					return nil, err
				}
				subs[key] = ids
			}
			t.Scope.IDs = ids
		}
		out[i] = r.couponRow.toDomain(t)
	}
	return out, nil
}

// categoryTree is the categories and all their descendants.
func (s Coupons) categoryTree(ctx context.Context, roots []int64) ([]int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, s.ext(), &ids, `
WITH RECURSIVE tree(id) AS (SELECT id FROM categories WHERE id = ANY($1)
    UNION SELECT c.id FROM categories c JOIN tree ON c.parent_id = tree.id)
SELECT id FROM tree ORDER BY id`, pq.Array(roots))
	if err != nil {
		return nil, fmt.Errorf("storage: category tree: %w", mapErr(err))
	}
	return ids, nil
}

// Usable implements coupon.Store.
func (s Coupons) Usable(ctx context.Context, shopperID int64, now time.Time) ([]coupon.Coupon, error) {
	return s.held(ctx, heldSQL+` WHERE c.shopper_id = $1 AND c.status = 'usable' AND c.valid_until > $2 ORDER BY c.id`, shopperID, now)
}

// Coupons implements coupon.Store.
func (s Coupons) Coupons(ctx context.Context, shopperID int64, status coupon.CouponStatus, now time.Time, page domain.Page) ([]coupon.Coupon, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	cond := `c.status = $2`
	switch status {
	case coupon.CouponUsable:
		cond = `c.status = 'usable' AND c.valid_until > $5`
	case coupon.CouponExpired:
		cond = `(c.status = 'expired' OR (c.status = 'usable' AND c.valid_until <= $5))`
	}
	cs, err := s.held(ctx, heldSQL+` WHERE c.shopper_id = $1 AND $2::text <> '' AND $5::timestamptz IS NOT NULL AND `+cond+` AND c.id < $3 ORDER BY c.id DESC LIMIT $4`,
		shopperID, string(status), before, limit+1, now)
	if err != nil {
		return nil, "", err
	}
	cs, next := pageOf(cs, limit, func(i int) int64 { return cs[i].ID })
	return cs, next, nil
}

// Redemption is one coupon on one order (see coupon_redemptions).
type Redemption struct {
	ID       int64
	CouponID int64
}

// Lock puts a usable, valid coupon of the shopper on an order: the coupon
// becomes locked (a conditional update, so two orders can never both take
// it) and a redemption records it; its id is returned.
func (s Coupons) Lock(ctx context.Context, couponID, shopperID, orderID int64, discount domain.Fen, at time.Time) (int64, error) {
	res, err := s.ext().ExecContext(ctx, `
UPDATE coupons SET status = 'locked'
WHERE id = $1 AND shopper_id = $2 AND status = 'usable' AND valid_from <= $3 AND valid_until > $3`, couponID, shopperID, at)
	if err != nil {
		return 0, fmt.Errorf("storage: lock coupon: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, coupon.ErrCouponTaken.WithDetails(pricing.CouponProblem{CouponID: couponID, Reason: "coupon_taken",
			Message: "This coupon is already on another order or no longer usable."})
	}
	var id int64
	err = sqlx.GetContext(ctx, s.ext(), &id, `
INSERT INTO coupon_redemptions (coupon_id, order_id, status, discount_fen, locked_at)
VALUES ($1, $2, 'locked', $3, $4) RETURNING id`, couponID, orderID, int64(discount), at)
	if err != nil {
		return 0, fmt.Errorf("storage: redeem coupon: %w", mapErr(err))
	}
	return id, nil
}

// Use marks the order's locked coupons used (the order was paid) and
// returns how many.
func (s Coupons) Use(ctx context.Context, orderID int64, at time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.ext(), &n, `
WITH r AS (UPDATE coupon_redemptions SET status = 'used', used_at = $2 WHERE order_id = $1 AND status = 'locked'
           RETURNING coupon_id),
     c AS (UPDATE coupons SET status = 'used' FROM r WHERE coupons.id = r.coupon_id AND coupons.status = 'locked'
           RETURNING coupons.id)
SELECT CASE WHEN (SELECT count(*) FROM r) = (SELECT count(*) FROM c) THEN (SELECT count(*) FROM c) ELSE -1 END`, orderID, at)
	if err != nil {
		return 0, fmt.Errorf("storage: use coupons: %w", mapErr(err))
	}
	if n < 0 {
		return 0, fmt.Errorf("storage: use coupons of order %d: a redemption's coupon is not locked", orderID)
	}
	return n, nil
}

// Return gives the order's locked coupons back (the order was cancelled):
// usable again while valid at at, expired otherwise.
func (s Coupons) Return(ctx context.Context, orderID int64, at time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.ext(), &n, `
WITH r AS (UPDATE coupon_redemptions SET status = 'returned', returned_at = $2 WHERE order_id = $1 AND status = 'locked'
           RETURNING coupon_id),
     c AS (UPDATE coupons SET status = CASE WHEN coupons.valid_until > $2 THEN 'usable' ELSE 'expired' END
           FROM r WHERE coupons.id = r.coupon_id AND coupons.status = 'locked' RETURNING coupons.id)
SELECT count(*) FROM c`, orderID, at)
	if err != nil {
		return 0, fmt.Errorf("storage: return coupons: %w", mapErr(err))
	}
	return n, nil
}

var _ coupon.IssueStore = Coupons{}

// NextBatch implements coupon.IssueStore.
func (s Coupons) NextBatch(ctx context.Context, templateID int64) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, s.ext(), &n, `SELECT COALESCE(max(batch), 0) + 1 FROM coupon_codes WHERE template_id = $1`, templateID); err != nil {
		return 0, fmt.Errorf("storage: code batch: %w", mapErr(err))
	}
	return n, nil
}

// AddCodes implements coupon.IssueStore.
func (s Coupons) AddCodes(ctx context.Context, templateID int64, batch int, codes []string) (int, error) {
	res, err := s.ext().ExecContext(ctx, `
INSERT INTO coupon_codes (template_id, batch, code) SELECT $1, $2, c FROM unnest($3::text[]) c ON CONFLICT (code) DO NOTHING`,
		templateID, batch, pq.StringArray(codes))
	if err != nil {
		return 0, fmt.Errorf("storage: add codes: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

type codeRow struct {
	ID         int64         `db:"id"`
	TemplateID int64         `db:"template_id"`
	Batch      int           `db:"batch"`
	Code       string        `db:"code"`
	RedeemedBy sql.NullInt64 `db:"redeemed_by"`
	RedeemedAt sql.NullTime  `db:"redeemed_at"`
	CreatedAt  time.Time     `db:"created_at"`
}

// Codes implements coupon.IssueStore: oldest first, batch 0 for all.
func (s Coupons) Codes(ctx context.Context, templateID int64, batch int, page domain.Page) ([]coupon.Code, string, error) {
	limit := domain.BoundLimit(page.Limit)
	if page.Limit > domain.MaxPageLimit { // CSV exports read a whole batch
		limit = page.Limit
	}
	after, err := idAfter(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	// Only the filter given is in the statement (stmtArgs), and the cursor is
	// a row comparison over the index that serves it — a template's codes
	// (template_id, id), a batch's (template_id, batch, id), migration 00035
	// — which the primary key cannot serve: with "id > $2 ORDER BY id" the
	// generic plan walked the primary key filtering: with two templates of
	// 500,000 codes in batches of 100,000, the second template's first page
	// read the first template's codes (95 ms) and its fifth batch's the
	// 900,000 codes before it (173 ms); 0.07 ms each so (issue 18).
	args := stmtArgs{templateID, after, limit + 1}
	cond := "template_id = $1 AND (template_id, id) > ($1, $2) ORDER BY template_id, id"
	if batch != 0 {
		b := args.add(batch)
		cond = "(template_id, batch) = ($1, " + b + ") AND (template_id, batch, id) > ($1, " + b + ", $2) ORDER BY template_id, batch, id"
	}
	var rows []codeRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT id, template_id, batch, code, redeemed_by, redeemed_at, created_at FROM coupon_codes
WHERE `+cond+` LIMIT $3`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: codes: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]coupon.Code, len(rows))
	for i, r := range rows {
		out[i] = coupon.Code{ID: r.ID, TemplateID: r.TemplateID, Batch: r.Batch, Code: r.Code, RedeemedBy: r.RedeemedBy.Int64,
			RedeemedAt: timeOf(r.RedeemedAt), CreatedAt: r.CreatedAt}
	}
	return out, next, nil
}

// TakeGuess implements coupon.IssueStore: one conditional upsert, so
// parallel guesses stop exactly at the limit.
func (s Coupons) TakeGuess(ctx context.Context, shopperID int64, window time.Time, limit int) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, s.ext(), &n, `
INSERT INTO coupon_code_failures AS f (shopper_id, window_start, failures) VALUES ($1, $2, 1)
ON CONFLICT (shopper_id, window_start) DO UPDATE SET failures = f.failures + 1 WHERE f.failures < $3
RETURNING failures`, shopperID, window, limit)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: code guess: %w", mapErr(err))
	}
	return true, nil
}

// ForgiveGuess implements coupon.IssueStore.
func (s Coupons) ForgiveGuess(ctx context.Context, shopperID int64, window time.Time) error {
	_, err := s.ext().ExecContext(ctx, `
UPDATE coupon_code_failures SET failures = failures - 1 WHERE shopper_id = $1 AND window_start = $2 AND failures > 0`, shopperID, window)
	if err != nil {
		return fmt.Errorf("storage: code guess: %w", mapErr(err))
	}
	return nil
}

// UseCode implements coupon.IssueStore: a conditional update, so a code
// works once whatever the concurrency.
func (s Coupons) UseCode(ctx context.Context, code string, shopperID int64, at time.Time) (int64, error) {
	var tid int64
	err := sqlx.GetContext(ctx, s.ext(), &tid, `
UPDATE coupon_codes SET redeemed_by = $2, redeemed_at = $3 WHERE code = $1 AND redeemed_by IS NULL RETURNING template_id`,
		code, shopperID, at)
	if err != nil {
		return 0, mapErrNotFound(err, coupon.ErrCodeInvalid)
	}
	return tid, nil
}

// SetCodeCoupon implements coupon.IssueStore.
func (s Coupons) SetCodeCoupon(ctx context.Context, code string, couponID int64) error {
	if _, err := s.ext().ExecContext(ctx, `UPDATE coupon_codes SET coupon_id = $2 WHERE code = $1`, code, couponID); err != nil {
		return fmt.Errorf("storage: code coupon: %w", mapErr(err))
	}
	return nil
}

type jobRow struct {
	ID         int64         `db:"id"`
	Kind       string        `db:"kind"`
	State      string        `db:"state"`
	TemplateID int64         `db:"template_id"`
	Total      int           `db:"total"`
	Done       int           `db:"done"`
	Failed     int           `db:"failed"`
	CreatedBy  sql.NullInt64 `db:"created_by"`
	Error      string        `db:"error"`
	CreatedAt  time.Time     `db:"created_at"`
	UpdatedAt  time.Time     `db:"updated_at"`
	FinishedAt sql.NullTime  `db:"finished_at"`
}

const jobCols = `id, kind, state, (params->>'template_id')::bigint AS template_id, total, done, failed, created_by, error,
    created_at, updated_at, finished_at`

func (r jobRow) toDomain() coupon.Job {
	return coupon.Job{ID: r.ID, Kind: r.Kind, State: coupon.JobState(r.State), TemplateID: r.TemplateID, Total: r.Total,
		Done: r.Done, Failed: r.Failed, CreatedBy: r.CreatedBy.Int64, Error: r.Error, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, FinishedAt: timeOf(r.FinishedAt)}
}

// CreateJob implements coupon.IssueStore: the job and its targets in one
// statement each; total is how many targets there are.
func (s Coupons) CreateJob(ctx context.Context, j coupon.Job, seg coupon.Segment) (coupon.Job, error) {
	var id int64
	if err := sqlx.GetContext(ctx, s.ext(), &id, `
INSERT INTO jobs (kind, state, params, created_by, created_at, updated_at)
VALUES ($1, 'queued', jsonb_build_object('template_id', $2::bigint), NULLIF($3, 0), $4, $4) RETURNING id`,
		j.Kind, j.TemplateID, j.CreatedBy, j.CreatedAt); err != nil {
		return coupon.Job{}, fmt.Errorf("storage: create job: %w", mapErr(err))
	}
	var q string
	var args []any
	switch {
	case seg.Tier > 0 || len(seg.ShopperIDs) > 0:
		ids := seg.ShopperIDs
		if seg.Tier > 0 { // membership listed the tier's shoppers
			ids = seg.TierShoppers
		}
		q, args = `SELECT id FROM shoppers WHERE id = ANY($2)`, []any{pq.Array(ids)}
	case seg.NewCustomers:
		q = `SELECT s.id FROM shoppers s WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.shopper_id = s.id AND o.paid_at IS NOT NULL)`
	case seg.TouchpointID > 0:
		q, args = `SELECT DISTINCT shopper_id FROM touches WHERE shopper_id IS NOT NULL AND $2 = ANY (touchpoint_ids) AND at >= $3 AND at < $4`,
			[]any{seg.TouchpointID, seg.From, seg.To}
	default:
		return coupon.Job{}, domain.Invalid(domain.FieldError{Field: "segment", Code: "required", Message: "no segment"})
	}
	if _, err := s.ext().ExecContext(ctx, `INSERT INTO job_targets (job_id, shopper_id) SELECT $1, x.id FROM (`+q+`) x(id)`,
		append([]any{id}, args...)...); err != nil {
		return coupon.Job{}, fmt.Errorf("storage: job targets: %w", mapErr(err))
	}
	if _, err := s.ext().ExecContext(ctx, `UPDATE jobs SET total = (SELECT count(*) FROM job_targets WHERE job_id = $1) WHERE id = $1`, id); err != nil {
		return coupon.Job{}, fmt.Errorf("storage: create job: %w", mapErr(err))
	}
	return s.Job(ctx, id)
}

// Job implements coupon.IssueStore.
func (s Coupons) Job(ctx context.Context, id int64) (coupon.Job, error) {
	var r jobRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id); err != nil {
		return coupon.Job{}, mapErrNotFound(err, coupon.ErrJobNotFound)
	}
	return r.toDomain(), nil
}

// LeaseJob implements coupon.IssueStore.
func (s Coupons) LeaseJob(ctx context.Context, now time.Time, lease time.Duration) (coupon.Job, bool, error) {
	var r jobRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `
UPDATE jobs SET state = 'running', lease_until = $2, updated_at = $1
WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until <= $1)
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING `+jobCols, now, now.Add(lease))
	if errors.Is(err, sql.ErrNoRows) {
		return coupon.Job{}, false, nil
	}
	if err != nil {
		return coupon.Job{}, false, fmt.Errorf("storage: lease job: %w", mapErr(err))
	}
	return r.toDomain(), true, nil
}

// PendingTargets implements coupon.IssueStore.
func (s Coupons) PendingTargets(ctx context.Context, jobID int64, limit int) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, s.ext(), &ids, `
SELECT shopper_id FROM job_targets WHERE job_id = $1 AND state = 'pending' ORDER BY shopper_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
		jobID, limit); err != nil {
		return nil, fmt.Errorf("storage: job targets: %w", mapErr(err))
	}
	return ids, nil
}

// FinishTargets implements coupon.IssueStore.
func (s Coupons) FinishTargets(ctx context.Context, jobID int64, done []int64, failed map[int64]string, now time.Time, lease time.Duration) (coupon.Job, error) {
	fids := make([]int64, 0, len(failed))
	reasons := make([]string, 0, len(failed))
	for id, why := range failed {
		fids, reasons = append(fids, id), append(reasons, why)
	}
	if _, err := s.ext().ExecContext(ctx, `
UPDATE job_targets t SET state = x.state, reason = x.reason
FROM (SELECT unnest($2::bigint[]) id, 'done' state, '' reason
      UNION ALL SELECT unnest($3::bigint[]), 'failed', unnest($4::text[])) x
WHERE t.job_id = $1 AND t.shopper_id = x.id AND t.state = 'pending'`,
		jobID, pq.Array(done), pq.Array(fids), pq.StringArray(reasons)); err != nil {
		return coupon.Job{}, fmt.Errorf("storage: finish targets: %w", mapErr(err))
	}
	var r jobRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `
UPDATE jobs j SET done = j.done + $2, failed = j.failed + $3, updated_at = $4::timestamptz, lease_until = $5,
    state = CASE WHEN EXISTS (SELECT 1 FROM job_targets WHERE job_id = $1 AND state = 'pending') THEN 'running' ELSE 'done' END,
    finished_at = CASE WHEN EXISTS (SELECT 1 FROM job_targets WHERE job_id = $1 AND state = 'pending') THEN NULL ELSE $4::timestamptz END
WHERE id = $1 RETURNING `+jobCols, jobID, len(done), len(failed), now, now.Add(lease))
	if err != nil {
		return coupon.Job{}, fmt.Errorf("storage: finish targets: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

type budgetRow struct {
	ID         int64         `db:"id"`
	TemplateID int64         `db:"template_id"`
	HolderKind string        `db:"holder_kind"`
	HolderID   int64         `db:"holder_id"`
	Total      int           `db:"total"`
	Used       int           `db:"used"`
	CreatedBy  sql.NullInt64 `db:"created_by"`
	CreatedAt  time.Time     `db:"created_at"`
}

const budgetCols = `id, template_id, holder_kind, holder_id, total, used, created_by, created_at`

func (r budgetRow) toDomain() coupon.Budget {
	return coupon.Budget{ID: r.ID, TemplateID: r.TemplateID, HolderKind: r.HolderKind, HolderID: r.HolderID, Total: r.Total,
		Used: r.Used, CreatedBy: r.CreatedBy.Int64, CreatedAt: r.CreatedAt}
}

// CreateBudget implements coupon.IssueStore.
func (s Coupons) CreateBudget(ctx context.Context, b coupon.Budget, at time.Time) (coupon.Budget, error) {
	var r budgetRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, `
INSERT INTO coupon_budgets (template_id, holder_kind, holder_id, total, created_by, created_at)
VALUES ($1, $2, $3, $4, NULLIF($5, 0), $6) RETURNING `+budgetCols,
		b.TemplateID, b.HolderKind, b.HolderID, b.Total, b.CreatedBy, at); err != nil {
		return coupon.Budget{}, fmt.Errorf("storage: create budget: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

// Budgets implements coupon.IssueStore.
func (s Coupons) Budgets(ctx context.Context, templateID int64, page domain.Page) ([]coupon.Budget, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []budgetRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+budgetCols+` FROM coupon_budgets
WHERE ($1 = 0 OR template_id = $1) AND id < $2 ORDER BY id DESC LIMIT $3`, templateID, before, limit+1); err != nil {
		return nil, "", fmt.Errorf("storage: budgets: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]coupon.Budget, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

// TakeFromBudget implements coupon.IssueStore: the clerk's own budget
// first, then their store's; each a conditional update.
func (s Coupons) TakeFromBudget(ctx context.Context, templateID, clerkID, storeID int64) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.ext(), &id, `
UPDATE coupon_budgets SET used = used + 1
WHERE id = (SELECT id FROM coupon_budgets
            WHERE template_id = $1 AND used < total
              AND ((holder_kind = 'clerk' AND holder_id = $2) OR (holder_kind = 'store' AND holder_id = $3))
            ORDER BY holder_kind = 'clerk' DESC, id LIMIT 1 FOR UPDATE)
  AND used < total
RETURNING id`, templateID, clerkID, storeID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, coupon.ErrNoBudget
	}
	if err != nil {
		return 0, fmt.Errorf("storage: take from budget: %w", mapErr(err))
	}
	return id, nil
}

// TakeFromKOCBudget implements coupon.IssueStore: the KOC's own budget (a
// 'koc' budget whose holder is their shopper id), a conditional update.
func (s Coupons) TakeFromKOCBudget(ctx context.Context, templateID, kocID int64) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.ext(), &id, `
UPDATE coupon_budgets SET used = used + 1
WHERE id = (SELECT id FROM coupon_budgets
            WHERE template_id = $1 AND used < total AND holder_kind = 'koc' AND holder_id = $2
            ORDER BY id LIMIT 1 FOR UPDATE)
  AND used < total
RETURNING id`, templateID, kocID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, coupon.ErrNoBudget
	}
	if err != nil {
		return 0, fmt.Errorf("storage: take from koc budget: %w", mapErr(err))
	}
	return id, nil
}

// RecordGrant implements coupon.IssueStore: granted by staff (with their
// store) or by a KOC.
func (s Coupons) RecordGrant(ctx context.Context, g coupon.Grant) (coupon.Grant, error) {
	err := sqlx.GetContext(ctx, s.ext(), &g.ID, `
INSERT INTO coupon_grants (budget_id, coupon_id, shopper_id, granted_by, store_id, koc_id, granted_at)
VALUES ($1, $2, $3, NULLIF($4, 0), NULLIF($5, 0), NULLIF($6, 0), $7) RETURNING id`,
		g.BudgetID, g.CouponID, g.ShopperID, g.GrantedBy, g.StoreID, g.KOCID, g.GrantedAt)
	if err != nil {
		return coupon.Grant{}, fmt.Errorf("storage: record grant: %w", mapErr(err))
	}
	return g, nil
}
