package storage

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Invariant is one rule the books always keep, as a query that returns a
// line describing each breach (no rows: it holds). `yutang check` runs them
// all; tests run them after every scenario.
type Invariant struct {
	Name  string
	query string
}

// Breaches is the outcome of one invariant: how many rows break it, and
// the first of them (at most MaxBreachLines).
type Breaches struct {
	Invariant string
	Count     int
	Lines     []string
}

// MaxBreachLines is how many breaches of one invariant Check reports.
const MaxBreachLines = 20

// Invariants lists every invariant, by area.
func Invariants() []Invariant { return invariants }

var invariants = []Invariant{
	// orders
	{"order totals add up", `
SELECT 'order ' || o.order_no || ': subtotal ' || o.subtotal_fen || ' discount ' || o.discount_fen ||
       ' freight ' || o.freight_fen || ' payable ' || o.payable_fen || ' but lines list ' || COALESCE(i.list, 0) ||
       ' discount ' || COALESCE(i.disc, 0) || ' paid ' || COALESCE(i.paid, 0)
FROM orders o LEFT JOIN (SELECT order_id, sum(list_total_fen) list, sum(paid_fen) paid, sum(discount_fen) disc
    FROM order_items GROUP BY order_id) i ON i.order_id = o.id
WHERE o.payable_fen <> o.subtotal_fen - o.discount_fen + o.freight_fen
   OR o.subtotal_fen <> COALESCE(i.list, 0) OR o.payable_fen - o.freight_fen <> COALESCE(i.paid, 0)
   OR o.discount_fen <> COALESCE(i.disc, 0)`},
	{"each line's adjustments sum to its discount", `
SELECT 'order item ' || i.id || ': discount ' || i.discount_fen || ' but adjustments ' || COALESCE(a.s, 0)
FROM order_items i LEFT JOIN (SELECT item_id, sum(amount_fen) s FROM order_adjustments GROUP BY item_id) a ON a.item_id = i.id
WHERE i.discount_fen <> COALESCE(a.s, 0)`},
	{"reserved stock equals unpaid orders", `
SELECT 'sku ' || s.id || ': reserved ' || s.reserved || ' but unpaid orders hold ' || COALESCE(h.q, 0)
FROM skus s LEFT JOIN (SELECT i.sku_id, sum(i.quantity) q FROM order_items i JOIN orders o ON o.id = i.order_id
                       WHERE o.status = 'pending_payment' GROUP BY i.sku_id) h ON h.sku_id = s.id
WHERE s.reserved <> COALESCE(h.q, 0)`},
	{"every order's stock is in the ledger", `
SELECT 'order ' || o.order_no || ': sku ' || i.sku_id || ' ordered ' || i.q || ' but reserved in the ledger ' || COALESCE(l.r, 0)
FROM orders o JOIN (SELECT order_id, sku_id, sum(quantity) q FROM order_items GROUP BY order_id, sku_id) i ON i.order_id = o.id
LEFT JOIN (SELECT ref, sku_id, -sum(delta) r FROM stock_ledger WHERE kind = 'reserve' GROUP BY ref, sku_id) l
       ON l.ref = o.order_no AND l.sku_id = i.sku_id
WHERE i.q <> COALESCE(l.r, 0)`},
	// payments and tenders
	{"a paid order's tenders sum to its payable", `
SELECT 'order ' || o.order_no || ' (' || o.status || '): tenders ' || COALESCE(t.s, 0) || ', payable ' || o.payable_fen
FROM orders o LEFT JOIN (SELECT order_id, sum(amount_fen) s FROM order_tenders GROUP BY order_id) t ON t.order_id = o.id
WHERE o.status IN ('paid', 'shipped', 'completed') AND COALESCE(t.s, 0) <> o.payable_fen`},
	{"paid orders have at most one WeChat payment, and it is their WeChat Pay tender", `
SELECT 'order ' || o.order_no || ' (' || o.status || '): ' || count(p.id) || ' applied payments totalling ' ||
       COALESCE(sum(p.amount_fen), 0) || ', WeChat Pay tender ' || COALESCE(max(t.amount_fen), 0)
FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.outcome = 'applied'
LEFT JOIN order_tenders t ON t.order_id = o.id AND t.kind = 'wechat_pay' AND t.ref = p.transaction_id
GROUP BY o.id
HAVING count(p.id) > 1 OR count(p.id) <> count(t.id) OR COALESCE(sum(p.amount_fen), 0) <> COALESCE(sum(t.amount_fen), 0)
    OR (o.status IN ('pending_payment', 'cancelled') AND count(p.id) > 0)`},
	{"no tender without a paid order, and WeChat Pay tenders have their payment", `
SELECT 'tender ' || t.id || ' (' || t.kind || ' ' || t.ref || ') of order ' || o.order_no || ' (' || o.status || ')'
FROM order_tenders t JOIN orders o ON o.id = t.order_id
LEFT JOIN payments p ON t.kind = 'wechat_pay' AND p.transaction_id = t.ref AND p.order_id = t.order_id AND p.outcome = 'applied'
WHERE (t.kind = 'wechat_pay' AND p.id IS NULL) OR (t.kind = 'wechat_pay' AND o.status IN ('pending_payment', 'cancelled'))`},
	{"refunds split exactly across tenders, never beyond what each took", `
SELECT 'refund ' || r.out_refund_no || ': ' || r.amount_fen || ' fen (' || r.wechat_fen || ' through WeChat Pay) but tenders get ' ||
       COALESCE(x.s, 0) || ' (' || COALESCE(x.w, 0) || ' WeChat Pay)'
FROM refunds r LEFT JOIN (SELECT rt.refund_id, sum(rt.amount_fen) s, sum(rt.amount_fen) FILTER (WHERE t.kind = 'wechat_pay') w
    FROM refund_tenders rt JOIN order_tenders t ON t.id = rt.tender_id GROUP BY rt.refund_id) x ON x.refund_id = r.id
WHERE r.kind = 'after_sales' AND (COALESCE(x.s, 0) <> r.amount_fen OR COALESCE(x.w, 0) <> r.wechat_fen)
UNION ALL
SELECT 'tender ' || t.id || ' of order ' || t.order_id || ': ' || t.amount_fen || ' taken, ' || COALESCE(l.live, 0) ||
       ' refunded or refunding, ' || t.refunded_fen || ' recorded refunded but succeeded refunds say ' || COALESCE(l.done, 0)
FROM order_tenders t LEFT JOIN (SELECT rt.tender_id, sum(rt.amount_fen) FILTER (WHERE r.status NOT IN ('closed', 'failed')) live,
        sum(rt.amount_fen) FILTER (WHERE r.status = 'succeeded') done
    FROM refund_tenders rt JOIN refunds r ON r.id = rt.refund_id GROUP BY rt.tender_id) l ON l.tender_id = t.id
WHERE COALESCE(l.live, 0) > t.amount_fen OR t.refunded_fen <> COALESCE(l.done, 0)`},
	{"a paid attempt has its payment", `
SELECT 'attempt ' || a.out_trade_no || ' is ' || a.status || ' but ' ||
       CASE WHEN p.id IS NULL THEN 'has no payment' ELSE 'payment ' || p.transaction_id || ' of ' || p.amount_fen END
FROM payment_attempts a LEFT JOIN payments p ON p.attempt_id = a.id
WHERE (a.status = 'paid') <> (p.id IS NOT NULL) OR p.transaction_id <> a.transaction_id OR p.amount_fen <> a.amount_fen`},
	{"refunds never exceed the payment", `
SELECT 'payment ' || p.transaction_id || ': ' || sum(r.wechat_fen) || ' refunded or refunding of ' || p.amount_fen
FROM payments p JOIN refunds r ON r.payment_id = p.id AND r.status NOT IN ('closed', 'failed')
GROUP BY p.id HAVING sum(r.wechat_fen) > p.amount_fen`},
	{"a refund waiting for a person says why, and an abnormal one can be re-applied", `
SELECT 'refund ' || r.out_refund_no || ' is ' || r.status ||
       CASE WHEN r.status = 'abnormal' THEN ' without a WeChat refund_id' ELSE ' without a reason' END
FROM refunds r
WHERE (r.status = 'needs_attention' AND r.failure = '') OR (r.status = 'abnormal' AND COALESCE(r.wx_refund_id, '') = '')`},
	{"a refund is its lines plus freight", `
SELECT 'refund ' || r.out_refund_no || ': ' || r.amount_fen || ' but lines ' || COALESCE(l.s, 0) || ' + freight ' || r.freight_fen
FROM refunds r LEFT JOIN (SELECT refund_id, sum(amount_fen) s FROM refund_lines GROUP BY refund_id) l ON l.refund_id = r.id
WHERE r.kind = 'after_sales' AND r.amount_fen <> COALESCE(l.s, 0) + r.freight_fen`},
	{"refunded lines equal their succeeded refunds", `
SELECT 'order item ' || i.id || ': refunded ' || i.refunded_quantity || ' units ' || i.refunded_fen || ' fen but refunds say ' ||
       COALESCE(x.q, 0) || ' units ' || COALESCE(x.f, 0) || ' fen'
FROM order_items i LEFT JOIN (SELECT l.item_id, sum(l.quantity) q, sum(l.amount_fen) f FROM refund_lines l
    JOIN refunds r ON r.id = l.refund_id AND r.status = 'succeeded' GROUP BY l.item_id) x ON x.item_id = i.id
WHERE i.refunded_quantity <> COALESCE(x.q, 0) OR i.refunded_fen <> COALESCE(x.f, 0)`},
	// coupons and campaigns
	{"coupons issued never exceed a template's total, and issued counts them", `
SELECT 'coupon template ' || t.id || ': issued ' || t.issued || ' of ' || t.total || ', coupons ' || COALESCE(c.n, 0)
FROM coupon_templates t LEFT JOIN (SELECT template_id, count(*) n FROM coupons GROUP BY template_id) c ON c.template_id = t.id
WHERE t.issued > t.total OR t.issued <> COALESCE(c.n, 0)`},
	{"every used coupon is on exactly one paid order whose adjustments name it", `
SELECT 'coupon ' || c.id || ' (' || c.status || '): ' || count(r.id) || ' live redemptions, on orders ' ||
       COALESCE(string_agg(o.order_no || ' ' || o.status, ', '), 'none')
FROM coupons c LEFT JOIN coupon_redemptions r ON r.coupon_id = c.id AND r.status IN ('locked', 'used')
LEFT JOIN orders o ON o.id = r.order_id
GROUP BY c.id
HAVING (c.status = 'used' AND (count(r.id) <> 1 OR bool_or(r.status <> 'used') OR bool_or(o.status NOT IN ('paid', 'shipped', 'completed'))))
    OR (c.status = 'locked' AND (count(r.id) <> 1 OR bool_or(r.status <> 'locked') OR bool_or(o.status <> 'pending_payment')))
    OR (c.status IN ('usable', 'expired') AND count(r.id) > 0)
UNION ALL
SELECT 'redemption ' || r.id || ' (' || r.status || ') of coupon ' || r.coupon_id || ' on order ' || o.order_no ||
       ': discount ' || r.discount_fen || ' but the order''s adjustments naming it sum to ' || COALESCE(a.s, 0)
FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id
LEFT JOIN (SELECT source_id, order_id, sum(amount_fen) s FROM order_adjustments WHERE source = 'coupon' GROUP BY 1, 2) a
       ON a.source_id = r.id AND a.order_id = r.order_id
WHERE r.discount_fen <> COALESCE(a.s, 0)
UNION ALL
SELECT 'order ' || o.order_no || ': a coupon adjustment names ' || a.source_id || ', which is no redemption of it'
FROM order_adjustments a JOIN orders o ON o.id = a.order_id
LEFT JOIN coupon_redemptions r ON r.id = a.source_id AND r.order_id = a.order_id
WHERE a.source = 'coupon' AND r.id IS NULL AND a.source_id <> 0`},
	{"campaign units taken never exceed the allotment, and match the orders", `
SELECT 'campaign ' || cs.campaign_id || ' sku ' || cs.sku_id || ': taken ' || cs.taken || ' of ' || cs.allotment ||
       ', held or sold by orders ' || COALESCE(u.q, 0) || ', sold to paid orders ' || COALESCE(p.q, 0)
FROM campaign_skus cs
LEFT JOIN (SELECT campaign_id, sku_id, sum(quantity) q FROM campaign_order_units WHERE status IN ('held', 'sold') GROUP BY 1, 2) u
       ON u.campaign_id = cs.campaign_id AND u.sku_id = cs.sku_id
LEFT JOIN (SELECT a.source_id AS campaign_id, i.sku_id, sum(i.quantity) q FROM order_adjustments a
           JOIN order_items i ON i.id = a.item_id JOIN orders o ON o.id = i.order_id
           WHERE a.source = 'campaign' AND o.status IN ('paid', 'shipped', 'completed') GROUP BY 1, 2) p
       ON p.campaign_id = cs.campaign_id AND p.sku_id = cs.sku_id
WHERE cs.taken > cs.allotment OR cs.taken <> COALESCE(u.q, 0) OR COALESCE(p.q, 0) > cs.allotment`},
	{"no shopper took more campaign units than the campaign's limit", `
SELECT 'campaign ' || c.id || ' shopper ' || s.shopper_id || ': took ' || s.taken || ', limit ' || c.per_shopper_limit ||
       ', orders hold ' || COALESCE(u.q, 0)
FROM campaign_shoppers s JOIN campaigns c ON c.id = s.campaign_id
LEFT JOIN (SELECT campaign_id, shopper_id, sum(quantity) q FROM campaign_order_units WHERE status IN ('held', 'sold') GROUP BY 1, 2) u
       ON u.campaign_id = s.campaign_id AND u.shopper_id = s.shopper_id
WHERE (c.per_shopper_limit > 0 AND s.taken > c.per_shopper_limit) OR s.taken <> COALESCE(u.q, 0)`},
	// attribution
	rollupMatches("touch_visitor_last", "kind, touchpoint_id, visitor, last_day"),
	rollupMatches("touch_tp_daily", "kind, day, touchpoint_id, touches, visitors, last_visitors"),
	rollupMatches("attribution_buyer_last", "model, kind, touchpoint_id, shopper_id, last_day, prev_day"),
	rollupMatches("attribution_tp_daily", "model, kind, day, touchpoint_id, orders, new_customer_orders, credited_fen, "+
		"refunded_fen, last_buyers, prev_buyers"),
	rollupMatches("touch_month_visitors", "kind, month, touchpoint_id, visitors, touches"),
	rollupMatches("attribution_month_buyers", "model, kind, month, touchpoint_id, buyers, repeat_buyers, orders, "+
		"new_customer_orders, credited_fen"),
	// --- reports (gap rollups of the closed days, migration 00026) ---
	rollupMatches("touch_visitor_closed", "kind, touchpoint_id, visitor, last_day"),
	rollupMatches("touch_tp_gaps", "kind, day, touchpoint_id, prev_day, touches, visitors"),
	rollupMatches("attribution_buyer_closed", "model, kind, touchpoint_id, shopper_id, last_day, prev_day"),
	rollupMatches("attribution_tp_gaps", "model, kind, day, touchpoint_id, prev_day, prev2_day, units"),
	// --- end reports ---
	{"attribution_day_totals matches its view", `
SELECT 'attribution_day_totals ' || model || ' ' || day || ': ' || COALESCE(x.orders, 0) || ' orders (' ||
       COALESCE(x.direct_orders, 0) || ' direct) ' || COALESCE(x.paid_fen, 0) || ' fen, credited post/koc/group/store/clerk ' ||
       COALESCE(x.p, 0) || '/' || COALESCE(x.k, 0) || '/' || COALESCE(x.g, 0) || '/' || COALESCE(x.s, 0) || '/' || COALESCE(x.c, 0) ||
       ' fen, but the orders and attribution_daily say ' || COALESCE(e.orders, 0) || ' (' || COALESCE(e.direct_orders, 0) || ') ' ||
       COALESCE(e.paid_fen, 0) || ', ' || COALESCE(e.credited_post_fen, 0) || '/' || COALESCE(e.credited_koc_fen, 0) || '/' ||
       COALESCE(e.credited_group_fen, 0) || '/' || COALESCE(e.credited_store_fen, 0) || '/' || COALESCE(e.credited_clerk_fen, 0) ||
       ' (the reports'' totals of each period with this day are off by the difference)'
FROM (SELECT model, day, sum(orders) AS orders, sum(direct_orders) AS direct_orders, sum(paid_fen) AS paid_fen,
             sum(credited_post_fen) AS p, sum(credited_koc_fen) AS k, sum(credited_group_fen) AS g,
             sum(credited_store_fen) AS s, sum(credited_clerk_fen) AS c
      FROM attribution_day_totals GROUP BY model, day) x
FULL JOIN attribution_day_totals_expected e USING (model, day)
WHERE x.orders IS DISTINCT FROM e.orders OR x.direct_orders IS DISTINCT FROM e.direct_orders
   OR x.paid_fen IS DISTINCT FROM e.paid_fen
   OR COALESCE(x.p, 0) <> COALESCE(e.credited_post_fen, 0) OR COALESCE(x.k, 0) <> COALESCE(e.credited_koc_fen, 0)
   OR COALESCE(x.g, 0) <> COALESCE(e.credited_group_fen, 0) OR COALESCE(x.s, 0) <> COALESCE(e.credited_store_fen, 0)
   OR COALESCE(x.c, 0) <> COALESCE(e.credited_clerk_fen, 0)`},
	// membership
	{"every card's points, debt and growth equal their ledgers", `
SELECT 'card ' || c.card_no || ': points ' || c.points || ' debt ' || c.points_debt || ' growth ' || c.growth ||
       ' but ledgers say ' || COALESCE(p.pts, 0) || ' / ' || COALESCE(p.debt, 0) || ' / ' || COALESCE(g.g, 0)
FROM member_cards c
LEFT JOIN (SELECT card_id, sum(points) pts, sum(debt) debt FROM member_points_entries GROUP BY card_id) p ON p.card_id = c.id
LEFT JOIN (SELECT card_id, sum(delta) g FROM member_growth_entries GROUP BY card_id) g ON g.card_id = c.id
WHERE c.points <> COALESCE(p.pts, 0) OR c.points_debt <> COALESCE(p.debt, 0) OR c.growth <> COALESCE(g.g, 0)`},
	{"frozen points are what unpaid orders redeem", `
SELECT 'card ' || c.card_no || ': frozen ' || c.points_frozen || ' but unpaid orders redeem ' || COALESCE(f.f, 0)
FROM member_cards c LEFT JOIN (
    SELECT e.card_id, -sum(e.points) f FROM member_points_entries e JOIN orders o ON o.id = e.order_id
    WHERE e.kind = 'redeem' AND o.status = 'pending_payment' GROUP BY e.card_id) f ON f.card_id = c.id
WHERE c.points_frozen <> COALESCE(f.f, 0)`},
	{"every card's stored value equals its ledger, principal and bonus apart", `
SELECT 'card ' || c.card_no || ': principal ' || c.principal_fen || ' bonus ' || c.bonus_fen ||
       ' but the ledger says ' || COALESCE(b.p, 0) || ' / ' || COALESCE(b.b, 0)
FROM member_cards c LEFT JOIN (SELECT card_id, sum(principal_fen) p, sum(bonus_fen) b FROM member_balance_entries GROUP BY card_id) b
  ON b.card_id = c.id
WHERE c.principal_fen <> COALESCE(b.p, 0) OR c.bonus_fen <> COALESCE(b.b, 0)`},
	{"stored value = top-ups - spending + returns and refunds (+ adjustments) - top-up refunds and forfeited bonus, principal and bonus apart", `
SELECT 'stored value: cards hold ' || c.p || ' principal ' || c.b || ' bonus; top-ups ' || t.p || '/' || t.b ||
       ', spent ' || x.sp || '/' || x.sb || ', returned and refunded ' || x.rp || '/' || x.rb || ', adjusted ' || x.ap || '/' || x.ab
FROM (SELECT COALESCE(sum(principal_fen), 0) p, COALESCE(sum(bonus_fen), 0) b FROM member_cards) c,
     (SELECT COALESCE(sum(principal_fen), 0) p, COALESCE(sum(bonus_fen), 0) b FROM member_topups WHERE status = 'paid') t,
     (SELECT COALESCE(-sum(principal_fen) FILTER (WHERE kind = 'spend'), 0) sp, COALESCE(-sum(bonus_fen) FILTER (WHERE kind = 'spend'), 0) sb,
             COALESCE(sum(principal_fen) FILTER (WHERE kind IN ('return', 'refund')), 0) rp,
             COALESCE(sum(bonus_fen) FILTER (WHERE kind IN ('return', 'refund')), 0) rb,
             COALESCE(sum(principal_fen) FILTER (WHERE kind = 'adjust'), 0) ap, COALESCE(sum(bonus_fen) FILTER (WHERE kind = 'adjust'), 0) ab,
             COALESCE(-sum(principal_fen) FILTER (WHERE kind IN ('topup_refund', 'forfeit', 'restore')), 0) tp,
             COALESCE(-sum(bonus_fen) FILTER (WHERE kind IN ('topup_refund', 'forfeit', 'restore')), 0) tb
      FROM member_balance_entries) x
WHERE c.p <> t.p - x.sp + x.rp + x.ap - x.tp OR c.b <> t.b - x.sb + x.rb + x.ab - x.tb
UNION ALL
SELECT 'top-up refund ' || r.out_refund_no || ' (' || r.status || ') took ' || COALESCE(-e.p, 0) || '/' || COALESCE(-e.b, 0) ||
       ' off the card, not ' || r.amount_fen || '/' || r.forfeit_fen
FROM member_topup_refunds r JOIN member_topups u ON u.id = r.topup_id
LEFT JOIN (SELECT topup_refund_id, sum(principal_fen) p, sum(bonus_fen) b FROM member_balance_entries
           WHERE topup_refund_id IS NOT NULL GROUP BY topup_refund_id) e ON e.topup_refund_id = r.id
WHERE u.status <> 'paid' OR r.amount_fen > u.principal_fen OR r.forfeit_fen > u.bonus_fen
   OR COALESCE(-e.p, 0) <> CASE WHEN r.status IN ('closed', 'failed') THEN 0 ELSE r.amount_fen END
   OR COALESCE(-e.b, 0) <> CASE WHEN r.status IN ('closed', 'failed') THEN 0 ELSE r.forfeit_fen END
UNION ALL
SELECT 'top-up ' || u.out_trade_no || ' (' || u.status || ') credited ' || COALESCE(e.p, 0) || '/' || COALESCE(e.b, 0) ||
       ' of ' || u.principal_fen || '/' || u.bonus_fen
FROM member_topups u LEFT JOIN (SELECT topup_id, sum(principal_fen) p, sum(bonus_fen) b, count(*) n FROM member_balance_entries
    WHERE kind = 'topup' GROUP BY topup_id) e ON e.topup_id = u.id
WHERE (u.status = 'paid') <> (e.n IS NOT NULL) OR (u.status = 'paid' AND (e.p <> u.principal_fen OR e.b <> u.bonus_fen))`},
	{"stored-value tenders are what the card spent on the order, refunds what went back", `
SELECT 'order ' || o.order_no || ': stored-value tender ' || COALESCE(t.amount_fen, 0) || ' refunded ' || COALESCE(t.refunded_fen, 0) ||
       ' but the ledger spent ' || COALESCE(e.spent, 0) || ' refunded ' || COALESCE(e.back, 0)
FROM orders o
LEFT JOIN order_tenders t ON t.order_id = o.id AND t.kind = 'stored_value'
LEFT JOIN (SELECT order_id, -sum(principal_fen + bonus_fen) FILTER (WHERE kind = 'spend') spent,
                  sum(principal_fen + bonus_fen) FILTER (WHERE kind = 'refund') back
           FROM member_balance_entries WHERE order_id IS NOT NULL GROUP BY order_id) e ON e.order_id = o.id
WHERE (t.id IS NOT NULL OR e.order_id IS NOT NULL)
  AND (COALESCE(t.amount_fen, 0) <> COALESCE(e.spent, 0) OR COALESCE(t.refunded_fen, 0) <> COALESCE(e.back, 0))`},
	{"every earn and redeem entry traces to a line of the card holder's order", `
SELECT 'points entry ' || e.id || ' (' || e.kind || ') of card ' || c.card_no || ' has no line of its holder''s order'
FROM member_points_entries e JOIN member_cards c ON c.id = e.card_id
LEFT JOIN order_items i ON i.id = e.item_id AND i.order_id = e.order_id
LEFT JOIN orders o ON o.id = i.order_id AND o.shopper_id = c.shopper_id
WHERE e.kind IN ('earn', 'redeem', 'reverse') AND o.id IS NULL
UNION ALL
SELECT 'order item ' || a.item_id || ': points adjustment names ' || a.source_id || ', not its redeem entry'
FROM order_adjustments a LEFT JOIN member_points_entries e ON e.id = a.source_id AND e.kind = 'redeem' AND e.item_id = a.item_id
WHERE a.source = 'points' AND e.id IS NULL`},
	// catalog and stock
	{"product min price is its cheapest SKU", `
SELECT 'product ' || p.id || ': min_price_fen ' || p.min_price_fen || ' but cheapest on-sale SKU ' || COALESCE(m.price, 0)
FROM products p LEFT JOIN (SELECT product_id, min(price_fen) price FROM skus WHERE status = 'on_sale' GROUP BY product_id) m
  ON m.product_id = p.id
WHERE p.min_price_fen <> COALESCE(m.price, 0)`},
	{"a product on sale has a SKU on sale", `
SELECT 'product ' || p.id || ' is on sale without a SKU on sale' FROM products p
WHERE p.status = 'on_sale' AND NOT EXISTS (SELECT 1 FROM skus s WHERE s.product_id = p.id AND s.status = 'on_sale')`},
	{"stock equals its ledger", `
SELECT 'sku ' || s.id || ': stock ' || s.stock || ' reserved ' || s.reserved || ' sold ' || s.sold ||
       ' but ledger says ' || COALESCE(l.d, 0) || '/' || COALESCE(l.r, 0) || '/' || COALESCE(l.s, 0)
FROM skus s LEFT JOIN (SELECT sku_id, sum(delta) d, sum(reserved_delta) r, sum(sold_delta) s
                       FROM stock_ledger GROUP BY sku_id) l ON l.sku_id = s.id
WHERE s.stock <> COALESCE(l.d, 0) OR s.reserved <> COALESCE(l.r, 0) OR s.sold <> COALESCE(l.s, 0)`},
	// clerks
	{"every pickup order has one pickup code, of its pickup store, and no other order has one", `
SELECT 'order ' || o.order_no || ' (' || o.fulfillment || ', pickup store ' || COALESCE(o.pickup_store_id::text, '-') || '): ' ||
       CASE WHEN p.order_id IS NULL THEN 'no pickup code' ELSE 'pickup code of store ' || p.store_id END
FROM orders o LEFT JOIN pickup_codes p ON p.order_id = o.id
WHERE (o.fulfillment = 'pickup') <> (p.order_id IS NOT NULL) OR p.store_id <> o.pickup_store_id`},
	{"a pickup order is completed exactly when its code was verified", `
SELECT 'order ' || o.order_no || ' is ' || o.status || ' but its pickup code ' ||
       CASE WHEN p.verified_at IS NULL THEN 'was not verified' ELSE 'was verified by staff ' || p.verified_by END
FROM orders o JOIN pickup_codes p ON p.order_id = o.id
WHERE (o.status = 'completed') <> (p.verified_at IS NOT NULL)`},
	{"an in-store order is completed exactly when paid, and has no pickup", `
SELECT 'in-store order ' || o.order_no || ' is ' || o.status || ' (' || o.fulfillment || ')'
FROM orders o
WHERE o.channel = 'in_store' AND (o.fulfillment <> 'in_store' OR o.status IN ('paid', 'shipped'))`},
	// mini-program platform
	{"every spent subscription has its one message", `
SELECT 'acceptance ' || a.id || ' of shopper ' || a.shopper_id || ': used ' || (a.used_at IS NOT NULL) ||
       ' but messages ' || count(m.id)
FROM message_acceptances a LEFT JOIN weapp_messages m ON m.acceptance_id = a.id
GROUP BY a.id HAVING (a.used_at IS NOT NULL) <> (count(m.id) = 1)`},
	{"shipping information is uploaded only for shipped or completed orders", `
SELECT 'order ' || o.order_no || ' (' || o.status || '): shipping upload ' || u.state
FROM shipping_uploads u JOIN orders o ON o.id = u.order_id
WHERE o.status NOT IN ('shipped', 'completed')`},
	// KOC programme
	{"every KOC's balances are the sums of their ledger entries (pending + settleable + settled + paid = accrued − reversed = Σ entries)", `
SELECT 'koc ' || k.shopper_id || ': pending/settleable/settled/paid/reversed ' || k.pending_fen || '/' || k.settleable_fen || '/' ||
       k.settled_fen || '/' || k.paid_fen || '/' || k.reversed_fen || ' but entries say ' || COALESCE(e.p, 0) || '/' ||
       COALESCE(e.sa, 0) || '/' || COALESCE(e.sd, 0) || '/' || COALESCE(e.pd, 0) || '/' || COALESCE(e.r, 0) ||
       ' (accrued ' || COALESCE(e.a, 0) || ', total ' || COALESCE(e.t, 0) || ')'
FROM koc_balances k LEFT JOIN (SELECT koc_id,
        sum(amount_fen) FILTER (WHERE bucket = 'pending') p, sum(amount_fen) FILTER (WHERE bucket = 'settleable') sa,
        sum(amount_fen) FILTER (WHERE bucket = 'settled') sd, sum(amount_fen) FILTER (WHERE bucket = 'paid') pd,
        -sum(amount_fen) FILTER (WHERE kind IN ('reverse', 'carry')) r, sum(amount_fen) FILTER (WHERE kind = 'accrue') a,
        sum(amount_fen) t
    FROM commission_entries GROUP BY koc_id) e ON e.koc_id = k.shopper_id
WHERE k.pending_fen <> COALESCE(e.p, 0) OR k.settleable_fen <> COALESCE(e.sa, 0) OR k.settled_fen <> COALESCE(e.sd, 0)
   OR k.paid_fen <> COALESCE(e.pd, 0) OR k.reversed_fen <> COALESCE(e.r, 0)
   OR k.pending_fen + k.settleable_fen + k.settled_fen + k.paid_fen <> COALESCE(e.a, 0) - COALESCE(e.r, 0)
   OR k.pending_fen + k.settleable_fen + k.settled_fen + k.paid_fen <> COALESCE(e.t, 0)`},
	{"every commission entry traces to an order line (and a settlement entry to its batch item), and no line reverses more than it earned", `
SELECT 'commission entry ' || e.id || ' (' || e.kind || '): ' ||
       CASE WHEN i.id IS NULL THEN 'no order line ' || e.item_id || ' on order ' || e.order_id
            ELSE 'settlement item ' || COALESCE(e.item_ref::text, '-') || ' of koc ' || COALESCE(si.koc_id::text, '-') END
FROM commission_entries e LEFT JOIN order_items i ON i.id = e.item_id AND i.order_id = e.order_id
LEFT JOIN settlement_items si ON si.id = e.item_ref
WHERE i.id IS NULL OR (e.item_ref IS NOT NULL AND si.koc_id <> e.koc_id)
UNION ALL
SELECT 'commission line order ' || l.order_id || ' item ' || l.item_id || ' koc ' || l.koc_id || ': earned ' || l.amount_fen ||
       ' but entries total ' || s.t
FROM commission_lines l JOIN (SELECT order_id, item_id, koc_id, level, sum(amount_fen) t FROM commission_entries
     GROUP BY 1, 2, 3, 4) s USING (order_id, item_id, koc_id, level)
WHERE s.t < 0 OR s.t > l.amount_fen`},
	{"a settlement item's amount is what its settle entries moved; a batch's total is its items'; no transfer is paid twice", `
SELECT 'settlement item ' || i.id || ': amount ' || i.amount_fen || ' but settled entries ' || COALESCE(e.s, 0)
FROM settlement_items i LEFT JOIN (SELECT item_ref, sum(amount_fen) s FROM commission_entries
     WHERE kind = 'settle' AND bucket = 'settled' GROUP BY item_ref) e ON e.item_ref = i.id
WHERE i.amount_fen <> COALESCE(e.s, 0)
UNION ALL
SELECT 'settlement batch ' || b.id || ': total ' || b.total_fen || ' but items ' || COALESCE(sum(i.amount_fen), 0)
FROM settlement_batches b LEFT JOIN settlement_items i ON i.batch_id = b.id GROUP BY b.id HAVING b.total_fen <> COALESCE(sum(i.amount_fen), 0)
UNION ALL
SELECT 'settlement item ' || item_ref || ' paid ' || count(*) || ' times'
FROM (SELECT DISTINCT item_ref, at FROM commission_entries WHERE kind = 'pay') p GROUP BY item_ref HAVING count(*) > 1
UNION ALL
SELECT 'settlement item ' || i.id || ' is ' || i.status || ' but its paid entries total ' || COALESCE(p.s, 0)
FROM settlement_items i LEFT JOIN (SELECT item_ref, sum(amount_fen) s FROM commission_entries
     WHERE kind = 'pay' AND bucket = 'paid' GROUP BY item_ref) p ON p.item_ref = i.id
WHERE (i.status = 'paid') <> (COALESCE(p.s, 0) = i.amount_fen AND i.amount_fen > 0)
UNION ALL
SELECT 'settlement item ' || i.id || ' shares WeChat bill ' || i.bill_no || ' with another'
FROM settlement_items i WHERE i.bill_no IS NOT NULL AND EXISTS (SELECT 1 FROM settlement_items j WHERE j.bill_no = i.bill_no AND j.id <> i.id)`},
	{"Σ transfers paid = Σ paid entries = Σ paid by the batches; an item holds its amount settled exactly while its transfer is open, and a failed one returned it", `
SELECT 'transfers paid ' || t.paid || ' but paid entries total ' || t.entries || ' and paying or paid batches paid ' || t.batches
FROM (SELECT (SELECT COALESCE(sum(amount_fen), 0) FROM settlement_items WHERE status = 'paid') paid,
             (SELECT COALESCE(sum(amount_fen), 0) FROM commission_entries WHERE bucket = 'paid') entries,
             (SELECT COALESCE(sum(i.amount_fen), 0) FROM settlement_items i JOIN settlement_batches b ON b.id = i.batch_id
              WHERE i.status = 'paid' AND b.status IN ('paying', 'paid')) batches) t
WHERE t.paid <> t.entries OR t.paid <> t.batches
UNION ALL
SELECT 'settlement batch ' || b.id || ' is paid but has ' || count(*) FILTER (WHERE i.status IN ('settled', 'transferring')) ||
       ' open items, and its paid and failed items total ' || COALESCE(sum(i.amount_fen) FILTER (WHERE i.status IN ('paid', 'failed')), 0) ||
       ' of ' || b.total_fen
FROM settlement_batches b JOIN settlement_items i ON i.batch_id = b.id WHERE b.status = 'paid'
GROUP BY b.id HAVING count(*) FILTER (WHERE i.status IN ('settled', 'transferring')) > 0
    OR b.total_fen <> COALESCE(sum(i.amount_fen) FILTER (WHERE i.status IN ('paid', 'failed')), 0)
UNION ALL
SELECT 'settlement item ' || i.id || ' is ' || i.status || ' but holds ' || COALESCE(e.s, 0) || ' settled of ' || i.amount_fen
FROM settlement_items i LEFT JOIN (SELECT item_ref, sum(amount_fen) s FROM commission_entries
     WHERE bucket = 'settled' GROUP BY item_ref) e ON e.item_ref = i.id
WHERE COALESCE(e.s, 0) <> CASE WHEN i.status IN ('settled', 'transferring') THEN i.amount_fen ELSE 0 END
UNION ALL
SELECT 'settlement item ' || i.id || ' is ' || i.status || ' but returned ' || COALESCE(r.s, 0) || ' to settleable'
FROM settlement_items i LEFT JOIN (SELECT item_ref, sum(amount_fen) s FROM commission_entries
     WHERE kind = 'return' AND bucket = 'settleable' GROUP BY item_ref) r ON r.item_ref = i.id
WHERE COALESCE(r.s, 0) <> CASE WHEN i.status = 'failed' THEN i.amount_fen ELSE 0 END
UNION ALL
SELECT 'settlement item ' || i.id || ' is ' || i.status || ' in a ' || b.status || ' batch'
FROM settlement_items i JOIN settlement_batches b ON b.id = i.batch_id
WHERE i.status <> 'settled' AND b.status IN ('draft', 'reviewed')`},
	// --- reconciliation ---
	{"every discrepancy belongs to its day's run, and a finished run counts its day's discrepancies", `
SELECT 'discrepancy ' || d.id || ' of ' || d.bill_date || ' names run ' || d.run_id || ' of ' || r.bill_date
FROM reconciliation_discrepancies d JOIN reconciliation_runs r ON r.id = d.run_id
WHERE r.bill_date <> d.bill_date
UNION ALL
SELECT 'run of ' || r.bill_date || ' is ' || r.status || ' and counts ' || r.discrepancies || ' discrepancies, the day has ' || count(d.id)
FROM reconciliation_runs r LEFT JOIN reconciliation_discrepancies d ON d.bill_date = r.bill_date
WHERE r.status = 'succeeded'
GROUP BY r.id HAVING r.discrepancies <> count(d.id)`},
	// --- end reconciliation ---
}

func rollupMatches(table, cols string) Invariant {
	return Invariant{table + " matches its view", `
SELECT '` + table + ` has ' || x::text || ' but its view does not' FROM (
    SELECT ` + cols + ` FROM ` + table + ` EXCEPT SELECT ` + cols + ` FROM ` + table + `_expected) x
UNION ALL
SELECT '` + table + ` lacks ' || x::text FROM (
    SELECT ` + cols + ` FROM ` + table + `_expected EXCEPT SELECT ` + cols + ` FROM ` + table + `) x`}
}

// Check runs every invariant on the pool and returns what each found.
func (d *DB) Check(ctx context.Context) ([]Breaches, error) {
	out := make([]Breaches, 0, len(invariants))
	for _, inv := range invariants {
		var rows []string
		if err := sqlx.SelectContext(ctx, d.x, &rows, inv.query); err != nil {
			return nil, fmt.Errorf("storage: check %q: %w", inv.Name, err)
		}
		b := Breaches{Invariant: inv.Name, Count: len(rows), Lines: rows}
		if len(rows) > MaxBreachLines {
			b.Lines = rows[:MaxBreachLines]
		}
		out = append(out, b)
	}
	return out, nil
}
