package main

import (
	"context"
	"testing"

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
