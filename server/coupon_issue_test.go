package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// Redeem codes: a batch is generated and exported as CSV; a code works
// once; wrong guesses are throttled.
func TestCouponRedeemCodes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	merch := ta.staff(identity.RoleMerchandiser, "")
	tpl := ta.template(merch, map[string]any{"name": "code", "kind": "no_threshold", "amount_off_fen": 100, "total": 10, "per_shopper": 5})
	path := "/api/v1/admin/coupon-templates/" + itoa(tpl) + "/codes"
	ta.must(201, req{Method: "POST", Path: path, Token: merch, Body: map[string]any{"count": 5}})
	r := ta.must(200, req{Method: "GET", Path: path + "?batch=1", Token: merch, Header: map[string]string{"Accept": "text/csv"}})
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "code,batch") {
		t.Fatalf("csv: %q", r.Body)
	}
	code := strings.Split(lines[1], ",")[0]
	alice, _ := ta.shopper("code-alice")
	bob, _ := ta.shopper("code-bob")
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/coupons/redeem", Token: alice, Body: map[string]any{"code": strings.ToLower(code)}})
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/coupons/redeem", Token: bob, Body: map[string]any{"code": code}}); r.Status != 404 || r.ErrCode(t) != "coupon_code_invalid" {
		t.Fatalf("a used code: %d %s", r.Status, r.Body)
	}
	if got := ta.myCoupons(alice, "usable"); len(got) != 1 {
		t.Fatalf("alice holds %v", got)
	}
	// Bob has used one of his ten attempts; nine more wrong guesses, then throttled.
	for i := range 9 {
		if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/coupons/redeem", Token: bob, Body: map[string]any{"code": "AAAAAAAAAAA" + string(rune('A'+i))}}); r.Status != 404 {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
		}
	}
	second := strings.Split(lines[2], ",")[0]
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/coupons/redeem", Token: bob, Body: map[string]any{"code": second}}); r.Status != 429 {
		t.Fatalf("after ten wrong guesses: %d %s", r.Status, r.Body)
	}
	ta.checkInvariants()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newTestAppOn starts a second instance of the program on ta's database
// (another process of the same deployment).
func newTestAppOn(t *testing.T, ta *testApp) *testApp {
	t.Helper()
	a, err := openApp(context.Background(), ta.app.cfg, testLogWriter{t})
	if err != nil {
		t.Fatalf("open second app: %v", err)
	}
	t.Cleanup(a.close)
	return &testApp{t: t, app: a}
}

// A bulk issue runs as a job whose progress the admin API reports; a
// worker that dies mid-run (its batch rolled back, its lease left behind)
// is replaced by another instance, and no shopper gets two coupons.
func TestCouponBulkIssueProgressAndRestart(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ops := ta.staff(identity.RoleOperator, "")
	merch := ta.staff(identity.RoleMerchandiser, "")
	tpl := ta.template(merch, map[string]any{"name": "bulk", "kind": "no_threshold", "amount_off_fen": 100, "total": 45})
	ids := ta.shoppers(50)
	var job jobAnswer
	ta.must(202, req{Method: "POST", Path: "/api/v1/admin/coupon-templates/" + itoa(tpl) + "/bulk-issue", Token: ops,
		Body: map[string]any{"shopper_ids": append(ids, 999999999)}}).Decode(t, &job)
	if job.Total != 50 || job.State != "queued" {
		t.Fatalf("job: %+v", job)
	}
	ctx := context.Background()
	svc := ta.app.svc.Coupons
	// One batch of 20, then the worker "dies" holding the lease.
	if n, err := svc.WorkJobs(ctx, 20, 1); err != nil || n != 20 {
		t.Fatalf("first batch: %d %v", n, err)
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/jobs/" + itoa(job.ID), Token: ops}).Decode(t, &job)
	if job.State != "running" || job.Done != 20 || job.Failed != 0 {
		t.Fatalf("progress: %+v", job)
	}
	// A batch that crashes half-way leaves nothing behind.
	tx, err := ta.app.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO coupons (template_id, shopper_id, valid_from, valid_until, source, source_ref, issued_at)
SELECT $1, shopper_id, now(), now() + interval '1 day', 'bulk', $2, now() FROM job_targets WHERE job_id = $2 AND state = 'pending' LIMIT 5`, tpl, job.ID); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	// While the lease holds, nobody else takes the job.
	if n, err := svc.WorkJobs(ctx, 20, 10); err != nil || n != 0 {
		t.Fatalf("leased job taken: %d %v", n, err)
	}
	// Another instance, after the lease ran out, finishes it.
	other := newTestAppOn(t, ta)
	later := *other.app.svc.Coupons
	later.Now = func() time.Time { return time.Now().Add(time.Minute) }
	if n, err := later.WorkJobs(ctx, 20, 10); err != nil || n != 30 {
		t.Fatalf("resumed: %d %v", n, err)
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/jobs/" + itoa(job.ID), Token: ops}).Decode(t, &job)
	if job.State != "done" || job.Done != 45 || job.Failed != 5 || job.FinishedAt == "" {
		t.Fatalf("finished: %+v", job)
	}
	var dup int
	if err := ta.app.db.Get(&dup, `SELECT count(*) FROM (SELECT shopper_id FROM coupons WHERE template_id = $1 GROUP BY 1 HAVING count(*) > 1) x`, tpl); err != nil || dup != 0 {
		t.Fatalf("%d shoppers got two (%v)", dup, err)
	}
	ta.checkInvariants()
}

type jobAnswer struct {
	ID         int64  `json:"id"`
	State      string `json:"state"`
	Total      int    `json:"total"`
	Done       int    `json:"done"`
	Failed     int    `json:"failed"`
	FinishedAt string `json:"finished_at"`
}

// A clerk hands out coupons from their store's budget until it is spent.
func TestClerkCouponGrants(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ops := ta.staff(identity.RoleOperator, "")
	merch := ta.staff(identity.RoleMerchandiser, "")
	clerk := ta.staff(identity.RoleClerk, "GRANT-1")
	var store int64
	if err := ta.app.db.Get(&store, `SELECT id FROM stores WHERE code = 'GRANT-1'`); err != nil {
		t.Fatal(err)
	}
	tpl := ta.template(merch, map[string]any{"name": "gift", "kind": "no_threshold", "amount_off_fen": 100, "total": 100})
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/coupon-budgets", Token: ops,
		Body: map[string]any{"template_id": tpl, "holder_kind": "store", "holder_id": store, "total": 2}})
	tok, sid := ta.shopper("grant-carol")
	for range 2 {
		ta.must(201, req{Method: "POST", Path: "/api/v1/clerk/coupon-grants", Token: clerk, Body: map[string]any{"template_id": tpl, "shopper_id": sid}})
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/clerk/coupon-grants", Token: clerk, Body: map[string]any{"template_id": tpl, "shopper_id": sid}}); r.Status != 409 || r.ErrCode(t) != "coupon_budget_exhausted" {
		t.Fatalf("third grant: %d %s", r.Status, r.Body)
	}
	if got := ta.myCoupons(tok, "usable"); len(got) != 2 {
		t.Fatalf("carol holds %v", got)
	}
	var by int
	if err := ta.app.db.Get(&by, `SELECT count(*) FROM coupon_grants WHERE shopper_id = $1 AND store_id = $2`, sid, store); err != nil || by != 2 {
		t.Fatalf("grants recorded: %d %v", by, err)
	}
	ta.checkInvariants()
}
