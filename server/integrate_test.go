package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/campaign"
	"github.com/yutang/yutang/domain/identity"
)

// tier creates a member tier over HTTP and returns its id.
func (ta *testApp) tier(ops string, body map[string]any) int64 {
	ta.t.Helper()
	var t struct {
		ID int64 `json:"id"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/member-tiers", Token: ops, Body: body}).Decode(ta.t, &t)
	return t.ID
}

// A tier-audience coupon admits members at that tier or above and refuses
// those below it and shoppers without a card; a bulk issue to a tier
// segment reaches exactly the tier's members.
func TestCouponTierAudience(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	pa := &payApp{testApp: ta}
	ops := ta.staff(identity.RoleOperator, "")
	merch := ta.staff(identity.RoleMerchandiser, "")
	silver := ta.tier(ops, map[string]any{"name": "银卡", "threshold": 30})
	gold := ta.tier(ops, map[string]any{"name": "金卡", "threshold": 100})
	base, _ := pa.member("tier-base")
	silverTok, silverID := pa.member("tier-silver")
	goldTok, goldID := pa.member("tier-gold")
	stranger, _ := ta.shopper("tier-stranger")
	ta.app.db.MustExec(`UPDATE member_cards SET tier_id = $1 WHERE shopper_id = $2`, silver, silverID)
	ta.app.db.MustExec(`UPDATE member_cards SET tier_id = $1 WHERE shopper_id = $2`, gold, goldID)

	tpl := ta.template(merch, map[string]any{"name": "silver+", "kind": "no_threshold", "amount_off_fen": 100, "total": 10,
		"audience": "tier", "audience_tier": silver, "claimable": true})
	ta.claim(silverTok, tpl)
	ta.claim(goldTok, tpl)
	for _, tok := range []string{base, stranger} {
		if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/coupons/claim", Token: tok, Body: map[string]any{"template_id": tpl}}); r.Status != 403 || r.ErrCode(t) != "coupon_audience" {
			t.Fatalf("claim below the tier: %d %s", r.Status, r.Body)
		}
	}

	bulk := ta.template(merch, map[string]any{"name": "gold gift", "kind": "no_threshold", "amount_off_fen": 100, "total": 10})
	var job jobAnswer
	ta.must(202, req{Method: "POST", Path: "/api/v1/admin/coupon-templates/" + itoa(bulk) + "/bulk-issue", Token: ops,
		Body: map[string]any{"tier": gold}}).Decode(t, &job)
	if job.Total != 1 {
		t.Fatalf("gold segment: %+v", job)
	}
	if n, err := ta.app.svc.Coupons.WorkJobs(context.Background(), 50, 5); err != nil || n != 1 {
		t.Fatalf("work: %d %v", n, err)
	}
	var holders []int64
	if err := ta.app.db.Select(&holders, `SELECT shopper_id FROM coupons WHERE template_id = $1`, bulk); err != nil || len(holders) != 1 || holders[0] != goldID {
		t.Fatalf("bulk holders %v (%v)", holders, err)
	}
	ta.checkInvariants()
}

// The birthday worker gives a member born this month the tier's birthday
// coupon, in the transaction that records the year's grant; a re-run
// grants nothing, and a member born in another month gets nothing.
func TestMemberBirthdayCoupon(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	pa := &payApp{testApp: ta}
	merch := ta.staff(identity.RoleMerchandiser, "")
	tpl := ta.template(merch, map[string]any{"name": "生日礼", "kind": "no_threshold", "amount_off_fen": 2000, "total": 10})
	ta.app.db.MustExec(`UPDATE member_tiers SET birthday_template_id = $1`, tpl)
	_, may := pa.member("bday-may") // born 1990-05-20
	_, june := pa.member("bday-june")
	ta.app.db.MustExec(`UPDATE member_cards SET birthday = '1991-06-02' WHERE shopper_id = $1`, june)

	svc := pa.memberSvc(time.Date(2026, 5, 1, 0, 30, 0, 0, domain.Shanghai))
	ctx := context.Background()
	for run, want := range []int{1, 0} {
		if n, err := svc.GrantBirthdays(ctx, birthdayCoupons{ta.app.svc.Coupons}, 10); err != nil || n != want {
			t.Fatalf("run %d: %d %v", run, n, err)
		}
	}
	var got []struct {
		Shopper int64  `db:"shopper_id"`
		Source  string `db:"source"`
		Ref     int64  `db:"source_ref"`
	}
	if err := ta.app.db.Select(&got, `SELECT shopper_id, source, source_ref FROM coupons WHERE template_id = $1`, tpl); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Shopper != may || got[0].Source != "birthday" || got[0].Ref != 2026 {
		t.Fatalf("birthday coupons %+v", got)
	}
	var ref string
	if err := ta.app.db.Get(&ref, `SELECT g.coupon_ref FROM member_birthday_grants g JOIN member_cards c ON c.id = g.card_id
WHERE c.shopper_id = $1 AND g.year = 2026`, may); err != nil || !strings.HasPrefix(ref, "coupon ") {
		t.Fatalf("grant record %q (%v)", ref, err)
	}
	ta.checkInvariants()
}

// A member day running today adds its boost to the member's tier discount
// at checkout (the member adjustment); on another weekday it does nothing.
func TestMemberDayBoost(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	ops := pa.staff(identity.RoleOperator, "")
	silver := pa.tier(ops, map[string]any{"name": "银卡", "threshold": 30, "discount_bp": 500})
	tok, id := pa.member("memberday")
	pa.app.db.MustExec(`UPDATE member_cards SET tier_id = $1 WHERE shopper_id = $2`, silver, id)
	if o := pa.placeOrder(tok, sku, 1); o.PayableFen != 950+1000 {
		t.Fatalf("silver, no member day: %d", o.PayableFen)
	}
	ctx := context.Background()
	now := time.Now()
	memberDay := func(weekday time.Weekday, boost int) {
		wd := int(weekday)
		if _, err := pa.app.svc.Campaigns.Create(ctx, domain.System, "", campaign.Campaign{Kind: campaign.KindMemberDay,
			Name: "会员日", Status: campaign.StatusScheduled, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour),
			Weekday: &wd, BoostBP: boost}); err != nil {
			t.Fatal(err)
		}
		if _, err := pa.app.svc.Campaigns.Advance(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	today := now.In(domain.Shanghai).Weekday()
	memberDay((today+1)%7, 2000) // tomorrow's: no effect today
	if o := pa.placeOrder(tok, sku, 1); o.PayableFen != 950+1000 {
		t.Fatalf("another day's member day applied: %d", o.PayableFen)
	}
	memberDay(today, 300)
	o := pa.placeOrder(tok, sku, 1)
	if o.PayableFen != 920+1000 {
		t.Fatalf("member day: %d", o.PayableFen)
	}
	var member int64
	if err := pa.app.db.Get(&member, `SELECT sum(a.amount_fen) FROM order_adjustments a JOIN orders o ON o.id = a.order_id
WHERE o.order_no = $1 AND a.source = 'member'`, o.OrderNo); err != nil || member != 80 {
		t.Fatalf("member adjustment %d (%v)", member, err)
	}
	// A shopper without a card gets no boost.
	guest, _ := pa.shopper("memberday-guest")
	if o := pa.placeOrder(guest, sku, 1); o.PayableFen != 1000+1000 {
		t.Fatalf("non-member on member day: %d", o.PayableFen)
	}
	pa.checkInvariants()
}

// memberCode is GET /shop/member/code's code.
func (pa *payApp) memberCode(tok string) string {
	pa.t.Helper()
	var code struct {
		Code string `json:"code"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/member/code", Token: tok}).Decode(pa.t, &code)
	return code.Code
}

// A clerk takes an in-store order for a member by scanning their member
// code (the preview only checks it; placing uses it up), and the lookup
// lists the member's usable coupons.
func TestClerkOrderByMemberCode(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	sku := pa.sku(10)
	d := newDesk(pa, "SH-MCODE")
	merch := pa.staff(identity.RoleMerchandiser, "")
	tok, _ := pa.member("mcode")
	tpl := pa.template(merch, map[string]any{"name": "满100减10", "kind": "amount_off", "threshold_fen": 10000, "amount_off_fen": 1000,
		"total": 10, "claimable": true})
	cid := pa.claim(tok, tpl)

	var l struct {
		Coupons []struct {
			ID           int64  `json:"id"`
			Name         string `json:"name"`
			AmountOffFen int64  `json:"amount_off_fen"`
		} `json:"coupons"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/clerk/members/lookup?code=" + pa.memberCode(tok), Token: d.clerk}).Decode(t, &l)
	if len(l.Coupons) != 1 || l.Coupons[0].ID != cid || l.Coupons[0].Name != "满100减10" || l.Coupons[0].AmountOffFen != 1000 {
		t.Fatalf("lookup coupons %+v", l.Coupons)
	}

	code := pa.memberCode(tok)
	items := []map[string]any{{"sku_id": sku, "quantity": 1}}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders/preview", Token: d.clerk,
		Body: map[string]any{"items": items, "member_code": code, "member_phone": "13800000000"}}); r.Status != 400 {
		t.Fatalf("code and phone: %d %s", r.Status, r.Body)
	}
	o := d.placeBody(map[string]any{"items": items, "member_code": code}, "mcode-1")
	if !o.HasMember {
		t.Fatalf("order %+v", o)
	}
	pa.seesInStore(tok, o.OrderNo)
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders", Token: d.clerk, Header: map[string]string{"Idempotency-Key": "mcode-2"},
		Body: map[string]any{"items": items, "member_code": code, "expected_payable_fen": o.PayableFen}}); r.Status != 409 || r.ErrCode(t) != "member_code_used" {
		t.Fatalf("code used twice: %d %s", r.Status, r.Body)
	}
	if r := pa.do(req{Method: "POST", Path: "/api/v1/clerk/orders/preview", Token: d.clerk,
		Body: map[string]any{"items": items, "member_code": "123456789012345678"}}); r.Status != 404 || r.ErrCode(t) != "member_code_invalid" {
		t.Fatalf("forged code: %d %s", r.Status, r.Body)
	}
	pa.checkInvariants()
}
