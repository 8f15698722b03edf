package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/member"
	"github.com/yutang/yutang/domain/payment"
)

// Members is membership's store: cards, tiers, the points, growth and
// stored-value ledgers (each entry and its card's cached sums in one
// statement), top-ups and member codes.
type Members struct{ scope }

// InTx implements member.Store.
func (s Members) InTx(ctx context.Context, fn func(member.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Members()) })
}

// Tx is the transaction the store runs in (nil on the pool): the birthday
// worker hands it to the coupons area, which issues in the same one.
func (s Members) Tx() *Tx { return s.tx }

// Audit implements member.Store.
func (s Members) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

// Contact implements member.Store.
func (s Members) Contact(ctx context.Context, shopperID int64) (string, string, string, error) {
	var r struct {
		Phone  sql.NullString `db:"phone"`
		Name   string         `db:"nickname"`
		OpenID string         `db:"openid"`
	}
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT phone, nickname, openid FROM shoppers WHERE id = $1`, shopperID)
	if err != nil {
		return "", "", "", fmt.Errorf("storage: shopper contact: %w", mapErr(err))
	}
	return r.Phone.String, r.Name, r.OpenID, nil
}

const cardCols = `id, shopper_id, card_no, tier_id, growth, points, points_frozen, points_debt, principal_fen,
bonus_fen, birthday, activated_at, period_start`

type cardRow struct {
	ID          int64        `db:"id"`
	ShopperID   int64        `db:"shopper_id"`
	Number      string       `db:"card_no"`
	TierID      int64        `db:"tier_id"`
	Growth      int64        `db:"growth"`
	Points      int64        `db:"points"`
	Frozen      int64        `db:"points_frozen"`
	Debt        int64        `db:"points_debt"`
	Principal   int64        `db:"principal_fen"`
	Bonus       int64        `db:"bonus_fen"`
	Birthday    sql.NullTime `db:"birthday"`
	ActivatedAt time.Time    `db:"activated_at"`
	PeriodStart time.Time    `db:"period_start"`
}

func (r cardRow) card() member.Card {
	c := member.Card{ID: r.ID, ShopperID: r.ShopperID, Number: r.Number, TierID: r.TierID, Growth: r.Growth,
		Points: r.Points, PointsFrozen: r.Frozen, PointsDebt: r.Debt, Principal: domain.Fen(r.Principal),
		Bonus: domain.Fen(r.Bonus), ActivatedAt: r.ActivatedAt, PeriodStart: r.PeriodStart}
	if r.Birthday.Valid {
		y, m, d := r.Birthday.Time.Date()
		b := time.Date(y, m, d, 0, 0, 0, 0, domain.Shanghai)
		c.Birthday = &b
	}
	return c
}

func cards(rows []cardRow) []member.Card {
	out := make([]member.Card, len(rows))
	for i, r := range rows {
		out[i] = r.card()
	}
	return out
}

// CreateCard implements member.Store.
func (s Members) CreateCard(ctx context.Context, c member.Card) (member.Card, error) {
	var birthday any
	if c.Birthday != nil {
		birthday = c.Birthday.In(domain.Shanghai).Format(time.DateOnly)
	}
	var r cardRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `INSERT INTO member_cards (shopper_id, card_no, tier_id, birthday, activated_at,
    period_start, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $5) RETURNING `+cardCols,
		c.ShopperID, c.Number, c.TierID, birthday, c.ActivatedAt, c.PeriodStart)
	if err != nil {
		return member.Card{}, fmt.Errorf("storage: create card: %w", mapErr(err))
	}
	return r.card(), nil
}

func (s Members) cardWhere(ctx context.Context, where string, arg any, forUpdate bool) (member.Card, error) {
	q := `SELECT ` + cardCols + ` FROM member_cards WHERE ` + where
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r cardRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, q, arg); err != nil {
		return member.Card{}, mapErrNotFound(err, member.ErrNoCard)
	}
	return r.card(), nil
}

// Card implements member.Store.
func (s Members) Card(ctx context.Context, shopperID int64, forUpdate bool) (member.Card, error) {
	return s.cardWhere(ctx, `shopper_id = $1`, shopperID, forUpdate)
}

// CardByID implements member.Store.
func (s Members) CardByID(ctx context.Context, id int64, forUpdate bool) (member.Card, error) {
	return s.cardWhere(ctx, `id = $1`, id, forUpdate)
}

// SetTier implements member.Store.
func (s Members) SetTier(ctx context.Context, cardID, tierID int64, at time.Time) error {
	return s.exec(ctx, "set tier", `UPDATE member_cards SET tier_id = $2, updated_at = $3 WHERE id = $1`, cardID, tierID, at)
}

func (s Members) exec(ctx context.Context, op, q string, args ...any) error {
	if _, err := s.ext().ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("storage: %s: %w", op, mapErr(err))
	}
	return nil
}

// Settings implements member.Store.
// memberSettingsRow is member_settings' row (also read with the tiers:
// rulesSQL).
type memberSettingsRow struct {
	PerYuan   int64 `db:"points_per_yuan"`
	PerFen    int64 `db:"redeem_points_per_fen"`
	CapBP     int64 `db:"redeem_cap_bp"`
	Growth    int64 `db:"growth_per_yuan"`
	LifeYears int   `db:"points_life_years"`
}

func (r memberSettingsRow) settings() member.Settings {
	return member.Settings{PointsPerYuan: r.PerYuan, RedeemPointsPerFen: r.PerFen, RedeemCapBP: r.CapBP,
		GrowthPerYuan: r.Growth, PointsLifeYears: r.LifeYears}
}

func (s Members) Settings(ctx context.Context) (member.Settings, error) {
	var r memberSettingsRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT points_per_yuan, redeem_points_per_fen, redeem_cap_bp, growth_per_yuan,
    points_life_years FROM member_settings`)
	if err != nil {
		return member.Settings{}, fmt.Errorf("storage: member settings: %w", mapErr(err))
	}
	return r.settings(), nil
}

// PutSettings implements member.Store.
func (s Members) PutSettings(ctx context.Context, n member.Settings, at time.Time) error {
	return s.exec(ctx, "put member settings", `UPDATE member_settings SET points_per_yuan = $1, redeem_points_per_fen = $2,
    redeem_cap_bp = $3, growth_per_yuan = $4, points_life_years = $5, updated_at = $6`,
		n.PointsPerYuan, n.RedeemPointsPerFen, n.RedeemCapBP, n.GrowthPerYuan, n.PointsLifeYears, at)
}

const tierCols = `id, name, threshold, discount_bp, points_multiplier_bp, free_shipping, birthday_template_id, created_at, updated_at`

type tierRow struct {
	ID           int64         `db:"id"`
	Name         string        `db:"name"`
	Threshold    int64         `db:"threshold"`
	DiscountBP   int64         `db:"discount_bp"`
	MultiplierBP int64         `db:"points_multiplier_bp"`
	FreeShipping bool          `db:"free_shipping"`
	Birthday     sql.NullInt64 `db:"birthday_template_id"`
	CreatedAt    time.Time     `db:"created_at"`
	UpdatedAt    time.Time     `db:"updated_at"`
}

func (r tierRow) tier() member.Tier {
	return member.Tier{ID: r.ID, Name: r.Name, Threshold: r.Threshold, DiscountBP: r.DiscountBP, MultiplierBP: r.MultiplierBP,
		FreeShipping: r.FreeShipping, BirthdayTemplate: r.Birthday.Int64, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// Tiers implements member.Store.
func (s Members) Tiers(ctx context.Context) ([]member.Tier, error) {
	var rows []tierRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+tierCols+` FROM member_tiers ORDER BY threshold`); err != nil {
		return nil, fmt.Errorf("storage: tiers: %w", mapErr(err))
	}
	out := make([]member.Tier, len(rows))
	for i, r := range rows {
		out[i] = r.tier()
	}
	return out, nil
}

// rulesSQL is the settings (one row) on each tier's row, the tiers by
// threshold; one row of zero tier columns when there is no tier.
const rulesSQL = `
SELECT st.points_per_yuan, st.redeem_points_per_fen, st.redeem_cap_bp, st.growth_per_yuan, st.points_life_years,
       COALESCE(t.id, 0) AS id, COALESCE(t.name, '') AS name, COALESCE(t.threshold, 0) AS threshold,
       COALESCE(t.discount_bp, 0) AS discount_bp, COALESCE(t.points_multiplier_bp, 0) AS points_multiplier_bp,
       COALESCE(t.free_shipping, false) AS free_shipping, t.birthday_template_id,
       COALESCE(t.created_at, 'epoch') AS created_at, COALESCE(t.updated_at, 'epoch') AS updated_at
FROM member_settings st LEFT JOIN member_tiers t ON true
ORDER BY t.threshold`

// Rules implements member.Store.
func (s Members) Rules(ctx context.Context) ([]member.Tier, member.Settings, error) {
	var rows []struct {
		memberSettingsRow
		tierRow
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, rulesSQL); err != nil {
		return nil, member.Settings{}, fmt.Errorf("storage: member rules: %w", mapErr(err))
	}
	if len(rows) == 0 {
		return nil, member.Settings{}, fmt.Errorf("storage: member rules: %w", sql.ErrNoRows)
	}
	set := rows[0].memberSettingsRow.settings()
	var tiers []member.Tier
	for _, r := range rows {
		if r.ID != 0 {
			tiers = append(tiers, r.tier())
		}
	}
	return tiers, set, nil
}

// TierPage implements member.Store: the tiers by id, a page at a time.
func (s Members) TierPage(ctx context.Context, page domain.Page) ([]member.Tier, string, error) {
	after, err := idAfter(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := domain.BoundLimit(page.Limit)
	var rows []tierRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+tierCols+` FROM member_tiers WHERE id > $1 ORDER BY id LIMIT $2`,
		after, limit+1); err != nil {
		return nil, "", fmt.Errorf("storage: tier page: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]member.Tier, len(rows))
	for i, r := range rows {
		out[i] = r.tier()
	}
	return out, next, nil
}

// CreateTier implements member.Store.
func (s Members) CreateTier(ctx context.Context, t member.Tier) (member.Tier, error) {
	var r tierRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `INSERT INTO member_tiers (name, threshold, discount_bp, points_multiplier_bp,
    free_shipping, birthday_template_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+tierCols,
		t.Name, t.Threshold, t.DiscountBP, t.MultiplierBP, t.FreeShipping, nullID(t.BirthdayTemplate), t.CreatedAt, t.UpdatedAt)
	if err != nil {
		return member.Tier{}, fmt.Errorf("storage: create tier: %w", mapErr(err))
	}
	return r.tier(), nil
}

// UpdateTier implements member.Store.
func (s Members) UpdateTier(ctx context.Context, t member.Tier) (member.Tier, error) {
	var r tierRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `UPDATE member_tiers SET name = $2, threshold = $3, discount_bp = $4,
    points_multiplier_bp = $5, free_shipping = $6, birthday_template_id = $7, updated_at = $8 WHERE id = $1 RETURNING `+tierCols,
		t.ID, t.Name, t.Threshold, t.DiscountBP, t.MultiplierBP, t.FreeShipping, nullID(t.BirthdayTemplate), t.UpdatedAt)
	if err != nil {
		return member.Tier{}, fmt.Errorf("storage: update tier: %w", mapErrNotFound(err, member.ErrTierNotFound))
	}
	return r.tier(), nil
}

// entryErr maps a ledger insert's errors: a second entry of the same
// source is member.ErrDuplicate; a card that would go below zero is
// member.ErrNotEnoughPoints or ErrNotEnoughValue.
func entryErr(op string, err error) error {
	switch {
	case isUnique(err, ""):
		return fmt.Errorf("storage: %s: %w", op, member.ErrDuplicate)
	case isCheck(err, "member_cards_points_check"), isCheck(err, "member_cards_points_frozen_check"):
		return fmt.Errorf("storage: %s: %w", op, member.ErrNotEnoughPoints)
	case isCheck(err, "member_cards_principal_fen_check"), isCheck(err, "member_cards_bonus_fen_check"):
		return fmt.Errorf("storage: %s: %w", op, member.ErrNotEnoughValue)
	}
	return fmt.Errorf("storage: %s: %w", op, mapErr(err))
}

// AddPoints implements member.Store: the entry and the card's cached sums
// change in one statement.
func (s Members) AddPoints(ctx context.Context, e member.PointsEntry) (member.PointsEntry, error) {
	var year any
	if e.Year != 0 {
		year = e.Year
	}
	err := sqlx.GetContext(ctx, s.ext(), &e.ID, `
WITH e AS (
    INSERT INTO member_points_entries (card_id, kind, points, debt, order_id, item_id, refund_id, year, reason, actor, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
), c AS (
    UPDATE member_cards SET points = points + $3, points_debt = points_debt + $4, points_frozen = points_frozen + $12,
           updated_at = $11
    WHERE id = $1 RETURNING id
)
SELECT e.id FROM e, c`, e.CardID, string(e.Kind), e.Points, e.Debt, nullID(e.OrderID), nullID(e.ItemID), nullID(e.RefundID),
		year, e.Reason, actorOr(e.Actor), e.At, e.Frozen)
	if err != nil {
		return member.PointsEntry{}, entryErr("add points", err)
	}
	return e, nil
}

func actorOr(a string) string {
	if a == "" {
		return "system"
	}
	return a
}

// Unfreeze implements member.Store.
func (s Members) Unfreeze(ctx context.Context, cardID, points int64) error {
	_, err := s.ext().ExecContext(ctx, `UPDATE member_cards SET points_frozen = points_frozen - $2 WHERE id = $1`, cardID, points)
	if err != nil {
		return entryErr("unfreeze points", err)
	}
	return nil
}

type pointsRow struct {
	ID       int64         `db:"id"`
	CardID   int64         `db:"card_id"`
	Kind     string        `db:"kind"`
	Points   int64         `db:"points"`
	Debt     int64         `db:"debt"`
	OrderID  sql.NullInt64 `db:"order_id"`
	ItemID   sql.NullInt64 `db:"item_id"`
	RefundID sql.NullInt64 `db:"refund_id"`
	At       time.Time     `db:"at"`
}

// OrderPoints implements member.Store.
func (s Members) OrderPoints(ctx context.Context, orderID int64) ([]member.PointsEntry, error) {
	var rows []pointsRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT id, card_id, kind, points, debt, order_id, item_id, refund_id, at
FROM member_points_entries WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("storage: order points: %w", mapErr(err))
	}
	out := make([]member.PointsEntry, len(rows))
	for i, r := range rows {
		out[i] = member.PointsEntry{ID: r.ID, CardID: r.CardID, Kind: member.EntryKind(r.Kind), Points: r.Points, Debt: r.Debt,
			OrderID: r.OrderID.Int64, ItemID: r.ItemID.Int64, RefundID: r.RefundID.Int64, At: r.At}
	}
	return out, nil
}

// AddBalance implements member.Store.
func (s Members) AddBalance(ctx context.Context, e member.BalanceEntry) (member.BalanceEntry, error) {
	err := sqlx.GetContext(ctx, s.ext(), &e.ID, `
WITH e AS (
    INSERT INTO member_balance_entries (card_id, kind, principal_fen, bonus_fen, topup_id, order_id, refund_id, reason, actor, at,
        topup_refund_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
), c AS (
    UPDATE member_cards SET principal_fen = principal_fen + $3, bonus_fen = bonus_fen + $4, updated_at = $10
    WHERE id = $1 RETURNING id
)
SELECT e.id FROM e, c`, e.CardID, string(e.Kind), int64(e.Principal), int64(e.Bonus), nullID(e.TopUpID), nullID(e.OrderID),
		nullID(e.RefundID), e.Reason, actorOr(e.Actor), e.At, nullID(e.TopUpRefundID))
	if err != nil {
		return member.BalanceEntry{}, entryErr("add balance", err)
	}
	return e, nil
}

// OrderBalance implements member.Store.
func (s Members) OrderBalance(ctx context.Context, orderID int64) ([]member.BalanceEntry, error) {
	var rows []struct {
		ID        int64         `db:"id"`
		CardID    int64         `db:"card_id"`
		Kind      string        `db:"kind"`
		Principal int64         `db:"principal_fen"`
		Bonus     int64         `db:"bonus_fen"`
		RefundID  sql.NullInt64 `db:"refund_id"`
		At        time.Time     `db:"at"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT id, card_id, kind, principal_fen, bonus_fen, refund_id, at
FROM member_balance_entries WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("storage: order balance: %w", mapErr(err))
	}
	out := make([]member.BalanceEntry, len(rows))
	for i, r := range rows {
		out[i] = member.BalanceEntry{ID: r.ID, CardID: r.CardID, Kind: member.EntryKind(r.Kind), Principal: domain.Fen(r.Principal),
			Bonus: domain.Fen(r.Bonus), OrderID: orderID, RefundID: r.RefundID.Int64, At: r.At}
	}
	return out, nil
}

// AddGrowth implements member.Store.
func (s Members) AddGrowth(ctx context.Context, e member.GrowthEntry) error {
	_, err := s.ext().ExecContext(ctx, `
WITH e AS (
    INSERT INTO member_growth_entries (card_id, kind, delta, order_id, item_id, refund_id, tier_id, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
)
UPDATE member_cards SET growth = growth + $3, updated_at = $8 WHERE id = $1 AND EXISTS (SELECT 1 FROM e)`,
		e.CardID, string(e.Kind), e.Delta, nullID(e.OrderID), nullID(e.ItemID), nullID(e.RefundID), nullID(e.TierID), e.At)
	if err != nil {
		return entryErr("add growth", err)
	}
	return nil
}

// OrderGrowth implements member.Store.
func (s Members) OrderGrowth(ctx context.Context, orderID int64) ([]member.GrowthEntry, error) {
	var rows []struct {
		CardID   int64         `db:"card_id"`
		Kind     string        `db:"kind"`
		Delta    int64         `db:"delta"`
		ItemID   sql.NullInt64 `db:"item_id"`
		RefundID sql.NullInt64 `db:"refund_id"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT card_id, kind, delta, item_id, refund_id
FROM member_growth_entries WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("storage: order growth: %w", mapErr(err))
	}
	out := make([]member.GrowthEntry, len(rows))
	for i, r := range rows {
		out[i] = member.GrowthEntry{CardID: r.CardID, Kind: member.EntryKind(r.Kind), Delta: r.Delta, OrderID: orderID,
			ItemID: r.ItemID.Int64, RefundID: r.RefundID.Int64}
	}
	return out, nil
}

// Ledger implements member.Store: newest first, by id cursor.
func (s Members) Ledger(ctx context.Context, cardID int64, kind string, page domain.Page) ([]member.LedgerEntry, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT e.id, e.kind, e.points, e.debt, 0 AS principal_fen, 0 AS bonus_fen, COALESCE(o.order_no, '') AS order_no, e.reason, e.at
FROM member_points_entries e LEFT JOIN orders o ON o.id = e.order_id
WHERE e.card_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`
	if kind == member.LedgerBalance {
		q = `SELECT e.id, e.kind, 0 AS points, 0 AS debt, e.principal_fen, e.bonus_fen, COALESCE(o.order_no, '') AS order_no, e.reason, e.at
FROM member_balance_entries e LEFT JOIN orders o ON o.id = e.order_id
WHERE e.card_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`
	}
	var rows []struct {
		ID        int64     `db:"id"`
		Kind      string    `db:"kind"`
		Points    int64     `db:"points"`
		Debt      int64     `db:"debt"`
		Principal int64     `db:"principal_fen"`
		Bonus     int64     `db:"bonus_fen"`
		OrderNo   string    `db:"order_no"`
		Reason    string    `db:"reason"`
		At        time.Time `db:"at"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, q, cardID, before, domain.BoundLimit(page.Limit)+1); err != nil {
		return nil, "", fmt.Errorf("storage: member ledger: %w", mapErr(err))
	}
	rows, next := pageOf(rows, domain.BoundLimit(page.Limit), func(i int) int64 { return rows[i].ID })
	out := make([]member.LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = member.LedgerEntry{ID: r.ID, Kind: member.EntryKind(r.Kind), Points: r.Points, Debt: r.Debt,
			Principal: domain.Fen(r.Principal), Bonus: domain.Fen(r.Bonus), OrderNumber: r.OrderNo, Reason: r.Reason, At: r.At}
	}
	return out, next, nil
}

// SKUPrices implements member.Store.
func (s Members) SKUPrices(ctx context.Context, skuIDs []int64) (map[int64]domain.Fen, error) {
	if len(skuIDs) == 0 {
		return nil, nil
	}
	var rows []struct {
		SKUID int64 `db:"sku_id"`
		Price int64 `db:"price_fen"`
	}
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT sku_id, price_fen FROM member_sku_prices WHERE sku_id = ANY($1)`, pq.Array(skuIDs))
	if err != nil {
		return nil, fmt.Errorf("storage: member prices: %w", mapErr(err))
	}
	out := make(map[int64]domain.Fen, len(rows))
	for _, r := range rows {
		out[r.SKUID] = domain.Fen(r.Price)
	}
	return out, nil
}

// SetSKUPrice implements member.Store.
func (s Members) SetSKUPrice(ctx context.Context, skuID int64, price *domain.Fen, at time.Time) error {
	if price == nil {
		return s.exec(ctx, "clear member price", `DELETE FROM member_sku_prices WHERE sku_id = $1`, skuID)
	}
	return s.exec(ctx, "set member price", `INSERT INTO member_sku_prices (sku_id, price_fen, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (sku_id) DO UPDATE SET price_fen = EXCLUDED.price_fen, updated_at = EXCLUDED.updated_at`, skuID, int64(*price), at)
}

// SaveCode implements member.Store.
func (s Members) SaveCode(ctx context.Context, hash []byte, cardID int64, expires, now time.Time) error {
	return s.exec(ctx, "save member code", `INSERT INTO member_codes (code_hash, card_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
		Bytea(hash), cardID, expires, now)
}

// UseCode implements member.Store: a conditional update uses the code up,
// so two clerks scanning it at once cannot both succeed.
func (s Members) UseCode(ctx context.Context, hash []byte, by string, now time.Time) (int64, error) {
	var cardID int64
	err := sqlx.GetContext(ctx, s.ext(), &cardID, `UPDATE member_codes SET used_at = $2, used_by = $3
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING card_id`, Bytea(hash), now, by)
	if err == nil {
		return cardID, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("storage: use member code: %w", mapErr(err))
	}
	return 0, s.codeProblem(ctx, hash)
}

// LiveCode implements member.Store.
func (s Members) LiveCode(ctx context.Context, hash []byte, now time.Time) (int64, error) {
	var cardID int64
	err := sqlx.GetContext(ctx, s.ext(), &cardID, `SELECT card_id FROM member_codes
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2`, Bytea(hash), now)
	if err == nil {
		return cardID, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("storage: member code: %w", mapErr(err))
	}
	return 0, s.codeProblem(ctx, hash)
}

// codeProblem says why a code is not live: unknown, used or expired.
func (s Members) codeProblem(ctx context.Context, hash []byte) error {
	var r struct {
		Expires time.Time    `db:"expires_at"`
		Used    sql.NullTime `db:"used_at"`
	}
	if err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT expires_at, used_at FROM member_codes WHERE code_hash = $1`, Bytea(hash)); err != nil {
		return mapErrNotFound(err, member.ErrCodeInvalid)
	}
	if r.Used.Valid {
		return member.ErrCodeUsed
	}
	return member.ErrCodeExpired
}

const packageCols = `id, name, pay_fen, bonus_fen, active, created_at, updated_at`

type packageRow struct {
	ID        int64     `db:"id"`
	Name      string    `db:"name"`
	Pay       int64     `db:"pay_fen"`
	Bonus     int64     `db:"bonus_fen"`
	Active    bool      `db:"active"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

func (r packageRow) pkg() member.Package {
	return member.Package{ID: r.ID, Name: r.Name, Pay: domain.Fen(r.Pay), Bonus: domain.Fen(r.Bonus), Active: r.Active,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Packages implements member.Store: oldest first, by id cursor.
func (s Members) Packages(ctx context.Context, activeOnly bool, page domain.Page) ([]member.Package, string, error) {
	after, err := idAfter(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []packageRow
	err = sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+packageCols+` FROM member_topup_packages
WHERE id > $1 AND (active OR NOT $2) ORDER BY id LIMIT $3`, after, activeOnly, domain.BoundLimit(page.Limit)+1)
	if err != nil {
		return nil, "", fmt.Errorf("storage: packages: %w", mapErr(err))
	}
	rows, next := pageOf(rows, domain.BoundLimit(page.Limit), func(i int) int64 { return rows[i].ID })
	out := make([]member.Package, len(rows))
	for i, r := range rows {
		out[i] = r.pkg()
	}
	return out, next, nil
}

// Package implements member.Store.
func (s Members) Package(ctx context.Context, id int64) (member.Package, error) {
	var r packageRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+packageCols+` FROM member_topup_packages WHERE id = $1`, id); err != nil {
		return member.Package{}, mapErrNotFound(err, member.ErrPackageNotFound)
	}
	return r.pkg(), nil
}

// CreatePackage implements member.Store.
func (s Members) CreatePackage(ctx context.Context, p member.Package) (member.Package, error) {
	var r packageRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `INSERT INTO member_topup_packages (name, pay_fen, bonus_fen, active, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+packageCols, p.Name, int64(p.Pay), int64(p.Bonus), p.Active, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return member.Package{}, fmt.Errorf("storage: create package: %w", mapErr(err))
	}
	return r.pkg(), nil
}

const topUpCols = `id, card_id, package_id, out_trade_no, principal_fen, bonus_fen, openid, status, request_payment,
prepay_valid_until, transaction_id, time_expire, created_at, paid_at`

type topUpRow struct {
	ID            int64          `db:"id"`
	CardID        int64          `db:"card_id"`
	PackageID     int64          `db:"package_id"`
	OutTradeNo    string         `db:"out_trade_no"`
	Principal     int64          `db:"principal_fen"`
	Bonus         int64          `db:"bonus_fen"`
	OpenID        string         `db:"openid"`
	Status        string         `db:"status"`
	Params        []byte         `db:"request_payment"`
	ValidUntil    sql.NullTime   `db:"prepay_valid_until"`
	TransactionID sql.NullString `db:"transaction_id"`
	TimeExpire    time.Time      `db:"time_expire"`
	CreatedAt     time.Time      `db:"created_at"`
	PaidAt        sql.NullTime   `db:"paid_at"`
}

func (r topUpRow) topUp() member.TopUp {
	t := member.TopUp{ID: r.ID, CardID: r.CardID, PackageID: r.PackageID, OutTradeNo: r.OutTradeNo,
		Principal: domain.Fen(r.Principal), Bonus: domain.Fen(r.Bonus), OpenID: r.OpenID, Status: member.TopUpStatus(r.Status),
		PrepayValidUntil: r.ValidUntil.Time, TransactionID: r.TransactionID.String, TimeExpire: r.TimeExpire,
		CreatedAt: r.CreatedAt, PaidAt: r.PaidAt.Time}
	if len(r.Params) > 0 {
		_ = json.Unmarshal(r.Params, &t.Params)
	}
	return t
}

// CreateTopUp implements member.Store.
func (s Members) CreateTopUp(ctx context.Context, t member.TopUp) (member.TopUp, error) {
	var r topUpRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `INSERT INTO member_topups (card_id, package_id, out_trade_no, principal_fen,
    bonus_fen, openid, status, time_expire, next_check_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+topUpCols,
		t.CardID, t.PackageID, t.OutTradeNo, int64(t.Principal), int64(t.Bonus), t.OpenID, string(t.Status), t.TimeExpire,
		t.CreatedAt.Add(time.Minute), t.CreatedAt)
	if err != nil {
		return member.TopUp{}, fmt.Errorf("storage: create top-up: %w", mapErr(err))
	}
	return r.topUp(), nil
}

// SavePrepay implements member.Store.
func (s Members) SavePrepay(ctx context.Context, id int64, rp payment.RequestPayment, validUntil time.Time) error {
	b, err := json.Marshal(rp)
	if err != nil {
		return fmt.Errorf("storage: top-up prepay: %w", err)
	}
	return s.exec(ctx, "top-up prepay", `UPDATE member_topups SET request_payment = $2, prepay_valid_until = $3 WHERE id = $1`,
		id, string(b), validUntil)
}

// LockTopUp implements member.Store.
func (s Members) LockTopUp(ctx context.Context, outTradeNo string) (member.TopUp, error) {
	var r topUpRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+topUpCols+` FROM member_topups WHERE out_trade_no = $1 FOR UPDATE`, outTradeNo)
	if err != nil {
		return member.TopUp{}, mapErrNotFound(err, member.ErrTopUpNotFound)
	}
	return r.topUp(), nil
}

// MarkTopUpPaid implements member.Store.
func (s Members) MarkTopUpPaid(ctx context.Context, id int64, transactionID string, at time.Time) error {
	return s.exec(ctx, "top-up paid", `UPDATE member_topups SET status = 'paid', transaction_id = $2, paid_at = $3 WHERE id = $1`,
		id, transactionID, at)
}

// ClaimTopUps implements member.Store.
func (s Members) ClaimTopUps(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]member.TopUp, error) {
	var rows []topUpRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
UPDATE member_topups SET next_check_at = $1::timestamptz + $2 * interval '1 second'
WHERE id IN (SELECT id FROM member_topups WHERE status = 'pending' AND next_check_at <= $1
             ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING `+topUpCols, now, lease.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: claim top-ups: %w", mapErr(err))
	}
	out := make([]member.TopUp, len(rows))
	for i, r := range rows {
		out[i] = r.topUp()
	}
	return out, nil
}

// CloseTopUp implements member.Store. The pending status is a parameter:
// with the literal a generic plan may read the top-up from
// member_topups_pending_idx (partial on it), walking every pending top-up
// (as payments.go's payOrderSQL did with pending orders; issue 18).
func (s Members) CloseTopUp(ctx context.Context, id int64, at time.Time) error {
	return s.exec(ctx, "close top-up", `UPDATE member_topups SET status = 'closed' WHERE id = $1 AND status = $2`, id, "pending")
}

// ExpiryCandidates implements member.Store.
func (s Members) ExpiryCandidates(ctx context.Context, year int, limit int) ([]member.Card, error) {
	var rows []cardRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+cardCols+` FROM member_cards c
WHERE c.points > 0 AND NOT EXISTS (SELECT 1 FROM member_points_expiries x WHERE x.card_id = c.id AND x.year = $1)
ORDER BY c.id LIMIT $2 FOR UPDATE SKIP LOCKED`, year, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expiry candidates: %w", mapErr(err))
	}
	return cards(rows), nil
}

// PointsBefore implements member.Store. Credits are positive entries other
// than repayments; debits are negative entries other than expiries
// (repayments pay debt, not points that could expire, so both sides of a
// repayment are left out).
func (s Members) PointsBefore(ctx context.Context, cardID int64, year int, yearStart, yearEnd time.Time) (int64, int64, int64, int64, error) {
	var r struct {
		Through int64 `db:"through"`
		OfYear  int64 `db:"of_year"`
		Debits  int64 `db:"debits"`
		Expired int64 `db:"expired"`
	}
	err := sqlx.GetContext(ctx, s.ext(), &r, `
SELECT COALESCE(sum(points) FILTER (WHERE points > 0 AND kind <> 'repay' AND at < $3), 0) AS through,
       COALESCE(sum(points) FILTER (WHERE points > 0 AND kind <> 'repay' AND at >= $2 AND at < $3), 0) AS of_year,
       COALESCE(-sum(points) FILTER (WHERE points < 0 AND kind NOT IN ('expire', 'repay')), 0) AS debits,
       COALESCE(-sum(points) FILTER (WHERE kind = 'expire' AND year < $4), 0) AS expired
FROM member_points_entries WHERE card_id = $1`, cardID, yearStart, yearEnd, year)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("storage: points before: %w", mapErr(err))
	}
	return r.Through, r.OfYear, r.Debits, r.Expired, nil
}

// RecordExpiry implements member.Store.
func (s Members) RecordExpiry(ctx context.Context, cardID int64, year int, points int64, at time.Time) error {
	return s.exec(ctx, "record expiry", `INSERT INTO member_points_expiries (card_id, year, points, at) VALUES ($1, $2, $3, $4)`,
		cardID, year, points, at)
}

// ReviewDue implements member.Store.
func (s Members) ReviewDue(ctx context.Context, cutoff time.Time, limit int) ([]member.Card, error) {
	var rows []cardRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+cardCols+` FROM member_cards
WHERE period_start <= $1 ORDER BY period_start LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: reviews due: %w", mapErr(err))
	}
	return cards(rows), nil
}

// StartPeriod implements member.Store.
func (s Members) StartPeriod(ctx context.Context, cardID int64, at time.Time) error {
	return s.exec(ctx, "start period", `UPDATE member_cards SET period_start = $2, updated_at = $2 WHERE id = $1`, cardID, at)
}

// BirthdayCandidates implements member.Store.
func (s Members) BirthdayCandidates(ctx context.Context, month time.Month, year int, limit int) ([]member.Card, error) {
	var rows []cardRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+prefixCols("c.", cardCols)+` FROM member_cards c
JOIN member_tiers t ON t.id = c.tier_id AND t.birthday_template_id IS NOT NULL
WHERE EXTRACT(MONTH FROM c.birthday) = $1
  AND NOT EXISTS (SELECT 1 FROM member_birthday_grants g WHERE g.card_id = c.id AND g.year = $2)
ORDER BY c.id LIMIT $3 FOR UPDATE OF c SKIP LOCKED`, int(month), year, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: birthday candidates: %w", mapErr(err))
	}
	return cards(rows), nil
}

// RecordBirthday implements member.Store.
func (s Members) RecordBirthday(ctx context.Context, cardID int64, year int, tierID, templateID int64, ref string, at time.Time) error {
	return s.exec(ctx, "record birthday", `INSERT INTO member_birthday_grants (card_id, year, tier_id, template_id, coupon_ref, at)
VALUES ($1, $2, $3, $4, $5, $6)`, cardID, year, tierID, templateID, ref, at)
}

// prefixCols qualifies each of a comma-separated column list with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// TiersOf implements coupon.Membership: the tiers at or below the
// shopper's card's tier (by threshold); none without a card.
func (s Members) TiersOf(ctx context.Context, shopperID int64) ([]int64, error) {
	ids := []int64{}
	if err := sqlx.SelectContext(ctx, s.ext(), &ids, `
SELECT t.id FROM member_cards c JOIN member_tiers ct ON ct.id = c.tier_id
JOIN member_tiers t ON t.threshold <= ct.threshold WHERE c.shopper_id = $1 ORDER BY t.threshold`, shopperID); err != nil {
		return nil, fmt.Errorf("storage: member tiers: %w", mapErr(err))
	}
	return ids, nil
}

// TierShoppers implements coupon.Membership: the holders of cards at tier
// tierID or above (none for an unknown tier).
func (s Members) TierShoppers(ctx context.Context, tierID int64) ([]int64, error) {
	ids := []int64{}
	if err := sqlx.SelectContext(ctx, s.ext(), &ids, `
SELECT c.shopper_id FROM member_cards c JOIN member_tiers ct ON ct.id = c.tier_id
WHERE ct.threshold >= (SELECT threshold FROM member_tiers WHERE id = $1) ORDER BY c.shopper_id`, tierID); err != nil {
		return nil, fmt.Errorf("storage: tier shoppers: %w", mapErr(err))
	}
	return ids, nil
}
