package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/commission"
)

// KOCs is the KOC programme's store: KOCs, levels, bindings, the
// commission ledger and settlement batches.
type KOCs struct{ scope }

var _ commission.Store = KOCs{}

func (k KOCs) InTx(ctx context.Context, fn func(commission.Store) error) error {
	return k.inTx(ctx, func(tx *Tx) error { return fn(tx.KOCs()) })
}

func (k KOCs) WriteAudit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, k.ext(), e)
}

// --- settings ---

type kocSettingsRow struct {
	BindingDays      int   `db:"binding_days"`
	BindingNewOnly   bool  `db:"binding_new_only"`
	OrderCap         int64 `db:"order_cap_fen"`
	AfterSalesDays   int   `db:"aftersales_days"`
	FraudSharedLimit int   `db:"fraud_shared_limit"`
}

func (k KOCs) Settings(ctx context.Context) (commission.Settings, error) {
	var r kocSettingsRow
	if err := sqlx.GetContext(ctx, k.ext(), &r, `
SELECT binding_days, binding_new_only, order_cap_fen, aftersales_days, fraud_shared_limit FROM koc_settings`); err != nil {
		return commission.Settings{}, fmt.Errorf("storage: koc settings: %w", mapErr(err))
	}
	return r.settings(), nil
}

func (r kocSettingsRow) settings() commission.Settings {
	return commission.Settings{BindingDays: r.BindingDays, BindingNewOnly: r.BindingNewOnly, OrderCap: domain.Fen(r.OrderCap),
		AfterSalesDays: r.AfterSalesDays, FraudSharedLimit: r.FraudSharedLimit}
}

func (k KOCs) SaveSettings(ctx context.Context, s commission.Settings) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE koc_settings SET binding_days = $1, binding_new_only = $2, order_cap_fen = $3, aftersales_days = $4,
       fraud_shared_limit = $5, updated_at = now()`,
		s.BindingDays, s.BindingNewOnly, int64(s.OrderCap), s.AfterSalesDays, s.FraudSharedLimit)
	if err != nil {
		return fmt.Errorf("storage: save koc settings: %w", mapErr(err))
	}
	return nil
}

// --- KOCs ---

const kocColumns = `
k.shopper_id, k.touchpoint_id, k.status, COALESCE(k.level_id, 0) AS level_id, k.depth, COALESCE(k.recruiter_id, 0) AS recruiter_id,
k.real_name, k.note, k.applied_at, k.decided_at, s.nickname,
k.pending_fen + COALESCE((SELECT sum(ps.pending_fen) FROM koc_pending_shards ps WHERE ps.koc_id = k.shopper_id), 0)::bigint AS pending_fen,
k.settleable_fen, k.settled_fen, k.paid_fen, k.reversed_fen`

type kocRow struct {
	ShopperID    int64        `db:"shopper_id"`
	TouchpointID int64        `db:"touchpoint_id"`
	Status       string       `db:"status"`
	LevelID      int64        `db:"level_id"`
	Depth        int          `db:"depth"`
	RecruiterID  int64        `db:"recruiter_id"`
	RealName     string       `db:"real_name"`
	Note         string       `db:"note"`
	AppliedAt    time.Time    `db:"applied_at"`
	DecidedAt    sql.NullTime `db:"decided_at"`
	Nickname     string       `db:"nickname"`
	Pending      int64        `db:"pending_fen"`
	Settleable   int64        `db:"settleable_fen"`
	Settled      int64        `db:"settled_fen"`
	Paid         int64        `db:"paid_fen"`
	Reversed     int64        `db:"reversed_fen"`
}

func (r kocRow) koc() commission.KOC {
	return commission.KOC{ShopperID: r.ShopperID, TouchpointID: r.TouchpointID, Status: commission.Status(r.Status),
		LevelID: r.LevelID, Depth: r.Depth, RecruiterID: r.RecruiterID, RealName: r.RealName, Note: r.Note,
		AppliedAt: r.AppliedAt, DecidedAt: r.DecidedAt.Time, Nickname: r.Nickname,
		Balances: commission.Balances{Pending: domain.Fen(r.Pending), Settleable: domain.Fen(r.Settleable),
			Settled: domain.Fen(r.Settled), Paid: domain.Fen(r.Paid), Reversed: domain.Fen(r.Reversed)}}
}

func (k KOCs) KOC(ctx context.Context, shopperID int64, forUpdate bool) (commission.KOC, error) {
	q := `SELECT ` + kocColumns + ` FROM kocs k JOIN shoppers s ON s.id = k.shopper_id WHERE k.shopper_id = $1`
	if forUpdate {
		q += ` FOR UPDATE OF k`
	}
	var r kocRow
	if err := sqlx.GetContext(ctx, k.ext(), &r, q, shopperID); err != nil {
		return commission.KOC{}, mapErrNotFound(err, commission.ErrNotKOC)
	}
	return r.koc(), nil
}

func (k KOCs) SaveApplication(ctx context.Context, c commission.KOC) error {
	_, err := k.ext().ExecContext(ctx, `
INSERT INTO kocs (shopper_id, touchpoint_id, status, depth, recruiter_id, recruiter_depth, real_name, note, applied_at, updated_at)
VALUES ($1, $2, 'pending', $3, $4, CASE WHEN $4::bigint IS NULL THEN NULL ELSE 1 END, $5, $6, $7, $7)
ON CONFLICT (shopper_id) DO UPDATE SET status = 'pending', depth = EXCLUDED.depth, recruiter_id = EXCLUDED.recruiter_id,
    recruiter_depth = EXCLUDED.recruiter_depth, real_name = EXCLUDED.real_name, note = EXCLUDED.note,
    applied_at = EXCLUDED.applied_at, decided_at = NULL, updated_at = EXCLUDED.updated_at
WHERE kocs.status = 'rejected'`,
		c.ShopperID, c.TouchpointID, c.Depth, attrNullID(c.RecruiterID), c.RealName, c.Note, c.AppliedAt)
	if err != nil {
		return fmt.Errorf("storage: koc application: %w", mapErr(err))
	}
	return nil
}

func (k KOCs) SetStatus(ctx context.Context, shopperID int64, s commission.Status, levelID int64, at time.Time) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE kocs SET status = $2, level_id = $3, decided_at = $4, updated_at = $4 WHERE shopper_id = $1`,
		shopperID, string(s), attrNullID(levelID), at)
	if err != nil {
		return fmt.Errorf("storage: koc status: %w", mapErr(err))
	}
	return nil
}

func (k KOCs) KOCs(ctx context.Context, status commission.Status, page domain.Page) ([]commission.KOC, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	// Only the filter given is in the statement, its value spelled out
	// (quoted; a fixed set): the KOCs of a rare status (the applications
	// waiting, say) are then read from (status, shopper_id DESC), where a
	// generic plan, which cannot tell a rare status from a common one, may
	// walk every KOC newest first filtering (as the after-sales list did;
	// issue 18).
	args := stmtArgs{before, domain.BoundLimit(page.Limit) + 1}
	where := ""
	if status != "" {
		where = " AND k.status = " + pq.QuoteLiteral(string(status))
	}
	var rows []kocRow
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `SELECT `+kocColumns+`
FROM kocs k JOIN shoppers s ON s.id = k.shopper_id
WHERE k.shopper_id < $1`+where+` ORDER BY k.shopper_id DESC LIMIT $2`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: kocs: %w", mapErr(err))
	}
	return pageKOCs(rows, page.Limit)
}

func pageKOCs(rows []kocRow, limit int) ([]commission.KOC, string, error) {
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ShopperID })
	out := make([]commission.KOC, len(rows))
	for i, r := range rows {
		out[i] = r.koc()
	}
	return out, next, nil
}

func (k KOCs) kocsWhere(ctx context.Context, where string, ids []int64, key func(commission.KOC) int64) (map[int64]commission.KOC, error) {
	out := map[int64]commission.KOC{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []kocRow
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `SELECT `+kocColumns+`
FROM kocs k JOIN shoppers s ON s.id = k.shopper_id WHERE `+where+` = ANY ($1)`, pq.Int64Array(ids)); err != nil {
		return nil, fmt.Errorf("storage: kocs by id: %w", mapErr(err))
	}
	for _, r := range rows {
		c := r.koc()
		out[key(c)] = c
	}
	return out, nil
}

func (k KOCs) KOCsByTouchpoint(ctx context.Context, tpIDs []int64) (map[int64]commission.KOC, error) {
	return k.kocsWhere(ctx, "k.touchpoint_id", tpIDs, func(c commission.KOC) int64 { return c.TouchpointID })
}

func (k KOCs) KOCsByShopper(ctx context.Context, ids []int64) (map[int64]commission.KOC, error) {
	return k.kocsWhere(ctx, "k.shopper_id", ids, func(c commission.KOC) int64 { return c.ShopperID })
}

// --- levels ---

// Levels reads every level with its category and product rates in one
// statement (it runs on every payment that earns commission).
func (k KOCs) Levels(ctx context.Context) (map[int64]commission.Level, error) {
	var ls []struct {
		ID         int64         `db:"id"`
		Name       string        `db:"name"`
		RateBP     int           `db:"rate_bp"`
		OverrideBP int           `db:"override_bp"`
		CreatedAt  time.Time     `db:"created_at"`
		UpdatedAt  time.Time     `db:"updated_at"`
		CategoryID sql.NullInt64 `db:"category_id"`
		ProductID  sql.NullInt64 `db:"product_id"`
		TargetBP   sql.NullInt64 `db:"target_bp"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &ls, `
SELECT l.id, l.name, l.rate_bp, l.override_bp, l.created_at, l.updated_at, r.category_id, r.product_id, r.rate_bp AS target_bp
FROM koc_levels l LEFT JOIN koc_level_rates r ON r.level_id = l.id`); err != nil {
		return nil, fmt.Errorf("storage: koc levels: %w", mapErr(err))
	}
	out := make(map[int64]commission.Level, len(ls))
	for _, l := range ls {
		lv, ok := out[l.ID]
		if !ok {
			lv = commission.Level{ID: l.ID, Name: l.Name, RateBP: l.RateBP, OverrideBP: l.OverrideBP,
				Categories: map[int64]int{}, Products: map[int64]int{}, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
			out[l.ID] = lv
		}
		switch {
		case !l.TargetBP.Valid:
		case l.CategoryID.Valid:
			lv.Categories[l.CategoryID.Int64] = int(l.TargetBP.Int64)
		case l.ProductID.Valid:
			lv.Products[l.ProductID.Int64] = int(l.TargetBP.Int64)
		}
	}
	return out, nil
}

func (k KOCs) SaveLevel(ctx context.Context, l commission.Level) (commission.Level, error) {
	var err error
	if l.ID == 0 {
		err = sqlx.GetContext(ctx, k.ext(), &l.ID, `
INSERT INTO koc_levels (name, rate_bp, override_bp, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id`,
			l.Name, l.RateBP, l.OverrideBP, l.UpdatedAt)
	} else {
		err = sqlx.GetContext(ctx, k.ext(), &l.ID, `
UPDATE koc_levels SET name = $2, rate_bp = $3, override_bp = $4, updated_at = $5 WHERE id = $1 RETURNING id`,
			l.ID, l.Name, l.RateBP, l.OverrideBP, l.UpdatedAt)
	}
	if err != nil {
		return commission.Level{}, mapErrNotFound(err, commission.ErrLevelNotFound)
	}
	ls, err := k.Levels(ctx)
	if err != nil {
		return commission.Level{}, err
	}
	return ls[l.ID], nil
}

func (k KOCs) SetLevelRate(ctx context.Context, levelID, categoryID, productID int64, rateBP int, remove bool) error {
	var n int
	if err := sqlx.GetContext(ctx, k.ext(), &n, `SELECT count(*) FROM koc_levels WHERE id = $1`, levelID); err != nil {
		return fmt.Errorf("storage: koc level rate: %w", mapErr(err))
	}
	if n == 0 {
		return commission.ErrLevelNotFound
	}
	_, err := k.ext().ExecContext(ctx, `
DELETE FROM koc_level_rates WHERE level_id = $1 AND category_id IS NOT DISTINCT FROM $2 AND product_id IS NOT DISTINCT FROM $3`,
		levelID, attrNullID(categoryID), attrNullID(productID))
	if err == nil && !remove {
		_, err = k.ext().ExecContext(ctx, `
INSERT INTO koc_level_rates (level_id, category_id, product_id, rate_bp) VALUES ($1, $2, $3, $4)`,
			levelID, attrNullID(categoryID), attrNullID(productID), rateBP)
	}
	if err != nil {
		return fmt.Errorf("storage: koc level rate: %w", mapErr(err))
	}
	return nil
}

// --- bindings ---

// bindingRow is a customer's binding with the customer's nickname
// (bindingSQL); its columns are NULL when bindingSettingsSQL finds none.
type bindingRow struct {
	Kind     sql.NullString `db:"referrer_kind"`
	TP       sql.NullInt64  `db:"referrer_tp_id"`
	Touch    sql.NullInt64  `db:"origin_touch_id"`
	Code     sql.NullString `db:"origin_code"`
	From     sql.NullTime   `db:"bound_from"`
	Until    sql.NullTime   `db:"bound_until"`
	Reason   sql.NullString `db:"rebound_reason"`
	Nickname sql.NullString `db:"nickname"`
}

func (r bindingRow) binding(shopperID int64) *commission.Binding {
	if !r.Kind.Valid {
		return nil
	}
	return &commission.Binding{ShopperID: shopperID, Nickname: r.Nickname.String, OriginTouchID: r.Touch.Int64, OriginCode: r.Code.String,
		Reason: r.Reason.String, Binding: attribution.Binding{Referrer: attribution.Touchpoint{Kind: attribution.TouchpointKind(r.Kind.String), ID: r.TP.Int64},
			From: r.From.Time, Until: r.Until.Time}}
}

const bindingColumns = `b.referrer_kind, b.referrer_tp_id, b.origin_touch_id, b.origin_code, b.bound_from, b.bound_until, b.rebound_reason, s.nickname`

func (k KOCs) Binding(ctx context.Context, shopperID int64) (*commission.Binding, error) {
	var r bindingRow
	err := sqlx.GetContext(ctx, k.ext(), &r, `
SELECT `+bindingColumns+`
FROM koc_bindings b JOIN shoppers s ON s.id = b.shopper_id WHERE b.shopper_id = $1`, shopperID)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: binding: %w", mapErr(err))
	}
	return r.binding(shopperID), nil
}

// bindingSettingsSQL reads the programme's settings (one row) with the
// customer's binding when there is one.
const bindingSettingsSQL = `
SELECT st.binding_days, st.binding_new_only, st.order_cap_fen, st.aftersales_days, st.fraud_shared_limit, ` + bindingColumns + `
FROM koc_settings st
LEFT JOIN (koc_bindings b JOIN shoppers s ON s.id = b.shopper_id) ON b.shopper_id = $1`

// BindingSettings implements commission.Store.
func (k KOCs) BindingSettings(ctx context.Context, shopperID int64) (*commission.Binding, commission.Settings, error) {
	var r struct {
		kocSettingsRow
		bindingRow
	}
	if err := sqlx.GetContext(ctx, k.ext(), &r, bindingSettingsSQL, shopperID); err != nil {
		return nil, commission.Settings{}, fmt.Errorf("storage: binding and koc settings: %w", mapErr(err))
	}
	return r.bindingRow.binding(shopperID), r.kocSettingsRow.settings(), nil
}

func (k KOCs) SaveBinding(ctx context.Context, b commission.Binding) error {
	_, err := k.ext().ExecContext(ctx, `
INSERT INTO koc_bindings (shopper_id, referrer_kind, referrer_tp_id, origin_touch_id, origin_code, bound_from, bound_until, rebound_reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (shopper_id) DO UPDATE SET referrer_kind = EXCLUDED.referrer_kind, referrer_tp_id = EXCLUDED.referrer_tp_id,
    origin_touch_id = EXCLUDED.origin_touch_id, origin_code = EXCLUDED.origin_code, bound_from = EXCLUDED.bound_from,
    bound_until = EXCLUDED.bound_until, rebound_reason = EXCLUDED.rebound_reason, updated_at = now()`,
		b.ShopperID, string(b.Binding.Referrer.Kind), b.Binding.Referrer.ID, attrNullID(b.OriginTouchID), b.OriginCode,
		b.Binding.From, b.Binding.Until, b.Reason)
	if err != nil {
		return fmt.Errorf("storage: save binding: %w", mapErr(err))
	}
	return nil
}

// firstReferrerTouchSQL is the visitor's earliest touch through a link with
// a KOC or a clerk on it (as buyerTouchesSQL answers touches).
const firstReferrerTouchSQL = visitorTouchesSQL + `
  AND t.at <= $2
  AND EXISTS (SELECT 1 FROM touchpoints x WHERE x.id = ANY (t.touchpoint_ids) AND x.kind IN ('koc', 'clerk'))
GROUP BY t.id, t.at, t.scene, t.code, t.chat
ORDER BY t.at, t.id LIMIT 1`

func (k KOCs) FirstReferrerTouches(ctx context.Context, shopperID int64, until time.Time) ([]attribution.Touch, error) {
	return selectTouches(ctx, k.ext(), firstReferrerTouchSQL, shopperID, until)
}

func (k KOCs) HasPaidOrderBefore(ctx context.Context, shopperID int64, before time.Time) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, k.ext(), &ok, `SELECT EXISTS (SELECT 1 FROM orders WHERE shopper_id = $1 AND paid_at < $2)`, shopperID, before)
	if err != nil {
		return false, fmt.Errorf("storage: paid before: %w", mapErr(err))
	}
	return ok, nil
}

func (k KOCs) TouchpointKind(ctx context.Context, id int64) (attribution.TouchpointKind, error) {
	var kind string
	if err := sqlx.GetContext(ctx, k.ext(), &kind, `SELECT kind FROM touchpoints WHERE id = $1`, id); err != nil {
		return "", mapErrNotFound(err, commission.ErrReferrer)
	}
	return attribution.TouchpointKind(kind), nil
}

func (k KOCs) Bindings(ctx context.Context, referrerTP int64, page domain.Page) ([]commission.Customer, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []struct {
		ID     int64     `db:"shopper_id"`
		Name   string    `db:"nickname"`
		From   time.Time `db:"bound_from"`
		Until  time.Time `db:"bound_until"`
		Orders int       `db:"orders"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `
SELECT b.shopper_id, s.nickname, b.bound_from, b.bound_until,
       (SELECT count(*) FROM commission_orders o WHERE o.buyer_id = b.shopper_id AND o.bound) AS orders
FROM koc_bindings b JOIN shoppers s ON s.id = b.shopper_id
WHERE b.referrer_tp_id = $1 AND b.shopper_id < $2 ORDER BY b.shopper_id DESC LIMIT $3`, referrerTP, before, domain.BoundLimit(page.Limit)+1); err != nil {
		return nil, "", fmt.Errorf("storage: bindings: %w", mapErr(err))
	}
	rows, next := pageOf(rows, domain.BoundLimit(page.Limit), func(i int) int64 { return rows[i].ID })
	out := make([]commission.Customer, len(rows))
	for i, r := range rows {
		out[i] = commission.Customer{Name: r.Name, From: r.From, Until: r.Until, Orders: r.Orders}
	}
	return out, next, nil
}

// --- accrual and reversal ---

const fraudSQL = `
SELECT EXISTS (SELECT 1 FROM addresses a WHERE a.shopper_id = $2 AND a.deleted_at IS NULL
               AND (a.phone = o.address->>'phone'
                    OR a.province || a.city || a.district || a.detail =
                       (o.address->>'province') || (o.address->>'city') || COALESCE(o.address->>'district', '') || (o.address->>'detail')))
       AS shares,
       (SELECT count(DISTINCT b) FROM (
            SELECT co.buyer_id AS b FROM commission_orders co
            JOIN orders o2 ON o2.id = co.order_id
            WHERE o2.address->>'phone' = o.address->>'phone'
              AND EXISTS (SELECT 1 FROM commission_lines cl WHERE cl.order_id = co.order_id AND cl.koc_id = $2 AND cl.level = 1)
            UNION SELECT o.shopper_id) x) AS customers
FROM orders o WHERE o.id = $1`

func (k KOCs) Fraud(ctx context.Context, orderID, kocID int64) (commission.FraudFacts, error) {
	var r struct {
		Shares    bool `db:"shares"`
		Customers int  `db:"customers"`
	}
	if err := sqlx.GetContext(ctx, k.ext(), &r, fraudSQL, orderID, kocID); err != nil {
		return commission.FraudFacts{}, fmt.Errorf("storage: fraud facts: %w", mapErr(err))
	}
	return commission.FraudFacts{SharesAddressWithKOC: r.Shares, CustomersAtAddress: r.Customers}, nil
}

// SaveAccruals records the order, its commission lines and their accrue
// entries in one statement. The entries' trigger adds them to a shard of
// each KOC's pending balance (migration 00018), so concurrent payments
// earning for one KOC do not queue on one row.
func (k KOCs) SaveAccruals(ctx context.Context, o commission.CommissionOrder, as []commission.Accrual, at time.Time) error {
	n := len(as)
	items, kocs, levels, paid, base, rates, amounts := make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, a := range as {
		items[i], kocs[i], levels[i], paid[i], base[i], rates[i], amounts[i] =
			a.ItemID, a.KOCID, int64(a.Level), int64(a.LinePaid), int64(a.Base), int64(a.RateBP), int64(a.Amount)
	}
	_, err := k.ext().ExecContext(ctx, `
WITH o AS (
    INSERT INTO commission_orders (order_id, buyer_id, paid_at, bound, flag, held) VALUES ($1, $10, $11, $12, $13, $14)
    RETURNING order_id
), l AS (
    INSERT INTO commission_lines (order_id, item_id, koc_id, level, line_paid_fen, base_fen, rate_bp, amount_fen)
    SELECT o.order_id, u.* FROM o, unnest($2::bigint[], $3::bigint[], $4::smallint[], $5::bigint[], $6::bigint[], $7::int[], $8::bigint[]) u
    RETURNING order_id, item_id, koc_id, level, amount_fen
)
INSERT INTO commission_entries (koc_id, order_id, item_id, level, kind, bucket, amount_fen, at)
SELECT koc_id, order_id, item_id, level, 'accrue', 'pending', amount_fen, $9 FROM l ORDER BY koc_id, item_id, level`,
		o.OrderID, pq.Int64Array(items), pq.Int64Array(kocs), pq.Int64Array(levels), pq.Int64Array(paid),
		pq.Int64Array(base), pq.Int64Array(rates), pq.Int64Array(amounts), at,
		o.BuyerID, o.PaidAt, o.Bound, o.Flag, o.Held)
	if err != nil {
		return fmt.Errorf("storage: commission accruals: %w", mapErr(err))
	}
	return nil
}

func (k KOCs) LineStates(ctx context.Context, orderID int64) ([]commission.LineState, error) {
	var rows []struct {
		ItemID     int64 `db:"item_id"`
		KOCID      int64 `db:"koc_id"`
		Level      int   `db:"level"`
		LinePaid   int64 `db:"line_paid_fen"`
		Amount     int64 `db:"amount_fen"`
		Refunded   int64 `db:"refunded_fen"`
		Pending    int64 `db:"pending"`
		Settleable int64 `db:"settleable"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `
SELECT l.item_id, l.koc_id, l.level, l.line_paid_fen, l.amount_fen, l.refunded_fen,
       COALESCE((SELECT sum(amount_fen) FROM commission_entries e WHERE (e.order_id, e.item_id, e.koc_id, e.level) =
                 (l.order_id, l.item_id, l.koc_id, l.level) AND e.bucket = 'pending'), 0) AS pending,
       COALESCE((SELECT sum(amount_fen) FROM commission_entries e WHERE (e.order_id, e.item_id, e.koc_id, e.level) =
                 (l.order_id, l.item_id, l.koc_id, l.level) AND e.bucket = 'settleable'), 0) AS settleable
FROM commission_lines l WHERE l.order_id = $1 ORDER BY l.item_id, l.koc_id, l.level FOR UPDATE OF l`, orderID); err != nil {
		return nil, fmt.Errorf("storage: commission line states: %w", mapErr(err))
	}
	out := make([]commission.LineState, len(rows))
	for i, r := range rows {
		out[i] = commission.LineState{OrderID: orderID, ItemID: r.ItemID, KOCID: r.KOCID, Level: r.Level, LinePaid: domain.Fen(r.LinePaid),
			Amount: domain.Fen(r.Amount), Refunded: domain.Fen(r.Refunded), Pending: domain.Fen(r.Pending), Settleable: domain.Fen(r.Settleable)}
	}
	return out, nil
}

func (k KOCs) SaveReversal(ctx context.Context, refunded map[commission.LineKey]domain.Fen, es []commission.Entry) error {
	for key, f := range refunded {
		if _, err := k.ext().ExecContext(ctx, `
UPDATE commission_lines SET refunded_fen = refunded_fen + $5 WHERE order_id = $1 AND item_id = $2 AND koc_id = $3 AND level = $4`,
			key.OrderID, key.ItemID, key.KOCID, key.Level, int64(f)); err != nil {
			return fmt.Errorf("storage: commission refunded: %w", mapErr(err))
		}
	}
	for _, e := range es {
		if _, err := k.ext().ExecContext(ctx, `
INSERT INTO commission_entries (koc_id, order_id, item_id, level, kind, bucket, amount_fen, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.KOCID, e.OrderID, e.ItemID, e.Level, e.Kind, e.Bucket, int64(e.Amount), e.At); err != nil {
			return fmt.Errorf("storage: commission reversal: %w", mapErr(err))
		}
	}
	return nil
}

func (k KOCs) OrderCompleted(ctx context.Context, orderID int64, after time.Time) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE commission_orders SET settleable_after = $2 WHERE order_id = $1 AND settleable_after IS NULL`, orderID, after)
	if err != nil {
		return fmt.Errorf("storage: commission completed: %w", mapErr(err))
	}
	return nil
}

// matureSQL moves the pending commission of due orders to settleable, one
// pair of entries per line, and marks the orders matured.
const matureSQL = `
WITH due AS (
    SELECT order_id FROM commission_orders
    WHERE matured_at IS NULL AND NOT held AND settleable_after <= $1
    ORDER BY settleable_after LIMIT $2 FOR UPDATE SKIP LOCKED
), sums AS (
    SELECT e.koc_id, e.order_id, e.item_id, e.level, sum(e.amount_fen) AS s
    FROM commission_entries e JOIN due USING (order_id) WHERE e.bucket = 'pending'
    GROUP BY 1, 2, 3, 4 HAVING sum(e.amount_fen) <> 0
), moved AS (
    INSERT INTO commission_entries (koc_id, order_id, item_id, level, kind, bucket, amount_fen, at)
    SELECT koc_id, order_id, item_id, level, 'mature', b.bucket, CASE b.bucket WHEN 'pending' THEN -s ELSE s END, $1
    FROM sums CROSS JOIN (VALUES ('pending'), ('settleable')) AS b(bucket)
    ORDER BY koc_id, order_id, item_id, level
)
UPDATE commission_orders c SET matured_at = $1 FROM due WHERE c.order_id = due.order_id`

func (k KOCs) Mature(ctx context.Context, now time.Time, limit int) (int, error) {
	r, err := k.ext().ExecContext(ctx, matureSQL, now, limit)
	if err != nil {
		return 0, fmt.Errorf("storage: mature commission: %w", mapErr(err))
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

func (k KOCs) Release(ctx context.Context, orderID int64) error {
	r, err := k.ext().ExecContext(ctx, `UPDATE commission_orders SET held = false WHERE order_id = $1 AND held`, orderID)
	if err != nil {
		return fmt.Errorf("storage: release commission: %w", mapErr(err))
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return commission.ErrOrderNotHeld
	}
	return nil
}

// --- the KOC's view ---

func (k KOCs) Entries(ctx context.Context, kocID int64, page domain.Page) ([]commission.Entry, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []struct {
		ID       int64     `db:"id"`
		OrderID  int64     `db:"order_id"`
		OrderNo  string    `db:"order_no"`
		ItemID   int64     `db:"item_id"`
		Level    int       `db:"level"`
		Kind     string    `db:"kind"`
		Bucket   string    `db:"bucket"`
		Amount   int64     `db:"amount_fen"`
		Customer string    `db:"nickname"`
		At       time.Time `db:"at"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `
SELECT e.id, e.order_id, o.order_no, e.item_id, e.level, e.kind, e.bucket, e.amount_fen, COALESCE(s.nickname, '') AS nickname, e.at
FROM commission_entries e JOIN orders o ON o.id = e.order_id LEFT JOIN shoppers s ON s.id = o.shopper_id
WHERE e.koc_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`, kocID, before, domain.BoundLimit(page.Limit)+1); err != nil {
		return nil, "", fmt.Errorf("storage: commission entries: %w", mapErr(err))
	}
	rows, next := pageOf(rows, domain.BoundLimit(page.Limit), func(i int) int64 { return rows[i].ID })
	out := make([]commission.Entry, len(rows))
	for i, r := range rows {
		out[i] = commission.Entry{ID: r.ID, KOCID: kocID, OrderID: r.OrderID, OrderNumber: r.OrderNo, ItemID: r.ItemID, Level: r.Level,
			Kind: r.Kind, Bucket: r.Bucket, Amount: domain.Fen(r.Amount), Customer: r.Customer, At: r.At}
	}
	return out, next, nil
}

func (k KOCs) Dashboard(ctx context.Context, c commission.KOC, since time.Time) (commission.Dashboard, error) {
	var r struct {
		Visitors int   `db:"visitors"`
		Orders   int   `db:"orders"`
		GMV      int64 `db:"gmv"`
		Earned   int64 `db:"earned"`
	}
	if err := sqlx.GetContext(ctx, k.ext(), &r, `
SELECT (SELECT count(DISTINCT visitor) FROM touch_daily WHERE kind = 'koc' AND touchpoint_id = $2
        AND day >= ($3::timestamptz AT TIME ZONE 'Asia/Shanghai')::date) AS visitors,
       count(DISTINCT l.order_id) FILTER (WHERE l.level = 1) AS orders,
       COALESCE(sum(l.base_fen) FILTER (WHERE l.level = 1), 0) AS gmv,
       COALESCE(sum(l.amount_fen), 0) AS earned
FROM commission_lines l JOIN commission_orders o ON o.order_id = l.order_id
WHERE l.koc_id = $1 AND o.paid_at >= $3`, c.ShopperID, c.TouchpointID, since); err != nil {
		return commission.Dashboard{}, fmt.Errorf("storage: koc dashboard: %w", mapErr(err))
	}
	return commission.Dashboard{Visitors: r.Visitors, Orders: r.Orders, GMV: domain.Fen(r.GMV), Earned: domain.Fen(r.Earned)}, nil
}

// --- settlement ---

// createBatchSQL settles, for every active KOC whose net settleable before
// the period's end is positive, each line's settleable sum: an item per
// KOC and a pair of settle entries per line, in one statement (one
// snapshot, so the items and the entries agree).
const createBatchSQL = `
WITH lines AS (
    SELECT e.koc_id, e.order_id, e.item_id, e.level, sum(e.amount_fen) AS s
    FROM commission_entries e JOIN kocs k ON k.shopper_id = e.koc_id AND k.status = 'active'
    WHERE e.bucket = 'settleable' AND e.at < $2
    GROUP BY 1, 2, 3, 4 HAVING sum(e.amount_fen) <> 0
), per AS (
    SELECT koc_id, sum(s) AS total FROM lines GROUP BY koc_id HAVING sum(s) > 0
), items AS (
    INSERT INTO settlement_items (batch_id, koc_id, amount_fen, status, out_bill_no)
    SELECT $1::bigint, koc_id, total, 'settled', 'KOCS' || $1::bigint || 'K' || koc_id FROM per ORDER BY koc_id
    RETURNING id, koc_id
), moved AS (
    INSERT INTO commission_entries (koc_id, order_id, item_id, level, kind, bucket, amount_fen, item_ref, at)
    SELECT l.koc_id, l.order_id, l.item_id, l.level, 'settle', b.bucket, CASE b.bucket WHEN 'settleable' THEN -l.s ELSE l.s END, i.id, $3
    FROM lines l JOIN items i ON i.koc_id = l.koc_id CROSS JOIN (VALUES ('settleable'), ('settled')) AS b(bucket)
    ORDER BY l.koc_id, l.order_id, l.item_id, l.level
)
UPDATE settlement_batches SET total_fen = (SELECT COALESCE(sum(total), 0) FROM per), kocs = (SELECT count(*) FROM per)
WHERE id = $1::bigint RETURNING kocs`

func (k KOCs) CreateBatch(ctx context.Context, b commission.Batch, at time.Time) (commission.Batch, error) {
	// One batch at a time: two could otherwise settle the same entries.
	if _, err := k.ext().ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('settlement_batches'))`); err != nil {
		return b, fmt.Errorf("storage: batch lock: %w", mapErr(err))
	}
	if err := sqlx.GetContext(ctx, k.ext(), &b.ID, `
INSERT INTO settlement_batches (period_from, period_to, status, total_fen, kocs, created_by, created_at, updated_at)
VALUES ($1, $2, 'draft', 0, 0, $3, $4, $4) RETURNING id`, b.From, b.To, b.CreatedBy, at); err != nil {
		return b, fmt.Errorf("storage: create batch: %w", mapErr(err))
	}
	if err := sqlx.GetContext(ctx, k.ext(), &b.KOCs, createBatchSQL, b.ID, b.To, at); err != nil {
		return b, fmt.Errorf("storage: settle batch: %w", mapErr(err))
	}
	if b.KOCs == 0 {
		return b, commission.ErrNothingToSettle
	}
	return b, nil
}

type batchRow struct {
	ID         int64          `db:"id"`
	From       time.Time      `db:"period_from"`
	To         time.Time      `db:"period_to"`
	Status     string         `db:"status"`
	Total      int64          `db:"total_fen"`
	KOCs       int            `db:"kocs"`
	CreatedBy  string         `db:"created_by"`
	ReviewedBy sql.NullString `db:"reviewed_by"`
	CreatedAt  time.Time      `db:"created_at"`
}

func (r batchRow) batch() commission.Batch {
	return commission.Batch{ID: r.ID, From: r.From, To: r.To, Status: r.Status, Total: domain.Fen(r.Total), KOCs: r.KOCs,
		CreatedBy: r.CreatedBy, ReviewedBy: r.ReviewedBy.String, CreatedAt: r.CreatedAt}
}

const batchColumns = `id, period_from, period_to, status, total_fen, kocs, created_by, reviewed_by, created_at`

func (k KOCs) Batch(ctx context.Context, id int64, forUpdate bool) (commission.Batch, error) {
	q := `SELECT ` + batchColumns + ` FROM settlement_batches WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r batchRow
	if err := sqlx.GetContext(ctx, k.ext(), &r, q, id); err != nil {
		return commission.Batch{}, mapErrNotFound(err, commission.ErrBatchNotFound)
	}
	b := r.batch()
	var items []struct {
		ID        int64  `db:"id"`
		KOCID     int64  `db:"koc_id"`
		Nickname  string `db:"nickname"`
		RealName  string `db:"real_name"`
		Amount    int64  `db:"amount_fen"`
		Status    string `db:"status"`
		OutBillNo string `db:"out_bill_no"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &items, `
SELECT i.id, i.koc_id, s.nickname, k.real_name, i.amount_fen, i.status, i.out_bill_no
FROM settlement_items i JOIN kocs k ON k.shopper_id = i.koc_id JOIN shoppers s ON s.id = i.koc_id
WHERE i.batch_id = $1 ORDER BY i.id`, id); err != nil {
		return commission.Batch{}, fmt.Errorf("storage: batch items: %w", mapErr(err))
	}
	for _, it := range items {
		b.Items = append(b.Items, commission.BatchItem{ID: it.ID, KOCID: it.KOCID, Nickname: it.Nickname, RealName: it.RealName,
			Amount: domain.Fen(it.Amount), Status: it.Status, OutBillNo: it.OutBillNo})
	}
	return b, nil
}

func (k KOCs) Batches(ctx context.Context, page domain.Page) ([]commission.Batch, string, error) {
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []batchRow
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, `SELECT `+batchColumns+`
FROM settlement_batches WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, domain.BoundLimit(page.Limit)+1); err != nil {
		return nil, "", fmt.Errorf("storage: batches: %w", mapErr(err))
	}
	rows, next := pageOf(rows, domain.BoundLimit(page.Limit), func(i int) int64 { return rows[i].ID })
	out := make([]commission.Batch, len(rows))
	for i, r := range rows {
		out[i] = r.batch()
	}
	return out, next, nil
}

func (k KOCs) SetBatchStatus(ctx context.Context, id int64, status, by string, at time.Time) error {
	_, err := k.ext().ExecContext(ctx, `
UPDATE settlement_batches SET status = $2, reviewed_by = CASE WHEN $2 = 'reviewed' THEN $3 ELSE reviewed_by END, updated_at = $4
WHERE id = $1`, id, status, by, at)
	if err != nil {
		return fmt.Errorf("storage: batch status: %w", mapErr(err))
	}
	return nil
}
