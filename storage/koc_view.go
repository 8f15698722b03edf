package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
)

// A KOC's numbers by share link and by post. The attribution rollups are per
// touchpoint (the KOC, or the post across every sharer), so they cannot
// split a KOC's numbers by link: touches are counted by their link's code
// over the period's partitions, and an order counts for a link when its
// stored attribution under the order's default model credits a touch made
// through that link (the explanation's candidates name each touch's code).
// Periods are Asia/Shanghai days, both included, as in the reports.

// kocTouchesSQL and kocCreditsSQL expect a CTE l (code, …) of the links, and
// $2, $3 the first and last day.
const kocTouchesSQL = `
t AS (
    SELECT t.code, t.shopper_id, t.anon_id
    FROM touches t
    WHERE t.code IN (SELECT code FROM l)
      AND t.at >= ($2::date::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND t.at < (($3::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
), cr AS (
    SELECT cand->>'code' AS code, oa.order_id, sum((c->>'amount_fen')::bigint) AS credited
    FROM order_attributions oa
    JOIN order_attribution_models m ON m.order_id = oa.order_id AND m.model = oa.default_model
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.credits) = 'array' THEN m.credits ELSE '[]' END) c
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.explanation->'candidates') = 'array'
                                                 THEN m.explanation->'candidates' ELSE '[]' END) cand
    WHERE oa.day BETWEEN $2::date AND $3::date
      AND cand->>'id' = c->>'touch_id' AND cand->>'code' IN (SELECT code FROM l)
      AND (c->>'amount_fen')::bigint > 0
    GROUP BY 1, 2
)`

const kocVisitorExpr = `CASE WHEN t.shopper_id IS NOT NULL THEN 's:' || t.shopper_id ELSE 'a:' || t.anon_id END`

const kocLinkStatsSQL = `
WITH l AS (
    SELECT code, path, product_id, post_id, created_at FROM share_links
    WHERE shopper_id = $1 AND (created_at, code) < ($4, $5)
    ORDER BY created_at DESC, code DESC LIMIT $6
), ` + kocTouchesSQL + `, tt AS (
    SELECT t.code, count(*) AS touches, count(DISTINCT ` + kocVisitorExpr + `) AS visitors FROM t GROUP BY t.code
), o AS (
    SELECT code, count(*) AS orders, sum(credited) AS credited FROM cr GROUP BY code
)
SELECT l.code, l.path, l.product_id, l.post_id, l.created_at, COALESCE(tp.name, '') AS post_name,
       COALESCE(tt.touches, 0) AS touches, COALESCE(tt.visitors, 0) AS visitors,
       COALESCE(o.orders, 0) AS orders, COALESCE(o.credited, 0) AS credited
FROM l LEFT JOIN tt ON tt.code = l.code LEFT JOIN o ON o.code = l.code LEFT JOIN touchpoints tp ON tp.id = l.post_id
ORDER BY l.created_at DESC, l.code DESC`

// LinkStats lists a KOC's share links, newest first (cursor as
// ListShareLinks), with their numbers for the days from … to.
func (k KOCs) LinkStats(ctx context.Context, kocID int64, from, to time.Time, page domain.Page) ([]commission.LinkStats, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, beforeCode, err := shareLinkCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	f, t := dates(from, to)
	var rows []struct {
		Code      string        `db:"code"`
		Path      string        `db:"path"`
		ProductID sql.NullInt64 `db:"product_id"`
		PostID    sql.NullInt64 `db:"post_id"`
		CreatedAt time.Time     `db:"created_at"`
		PostName  string        `db:"post_name"`
		Touches   int64         `db:"touches"`
		Visitors  int64         `db:"visitors"`
		Orders    int64         `db:"orders"`
		Credited  int64         `db:"credited"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, kocLinkStatsSQL, kocID, f, t, before, beforeCode, limit+1); err != nil {
		return nil, "", fmt.Errorf("storage: koc link stats: %w", mapErr(err))
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		next = shareLinkNext(last.CreatedAt, last.Code)
	}
	out := make([]commission.LinkStats, len(rows))
	for i, r := range rows {
		out[i] = commission.LinkStats{Code: r.Code, Path: r.Path, ProductID: r.ProductID.Int64, PostID: r.PostID.Int64, PostName: r.PostName,
			CreatedAt: r.CreatedAt, Touches: r.Touches, Visitors: r.Visitors, Orders: r.Orders, Credited: domain.Fen(r.Credited)}
	}
	return out, next, nil
}

const kocPostStatsSQL = `
WITH l AS (
    SELECT code, post_id FROM share_links WHERE shopper_id = $1 AND post_id IS NOT NULL
), ` + kocTouchesSQL + `, tt AS (
    SELECT l.post_id, count(*) AS touches, count(DISTINCT ` + kocVisitorExpr + `) AS visitors
    FROM t JOIN l ON l.code = t.code GROUP BY l.post_id
), po AS (
    SELECT l.post_id, cr.order_id, sum(cr.credited) AS credited
    FROM cr JOIN l ON l.code = cr.code GROUP BY l.post_id, cr.order_id
), e AS (
    SELECT order_id, sum(amount_fen) AS earned FROM commission_lines
    WHERE koc_id = $1 AND order_id IN (SELECT order_id FROM po) GROUP BY order_id
), o AS (
    SELECT po.post_id, count(*) AS orders, sum(po.credited) AS credited, COALESCE(sum(e.earned), 0) AS earned
    FROM po LEFT JOIN e ON e.order_id = po.order_id GROUP BY po.post_id
)
SELECT COALESCE(tt.post_id, o.post_id) AS post_id, COALESCE(tp.name, '') AS name,
       COALESCE(tt.touches, 0) AS touches, COALESCE(tt.visitors, 0) AS visitors,
       COALESCE(o.orders, 0) AS orders, COALESCE(o.credited, 0) AS credited, COALESCE(o.earned, 0) AS earned
FROM tt FULL JOIN o ON o.post_id = tt.post_id LEFT JOIN touchpoints tp ON tp.id = COALESCE(tt.post_id, o.post_id)
ORDER BY credited DESC, touches DESC, post_id`

// PostStats is a KOC's numbers by post (through their links to it) for the
// days from … to; Earned is their commission on the orders counted.
func (k KOCs) PostStats(ctx context.Context, kocID int64, from, to time.Time) ([]commission.PostStats, error) {
	f, t := dates(from, to)
	var rows []struct {
		PostID   int64  `db:"post_id"`
		Name     string `db:"name"`
		Touches  int64  `db:"touches"`
		Visitors int64  `db:"visitors"`
		Orders   int64  `db:"orders"`
		Credited int64  `db:"credited"`
		Earned   int64  `db:"earned"`
	}
	if err := sqlx.SelectContext(ctx, k.ext(), &rows, kocPostStatsSQL, kocID, f, t); err != nil {
		return nil, fmt.Errorf("storage: koc post stats: %w", mapErr(err))
	}
	out := make([]commission.PostStats, len(rows))
	for i, r := range rows {
		out[i] = commission.PostStats{PostID: r.PostID, Name: r.Name, Touches: r.Touches, Visitors: r.Visitors, Orders: r.Orders,
			Credited: domain.Fen(r.Credited), Earned: domain.Fen(r.Earned)}
	}
	return out, nil
}
