package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
)

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
	err := sqlx.GetContext(ctx, a.ext(), &r, createTouchpointSQL, string(tp.Kind), tp.Name, string(tp.PostKind), tags(tp.Tags),
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
	err := sqlx.GetContext(ctx, a.ext(), &r, updateTouchpointSQL, tp.ID, tp.Name, string(tp.PostKind), tags(tp.Tags),
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
	if err := sqlx.GetContext(ctx, a.ext(), &r, q, id); err != nil {
		return attribution.TouchpointInfo{}, mapErrNotFound(err, attribution.ErrTouchpointNotFound)
	}
	return r.toDomain(), nil
}

func (a Attribution) ListTouchpoints(ctx context.Context, kind attribution.TouchpointKind, page domain.Page) ([]attribution.TouchpointInfo, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	// Only the filter given is in the statement, its value spelled out
	// (quoted; a fixed set): a rare kind's page (the stores among 50,000
	// KOCs) is then read from (kind, id DESC), where a generic plan may walk
	// every touchpoint newest first filtering (issue 18).
	args := stmtArgs{before, limit + 1}
	where := ""
	if kind != "" {
		where = " AND kind = " + pq.QuoteLiteral(string(kind))
	}
	var rows []touchpointRow
	if err := sqlx.SelectContext(ctx, a.ext(), &rows, `SELECT `+touchpointCols+` FROM touchpoints
WHERE id < $1`+where+` ORDER BY id DESC LIMIT $2`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: list touchpoints: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
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
	err := sqlx.GetContext(ctx, a.ext(), &id, `WITH ins AS (`+ins+`) SELECT id FROM ins UNION ALL (`+sel+`) LIMIT 1`, arg)
	if errors.Is(err, sql.ErrNoRows) {
		err = sqlx.GetContext(ctx, a.ext(), &id, sel, arg)
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
	if err := sqlx.GetContext(ctx, a.ext(), &storeID, `SELECT store_id FROM staff WHERE id = $1`, staffID); err != nil {
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
	_, err := a.ext().ExecContext(ctx, `
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
	err := sqlx.GetContext(ctx, a.ext(), &r, `SELECT `+shareLinkCols+` FROM share_links WHERE code = $1`, code)
	if err != nil {
		return attribution.ShareLink{}, mapErrNotFound(err, attribution.ErrShareLinkNotFound)
	}
	return r.toDomain(), nil
}

func (a Attribution) ListShareLinks(ctx context.Context, staffID int64, page domain.Page) ([]attribution.ShareLink, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, beforeCode, err := shareLinkCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []shareLinkRow
	err = sqlx.SelectContext(ctx, a.ext(), &rows, `
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
		next = shareLinkNext(last.CreatedAt, last.Code)
	}
	out := make([]attribution.ShareLink, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

// shareLinkCursor reads a share-link cursor: the created_at and code of the
// last link listed (links are listed newest first).
func shareLinkCursor(cursor string) (time.Time, string, error) {
	if cursor == "" {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "", nil
	}
	ts, code, ok := strings.Cut(cursor, "_")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", domain.ErrBadCursor
	}
	return t, code, nil
}

func shareLinkNext(at time.Time, code string) string {
	return at.UTC().Format(time.RFC3339Nano) + "_" + code
}
