package storage_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

var allKinds = []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup,
	attribution.KindStore, attribution.KindClerk}

// dayTotalsBreaches compares attribution_day_totals, its shards summed per
// (model, day), with its view (migration 00028), every column.
func dayTotalsBreaches(t *testing.T, db *sqlx.DB) {
	t.Helper()
	const cols = `model, day, orders, direct_orders, paid_fen, credited_post_fen, credited_koc_fen, credited_group_fen,
       credited_store_fen, credited_clerk_fen`
	var bad []string
	err := db.Select(&bad, `
WITH x AS (SELECT model, day, sum(orders) AS orders, sum(direct_orders) AS direct_orders, sum(paid_fen) AS paid_fen,
                  sum(credited_post_fen) AS credited_post_fen, sum(credited_koc_fen) AS credited_koc_fen,
                  sum(credited_group_fen) AS credited_group_fen, sum(credited_store_fen) AS credited_store_fen,
                  sum(credited_clerk_fen) AS credited_clerk_fen
           FROM attribution_day_totals GROUP BY model, day)
SELECT x::text FROM (SELECT `+cols+` FROM x EXCEPT SELECT `+cols+` FROM attribution_day_totals_expected) x
UNION ALL SELECT 'missing ' || x::text FROM (SELECT `+cols+` FROM attribution_day_totals_expected EXCEPT SELECT `+cols+` FROM x) x`)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("attribution_day_totals differs from its view: %v", bad)
	}
}

// creditedFromDaily is a dimension's credited amount over [from, to] summed
// from the per-buyer rollup, independently of the day totals.
func creditedFromDaily(t *testing.T, db *sqlx.DB, kind attribution.TouchpointKind, m attribution.Model, from, to time.Time) domain.Fen {
	t.Helper()
	var n int64
	err := db.Get(&n, `SELECT COALESCE(sum(credited_fen), 0) FROM attribution_daily WHERE kind = $1 AND model = $2 AND day BETWEEN $3 AND $4`,
		string(kind), string(m), from.In(domain.Shanghai).Format(time.DateOnly), to.In(domain.Shanghai).Format(time.DateOnly))
	if err != nil {
		t.Fatal(err)
	}
	return domain.Fen(n)
}

// dayTotalsInvariant runs `yutang check`'s invariants and returns the
// breaches of the day totals' one.
func dayTotalsInvariant(t *testing.T, db *sqlx.DB) storage.Breaches {
	t.Helper()
	res, err := storage.New(db).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res {
		if b.Invariant == "attribution_day_totals matches its view" {
			return b
		}
	}
	t.Fatal("no invariant for attribution_day_totals")
	return storage.Breaches{}
}

// Orders over two days crediting posts, KOCs, groups, a store and its
// clerk (touches with and without each kind, an in-store order, direct
// orders, a refund) under every model: a report's credited total per
// dimension, now read from the day totals' columns, equals the sum of its
// rows and the sum over attribution_daily, and Credited + Direct = Paid;
// the day totals equal their view; `yutang check` names a corrupted column.
func TestDayTotalsCreditedPerDimension(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	yesterday := now.AddDate(0, 0, -1)
	svc := attrService(db, now)
	var store, clerk int64
	if err := db.Get(&store, `INSERT INTO stores (code, name) VALUES ('S1', 'Store 1') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&clerk, `INSERT INTO staff (username, password_hash, role, store_id) VALUES ('clerk1', 'x', 'clerk', $1) RETURNING id`, store); err != nil {
		t.Fatal(err)
	}
	var links []attribution.ShareLink
	for i := range 3 {
		by := attribution.Sharer{ShopperID: newShopper(t, db, fmt.Sprint("koc", i))}
		if i == 2 {
			by = attribution.Sharer{StaffID: clerk, Clerk: true}
		}
		links = append(links, postLink(t, svc, fmt.Sprint("post", i), attribution.PostArticle, by))
		l, err := svc.Share(ctx, attribution.ShareRequest{By: by}) // no post
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	links = append(links, postLink(t, svc, "anonymous post", attribution.PostPoster, attribution.Sharer{})) // a post alone

	paidOn := map[string]domain.Fen{}
	var refundOrder, refundItem int64
	for b := range 14 {
		at := now
		if b%2 == 1 {
			at = yesterday
		}
		buyer := newShopper(t, db, fmt.Sprint("buyer", b))
		var evs []attribution.Event
		for k := range b % 4 {
			ev := attribution.Event{ID: fmt.Sprintf("b%d-%d", b, k), Code: links[(b+k*3)%len(links)].Code, At: at.Add(-time.Duration(10-k) * time.Hour)}
			if k%2 == 1 {
				ev.Group = &attribution.GroupInfo{EncryptedData: fmt.Sprint(b % 3), IV: "iv"}
			}
			evs = append(evs, ev)
		}
		if len(evs) > 0 {
			if _, err := attrService(db, at).Track(ctx, attribution.Visitor{ShopperID: buyer}, evs); err != nil {
				t.Fatal(err)
			}
		}
		amounts := []int64{int64(101 + 37*b), int64(7 + b*b)}
		order, items := insertPaidOrder(t, db, buyer, at.Add(-2*time.Hour), at.Add(-time.Hour), amounts...)
		if b == 6 {
			if _, err := db.Exec(`UPDATE orders SET channel = 'in_store', store_id = $2, clerk_id = $3 WHERE id = $1`, order, store, clerk); err != nil {
				t.Fatal(err)
			}
		}
		attributeInTx(t, db, svc, order)
		paidOn[attribution.Day(at.Add(-time.Hour)).Format(time.DateOnly)] += domain.Fen(amounts[0] + amounts[1])
		if b == 5 {
			refundOrder, refundItem = order, items[0]
		}
	}
	// A refund reverses credits: refunded_fen moves, credited does not.
	err := storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), refundOrder, map[int64]domain.Fen{refundItem: 50})
	})
	if err != nil {
		t.Fatal(err)
	}
	dayTotalsBreaches(t, db)

	reports := func() map[string]domain.Fen {
		out := map[string]domain.Fen{}
		for _, from := range []time.Time{now, yesterday} {
			var paid domain.Fen
			for d := from; !attribution.Day(d).After(attribution.Day(now)); d = d.AddDate(0, 0, 1) {
				paid += paidOn[attribution.Day(d).Format(time.DateOnly)]
			}
			for _, dim := range allKinds {
				for _, m := range attribution.Models {
					r, err := svc.Report(ctx, attribution.ReportQuery{Dimension: dim, Model: m, From: from, To: now, All: true})
					if err != nil {
						t.Fatal(err)
					}
					var rows domain.Fen
					for _, row := range r.Rows {
						rows += row.Credited
					}
					want := creditedFromDaily(t, db, dim, m, from, now)
					if r.Credited != want || rows != want || r.Paid != paid || r.Credited+r.Direct != r.Paid {
						t.Errorf("from %s %s/%s: credited %d, rows %d, attribution_daily %d; paid %d (want %d), direct %d",
							from.Format(time.DateOnly), dim, m, r.Credited, rows, want, r.Paid, paid, r.Direct)
					}
					out[fmt.Sprint(from.Format(time.DateOnly), " ", dim, " ", m)] = r.Credited
				}
			}
		}
		return out
	}
	before := reports()
	// The data tells the dimensions apart: a column read for another kind,
	// or a day left out, would show.
	day := yesterday.Format(time.DateOnly)
	lt := func(from string, k attribution.TouchpointKind) domain.Fen {
		return before[fmt.Sprint(from, " ", k, " ", attribution.ModelLastTouch)]
	}
	post, koc, group, st := lt(day, attribution.KindPost), lt(day, attribution.KindKOC), lt(day, attribution.KindGroup), lt(day, attribution.KindStore)
	if post == koc || post == group || koc == group || st == 0 || post == 0 || koc == 0 || group == 0 {
		t.Fatalf("the data does not tell dimensions apart: post %d koc %d group %d store %d", post, koc, group, st)
	}
	today := now.Format(time.DateOnly)
	if lt(today, attribution.KindPost) == lt(day, attribution.KindPost) || lt(today, attribution.KindPost) == 0 {
		t.Fatalf("the data does not tell the days apart: %d vs %d", lt(today, attribution.KindPost), lt(day, attribution.KindPost))
	}

	if b := dayTotalsInvariant(t, db); b.Count != 0 {
		t.Fatalf("clean data breaks the day totals: %v", b.Lines)
	}
	// A corrupted column: check names the day and the figures, and the
	// report (which reads the column) moves with it.
	var model string
	var corrupted time.Time
	err = db.QueryRow(`
UPDATE attribution_day_totals SET credited_group_fen = credited_group_fen + 7
WHERE (model, day, shard) = (SELECT model, day, shard FROM attribution_day_totals
                             WHERE model = 'last_touch' AND credited_group_fen > 0 ORDER BY day, shard LIMIT 1)
RETURNING model, day`).Scan(&model, &corrupted)
	if err != nil {
		t.Fatal(err)
	}
	b := dayTotalsInvariant(t, db)
	if b.Count != 1 || !strings.Contains(b.Lines[0], "last_touch "+corrupted.Format(time.DateOnly)) ||
		!strings.Contains(b.Lines[0], "credited post/koc/group/store/clerk") {
		t.Fatalf("check after corrupting credited_group_fen: %d %v", b.Count, b.Lines)
	}
	r, err := svc.Report(ctx, attribution.ReportQuery{Dimension: attribution.KindGroup, Model: attribution.ModelLastTouch,
		From: yesterday, To: now, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Credited != lt(day, attribution.KindGroup)+7 {
		t.Fatalf("the report's group total %d does not come from the day totals (%d before)", r.Credited, lt(day, attribution.KindGroup))
	}
}

// The day totals written before migration 00028 get its credited amounts:
// with the migration undone (its columns gone, 00006's view and rebuild
// function back), ten days of data are attributed; done again, each
// (model, day)'s credited amounts equal the view, summed over the shards,
// and the reports' totals equal the sums over attribution_daily.
func TestDayTotalsCreditedMigrationBackfills(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	seedAttributionDays(t, db, now)
	if err := storage.MigrateDownTo(ctx, db.DB, 27); err != nil {
		t.Fatal(err)
	}
	var cols int
	if err := db.Get(&cols, `SELECT count(*) FROM information_schema.columns
WHERE table_name = 'attribution_day_totals' AND column_name LIKE 'credited%'`); err != nil || cols != 0 {
		t.Fatalf("after the Down section, %d credited columns (%v)", cols, err)
	}
	// 00006's function works again (undone: it would put every day on one shard).
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT rebuild_attribution_rollups()`); err != nil {
		t.Fatalf("00006's rebuild after the Down section: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var shards int
	if err := db.Get(&shards, `SELECT count(*) FROM (SELECT 1 FROM attribution_day_totals GROUP BY model, day HAVING count(*) > 1) x`); err != nil || shards == 0 {
		t.Fatalf("no day on several shards to backfill (%v)", err)
	}
	if err := storage.Migrate(ctx, db.DB, nil); err != nil {
		t.Fatal(err)
	}
	dayTotalsBreaches(t, db)
	if b := dayTotalsInvariant(t, db); b.Count != 0 {
		t.Fatalf("after the backfill: %v", b.Lines)
	}
	st := storage.New(db).Attribution()
	from, to := now.AddDate(0, 0, -9), now
	var credited domain.Fen
	for _, dim := range allKinds {
		for _, m := range attribution.Models {
			_, _, _, got, err := st.PeriodTotals(ctx, dim, m, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if want := creditedFromDaily(t, db, dim, m, from, to); got != want {
				t.Errorf("%s/%s: period total %d, attribution_daily %d", dim, m, got, want)
			}
			credited += got
		}
	}
	if credited == 0 {
		t.Fatal("the backfill filled nothing")
	}
	// And the function rebuilds them too (the report benchmark calls it).
	if _, err := db.Exec(`SELECT rebuild_attribution_rollups()`); err != nil {
		t.Fatal(err)
	}
	dayTotalsBreaches(t, db)
	var onShard0 int64
	if err := db.Get(&onShard0, `SELECT COALESCE(sum(credited_post_fen + credited_koc_fen + credited_group_fen), 0) FROM attribution_day_totals WHERE shard = 0`); err != nil || onShard0 == 0 {
		t.Fatalf("rebuild_attribution_rollups left the credited columns empty (%v)", err)
	}
}
