-- +goose Up
-- The period's credited amount of a dimension from the day totals (issue
-- 18: a report summed it from attribution_tp_daily, ~130,000 rows for the
-- KOC dimension over 30 days at 10M touches, 40–65 ms of every report).
-- Each (model, day, shard) row now also carries the credited amount of each
-- touchpoint kind, added by the statement that saves an order's attribution
-- (storage/attribution_credit.go); a report reads ~30 × 64 rows. Credited
-- amounts never change after that statement (a refund's reversal adds to
-- refunded_fen only), so nothing else writes them.
ALTER TABLE attribution_day_totals
    ADD COLUMN credited_post_fen bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_koc_fen bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_group_fen bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_store_fen bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_clerk_fen bigint NOT NULL DEFAULT 0;

-- Per model and paid day: the orders (from the attributions) and each
-- kind's credited amount (from the per-buyer rollup). A credited amount on
-- a day without an attributed order cannot happen; the FULL JOIN lets
-- `yutang check` say so should it.
DROP VIEW attribution_day_totals_expected;
CREATE VIEW attribution_day_totals_expected AS
SELECT COALESCE(o.model, c.model) AS model, COALESCE(o.day, c.day) AS day,
       COALESCE(o.orders, 0) AS orders, COALESCE(o.direct_orders, 0) AS direct_orders, COALESCE(o.paid_fen, 0) AS paid_fen,
       COALESCE(c.post, 0) AS credited_post_fen, COALESCE(c.koc, 0) AS credited_koc_fen,
       COALESCE(c.grp, 0) AS credited_group_fen, COALESCE(c.store, 0) AS credited_store_fen,
       COALESCE(c.clerk, 0) AS credited_clerk_fen
FROM (SELECT m.model, a.day, count(*) AS orders, count(*) FILTER (WHERE m.direct) AS direct_orders,
             sum(a.paid_fen)::bigint AS paid_fen
      FROM order_attributions a JOIN order_attribution_models m ON m.order_id = a.order_id
      GROUP BY m.model, a.day) o
FULL JOIN (SELECT model, day,
                  sum(credited_fen) FILTER (WHERE kind = 'post')::bigint AS post,
                  sum(credited_fen) FILTER (WHERE kind = 'koc')::bigint AS koc,
                  sum(credited_fen) FILTER (WHERE kind = 'group')::bigint AS grp,
                  sum(credited_fen) FILTER (WHERE kind = 'store')::bigint AS store,
                  sum(credited_fen) FILTER (WHERE kind = 'clerk')::bigint AS clerk
           FROM attribution_daily GROUP BY model, day) c
       ON c.model = o.model AND c.day = o.day;

-- +goose StatementBegin
-- rebuild_attribution_rollups refills the rollups of 00006 from their views
-- (the report benchmark calls it after generating data).
CREATE OR REPLACE FUNCTION rebuild_attribution_rollups() RETURNS void LANGUAGE sql AS $$
    TRUNCATE touch_visitor_last, touch_tp_daily, attribution_buyer_last, attribution_tp_daily, attribution_day_totals;
    INSERT INTO touch_visitor_last (kind, touchpoint_id, visitor, last_day) SELECT * FROM touch_visitor_last_expected;
    INSERT INTO touch_tp_daily SELECT * FROM touch_tp_daily_expected;
    INSERT INTO attribution_buyer_last (model, kind, touchpoint_id, shopper_id, last_day, prev_day)
        SELECT * FROM attribution_buyer_last_expected;
    INSERT INTO attribution_tp_daily SELECT * FROM attribution_tp_daily_expected;
    INSERT INTO attribution_day_totals (model, day, shard, orders, direct_orders, paid_fen, credited_post_fen,
                                        credited_koc_fen, credited_group_fen, credited_store_fen, credited_clerk_fen)
        SELECT model, day, 0, orders, direct_orders, paid_fen, credited_post_fen, credited_koc_fen, credited_group_fen,
               credited_store_fen, credited_clerk_fen
        FROM attribution_day_totals_expected;
$$;
-- +goose StatementEnd

-- The days attributed before this migration: each (model, day)'s credited
-- amounts, from attribution_tp_daily (which `yutang check` holds equal to
-- attribution_daily, and which has fewer rows), go on its lowest shard.
UPDATE attribution_day_totals t
SET credited_post_fen = c.post, credited_koc_fen = c.koc, credited_group_fen = c.grp,
    credited_store_fen = c.store, credited_clerk_fen = c.clerk
FROM (SELECT model, day, min(shard) AS shard FROM attribution_day_totals GROUP BY model, day) s
JOIN (SELECT model, day,
             COALESCE(sum(credited_fen) FILTER (WHERE kind = 'post'), 0) AS post,
             COALESCE(sum(credited_fen) FILTER (WHERE kind = 'koc'), 0) AS koc,
             COALESCE(sum(credited_fen) FILTER (WHERE kind = 'group'), 0) AS grp,
             COALESCE(sum(credited_fen) FILTER (WHERE kind = 'store'), 0) AS store,
             COALESCE(sum(credited_fen) FILTER (WHERE kind = 'clerk'), 0) AS clerk
      FROM attribution_tp_daily GROUP BY model, day) c ON c.model = s.model AND c.day = s.day
WHERE t.model = s.model AND t.day = s.day AND t.shard = s.shard;

-- +goose Down
DROP VIEW attribution_day_totals_expected;
CREATE VIEW attribution_day_totals_expected AS
SELECT m.model, a.day, count(*) AS orders, count(*) FILTER (WHERE m.direct) AS direct_orders, sum(a.paid_fen) AS paid_fen
FROM order_attributions a JOIN order_attribution_models m ON m.order_id = a.order_id
GROUP BY m.model, a.day;
ALTER TABLE attribution_day_totals DROP COLUMN credited_post_fen, DROP COLUMN credited_koc_fen,
    DROP COLUMN credited_group_fen, DROP COLUMN credited_store_fen, DROP COLUMN credited_clerk_fen;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION rebuild_attribution_rollups() RETURNS void LANGUAGE sql AS $$
    TRUNCATE touch_visitor_last, touch_tp_daily, attribution_buyer_last, attribution_tp_daily, attribution_day_totals;
    INSERT INTO touch_visitor_last (kind, touchpoint_id, visitor, last_day) SELECT * FROM touch_visitor_last_expected;
    INSERT INTO touch_tp_daily SELECT * FROM touch_tp_daily_expected;
    INSERT INTO attribution_buyer_last (model, kind, touchpoint_id, shopper_id, last_day, prev_day)
        SELECT * FROM attribution_buyer_last_expected;
    INSERT INTO attribution_tp_daily SELECT * FROM attribution_tp_daily_expected;
    INSERT INTO attribution_day_totals SELECT model, day, 0, orders, direct_orders, paid_fen FROM attribution_day_totals_expected;
$$;
-- +goose StatementEnd
