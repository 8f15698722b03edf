-- +goose Up
-- Rollups that make a report a sum over (day, touchpoint) rows instead of a
-- distinct count over visitors or buyers, maintained on write beside the
-- per-visitor rollups of 00005 (which stay: they answer periods that end
-- before today, and the daily series).
--
-- Distinct visitors over "from … today" are exact and additive through one
-- observation: a visitor touched a touchpoint on some day in [from, today]
-- exactly when the latest day they touched it is ≥ from. So each
-- (touchpoint, visitor) keeps its latest day, and each (day, touchpoint)
-- counts the visitors whose latest day it is; the report sums the counts of
-- the days ≥ from. The same holds for buyers (latest order day) and repeat
-- buyers (the day of their second-latest order: two orders in the period
-- exactly when it is ≥ from).
--
-- Each rollup has a view computing it from scratch (from the per-visitor
-- rollups); the migration fills the rollups from the views and `yutang
-- check` compares the two.

-- touch_visitor_last: per dimension, touchpoint and visitor, the latest day
-- of a touch. was_day carries the previous latest day out of an upsert's
-- RETURNING (so the counts below move from it); it means nothing else.
CREATE TABLE touch_visitor_last (
    kind          text NOT NULL,
    touchpoint_id bigint NOT NULL,
    visitor       text NOT NULL,
    last_day      date NOT NULL,
    was_day       date,
    PRIMARY KEY (kind, touchpoint_id, visitor)
);

-- touch_tp_daily: per dimension, day and touchpoint: touches, distinct
-- visitors that day, and last_visitors — the visitors whose latest day with
-- the touchpoint is this day.
CREATE TABLE touch_tp_daily (
    kind          text NOT NULL,
    day           date NOT NULL,
    touchpoint_id bigint NOT NULL,
    touches       bigint NOT NULL,
    visitors      bigint NOT NULL,
    last_visitors bigint NOT NULL,
    PRIMARY KEY (kind, day, touchpoint_id)
) WITH (fillfactor = 80);

-- attribution_buyer_last: per model, dimension, touchpoint and buyer, the
-- day of the latest order credited to the touchpoint and of the one before
-- (the same day when both were that day). was_* carry the previous values
-- out of an upsert's RETURNING.
CREATE TABLE attribution_buyer_last (
    model         text NOT NULL,
    kind          text NOT NULL,
    touchpoint_id bigint NOT NULL,
    shopper_id    bigint NOT NULL,
    last_day      date NOT NULL,
    prev_day      date,
    was_last      date,
    was_prev      date,
    PRIMARY KEY (model, kind, touchpoint_id, shopper_id)
);

-- attribution_tp_daily: per model, dimension, day (the order's paid day)
-- and touchpoint: orders credited, new-customer orders, credited and
-- refunded fen; last_buyers — buyers whose latest order credited here is
-- of this day; prev_buyers — buyers whose second-latest is.
CREATE TABLE attribution_tp_daily (
    model               text NOT NULL,
    kind                text NOT NULL,
    day                 date NOT NULL,
    touchpoint_id       bigint NOT NULL,
    orders              bigint NOT NULL,
    new_customer_orders bigint NOT NULL,
    credited_fen        bigint NOT NULL,
    refunded_fen        bigint NOT NULL,
    last_buyers         bigint NOT NULL,
    prev_buyers         bigint NOT NULL,
    PRIMARY KEY (model, kind, day, touchpoint_id)
) WITH (fillfactor = 80);

-- attribution_day_totals: per model and paid day, the orders attributed,
-- how many had no candidate touch, and their paid goods amount. Spread over
-- 8 shards (order id mod 8) so concurrent payments rarely wait on one row.
CREATE TABLE attribution_day_totals (
    model         text NOT NULL,
    day           date NOT NULL,
    shard         smallint NOT NULL CHECK (shard BETWEEN 0 AND 7),
    orders        bigint NOT NULL,
    direct_orders bigint NOT NULL,
    paid_fen      bigint NOT NULL,
    PRIMARY KEY (model, day, shard)
);

CREATE VIEW touch_visitor_last_expected AS
SELECT kind, touchpoint_id, visitor, max(day) AS last_day
FROM touch_daily GROUP BY kind, touchpoint_id, visitor;

CREATE VIEW touch_tp_daily_expected AS
SELECT d.kind, d.day, d.touchpoint_id, d.touches, d.visitors, COALESCE(l.n, 0) AS last_visitors
FROM (SELECT kind, day, touchpoint_id, sum(touches) AS touches, count(*) AS visitors
      FROM touch_daily GROUP BY kind, day, touchpoint_id) d
LEFT JOIN (SELECT kind, last_day, touchpoint_id, count(*) AS n
           FROM touch_visitor_last_expected GROUP BY kind, last_day, touchpoint_id) l
       ON l.kind = d.kind AND l.last_day = d.day AND l.touchpoint_id = d.touchpoint_id;

-- Each order counts once per unit of attribution_daily.orders, so the
-- second-latest day is the second element of the days repeated by orders.
CREATE VIEW attribution_buyer_last_expected AS
SELECT d.model, d.kind, d.touchpoint_id, d.shopper_id, max(d.day) AS last_day,
       (array_agg(d.day ORDER BY d.day DESC))[2] AS prev_day
FROM attribution_daily d CROSS JOIN LATERAL generate_series(1, d.orders) g
WHERE d.orders > 0
GROUP BY d.model, d.kind, d.touchpoint_id, d.shopper_id;

CREATE VIEW attribution_tp_daily_expected AS
SELECT d.model, d.kind, d.day, d.touchpoint_id, d.orders, d.new_customer_orders, d.credited_fen, d.refunded_fen,
       COALESCE(b.n, 0) AS last_buyers, COALESCE(p.n, 0) AS prev_buyers
FROM (SELECT model, kind, day, touchpoint_id, sum(orders) AS orders, sum(new_customer_orders) AS new_customer_orders,
             sum(credited_fen) AS credited_fen, sum(refunded_fen) AS refunded_fen
      FROM attribution_daily GROUP BY model, kind, day, touchpoint_id) d
LEFT JOIN (SELECT model, kind, last_day, touchpoint_id, count(*) AS n FROM attribution_buyer_last_expected
           GROUP BY model, kind, last_day, touchpoint_id) b
       ON b.model = d.model AND b.kind = d.kind AND b.last_day = d.day AND b.touchpoint_id = d.touchpoint_id
LEFT JOIN (SELECT model, kind, prev_day, touchpoint_id, count(*) AS n FROM attribution_buyer_last_expected
           WHERE prev_day IS NOT NULL GROUP BY model, kind, prev_day, touchpoint_id) p
       ON p.model = d.model AND p.kind = d.kind AND p.prev_day = d.day AND p.touchpoint_id = d.touchpoint_id;

CREATE VIEW attribution_day_totals_expected AS
SELECT m.model, a.day, count(*) AS orders, count(*) FILTER (WHERE m.direct) AS direct_orders, sum(a.paid_fen) AS paid_fen
FROM order_attributions a JOIN order_attribution_models m ON m.order_id = a.order_id
GROUP BY m.model, a.day;

-- +goose StatementBegin
-- rebuild_attribution_rollups refills the rollups above from their views
-- (used here, and by the report benchmark after generating data).
CREATE FUNCTION rebuild_attribution_rollups() RETURNS void LANGUAGE sql AS $$
    TRUNCATE touch_visitor_last, touch_tp_daily, attribution_buyer_last, attribution_tp_daily, attribution_day_totals;
    INSERT INTO touch_visitor_last (kind, touchpoint_id, visitor, last_day) SELECT * FROM touch_visitor_last_expected;
    INSERT INTO touch_tp_daily SELECT * FROM touch_tp_daily_expected;
    INSERT INTO attribution_buyer_last (model, kind, touchpoint_id, shopper_id, last_day, prev_day)
        SELECT * FROM attribution_buyer_last_expected;
    INSERT INTO attribution_tp_daily SELECT * FROM attribution_tp_daily_expected;
    INSERT INTO attribution_day_totals SELECT model, day, 0, orders, direct_orders, paid_fen FROM attribution_day_totals_expected;
$$;
-- +goose StatementEnd
SELECT rebuild_attribution_rollups();

-- +goose Down
DROP FUNCTION rebuild_attribution_rollups();
DROP VIEW attribution_day_totals_expected, attribution_tp_daily_expected, attribution_buyer_last_expected,
    touch_tp_daily_expected, touch_visitor_last_expected;
DROP TABLE attribution_day_totals, attribution_tp_daily, attribution_buyer_last, touch_tp_daily, touch_visitor_last;
