package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/catalog"
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

	// Audit: 60 entries over three entities and four ids.
	for i := range 60 {
		_, err := db.Exec(`INSERT INTO audit_log (staff_name, action, entity, entity_id) VALUES ('ops', 'x.update', $1, $2)`,
			[]string{"product", "coupon", "koc"}[i%3], fmt.Sprint(i%4))
		must(t, err)
	}
	for _, entity := range []string{"", "product", "coupon", "nothing"} {
		for _, id := range []string{"", "1", "3", "9"} {
			sameIDs(t, db, fmt.Sprintf("audit %q %q", entity, id),
				func(p domain.Page) ([]domain.AuditView, string, error) { return st.Audit().List(ctx, entity, id, p) },
				func(v domain.AuditView) int64 { return v.ID },
				`SELECT id FROM audit_log WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR entity_id = $2) ORDER BY id DESC`, entity, id)
		}
	}

	// Touchpoints of every kind, and KOCs in every status.
	statuses := []string{"pending", "active", "rejected", "suspended"}
	var level int64
	must(t, db.Get(&level, `INSERT INTO koc_levels (name, rate_bp, created_at, updated_at) VALUES ('L', 500, now(), now()) RETURNING id`))
	for i := range 24 {
		var shopper, tp int64
		must(t, db.Get(&shopper, `INSERT INTO shoppers (openid) VALUES ($1) RETURNING id`, fmt.Sprint("k", i)))
		must(t, db.Get(&tp, `INSERT INTO touchpoints (kind, shopper_id, name) VALUES ('koc', $1, $2) RETURNING id`, shopper, fmt.Sprint("koc", i)))
		_, err := db.Exec(`INSERT INTO kocs (shopper_id, touchpoint_id, status, level_id, depth, applied_at, updated_at)
VALUES ($1, $2, $3, $4, 1, now(), now())`, shopper, tp, statuses[(i*5)%4], level)
		must(t, err)
		if i%3 == 0 {
			_, err := db.Exec(`INSERT INTO touchpoints (kind, post_kind, name) VALUES ('post', 'moments', $1)`, fmt.Sprint("post", i))
			must(t, err)
		}
	}
	for _, kind := range []attribution.TouchpointKind{"", attribution.KindKOC, attribution.KindPost, attribution.KindGroup} {
		sameIDs(t, db, fmt.Sprintf("touchpoints %q", kind),
			func(p domain.Page) ([]attribution.TouchpointInfo, string, error) {
				return st.Attribution().ListTouchpoints(ctx, kind, p)
			},
			func(tp attribution.TouchpointInfo) int64 { return tp.ID },
			`SELECT id FROM touchpoints WHERE ($1 = '' OR kind = $1) ORDER BY id DESC`, string(kind))
	}
	for _, status := range append([]string{""}, statuses...) {
		n := sameIDs(t, db, fmt.Sprintf("KOCs %q", status),
			func(p domain.Page) ([]commission.KOC, string, error) {
				return st.KOCs().KOCs(ctx, commission.Status(status), p)
			},
			func(k commission.KOC) int64 { return k.ShopperID },
			`SELECT shopper_id FROM kocs WHERE ($1 = '' OR status = $1) ORDER BY shopper_id DESC`, status)
		if status != "" && n == 0 {
			t.Fatalf("no KOC is %s: the fixture does not exercise the filter", status)
		}
	}

	// Redeem codes: three batches of two templates, generated one after
	// another.
	var tpls []int64
	for i := range 2 {
		var id int64
		must(t, db.Get(&id, `INSERT INTO coupon_templates (name, kind, amount_off_fen, total, valid_days) VALUES ($1, 'no_threshold', 100, 1000, 30) RETURNING id`,
			fmt.Sprint("tpl", i)))
		tpls = append(tpls, id)
	}
	for b := 1; b <= 3; b++ {
		for _, tpl := range tpls {
			for i := range 5 + b {
				_, err := db.Exec(`INSERT INTO coupon_codes (template_id, batch, code) VALUES ($1, $2, $3)`,
					tpl, b, fmt.Sprintf("CODE%c%c%cXYZAB", 'A'+i, 'A'+b, 'A'+tpl%20))
				must(t, err)
			}
		}
	}
	for _, tpl := range tpls {
		for _, batch := range []int{0, 1, 2, 3, 4} {
			n := sameIDs(t, db, fmt.Sprintf("codes of template %d batch %d", tpl, batch),
				func(p domain.Page) ([]coupon.Code, string, error) { return st.Coupons().Codes(ctx, tpl, batch, p) },
				func(c coupon.Code) int64 { return c.ID },
				`SELECT id FROM coupon_codes WHERE template_id = $1 AND ($2 = 0 OR batch = $2) ORDER BY id`, tpl, batch)
			if batch != 4 && n == 0 {
				t.Fatalf("template %d has no codes in batch %d: the fixture does not exercise the filter", tpl, batch)
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
		n := sameIDs(t, db, fmt.Sprintf("ledger of SKU %d", sku),
			func(p domain.Page) ([]catalog.LedgerEntry, string, error) {
				return storage.New(db).Catalog().Ledger(ctx, sku, p)
			},
			func(e catalog.LedgerEntry) int64 { return e.ID },
			`SELECT id FROM stock_ledger WHERE sku_id = $1 ORDER BY id DESC`, sku)
		if sku != 999999 && n < 8 {
			t.Fatalf("SKU %d has %d ledger entries: the fixture does not exercise the pages", sku, n)
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
	campaignStatuses := []string{"draft", "scheduled", "running", "paused", "ended"}
	tplStatuses := []string{"draft", "active", "paused", "ended"}
	for i := range 23 {
		_, err := db.Exec(`INSERT INTO campaigns (kind, name, status, starts_at, ends_at, created_at, updated_at)
VALUES ('flash_sale', $1, $2, now(), now() + interval '1 day', now(), now())`, fmt.Sprint("c", i), campaignStatuses[(i*3)%5])
		must(t, err)
		_, err = db.Exec(`INSERT INTO coupon_templates (name, kind, amount_off_fen, total, valid_days, status) VALUES ($1, 'no_threshold', 100, 10, 30, $2)`,
			fmt.Sprint("t", i), tplStatuses[(i*3)%4])
		must(t, err)
	}
	for _, status := range append([]string{""}, campaignStatuses...) {
		if sameIDs(t, db, fmt.Sprintf("campaigns %q", status),
			func(p domain.Page) ([]campaign.Campaign, string, error) {
				return st.Campaigns().List(ctx, campaign.Status(status), p)
			},
			func(c campaign.Campaign) int64 { return c.ID },
			`SELECT id FROM campaigns WHERE ($1 = '' OR status = $1) ORDER BY id DESC`, status) == 0 {
			t.Fatalf("no campaign is %q: the fixture does not exercise the filter", status)
		}
	}
	for _, status := range append([]string{""}, tplStatuses...) {
		if sameIDs(t, db, fmt.Sprintf("coupon templates %q", status),
			func(p domain.Page) ([]coupon.Template, string, error) {
				return st.Coupons().Templates(ctx, coupon.Status(status), p)
			},
			func(tpl coupon.Template) int64 { return tpl.ID },
			`SELECT id FROM coupon_templates WHERE ($1 = '' OR status = $1) ORDER BY id DESC`, status) == 0 {
			t.Fatalf("no coupon template is %q: the fixture does not exercise the filter", status)
		}
	}

	// Reconciliation: a run a day over 20 days, two discrepancies of each
	// of three kinds on every other day, every third one resolved.
	runStatuses := []string{"succeeded", "failed", "running"}
	kinds := []string{"unknown_trade", "amount_mismatch", "not_applied"}
	for d := range 20 {
		var run int64
		status := runStatuses[d%3]
		must(t, db.Get(&run, `INSERT INTO reconciliation_runs (bill_date, status, started_by, started_at, lease_until)
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
				must(t, err)
			}
		}
	}
	nonEmpty := 0
	for _, from := range []string{"", "2026-11-05"} {
		for _, to := range []string{"", "2026-11-12", "2026-10-01"} {
			for _, status := range append([]string{""}, runStatuses...) {
				if sameIDs(t, db, fmt.Sprintf("runs %q..%q %q", from, to, status),
					func(p domain.Page) ([]reconcile.Run, string, error) {
						return st.Reconciliation().ListRuns(ctx, reconcile.RunFilter{From: from, To: to, Status: reconcile.RunStatus(status), Page: p})
					},
					func(r reconcile.Run) int64 { return r.ID },
					`SELECT id FROM reconciliation_runs
WHERE ($1 = '' OR bill_date >= $1::date) AND ($2 = '' OR bill_date <= $2::date) AND ($3 = '' OR status = $3) ORDER BY id DESC`, from, to, status) > 0 {
					nonEmpty++
				}
			}
		}
	}
	for _, day := range []string{"", "2026-11-03", "2026-11-04"} {
		for _, kind := range append([]string{""}, kinds...) {
			for _, status := range []string{"", "open", "resolved"} {
				if sameIDs(t, db, fmt.Sprintf("discrepancies %q %q %q", day, kind, status),
					func(p domain.Page) ([]reconcile.Discrepancy, string, error) {
						return st.Reconciliation().ListDiscrepancies(ctx, reconcile.DiscrepancyFilter{BillDate: day, Kind: reconcile.Kind(kind), Status: status, Page: p})
					},
					func(d reconcile.Discrepancy) int64 { return d.ID },
					`SELECT id FROM reconciliation_discrepancies
WHERE ($1 = '' OR bill_date = $1::date) AND ($2 = '' OR kind = $2) AND ($3 = '' OR ($3 = 'open') = (resolved_at IS NULL)) ORDER BY id DESC`, day, kind, status) > 0 {
					nonEmpty++
				}
			}
		}
	}
	if nonEmpty < 30 {
		t.Fatalf("only %d reconciliation filter combinations matched: the fixture does not exercise the filters", nonEmpty)
	}
}

// sameIDs pages through list three at a time and fails the test unless the
// ids of what it lists (id), in order, are those wantSQL selects; it
// answers how many there are.
func sameIDs[T any](t *testing.T, db *sqlx.DB, what string, list func(domain.Page) ([]T, string, error), id func(T) int64, wantSQL string, args ...any) int {
	t.Helper()
	var want []int64
	must(t, db.Select(&want, wantSQL, args...))
	got := everyPage(t, 3, func(p domain.Page) ([]int64, string, error) {
		xs, next, err := list(p)
		ids := make([]int64, len(xs))
		for i, x := range xs {
			ids[i] = id(x)
		}
		return ids, next, err
	})
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	return len(want)
}
