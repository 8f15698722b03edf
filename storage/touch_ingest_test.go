package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// touchDailyBreaches compares touch_daily with the touches it counts (per
// dimension, Asia/Shanghai day, touchpoint and visitor): the batch
// statement counts a batch's touches per (day, touchpoints) before it
// unnests them, and must still count each touch once per touchpoint.
// (Valid while no anonymous visitor has been stitched.)
func touchDailyBreaches(t *testing.T, db *sqlx.DB) {
	t.Helper()
	var bad []string
	err := db.Select(&bad, `
WITH want AS (
    SELECT tp.kind, (t.at AT TIME ZONE 'Asia/Shanghai')::date AS day, tp.id AS touchpoint_id,
           CASE WHEN t.shopper_id IS NOT NULL THEN 's:' || t.shopper_id ELSE 'a:' || t.anon_id END AS visitor, count(*) AS touches
    FROM touches t CROSS JOIN LATERAL unnest(t.touchpoint_ids) u(id) JOIN touchpoints tp ON tp.id = u.id
    GROUP BY 1, 2, 3, 4
), got AS (SELECT kind, day, touchpoint_id, visitor, touches FROM touch_daily)
SELECT 'extra ' || x::text FROM (SELECT * FROM got EXCEPT SELECT * FROM want) x
UNION ALL SELECT 'missing ' || x::text FROM (SELECT * FROM want EXCEPT SELECT * FROM got) x`)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("touch_daily differs from the touches: %v", bad)
	}
}

func lastDay(t *testing.T, db *sqlx.DB, kind string, tp int64, visitor string) string {
	t.Helper()
	var d string
	if err := db.Get(&d, `SELECT last_day::text FROM touch_visitor_last WHERE kind = $1 AND touchpoint_id = $2 AND visitor = $3`,
		kind, tp, visitor); err != nil {
		t.Fatal(err)
	}
	return d
}

// A visitor's days arriving out of order (an older day after a newer one,
// a day again, a later day), batches mixing days, links, an unknown code, a
// group and touches that carry their own touchpoints: every rollup stays
// what its view computes from touch_daily, touch_daily stays what the
// touches say, the visitor's latest day moves only forward, and a resent
// batch changes nothing.
func TestTouchRollupsOutOfOrderDaysAndResend(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) // 20:00 in Shanghai
	svc := attrService(db, now)
	st := storage.New(db).Attribution()
	koc := newShopper(t, db, "koc")
	a := postLink(t, svc, "a", attribution.PostMoments, attribution.Sharer{ShopperID: koc})
	b := postLink(t, svc, "b", attribution.PostArticle, attribution.Sharer{ShopperID: koc})
	group, err := st.EnsureGroup(ctx, "gid-1")
	if err != nil {
		t.Fatal(err)
	}
	var kocTP int64
	if err := db.Get(&kocTP, `SELECT id FROM touchpoints WHERE kind = 'koc' AND shopper_id = $1`, koc); err != nil {
		t.Fatal(err)
	}
	buyer := newShopper(t, db, "buyer")
	day := func(d int) time.Time { return now.AddDate(0, 0, d) }
	n := 0
	touches := func(at time.Time, code string, count int) []attribution.TouchInput {
		var ts []attribution.TouchInput
		for range count {
			n++
			ts = append(ts, attribution.TouchInput{EventID: fmt.Sprint("e", n), Code: code, At: at, Scene: 1007})
		}
		return ts
	}
	send := func(v attribution.Visitor, ts []attribution.TouchInput) attribution.TrackResult {
		t.Helper()
		r, err := st.InsertTouches(ctx, v, ts, now)
		if err != nil {
			t.Fatal(err)
		}
		rollupBreaches(t, db)
		touchDailyBreaches(t, db)
		return r
	}
	anon := attribution.Visitor{AnonID: "anon-1"}
	send(anon, touches(day(-3), a.Code, 5))
	if got := lastDay(t, db, "koc", kocTP, "a:anon-1"); got != "2026-11-17" {
		t.Fatalf("last day %s", got)
	}
	send(anon, touches(day(-5), a.Code, 2)) // older: new visitor-day, the latest stays
	if got := lastDay(t, db, "koc", kocTP, "a:anon-1"); got != "2026-11-17" {
		t.Fatalf("last day after an older day %s", got)
	}
	send(anon, touches(day(-3), b.Code, 3)) // the KOC's day again, through another post
	// One batch over three days, two links and an unknown code; a later day
	// moves the latest day.
	mixed := append(append(append(touches(day(-6), a.Code, 2), touches(day(-1), b.Code, 4)...),
		touches(day(-3), a.Code, 1)...), touches(day(-1), "nosuchcode", 2)...)
	r := send(anon, mixed)
	if r.Accepted != 9 || r.Unknown != 2 {
		t.Fatalf("mixed batch %+v", r)
	}
	if got := lastDay(t, db, "koc", kocTP, "a:anon-1"); got != "2026-11-19" {
		t.Fatalf("last day after a later day %s", got)
	}
	// A signed-in shopper: a group touch and touches that carry their own
	// touchpoints (as a coupon grant's), with an event id listed twice.
	own := []attribution.TouchInput{
		{EventID: "g1", Code: a.Code, At: day(-2), GroupID: group, OpenGID: "gid-1", Chat: attribution.ChatGroup},
		{EventID: "c1", Code: attribution.GrantCode, At: day(-4), Touchpoints: []int64{kocTP}},
		{EventID: "c2", Code: attribution.GrantCode, At: day(-2), Touchpoints: []int64{kocTP, group}},
	}
	if r := send(attribution.Visitor{ShopperID: buyer}, own); r.Accepted != 3 {
		t.Fatalf("own touchpoints %+v", r)
	}
	if got := lastDay(t, db, "group", group, fmt.Sprint("s:", buyer)); got != "2026-11-18" {
		t.Fatalf("group last day %s", got)
	}

	// A resent batch (some of it) is not counted again.
	snapshot := func() []string {
		var rows []string
		if err := db.Select(&rows, `SELECT x::text FROM (SELECT * FROM touch_tp_daily UNION ALL SELECT kind, day, touchpoint_id, touches, 0, 0 FROM touch_daily) x ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	before := snapshot()
	if r := send(anon, mixed[3:]); r.Accepted != 0 || r.Duplicates != len(mixed)-3 {
		t.Fatalf("resent %+v", r)
	}
	if r := send(attribution.Visitor{ShopperID: buyer}, own); r.Accepted != 0 || r.Duplicates != 3 {
		t.Fatalf("resent own %+v", r)
	}
	if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a resend moved the rollups:\n%v\n%v", before, after)
	}
	var total int64
	if err := db.Get(&total, `SELECT sum(touches) FROM touch_tp_daily WHERE kind = 'koc'`); err != nil || total != 20 {
		t.Fatalf("koc touches %d, %v", total, err)
	}
}

// Concurrent batches of the same visitors over the same days and
// touchpoints (some resent by another client) neither deadlock nor
// count anything twice, and leave every rollup equal to its view.
func TestTouchRollupsConcurrentBatches(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	st := storage.New(db).Attribution()
	var codes []string
	for i := range 4 {
		codes = append(codes, postLink(t, svc, fmt.Sprint("p", i), attribution.PostMoments,
			attribution.Sharer{ShopperID: newShopper(t, db, fmt.Sprint("koc", i))}).Code)
	}
	const clients, rounds = 8, 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				var ts []attribution.TouchInput
				for j := range 20 {
					// Clients w and w^1 send the same event ids: one of
					// each pair is a resend.
					ts = append(ts, attribution.TouchInput{EventID: fmt.Sprintf("w%d-k%d-j%d", w/2, k, j),
						Code: codes[(w+k+j)%len(codes)], At: now.Add(-time.Duration((w*7+k*5+j)%96) * time.Hour)})
				}
				r, err := st.InsertTouches(ctx, attribution.Visitor{AnonID: fmt.Sprint("v", (w/2+k)%3)}, ts, now)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted += r.Accepted
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if want := clients / 2 * rounds * 20; accepted != want {
		t.Fatalf("accepted %d, want %d", accepted, want)
	}
	rollupBreaches(t, db)
	touchDailyBreaches(t, db)
}
