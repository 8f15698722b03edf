package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
)

// benchSize reads YUTANG_BENCH_TOUCHES (default 20 000: small enough for
// `make bench` on a laptop); orders are a tenth of the touches.
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("YUTANG_BENCH_TOUCHES")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

func benchApp(b *testing.B) (*app, *httptest.Server) {
	b.Helper()
	a := benchOpen(b, testConfig(b, nil))
	srv := httptest.NewServer(a.api().Handler())
	b.Cleanup(srv.Close)
	return a, srv
}

// BenchmarkAttributionTrack measures touch ingestion through POST
// /api/v1/shop/track: batches of 100 events from anonymous visitors, 8
// clients at once, over a mix of known share codes (each with a post and a
// KOC) and unknown codes. Reports events/s.
func BenchmarkAttributionTrack(b *testing.B) {
	a, srv := benchApp(b)
	ctx := context.Background()
	st := a.svc.Attribution
	var codes []string
	for i := range 50 {
		var sh int64
		if err := a.db.Get(&sh, `INSERT INTO shoppers (openid) VALUES ($1) RETURNING id`, fmt.Sprint("koc-", i)); err != nil {
			b.Fatal(err)
		}
		p, err := st.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: fmt.Sprint("p", i), PostKind: attribution.PostMoments})
		if err != nil {
			b.Fatal(err)
		}
		l, err := st.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: sh}, PostID: p.ID})
		if err != nil {
			b.Fatal(err)
		}
		codes = append(codes, l.Code)
	}
	total := benchSize()
	batches := (total + 99) / 100
	b.ResetTimer()
	for range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		run := time.Now().UnixNano()
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1)) - 1
					if k >= batches {
						return
					}
					evs := make([]map[string]any, 100)
					for j := range evs {
						code := codes[(k*7+j)%len(codes)]
						if j%10 == 9 {
							code = "unknowncode" + strconv.Itoa(j)
						}
						evs[j] = map[string]any{"id": fmt.Sprintf("%d-%d-%d", run, k, j), "code": code, "scene": 1007,
							"at": time.Now().Add(-time.Duration(j) * time.Minute)}
					}
					body, _ := json.Marshal(map[string]any{"events": evs})
					req, _ := http.NewRequest("POST", srv.URL+"/api/v1/shop/track", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Anon-Id", fmt.Sprintf("bench-visitor-%06d-%d", k%5000, w))
					res, err := srv.Client().Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("track: %d", res.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		b.ReportMetric(float64(batches*100)/el.Seconds(), "events/s")
	}
}

// BenchmarkAttributionReports generates a quarter of data with
// generate_series — YUTANG_BENCH_TOUCHES touches (rolled up into
// touch_daily as the track path would) and a tenth as many paid orders
// attributed under all five models (order_attributions, per-model rows,
// attribution_daily as AttributeOrder would write them) — then times the
// report of the last 30 days for every dimension, under the default model
// (last touch) and linear.
//
// YUTANG_BENCH_DB names a database to keep the data in (the 10M quarter
// takes some 50 minutes to generate and fold): the data is generated only
// when it has no touches yet, and a later run reuses it, migrating it
// first and folding what has closed since.
func BenchmarkAttributionReports(b *testing.B) {
	ctx := context.Background()
	var a *app
	if u := os.Getenv("YUTANG_BENCH_DB"); u != "" {
		a = benchOpen(b, testConfig(b, map[string]string{"DATABASE_URL": u}))
		var some bool
		if err := a.db.Get(&some, `SELECT EXISTS (SELECT 1 FROM touch_daily)`); err != nil {
			b.Fatal(err)
		}
		if !some {
			genReportData(b, a)
		}
	} else {
		a, _ = benchApp(b)
		genReportData(b, a)
	}
	closeStart := time.Now()
	closed, err := storage.New(a.db).Attribution().CloseMonths(ctx, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("closed months %v in %s", closed, time.Since(closeStart).Round(time.Millisecond))
	closeStart = time.Now()
	days, err := storage.New(a.db).Attribution().CloseDays(ctx, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("closed %d days in %s", days, time.Since(closeStart).Round(time.Millisecond))
	benchReports(b, a)
}

// genReportData fills a's database with the benchmark's quarter of data.
func genReportData(b *testing.B, a *app) {
	ctx := context.Background()
	n := benchSize()
	orders := max(n/10, 10)
	visitors := max(n/10, 10)
	t0 := time.Now()
	gen := []string{
		// FKs to orders dropped: the orders themselves are not generated.
		`ALTER TABLE order_attributions DROP CONSTRAINT order_attributions_order_id_fkey`,
		`INSERT INTO shoppers (openid) SELECT 'bench-' || g FROM generate_series(1, $1) g`,
		`INSERT INTO touchpoints (kind, post_kind, name) SELECT 'post', 'moments', 'post ' || g FROM generate_series(1, 1000) g`,
		`INSERT INTO touchpoints (kind, shopper_id, name) SELECT 'koc', g, 'koc ' || g FROM generate_series(1, greatest($1 / 20, 10)) g`,
		`INSERT INTO touchpoints (kind, opengid) SELECT 'group', 'g' || g FROM generate_series(1, greatest($1 / 40, 10)) g`,
		`INSERT INTO stores (code, name) SELECT 'BS' || g, 'store ' || g FROM generate_series(1, 50) g`,
		`INSERT INTO touchpoints (kind, store_id, name) SELECT 'store', id, name FROM stores`,
		`ANALYZE touchpoints`,
	}
	for _, q := range gen {
		var err error
		if bytes.Contains([]byte(q), []byte("$1")) {
			_, err = a.db.ExecContext(ctx, q, visitors)
		} else {
			_, err = a.db.ExecContext(ctx, q)
		}
		if err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	// Touches: each touch lands on a post, a KOC and (half the time) a
	// group, on one of the last 90 days; visitors touch several times a day.
	touchSQL := `
INSERT INTO touch_daily (kind, day, touchpoint_id, visitor, touches)
SELECT tp.kind, x.day, tp.id, x.visitor, count(*)
FROM (SELECT (current_date - (g % 90)::int) AS day, 's:' || (1 + (g * 7919) % $2) AS visitor, g FROM generate_series(1::bigint, $1) g) x
JOIN LATERAL (SELECT id, kind FROM touchpoints WHERE kind = 'post' AND id = (SELECT min(id) FROM touchpoints WHERE kind = 'post') + x.g % 1000
              UNION ALL SELECT t.id, t.kind FROM touchpoints t WHERE t.kind = 'koc' AND t.shopper_id = 1 + (x.g * 31) % greatest($2 / 20, 10)
              UNION ALL SELECT t.id, t.kind FROM touchpoints t WHERE x.g % 2 = 0 AND t.opengid = 'g' || (1 + (x.g * 17) % greatest($2 / 40, 10))) tp ON true
GROUP BY 1, 2, 3, 4`
	if _, err := a.db.ExecContext(ctx, touchSQL, n, visitors); err != nil {
		b.Fatalf("touches: %v", err)
	}
	orderSQL := []string{`
INSERT INTO order_attributions (order_id, shopper_id, default_model, placed_at, paid_at, day, paid_fen, new_customer, in_store, attributed_at)
SELECT g, 1 + (g * 7919) % $2, 'last_touch', now(), now(), (current_date - (g % 90)::int), 1000 + g % 50000, g % 3 = 0, g % 20 = 0, now()
FROM generate_series(1::bigint, $1) g`, `
INSERT INTO order_attribution_models (order_id, model, direct, explanation, credits)
SELECT o.order_id, m, o.order_id % 10 = 0, '{}', '[]' FROM order_attributions o,
       unnest(ARRAY['last_touch', 'first_touch', 'linear', 'time_decay', 'position_based']) m`, `
INSERT INTO attribution_daily AS d (model, kind, day, touchpoint_id, shopper_id, orders, new_customer_orders, credited_fen, refunded_fen)
SELECT m.model, tp.kind, o.day, tp.id, o.shopper_id, 1, o.new_customer::int,
       CASE WHEN m.model IN ('last_touch', 'first_touch') THEN o.paid_fen ELSE o.paid_fen / 2 END, 0
FROM order_attributions o
JOIN order_attribution_models m ON m.order_id = o.order_id AND NOT m.direct AND o.order_id <= $1
JOIN LATERAL (SELECT id, kind FROM touchpoints WHERE kind = 'post' AND id = (SELECT min(id) FROM touchpoints WHERE kind = 'post') + (o.order_id + length(m.model)) % 1000
              UNION ALL SELECT t.id, t.kind FROM touchpoints t WHERE t.kind = 'koc' AND t.shopper_id = 1 + (o.order_id * 31 + length(m.model)) % greatest($2 / 20, 10)
              UNION ALL SELECT t.id, t.kind FROM touchpoints t WHERE o.order_id % 2 = 0 AND t.opengid = 'g' || (1 + (o.order_id * 17) % greatest($2 / 40, 10))) tp ON true
ON CONFLICT (model, kind, day, touchpoint_id, shopper_id) DO UPDATE SET orders = d.orders + 1,
    credited_fen = d.credited_fen + EXCLUDED.credited_fen`,
		`SELECT rebuild_attribution_rollups()`,
		`VACUUM ANALYZE touch_daily`, `VACUUM ANALYZE attribution_daily`, `VACUUM ANALYZE order_attributions`, `VACUUM ANALYZE order_attribution_models`,
		`VACUUM ANALYZE touch_tp_daily`, `VACUUM ANALYZE touch_visitor_last`, `VACUUM ANALYZE attribution_tp_daily`,
		`VACUUM ANALYZE attribution_buyer_last`, `VACUUM ANALYZE attribution_day_totals`}
	for _, q := range orderSQL {
		var err error
		if bytes.Contains([]byte(q), []byte("$2")) {
			_, err = a.db.ExecContext(ctx, q, orders, visitors)
		} else {
			_, err = a.db.ExecContext(ctx, q)
		}
		if err != nil {
			b.Fatalf("orders: %v", err)
		}
	}
	var rows struct {
		T  int64 `db:"t"`
		A  int64 `db:"a"`
		TT int64 `db:"tt"`
		AT int64 `db:"at"`
	}
	_ = a.db.Get(&rows, `SELECT (SELECT count(*) FROM touch_daily) AS t, (SELECT count(*) FROM attribution_daily) AS a,
       (SELECT count(*) FROM touch_tp_daily) AS tt, (SELECT count(*) FROM attribution_tp_daily) AS at`)
	b.Logf("generated %d touches (%d touch_daily, %d touch_tp_daily rows), %d orders (%d attribution_daily, %d attribution_tp_daily rows) in %s",
		n, rows.T, rows.TT, orders, rows.A, rows.AT, time.Since(t0).Round(time.Second))
}

// benchReports times every dimension's report over the benchmark's periods.
func benchReports(b *testing.B, a *app) {
	ctx := context.Background()
	svc := a.svc.Attribution
	today := attribution.Day(time.Now())
	periods := []struct {
		name     string
		from, to time.Time
	}{
		{"last30", time.Time{}, time.Time{}}, // the default: the last 30 days through today (rollup path)
		{"month", time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, domain.Shanghai), today},
		// Last month: its snapshot from the 2nd of this month, 00:10, on;
		// before, it is not closed yet (gap rollups, and its last days per
		// visitor).
		{"lastmonth", time.Date(today.Year(), today.Month()-1, 1, 0, 0, 0, 0, domain.Shanghai),
			time.Date(today.Year(), today.Month(), 0, 0, 0, 0, 0, domain.Shanghai)},
		{"month2", time.Date(today.Year(), today.Month()-2, 1, 0, 0, 0, 0, domain.Shanghai),
			time.Date(today.Year(), today.Month()-1, 0, 0, 0, 0, 0, domain.Shanghai)}, // a closed month: its snapshot
		{"closed30", today.AddDate(0, 0, -60), today.AddDate(0, 0, -31)}, // ended a month ago: the gap rollups
		{"last7", today.AddDate(0, 0, -7), today.AddDate(0, 0, -1)},      // ended yesterday: gaps and the last day (two before 00:10) per visitor
	}
	b.ResetTimer()
	for range b.N {
		for _, p := range periods {
			for _, m := range []attribution.Model{"", attribution.ModelLinear} {
				for _, d := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup, attribution.KindStore, attribution.KindClerk} {
					start := time.Now()
					r, err := svc.Report(ctx, attribution.ReportQuery{Dimension: d, Model: m, From: p.from, To: p.to})
					if err != nil {
						b.Fatal(err)
					}
					el := time.Since(start)
					name := string(m)
					if name == "" {
						name = "default"
					}
					b.ReportMetric(float64(el.Microseconds())/1000, fmt.Sprintf("ms/%s/%s/%s", p.name, d, name))
					if r.Credited+r.Direct != r.Paid {
						b.Fatalf("%s: credited %d + direct %d != paid %d", d, r.Credited, r.Direct, r.Paid)
					}
				}
			}
		}
		// One touchpoint's daily series, for the busiest KOC.
		var koc int64
		if err := a.db.Get(&koc, `SELECT touchpoint_id FROM attribution_tp_daily WHERE kind = 'koc' GROUP BY 1 ORDER BY sum(orders) DESC LIMIT 1`); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := svc.Daily(ctx, attribution.ReportQuery{Dimension: attribution.KindKOC}, koc); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms/daily/koc")
	}
}
