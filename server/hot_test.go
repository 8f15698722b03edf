package main

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// The paid moment tells the coupons' handler which discounts the order
// carries (order.Event.Discounts), and the handler skips what the order
// does not carry: a campaign-priced order's units still turn from held to
// sold when it is paid, and an order without one pays the same.
func TestPaidSellsCampaignUnitsOnlyOfItsOrder(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	campSKU, plainSKU := pa.sku(10), pa.sku(10)
	merch := pa.staff(identity.RoleMerchandiser, "")
	now := time.Now()
	var c campaignAnswer
	pa.must(201, req{Method: "POST", Path: "/api/v1/admin/campaigns", Token: merch, Body: map[string]any{
		"kind": "flash_sale", "name": "秒杀", "starts_at": now.Add(-time.Minute), "ends_at": now.Add(time.Hour),
		"per_shopper_limit": 5, "skus": []map[string]any{{"sku_id": campSKU, "price_fen": 100, "allotment": 5}}}}).Decode(t, &c)
	if got := pa.campaignStatus(merch, c.ID, "scheduled"); got.Status != "running" {
		t.Fatalf("campaign %s", got.Status)
	}
	tok, _ := pa.shopper("hot-paid-campaign")
	camp := pa.placeWith(tok, campSKU, 2, nil)
	plain := pa.placeWith(tok, plainSKU, 1, nil)
	if camp.PayableFen != 200+camp.FreightFen || plain.PayableFen != 1000+plain.FreightFen {
		t.Fatalf("payables %d (freight %d), %d (freight %d)", camp.PayableFen, camp.FreightFen, plain.PayableFen, plain.FreightFen)
	}
	units := func(no, status string) int {
		return pa.count(`SELECT COALESCE(sum(u.quantity), 0) FROM campaign_order_units u JOIN orders o ON o.id = u.order_id
WHERE o.order_no = $1 AND u.status = $2`, no, status)
	}
	if h := units(camp.OrderNo, "held"); h != 2 {
		t.Fatalf("held before paying: %d", h)
	}
	pa.payWeChat(tok, plain.OrderNo)
	pa.payWeChat(tok, camp.OrderNo)
	pa.waitIdle()
	if h, s := units(camp.OrderNo, "held"), units(camp.OrderNo, "sold"); h != 0 || s != 2 {
		t.Fatalf("campaign order's units after paying: %d held, %d sold", h, s)
	}
	if n := pa.count(`SELECT count(*) FROM campaign_order_units u JOIN orders o ON o.id = u.order_id WHERE o.order_no = $1`, plain.OrderNo); n != 0 {
		t.Fatalf("the plain order has %d campaign units", n)
	}
	if a, b := pa.soldOf(campSKU), pa.soldOf(plainSKU); a != 2 || b != 1 {
		t.Fatalf("sold %d and %d", a, b)
	}
	pa.checkInvariants()
}
