package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// An approved KOC hands out the coupons of the budget the brand gave them:
// two shoppers get one each, the third is refused (budget spent); a
// shopper who is no KOC is refused. Each grant is recorded with the KOC,
// audited, and is a touch of the KOC's touchpoint for its shopper.
func TestKOCCouponGrants(t *testing.T) {
	t.Parallel()
	w := newKOCWorld(t)
	kocTok, kocID, _ := w.join("grant-koc", 0)
	tpl := w.template(w.admin, map[string]any{"name": "friend gift", "kind": "no_threshold", "amount_off_fen": 100, "total": 100})

	// A budget names a KOC by their shopper id; a shopper who never applied is refused.
	_, stranger := w.shopper("grant-stranger")
	if r := w.do(req{Method: "POST", Path: "/api/v1/admin/coupon-budgets", Token: w.admin,
		Body: map[string]any{"template_id": tpl, "holder_kind": "koc", "holder_id": stranger, "total": 2}}); r.Status != 400 {
		t.Fatalf("budget for a non-KOC: %d %s", r.Status, r.Body)
	}
	w.must(201, req{Method: "POST", Path: "/api/v1/admin/coupon-budgets", Token: w.admin,
		Body: map[string]any{"template_id": tpl, "holder_kind": "koc", "holder_id": kocID, "total": 2}})

	var ids [3]int64
	for i := range ids {
		_, ids[i] = w.shopper(fmt.Sprintf("grant-friend-%d", i))
	}
	for _, sid := range ids[:2] {
		var g struct {
			KOCID     int64 `json:"koc_id"`
			ShopperID int64 `json:"shopper_id"`
		}
		w.must(201, req{Method: "POST", Path: "/api/v1/shop/koc/coupon-grants", Token: kocTok,
			Body: map[string]any{"template_id": tpl, "shopper_id": sid}}).Decode(t, &g)
		if g.KOCID != kocID || g.ShopperID != sid {
			t.Fatalf("grant %+v", g)
		}
	}
	if r := w.do(req{Method: "POST", Path: "/api/v1/shop/koc/coupon-grants", Token: kocTok,
		Body: map[string]any{"template_id": tpl, "shopper_id": ids[2]}}); r.Status != 409 || r.ErrCode(t) != "coupon_budget_exhausted" {
		t.Fatalf("third grant: %d %s", r.Status, r.Body)
	}
	notKOC, _ := w.shopper("grant-not-koc")
	if r := w.do(req{Method: "POST", Path: "/api/v1/shop/koc/coupon-grants", Token: notKOC,
		Body: map[string]any{"template_id": tpl, "shopper_id": ids[2]}}); r.Status != 403 || r.ErrCode(t) != "koc_not_active" {
		t.Fatalf("non-KOC grant: %d %s", r.Status, r.Body)
	}
	if r := w.do(req{Method: "POST", Path: "/api/v1/shop/koc/coupon-grants", Token: kocTok,
		Body: map[string]any{"template_id": tpl, "shopper_id": kocID}}); r.Status != 400 {
		t.Fatalf("grant to self: %d %s", r.Status, r.Body)
	}

	if n := w.count(`SELECT count(*) FROM coupon_grants WHERE koc_id = $1 AND granted_by IS NULL`, kocID); n != 2 {
		t.Fatalf("grants recorded: %d", n)
	}
	if n := w.count(`SELECT count(*) FROM coupons WHERE template_id = $1 AND source = 'grant'`, tpl); n != 2 {
		t.Fatalf("coupons issued: %d", n)
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'coupon_grant.create' AND after->>'koc_id' = $1`, itoa(kocID)); n != 2 {
		t.Fatalf("grants audited: %d", n)
	}
	for _, sid := range ids[:2] {
		if n := w.count(`SELECT count(*) FROM touches t JOIN touchpoints tp ON tp.id = ANY (t.touchpoint_ids)
WHERE t.shopper_id = $1 AND t.code = 'coupon_grant' AND tp.kind = 'koc' AND tp.shopper_id = $2`, sid, kocID); n != 1 {
			t.Fatalf("shopper %d: %d grant touches of the KOC", sid, n)
		}
	}
	w.checkInvariants()
}

// A clerk's grant is a touch of the clerk's touchpoint: the shopper's next
// order online is credited to the clerk under last touch.
func TestClerkGrantCreditsClerk(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	admin := pa.staff(identity.RoleAdmin, "")
	clerk := pa.staff(identity.RoleClerk, "GRANT-TOUCH")
	store := int64(pa.count(`SELECT id FROM stores WHERE code = 'GRANT-TOUCH'`))
	tpl := pa.template(admin, map[string]any{"name": "desk gift", "kind": "no_threshold", "amount_off_fen": 100, "total": 10})
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/coupon-budgets", Token: admin,
		Body: map[string]any{"template_id": tpl, "holder_kind": "store", "holder_id": store, "total": 5}})
	tok, sid := pa.shopper("grant-touched")
	pa.must(201, req{Method: "POST", Path: "/api/v1/clerk/coupon-grants", Token: clerk, Body: map[string]any{"template_id": tpl, "shopper_id": sid}})
	clerkTP := int64(pa.count(`SELECT id FROM touchpoints WHERE kind = 'clerk'`))
	storeTP := int64(pa.count(`SELECT id FROM touchpoints WHERE kind = 'store' AND store_id = $1`, store))

	o := pa.placeOrder(tok, pa.sku(100), 1)
	pa.pay(tok, o.OrderNo)
	pa.shopperPays(o.OrderNo)
	eventually(t, 10*time.Second, "paid "+o.OrderNo, func() bool { return pa.orderStatus(o.OrderNo) == "paid" })

	var ex struct {
		DefaultModel string `json:"default_model"`
		Models       []struct {
			Model      string `json:"model"`
			Candidates []struct {
				Code string `json:"code"`
			} `json:"candidates"`
			Credits []struct {
				AmountFen   int64 `json:"amount_fen"`
				Touchpoints []struct {
					Kind string
					ID   int64
				}
			} `json:"credits"`
		} `json:"models"`
	}
	eventually(t, 10*time.Second, "attributed", func() bool {
		return pa.do(req{Method: "GET", Path: "/api/v1/admin/orders/" + o.OrderNo + "/attribution", Token: admin}).Status == 200
	})
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/orders/" + o.OrderNo + "/attribution", Token: admin}).Decode(t, &ex)
	if ex.DefaultModel != "last_touch" || len(ex.Models) == 0 {
		t.Fatalf("explanation %+v", ex)
	}
	m := ex.Models[0]
	if m.Model != "last_touch" || len(m.Candidates) != 1 || m.Candidates[0].Code != "coupon_grant" || len(m.Credits) != 1 ||
		m.Credits[0].AmountFen <= 0 || len(m.Credits[0].Touchpoints) != 2 ||
		m.Credits[0].Touchpoints[0].Kind != "clerk" || m.Credits[0].Touchpoints[0].ID != clerkTP ||
		m.Credits[0].Touchpoints[1].Kind != "store" || m.Credits[0].Touchpoints[1].ID != storeTP {
		t.Fatalf("last touch %+v", m)
	}
	pa.checkInvariants()
}
