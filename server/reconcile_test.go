package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/domain/reconcile"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// reconcilerAt is the app's reconciliation with its clock at now (workers
// only; the cashier keeps the real clock).
func (pa *payApp) reconcilerAt(now time.Time) *reconcile.Service {
	r := *pa.app.svc.Reconcile
	r.Now = func() time.Time { return now }
	return &r
}

// billDay is today's Beijing date, whose bill the tests reconcile "tomorrow".
func billDay() string { return time.Now().In(domain.Shanghai).Format("2006-01-02") }

// tomorrowAt is tomorrow (Beijing) at hh:mm.
func tomorrowAt(hh, mm int) time.Time {
	n := time.Now().In(domain.Shanghai)
	return time.Date(n.Year(), n.Month(), n.Day()+1, hh, mm, 0, 0, domain.Shanghai)
}

// paidNotified places and pays an order whose notification arrives.
func (pa *payApp) paidNotified(shopper string) orderAnswer {
	pa.t.Helper()
	tok, _ := pa.shopper(shopper)
	o := pa.placeOrder(tok, pa.sku(10), 1)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	eventually(pa.t, 5*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
	return o
}

// paidLost places and pays an order whose notification is lost, and no
// query ran: WeChat Pay took the money, the mall does not know.
func (pa *payApp) paidLost(shopper string) orderAnswer {
	pa.t.Helper()
	tok, _ := pa.shopper(shopper)
	o := pa.placeOrder(tok, pa.sku(10), 1)
	pa.pay(tok, o.OrderNo)
	_ = pa.sim().InjectNotificationFault(o.OrderNo+"-1", wxpaysim.FaultDrop)
	pa.shopperPays(o.OrderNo)
	pa.waitIdle()
	if s := pa.orderStatus(o.OrderNo); s != "pending_payment" {
		pa.t.Fatalf("status %s with the notification lost", s)
	}
	return o
}

func (pa *payApp) discrepancies(date string) int {
	return pa.count(`SELECT count(*) FROM reconciliation_discrepancies WHERE bill_date = $1`, date)
}

// TestReconcileAppliesBilledPayment: the bill lists a payment whose
// notification was lost (no query ran): it is applied once, through the
// cashier's query path; a rerun changes nothing; the books hold.
func TestReconcileAppliesBilledPayment(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	ok := pa.paidNotified("bill-ok")
	lost := pa.paidLost("bill-lost")
	ctx := context.Background()
	day := billDay()
	rec := pa.reconcilerAt(tomorrowAt(11, 0))

	run, err := rec.Reconcile(ctx, day, "test")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != reconcile.RunSucceeded || run.Lines != 2 || run.Applied != 1 || run.Matched != 1 ||
		run.Discrepancies != 0 || run.Runs != 1 || run.BillDate != day {
		t.Fatalf("run %+v", run)
	}
	if s := pa.orderStatus(lost.OrderNo); s != "paid" {
		t.Fatalf("billed order is %s, want paid", s)
	}
	if n := pa.count(`SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1 AND p.source = 'query'`, lost.OrderNo); n != 1 {
		t.Fatalf("payments applied by the query path: %d", n)
	}
	if pa.orderStatus(ok.OrderNo) != "paid" || pa.payments(ok.OrderNo) != 1 {
		t.Fatal("the notified order changed")
	}

	// Again (another instance, later): nothing applied twice, nothing new.
	run, err = rec.Reconcile(ctx, day, "test")
	if err != nil {
		t.Fatal(err)
	}
	if run.Applied != 0 || run.Matched != 2 || run.Runs != 2 || run.Discrepancies != 0 {
		t.Fatalf("rerun %+v", run)
	}
	if pa.payments(lost.OrderNo) != 1 || pa.discrepancies(day) != 0 {
		t.Fatal("the rerun applied or recorded something")
	}
	pa.checkInvariants()
}

// TestReconcileDiscrepancies: an amount the bill disagrees with (paid here,
// or unpaid here: then not applied), a trade the mall never made, and a
// payment the bill lacks are recorded once each, however often the day is
// run; finance lists them and resolves one (audited).
func TestReconcileDiscrepancies(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	paid := pa.paidNotified("bill-paid-diff")
	lost := pa.paidLost("bill-lost-diff")
	missing := pa.paidNotified("bill-missing")
	sim := pa.sim()
	sim.AlterBillAmount(paid.OrderNo+"-1", paid.PayableFen+1)
	sim.AlterBillAmount(lost.OrderNo+"-1", lost.PayableFen-100)
	sim.InjectBillLine(wxpaysim.BillLine{TradeTime: time.Now(), TransactionID: "4200000000202612010000000001",
		OutTradeNo: "STRANGER0001", TradeState: "SUCCESS", Total: 4200})
	// The bill lacks a payment the mall applied.
	sim.OmitFromBill(missing.OrderNo + "-1")
	ctx := context.Background()
	day := billDay()
	rec := pa.reconcilerAt(tomorrowAt(11, 0))

	run, err := rec.Reconcile(ctx, day, "test")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != reconcile.RunSucceeded || run.Applied != 0 || run.Discrepancies != 4 {
		t.Fatalf("run %+v", run)
	}
	want := map[string]string{ // kind → out_trade_no
		"amount_mismatch/" + paid.OrderNo + "-1": "", "amount_mismatch/" + lost.OrderNo + "-1": "",
		"unknown_trade/STRANGER0001": "", "missing_in_bill/" + missing.OrderNo + "-1": "",
	}
	rows, err := pa.app.db.Query(`SELECT kind, out_trade_no, COALESCE(bill_amount_fen, -1), COALESCE(our_amount_fen, -1)
FROM reconciliation_discrepancies WHERE bill_date = $1`, day)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var kind, no string
		var billFen, ourFen int64
		if err := rows.Scan(&kind, &no, &billFen, &ourFen); err != nil {
			t.Fatal(err)
		}
		k := kind + "/" + no
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected discrepancy %s", k)
		}
		delete(want, k)
		switch no {
		case paid.OrderNo + "-1":
			if billFen != paid.PayableFen+1 || ourFen != paid.PayableFen {
				t.Errorf("%s: bill %d, ours %d", k, billFen, ourFen)
			}
		case lost.OrderNo + "-1":
			if billFen != lost.PayableFen-100 || ourFen != lost.PayableFen {
				t.Errorf("%s: bill %d, ours %d", k, billFen, ourFen)
			}
		case "STRANGER0001":
			if billFen != 4200 || ourFen != -1 {
				t.Errorf("%s: bill %d, ours %d", k, billFen, ourFen)
			}
		}
	}
	_ = rows.Close()
	if len(want) > 0 {
		t.Errorf("discrepancies not recorded: %v", want)
	}
	// Never silently changed: the mismatched unpaid order stays unpaid.
	if s := pa.orderStatus(lost.OrderNo); s != "pending_payment" || pa.payments(lost.OrderNo) != 0 {
		t.Fatalf("a payment billed with another amount was applied: %s", s)
	}
	if pa.count(`SELECT amount_fen FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, paid.OrderNo) != int(paid.PayableFen) {
		t.Fatal("the paid amount changed")
	}

	// A rerun records nothing twice.
	if run, err = rec.Reconcile(ctx, day, "test"); err != nil || run.Discrepancies != 4 || pa.discrepancies(day) != 4 {
		t.Fatalf("rerun %+v, %v; %d discrepancies", run, err, pa.discrepancies(day))
	}

	// Finance lists and resolves.
	admin := pa.staff(identity.RoleOperator, "")
	var list struct {
		Items []struct {
			ID            int64  `json:"id"`
			Kind          string `json:"kind"`
			OutTradeNo    string `json:"out_trade_no"`
			BillAmountFen *int64 `json:"bill_amount_fen"`
			OurAmountFen  *int64 `json:"our_amount_fen"`
			Status        string `json:"status"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reconciliation?bill_date=" + day + "&limit=3", Token: admin}).Decode(t, &list)
	if len(list.Items) != 3 || list.NextCursor == "" {
		t.Fatalf("first page: %+v", list)
	}
	first := list.Items
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reconciliation?bill_date=" + day + "&limit=3&cursor=" + list.NextCursor, Token: admin}).Decode(t, &list)
	if len(list.Items) != 1 || list.NextCursor != "" || list.Items[0].ID >= first[2].ID {
		t.Fatalf("second page: %+v", list)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reconciliation?kind=unknown_trade&status=open", Token: admin}).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].OutTradeNo != "STRANGER0001" || list.Items[0].OurAmountFen != nil ||
		list.Items[0].BillAmountFen == nil || *list.Items[0].BillAmountFen != 4200 {
		t.Fatalf("unknown trades: %+v", list)
	}
	id := list.Items[0].ID
	path := fmt.Sprintf("/api/v1/admin/reconciliation/discrepancies/%d/resolve", id)
	if r := pa.do(req{Method: "POST", Path: path, Token: admin, Body: map[string]string{"note": ""}}); r.Status != 400 {
		t.Fatalf("empty note: %d %s", r.Status, r.Body)
	}
	var d struct {
		Status string `json:"status"`
		Note   string `json:"note"`
	}
	pa.must(200, req{Method: "POST", Path: path, Token: admin, Body: map[string]string{"note": "another merchant's trade, reported to WeChat Pay"}}).Decode(t, &d)
	if d.Status != "resolved" || d.Note == "" {
		t.Fatalf("resolved: %+v", d)
	}
	if r := pa.do(req{Method: "POST", Path: path, Token: admin, Body: map[string]string{"note": "again"}}); r.Status != 409 {
		t.Fatalf("resolve twice: %d %s", r.Status, r.Body)
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.resolve' AND entity_id = $1`, fmt.Sprint(id)); n != 1 {
		t.Fatalf("audit entries: %d", n)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reconciliation?status=open&bill_date=" + day, Token: admin}).Decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("open after resolving one: %d", len(list.Items))
	}
	if m := string(pa.must(200, req{Method: "GET", Path: "/metrics"}).Body); !strings.Contains(m, "\nyutang_reconciliation_open_discrepancies 3\n") {
		t.Errorf("/metrics does not count 3 open discrepancies")
	}
	// A rerun does not reopen or duplicate the resolved one.
	if _, err := rec.Reconcile(ctx, day, "test"); err != nil || pa.discrepancies(day) != 4 ||
		pa.count(`SELECT count(*) FROM reconciliation_discrepancies WHERE resolved_at IS NOT NULL`) != 1 {
		t.Fatalf("rerun after resolving: %v", err)
	}
	// Counted once each, when first found: two amount mismatches, one
	// unknown trade, one missing from the bill, however many reruns.
	for kind, want := range map[string]float64{"amount_mismatch": 2, "unknown_trade": 1, "missing_in_bill": 1} {
		if v := pa.metric("yutang_wxpay_reconciliation_discrepancies_total", `kind="`+kind+`"`); v != want {
			t.Errorf("discrepancies_total{kind=%q} = %v, want %v", kind, v, want)
		}
	}
	merch := pa.staff(identity.RoleMerchandiser, "")
	if r := pa.do(req{Method: "GET", Path: "/api/v1/admin/reconciliation", Token: merch}); r.Status != 403 {
		t.Fatalf("merchandiser: %d", r.Status)
	}
	pa.checkInvariants()
}

// TestReconcileSettlesBilledRefund: the bill lists a refund whose
// notification was lost and that the refund worker has not asked about: it
// is settled by the refund worker's rule (ask WeChat Pay, apply).
func TestReconcileSettlesBilledRefund(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1)
	itemID := pa.lostRefundNotice("bill-refund", 2)
	var no string
	if err := pa.app.db.Get(&no, `SELECT r.out_refund_no FROM refunds r JOIN refund_lines l ON l.refund_id = r.id WHERE l.item_id = $1`, itemID); err != nil {
		t.Fatal(err)
	}
	if st, _ := pa.refundStatus(no); st != "processing" {
		t.Fatalf("refund %s before reconciling", st)
	}
	run, err := pa.reconcilerAt(tomorrowAt(11, 0)).Reconcile(context.Background(), billDay(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if run.Lines != 2 || run.Matched != 1 || run.RefundsSettled != 1 || run.Discrepancies != 0 {
		t.Fatalf("run %+v", run)
	}
	if st, _ := pa.refundStatus(no); st != "succeeded" {
		t.Fatalf("refund %s after reconciling", st)
	}
	if n := pa.count(`SELECT refunded_quantity FROM order_items WHERE id = $1`, itemID); n != 1 {
		t.Fatalf("refunded units %d", n)
	}
	pa.checkInvariants()
}

// TestReconcileHashMismatchFails: a bill whose file does not match its
// SHA1 fails the run; nothing of it is applied or recorded; the next run
// (a good download) applies the payment.
func TestReconcileHashMismatchFails(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	lost := pa.paidLost("bill-hash")
	day := billDay()
	rec := pa.reconcilerAt(tomorrowAt(11, 0))
	pa.sim().TamperNextBillDownload()
	run, err := rec.Reconcile(context.Background(), day, "test")
	if !errors.Is(err, payment.ErrBillIntegrity) {
		t.Fatalf("err = %v, want ErrBillIntegrity", err)
	}
	if run.Status != reconcile.RunFailed || run.Error == "" || run.Applied != 0 {
		t.Fatalf("run %+v", run)
	}
	if pa.orderStatus(lost.OrderNo) != "pending_payment" || pa.payments(lost.OrderNo) != 0 || pa.discrepancies(day) != 0 {
		t.Fatal("a bill that failed its hash was used")
	}
	if n := pa.count(`SELECT count(*) FROM reconciliation_runs WHERE bill_date = $1 AND status = 'failed' AND error <> ''`, day); n != 1 {
		t.Fatalf("failed run rows: %d", n)
	}
	run, err = rec.Reconcile(context.Background(), day, "test")
	if err != nil || run.Status != reconcile.RunSucceeded || run.Applied != 1 || run.Runs != 2 {
		t.Fatalf("second run %+v, %v", run, err)
	}
	if pa.orderStatus(lost.OrderNo) != "paid" {
		t.Fatal("not applied after a good download")
	}
	pa.checkInvariants()
}

// TestReconcileWorkerPicksPreviousDay: before 10:00 Beijing time the worker
// leaves yesterday alone (its bill is not out) but catches up the days
// before; after 10:00 it reconciles yesterday; then nothing is left.
func TestReconcileWorkerPicksPreviousDay(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	lost := pa.paidLost("bill-worker")
	ctx := context.Background()
	day := billDay()

	n, err := pa.reconcilerAt(tomorrowAt(9, 30)).CatchUp(ctx)
	if err != nil || n != 6 {
		t.Fatalf("catch-up at 09:30: %d days, %v; want the 6 days before yesterday", n, err)
	}
	if pa.count(`SELECT count(*) FROM reconciliation_runs WHERE bill_date = $1`, day) != 0 || pa.orderStatus(lost.OrderNo) != "pending_payment" {
		t.Fatal("yesterday was reconciled before its bill is published")
	}
	n, err = pa.reconcilerAt(tomorrowAt(10, 5)).CatchUp(ctx)
	if err != nil || n != 1 {
		t.Fatalf("catch-up at 10:05: %d days, %v; want yesterday", n, err)
	}
	if pa.orderStatus(lost.OrderNo) != "paid" {
		t.Fatal("the worker did not apply yesterday's billed payment")
	}
	if pa.count(`SELECT applied FROM reconciliation_runs WHERE bill_date = $1 AND status = 'succeeded'`, day) != 1 {
		t.Fatal("yesterday's run")
	}
	if n, err = pa.reconcilerAt(tomorrowAt(10, 15)).CatchUp(ctx); err != nil || n != 0 {
		t.Fatalf("catch-up again: %d, %v", n, err)
	}
	// A day whose run failed (WeChat Pay down, a bad download) is caught
	// up on the next tick.
	earlier := time.Now().In(domain.Shanghai).AddDate(0, 0, -3).Format("2006-01-02")
	if _, err := pa.app.db.Exec(`UPDATE reconciliation_runs SET status = 'failed', error = 'download failed' WHERE bill_date = $1`, earlier); err != nil {
		t.Fatal(err)
	}
	if n, err = pa.reconcilerAt(tomorrowAt(10, 25)).CatchUp(ctx); err != nil || n != 1 {
		t.Fatalf("catch-up of a failed day: %d, %v", n, err)
	}
	if pa.count(`SELECT runs FROM reconciliation_runs WHERE bill_date = $1 AND status = 'succeeded'`, earlier) != 2 {
		t.Fatal("the failed day was not run again")
	}
	pa.checkInvariants()
}

// TestReconcileAdminTrigger: staff reconcile a past day on demand
// (audited); today is refused; bad dates are 400.
func TestReconcileAdminTrigger(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	ops := pa.staff(identity.RoleOperator, "")
	yesterday := time.Now().In(domain.Shanghai).AddDate(0, 0, -1).Format("2006-01-02")
	var run struct {
		BillDate string `json:"bill_date"`
		Status   string `json:"status"`
		Runs     int    `json:"runs"`
	}
	for i := 1; i <= 2; i++ {
		pa.must(200, req{Method: "POST", Path: "/api/v1/admin/reconciliation/runs", Token: ops,
			Body: map[string]string{"bill_date": yesterday}}).Decode(t, &run)
		if run.BillDate != yesterday || run.Status != "succeeded" || run.Runs != i {
			t.Fatalf("run %d: %+v", i, run)
		}
	}
	if n := pa.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.run' AND entity_id = $1`, yesterday); n != 2 {
		t.Fatalf("audit entries %d", n)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/admin/reconciliation/runs", Token: ops,
		Body: map[string]string{"bill_date": billDay()}}); r.Status != 409 || r.ErrCode(t) != "bill_not_published" {
		t.Fatalf("today: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"2026-02-30", "yesterday!", "1999-01-01"} {
		if r := pa.do(req{Method: "POST", Path: "/api/v1/admin/reconciliation/runs", Token: ops,
			Body: map[string]string{"bill_date": bad}}); r.Status != 400 {
			t.Fatalf("%q: %d %s", bad, r.Status, r.Body)
		}
	}
	var runs struct {
		Items []struct {
			BillDate string `json:"bill_date"`
		} `json:"items"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/reconciliation/runs?from=" + yesterday + "&status=succeeded", Token: ops}).Decode(t, &runs)
	if len(runs.Items) != 1 || runs.Items[0].BillDate != yesterday {
		t.Fatalf("runs %+v", runs)
	}
	if r := pa.do(req{Method: "GET", Path: "/api/v1/admin/reconciliation/runs?from=2026-13-01", Token: ops}); r.Status != 400 {
		t.Fatalf("bad from: %d", r.Status)
	}
	// A day held by a running run (another instance) is not run twice at
	// once; its lease ends if that instance died.
	held := time.Now().In(domain.Shanghai).AddDate(0, 0, -5).Format("2006-01-02")
	st := pa.app.store.Reconciliation()
	if _, err := st.StartRun(context.Background(), held, "other instance", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/admin/reconciliation/runs", Token: ops,
		Body: map[string]string{"bill_date": held}}); r.Status != 409 || r.ErrCode(t) != "reconciliation_running" {
		t.Fatalf("held day: %d %s", r.Status, r.Body)
	}
	if _, err := st.StartRun(context.Background(), held, "later", time.Now().Add(2*time.Minute), time.Minute); err != nil {
		t.Fatalf("after the lease: %v", err)
	}
	pa.checkInvariants()
}

// TestReconcileAppliesBilledTopUp: a stored-value top-up paid at WeChat
// Pay whose notification was lost is applied by membership (the cashier's
// TradeApplier for it), once.
func TestReconcileAppliesBilledTopUp(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	ops := pa.staff(identity.RoleOperator, "")
	var pkg struct {
		ID int64 `json:"id"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/topup-packages", Token: ops,
		Body: map[string]any{"name": "充50送5", "pay_fen": 5000, "bonus_fen": 500}}).Decode(t, &pkg)
	tok, _ := pa.member("bill-topup")
	var tu struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/shop/member/topups", Token: tok, Body: map[string]any{"package_id": pkg.ID}}).Decode(t, &tu)
	_ = pa.sim().InjectNotificationFault(tu.OutTradeNo, wxpaysim.FaultDrop)
	pa.must(200, req{Method: "POST", Path: "/_dev/wechatpay/trades/" + tu.OutTradeNo + "/pay"})
	pa.waitIdle()
	if b := pa.card(tok).BalanceFen; b != 0 {
		t.Fatalf("balance %d with the notification lost", b)
	}
	rec := pa.reconcilerAt(tomorrowAt(11, 0))
	run, err := rec.Reconcile(context.Background(), billDay(), "test")
	if err != nil || run.Applied != 1 || run.Discrepancies != 0 {
		t.Fatalf("run %+v, %v", run, err)
	}
	if b := pa.card(tok).BalanceFen; b != 5500 {
		t.Fatalf("balance %d after reconciling, want 5500", b)
	}
	if run, err = rec.Reconcile(context.Background(), billDay(), "test"); err != nil || run.Applied != 0 || run.Matched != 1 {
		t.Fatalf("rerun %+v, %v", run, err)
	}
	if b := pa.card(tok).BalanceFen; b != 5500 {
		t.Fatalf("balance %d after a rerun", b)
	}
	pa.checkInvariants()
}
