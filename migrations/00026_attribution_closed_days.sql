-- +goose Up
-- Exact distinct counts of any closed period (not only a whole month) from
-- rollups of the closed days, so a report of, say, 30 days that ended a
-- month ago reads a row per (day, touchpoint, gap) instead of a row per
-- visitor-day and a distinct count over them (issue 18).
--
-- The observation: a visitor touched a touchpoint in [F, T] exactly when one
-- of their days with it in [F, T] has its previous day with it before F (or
-- none). So each visitor-day keeps the day of the visitor's previous touch of
-- the touchpoint, and the visitor-days are counted per (day, touchpoint,
-- previous day); a report sums the counts of the days in [F, T] whose
-- previous day is < F. For buyers the same holds per order ("unit": an
-- attribution_daily row with n orders is n units of its day): a buyer of
-- [F, T] has exactly one unit in it whose previous unit is < F, and a repeat
-- buyer (≥ 2 orders in it) exactly one whose previous unit is ≥ F and whose
-- second-previous is < F. Units after a day's second never count and are
-- not kept. Previous days more than 400 days back are kept as '-infinity'
-- (no previous day): a report spans at most 366 days, so for it they are
-- before F either way (storage/attribution_reports.go refuses to compile
-- should attribution.MaxReportDays outgrow it).
--
-- Only closed days are folded in — those that ended at least two days ago,
-- as for the months of 00007: their touches and orders no longer change
-- (late touches are refused by the server's window, orders are attributed
-- on the day they are paid, refunds change only the additive columns, which
-- reports keep reading from attribution_tp_daily). Days are folded in order,
-- by close_attribution_days, which carries each (touchpoint, visitor) and
-- (touchpoint, buyer)'s latest closed days in the *_closed state tables.

-- attribution_closed_through: the latest day folded in (one row; none: no
-- day yet).
CREATE TABLE attribution_closed_through (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    through date NOT NULL
);

-- The latest closed day with a touch, per dimension, touchpoint and visitor.
CREATE TABLE touch_visitor_closed (
    kind          text NOT NULL,
    touchpoint_id bigint NOT NULL,
    visitor       text NOT NULL,
    last_day      date NOT NULL,
    PRIMARY KEY (kind, touchpoint_id, visitor)
);

-- Per dimension, closed day, touchpoint and previous day: the visitors of
-- the day whose previous day with the touchpoint is prev_day, and their
-- touches that day (so the day's touches are the sum over prev_day).
CREATE TABLE touch_tp_gaps (
    kind          text NOT NULL,
    day           date NOT NULL,
    touchpoint_id bigint NOT NULL,
    prev_day      date NOT NULL,
    touches       bigint NOT NULL,
    visitors      bigint NOT NULL,
    PRIMARY KEY (kind, day, touchpoint_id, prev_day)
);

-- The latest two closed order units' days, per model, dimension,
-- touchpoint and buyer (prev_day: NULL when one unit so far).
CREATE TABLE attribution_buyer_closed (
    model         text NOT NULL,
    kind          text NOT NULL,
    touchpoint_id bigint NOT NULL,
    shopper_id    bigint NOT NULL,
    last_day      date NOT NULL,
    prev_day      date,
    PRIMARY KEY (model, kind, touchpoint_id, shopper_id)
);

-- Per model, dimension, closed day, touchpoint and the units' previous and
-- second-previous days: the day's first and second units of its buyers.
CREATE TABLE attribution_tp_gaps (
    model         text NOT NULL,
    kind          text NOT NULL,
    day           date NOT NULL,
    touchpoint_id bigint NOT NULL,
    prev_day      date NOT NULL,
    prev2_day     date NOT NULL,
    units         bigint NOT NULL,
    PRIMARY KEY (model, kind, day, touchpoint_id, prev_day, prev2_day)
);

-- The gap rollups and their state computed from scratch from the
-- per-visitor and per-buyer rollups (`yutang check` compares them).
CREATE VIEW touch_visitor_closed_expected AS
SELECT kind, touchpoint_id, visitor, max(day) AS last_day FROM touch_daily
WHERE day <= (SELECT through FROM attribution_closed_through)
GROUP BY kind, touchpoint_id, visitor;

CREATE VIEW touch_tp_gaps_expected AS
SELECT kind, day, touchpoint_id, CASE WHEN prev < day - 400 THEN '-infinity' ELSE prev END AS prev_day,
       sum(touches) AS touches, count(*) AS visitors
FROM (SELECT kind, day, touchpoint_id, touches,
             COALESCE(lag(day) OVER (PARTITION BY kind, touchpoint_id, visitor ORDER BY day), '-infinity') AS prev
      FROM touch_daily WHERE day <= (SELECT through FROM attribution_closed_through)) x
GROUP BY 1, 2, 3, 4;

-- Each order is a unit of its day; a day's third and later units are not kept.
CREATE VIEW attribution_tp_gaps_expected AS
SELECT model, kind, day, touchpoint_id,
       CASE WHEN p1 < day - 400 THEN '-infinity' ELSE p1 END AS prev_day,
       CASE WHEN p2 < day - 400 THEN '-infinity' ELSE p2 END AS prev2_day, count(*) AS units
FROM (SELECT d.model, d.kind, d.day, d.touchpoint_id, g.u,
             COALESCE(lag(d.day) OVER w, '-infinity') AS p1, COALESCE(lag(d.day, 2) OVER w, '-infinity') AS p2
      FROM attribution_daily d CROSS JOIN LATERAL generate_series(1, d.orders) g(u)
      WHERE d.orders > 0 AND d.day <= (SELECT through FROM attribution_closed_through)
      WINDOW w AS (PARTITION BY d.model, d.kind, d.touchpoint_id, d.shopper_id ORDER BY d.day, g.u)) x
WHERE u <= 2
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE VIEW attribution_buyer_closed_expected AS
SELECT model, kind, touchpoint_id, shopper_id, max(day) AS last_day,
       (array_agg(day ORDER BY day DESC))[2] AS prev_day
FROM attribution_daily d CROSS JOIN LATERAL generate_series(1, d.orders) g
WHERE d.orders > 0 AND d.day <= (SELECT through FROM attribution_closed_through)
GROUP BY model, kind, touchpoint_id, shopper_id;

-- +goose StatementBegin
-- close_attribution_days folds the days after the latest folded one (or
-- from the first day with data) through through_day, at most max_days of
-- them, into the gap rollups, in one pass; it returns how many days it
-- folded (0: already done).
CREATE FUNCTION close_attribution_days(through_day date, max_days int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    done date;
    start_day date;
BEGIN
    -- One closer at a time; a second waits, then finds the days done.
    LOCK TABLE attribution_closed_through IN EXCLUSIVE MODE;
    SELECT c.through INTO done FROM attribution_closed_through c;
    IF done IS NULL THEN
        SELECT least((SELECT min(day) FROM touch_daily), (SELECT min(day) FROM attribution_daily)) INTO start_day;
        done := COALESCE(start_day, through_day + 1) - 1;
    END IF;
    through_day := least(through_day, done + max_days);
    IF done >= through_day THEN
        RETURN 0;
    END IF;

    CREATE TEMP TABLE close_touch AS
    SELECT d.kind, d.day, d.touchpoint_id, d.visitor, d.touches,
           COALESCE(lag(d.day) OVER w, s.last_day, '-infinity') AS prev,
           lead(d.day) OVER w IS NULL AS latest
    FROM touch_daily d
    LEFT JOIN touch_visitor_closed s ON s.kind = d.kind AND s.touchpoint_id = d.touchpoint_id AND s.visitor = d.visitor
    WHERE d.day > done AND d.day <= through_day
    WINDOW w AS (PARTITION BY d.kind, d.touchpoint_id, d.visitor ORDER BY d.day);

    INSERT INTO touch_tp_gaps (kind, day, touchpoint_id, prev_day, touches, visitors)
    SELECT kind, day, touchpoint_id, CASE WHEN prev < day - 400 THEN '-infinity' ELSE prev END, sum(touches), count(*)
    FROM close_touch GROUP BY 1, 2, 3, 4;

    INSERT INTO touch_visitor_closed AS s (kind, touchpoint_id, visitor, last_day)
    SELECT kind, touchpoint_id, visitor, day FROM close_touch WHERE latest
    ON CONFLICT (kind, touchpoint_id, visitor) DO UPDATE SET last_day = EXCLUDED.last_day;

    -- l1, l2: the days of the two units before a row's first unit.
    CREATE TEMP TABLE close_buy AS
    SELECT model, kind, day, touchpoint_id, shopper_id, orders, latest,
           COALESCE(p1, s_last, '-infinity') AS l1,
           CASE WHEN p1 IS NULL THEN COALESCE(s_prev, '-infinity')
                WHEN p1_orders >= 2 THEN p1
                ELSE COALESCE(p2, s_last, '-infinity') END AS l2
    FROM (SELECT d.model, d.kind, d.day, d.touchpoint_id, d.shopper_id, d.orders,
                 lag(d.day) OVER w AS p1, lag(d.orders) OVER w AS p1_orders, lag(d.day, 2) OVER w AS p2,
                 lead(d.day) OVER w IS NULL AS latest, s.last_day AS s_last, s.prev_day AS s_prev
          FROM attribution_daily d
          LEFT JOIN attribution_buyer_closed s ON s.model = d.model AND s.kind = d.kind
               AND s.touchpoint_id = d.touchpoint_id AND s.shopper_id = d.shopper_id
          WHERE d.day > done AND d.day <= through_day AND d.orders > 0
          WINDOW w AS (PARTITION BY d.model, d.kind, d.touchpoint_id, d.shopper_id ORDER BY d.day)) x;

    INSERT INTO attribution_tp_gaps (model, kind, day, touchpoint_id, prev_day, prev2_day, units)
    SELECT model, kind, day, touchpoint_id, CASE WHEN p < day - 400 THEN '-infinity' ELSE p END,
           CASE WHEN p2 < day - 400 THEN '-infinity' ELSE p2 END, count(*)
    FROM (SELECT model, kind, day, touchpoint_id, l1 AS p, l2 AS p2 FROM close_buy
          UNION ALL
          SELECT model, kind, day, touchpoint_id, day, l1 FROM close_buy WHERE orders >= 2) u
    GROUP BY 1, 2, 3, 4, 5, 6;

    INSERT INTO attribution_buyer_closed AS s (model, kind, touchpoint_id, shopper_id, last_day, prev_day)
    SELECT model, kind, touchpoint_id, shopper_id, day,
           CASE WHEN orders >= 2 THEN day WHEN l1 = '-infinity' THEN NULL ELSE l1 END
    FROM close_buy WHERE latest
    ON CONFLICT (model, kind, touchpoint_id, shopper_id) DO UPDATE SET last_day = EXCLUDED.last_day, prev_day = EXCLUDED.prev_day;

    INSERT INTO attribution_closed_through (one, through) VALUES (true, through_day)
    ON CONFLICT (one) DO UPDATE SET through = EXCLUDED.through;
    DROP TABLE close_touch, close_buy;
    RETURN through_day - done;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION close_attribution_days(date, int);
DROP VIEW attribution_buyer_closed_expected, attribution_tp_gaps_expected, touch_tp_gaps_expected, touch_visitor_closed_expected;
DROP TABLE attribution_tp_gaps, attribution_buyer_closed, touch_tp_gaps, touch_visitor_closed, attribution_closed_through;
