package storage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// A period that ended before today and is not a whole closed month is
// answered from the gap rollups for its days folded in (migration 00026)
// and per visitor and buyer for its later days; the answer equals the
// distinct counts over the per-visitor and per-buyer rollups for every
// period of ten days, dimension and two models — with nothing folded, with part
// of the days folded, with all, after a refund of a folded day's order —
// and pages add up. Days are folded once, in order, and only once a touch
// can no longer arrive for them; folded answers no longer read the per-visitor rollups.
func TestAttributionClosedPeriodsFromGaps(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	st := storage.New(db).Attribution()
	svc := attrService(db, now)
	seedAttributionDays(t, db, now)
	today := attribution.Day(now)

	dims := []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup, attribution.KindStore, attribution.KindClerk}
	type key struct {
		dim      attribution.TouchpointKind
		m        attribution.Model
		from, to int
	}
	answers := map[key][]attribution.TouchpointStats{}
	var repeat, multiVisit bool
	topPages := 0 // first pages of one the credited touchpoints answered
	// compare checks every period of the ten days against the distinct
	// counts.
	compare := func(stage string) {
		t.Helper()
		for from := 9; from >= 0; from-- {
			for to := from; to >= 1; to-- {
				for _, dim := range dims {
					for _, m := range []attribution.Model{attribution.ModelFirstTouch, attribution.ModelLinear} {
						q := attribution.StatsQuery{Kind: dim, Model: m, From: today.AddDate(0, 0, -from), To: today.AddDate(0, 0, -to)}
						got, want := statsAndDistinct(t, st, q)
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s: %s %s %d…%d days back:\ngaps     %+v\ndistinct %+v", stage, dim, m, from, to, got, want)
						}
						answers[key{dim, m, from, to}] = got
						for _, r := range got {
							repeat = repeat || (r.RepeatBuyers > 0 && from > to)
							multiVisit = multiVisit || r.Visitors < r.Touches
						}
						// Pages add up to the whole, from the credited
						// touchpoints alone where a page ends on one.
						var sizes []int // (store and clerk reports have a row or two)
						if dim != attribution.KindStore && dim != attribution.KindClerk && m == attribution.ModelLinear {
							sizes = []int{2}
						}
						if to == 1 {
							sizes = append(sizes, 1)
						}
						for _, size := range sizes {
							paged := statsPages(t, st, q, size)
							if len(paged)+len(got) > 0 && !reflect.DeepEqual(paged, got) {
								t.Fatalf("%s: %s %s %d…%d days back, pages of %d %+v != %+v", stage, dim, m, from, to, size, paged, got)
							}
						}
						q.Limit = 1
						if top, _, err := st.TopGapStats(ctx, q); err != nil {
							t.Fatal(err)
						} else if len(top) > 0 {
							topPages++
						}
					}
				}
			}
		}
	}
	compare("nothing folded")

	// Noon three days ago folds the first day with data (today−9, or
	// today−10 when the touches of 3 hours before now were the day before)
	// … today−5; noon in three days through today+1; then nothing more.
	first := firstDataDay(t, db)
	noon := today.Add(12 * time.Hour)
	for i, step := range []struct {
		at   time.Time
		want int
	}{{noon.AddDate(0, 0, -3), daysBetween(first, today.AddDate(0, 0, -5)) + 1}, {noon.AddDate(0, 0, -3), 0},
		{noon.AddDate(0, 0, 3), 6}, {noon.AddDate(0, 0, 3), 0}} {
		n, err := st.CloseDays(ctx, step.at)
		if err != nil || n != step.want {
			t.Fatalf("close days at %s: %d %v, want %d", step.at.Format(time.DateOnly), n, err, step.want)
		}
		rollupBreaches(t, db)
		if i == 0 {
			compare("folded through today−5")
		}
	}

	// A refund of a folded day's order moves its (additive) refunded column.
	var order int64
	var item int64
	err := db.QueryRow(`SELECT c.order_id, c.item_id FROM attribution_credits c
WHERE c.day = $1::date AND NOT c.reversal ORDER BY c.order_id LIMIT 1`, today.AddDate(0, 0, -7).Format(time.DateOnly)).Scan(&order, &item)
	if err != nil {
		t.Fatal(err)
	}
	err = storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), order, map[int64]domain.Fen{item: 50})
	})
	if err != nil {
		t.Fatal(err)
	}
	compare("all folded")
	rollupBreaches(t, db)
	if topPages < 100 {
		t.Fatalf("the credited touchpoints answered only %d first pages", topPages)
	}
	if !repeat || !multiVisit {
		t.Fatalf("the data has no repeat buyers (%v) or no visitors with several touches (%v) in a period", repeat, multiVisit)
	}
	var refunded int64
	if err := db.Get(&refunded, `SELECT COALESCE(sum(refunded_fen), 0) FROM attribution_tp_daily WHERE day = $1::date`,
		today.AddDate(0, 0, -7).Format(time.DateOnly)); err != nil || refunded == 0 {
		t.Fatalf("the refund of a folded day: %d %v", refunded, err)
	}

	// Folded periods no longer read touch_daily or attribution_daily.
	if _, err := db.Exec(`DELETE FROM touch_daily; DELETE FROM attribution_daily`); err != nil {
		t.Fatal(err)
	}
	for k, want := range answers {
		got, _, err := st.DimensionStats(ctx, attribution.StatsQuery{Kind: k.dim, Model: k.m,
			From: today.AddDate(0, 0, -k.from), To: today.AddDate(0, 0, -k.to)})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v after the per-visitor rollups are gone:\n%+v\nwant %+v", k, got, want)
		}
		if paged := statsPages(t, st, attribution.StatsQuery{Kind: k.dim, Model: k.m,
			From: today.AddDate(0, 0, -k.from), To: today.AddDate(0, 0, -k.to)}, 2); len(paged)+len(want) > 0 && !reflect.DeepEqual(paged, want) {
			t.Fatalf("%+v after the per-visitor rollups are gone, pages of 2:\n%+v\nwant %+v", k, paged, want)
		}
	}
}

// The closer folds a day from 00:10 two days after it (a touch may be
// reported up to a day late; attribution.ClosedThrough), and a period over
// folded and later days is exact.
func TestAttributionClosedPeriodBeforeFolding(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	st := storage.New(db).Attribution()
	seedAttributionDays(t, db, now)
	today := attribution.Day(now)
	if n, err := st.CloseDays(ctx, today.Add(5*time.Minute)); err != nil || n != daysBetween(firstDataDay(t, db), today.AddDate(0, 0, -3))+1 {
		t.Fatalf("close days: %d %v (first day with data %s)", n, err, firstDataDay(t, db).Format(time.DateOnly))
	}
	if n, err := st.CloseDays(ctx, today.Add(9*time.Minute)); err != nil || n != 0 {
		t.Fatalf("closed %d days before 00:10: %v", n, err)
	}
	if n, err := st.CloseDays(ctx, today.Add(11*time.Minute)); err != nil || n != 1 {
		t.Fatalf("closed %d days at 00:11, want the day before yesterday: %v", n, err)
	}
	for _, p := range [][2]int{{9, 3}, {9, 2}, {4, 1}, {2, 1}} {
		for _, m := range attribution.Models {
			q := attribution.StatsQuery{Kind: attribution.KindPost, Model: m, From: today.AddDate(0, 0, -p[0]), To: today.AddDate(0, 0, -p[1])}
			got, want := statsAndDistinct(t, st, q)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %v: %+v, want %+v", m, p, got, want)
			}
		}
	}
}

// firstDataDay is the first day with a touch or an order.
func firstDataDay(t *testing.T, db *sqlx.DB) time.Time {
	t.Helper()
	var day string
	err := db.Get(&day, `SELECT least((SELECT min(day) FROM touch_daily), (SELECT min(day) FROM attribution_daily))::text`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseInLocation(time.DateOnly, day, domain.Shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// daysBetween counts the days from a to b (Shanghai midnights).
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a).Round(time.Hour).Hours() / 24)
}
