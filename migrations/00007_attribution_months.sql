-- +goose Up
-- Distinct visitors, buyers and repeat buyers of each closed calendar month
-- (Asia/Shanghai), per touchpoint, computed once when the month has closed
-- (and every touch of it has arrived: a touch may be reported up to a day
-- late), so a report of a whole past month needs no distinct count. The
-- numbers of a closed month never change: late touches are refused by the
-- server's window, orders are attributed on the day they are paid, and
-- refunds change only the additive columns.

CREATE TABLE attribution_months (
    month       date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    computed_at timestamptz NOT NULL
);

CREATE TABLE touch_month_visitors (
    kind          text NOT NULL,
    month         date NOT NULL REFERENCES attribution_months (month),
    touchpoint_id bigint NOT NULL,
    visitors      bigint NOT NULL,
    PRIMARY KEY (kind, month, touchpoint_id)
);

CREATE TABLE attribution_month_buyers (
    model         text NOT NULL,
    kind          text NOT NULL,
    month         date NOT NULL REFERENCES attribution_months (month),
    touchpoint_id bigint NOT NULL,
    buyers        bigint NOT NULL,
    repeat_buyers bigint NOT NULL,
    PRIMARY KEY (model, kind, month, touchpoint_id)
);

-- The distinct counts of every month in attribution_months, from the
-- per-visitor and per-buyer rollups (`yutang check` compares them).
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

-- +goose StatementBegin
-- close_attribution_month records month m (its first day) and computes its
-- distinct counts; false when it was already closed.
CREATE FUNCTION close_attribution_month(m date) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attribution_months (month, computed_at) VALUES (m, now()) ON CONFLICT (month) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO touch_month_visitors SELECT * FROM touch_month_visitors_expected WHERE month = m;
    INSERT INTO attribution_month_buyers SELECT * FROM attribution_month_buyers_expected WHERE month = m;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION close_attribution_month(date);
DROP VIEW attribution_month_buyers_expected, touch_month_visitors_expected;
DROP TABLE attribution_month_buyers, touch_month_visitors, attribution_months;
