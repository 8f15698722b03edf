package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// Reports read only the rollups (migrations 00005, 00006, 00007, 00026 and 00027),
// never the touches or the orders. A period that runs through today costs
// one row per (day, touchpoint) of the dimension; a whole closed month one
// per touchpoint, and one per (day, touchpoint) with a refund; a period
// that ended earlier one per (day, touchpoint, previous day) for its closed
// days, and one per visitor-day for its days not yet closed (yesterday, and
// the day before until 00:10). A report's first pages read the credited
// amounts of every touchpoint and the rest for the page's alone
// (topPrefix).

type statsRow struct {
	TouchpointID      int64     `db:"touchpoint_id"`
	Name              string    `db:"name"`
	Day               time.Time `db:"day"`
	Touches           int64     `db:"touches"`
	Visitors          int64     `db:"visitors"`
	Orders            int64     `db:"orders"`
	Buyers            int64     `db:"buyers"`
	RepeatBuyers      int64     `db:"repeat_buyers"`
	NewCustomerOrders int64     `db:"new_customer_orders"`
	Credited          int64     `db:"credited"`
	Refunded          int64     `db:"refunded"`
}

func (r statsRow) toDomain() attribution.TouchpointStats {
	return attribution.TouchpointStats{TouchpointID: r.TouchpointID, Name: r.Name, Day: r.Day, Touches: r.Touches,
		Visitors: r.Visitors, Orders: r.Orders, Buyers: r.Buyers, RepeatBuyers: r.RepeatBuyers,
		NewCustomerOrders: r.NewCustomerOrders, Credited: domain.Fen(r.Credited), Refunded: domain.Fen(r.Refunded)}
}

// A report statement reads its rows through a row source: every
// touchpoint's rows (allRows: a dimension's whole report, or its deeper
// pages), or only those of the candidates of one of its first pages
// (candidateRows, under topPrefix). source(table, model, lo, hi, cond) is
// the rows of table of kind $1 (and model $2 when model) on the days lo …
// hi (SQL date expressions) that satisfy cond.
type source func(table string, model bool, lo, hi, cond string) string

func allRows(table string, model bool, lo, hi, cond string) string {
	m := ""
	if model {
		m = " AND model = $2"
	}
	return "(SELECT * FROM " + table + " WHERE kind = $1" + m + " AND day BETWEEN " + lo + " AND " + hi + cond + ")"
}

// candidateRows reads the rows of the touchpoints of topPrefix's cand,
// each looked up by key, a (touchpoint, day) at a time (OFFSET 0 keeps the
// lookups from being flattened into a scan of the days' rows).
func candidateRows(table string, model bool, lo, hi, cond string) string {
	m := ""
	if model {
		m = " AND x.model = $2"
	}
	return "(SELECT x.* FROM cand CROSS JOIN generate_series(" + lo + ", " + hi + ", interval '1 day') g(d)" +
		" CROSS JOIN LATERAL (SELECT * FROM " + table + " x WHERE x.kind = $1" + m +
		" AND x.day = g.d::date AND x.touchpoint_id = cand.touchpoint_id" + cond + " OFFSET 0) x)"
}

// topPrefix picks the candidates of one of a report's first pages: pages
// rank by credited amount first, so when the page's last row (with the one
// that tells whether more follow) has a positive credited amount K, the
// page is among the touchpoints credited at least K in the period (a
// touchpoint credited less, or only touched, ranks below every one of
// them). Only those — the page and any ties at K — are then read whole,
// through candidateRows; when that is not so (fewer credited touchpoints
// than the page needs, or K is 0) there is no candidate and the statement
// answers no row, and the whole statement answers instead. At 10M touches
// (psql, the first page): the KOC report of the last 30 days took 360–430
// ms whole, 100–200 ms so (the credited sums of ~130,000 rows are most of
// it); of the 7 days ending yesterday 880–1,010 ms whole, 46–54 ms so; of
// 30 days that ended a month ago 910–960 ms whole, 146–163 ms so.
const topPrefix = `
credit AS MATERIALIZED (
    SELECT touchpoint_id, sum(credited_fen) AS credited
    FROM attribution_tp_daily WHERE model = $2 AND kind = $1 AND day BETWEEN $3::date AND $4::date
    GROUP BY touchpoint_id
), k AS (
    SELECT credited FROM credit ORDER BY credited DESC OFFSET $5::bigint + $6::bigint - 1 LIMIT 1
), cand AS (
    SELECT credit.touchpoint_id FROM credit, k WHERE credit.credited >= k.credited AND k.credited > 0
),`

// openStats answers a period that runs through today from the
// (day, touchpoint) rollups alone: additive columns are summed over the
// period; unique visitors, buyers and repeat buyers are the counts of those
// whose latest (second-latest) day is in it — see migration 00006 — so
// their rows are read through the latest day with data.
func openStats(src source) string {
	return `
t AS (
    SELECT touchpoint_id, sum(touches) FILTER (WHERE day <= $4::date) AS touches, sum(last_visitors) AS visitors
    FROM ` + src("touch_tp_daily", false, "$3::date", "GREATEST($4::date, (SELECT max(day) FROM touch_tp_daily WHERE kind = $1))", "") + ` r
    GROUP BY touchpoint_id
), o AS (
    SELECT touchpoint_id, sum(orders) FILTER (WHERE day <= $4::date) AS orders, sum(last_buyers) AS buyers,
           sum(prev_buyers) AS repeat_buyers,
           sum(new_customer_orders) FILTER (WHERE day <= $4::date) AS nco,
           sum(credited_fen) FILTER (WHERE day <= $4::date) AS credited,
           sum(refunded_fen) FILTER (WHERE day <= $4::date) AS refunded
    FROM ` + src("attribution_tp_daily", true, "$3::date",
		"GREATEST($4::date, (SELECT max(day) FROM attribution_tp_daily WHERE model = $2 AND kind = $1))", "") + ` r
    GROUP BY touchpoint_id
)`
}

var (
	openStatsSQL    = "WITH " + openStats(allRows)
	topOpenStatsSQL = "WITH " + topPrefix + openStats(candidateRows)
)

// statsPageSQL joins t and o (of the forms here, or the tests' distinct
// counts: export_test.go), orders touchpoints by
// credited amount, then touches, then id, and cuts one page; names are
// looked up for the page only, one key lookup a row (a join let the generic
// plan, which cannot see the page size, hash every touchpoint instead).
const statsPageSQL = `, j AS (
    SELECT COALESCE(t.touchpoint_id, o.touchpoint_id) AS touchpoint_id,
           COALESCE(t.touches, 0) AS touches, COALESCE(t.visitors, 0) AS visitors,
           COALESCE(o.orders, 0) AS orders, COALESCE(o.buyers, 0) AS buyers, COALESCE(o.repeat_buyers, 0) AS repeat_buyers,
           COALESCE(o.nco, 0) AS new_customer_orders, COALESCE(o.credited, 0) AS credited, COALESCE(o.refunded, 0) AS refunded
    FROM t FULL JOIN o ON o.touchpoint_id = t.touchpoint_id
    ORDER BY credited DESC, touches DESC, touchpoint_id
    LIMIT $5 OFFSET $6
)
SELECT j.*, COALESCE((SELECT tp.name FROM touchpoints tp WHERE tp.id = j.touchpoint_id), '') AS name,
       '1970-01-01'::date AS day
FROM j
ORDER BY credited DESC, touches DESC, touchpoint_id`

// topPagesDepth bounds the pages the candidates answer (topPrefix): each row
// costs a few lookups per day of the period, so deeper pages are cheaper
// whole (at 10M touches, rows 480–500 of the KOC report of the last 30 days
// took 190–280 ms from the candidates, 270–390 ms whole).
const topPagesDepth = 500

func dates(from, to time.Time) (string, string) {
	return from.In(domain.Shanghai).Format(time.DateOnly), to.In(domain.Shanghai).Format(time.DateOnly)
}

// DimensionStats returns one page of a dimension's touchpoints (and whether
// more follow).
func (a Attribution) DimensionStats(ctx context.Context, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	query, top := gapStatsSQL, topGapStatsSQL
	if q.Open {
		query, top = openStatsSQL, topOpenStatsSQL
	} else if month, err := a.closedMonth(ctx, q.From, q.To); err != nil {
		return nil, false, err
	} else if month {
		query, top = monthStatsSQL, "" // a row per touchpoint already
	}
	if top != "" && q.Limit > 0 && q.Offset+q.Limit < topPagesDepth {
		if rows, more, err := a.dimensionStats(ctx, top, q); err != nil || len(rows) > 0 {
			return rows, more, err
		}
	}
	return a.dimensionStats(ctx, query, q)
}

func (a Attribution) dimensionStats(ctx context.Context, query string, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	f, t := dates(q.From, q.To)
	var limit any // NULL: every row
	if q.Limit > 0 {
		limit = q.Limit + 1
	}
	var rows []statsRow
	if err := sqlx.SelectContext(ctx, a.ext(), &rows, query+statsPageSQL, string(q.Kind), string(q.Model), f, t, limit, q.Offset); err != nil {
		return nil, false, fmt.Errorf("storage: dimension stats: %w", mapErr(err))
	}
	more := q.Limit > 0 && len(rows) > q.Limit
	if more {
		rows = rows[:q.Limit]
	}
	out := make([]attribution.TouchpointStats, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, more, nil
}

// periodTotalsSQL sums the period's day totals (a row per model, day and
// shard), with the dimension's credited amount from its column (migration
// 00028) rather than from the dimension's (day, touchpoint) rows.
const periodTotalsSQL = `
SELECT COALESCE(sum(paid_fen), 0) AS paid, COALESCE(sum(orders), 0) AS orders,
       COALESCE(sum(direct_orders), 0) AS direct,
       COALESCE(sum(CASE $1::text WHEN 'post' THEN credited_post_fen WHEN 'koc' THEN credited_koc_fen
                                  WHEN 'group' THEN credited_group_fen WHEN 'store' THEN credited_store_fen
                                  WHEN 'clerk' THEN credited_clerk_fen END), 0) AS credited
FROM attribution_day_totals
WHERE model = $2 AND day BETWEEN $3::date AND $4::date`

func (a Attribution) PeriodTotals(ctx context.Context, kind attribution.TouchpointKind, model attribution.Model, from, to time.Time) (domain.Fen, int64, int64, domain.Fen, error) {
	f, t := dates(from, to)
	var r struct {
		Paid     int64 `db:"paid"`
		Orders   int64 `db:"orders"`
		Direct   int64 `db:"direct"`
		Credited int64 `db:"credited"`
	}
	if err := sqlx.GetContext(ctx, a.ext(), &r, periodTotalsSQL, string(kind), string(model), f, t); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("storage: period totals: %w", mapErr(err))
	}
	return domain.Fen(r.Paid), r.Orders, r.Direct, domain.Fen(r.Credited), nil
}

const dailyStatsSQL = `
WITH t AS (
    SELECT day, sum(touches) AS touches, count(DISTINCT visitor) AS visitors
    FROM touch_daily WHERE touchpoint_id = $2 AND kind = $1 AND day BETWEEN $4::date AND $5::date
    GROUP BY day
), o AS (
    SELECT day, sum(orders) AS orders, count(*) FILTER (WHERE orders > 0) AS buyers,
           count(*) FILTER (WHERE orders >= 2) AS repeat_buyers, sum(new_customer_orders) AS nco,
           sum(credited_fen) AS credited, sum(refunded_fen) AS refunded
    FROM attribution_daily WHERE touchpoint_id = $2 AND model = $3 AND kind = $1 AND day BETWEEN $4::date AND $5::date
    GROUP BY day
)
SELECT $2::bigint AS touchpoint_id, '' AS name, COALESCE(t.day, o.day) AS day,
       COALESCE(t.touches, 0) AS touches, COALESCE(t.visitors, 0) AS visitors,
       COALESCE(o.orders, 0) AS orders, COALESCE(o.buyers, 0) AS buyers, COALESCE(o.repeat_buyers, 0) AS repeat_buyers,
       COALESCE(o.nco, 0) AS new_customer_orders, COALESCE(o.credited, 0) AS credited, COALESCE(o.refunded, 0) AS refunded
FROM t FULL JOIN o ON o.day = t.day
ORDER BY 3`

func (a Attribution) DailyStats(ctx context.Context, kind attribution.TouchpointKind, id int64, model attribution.Model, from, to time.Time) ([]attribution.TouchpointStats, error) {
	f, t := dates(from, to)
	var rows []statsRow
	if err := sqlx.SelectContext(ctx, a.ext(), &rows, dailyStatsSQL, string(kind), id, string(model), f, t); err != nil {
		return nil, fmt.Errorf("storage: daily stats: %w", mapErr(err))
	}
	out := make([]attribution.TouchpointStats, len(rows))
	for i, r := range rows {
		st := r.toDomain()
		y, m, d := r.Day.Date()
		st.Day = time.Date(y, m, d, 0, 0, 0, 0, domain.Shanghai)
		out[i] = st
	}
	return out, nil
}

const topProductsSQL = `
SELECT c.product_id, COALESCE(p.title, '') AS title,
       count(DISTINCT c.order_id) FILTER (WHERE NOT c.reversal) AS orders,
       COALESCE(sum(c.amount_fen) FILTER (WHERE NOT c.reversal), 0) AS credited,
       COALESCE(-sum(c.amount_fen) FILTER (WHERE c.reversal), 0) AS refunded
FROM attribution_credits c LEFT JOIN products p ON p.id = c.product_id
WHERE c.model = $3 AND c.touchpoint_id = $2 AND c.kind = $1 AND c.day BETWEEN $4::date AND $5::date
GROUP BY c.product_id, p.title
ORDER BY credited DESC, c.product_id
LIMIT $6`

func (a Attribution) TopProducts(ctx context.Context, kind attribution.TouchpointKind, id int64, model attribution.Model, from, to time.Time, limit int) ([]attribution.ProductStats, error) {
	f, t := dates(from, to)
	var rows []struct {
		ProductID int64  `db:"product_id"`
		Title     string `db:"title"`
		Orders    int64  `db:"orders"`
		Credited  int64  `db:"credited"`
		Refunded  int64  `db:"refunded"`
	}
	if err := sqlx.SelectContext(ctx, a.ext(), &rows, topProductsSQL, string(kind), id, string(model), f, t, limit); err != nil {
		return nil, fmt.Errorf("storage: top products: %w", mapErr(err))
	}
	out := make([]attribution.ProductStats, len(rows))
	for i, r := range rows {
		out[i] = attribution.ProductStats{ProductID: r.ProductID, Title: r.Title, Orders: r.Orders,
			Credited: domain.Fen(r.Credited), Refunded: domain.Fen(r.Refunded)}
	}
	return out, nil
}

// monthStatsSQL answers a whole closed month from its snapshot (migrations
// 00007 and 00027): a row per touchpoint, plus the month's (day,
// touchpoint) rows that carry a refund, which refunds still move.
const monthStatsSQL = `
WITH t AS (
    SELECT touchpoint_id, touches, visitors FROM touch_month_visitors WHERE kind = $1 AND month = $3::date
), o AS (
    SELECT COALESCE(b.touchpoint_id, r.touchpoint_id) AS touchpoint_id, COALESCE(b.orders, 0) AS orders,
           COALESCE(b.buyers, 0) AS buyers, COALESCE(b.repeat_buyers, 0) AS repeat_buyers,
           COALESCE(b.new_customer_orders, 0) AS nco, COALESCE(b.credited_fen, 0) AS credited,
           COALESCE(r.refunded, 0) AS refunded
    FROM (SELECT touchpoint_id, orders, buyers, repeat_buyers, new_customer_orders, credited_fen FROM attribution_month_buyers
          WHERE model = $2 AND kind = $1 AND month = $3::date) b
    FULL JOIN (SELECT touchpoint_id, sum(refunded_fen) AS refunded FROM attribution_tp_daily
               WHERE model = $2 AND kind = $1 AND day BETWEEN $3::date AND $4::date AND refunded_fen <> 0
               GROUP BY touchpoint_id) r ON r.touchpoint_id = b.touchpoint_id
)`

// closedMonth reports whether from … to is one whole calendar month whose
// distinct counts have been computed.
func (a Attribution) closedMonth(ctx context.Context, from, to time.Time) (bool, error) {
	f, t := from.In(domain.Shanghai), to.In(domain.Shanghai)
	if f.Day() != 1 || t.AddDate(0, 0, 1).Day() != 1 || f.Year() != t.Year() || f.Month() != t.Month() {
		return false, nil
	}
	var ok bool
	err := sqlx.GetContext(ctx, a.ext(), &ok, `SELECT EXISTS (SELECT 1 FROM attribution_months WHERE month = $1::date)`,
		f.Format(time.DateOnly))
	if err != nil {
		return false, fmt.Errorf("storage: closed month: %w", mapErr(err))
	}
	return ok, nil
}

// gapDays is how far back the gap rollups keep a previous day exactly
// (migration 00026): they answer any period of at most this many days, and
// a report's is at most attribution.MaxReportDays (this fails to compile
// should that ever outgrow it).
const gapDays = 400

var _ [gapDays - attribution.MaxReportDays]struct{}

// gapStats answers a period that ended before today. Its days folded
// into the gap rollups (through attribution_closed_through; migration
// 00026) give touches, visitors (those with a day in the period whose
// previous day is before it), buyers and repeat buyers as sums; its later
// days (yesterday, the day before until 00:10, or more while the closer is
// behind) are read per visitor and buyer, and count those the folded days have not counted
// yet: visitors whose latest folded day is before the period; buyers with no
// folded order unit in the period, and repeat buyers with none and two
// later orders, or one and a later order, each looked up by key in the
// folded state (a scalar subquery, so that the generic plan cannot choose
// to hash the whole state table: an EXISTS was hashed, a sequential scan of
// 600,000 rows, once work_mem allowed it — last 7 days' KOC report at 10M
// touches 0.7 → 1.0 s). The lookups run per row as the day's rows come
// out of their index (OFFSET 0 keeps them below the grouping), so in the
// state's key order: at 10M touches the KOC report of the 7 days ending
// yesterday took 1.0–1.3 s with a lookup per group in hash order, 0.76–0.85
// s so. (With nothing folded, the later
// days are the whole period, counted distinct as closedStatsSQL does.) The
// other additive columns come from the (day, touchpoint) rollups, which
// refunds still move.
func gapStats(src source) string {
	folded := "LEAST($4::date, (SELECT through FROM ct))"       // the period's last folded day
	later := "GREATEST($3::date, (SELECT through FROM ct) + 1)" // its first day not folded
	return `
ct AS (
    SELECT (SELECT through FROM attribution_closed_through) AS through
), gt AS (
    SELECT touchpoint_id, sum(touches) AS touches, sum(visitors) FILTER (WHERE prev_day < $3::date) AS visitors
    FROM ` + src("touch_tp_gaps", false, "$3::date", folded, "") + ` g
    GROUP BY touchpoint_id
), rt AS (
    SELECT touchpoint_id, sum(touches) AS touches, count(*) FILTER (WHERE NOT folded) AS visitors
    FROM (SELECT touchpoint_id, visitor, sum(touches) AS touches, bool_or(folded) AS folded
          FROM (SELECT d.touchpoint_id, d.visitor, d.touches,
                       COALESCE((SELECT s.last_day >= $3::date FROM touch_visitor_closed s WHERE s.kind = $1
                                 AND s.touchpoint_id = d.touchpoint_id AND s.visitor = d.visitor), false) AS folded
                FROM ` + src("touch_daily", false, later, "$4::date", "") + ` d
                OFFSET 0) v
          GROUP BY touchpoint_id, visitor) r
    GROUP BY touchpoint_id
), t AS (
    SELECT COALESCE(gt.touchpoint_id, rt.touchpoint_id) AS touchpoint_id,
           COALESCE(gt.touches, 0) + COALESCE(rt.touches, 0) AS touches,
           COALESCE(gt.visitors, 0) + COALESCE(rt.visitors, 0) AS visitors
    FROM gt FULL JOIN rt ON rt.touchpoint_id = gt.touchpoint_id
), gb AS (
    SELECT touchpoint_id, sum(units) FILTER (WHERE prev_day < $3::date) AS buyers,
           sum(units) FILTER (WHERE prev_day >= $3::date AND prev2_day < $3::date) AS repeat_buyers
    FROM ` + src("attribution_tp_gaps", true, "$3::date", folded, "") + ` g
    GROUP BY touchpoint_id
), rb AS (
    SELECT touchpoint_id, count(*) FILTER (WHERE folded = 0) AS buyers,
           count(*) FILTER (WHERE folded = 1 OR (folded = 0 AND orders >= 2)) AS repeat_buyers
    FROM (SELECT touchpoint_id, shopper_id, sum(orders) AS orders, max(folded) AS folded
          FROM (SELECT d.touchpoint_id, d.shopper_id, d.orders,
                       COALESCE((SELECT CASE WHEN s.last_day < $3::date THEN 0
                                             WHEN s.prev_day IS NULL OR s.prev_day < $3::date THEN 1 ELSE 2 END
                                 FROM attribution_buyer_closed s WHERE s.model = $2 AND s.kind = $1
                                      AND s.touchpoint_id = d.touchpoint_id AND s.shopper_id = d.shopper_id), 0) AS folded
                FROM ` + src("attribution_daily", true, later, "$4::date", " AND orders > 0") + ` d
                OFFSET 0) b
          GROUP BY touchpoint_id, shopper_id) x
    GROUP BY touchpoint_id
), o AS (
    SELECT a.touchpoint_id, a.orders, COALESCE(gb.buyers, 0) + COALESCE(rb.buyers, 0) AS buyers,
           COALESCE(gb.repeat_buyers, 0) + COALESCE(rb.repeat_buyers, 0) AS repeat_buyers, a.nco, a.credited, a.refunded
    FROM (SELECT touchpoint_id, sum(orders) AS orders, sum(new_customer_orders) AS nco, sum(credited_fen) AS credited,
                 sum(refunded_fen) AS refunded
          FROM ` + src("attribution_tp_daily", true, "$3::date", "$4::date", "") + ` r
          GROUP BY touchpoint_id) a
    LEFT JOIN gb ON gb.touchpoint_id = a.touchpoint_id
    LEFT JOIN rb ON rb.touchpoint_id = a.touchpoint_id
)`
}

var (
	gapStatsSQL    = "WITH " + gapStats(allRows)
	topGapStatsSQL = "WITH " + topPrefix + gapStats(candidateRows)
)

// CloseDays folds every day closed at now (attribution.ClosedThrough: a
// touch may arrive up to a day late) into the gap rollups, a month at a
// time (one transaction each: the first run after migration 00026 folds
// every day with data); it returns how many days it folded.
func (a Attribution) CloseDays(ctx context.Context, now time.Time) (int, error) {
	through := attribution.ClosedThrough(now).Format(time.DateOnly)
	total := 0
	for {
		var n int
		if err := sqlx.GetContext(ctx, a.ext(), &n, `SELECT close_attribution_days($1::date, 31)`, through); err != nil {
			return total, fmt.Errorf("storage: close days: %w", mapErr(err))
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		// As for the months: fresh statistics, or the report plans them as empty.
		if _, err := a.ext().ExecContext(ctx, `ANALYZE touch_tp_gaps, attribution_tp_gaps, touch_visitor_closed, attribution_buyer_closed`); err != nil {
			return total, fmt.Errorf("storage: analyze gap rollups: %w", mapErr(err))
		}
	}
	return total, nil
}

// CloseMonths computes the snapshot of every month of the last year whose
// days are all closed at now (attribution.ClosedThrough) and is not yet
// done; it returns the months it closed.
func (a Attribution) CloseMonths(ctx context.Context, now time.Time) ([]string, error) {
	// The month after the latest closed day's: every month before it is closed.
	n := attribution.ClosedThrough(now).AddDate(0, 0, 1)
	thisMonth := time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, domain.Shanghai)
	var closed []string
	for m := thisMonth.AddDate(-1, 0, 0); m.Before(thisMonth); m = m.AddDate(0, 1, 0) {
		var did bool
		if err := sqlx.GetContext(ctx, a.ext(), &did, `SELECT close_attribution_month($1::date)`, m.Format(time.DateOnly)); err != nil {
			return closed, fmt.Errorf("storage: close month %s: %w", m.Format("2006-01"), mapErr(err))
		}
		if did {
			closed = append(closed, m.Format("2006-01"))
		}
	}
	if len(closed) > 0 {
		// Fresh statistics at once: planned as empty, the month report's
		// joins become nested loops over every touchpoint (14 s at 50,000
		// KOCs in the 10M benchmark, before this).
		if _, err := a.ext().ExecContext(ctx, `ANALYZE touch_month_visitors, attribution_month_buyers`); err != nil {
			return closed, fmt.Errorf("storage: analyze month snapshots: %w", mapErr(err))
		}
	}
	return closed, nil
}
