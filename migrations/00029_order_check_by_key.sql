-- +goose Up
-- The deferred check that an order's discounts equal its adjustments
-- (00008) read every order line of the mall: under the program's generic
-- plans (storage/driver.go: plan_cache_mode=force_generic_plan, which
-- PL/pgSQL's statements follow too) its GROUP BY i.id … LIMIT 1 was planned
-- as a walk of order_items in primary-key order, filtering on the order —
-- ~1 ms per check at 3,000 lines, and it runs once per line and per
-- adjustment of every order placed, so placing slowed with the table's
-- size. Each line's adjustments are now summed by key, and lines are read
-- from the order's index in line order (issue 18).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION check_order_discounts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    oid bigint := NEW.order_id;
    bad text;
BEGIN
    SELECT 'line ' || i.line_no || ': discount ' || i.discount_fen || ' but adjustments ' || x.adjusted
      INTO bad
      FROM order_items i
      CROSS JOIN LATERAL (SELECT COALESCE(sum(a.amount_fen), 0) AS adjusted FROM order_adjustments a WHERE a.item_id = i.id) x
     WHERE i.order_id = oid AND i.discount_fen <> x.adjusted
     ORDER BY i.line_no
     LIMIT 1;
    IF bad IS NULL THEN
        SELECT 'discount ' || o.discount_fen || ' but lines ' || x.lines
          INTO bad
          FROM orders o
          CROSS JOIN LATERAL (SELECT COALESCE(sum(i.discount_fen), 0) AS lines FROM order_items i WHERE i.order_id = o.id) x
         WHERE o.id = oid AND o.discount_fen <> x.lines;
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'order %: %', oid, bad USING ERRCODE = 'check_violation', CONSTRAINT = 'order_discount_sums';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The same index as the UNIQUE (order_id, line_no) constraint's (00003):
-- every order line paid for both.
DROP INDEX order_items_order_idx;

-- +goose Down
CREATE INDEX order_items_order_idx ON order_items (order_id, line_no);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION check_order_discounts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    oid bigint := NEW.order_id;
    bad text;
BEGIN
    SELECT 'line ' || i.line_no || ': discount ' || i.discount_fen || ' but adjustments ' || COALESCE(sum(a.amount_fen), 0)
      INTO bad
      FROM order_items i LEFT JOIN order_adjustments a ON a.item_id = i.id
     WHERE i.order_id = oid
     GROUP BY i.id HAVING i.discount_fen <> COALESCE(sum(a.amount_fen), 0)
     LIMIT 1;
    IF bad IS NULL THEN
        SELECT 'discount ' || o.discount_fen || ' but lines ' || COALESCE(sum(i.discount_fen), 0)
          INTO bad
          FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
         WHERE o.id = oid
         GROUP BY o.id HAVING o.discount_fen <> COALESCE(sum(i.discount_fen), 0);
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'order %: %', oid, bad USING ERRCODE = 'check_violation', CONSTRAINT = 'order_discount_sums';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
