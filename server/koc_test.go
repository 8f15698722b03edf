package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/identity"
)

// The KOC programme end to end, over HTTP against the WeChat Pay simulator.

type kocAnswer struct {
	ShopperID     int64  `json:"shopper_id"`
	TouchpointID  int64  `json:"touchpoint_id"`
	Status        string `json:"status"`
	Depth         int    `json:"depth"`
	PendingFen    int64  `json:"pending_fen"`
	SettleableFen int64  `json:"settleable_fen"`
	SettledFen    int64  `json:"settled_fen"`
	ReversedFen   int64  `json:"reversed_fen"`
}

type kocWorld struct {
	*payApp
	admin string
	level int64
	sku   int64
	prod  int64
}

func newKOCWorld(t *testing.T) *kocWorld {
	pa := newPayApp(t, 1000)
	w := &kocWorld{payApp: pa, admin: pa.staff(identity.RoleAdmin, "")}
	var lvl struct {
		ID int64 `json:"id"`
	}
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/koc-levels", Token: w.admin,
		Body: map[string]any{"name": "silver", "rate_bp": 1000, "override_bp": 200}}).Decode(t, &lvl)
	w.level = lvl.ID
	w.sku = pa.sku(100)
	w.prod = int64(pa.count(`SELECT product_id FROM skus WHERE id = $1`, w.sku))
	pa.must(200, req{Method: "PUT", Path: "/api/v1/admin/koc/settings", Token: w.admin,
		Body: map[string]any{"binding_days": 30, "aftersales_days": 7, "fraud_shared_limit": 3}})
	return w
}

// join makes an approved KOC (recruited by recruiter when ≠ 0) and returns
// their token, shopper id and share-link code.
func (w *kocWorld) join(name string, recruiter int64) (string, int64, string) {
	w.t.Helper()
	tok, id := w.shopper(name)
	w.must(201, req{Method: "POST", Path: "/api/v1/shop/koc/apply", Token: tok, Body: map[string]any{"recruiter_id": recruiter}})
	var k kocAnswer
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/kocs/%d/approve", id), Token: w.admin,
		Body: map[string]any{"level_id": w.level}}).Decode(w.t, &k)
	if k.Status != "active" {
		w.t.Fatalf("approve: %+v", k)
	}
	var link struct{ Code string }
	w.must(201, req{Method: "POST", Path: "/api/v1/shop/share-links", Token: tok, Body: map[string]any{"product_id": w.prod}}).Decode(w.t, &link)
	return tok, id, link.Code
}

var touchSeq int

func (w *kocWorld) touch(tok, code string, ago time.Duration) {
	w.t.Helper()
	touchSeq++
	w.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Token: tok, Body: map[string]any{"events": []map[string]any{
		{"id": fmt.Sprintf("ev-%s-%d-%d", code, touchSeq, time.Now().UnixNano()), "code": code, "scene": 1007, "at": time.Now().Add(-ago)}}}})
}

// buy places and pays an order of qty units (1000 fen each) and returns its number.
func (w *kocWorld) buy(tok string, qty int) string {
	w.t.Helper()
	o := w.placeOrder(tok, w.sku, qty)
	w.pay(tok, o.OrderNo)
	w.shopperPays(o.OrderNo)
	eventually(w.t, 10*time.Second, "paid "+o.OrderNo, func() bool { return w.orderStatus(o.OrderNo) == "paid" })
	return o.OrderNo
}

func (w *kocWorld) koc(id int64) kocAnswer {
	w.t.Helper()
	var k kocAnswer
	w.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/kocs/%d", id), Token: w.admin}).Decode(w.t, &k)
	return k
}

// complete ships and confirms an order, then matures commission as if
// the after-sales window had passed.
func (w *kocWorld) complete(tok, no string) {
	w.t.Helper()
	w.must(200, req{Method: "POST", Path: "/api/v1/admin/orders/" + no + "/ship", Token: w.admin,
		Body: map[string]string{"carrier": "顺丰", "tracking_no": "SF1234567890"}})
	w.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + no + "/confirm", Token: tok})
	later := *w.app.svc.KOC
	later.Now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	if _, err := later.Mature(context.Background(), 100); err != nil {
		w.t.Fatal(err)
	}
}

type batchAnswer struct {
	ID       int64 `json:"id"`
	TotalFen int64 `json:"total_fen"`
	Items    []struct {
		KOCID     int64  `json:"koc_id"`
		AmountFen int64  `json:"amount_fen"`
		OutBillNo string `json:"out_bill_no"`
	} `json:"items"`
}

func (w *kocWorld) settle() batchAnswer {
	w.t.Helper()
	var b batchAnswer
	w.must(201, req{Method: "POST", Path: "/api/v1/admin/settlements", Token: w.admin,
		Body: map[string]any{"from": time.Now().Add(-24 * time.Hour), "to": time.Now().Add(60 * 24 * time.Hour)}}).Decode(w.t, &b)
	return b
}

func (b batchAnswer) amountOf(koc int64) int64 {
	for _, it := range b.Items {
		if it.KOCID == koc {
			return it.AmountFen
		}
	}
	return 0
}

// TestKOCBindingLevelsAndSelfPurchase: a bound customer who later touches
// another KOC's link still earns the bound KOC; a second-level override;
// a third level refused; a KOC's own purchase earns nothing.
func TestKOCBindingLevelsAndSelfPurchase(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	aTok, a, aCode := w.join("koc-a", 0)
	_, b, bCode := w.join("koc-b", a) // recruited by A: depth 2
	if k := w.koc(b); k.Depth != 2 {
		t.Fatalf("B depth %+v", k)
	}
	// C may not join under B: that would be a third level.
	cTok, _ := w.shopper("koc-c")
	if r := w.do(req{Method: "POST", Path: "/api/v1/shop/koc/apply", Token: cTok, Body: map[string]any{"recruiter_id": b}}); r.Status != 409 || r.ErrCode(t) != "koc_third_level" {
		t.Fatalf("third level: %d %s", r.Status, r.Body)
	}
	// The schema refuses one too.
	if _, err := w.app.db.Exec(`UPDATE kocs SET recruiter_id = $1, recruiter_depth = 2, depth = 2 WHERE shopper_id = $2`, b, a); err == nil {
		t.Fatal("schema stored a third level")
	}

	// Bound to A (first touch), then touched B's link: A earns, B nothing.
	buyer, _ := w.shopper("bound-buyer")
	w.touch(buyer, aCode, 2*time.Hour)
	w.touch(buyer, bCode, time.Hour)
	w.buy(buyer, 2) // 2000 fen goods
	if k := w.koc(a); k.PendingFen != 200 {
		t.Fatalf("A after bound order: %+v", k)
	}
	if k := w.koc(b); k.PendingFen != 0 {
		t.Fatalf("B earned on A's bound customer: %+v", k)
	}
	var bind struct {
		ReferrerTPID int64  `json:"referrer_touchpoint_id"`
		OriginCode   string `json:"origin_code"`
		Active       bool   `json:"active"`
	}
	_, buyerID := w.shopper("bound-buyer")
	w.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/bindings/%d", buyerID), Token: w.admin}).Decode(t, &bind)
	if bind.ReferrerTPID != w.koc(a).TouchpointID || bind.OriginCode != aCode || !bind.Active {
		t.Fatalf("binding %+v", bind)
	}

	// A customer of B: B earns 10%, A (B's recruiter) a 2% override.
	other, _ := w.shopper("b-buyer")
	w.touch(other, bCode, time.Hour)
	w.buy(other, 1)
	if k := w.koc(b); k.PendingFen != 100 {
		t.Fatalf("B: %+v", k)
	}
	if k := w.koc(a); k.PendingFen != 220 {
		t.Fatalf("A with override: %+v", k)
	}

	// A buys through their own link: nothing.
	w.touch(aTok, aCode, time.Minute)
	w.buy(aTok, 3)
	if k := w.koc(a); k.PendingFen != 220 {
		t.Fatalf("A after own purchase: %+v", k)
	}

	// A's own view.
	var dash struct {
		KOC     kocAnswer `json:"koc"`
		Periods []struct {
			Days, Orders int
			GMVFen       int64 `json:"gmv_fen"`
		} `json:"periods"`
	}
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/dashboard", Token: aTok}).Decode(t, &dash)
	if dash.KOC.PendingFen != 220 || len(dash.Periods) != 3 || dash.Periods[0].Orders != 1 || dash.Periods[0].GMVFen != 2000 {
		t.Fatalf("dashboard %+v", dash)
	}
	var cs struct {
		Items []struct {
			Customer  string `json:"customer"`
			OrderNo   string `json:"order_no"`
			AmountFen int64  `json:"amount_fen"`
		} `json:"items"`
	}
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/commissions?limit=10", Token: aTok}).Decode(t, &cs)
	if len(cs.Items) != 2 || cs.Items[0].OrderNo == "" || cs.Items[0].Customer == "" {
		t.Fatalf("commissions %+v", cs)
	}
	var cus struct {
		Items []struct{ Name string } `json:"items"`
	}
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/customers", Token: aTok}).Decode(t, &cus)
	if len(cus.Items) != 2 { // the bound buyer and A themselves (bound to their own first touch)
		t.Fatalf("customers %+v", cus)
	}
	w.checkInvariants()
}

// TestKOCRefundAfterSettlementCarriedForward: a partial refund of an order
// whose commission was settled becomes a negative settleable entry, netted
// in the next batch.
func TestKOCRefundAfterSettlementCarriedForward(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	_, a, aCode := w.join("koc-a", 0)
	buyer, _ := w.shopper("buyer")
	w.touch(buyer, aCode, time.Hour)
	no := w.buy(buyer, 2) // commission 200
	w.complete(buyer, no)
	if k := w.koc(a); k.SettleableFen != 200 || k.PendingFen != 0 {
		t.Fatalf("matured: %+v", k)
	}
	b1 := w.settle()
	if b1.amountOf(a) != 200 || b1.TotalFen != 200 {
		t.Fatalf("batch 1 %+v", b1)
	}
	csv := w.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/settlements/%d", b1.ID), Token: w.admin,
		Header: map[string]string{"Accept": "text/csv"}})
	if want := fmt.Sprintf("%d,%d,", b1.ID, a); !containsLine(string(csv.Body), want) {
		t.Fatalf("csv %s", csv.Body)
	}
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/settlements/%d/review", b1.ID), Token: w.admin})

	// Refund one of the two units: half the commission is carried.
	var itemID int64
	if err := w.app.db.Get(&itemID, `SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.order_no = $1`, no); err != nil {
		t.Fatal(err)
	}
	var as struct {
		ID int64 `json:"id"`
	}
	w.must(201, req{Method: "POST", Path: "/api/v1/shop/orders/" + no + "/after-sales", Token: buyer,
		Body: map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": 1}}, "reason": "坏了"}}).Decode(t, &as)
	w.must(200, req{Method: "POST", Path: fmt.Sprintf("/api/v1/admin/after-sales/%d/approve", as.ID), Token: w.admin,
		Body: map[string]any{"goods_returned": true}})
	eventually(t, 10*time.Second, "reversal", func() bool { return w.koc(a).ReversedFen == 100 })
	if k := w.koc(a); k.SettleableFen != -100 || k.SettledFen != 200 {
		t.Fatalf("carried: %+v", k)
	}
	// Nothing positive to settle yet.
	if r := w.do(req{Method: "POST", Path: "/api/v1/admin/settlements", Token: w.admin,
		Body: map[string]any{"from": time.Now(), "to": time.Now().Add(60 * 24 * time.Hour)}}); r.Status != 409 {
		t.Fatalf("empty batch: %d %s", r.Status, r.Body)
	}
	// A new order of 3 units (300) nets to 200 in the next batch.
	no2 := w.buy(buyer, 3)
	w.complete(buyer, no2)
	b2 := w.settle()
	if b2.amountOf(a) != 200 {
		t.Fatalf("batch 2 %+v", b2)
	}
	if k := w.koc(a); k.SettleableFen != 0 || k.SettledFen != 400 {
		t.Fatalf("after batch 2: %+v", k)
	}
	w.checkInvariants()
}

func containsLine(s, prefix string) bool {
	for _, l := range splitLines(s) {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// benchKOC makes a shopper whose share link the buyer touched, and with
// active makes them an active KOC, so every order of the buyer earns them
// commission.
func benchKOC(b *testing.B, a *app, buyer, sku int64, active bool) {
	ctx := context.Background()
	_, k, err := a.svc.Identity.ShopperSignIn(ctx, "bench-koc", "")
	if err != nil {
		b.Fatal(err)
	}
	lvl, err := a.svc.KOC.SaveLevel(ctx, domain.System, "", commission.Level{Name: "bench", RateBP: 1000, OverrideBP: 100})
	if err != nil {
		b.Fatal(err)
	}
	if active {
		if _, err := a.svc.KOC.Apply(ctx, k.ID, 0, "", ""); err != nil {
			b.Fatal(err)
		}
		if _, err := a.svc.KOC.Decide(ctx, domain.System, "", k.ID, commission.Approve, lvl.ID); err != nil {
			b.Fatal(err)
		}
	}
	var product int64
	if err := a.db.Get(&product, `SELECT product_id FROM skus WHERE id = $1`, sku); err != nil {
		b.Fatal(err)
	}
	l, err := a.svc.Attribution.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: k.ID}, ProductID: product})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.svc.Attribution.Track(ctx, attribution.Visitor{ShopperID: buyer},
		[]attribution.Event{{ID: "bench-touch", Code: l.Code, Scene: 1007, At: time.Now().Add(-time.Minute)}}); err != nil {
		b.Fatal(err)
	}
}

// TestKOCShareLinksAndPerformance: a KOC's own view of their share links
// and their numbers by post, with the link's visitor and the post's credited
// GMV equal to the order's paid goods; 403 koc_not_active for a non-KOC.
func TestKOCShareLinksAndPerformance(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	kTok, kID, _ := w.join("koc-view", 0)
	var post struct {
		ID int64 `json:"id"`
	}
	w.must(201, req{Method: "POST", Path: "/api/v1/admin/touchpoints", Token: w.admin,
		Body: map[string]any{"kind": "post", "name": "Autumn live", "post_kind": "live"}}).Decode(t, &post)
	var link struct{ Code string }
	w.must(201, req{Method: "POST", Path: "/api/v1/shop/share-links", Token: kTok, Body: map[string]any{"post_id": post.ID}}).Decode(t, &link)

	buyer, _ := w.shopper("view-buyer")
	w.touch(buyer, link.Code, time.Hour)
	no := w.buy(buyer, 2)
	paid := int64(w.count(`SELECT paid_fen FROM order_attributions WHERE order_id = (SELECT id FROM orders WHERE order_no = $1)`, no))
	if paid != 2000 {
		t.Fatalf("paid goods %d", paid)
	}

	var links struct {
		Items []struct {
			Code             string `json:"code"`
			Path             string `json:"path"`
			PostID           int64  `json:"post_id"`
			ProductID        int64  `json:"product_id"`
			Touches          int64  `json:"touches"`
			UniqueVisitors   int64  `json:"unique_visitors"`
			AttributedOrders int64  `json:"attributed_orders"`
			CreditedGMVFen   int64  `json:"credited_gmv_fen"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/share-links?limit=1", Token: kTok}).Decode(t, &links)
	if len(links.Items) != 1 || links.NextCursor == "" {
		t.Fatalf("first page %+v", links)
	}
	l := links.Items[0]
	if l.Code != link.Code || l.PostID != post.ID || l.Path == "" || l.UniqueVisitors != 1 || l.Touches != 1 ||
		l.AttributedOrders != 1 || l.CreditedGMVFen != paid {
		t.Fatalf("post link %+v", l)
	}
	// The second page: the product link made at joining, untouched.
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/share-links?limit=1&cursor=" + links.NextCursor, Token: kTok}).Decode(t, &links)
	if len(links.Items) != 1 || links.Items[0].ProductID != w.prod || links.Items[0].UniqueVisitors != 0 || links.NextCursor != "" {
		t.Fatalf("second page %+v", links)
	}

	var perf struct {
		Items []struct {
			PostID           int64  `json:"post_id"`
			Name             string `json:"name"`
			UniqueVisitors   int64  `json:"unique_visitors"`
			AttributedOrders int64  `json:"attributed_orders"`
			CreditedGMVFen   int64  `json:"credited_gmv_fen"`
			EarnedFen        int64  `json:"earned_fen"`
		} `json:"items"`
	}
	// From yesterday: the touch an hour ago is yesterday's in the first
	// hour of a Shanghai day.
	now := time.Now().In(domain.Shanghai)
	from, today := now.AddDate(0, 0, -1).Format(time.DateOnly), now.Format(time.DateOnly)
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/performance?from=" + from + "&to=" + today, Token: kTok}).Decode(t, &perf)
	if len(perf.Items) != 1 {
		t.Fatalf("performance %+v", perf)
	}
	if p := perf.Items[0]; p.PostID != post.ID || p.Name != "Autumn live" || p.UniqueVisitors != 1 || p.AttributedOrders != 1 ||
		p.CreditedGMVFen != paid || p.EarnedFen != w.koc(kID).PendingFen || p.EarnedFen != 200 {
		t.Fatalf("post %+v", p)
	}
	// A period before the order: nothing credited.
	w.must(200, req{Method: "GET", Path: "/api/v1/shop/koc/performance?from=2020-01-01&to=2020-01-31", Token: kTok}).Decode(t, &perf)
	if len(perf.Items) != 0 {
		t.Fatalf("old period %+v", perf)
	}
	if r := w.do(req{Method: "GET", Path: "/api/v1/shop/koc/performance?from=2026-02-01&to=2026-01-01", Token: kTok}); r.Status != 400 {
		t.Fatalf("reversed period: %d %s", r.Status, r.Body)
	}

	// Not a KOC: 403 koc_not_active on both.
	for _, path := range []string{"/api/v1/shop/koc/share-links", "/api/v1/shop/koc/performance"} {
		if r := w.do(req{Method: "GET", Path: path, Token: buyer}); r.Status != 403 || r.ErrCode(t) != "koc_not_active" {
			t.Fatalf("%s as a non-KOC: %d %s", path, r.Status, r.Body)
		}
	}
}
