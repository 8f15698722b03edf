package main

import (
	"context"
	"fmt"
	"io"
)

// invariant is one named query that returns the rows breaking a rule.
type invariant struct {
	name  string
	query string // returns one text column describing each breach
}

// invariants are checked by `yutang check`; each area adds its own.
var invariants = []invariant{
	// invariants:orders
	{"order totals add up", `
SELECT 'order ' || o.order_no || ': subtotal ' || o.subtotal_fen || ' discount ' || o.discount_fen ||
       ' freight ' || o.freight_fen || ' payable ' || o.payable_fen || ' but lines list ' || COALESCE(i.list, 0) ||
       ' paid ' || COALESCE(i.paid, 0)
FROM orders o LEFT JOIN (SELECT order_id, sum(list_total_fen) list, sum(paid_fen) paid,
        sum(campaign_discount_fen) c, sum(member_discount_fen) m, sum(coupon_discount_fen) k, sum(points_discount_fen) p
    FROM order_items GROUP BY order_id) i ON i.order_id = o.id
WHERE o.payable_fen <> o.subtotal_fen - o.discount_fen + o.freight_fen
   OR o.subtotal_fen <> COALESCE(i.list, 0) OR o.payable_fen - o.freight_fen <> COALESCE(i.paid, 0)
   OR o.campaign_discount_fen <> COALESCE(i.c, 0) OR o.member_discount_fen <> COALESCE(i.m, 0)
   OR o.coupon_discount_fen <> COALESCE(i.k, 0) OR o.points_discount_fen <> COALESCE(i.p, 0)`},
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
	// end invariants:orders
	// invariants:payments
	{"paid orders have one payment of their payable", `
SELECT 'order ' || o.order_no || ' (' || o.status || '): ' || count(p.id) || ' applied payments totalling ' ||
       COALESCE(sum(p.amount_fen), 0) || ', payable ' || o.payable_fen
FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.outcome = 'applied'
GROUP BY o.id
HAVING (o.status IN ('paid', 'shipped', 'completed') AND (count(p.id) <> 1 OR sum(p.amount_fen) <> o.payable_fen))
    OR (o.status IN ('pending_payment', 'cancelled') AND count(p.id) > 0)`},
	{"a paid attempt has its payment", `
SELECT 'attempt ' || a.out_trade_no || ' is ' || a.status || ' but ' ||
       CASE WHEN p.id IS NULL THEN 'has no payment' ELSE 'payment ' || p.transaction_id || ' of ' || p.amount_fen END
FROM payment_attempts a LEFT JOIN payments p ON p.attempt_id = a.id
WHERE (a.status = 'paid') <> (p.id IS NOT NULL) OR p.transaction_id <> a.transaction_id OR p.amount_fen <> a.amount_fen`},
	{"refunds never exceed the payment", `
SELECT 'payment ' || p.transaction_id || ': ' || sum(r.amount_fen) || ' refunded or refunding of ' || p.amount_fen
FROM payments p JOIN refunds r ON r.payment_id = p.id AND r.status NOT IN ('closed', 'failed')
GROUP BY p.id HAVING sum(r.amount_fen) > p.amount_fen`},
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
	// end invariants:payments
	// invariants:attribution
	rollupMatches("touch_visitor_last", "kind, touchpoint_id, visitor, last_day"),
	rollupMatches("touch_tp_daily", "kind, day, touchpoint_id, touches, visitors, last_visitors"),
	rollupMatches("attribution_buyer_last", "model, kind, touchpoint_id, shopper_id, last_day, prev_day"),
	rollupMatches("attribution_tp_daily", "model, kind, day, touchpoint_id, orders, new_customer_orders, credited_fen, "+
		"refunded_fen, last_buyers, prev_buyers"),
	rollupMatches("touch_month_visitors", "kind, month, touchpoint_id, visitors"),
	rollupMatches("attribution_month_buyers", "model, kind, month, touchpoint_id, buyers, repeat_buyers"),
	{"attribution_day_totals matches its view", `
SELECT 'attribution_day_totals ' || model || ' ' || day || ': ' || COALESCE(x.orders, 0) || ' orders (' ||
       COALESCE(x.direct_orders, 0) || ' direct) ' || COALESCE(x.paid_fen, 0) || ' fen but orders say ' ||
       COALESCE(e.orders, 0) || ' (' || COALESCE(e.direct_orders, 0) || ') ' || COALESCE(e.paid_fen, 0)
FROM (SELECT model, day, sum(orders) AS orders, sum(direct_orders) AS direct_orders, sum(paid_fen) AS paid_fen
      FROM attribution_day_totals GROUP BY model, day) x
FULL JOIN attribution_day_totals_expected e USING (model, day)
WHERE x.orders IS DISTINCT FROM e.orders OR x.direct_orders IS DISTINCT FROM e.direct_orders
   OR x.paid_fen IS DISTINCT FROM e.paid_fen`},
	// end invariants:attribution
	{"stock equals its ledger", `
SELECT 'sku ' || s.id || ': stock ' || s.stock || ' reserved ' || s.reserved || ' sold ' || s.sold ||
       ' but ledger says ' || COALESCE(l.d, 0) || '/' || COALESCE(l.r, 0) || '/' || COALESCE(l.s, 0)
FROM skus s LEFT JOIN (SELECT sku_id, sum(delta) d, sum(reserved_delta) r, sum(sold_delta) s
                       FROM stock_ledger GROUP BY sku_id) l ON l.sku_id = s.id
WHERE s.stock <> COALESCE(l.d, 0) OR s.reserved <> COALESCE(l.r, 0) OR s.sold <> COALESCE(l.s, 0)`},
}

// rollupMatches compares a rollup maintained on write with its view, which
// computes it from scratch (migration 00006): any row in one and not the
// other is a breach.
func rollupMatches(table, cols string) invariant {
	return invariant{table + " matches its view", `
SELECT '` + table + ` has ' || x::text || ' but its view does not' FROM (
    SELECT ` + cols + ` FROM ` + table + ` EXCEPT SELECT ` + cols + ` FROM ` + table + `_expected) x
UNION ALL
SELECT '` + table + ` lacks ' || x::text FROM (
    SELECT ` + cols + ` FROM ` + table + `_expected EXCEPT SELECT ` + cols + ` FROM ` + table + `) x`}
}

// check verifies every invariant and fails when any is broken.
func (a *app) check(ctx context.Context, out io.Writer) error {
	breaches := 0
	for _, inv := range invariants {
		var rows []string
		if err := a.db.SelectContext(ctx, &rows, inv.query); err != nil {
			return fmt.Errorf("check %q: %w", inv.name, err)
		}
		status := "ok"
		if len(rows) > 0 {
			status = fmt.Sprintf("BROKEN (%d)", len(rows))
		}
		fmt.Fprintf(out, "%-40s %s\n", inv.name, status)
		for i, r := range rows {
			if i == 20 {
				fmt.Fprintf(out, "  … and %d more\n", len(rows)-20)
				break
			}
			fmt.Fprintln(out, "  "+r)
		}
		breaches += len(rows)
	}
	if breaches > 0 {
		return fmt.Errorf("check: %d breaches", breaches)
	}
	return nil
}
