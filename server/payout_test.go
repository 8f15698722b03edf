package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
)

// The KOC payout by merchant transfer, over HTTP against the simulator.

type paidKOC struct {
	SettleableFen int64 `json:"settleable_fen"`
	SettledFen    int64 `json:"settled_fen"`
	PaidFen       int64 `json:"paid_fen"`
}

func (w *kocWorld) balances(id int64) paidKOC {
	w.t.Helper()
	var k paidKOC
	w.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/kocs/%d", id), Token: w.admin}).Decode(w.t, &k)
	return k
}

// earner makes a KOC with settleable commission of qty×100 fen.
func (w *kocWorld) earner(name string, qty int) (string, int64) {
	w.t.Helper()
	tok, id, code := w.join(name, 0)
	buyer, _ := w.shopper(name + "-buyer")
	w.touch(buyer, code, time.Hour)
	no := w.buy(buyer, qty)
	w.complete(buyer, no)
	return tok, id
}

// reviewedBatch settles and reviews a batch.
func (w *kocWorld) reviewedBatch() batchAnswer {
	w.t.Helper()
	b := w.settle()
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/review", b.ID), Token: w.admin})
	return b
}

type itemState struct {
	Status     string `db:"status"`
	WxState    string `db:"wx_state"`
	FailReason string `db:"fail_reason"`
	BillNo     string `db:"bill_no"`
}

func (w *kocWorld) item(outBillNo string) itemState {
	w.t.Helper()
	var s itemState
	if err := w.app.db.Get(&s, `SELECT status, COALESCE(wx_state, '') wx_state, COALESCE(fail_reason, '') fail_reason,
       COALESCE(bill_no, '') bill_no FROM settlement_items WHERE out_bill_no = $1`, outBillNo); err != nil {
		w.t.Fatal(err)
	}
	return s
}

type pendingTransfers struct {
	Items []struct {
		OutBillNo   string `json:"out_bill_no"`
		AmountFen   int64  `json:"amount_fen"`
		MchID       string `json:"mch_id"`
		AppID       string `json:"app_id"`
		PackageInfo string `json:"package_info"`
	} `json:"items"`
}

func (w *kocWorld) pending(tok string) pendingTransfers {
	w.t.Helper()
	var p pendingTransfers
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/transfers", Token: tok}).Decode(w.t, &p)
	return p
}

func (w *kocWorld) batchStatus(id int64) string {
	w.t.Helper()
	var b struct{ Status string }
	w.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/settlements/%d", id), Token: w.admin}).Decode(w.t, &b)
	return b.Status
}

func outBillNo(b batchAnswer, koc int64) string {
	for _, it := range b.Items {
		if it.KOCID == koc {
			return it.OutBillNo
		}
	}
	return ""
}

// TestKOCPayoutConfirmedAndRejected: a reviewed batch is paid by merchant
// transfer; A confirms in the mini-program → SUCCESS → paid; B's transfer
// fails (FAIL) → back to settleable; the batch ends paid.
func TestKOCPayoutConfirmedAndRejected(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	aTok, a := w.earner("payee-a", 2) // 200
	bTok, b := w.earner("payee-b", 1) // 100
	batch := w.reviewedBatch()
	aNo, bNo := outBillNo(batch, a), outBillNo(batch, b)

	// Only a reviewed batch is paid, by an admin.
	if r := w.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/pay", batch.ID), Token: aTok}); r.Status < 400 || r.Status >= 500 {
		t.Fatalf("shopper paid a batch: %d", r.Status)
	}
	var res struct {
		Asked, Returned, Deferred int
		Batch                     struct{ Status string }
	}
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/pay", batch.ID), Token: w.admin}).Decode(t, &res)
	if res.Asked != 2 || res.Batch.Status != "paying" {
		t.Fatalf("pay: %+v", res)
	}
	if it := w.item(aNo); it.Status != "transferring" || it.WxState != "WAIT_USER_CONFIRM" || it.BillNo == "" {
		t.Fatalf("A's item %+v", it)
	}
	// A sees what wx.requestMerchantTransfer needs.
	p := w.pending(aTok)
	if len(p.Items) != 1 || p.Items[0].OutBillNo != aNo || p.Items[0].PackageInfo == "" || p.Items[0].MchID == "" ||
		p.Items[0].AppID == "" || p.Items[0].AmountFen != 200 {
		t.Fatalf("A's pending transfers %+v", p)
	}
	if got := w.count(`SELECT count(*) FROM audit_log WHERE action = 'settlement.pay'`); got != 1 {
		t.Fatalf("%d pay audits", got)
	}

	// A confirms; the notification makes it paid.
	w.must(200, req{Method: "POST", Path: "/_dev/wechatpay/transfers/" + aNo + "/confirm"})
	eventually(t, 10*time.Second, "A paid", func() bool { return w.item(aNo).Status == "paid" })
	if k := w.balances(a); k.PaidFen != 200 || k.SettledFen != 0 {
		t.Fatalf("A after confirming: %+v", k)
	}
	if len(w.pending(aTok).Items) != 0 {
		t.Fatal("a paid transfer still pending")
	}

	// B's transfer fails: back to settleable, for the next batch.
	if err := w.sim().FailTransfer(bNo, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B failed", func() bool { return w.item(bNo).Status == "failed" })
	if it := w.item(bNo); it.FailReason != "PAYEE_ACCOUNT_ABNORMAL" {
		t.Fatalf("B's item %+v", it)
	}
	if k := w.balances(b); k.SettleableFen != 100 || k.SettledFen != 0 || k.PaidFen != 0 {
		t.Fatalf("B after the failure: %+v", k)
	}
	if s := w.batchStatus(batch.ID); s != "paid" {
		t.Fatalf("batch %s", s)
	}
	if len(w.pending(bTok).Items) != 0 {
		t.Fatal("a failed transfer still pending")
	}
	// Paying again is refused; a duplicate notification changes nothing.
	if r := w.do(req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/pay", batch.ID), Token: w.admin}); r.Status != 409 {
		t.Fatalf("paid twice: %d %s", r.Status, r.Body)
	}
	w.waitIdle()
	for _, d := range w.deliveries() {
		if d.Path == "/webhooks/wechatpay/transfers" && d.Status != 204 {
			t.Fatalf("transfer notification answered %d %s", d.Status, d.Answer)
		}
	}
	// The next batch pays B again, under a new out_bill_no.
	b2 := w.reviewedBatch()
	if b2.amountOf(b) != 100 || b2.amountOf(a) != 0 || outBillNo(b2, b) == bNo {
		t.Fatalf("batch 2 %+v", b2)
	}
	w.checkInvariants()
}

// lossyTransfers loses the answer: with ask, the request reaches WeChat Pay
// and the answer is lost (a timeout); without, the process died before
// asking.
type lossyTransfers struct {
	commission.Transferer
	ask bool
}

func (l lossyTransfers) Transfer(ctx context.Context, r commission.TransferRequest) (commission.Transfer, error) {
	if l.ask {
		if _, err := l.Transferer.Transfer(ctx, r); err != nil {
			return commission.Transfer{}, err
		}
	}
	return commission.Transfer{}, commission.ErrTransferUnknown
}

// TestKOCPayoutCrashRecovered: a transfer recorded as transferring whose
// answer was never stored (asked and lost; or never asked) is found by the
// query worker, which stores the bill and its package (asking again with
// the same out_bill_no when WeChat Pay never saw it); the KOC then confirms.
func TestKOCPayoutCrashRecovered(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	aTok, a := w.earner("lost-answer", 2)
	bTok, b := w.earner("never-asked", 1)
	batch := w.reviewedBatch()
	aNo, bNo := outBillNo(batch, a), outBillNo(batch, b)

	ctx := context.Background()
	real := w.app.svc.Payout
	for _, step := range []struct {
		koc int64
		ask bool
	}{{a, true}, {b, false}} {
		lossy := *real
		lossy.Transfers = lossyTransfers{Transferer: real.Transfers, ask: step.ask}
		// Pay only this KOC's item in this step.
		lossy.Store = onlyItem{PayoutStore: real.Store, koc: step.koc}
		if _, err := lossy.PayBatch(ctx, domain.System, "", batch.ID); err != nil {
			t.Fatal(err)
		}
	}
	if it := w.item(aNo); it.Status != "transferring" || it.BillNo != "" {
		t.Fatalf("A after the lost answer: %+v", it)
	}
	if _, ok := w.sim().TransferBill(aNo); !ok {
		t.Fatal("A's transfer never reached the simulator")
	}
	if _, ok := w.sim().TransferBill(bNo); ok {
		t.Fatal("B's transfer reached the simulator")
	}
	if len(w.pending(aTok).Items) != 0 {
		t.Fatal("a package before any answer")
	}

	// The worker, a minute later, finds both.
	later := *real
	later.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if n, err := later.Sync(ctx, 100); err != nil || n != 2 {
		t.Fatalf("sync: %d %v", n, err)
	}
	for _, no := range []string{aNo, bNo} {
		if it := w.item(no); it.Status != "transferring" || it.WxState != "WAIT_USER_CONFIRM" || it.BillNo == "" {
			t.Fatalf("%s after sync: %+v", no, it)
		}
	}
	if bill, _ := w.sim().TransferBill(aNo); w.item(aNo).BillNo != bill.BillNo {
		t.Fatal("A was asked for twice with different bills")
	}
	for _, tok := range []string{aTok, bTok} {
		p := w.pending(tok)
		if len(p.Items) != 1 || p.Items[0].PackageInfo == "" {
			t.Fatalf("pending after sync: %+v", p)
		}
		w.must(200, req{Method: "POST", Path: "/_dev/wechatpay/transfers/" + p.Items[0].OutBillNo + "/confirm"})
	}
	eventually(t, 10*time.Second, "both paid", func() bool { return w.item(aNo).Status == "paid" && w.item(bNo).Status == "paid" })
	if s := w.batchStatus(batch.ID); s != "paid" {
		t.Fatalf("batch %s", s)
	}
	if k := w.balances(a); k.PaidFen != 200 {
		t.Fatalf("A %+v", k)
	}
	w.checkInvariants()
}

// onlyItem lets PayBatch see only one KOC's item.
type onlyItem struct {
	commission.PayoutStore
	koc int64
}

func (o onlyItem) PayoutItems(ctx context.Context, batchID int64, status string) ([]commission.PayoutItem, error) {
	all, err := o.PayoutStore.PayoutItems(ctx, batchID, status)
	var out []commission.PayoutItem
	for _, it := range all {
		if it.KOCID == o.koc {
			out = append(out, it)
		}
	}
	return out, err
}

// TestKOCPayoutExpiredAndLimits: a transfer not confirmed within 24 hours
// is cancelled and its commission returns to settleable; an item over the
// per-transfer limit returns at once, and the day's limit defers the rest.
func TestKOCPayoutExpiredAndLimits(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	aTok, a := w.earner("slow", 2)
	batch := w.reviewedBatch()
	aNo := outBillNo(batch, a)
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/pay", batch.ID), Token: w.admin})
	if len(w.pending(aTok).Items) != 1 {
		t.Fatal("no pending transfer")
	}
	if n := w.sim().ExpireTransfers(time.Now().Add(25 * time.Hour)); n != 1 {
		t.Fatalf("%d expired", n)
	}
	eventually(t, 10*time.Second, "cancelled", func() bool { return w.item(aNo).Status == "failed" })
	if it := w.item(aNo); it.WxState != "CANCELLED" {
		t.Fatalf("item %+v", it)
	}
	if k := w.balances(a); k.SettleableFen != 200 || k.SettledFen != 0 {
		t.Fatalf("after expiry %+v", k)
	}
	if r := w.do(req{Method: "POST", Path: "/_dev/wechatpay/transfers/" + aNo + "/confirm"}); r.Status != 409 {
		t.Fatalf("confirmed an expired transfer: %d", r.Status)
	}

	// Limits: A's 200 is over a 150 transfer limit; B (100) and C (100)
	// meet a daily limit of 150: one waits.
	_, b := w.earner("small-b", 1)
	_, c := w.earner("small-c", 1)
	if r := w.do(req{Method: "PUT", Path: "/api/v1/admin/koc/payout-settings", Token: w.admin,
		Body: map[string]any{"transfer_limit_fen": 150, "daily_limit_fen": 150, "real_name_from_fen": 300000}}); r.Status != 400 {
		t.Fatalf("real-name threshold above WeChat's: %d", r.Status)
	}
	w.must(200, req{Method: "PUT", Path: "/api/v1/admin/koc/payout-settings", Token: w.admin,
		Body: map[string]any{"transfer_limit_fen": 150, "daily_limit_fen": 150, "real_name_from_fen": 200000}})
	b2 := w.reviewedBatch()
	var res struct{ Asked, Returned, Deferred int }
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/pay", b2.ID), Token: w.admin}).Decode(t, &res)
	if res.Asked != 1 || res.Returned != 1 || res.Deferred != 1 {
		t.Fatalf("limits: %+v", res)
	}
	if it := w.item(outBillNo(b2, a)); it.Status != "failed" || it.FailReason != commission.ReasonOverTransferLimit {
		t.Fatalf("A over the limit: %+v", it)
	}
	if k := w.balances(a); k.SettleableFen != 200 {
		t.Fatalf("A %+v", k)
	}
	if s := w.batchStatus(b2.ID); s != "paying" {
		t.Fatalf("batch 2 %s", s)
	}
	_, _ = b, c
	w.checkInvariants()
}
