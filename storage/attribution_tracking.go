package storage

import (
	"context"
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

// EnsureTouchPartitions creates the monthly partitions of touches for the
// months from month (its Asia/Shanghai month) on, count months: called at
// start-up and daily, so that partitions exist ahead of the touches.
func (a Attribution) EnsureTouchPartitions(ctx context.Context, month time.Time, count int) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, a.ext(), &n, `SELECT ensure_touch_partitions($1::date, $2)`,
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
	err := sqlx.SelectContext(ctx, a.ext(), &names, `
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'touches'::regclass AND c.relname ~ '^touches_[0-9]{6}$' AND substr(c.relname, 9) < $1
ORDER BY 1`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("storage: list touch partitions: %w", mapErr(err))
	}
	for _, n := range names {
		// The name is ours (matched above); DROP cannot take a parameter.
		if _, err := a.ext().ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(n)); err != nil {
			return nil, fmt.Errorf("storage: drop %s: %w", n, mapErr(err))
		}
	}
	return names, nil
}

// PruneTouchEvents forgets event ids received before before, at most limit
// of them (a worker calls it until it returns fewer): a client resends a
// batch within minutes, not weeks.
func (a Attribution) PruneTouchEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := a.ext().ExecContext(ctx, `
DELETE FROM touch_events WHERE event_id IN (
    SELECT event_id FROM touch_events WHERE received_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("storage: prune touch events: %w", mapErr(err))
	}
	return res.RowsAffected()
}

// --- touches ---

func (a Attribution) SessionKey(ctx context.Context, shopperID int64) (string, error) {
	var k string
	err := sqlx.GetContext(ctx, a.ext(), &k, `SELECT session_key FROM shoppers WHERE id = $1`, shopperID)
	return k, mapErrNotFound(err, identity.ErrShopperNotFound)
}

// insertTouchesSQL stores a batch in one statement: it records the event
// ids (a duplicate is dropped by the unique key), resolves each code to its
// share link's touchpoints (plus the group, when known), resolves an
// anonymous visitor already stitched to a shopper, appends the touches and
// maintains the rollups: touch_daily (per visitor and day), the visitor's
// latest day with each touchpoint, and touch_tp_daily (per day and
// touchpoint; see migration 00006). A touch that carries its touchpoints
// (a coupon grant; $12, array literals) takes them instead of a share
// link's. Rows are upserted in key order so
// concurrent batches never wait on each other in a cycle.
//
// A batch comes from one visitor, so the touches are first counted per
// (day, touchpoints) (g): the rollups' work is per distinct touchpoint and
// day of the batch, not per touch (a batch of 100 touches through one link
// is one group). And only a visitor-day that is new in touch_daily can move
// the visitor's latest day with a touchpoint (an existing one proves that
// day is already counted, so the latest is at least it): touch_visitor_last
// is upserted for the fresh rows of roll only. Measured with
// BenchmarkTouchIngestPGCost (storage/touch_cost_bench_test.go).
const insertTouchesSQL = `
WITH ev AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[], $11::text[], $12::text[])
        AS e(event_id, code, scene, path, at, opengid, group_id, chat, tps)
), fresh AS (
    INSERT INTO touch_events (event_id, received_at) SELECT event_id, $8 FROM ev
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), visitor AS (
    SELECT COALESCE($9::bigint, (SELECT shopper_id FROM anon_visitors WHERE anon_id = $10)) AS shopper_id
), ins AS (
    INSERT INTO touches (event_id, at, received_at, shopper_id, anon_id, code, known, touchpoint_ids, scene, path, opengid, chat)
    SELECT ev.event_id, ev.at, $8, (SELECT shopper_id FROM visitor), NULLIF($10, ''), ev.code, l.code IS NOT NULL OR ev.tps <> '',
           COALESCE(NULLIF(ev.tps, '')::bigint[], l.touchpoint_ids, '{}') || CASE WHEN ev.group_id > 0 THEN ARRAY[ev.group_id] ELSE '{}'::bigint[] END,
           ev.scene, ev.path, NULLIF(ev.opengid, ''), NULLIF(ev.chat, '')
    FROM ev JOIN fresh USING (event_id) LEFT JOIN share_links l ON l.code = ev.code AND ev.tps = ''
    RETURNING at, touchpoint_ids, known
), g AS (
    SELECT (at AT TIME ZONE 'Asia/Shanghai')::date AS day, touchpoint_ids, count(*) AS n
    FROM ins GROUP BY 1, 2
), tt AS (
    SELECT tp.kind, g.day, tp.id AS touchpoint_id, g.n,
           (SELECT CASE WHEN shopper_id IS NOT NULL THEN 's:' || shopper_id ELSE 'a:' || NULLIF($10, '') END FROM visitor) AS visitor
    FROM g CROSS JOIN LATERAL unnest(g.touchpoint_ids) AS u(id) JOIN touchpoints tp ON tp.id = u.id
), roll AS (
    INSERT INTO touch_daily (kind, day, touchpoint_id, visitor, touches)
    SELECT kind, day, touchpoint_id, visitor, sum(n)::bigint FROM tt GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (kind, day, touchpoint_id, visitor) DO UPDATE SET touches = touch_daily.touches + EXCLUDED.touches
    RETURNING kind, day, touchpoint_id, visitor, (xmax = 0) AS fresh
), lastv AS (
    INSERT INTO touch_visitor_last AS l (kind, touchpoint_id, visitor, last_day)
    SELECT kind, touchpoint_id, visitor, max(day) FROM roll WHERE fresh GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (kind, touchpoint_id, visitor) DO UPDATE SET was_day = l.last_day, last_day = EXCLUDED.last_day
    WHERE EXCLUDED.last_day > l.last_day
    RETURNING kind, touchpoint_id, last_day, was_day
), deltas (kind, day, touchpoint_id, touches, visitors, last_visitors) AS (
    SELECT kind, day, touchpoint_id, n, 0, 0 FROM tt
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
SELECT (SELECT count(*) FROM ins) AS accepted, (SELECT count(*) FROM ins WHERE NOT known) AS unknown,
       (SELECT set_config('synchronous_commit', 'off', true) WHERE $13) AS async`

func (a Attribution) InsertTouches(ctx context.Context, v attribution.Visitor, ts []attribution.TouchInput, receivedAt time.Time) (attribution.TrackResult, error) {
	n := len(ts)
	ids, codes, paths, gids, chats := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	scenes, groups := make([]int64, n), make([]int64, n)
	ats, tps := make([]string, n), make([]string, n)
	for i, t := range ts {
		if len(t.Touchpoints) > 0 {
			tps[i] = int64ArrayLiteral(t.Touchpoints)
		}
		ids[i], codes[i], paths[i], gids[i], chats[i] = t.EventID, t.Code, t.Path, t.OpenGID, string(t.Chat)
		scenes[i], groups[i] = int64(t.Scene), t.GroupID
		ats[i] = t.At.UTC().Format(time.RFC3339Nano)
	}
	var r struct {
		Accepted int     `db:"accepted"`
		Unknown  int     `db:"unknown"`
		Async    *string `db:"async"`
	}
	// Touches are analytics, not money: a batch stored on the pool (one
	// statement, its own implicit transaction) commits without waiting for
	// the WAL flush ($13: set_config(…, true) lasts to the end of that
	// transaction, so to its commit). A crash can lose the last fraction of
	// a second of touches (with their rollups: the two stay consistent),
	// never a payment or a ledger entry, and the commit no longer holds the
	// rollup rows that every batch for a touchpoint updates through a disk
	// flush. One round trip, where BEGIN, SET LOCAL, the statement and
	// COMMIT were four (~50-100 µs of the core each). In the caller's
	// transaction (a coupon grant) the commit is the caller's, as durable
	// as the rest of it.
	own := a.tx == nil
	err := sqlx.GetContext(ctx, a.ext(), &r, insertTouchesSQL, pq.StringArray(ids), pq.StringArray(codes), pq.Int64Array(scenes),
		pq.StringArray(paths), pq.StringArray(ats), pq.StringArray(gids), pq.Int64Array(groups), receivedAt,
		attrNullID(v.ShopperID), v.AnonID, pq.StringArray(chats), pq.StringArray(tps), own)
	if err != nil {
		return attribution.TrackResult{}, fmt.Errorf("storage: insert touches: %w", mapErr(err))
	}
	return attribution.TrackResult{Accepted: r.Accepted, Duplicates: n - r.Accepted, Unknown: r.Unknown}, nil
}

func (a Attribution) StitchTouches(ctx context.Context, anonID string, shopperID int64, since time.Time) error {
	_, err := a.ext().ExecContext(ctx, `
UPDATE touches SET shopper_id = $2 WHERE anon_id = $1 AND shopper_id IS NULL AND at >= $3`, anonID, shopperID, since)
	if err != nil {
		return fmt.Errorf("storage: stitch touches: %w", mapErr(err))
	}
	return nil
}

// buyerTouchesSQL reads a buyer's touches that carry a touchpoint (an
// unknown code drove nothing we can credit), as the shopper or as any
// anonymous visitor stitched to them, in [from, to].
const buyerTouchesSQL = visitorTouchesSQL + `
  AND t.at >= $2 AND t.at <= $3
GROUP BY t.id, t.at, t.scene, t.code, t.chat
ORDER BY t.at, t.id`

// visitorTouchesSQL selects the touches of shopper $1 (and of the anonymous
// visitors stitched to them) with their touchpoints; callers add to its
// WHERE clause, then group by t.id, t.at, t.scene, t.code, t.chat.
const visitorTouchesSQL = `
SELECT t.id, t.at, t.scene, t.code, COALESCE(t.chat, '') AS chat,
       array_agg(tp.kind ORDER BY u.ord) AS kinds, array_agg(tp.id ORDER BY u.ord) AS ids
FROM touches t
CROSS JOIN LATERAL unnest(t.touchpoint_ids) WITH ORDINALITY AS u(id, ord)
JOIN touchpoints tp ON tp.id = u.id
WHERE (t.shopper_id = $1 OR t.anon_id = ANY (ARRAY(SELECT anon_id FROM anon_visitors WHERE shopper_id = $1)))`

func (a Attribution) BuyerTouches(ctx context.Context, shopperID int64, from, to time.Time) ([]attribution.Touch, error) {
	return selectTouches(ctx, a.ext(), buyerTouchesSQL, shopperID, from, to)
}

// selectTouches runs a query answering id, at, scene, code and the
// touchpoints' kinds and ids (as buyerTouchesSQL does).
func selectTouches(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) ([]attribution.Touch, error) {
	var rows []struct {
		ID    int64          `db:"id"`
		At    time.Time      `db:"at"`
		Scene int            `db:"scene"`
		Code  string         `db:"code"`
		Chat  string         `db:"chat"`
		Kinds pq.StringArray `db:"kinds"`
		IDs   pq.Int64Array  `db:"ids"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: buyer touches: %w", mapErr(err))
	}
	out := make([]attribution.Touch, len(rows))
	for i, r := range rows {
		t := attribution.Touch{ID: r.ID, At: r.At, Scene: r.Scene, Code: r.Code, Chat: attribution.Chat(r.Chat)}
		for j, k := range r.Kinds {
			t.Touchpoints = append(t.Touchpoints, attribution.Touchpoint{Kind: attribution.TouchpointKind(k), ID: r.IDs[j]})
		}
		out[i] = t
	}
	return out, nil
}

// int64ArrayLiteral is ids as a PostgreSQL array literal ("{1,2}").
func int64ArrayLiteral(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
