package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/reconcile"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// The audit log, touchpoint, KOC and redeem code lists put only the filters given in
// their statements; page after page they return what the catch-all
// statements they replaced ("($2 = <empty> OR entity = $2) …") returned, for
// every filter and none.
func TestListFiltersSameAsCatchAll(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	st := storage.New(db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Audit: 60 entries over three entities and four ids.
	for i := range 60 {
		_, err := db.Exec(`INSERT INTO audit_log (staff_name, action, entity, entity_id) VALUES ('ops', 'x.update', $1, $2)`,
			[]string{"product", "coupon", "koc"}[i%3], fmt.Sprint(i%4))
		must(err)
	}
	for _, entity := range []string{"", "product", "coupon", "nothing"} {
		for _, id := range []string{"", "1", "3", "9"} {
			var want []int64
			must(db.Select(&want, `SELECT id FROM audit_log WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR entity_id = $2) ORDER BY id DESC`, entity, id))
			got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
				vs, next, err := st.Audit().List(ctx, entity, id, p)
				ids := make([]int64, len(vs))
				for i, v := range vs {
					ids[i] = v.ID
				}
				return ids, next, err
			})
			if !slices.Equal(got, want) {
				t.Fatalf("audit %q %q: got %v, want %v", entity, id, got, want)
			}
		}
	}

	// Touchpoints of every kind, and KOCs in every status.
	statuses := []string{"pending", "active", "rejected", "suspended"}
	var level int64
	must(db.Get(&level, `INSERT INTO koc_levels (name, rate_bp, created_at, updated_at) VALUES ('L', 500, now(), now()) RETURNING id`))
	for i := range 24 {
		var shopper, tp int64
		must(db.Get(&shopper, `INSERT INTO shoppers (openid) VALUES ($1) RETURNING id`, fmt.Sprint("k", i)))
		must(db.Get(&tp, `INSERT INTO touchpoints (kind, shopper_id, name) VALUES ('koc', $1, $2) RETURNING id`, shopper, fmt.Sprint("koc", i)))
		_, err := db.Exec(`INSERT INTO kocs (shopper_id, touchpoint_id, status, level_id, depth, applied_at, updated_at)
VALUES ($1, $2, $3, $4, 1, now(), now())`, shopper, tp, statuses[(i*5)%4], level)
		must(err)
		if i%3 == 0 {
			_, err := db.Exec(`INSERT INTO touchpoints (kind, post_kind, name) VALUES ('post', 'moments', $1)`, fmt.Sprint("post", i))
			must(err)
		}
	}
	for _, kind := range []attribution.TouchpointKind{"", attribution.KindKOC, attribution.KindPost, attribution.KindGroup} {
		var want []int64
		must(db.Select(&want, `SELECT id FROM touchpoints WHERE ($1 = '' OR kind = $1) ORDER BY id DESC`, string(kind)))
		got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
			tps, next, err := st.Attribution().ListTouchpoints(ctx, kind, p)
			ids := make([]int64, len(tps))
			for i, tp := range tps {
				ids[i] = tp.ID
			}
			return ids, next, err
		})
		if !slices.Equal(got, want) {
			t.Fatalf("touchpoints %q: got %v, want %v", kind, got, want)
		}
	}
	for _, status := range append([]string{""}, statuses...) {
		var want []int64
		must(db.Select(&want, `SELECT shopper_id FROM kocs WHERE ($1 = '' OR status = $1) ORDER BY shopper_id DESC`, status))
		if status != "" && len(want) == 0 {
			t.Fatalf("no KOC is %s: the fixture does not exercise the filter", status)
		}
		got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
			ks, next, err := st.KOCs().KOCs(ctx, commission.Status(status), p)
			ids := make([]int64, len(ks))
			for i, k := range ks {
				ids[i] = k.ShopperID
			}
			return ids, next, err
		})
		if !slices.Equal(got, want) {
			t.Fatalf("KOCs %q: got %v, want %v", status, got, want)
		}
	}

	// Redeem codes: three batches of two templates, generated one after
	// another.
	var tpls []int64
	for i := range 2 {
		var id int64
		must(db.Get(&id, `INSERT INTO coupon_templates (name, kind, amount_off_fen, total, valid_days) VALUES ($1, 'no_threshold', 100, 1000, 30) RETURNING id`,
			fmt.Sprint("tpl", i)))
		tpls = append(tpls, id)
	}
	for b := 1; b <= 3; b++ {
		for _, tpl := range tpls {
			for i := range 5 + b {
				_, err := db.Exec(`INSERT INTO coupon_codes (template_id, batch, code) VALUES ($1, $2, $3)`,
					tpl, b, fmt.Sprintf("CODE%c%c%cXYZAB", 'A'+i, 'A'+b, 'A'+tpl%20))
				must(err)
			}
		}
	}
	for _, tpl := range tpls {
		for _, batch := range []int{0, 1, 2, 3, 4} {
			var want []int64
			must(db.Select(&want, `SELECT id FROM coupon_codes WHERE template_id = $1 AND ($2 = 0 OR batch = $2) ORDER BY id`, tpl, batch))
			got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
				cs, next, err := st.Coupons().Codes(ctx, tpl, batch, p)
				ids := make([]int64, len(cs))
				for i, c := range cs {
					ids[i] = c.ID
				}
				return ids, next, err
			})
			if !slices.Equal(got, want) || (batch != 4 && len(want) == 0) {
				t.Fatalf("codes of template %d batch %d: got %v, want %v", tpl, batch, got, want)
			}
		}
	}
}

// A SKU's stock ledger, page after page, is its entries newest first, with
// other SKUs' entries interleaved and the cursor a row comparison.
func TestStockLedgerPagesOfOneSKU(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	f := newOrderFixture(t, db, 3, 10, 1)
	for i := range 40 {
		if _, err := db.Exec(`INSERT INTO stock_ledger (sku_id, kind, delta, reserved_delta, sold_delta, ref, actor, note, at)
VALUES ($1, 'receive', 0, 0, 0, '', 'test', '', now())`, f.skus[(i*7)%3]); err != nil {
			t.Fatal(err)
		}
	}
	for _, sku := range append(f.skus, 999999) {
		var want []int64
		if err := db.Select(&want, `SELECT id FROM stock_ledger WHERE sku_id = $1 ORDER BY id DESC`, sku); err != nil {
			t.Fatal(err)
		}
		got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
			es, next, err := storage.New(db).Catalog().Ledger(ctx, sku, p)
			ids := make([]int64, len(es))
			for i, e := range es {
				ids[i] = e.ID
			}
			return ids, next, err
		})
		if !slices.Equal(got, want) || (sku != 999999 && len(want) < 8) {
			t.Fatalf("ledger of SKU %d: got %v, want %v", sku, got, want)
		}
	}
}

// The campaign, coupon template and reconciliation lists, likewise: only
// the filters given are in their statements, and page after page they
// return what the catch-all statements they replaced returned.
func TestSmallListFiltersSameAsCatchAll(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	st := storage.New(db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := func(n int, id func(i int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}

	campaignStatuses := []string{"draft", "scheduled", "running", "paused", "ended"}
	tplStatuses := []string{"draft", "active", "paused", "ended"}
	for i := range 23 {
		_, err := db.Exec(`INSERT INTO campaigns (kind, name, status, starts_at, ends_at, created_at, updated_at)
VALUES ('flash_sale', $1, $2, now(), now() + interval '1 day', now(), now())`, fmt.Sprint("c", i), campaignStatuses[(i*3)%5])
		must(err)
		_, err = db.Exec(`INSERT INTO coupon_templates (name, kind, amount_off_fen, total, valid_days, status) VALUES ($1, 'no_threshold', 100, 10, 30, $2)`,
			fmt.Sprint("t", i), tplStatuses[(i*3)%4])
		must(err)
	}
	for _, status := range append([]string{""}, campaignStatuses...) {
		var want []int64
		must(db.Select(&want, `SELECT id FROM campaigns WHERE ($1 = '' OR status = $1) ORDER BY id DESC`, status))
		got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
			cs, next, err := st.Campaigns().List(ctx, campaign.Status(status), p)
			return ids(len(cs), func(i int) int64 { return cs[i].ID }), next, err
		})
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Fatalf("campaigns %q: got %v, want %v", status, got, want)
		}
	}
	for _, status := range append([]string{""}, tplStatuses...) {
		var want []int64
		must(db.Select(&want, `SELECT id FROM coupon_templates WHERE ($1 = '' OR status = $1) ORDER BY id DESC`, status))
		got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
			ts, next, err := st.Coupons().Templates(ctx, coupon.Status(status), p)
			return ids(len(ts), func(i int) int64 { return ts[i].ID }), next, err
		})
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Fatalf("coupon templates %q: got %v, want %v", status, got, want)
		}
	}

	// Reconciliation: a run a day over 20 days, two discrepancies of each
	// of three kinds on every other day, every third one resolved.
	runStatuses := []string{"succeeded", "failed", "running"}
	kinds := []string{"unknown_trade", "amount_mismatch", "not_applied"}
	for d := range 20 {
		var run int64
		status := runStatuses[d%3]
		must(db.Get(&run, `INSERT INTO reconciliation_runs (bill_date, status, started_by, started_at, lease_until)
VALUES (date '2026-11-01' + $1::int, $2, 'ops', now(), CASE WHEN $2 = 'running' THEN now() END) RETURNING id`, d, status))
		if d%2 == 1 {
			continue
		}
		for k, kind := range kinds {
			for j := range 2 {
				resolved := (d+k+j)%3 == 0
				_, err := db.Exec(`INSERT INTO reconciliation_discrepancies (run_id, bill_date, kind, out_trade_no, created_at, resolved_at, resolution_note)
VALUES ($1, date '2026-11-01' + $2::int, $3, $4, now(), CASE WHEN $5 THEN now() END, CASE WHEN $5 THEN 'checked' ELSE '' END)`,
					run, d, kind, fmt.Sprint("T", j), resolved)
				must(err)
			}
		}
	}
	nonEmpty := 0
	for _, from := range []string{"", "2026-11-05"} {
		for _, to := range []string{"", "2026-11-12", "2026-10-01"} {
			for _, status := range append([]string{""}, runStatuses...) {
				var want []int64
				must(db.Select(&want, `SELECT id FROM reconciliation_runs
WHERE ($1 = '' OR bill_date >= $1::date) AND ($2 = '' OR bill_date <= $2::date) AND ($3 = '' OR status = $3) ORDER BY id DESC`, from, to, status))
				got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
					rs, next, err := st.Reconciliation().ListRuns(ctx, reconcile.RunFilter{From: from, To: to, Status: reconcile.RunStatus(status), Page: p})
					return ids(len(rs), func(i int) int64 { return rs[i].ID }), next, err
				})
				if !slices.Equal(got, want) {
					t.Fatalf("runs %q..%q %q: got %v, want %v", from, to, status, got, want)
				}
				if len(want) > 0 {
					nonEmpty++
				}
			}
		}
	}
	for _, day := range []string{"", "2026-11-03", "2026-11-04"} {
		for _, kind := range append([]string{""}, kinds...) {
			for _, status := range []string{"", "open", "resolved"} {
				var want []int64
				must(db.Select(&want, `SELECT id FROM reconciliation_discrepancies
WHERE ($1 = '' OR bill_date = $1::date) AND ($2 = '' OR kind = $2) AND ($3 = '' OR ($3 = 'open') = (resolved_at IS NULL)) ORDER BY id DESC`, day, kind, status))
				got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
					ds, next, err := st.Reconciliation().ListDiscrepancies(ctx, reconcile.DiscrepancyFilter{BillDate: day, Kind: reconcile.Kind(kind), Status: status, Page: p})
					return ids(len(ds), func(i int) int64 { return ds[i].ID }), next, err
				})
				if !slices.Equal(got, want) {
					t.Fatalf("discrepancies %q %q %q: got %v, want %v", day, kind, status, got, want)
				}
				if len(want) > 0 {
					nonEmpty++
				}
			}
		}
	}
	if nonEmpty < 30 {
		t.Fatalf("only %d reconciliation filter combinations matched: the fixture does not exercise the filters", nonEmpty)
	}
}
