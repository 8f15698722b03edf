package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// postLink creates a post and a share link for it.
func postLink(t *testing.T, svc *attribution.Service, name string, kind attribution.PostKind, by attribution.Sharer) attribution.ShareLink {
	t.Helper()
	ctx := context.Background()
	p, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: name, PostKind: kind})
	if err != nil {
		t.Fatal(err)
	}
	l, err := svc.Share(ctx, attribution.ShareRequest{By: by, PostID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// rollupBreaches compares each rollup maintained on write with the view
// that computes it from scratch (migration 00006), the day totals too.
func rollupBreaches(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for table, cols := range map[string]string{
		"touch_visitor_last":       "kind, touchpoint_id, visitor, last_day",
		"touch_tp_daily":           "kind, day, touchpoint_id, touches, visitors, last_visitors",
		"attribution_buyer_last":   "model, kind, touchpoint_id, shopper_id, last_day, prev_day",
		"touch_month_visitors":     "kind, month, touchpoint_id, visitors, touches",
		"attribution_month_buyers": "model, kind, month, touchpoint_id, buyers, repeat_buyers, orders, new_customer_orders, credited_fen",
		"touch_visitor_closed":     "kind, touchpoint_id, visitor, last_day",
		"touch_tp_gaps":            "kind, day, touchpoint_id, prev_day, touches, visitors",
		"attribution_buyer_closed": "model, kind, touchpoint_id, shopper_id, last_day, prev_day",
		"attribution_tp_gaps":      "model, kind, day, touchpoint_id, prev_day, prev2_day, units",
		"attribution_tp_daily": "model, kind, day, touchpoint_id, orders, new_customer_orders, credited_fen, refunded_fen, " +
			"last_buyers, prev_buyers",
	} {
		var bad []string
		q := fmt.Sprintf(`SELECT x::text FROM (SELECT %[2]s FROM %[1]s EXCEPT SELECT %[2]s FROM %[1]s_expected) x
UNION ALL SELECT 'missing ' || x::text FROM (SELECT %[2]s FROM %[1]s_expected EXCEPT SELECT %[2]s FROM %[1]s) x`, table, cols)
		if err := db.Select(&bad, q); err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%s differs from its view: %v", table, bad)
		}
	}
	dayTotalsBreaches(t, db)
}

// Ten days of visitors (signed in and anonymous) touching posts, KOCs and
// groups, and buyers ordering on several days (some twice the same day),
// with a refund: for every period that runs through today, the report from
// the (day, touchpoint) rollups equals the one counting distinct visitors
// and buyers, page by page; and every rollup equals its view.
func TestAttributionOpenPeriodsMatchDistinctCounts(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	st := storage.New(db).Attribution()
	seedAttributionDays(t, db, now)
	rollupBreaches(t, db)

	today := attribution.Day(now)
	for _, back := range []int{0, 1, 4, 9, 30} {
		from := today.AddDate(0, 0, -back)
		for _, dim := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup, attribution.KindStore, attribution.KindClerk} {
			for _, m := range attribution.Models {
				q := attribution.StatsQuery{Kind: dim, Model: m, From: from, To: today}
				closed, _, err := st.DimensionStats(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				q.Open = true
				open, _, err := st.DimensionStats(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(open, closed) {
					t.Fatalf("%s %s from %s:\nopen   %+v\nclosed %+v", dim, m, from.Format(time.DateOnly), open, closed)
				}
				// Pages of two add up to the whole, in the same order.
				paged := statsPages(t, st, q, 2)
				if len(paged)+len(open) > 0 && !reflect.DeepEqual(paged, open) {
					t.Fatalf("%s %s pages %+v != %+v", dim, m, paged, open)
				}
			}
		}
	}
	// The data has what the comparison needs to mean something: repeat
	// buyers and visitors active on several days.
	var repeat, multiDay int
	if err := db.Get(&repeat, `SELECT count(*) FROM attribution_buyer_last WHERE prev_day IS NOT NULL AND prev_day < last_day`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&multiDay, `SELECT count(*) FROM (SELECT 1 FROM touch_daily GROUP BY kind, touchpoint_id, visitor HAVING count(*) > 1) x`); err != nil {
		t.Fatal(err)
	}
	if repeat == 0 || multiDay == 0 {
		t.Fatalf("the data has %d repeat buyers across days and %d multi-day visitors", repeat, multiDay)
	}
}

// seedAttributionDays makes ten days (through now's) of visitors (signed in
// and anonymous) touching posts, KOCs and groups, and buyers ordering on
// several days (some twice the same day), with a refund on the last order.
func seedAttributionDays(t *testing.T, db *sqlx.DB, now time.Time) {
	t.Helper()
	ctx := context.Background()
	svc := attrService(db, now)

	var links []attribution.ShareLink
	kocs := []int64{newShopper(t, db, "koc0"), newShopper(t, db, "koc1"), newShopper(t, db, "koc2")}
	for i := range 5 {
		links = append(links, postLink(t, svc, fmt.Sprint("post", i), attribution.PostMoments, attribution.Sharer{ShopperID: kocs[i%3]}))
	}
	var buyers []int64
	for v := range 8 {
		buyers = append(buyers, newShopper(t, db, fmt.Sprint("visitor", v)))
	}
	var lastOrder int64
	var lastItems []int64
	for d := 9; d >= 0; d-- {
		at := now.AddDate(0, 0, -d)
		day := attrService(db, at)
		for v := range 8 {
			if (v+d)%3 == 0 {
				continue
			}
			var evs []attribution.Event
			for k := range 1 + (v*d)%3 {
				evs = append(evs, attribution.Event{ID: fmt.Sprintf("d%d-v%d-%d", d, v, k), Code: links[(v+d*k)%len(links)].Code,
					At: at.Add(-time.Duration(3-k) * time.Hour), Group: &attribution.GroupInfo{EncryptedData: fmt.Sprint(v % 2), IV: "iv"}})
			}
			visitor := attribution.Visitor{ShopperID: buyers[v]}
			if v == 7 {
				visitor = attribution.Visitor{AnonID: fmt.Sprint("anon-", d%4)}
			}
			if _, err := day.Track(ctx, visitor, evs); err != nil {
				t.Fatal(err)
			}
			if v < 7 && (v+d)%4 == 1 {
				for k := range 1 + v%2 { // odd visitors order twice that day
					placed := at.Add(-time.Duration(30+k) * time.Minute)
					lastOrder, lastItems = insertPaidOrder(t, db, buyers[v], placed, at.Add(-20*time.Minute), int64(500+37*v+d), 99)
					attributeInTx(t, db, svc, lastOrder)
				}
			}
		}
	}
	err := storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), lastOrder, map[int64]domain.Fen{lastItems[1]: 99})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The service pages a report by cursor and keeps the totals whole; a
// cursor it did not make is a 400.
func TestAttributionReportPages(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	for i := range 5 {
		l := postLink(t, svc, fmt.Sprint("post", i), attribution.PostPoster, attribution.Sharer{})
		buyer := newShopper(t, db, fmt.Sprint("b", i))
		if _, err := svc.Track(ctx, attribution.Visitor{ShopperID: buyer}, []attribution.Event{{ID: fmt.Sprint("e", i), Code: l.Code, At: now.Add(-time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		order, _ := insertPaidOrder(t, db, buyer, now.Add(-30*time.Minute), now.Add(-20*time.Minute), int64(100*(i+1)))
		attributeInTx(t, db, svc, order)
	}
	var credited []domain.Fen
	q := attribution.ReportQuery{Dimension: attribution.KindPost, Limit: 2}
	for pages := 0; ; pages++ {
		r, err := svc.Report(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Paid != 1500 || r.Credited != 1500 || len(r.Rows) > 2 {
			t.Fatalf("page %d: %+v", pages, r)
		}
		for _, row := range r.Rows {
			credited = append(credited, row.Credited)
		}
		if r.NextCursor == "" {
			break
		}
		q.Cursor = r.NextCursor
	}
	if !reflect.DeepEqual(credited, []domain.Fen{500, 400, 300, 200, 100}) {
		t.Fatalf("pages ranked %v", credited)
	}
	all, err := svc.Report(ctx, attribution.ReportQuery{Dimension: attribution.KindPost, All: true, Limit: 2})
	if err != nil || len(all.Rows) != 5 || all.NextCursor != "" {
		t.Fatalf("all rows: %d %q %v", len(all.Rows), all.NextCursor, err)
	}
	for _, bad := range []string{"x", "-1", "99999999999"} {
		_, err := svc.Report(ctx, attribution.ReportQuery{Dimension: attribution.KindPost, Cursor: bad})
		if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

// Old monthly partitions of touches are dropped whole; recent ones and their
// touches stay. Old event ids are forgotten in bounded batches.
func TestAttributionTouchRetention(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	st := storage.New(db).Attribution()
	now := time.Now()
	old := now.AddDate(-2, 0, 0)
	if _, err := st.EnsureTouchPartitions(ctx, old, 2); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{old, now} {
		if _, err := db.Exec(`INSERT INTO touches (event_id, at, received_at, anon_id, code, known) VALUES ($1, $2, $2, 'a', 'c', false)`,
			at.Format(time.RFC3339Nano), at); err != nil {
			t.Fatal(err)
		}
	}
	dropped, err := st.DropTouchPartitions(ctx, now.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 2 || dropped[0] != "touches_"+old.In(domain.Shanghai).Format("200601") {
		t.Fatalf("dropped %v", dropped)
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM touches`); err != nil || left != 1 {
		t.Fatalf("touches left %d %v", left, err)
	}
	if again, err := st.DropTouchPartitions(ctx, now.AddDate(-1, 0, 0)); err != nil || len(again) != 0 {
		t.Fatalf("second drop %v %v", again, err)
	}

	for i := range 5 {
		if _, err := db.Exec(`INSERT INTO touch_events (event_id, received_at) VALUES ($1, $2)`, fmt.Sprint("old", i), now.AddDate(0, 0, -8)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO touch_events (event_id, received_at) VALUES ('new', $1)`, now); err != nil {
		t.Fatal(err)
	}
	var pruned []int64
	for {
		n, err := st.PruneTouchEvents(ctx, now.AddDate(0, 0, -7), 2)
		if err != nil {
			t.Fatal(err)
		}
		pruned = append(pruned, n)
		if n < 2 {
			break
		}
	}
	var ids []string
	if err := db.Select(&ids, `SELECT event_id FROM touch_events`); err != nil || fmt.Sprint(pruned) != "[2 2 1]" || fmt.Sprint(ids) != "[new]" {
		t.Fatalf("pruned %v, left %v %v", pruned, ids, err)
	}
}

// A whole closed month is answered from its snapshot of distinct counts,
// which equals the distinct count over the per-visitor rollups; months are
// closed once, and only from 00:10 on the second day after they end.
func TestAttributionClosedMonth(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	st := storage.New(db).Attribution()
	now := time.Now().In(domain.Shanghai)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, domain.Shanghai).AddDate(0, -1, 0)
	last := month.AddDate(0, 1, -1)
	svc := attrService(db, now)
	links := []attribution.ShareLink{
		postLink(t, svc, "a", attribution.PostLive, attribution.Sharer{ShopperID: newShopper(t, db, "koc")}),
		postLink(t, svc, "b", attribution.PostPoster, attribution.Sharer{}),
	}
	var buyers []int64
	for v := range 5 {
		buyers = append(buyers, newShopper(t, db, fmt.Sprint("v", v)))
	}
	var refundable [][2]int64 // order, its second line
	for i, day := range []int{1, 3, 3, 17, 28} {
		at := month.AddDate(0, 0, day-1).Add(time.Duration(10+i) * time.Hour)
		for v := range 5 {
			if (v*day)%3 == 2 {
				continue
			}
			ev := attribution.Event{ID: fmt.Sprint(i, "-", v), Code: links[(v+i)%2].Code, At: at}
			if _, err := attrService(db, at).Track(ctx, attribution.Visitor{ShopperID: buyers[v]}, []attribution.Event{ev}); err != nil {
				t.Fatal(err)
			}
			if v%2 == 0 {
				order, items := insertPaidOrder(t, db, buyers[v], at.Add(time.Minute), at.Add(time.Hour), int64(100+day), 40)
				attributeInTx(t, db, svc, order)
				refundable = append(refundable, [2]int64{order, items[1]})
			}
		}
	}
	stats := func() map[string][]attribution.TouchpointStats {
		out := map[string][]attribution.TouchpointStats{}
		for _, dim := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC} {
			for _, m := range attribution.Models {
				s, _, err := st.DimensionStats(ctx, attribution.StatsQuery{Kind: dim, Model: m, From: month, To: last})
				if err != nil {
					t.Fatal(err)
				}
				out[string(dim)+"/"+string(m)] = s
			}
		}
		return out
	}
	distinct := stats()
	if got := distinct["post/last_touch"]; len(got) != 2 || got[0].Buyers == 0 || got[0].RepeatBuyers == 0 || got[0].Visitors < 2 {
		t.Fatalf("the month's data is too thin to compare: %+v", got)
	}
	// Not yet: a touch of its last day may still arrive until the 2nd,
	// 00:00 (plus a margin). (The twelve months before it are closed then.)
	if closed, err := st.CloseMonths(ctx, month.AddDate(0, 1, 1).Add(9*time.Minute)); err != nil || len(closed) != 12 || slices.Contains(closed, month.Format("2006-01")) {
		t.Fatalf("closed too early: %v %v", closed, err)
	}
	closed, err := st.CloseMonths(ctx, month.AddDate(0, 1, 1).Add(11*time.Minute))
	if err != nil || len(closed) != 1 || closed[0] != month.Format("2006-01") {
		t.Fatalf("closed %v %v", closed, err)
	}
	if again, err := st.CloseMonths(ctx, month.AddDate(0, 1, 3)); err != nil || len(again) != 0 {
		t.Fatalf("closed again %v %v", again, err)
	}
	var snapshot int
	if err := db.Get(&snapshot, `SELECT count(*) FROM attribution_month_buyers WHERE month = $1`, month.Format(time.DateOnly)); err != nil || snapshot == 0 {
		t.Fatalf("snapshot rows %d %v", snapshot, err)
	}
	if fromSnapshot := stats(); !reflect.DeepEqual(fromSnapshot, distinct) {
		t.Fatalf("snapshot %+v\ndistinct %+v", fromSnapshot, distinct)
	}
	rollupBreaches(t, db)

	// Refunds after the month closed still show: the snapshot keeps the
	// month's sums but not its refunds.
	for _, r := range refundable[:2] {
		err := storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
			return svc.ReverseOrderCredits(ctx, tx.Attribution(), r[0], map[int64]domain.Fen{r[1]: 40})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	refunded := 0
	for _, dim := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC} {
		for _, m := range attribution.Models {
			q := attribution.StatsQuery{Kind: dim, Model: m, From: month, To: last}
			got, want := statsAndDistinct(t, st, q)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after refunds %s/%s: snapshot %+v\ndistinct %+v", dim, m, got, want)
			}
			for _, s := range got {
				refunded += int(s.Refunded)
			}
		}
	}
	if refunded == 0 {
		t.Fatal("the refunds after closing show nowhere")
	}
	rollupBreaches(t, db)
}

// statsPages reads q's whole report a page of size at a time.
func statsPages(t *testing.T, st storage.Attribution, q attribution.StatsQuery, size int) []attribution.TouchpointStats {
	t.Helper()
	var paged []attribution.TouchpointStats
	for off := 0; ; off += size {
		q.Offset, q.Limit = off, size
		page, more, err := st.DimensionStats(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if !more {
			return paged
		}
	}
}

// statsAndDistinct answers q as reports do and by distinct counts over the
// per-visitor and per-buyer rollups (DistinctStats).
func statsAndDistinct(t *testing.T, st storage.Attribution, q attribution.StatsQuery) (got, want []attribution.TouchpointStats) {
	t.Helper()
	got, _, err := st.DimensionStats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err = st.DistinctStats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return got, want
}

// Months closed before migration 00027 get its sums: with the migration
// undone, ten days of data are closed into month snapshots the old way; done
// again, the snapshots carry the months' touches, orders, new-customer
// orders and credits as their views compute them, and the closed month's
// report from them equals the distinct count.
func TestMonthSumsMigrationFillsClosedMonths(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	// Seeded first: attributing an order writes the day totals' columns of
	// 00028, which the Down sections drop.
	seedAttributionDays(t, db, now)
	if err := storage.MigrateDownTo(ctx, db.DB, 26); err != nil {
		t.Fatal(err)
	}
	st := storage.New(db).Attribution()
	later := now.AddDate(0, 2, 0)
	closed, err := st.CloseMonths(ctx, later)
	if err != nil || len(closed) == 0 {
		t.Fatalf("closed %v %v", closed, err)
	}
	var before struct {
		Months int `db:"months"`
		Rows   int `db:"rows"`
	}
	if err := db.Get(&before, `SELECT count(DISTINCT month) AS months, count(*) AS rows FROM attribution_month_buyers`); err != nil || before.Rows == 0 {
		t.Fatalf("snapshot before the migration: %+v %v", before, err)
	}
	if err := storage.Migrate(ctx, db.DB, nil); err != nil {
		t.Fatal(err)
	}
	rollupBreaches(t, db)
	var sums struct {
		Touches  int64 `db:"touches"`
		Orders   int64 `db:"orders"`
		Credited int64 `db:"credited"`
	}
	if err := db.Get(&sums, `SELECT (SELECT sum(touches) FROM touch_month_visitors) AS touches,
       (SELECT sum(orders) FROM attribution_month_buyers) AS orders, (SELECT sum(credited_fen) FROM attribution_month_buyers) AS credited`); err != nil {
		t.Fatal(err)
	}
	if sums.Touches == 0 || sums.Orders == 0 || sums.Credited == 0 {
		t.Fatalf("the migration filled nothing: %+v", sums)
	}
	for _, m := range closed {
		month, err := time.ParseInLocation("2006-01", m, domain.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		for _, dim := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup} {
			q := attribution.StatsQuery{Kind: dim, Model: attribution.ModelLinear, From: month, To: month.AddDate(0, 1, -1)}
			got, want := statsAndDistinct(t, st, q)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %s: snapshot %+v\ndistinct %+v", m, dim, got, want)
			}
		}
	}
}
