package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
)

// Attribution implements attribution.Store and attribution.ReportStore. DB
// is the pool, or a transaction (Attribution{DB: tx}) when attribution runs
// inside the caller's transaction (the payment apply, a refund).
type Attribution struct{ DB sqlx.ExtContext }

// InTx runs fn in a transaction (in the current one when DB already is one).
func (a Attribution) InTx(ctx context.Context, fn func(attribution.Store) error) error {
	switch db := a.DB.(type) {
	case *sqlx.DB:
		return InTx(ctx, db, func(tx *sqlx.Tx) error { return fn(Attribution{DB: tx}) })
	case *sqlx.Tx:
		return fn(a)
	}
	return fmt.Errorf("storage: attribution: InTx on %T", a.DB)
}

func (a Attribution) WriteAudit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, a.DB, e)
}

// EnsureTouchPartitions creates the monthly partitions of touches for the
// months from month (its Asia/Shanghai month) on, count months: called at
// start-up and daily, so that partitions exist ahead of the touches.
func (a Attribution) EnsureTouchPartitions(ctx context.Context, month time.Time, count int) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, a.DB, &n, `SELECT ensure_touch_partitions($1::date, $2)`,
		month.In(domain.Shanghai).Format(time.DateOnly), count)
	if err != nil {
		return 0, fmt.Errorf("storage: ensure touch partitions: %w", mapErr(err))
	}
	return n, nil
}

// DropTouchPartitions drops the monthly partitions of touches that end on
// or before the start of before's Asia/Shanghai month, and returns their
// names. Reports read the rollups, and an explanation keeps its candidate
// touches, so old touches are needed only inside a lookback window.
func (a Attribution) DropTouchPartitions(ctx context.Context, before time.Time) ([]string, error) {
	y, m, _ := before.In(domain.Shanghai).Date()
	cutoff := time.Date(y, m, 1, 0, 0, 0, 0, domain.Shanghai).Format("200601")
	var names []string
	err := sqlx.SelectContext(ctx, a.DB, &names, `
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'touches'::regclass AND c.relname ~ '^touches_[0-9]{6}$' AND substr(c.relname, 9) < $1
ORDER BY 1`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("storage: list touch partitions: %w", mapErr(err))
	}
	for _, n := range names {
		// The name is ours (matched above); DROP cannot take a parameter.
		if _, err := a.DB.ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(n)); err != nil {
			return nil, fmt.Errorf("storage: drop %s: %w", n, mapErr(err))
		}
	}
	return names, nil
}

// PruneTouchEvents forgets event ids received before before, at most limit
// of them (a worker calls it until it returns fewer): a client resends a
// batch within minutes, not weeks.
func (a Attribution) PruneTouchEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := a.DB.ExecContext(ctx, `
DELETE FROM touch_events WHERE event_id IN (
    SELECT event_id FROM touch_events WHERE received_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("storage: prune touch events: %w", mapErr(err))
	}
	return res.RowsAffected()
}

// --- touchpoints ---

type touchpointRow struct {
	ID           int64          `db:"id"`
	Kind         string         `db:"kind"`
	Name         string         `db:"name"`
	PostKind     sql.NullString `db:"post_kind"`
	Tags         pq.StringArray `db:"tags"`
	OwnerStoreID sql.NullInt64  `db:"owner_store_id"`
	OwnerKOCID   sql.NullInt64  `db:"owner_koc_id"`
	ShopperID    sql.NullInt64  `db:"shopper_id"`
	StoreID      sql.NullInt64  `db:"store_id"`
	StaffID      sql.NullInt64  `db:"staff_id"`
	HasOpenGID   bool           `db:"has_opengid"`
	Archived     bool           `db:"archived"`
	CreatedAt    time.Time      `db:"created_at"`
	UpdatedAt    time.Time      `db:"updated_at"`
}

func (r touchpointRow) toDomain() attribution.TouchpointInfo {
	tags := []string(r.Tags)
	if tags == nil {
		tags = []string{}
	}
	return attribution.TouchpointInfo{ID: r.ID, Kind: attribution.TouchpointKind(r.Kind), Name: r.Name,
		PostKind: attribution.PostKind(r.PostKind.String), Tags: tags, OwnerStoreID: r.OwnerStoreID.Int64,
		OwnerKOCID: r.OwnerKOCID.Int64, ShopperID: r.ShopperID.Int64, StoreID: r.StoreID.Int64, StaffID: r.StaffID.Int64,
		HasOpenGID: r.HasOpenGID, Archived: r.Archived, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const touchpointCols = `id, kind, name, post_kind, tags, owner_store_id, owner_koc_id, shopper_id, store_id, staff_id,
    opengid IS NOT NULL AS has_opengid, archived_at IS NOT NULL AS archived, created_at, updated_at`

func attrNullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func tags(ts []string) pq.StringArray {
	if ts == nil {
		return pq.StringArray{}
	}
	return pq.StringArray(ts)
}

const createTouchpointSQL = `
INSERT INTO touchpoints (kind, name, post_kind, tags, owner_store_id, owner_koc_id)
VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6)
RETURNING ` + touchpointCols

func (a Attribution) CreateTouchpoint(ctx context.Context, tp attribution.TouchpointInfo) (attribution.TouchpointInfo, error) {
	var r touchpointRow
	err := sqlx.GetContext(ctx, a.DB, &r, createTouchpointSQL, string(tp.Kind), tp.Name, string(tp.PostKind), tags(tp.Tags),
		attrNullID(tp.OwnerStoreID), attrNullID(tp.OwnerKOCID))
	if err != nil {
		return attribution.TouchpointInfo{}, fmt.Errorf("storage: create touchpoint: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

const updateTouchpointSQL = `
UPDATE touchpoints SET name = $2, post_kind = NULLIF($3, ''), tags = $4, owner_store_id = $5, owner_koc_id = $6,
    archived_at = CASE WHEN $7 THEN COALESCE(archived_at, now()) END, updated_at = now()
WHERE id = $1
RETURNING ` + touchpointCols

func (a Attribution) UpdateTouchpoint(ctx context.Context, tp attribution.TouchpointInfo) (attribution.TouchpointInfo, error) {
	var r touchpointRow
	err := sqlx.GetContext(ctx, a.DB, &r, updateTouchpointSQL, tp.ID, tp.Name, string(tp.PostKind), tags(tp.Tags),
		attrNullID(tp.OwnerStoreID), attrNullID(tp.OwnerKOCID), tp.Archived)
	if err != nil {
		return attribution.TouchpointInfo{}, fmt.Errorf("storage: update touchpoint: %w", mapErrNotFound(err, attribution.ErrTouchpointNotFound))
	}
	return r.toDomain(), nil
}

func (a Attribution) Touchpoint(ctx context.Context, id int64, forUpdate bool) (attribution.TouchpointInfo, error) {
	q := `SELECT ` + touchpointCols + ` FROM touchpoints WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r touchpointRow
	if err := sqlx.GetContext(ctx, a.DB, &r, q, id); err != nil {
		return attribution.TouchpointInfo{}, mapErrNotFound(err, attribution.ErrTouchpointNotFound)
	}
	return r.toDomain(), nil
}

const listTouchpointsSQL = `
SELECT ` + touchpointCols + ` FROM touchpoints
WHERE ($1 = '' OR kind = $1) AND id < $2
ORDER BY id DESC LIMIT $3`

func (a Attribution) ListTouchpoints(ctx context.Context, kind attribution.TouchpointKind, page domain.Page) ([]attribution.TouchpointInfo, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []touchpointRow
	if err := sqlx.SelectContext(ctx, a.DB, &rows, listTouchpointsSQL, string(kind), before, limit+1); err != nil {
		return nil, "", fmt.Errorf("storage: list touchpoints: %w", mapErr(err))
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	out := make([]attribution.TouchpointInfo, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

// ensure inserts a touchpoint unless it exists (ins: INSERT … ON CONFLICT
// DO NOTHING RETURNING id) and returns its id (sel finds it). A concurrent
// insert that wins makes ins return nothing in this statement's snapshot;
// the second select, a new statement, sees it.
func (a Attribution) ensure(ctx context.Context, what, ins, sel string, arg any) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, a.DB, &id, `WITH ins AS (`+ins+`) SELECT id FROM ins UNION ALL (`+sel+`) LIMIT 1`, arg)
	if errors.Is(err, sql.ErrNoRows) {
		err = sqlx.GetContext(ctx, a.DB, &id, sel, arg)
	}
	if err != nil {
		return 0, fmt.Errorf("storage: ensure %s touchpoint: %w", what, mapErr(err))
	}
	return id, nil
}

func (a Attribution) EnsureKOC(ctx context.Context, shopperID int64) (int64, error) {
	return a.ensure(ctx, "koc",
		`INSERT INTO touchpoints (kind, shopper_id, name) SELECT 'koc', id, left(nickname, 100) FROM shoppers WHERE id = $1
		 ON CONFLICT (shopper_id) WHERE kind = 'koc' DO NOTHING RETURNING id`,
		`SELECT id FROM touchpoints WHERE kind = 'koc' AND shopper_id = $1`, shopperID)
}

func (a Attribution) EnsureStore(ctx context.Context, storeID int64) (int64, error) {
	return a.ensure(ctx, "store",
		`INSERT INTO touchpoints (kind, store_id, name) SELECT 'store', id, left(name, 100) FROM stores WHERE id = $1
		 ON CONFLICT (store_id) WHERE kind = 'store' DO NOTHING RETURNING id`,
		`SELECT id FROM touchpoints WHERE kind = 'store' AND store_id = $1`, storeID)
}

func (a Attribution) EnsureClerk(ctx context.Context, staffID int64) (int64, int64, error) {
	var storeID sql.NullInt64
	if err := sqlx.GetContext(ctx, a.DB, &storeID, `SELECT store_id FROM staff WHERE id = $1`, staffID); err != nil {
		return 0, 0, mapErrNotFound(err, identity.ErrStaffNotFound)
	}
	if !storeID.Valid {
		return 0, 0, domain.E(domain.KindForbidden, "not_store_staff", "Only store staff are clerk touchpoints.")
	}
	clerk, err := a.ensure(ctx, "clerk",
		`INSERT INTO touchpoints (kind, staff_id, name) SELECT 'clerk', id, left(COALESCE(NULLIF(display_name, ''), username), 100) FROM staff WHERE id = $1
		 ON CONFLICT (staff_id) WHERE kind = 'clerk' DO NOTHING RETURNING id`,
		`SELECT id FROM touchpoints WHERE kind = 'clerk' AND staff_id = $1`, staffID)
	if err != nil {
		return 0, 0, err
	}
	store, err := a.EnsureStore(ctx, storeID.Int64)
	return clerk, store, err
}

func (a Attribution) EnsureGroup(ctx context.Context, openGID string) (int64, error) {
	return a.ensure(ctx, "group",
		`INSERT INTO touchpoints (kind, opengid) VALUES ('group', $1)
		 ON CONFLICT (opengid) WHERE opengid IS NOT NULL DO NOTHING RETURNING id`,
		`SELECT id FROM touchpoints WHERE opengid = $1`, openGID)
}

// --- share links ---

type shareLinkRow struct {
	Code        string        `db:"code"`
	Path        string        `db:"path"`
	ProductID   sql.NullInt64 `db:"product_id"`
	PostID      sql.NullInt64 `db:"post_id"`
	ShopperID   sql.NullInt64 `db:"shopper_id"`
	StaffID     sql.NullInt64 `db:"staff_id"`
	Touchpoints pq.Int64Array `db:"touchpoint_ids"`
	CreatedAt   time.Time     `db:"created_at"`
}

func (r shareLinkRow) toDomain() attribution.ShareLink {
	return attribution.ShareLink{Code: r.Code, Path: r.Path, ProductID: r.ProductID.Int64, PostID: r.PostID.Int64,
		ShopperID: r.ShopperID.Int64, StaffID: r.StaffID.Int64, Touchpoints: []int64(r.Touchpoints), CreatedAt: r.CreatedAt}
}

const shareLinkCols = `code, path, product_id, post_id, shopper_id, staff_id, touchpoint_ids, created_at`

func (a Attribution) CreateShareLink(ctx context.Context, l attribution.ShareLink) error {
	tps := l.Touchpoints
	if tps == nil {
		tps = []int64{}
	}
	_, err := a.DB.ExecContext(ctx, `
INSERT INTO share_links (code, path, product_id, post_id, shopper_id, staff_id, touchpoint_ids, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		l.Code, l.Path, attrNullID(l.ProductID), attrNullID(l.PostID), attrNullID(l.ShopperID), attrNullID(l.StaffID), pq.Int64Array(tps), l.CreatedAt)
	switch {
	case isUnique(err, ""):
		return attribution.ErrCodeCollision
	case err != nil && strings.Contains(err.Error(), "product_id"):
		return domain.E(domain.KindNotFound, "product_not_found", "No such product.")
	}
	if err != nil {
		return fmt.Errorf("storage: create share link: %w", mapErr(err))
	}
	return nil
}

func (a Attribution) ShareLink(ctx context.Context, code string) (attribution.ShareLink, error) {
	var r shareLinkRow
	err := sqlx.GetContext(ctx, a.DB, &r, `SELECT `+shareLinkCols+` FROM share_links WHERE code = $1`, code)
	if err != nil {
		return attribution.ShareLink{}, mapErrNotFound(err, attribution.ErrShareLinkNotFound)
	}
	return r.toDomain(), nil
}

func (a Attribution) ListShareLinks(ctx context.Context, staffID int64, page domain.Page) ([]attribution.ShareLink, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	beforeCode := ""
	if page.Cursor != "" {
		ts, code, ok := strings.Cut(page.Cursor, "_")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			return nil, "", domain.ErrBadCursor
		}
		before, beforeCode = t, code
	}
	var rows []shareLinkRow
	err := sqlx.SelectContext(ctx, a.DB, &rows, `
SELECT `+shareLinkCols+` FROM share_links
WHERE staff_id = $1 AND (created_at, code) < ($2, $3)
ORDER BY created_at DESC, code DESC LIMIT $4`, staffID, before, beforeCode, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("storage: list share links: %w", mapErr(err))
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		next = last.CreatedAt.UTC().Format(time.RFC3339Nano) + "_" + last.Code
	}
	out := make([]attribution.ShareLink, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

// --- settings ---

func (a Attribution) Settings(ctx context.Context) (attribution.Settings, error) {
	var r struct {
		Model    string `db:"model"`
		Lookback int64  `db:"lookback_seconds"`
		HalfLife int64  `db:"half_life_seconds"`
	}
	err := sqlx.GetContext(ctx, a.DB, &r, `SELECT model, lookback_seconds, half_life_seconds FROM attribution_settings`)
	if err != nil {
		return attribution.Settings{}, fmt.Errorf("storage: attribution settings: %w", mapErr(err))
	}
	return attribution.Settings{Model: attribution.Model(r.Model), Lookback: time.Duration(r.Lookback) * time.Second,
		HalfLife: time.Duration(r.HalfLife) * time.Second}, nil
}

func (a Attribution) SaveSettings(ctx context.Context, s attribution.Settings) error {
	_, err := a.DB.ExecContext(ctx, `
UPDATE attribution_settings SET model = $1, lookback_seconds = $2, half_life_seconds = $3, updated_at = now()`,
		string(s.Model), int64(s.Lookback/time.Second), int64(s.HalfLife/time.Second))
	if err != nil {
		return fmt.Errorf("storage: save attribution settings: %w", mapErr(err))
	}
	return nil
}

// --- touches ---

func (a Attribution) SessionKey(ctx context.Context, shopperID int64) (string, error) {
	var k string
	err := sqlx.GetContext(ctx, a.DB, &k, `SELECT session_key FROM shoppers WHERE id = $1`, shopperID)
	return k, mapErrNotFound(err, identity.ErrShopperNotFound)
}

// insertTouchesSQL stores a batch in one statement: it records the event
// ids (a duplicate is dropped by the unique key), resolves each code to its
// share link's touchpoints (plus the group, when known), resolves an
// anonymous visitor already stitched to a shopper, appends the touches and
// maintains the rollups: touch_daily (per visitor and day), the visitor's
// latest day with each touchpoint, and touch_tp_daily (per day and
// touchpoint; see migration 00006). Rows are upserted in key order so
// concurrent batches never wait on each other in a cycle.
const insertTouchesSQL = `
WITH ev AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[])
        AS e(event_id, code, scene, path, at, opengid, group_id)
), fresh AS (
    INSERT INTO touch_events (event_id, received_at) SELECT event_id, $8 FROM ev
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), visitor AS (
    SELECT COALESCE($9::bigint, (SELECT shopper_id FROM anon_visitors WHERE anon_id = $10)) AS shopper_id
), ins AS (
    INSERT INTO touches (event_id, at, received_at, shopper_id, anon_id, code, known, touchpoint_ids, scene, path, opengid)
    SELECT ev.event_id, ev.at, $8, (SELECT shopper_id FROM visitor), NULLIF($10, ''), ev.code, l.code IS NOT NULL,
           COALESCE(l.touchpoint_ids, '{}') || CASE WHEN ev.group_id > 0 THEN ARRAY[ev.group_id] ELSE '{}'::bigint[] END,
           ev.scene, ev.path, NULLIF(ev.opengid, '')
    FROM ev JOIN fresh USING (event_id) LEFT JOIN share_links l ON l.code = ev.code
    RETURNING at, touchpoint_ids, known, shopper_id, anon_id
), tt AS (
    SELECT tp.kind, (i.at AT TIME ZONE 'Asia/Shanghai')::date AS day, tp.id AS touchpoint_id,
           CASE WHEN i.shopper_id IS NOT NULL THEN 's:' || i.shopper_id ELSE 'a:' || i.anon_id END AS visitor
    FROM ins i CROSS JOIN LATERAL unnest(i.touchpoint_ids) AS u(id) JOIN touchpoints tp ON tp.id = u.id
), roll AS (
    INSERT INTO touch_daily (kind, day, touchpoint_id, visitor, touches)
    SELECT kind, day, touchpoint_id, visitor, count(*) FROM tt GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (kind, day, touchpoint_id, visitor) DO UPDATE SET touches = touch_daily.touches + EXCLUDED.touches
    RETURNING kind, day, touchpoint_id, (xmax = 0) AS fresh
), lastv AS (
    INSERT INTO touch_visitor_last AS l (kind, touchpoint_id, visitor, last_day)
    SELECT kind, touchpoint_id, visitor, max(day) FROM tt GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (kind, touchpoint_id, visitor) DO UPDATE SET was_day = l.last_day, last_day = EXCLUDED.last_day
    WHERE EXCLUDED.last_day > l.last_day
    RETURNING kind, touchpoint_id, last_day, was_day
), deltas (kind, day, touchpoint_id, touches, visitors, last_visitors) AS (
    SELECT kind, day, touchpoint_id, 1, 0, 0 FROM tt
    UNION ALL SELECT kind, day, touchpoint_id, 0, 1, 0 FROM roll WHERE fresh
    UNION ALL SELECT kind, last_day, touchpoint_id, 0, 0, 1 FROM lastv
    UNION ALL SELECT kind, was_day, touchpoint_id, 0, 0, -1 FROM lastv WHERE was_day IS NOT NULL
), tpd AS (
    INSERT INTO touch_tp_daily AS d (kind, day, touchpoint_id, touches, visitors, last_visitors)
    SELECT kind, day, touchpoint_id, sum(touches), sum(visitors), sum(last_visitors)
    FROM deltas GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (kind, day, touchpoint_id) DO UPDATE SET touches = d.touches + EXCLUDED.touches,
        visitors = d.visitors + EXCLUDED.visitors, last_visitors = d.last_visitors + EXCLUDED.last_visitors
)
SELECT (SELECT count(*) FROM ins) AS accepted, (SELECT count(*) FROM ins WHERE NOT known) AS unknown`

func (a Attribution) InsertTouches(ctx context.Context, v attribution.Visitor, ts []attribution.TouchInput, receivedAt time.Time) (attribution.TrackResult, error) {
	n := len(ts)
	ids, codes, paths, gids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	scenes, groups := make([]int64, n), make([]int64, n)
	ats := make([]string, n)
	for i, t := range ts {
		ids[i], codes[i], paths[i], gids[i] = t.EventID, t.Code, t.Path, t.OpenGID
		scenes[i], groups[i] = int64(t.Scene), t.GroupID
		ats[i] = t.At.UTC().Format(time.RFC3339Nano)
	}
	var r struct {
		Accepted int `db:"accepted"`
		Unknown  int `db:"unknown"`
	}
	err := sqlx.GetContext(ctx, a.DB, &r, insertTouchesSQL, pq.StringArray(ids), pq.StringArray(codes), pq.Int64Array(scenes),
		pq.StringArray(paths), pq.StringArray(ats), pq.StringArray(gids), pq.Int64Array(groups), receivedAt,
		attrNullID(v.ShopperID), v.AnonID)
	if err != nil {
		return attribution.TrackResult{}, fmt.Errorf("storage: insert touches: %w", mapErr(err))
	}
	return attribution.TrackResult{Accepted: r.Accepted, Duplicates: n - r.Accepted, Unknown: r.Unknown}, nil
}

func (a Attribution) StitchTouches(ctx context.Context, anonID string, shopperID int64, since time.Time) error {
	_, err := a.DB.ExecContext(ctx, `
UPDATE touches SET shopper_id = $2 WHERE anon_id = $1 AND shopper_id IS NULL AND at >= $3`, anonID, shopperID, since)
	if err != nil {
		return fmt.Errorf("storage: stitch touches: %w", mapErr(err))
	}
	return nil
}

// buyerTouchesSQL reads a buyer's touches that carry a touchpoint (an
// unknown code drove nothing we can credit), as the shopper or as any
// anonymous visitor stitched to them, in [from, to].
const buyerTouchesSQL = `
SELECT t.id, t.at, t.scene, t.code,
       array_agg(tp.kind ORDER BY u.ord) AS kinds, array_agg(tp.id ORDER BY u.ord) AS ids
FROM touches t
CROSS JOIN LATERAL unnest(t.touchpoint_ids) WITH ORDINALITY AS u(id, ord)
JOIN touchpoints tp ON tp.id = u.id
WHERE (t.shopper_id = $1 OR t.anon_id = ANY (ARRAY(SELECT anon_id FROM anon_visitors WHERE shopper_id = $1)))
  AND t.at >= $2 AND t.at <= $3
GROUP BY t.id, t.at, t.scene, t.code
ORDER BY t.at, t.id`

func (a Attribution) BuyerTouches(ctx context.Context, shopperID int64, from, to time.Time) ([]attribution.Touch, error) {
	var rows []struct {
		ID    int64          `db:"id"`
		At    time.Time      `db:"at"`
		Scene int            `db:"scene"`
		Code  string         `db:"code"`
		Kinds pq.StringArray `db:"kinds"`
		IDs   pq.Int64Array  `db:"ids"`
	}
	if err := sqlx.SelectContext(ctx, a.DB, &rows, buyerTouchesSQL, shopperID, from, to); err != nil {
		return nil, fmt.Errorf("storage: buyer touches: %w", mapErr(err))
	}
	out := make([]attribution.Touch, len(rows))
	for i, r := range rows {
		t := attribution.Touch{ID: r.ID, At: r.At, Scene: r.Scene, Code: r.Code}
		for j, k := range r.Kinds {
			t.Touchpoints = append(t.Touchpoints, attribution.Touchpoint{Kind: attribution.TouchpointKind(k), ID: r.IDs[j]})
		}
		out[i] = t
	}
	return out, nil
}

// --- orders ---

const paidOrderSQL = `
SELECT o.id, o.order_no, o.shopper_id, o.placed_at, o.paid_at, COALESCE(o.store_id, 0) AS store_id,
       COALESCE(o.clerk_id, 0) AS clerk_id,
       NOT EXISTS (SELECT 1 FROM orders p WHERE p.shopper_id = o.shopper_id AND p.id <> o.id
                   AND p.paid_at IS NOT NULL AND (p.paid_at, p.id) < (o.paid_at, o.id)) AS new_customer
FROM orders o WHERE o.id = $1 AND o.paid_at IS NOT NULL`

func (a Attribution) PaidOrder(ctx context.Context, orderID int64) (attribution.PaidOrder, error) {
	var r struct {
		ID          int64     `db:"id"`
		Number      string    `db:"order_no"`
		ShopperID   int64     `db:"shopper_id"`
		PlacedAt    time.Time `db:"placed_at"`
		PaidAt      time.Time `db:"paid_at"`
		StoreID     int64     `db:"store_id"`
		ClerkID     int64     `db:"clerk_id"`
		NewCustomer bool      `db:"new_customer"`
	}
	if err := sqlx.GetContext(ctx, a.DB, &r, paidOrderSQL, orderID); err != nil {
		return attribution.PaidOrder{}, mapErrNotFound(err, domain.E(domain.KindNotFound, "order_not_paid", "No such paid order."))
	}
	var lines []struct {
		ID        int64 `db:"id"`
		ProductID int64 `db:"product_id"`
		Paid      int64 `db:"paid_fen"`
	}
	if err := sqlx.SelectContext(ctx, a.DB, &lines, `SELECT id, product_id, paid_fen FROM order_items WHERE order_id = $1 ORDER BY line_no`, orderID); err != nil {
		return attribution.PaidOrder{}, fmt.Errorf("storage: paid order lines: %w", mapErr(err))
	}
	o := attribution.PaidOrder{ID: r.ID, Number: r.Number, ShopperID: r.ShopperID, PlacedAt: r.PlacedAt, PaidAt: r.PaidAt,
		StoreID: r.StoreID, ClerkID: r.ClerkID, NewCustomer: r.NewCustomer, ProductOf: map[int64]int64{}}
	for _, l := range lines {
		o.Lines = append(o.Lines, attribution.Line{ItemID: l.ID, Paid: domain.Fen(l.Paid)})
		o.ProductOf[l.ID] = l.ProductID
	}
	return o, nil
}

// --- stored attributions ---

type tpJSON struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
}

type lineJSON struct {
	ItemID int64 `json:"item_id"`
	Amount int64 `json:"amount_fen"`
}

type creditJSON struct {
	TouchID     int64      `json:"touch_id"`
	Touchpoints []tpJSON   `json:"touchpoints"`
	Weight      int64      `json:"weight"`
	Amount      int64      `json:"amount_fen"`
	Lines       []lineJSON `json:"lines"`
}

type touchJSON struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Touchpoints []tpJSON  `json:"touchpoints"`
	Scene       int       `json:"scene"`
	Code        string    `json:"code"`
}

type weightJSON struct {
	TouchID int64  `json:"touch_id"`
	Parts   int64  `json:"parts"`
	Reason  string `json:"reason"`
}

type explanationJSON struct {
	Model      string       `json:"model"`
	Lookback   int64        `json:"lookback_seconds"`
	HalfLife   int64        `json:"half_life_seconds,omitempty"`
	Candidates []touchJSON  `json:"candidates"`
	Weights    []weightJSON `json:"weights"`
	Reasons    []string     `json:"reasons"`
}

func tpsJSON(tps []attribution.Touchpoint) []tpJSON {
	out := make([]tpJSON, len(tps))
	for i, t := range tps {
		out[i] = tpJSON{Kind: string(t.Kind), ID: t.ID}
	}
	return out
}

func tpsOf(js []tpJSON) []attribution.Touchpoint {
	out := make([]attribution.Touchpoint, len(js))
	for i, t := range js {
		out[i] = attribution.Touchpoint{Kind: attribution.TouchpointKind(t.Kind), ID: t.ID}
	}
	return out
}

func creditsJSON(cs []attribution.Credit) []byte {
	out := make([]creditJSON, len(cs))
	for i, c := range cs {
		cj := creditJSON{TouchID: c.TouchID, Touchpoints: tpsJSON(c.Touchpoints), Weight: c.Weight, Amount: int64(c.Amount)}
		for _, l := range c.Lines {
			cj.Lines = append(cj.Lines, lineJSON{ItemID: l.ItemID, Amount: int64(l.Amount)})
		}
		out[i] = cj
	}
	b, _ := json.Marshal(out)
	return b
}

func creditsOf(b []byte) ([]attribution.Credit, error) {
	var js []creditJSON
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, fmt.Errorf("storage: credits json: %w", err)
	}
	out := make([]attribution.Credit, len(js))
	for i, c := range js {
		cr := attribution.Credit{TouchID: c.TouchID, Touchpoints: tpsOf(c.Touchpoints), Weight: c.Weight, Amount: domain.Fen(c.Amount)}
		for _, l := range c.Lines {
			cr.Lines = append(cr.Lines, attribution.LineAmount{ItemID: l.ItemID, Amount: domain.Fen(l.Amount)})
		}
		out[i] = cr
	}
	return out, nil
}

func explanationJSONOf(e attribution.Explanation) []byte {
	ej := explanationJSON{Model: string(e.Model), Lookback: int64(e.Lookback / time.Second), HalfLife: int64(e.HalfLife / time.Second),
		Candidates: []touchJSON{}, Weights: []weightJSON{}, Reasons: e.Reasons}
	for _, t := range e.Candidates {
		ej.Candidates = append(ej.Candidates, touchJSON{ID: t.ID, At: t.At, Touchpoints: tpsJSON(t.Touchpoints), Scene: t.Scene, Code: t.Code})
	}
	for _, w := range e.Weights {
		ej.Weights = append(ej.Weights, weightJSON{TouchID: w.TouchID, Parts: w.Parts, Reason: w.Reason})
	}
	b, _ := json.Marshal(ej)
	return b
}

func explanationOf(b []byte) (attribution.Explanation, error) {
	var ej explanationJSON
	if err := json.Unmarshal(b, &ej); err != nil {
		return attribution.Explanation{}, fmt.Errorf("storage: explanation json: %w", err)
	}
	e := attribution.Explanation{Model: attribution.Model(ej.Model), Lookback: time.Duration(ej.Lookback) * time.Second,
		HalfLife: time.Duration(ej.HalfLife) * time.Second, Reasons: ej.Reasons}
	for _, t := range ej.Candidates {
		e.Candidates = append(e.Candidates, attribution.Touch{ID: t.ID, At: t.At, Touchpoints: tpsOf(t.Touchpoints), Scene: t.Scene, Code: t.Code})
	}
	for _, w := range ej.Weights {
		e.Weights = append(e.Weights, attribution.Weight{TouchID: w.TouchID, Parts: w.Parts, Reason: w.Reason})
	}
	return e, nil
}

// creditRowsSQL books credits (or reversals) per model, touchpoint and line
// and folds them into the rollups, in one statement: attribution_daily (per
// buyer and day), the buyer's latest and second-latest order day per
// touchpoint, and attribution_tp_daily (per day and touchpoint; see
// migration 00006), upserting in key order.
// Credits count an order for a touchpoint when its sum there is positive;
// reversals add to refunded_fen only.
const creditRowsSQL = `
WITH c AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
        AS c(model, kind, touchpoint_id, item_id, product_id, amount_fen)
), ins AS (
    INSERT INTO attribution_credits (order_id, model, kind, touchpoint_id, item_id, product_id, day, amount_fen, reversal, at)
    SELECT $7, model, kind, touchpoint_id, item_id, product_id, $8::date, amount_fen, $11, $12 FROM c
), per AS (
    SELECT model, kind, touchpoint_id,
           CASE WHEN NOT $11 AND sum(amount_fen) > 0 THEN 1 ELSE 0 END AS orders,
           CASE WHEN NOT $11 AND sum(amount_fen) > 0 AND $10 THEN 1 ELSE 0 END AS nco,
           CASE WHEN $11 THEN 0 ELSE sum(amount_fen) END AS credited,
           CASE WHEN $11 THEN -sum(amount_fen) ELSE 0 END AS refunded
    FROM c GROUP BY model, kind, touchpoint_id
), ad AS (
    INSERT INTO attribution_daily AS d (model, kind, day, touchpoint_id, shopper_id, orders, new_customer_orders, credited_fen, refunded_fen)
    SELECT model, kind, $8::date, touchpoint_id, $9, orders, nco, credited, refunded FROM per ORDER BY 1, 2, 4
    ON CONFLICT (model, kind, day, touchpoint_id, shopper_id) DO UPDATE SET
        orders = d.orders + EXCLUDED.orders, new_customer_orders = d.new_customer_orders + EXCLUDED.new_customer_orders,
        credited_fen = d.credited_fen + EXCLUDED.credited_fen, refunded_fen = d.refunded_fen + EXCLUDED.refunded_fen
), bl AS (
    INSERT INTO attribution_buyer_last AS b (model, kind, touchpoint_id, shopper_id, last_day)
    SELECT model, kind, touchpoint_id, $9, $8::date FROM per WHERE orders > 0 ORDER BY 1, 2, 3
    ON CONFLICT (model, kind, touchpoint_id, shopper_id) DO UPDATE SET
        was_last = b.last_day, was_prev = b.prev_day,
        last_day = GREATEST(b.last_day, EXCLUDED.last_day),
        prev_day = CASE WHEN EXCLUDED.last_day >= b.last_day THEN b.last_day ELSE GREATEST(b.prev_day, EXCLUDED.last_day) END
    RETURNING model, kind, touchpoint_id, last_day, prev_day, was_last, was_prev
), deltas (model, kind, day, touchpoint_id, orders, nco, credited, refunded, last_buyers, prev_buyers) AS (
    SELECT model, kind, $8::date, touchpoint_id, orders, nco, credited, refunded, 0, 0 FROM per
    UNION ALL SELECT model, kind, last_day, touchpoint_id, 0, 0, 0, 0, 1, 0 FROM bl
    UNION ALL SELECT model, kind, was_last, touchpoint_id, 0, 0, 0, 0, -1, 0 FROM bl WHERE was_last IS NOT NULL
    UNION ALL SELECT model, kind, prev_day, touchpoint_id, 0, 0, 0, 0, 0, 1 FROM bl WHERE prev_day IS NOT NULL
    UNION ALL SELECT model, kind, was_prev, touchpoint_id, 0, 0, 0, 0, 0, -1 FROM bl WHERE was_prev IS NOT NULL
)
INSERT INTO attribution_tp_daily AS d (model, kind, day, touchpoint_id, orders, new_customer_orders, credited_fen,
                                       refunded_fen, last_buyers, prev_buyers)
SELECT model, kind, day, touchpoint_id, sum(orders), sum(nco), sum(credited), sum(refunded), sum(last_buyers), sum(prev_buyers)
FROM deltas GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (model, kind, day, touchpoint_id) DO UPDATE SET
    orders = d.orders + EXCLUDED.orders, new_customer_orders = d.new_customer_orders + EXCLUDED.new_customer_orders,
    credited_fen = d.credited_fen + EXCLUDED.credited_fen, refunded_fen = d.refunded_fen + EXCLUDED.refunded_fen,
    last_buyers = d.last_buyers + EXCLUDED.last_buyers, prev_buyers = d.prev_buyers + EXCLUDED.prev_buyers`

type creditRows struct {
	models, kinds                 pq.StringArray
	tps, items, products, amounts pq.Int64Array
}

func (r *creditRows) add(model attribution.Model, cs []attribution.Credit, productOf map[int64]int64) {
	for _, c := range cs {
		for _, tp := range c.Touchpoints {
			for _, l := range c.Lines {
				if l.Amount == 0 {
					continue
				}
				r.models = append(r.models, string(model))
				r.kinds = append(r.kinds, string(tp.Kind))
				r.tps = append(r.tps, tp.ID)
				r.items = append(r.items, l.ItemID)
				r.products = append(r.products, productOf[l.ItemID])
				r.amounts = append(r.amounts, int64(l.Amount))
			}
		}
	}
}

func (a Attribution) bookCredits(ctx context.Context, r creditRows, orderID int64, day string, shopperID int64, newCustomer, reversal bool, at time.Time) error {
	if len(r.models) == 0 {
		return nil
	}
	_, err := a.DB.ExecContext(ctx, creditRowsSQL, r.models, r.kinds, r.tps, r.items, r.products, r.amounts,
		orderID, day, shopperID, newCustomer, reversal, at)
	if err != nil {
		return fmt.Errorf("storage: book credits: %w", mapErr(err))
	}
	return nil
}

func (a Attribution) SaveAttribution(ctx context.Context, at attribution.OrderAttribution) error {
	o := at.Order
	day := attribution.Day(o.PaidAt).Format(time.DateOnly)
	var paid domain.Fen
	for _, l := range o.Lines {
		paid += l.Paid
	}
	_, err := a.DB.ExecContext(ctx, `
INSERT INTO order_attributions (order_id, shopper_id, default_model, placed_at, paid_at, day, paid_fen, new_customer, in_store, attributed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		o.ID, o.ShopperID, string(at.DefaultModel), o.PlacedAt, o.PaidAt, day, int64(paid), o.NewCustomer, at.InStore, at.At)
	if isUnique(err, "") {
		return domain.E(domain.KindConflict, "order_already_attributed", "The order is already attributed.")
	}
	if err != nil {
		return fmt.Errorf("storage: save attribution: %w", mapErr(err))
	}
	var models, expls, credits []string
	var directs []bool
	var rows creditRows
	for _, m := range at.Models {
		models = append(models, string(m.Model))
		directs = append(directs, m.Direct)
		expls = append(expls, string(explanationJSONOf(m.Explanation)))
		credits = append(credits, string(creditsJSON(m.Credits)))
		rows.add(m.Model, m.Credits, o.ProductOf)
	}
	_, err = a.DB.ExecContext(ctx, `
INSERT INTO order_attribution_models (order_id, model, direct, explanation, credits)
SELECT $1, m, d, e::jsonb, c::jsonb FROM unnest($2::text[], $3::boolean[], $4::text[], $5::text[]) AS u(m, d, e, c)`,
		o.ID, pq.StringArray(models), pq.BoolArray(directs), pq.StringArray(expls), pq.StringArray(credits))
	if err != nil {
		return fmt.Errorf("storage: save attribution models: %w", mapErr(err))
	}
	_, err = a.DB.ExecContext(ctx, `
INSERT INTO attribution_day_totals AS t (model, day, shard, orders, direct_orders, paid_fen)
SELECT m, $2::date, $3, 1, d::int, $4 FROM unnest($1::text[], $5::boolean[]) AS u(m, d) ORDER BY m
ON CONFLICT (model, day, shard) DO UPDATE SET orders = t.orders + 1,
    direct_orders = t.direct_orders + EXCLUDED.direct_orders, paid_fen = t.paid_fen + EXCLUDED.paid_fen`,
		pq.StringArray(models), day, o.ID%8, int64(paid), pq.BoolArray(directs))
	if err != nil {
		return fmt.Errorf("storage: save attribution totals: %w", mapErr(err))
	}
	return a.bookCredits(ctx, rows, o.ID, day, o.ShopperID, o.NewCustomer, false, at.At)
}

type attributionRow struct {
	OrderID      int64     `db:"order_id"`
	Number       string    `db:"order_no"`
	ShopperID    int64     `db:"shopper_id"`
	DefaultModel string    `db:"default_model"`
	PlacedAt     time.Time `db:"placed_at"`
	PaidAt       time.Time `db:"paid_at"`
	Day          time.Time `db:"day"`
	PaidFen      int64     `db:"paid_fen"`
	NewCustomer  bool      `db:"new_customer"`
	InStore      bool      `db:"in_store"`
	At           time.Time `db:"attributed_at"`
}

func (a Attribution) Attribution(ctx context.Context, orderID int64, forUpdate bool) (attribution.OrderAttribution, error) {
	q := `
SELECT a.order_id, o.order_no, a.shopper_id, a.default_model, a.placed_at, a.paid_at, a.day, a.paid_fen, a.new_customer,
       a.in_store, a.attributed_at
FROM order_attributions a JOIN orders o ON o.id = a.order_id WHERE a.order_id = $1`
	if forUpdate {
		q += ` FOR UPDATE OF a`
	}
	var h attributionRow
	if err := sqlx.GetContext(ctx, a.DB, &h, q, orderID); err != nil {
		return attribution.OrderAttribution{}, mapErrNotFound(err, attribution.ErrNotAttributed)
	}
	out := attribution.OrderAttribution{
		Order: attribution.PaidOrder{ID: h.OrderID, Number: h.Number, ShopperID: h.ShopperID, PlacedAt: h.PlacedAt,
			PaidAt: h.PaidAt, NewCustomer: h.NewCustomer},
		Paid: domain.Fen(h.PaidFen), DefaultModel: attribution.Model(h.DefaultModel), InStore: h.InStore, At: h.At}
	var ms []struct {
		Model       string `db:"model"`
		Direct      bool   `db:"direct"`
		Explanation []byte `db:"explanation"`
		Credits     []byte `db:"credits"`
		Reversals   []byte `db:"reversals"`
	}
	if err := sqlx.SelectContext(ctx, a.DB, &ms, `
SELECT model, direct, explanation, credits, reversals FROM order_attribution_models WHERE order_id = $1
ORDER BY array_position(ARRAY['last_touch', 'first_touch', 'linear', 'time_decay', 'position_based'], model)`, orderID); err != nil {
		return attribution.OrderAttribution{}, fmt.Errorf("storage: attribution models: %w", mapErr(err))
	}
	for _, m := range ms {
		ex, err := explanationOf(m.Explanation)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		cs, err := creditsOf(m.Credits)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		rs, err := creditsOf(m.Reversals)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		out.Models = append(out.Models, attribution.ModelAttribution{Model: attribution.Model(m.Model), Direct: m.Direct,
			Explanation: ex, Credits: cs, Reversals: rs})
	}
	return out, nil
}

func (a Attribution) AttributionByNumber(ctx context.Context, orderNo string) (attribution.OrderAttribution, error) {
	var id int64
	err := sqlx.GetContext(ctx, a.DB, &id, `
SELECT a.order_id FROM orders o JOIN order_attributions a ON a.order_id = o.id WHERE o.order_no = $1`, orderNo)
	if err != nil {
		return attribution.OrderAttribution{}, mapErrNotFound(err, attribution.ErrNotAttributed)
	}
	return a.Attribution(ctx, id, false)
}

func (a Attribution) SaveReversals(ctx context.Context, orderID int64, model attribution.Model, rev []attribution.Credit, at time.Time) error {
	var h struct {
		ShopperID int64     `db:"shopper_id"`
		Day       time.Time `db:"day"`
	}
	if err := sqlx.GetContext(ctx, a.DB, &h, `SELECT shopper_id, day FROM order_attributions WHERE order_id = $1`, orderID); err != nil {
		return mapErrNotFound(err, attribution.ErrNotAttributed)
	}
	_, err := a.DB.ExecContext(ctx, `
UPDATE order_attribution_models SET reversals = reversals || $3::jsonb WHERE order_id = $1 AND model = $2`,
		orderID, string(model), string(creditsJSON(rev)))
	if err != nil {
		return fmt.Errorf("storage: save reversals: %w", mapErr(err))
	}
	var products []struct {
		ID        int64 `db:"id"`
		ProductID int64 `db:"product_id"`
	}
	if err := sqlx.SelectContext(ctx, a.DB, &products, `SELECT id, product_id FROM order_items WHERE order_id = $1`, orderID); err != nil {
		return fmt.Errorf("storage: save reversals: %w", mapErr(err))
	}
	productOf := map[int64]int64{}
	for _, p := range products {
		productOf[p.ID] = p.ProductID
	}
	var rows creditRows
	rows.add(model, rev, productOf)
	return a.bookCredits(ctx, rows, orderID, h.Day.Format(time.DateOnly), h.ShopperID, false, true, at)
}
