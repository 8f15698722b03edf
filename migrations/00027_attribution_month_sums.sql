-- +goose Up
-- A closed month's report from its snapshot alone (issue 18: the KOC report
-- of a closed month read every (day, touchpoint) row of the month, ~570 ms
-- at 10M touches). The month's touches, orders, new-customer orders and
-- credited amounts no longer change once it has closed (late touches are
-- refused by the server's window, orders are attributed on the day they are
-- paid, and a refund's reversal adds to refunded_fen only), so the snapshot
-- keeps them beside the distinct counts. Refunds still move refunded_fen of
-- a closed day: reports sum it from attribution_tp_daily's rows that have
-- any, through a partial index.

ALTER TABLE touch_month_visitors ADD COLUMN touches bigint NOT NULL DEFAULT 0;
ALTER TABLE attribution_month_buyers
    ADD COLUMN orders bigint NOT NULL DEFAULT 0,
    ADD COLUMN new_customer_orders bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_fen bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW touch_month_visitors_expected AS
SELECT v.kind, m.month, v.touchpoint_id, count(*) AS visitors, sum(v.touches)::bigint AS touches
FROM attribution_months m
CROSS JOIN LATERAL (SELECT kind, touchpoint_id, visitor, sum(touches) AS touches FROM touch_daily
                    WHERE day >= m.month AND day < (m.month + interval '1 month')::date
                    GROUP BY kind, touchpoint_id, visitor) v
GROUP BY v.kind, m.month, v.touchpoint_id;

-- Every touchpoint with a buyer or a credited amount in the month (a
-- credited amount without an order cannot happen: a credit counts an order
-- when its sum is positive; the view says so rather than assume it).
CREATE OR REPLACE VIEW attribution_month_buyers_expected AS
SELECT b.model, b.kind, m.month, b.touchpoint_id, count(*) FILTER (WHERE b.orders > 0) AS buyers,
       count(*) FILTER (WHERE b.orders >= 2) AS repeat_buyers, sum(b.orders)::bigint AS orders,
       sum(b.nco)::bigint AS new_customer_orders, sum(b.credited)::bigint AS credited_fen
FROM attribution_months m
CROSS JOIN LATERAL (SELECT model, kind, touchpoint_id, shopper_id, sum(orders) AS orders,
                           sum(new_customer_orders) AS nco, sum(credited_fen) AS credited
                    FROM attribution_daily
                    WHERE day >= m.month AND day < (m.month + interval '1 month')::date
                    GROUP BY model, kind, touchpoint_id, shopper_id) b
GROUP BY b.model, b.kind, m.month, b.touchpoint_id
HAVING count(*) FILTER (WHERE b.orders > 0) > 0 OR sum(b.nco) <> 0 OR sum(b.credited) <> 0;

-- The months closed before this migration get their sums.
UPDATE touch_month_visitors v SET touches = e.touches
FROM touch_month_visitors_expected e
WHERE e.kind = v.kind AND e.month = v.month AND e.touchpoint_id = v.touchpoint_id;
UPDATE attribution_month_buyers b SET orders = e.orders, new_customer_orders = e.new_customer_orders,
                                      credited_fen = e.credited_fen
FROM attribution_month_buyers_expected e
WHERE e.model = b.model AND e.kind = b.kind AND e.month = b.month AND e.touchpoint_id = b.touchpoint_id;
INSERT INTO attribution_month_buyers SELECT * FROM attribution_month_buyers_expected ON CONFLICT DO NOTHING;

CREATE INDEX attribution_tp_daily_refunded ON attribution_tp_daily (model, kind, day, touchpoint_id)
    INCLUDE (refunded_fen) WHERE refunded_fen <> 0;

-- +goose Down
DROP INDEX attribution_tp_daily_refunded;
DROP VIEW touch_month_visitors_expected, attribution_month_buyers_expected;
CREATE VIEW touch_month_visitors_expected AS
SELECT v.kind, m.month, v.touchpoint_id, count(*) AS visitors
FROM attribution_months m
CROSS JOIN LATERAL (SELECT DISTINCT kind, touchpoint_id, visitor FROM touch_daily
                    WHERE day >= m.month AND day < (m.month + interval '1 month')::date) v
GROUP BY v.kind, m.month, v.touchpoint_id;
CREATE VIEW attribution_month_buyers_expected AS
SELECT b.model, b.kind, m.month, b.touchpoint_id, count(*) AS buyers, count(*) FILTER (WHERE b.orders >= 2) AS repeat_buyers
FROM attribution_months m
CROSS JOIN LATERAL (SELECT model, kind, touchpoint_id, shopper_id, sum(orders) AS orders FROM attribution_daily
                    WHERE day >= m.month AND day < (m.month + interval '1 month')::date
                    GROUP BY model, kind, touchpoint_id, shopper_id HAVING sum(orders) > 0) b
GROUP BY b.model, b.kind, m.month, b.touchpoint_id;
DELETE FROM attribution_month_buyers WHERE buyers = 0;
ALTER TABLE attribution_month_buyers DROP COLUMN orders, DROP COLUMN new_customer_orders, DROP COLUMN credited_fen;
ALTER TABLE touch_month_visitors DROP COLUMN touches;
