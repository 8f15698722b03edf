-- +goose Up
-- The order's life, made pluggable: channels (an in-store order has a store
-- and a clerk, and a shopper only when there is one), discounts as
-- adjustment rows by source instead of one column per source, and tenders
-- that settle the payable (WeChat Pay now; stored value and others later).

-- Channels and optional shoppers.
ALTER TABLE orders ALTER COLUMN shopper_id DROP NOT NULL;
ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'online' CHECK (channel IN ('online', 'in_store'));
ALTER TABLE orders DROP CONSTRAINT orders_fulfillment_check;
ALTER TABLE orders ADD CONSTRAINT orders_fulfillment_check CHECK (fulfillment IN ('delivery', 'pickup', 'in_store'));
ALTER TABLE orders DROP CONSTRAINT orders_fulfillment_target;
ALTER TABLE orders ADD CONSTRAINT orders_fulfillment_target CHECK (
    (fulfillment = 'delivery' AND address IS NOT NULL) OR (fulfillment = 'pickup' AND pickup_store_id IS NOT NULL)
    OR (fulfillment = 'in_store' AND channel = 'in_store'));
ALTER TABLE orders ADD CONSTRAINT orders_channel_parties CHECK (
    (channel = 'online' AND shopper_id IS NOT NULL AND store_id IS NULL AND clerk_id IS NULL)
    OR (channel = 'in_store' AND store_id IS NOT NULL AND clerk_id IS NOT NULL));
CREATE INDEX orders_store_idx ON orders (store_id, id DESC) WHERE store_id IS NOT NULL;

-- Adjustments: each discount on each line, naming its source (campaign,
-- member, coupon, points …) and the source's id (the campaign, the coupon
-- redemption, the points entry; 0 when the source has no row of its own).
CREATE TABLE order_adjustments (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    item_id     bigint NOT NULL REFERENCES order_items (id),
    source      text NOT NULL CHECK (source ~ '^[a-z][a-z_]{0,31}$'),
    source_id   bigint NOT NULL DEFAULT 0,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    UNIQUE (item_id, source, source_id)
);
CREATE INDEX order_adjustments_order_idx ON order_adjustments (order_id);
CREATE INDEX order_adjustments_source_idx ON order_adjustments (source, source_id) WHERE source_id <> 0;

ALTER TABLE order_items ADD COLUMN discount_fen bigint NOT NULL DEFAULT 0 CHECK (discount_fen >= 0);
UPDATE order_items SET discount_fen = campaign_discount_fen + member_discount_fen + coupon_discount_fen + points_discount_fen;
INSERT INTO order_adjustments (order_id, item_id, source, source_id, amount_fen)
SELECT i.order_id, i.id, s.source, 0, s.amount
FROM order_items i CROSS JOIN LATERAL (VALUES ('campaign', i.campaign_discount_fen), ('member', i.member_discount_fen),
     ('coupon', i.coupon_discount_fen), ('points', i.points_discount_fen)) AS s(source, amount)
WHERE s.amount > 0
ORDER BY i.id;
ALTER TABLE order_items DROP CONSTRAINT order_items_paid_sums;
ALTER TABLE order_items DROP COLUMN campaign_discount_fen, DROP COLUMN member_discount_fen,
    DROP COLUMN coupon_discount_fen, DROP COLUMN points_discount_fen;
ALTER TABLE order_items ADD CONSTRAINT order_items_paid_sums CHECK (paid_fen = list_total_fen - discount_fen);
ALTER TABLE orders DROP CONSTRAINT orders_discount_sums;
ALTER TABLE orders DROP COLUMN campaign_discount_fen, DROP COLUMN member_discount_fen,
    DROP COLUMN coupon_discount_fen, DROP COLUMN points_discount_fen, DROP COLUMN coupon_ids;

-- Σ adjustments = discount, per line and per order, checked when the
-- transaction commits (the order, its lines and their adjustments are
-- written together).
-- +goose StatementBegin
CREATE FUNCTION check_order_discounts() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE CONSTRAINT TRIGGER order_items_discount_sums AFTER INSERT OR UPDATE OF discount_fen ON order_items
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_order_discounts();
CREATE CONSTRAINT TRIGGER order_adjustments_sums AFTER INSERT OR UPDATE ON order_adjustments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_order_discounts();

-- Tenders: what settled an order's payable. A paid order's tenders sum to
-- its payable; refunded_fen is what succeeded refunds gave back to each.
CREATE TABLE order_tenders (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES orders (id),
    kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z_]{0,31}$'),
    ref           text NOT NULL CHECK (length(ref) BETWEEN 1 AND 64),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    refunded_fen  bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    UNIQUE (order_id, kind, ref),
    CONSTRAINT order_tenders_refund_bounds CHECK (refunded_fen BETWEEN 0 AND amount_fen)
);
INSERT INTO order_tenders (order_id, kind, ref, amount_fen, created_at)
SELECT p.order_id, 'wechat_pay', p.transaction_id, p.amount_fen, p.applied_at
FROM payments p WHERE p.outcome = 'applied' ORDER BY p.id;

-- A refund gives back to tenders; wechat_fen is the part refunded through
-- WeChat Pay (all of it for the return of a payment that never paid the
-- order).
ALTER TABLE refunds ADD COLUMN wechat_fen bigint;
UPDATE refunds SET wechat_fen = amount_fen;
ALTER TABLE refunds ALTER COLUMN wechat_fen SET NOT NULL;
ALTER TABLE refunds ADD CONSTRAINT refunds_wechat_part CHECK (wechat_fen BETWEEN 0 AND amount_fen);
-- An order paid by other tenders alone (stored value …) has no WeChat Pay
-- payment: its refunds name none and go back through WeChat Pay with nothing.
ALTER TABLE refunds ALTER COLUMN payment_id DROP NOT NULL;
ALTER TABLE refunds ADD CONSTRAINT refunds_payment_when CHECK (payment_id IS NOT NULL OR (wechat_fen = 0 AND kind = 'after_sales'));

CREATE TABLE refund_tenders (
    refund_id   bigint NOT NULL REFERENCES refunds (id),
    tender_id   bigint NOT NULL REFERENCES order_tenders (id),
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (refund_id, tender_id)
);
CREATE INDEX refund_tenders_tender_idx ON refund_tenders (tender_id);
INSERT INTO refund_tenders (refund_id, tender_id, amount_fen)
SELECT r.id, t.id, r.amount_fen
FROM refunds r JOIN payments p ON p.id = r.payment_id AND p.outcome = 'applied'
JOIN order_tenders t ON t.order_id = r.order_id AND t.kind = 'wechat_pay' AND t.ref = p.transaction_id
WHERE r.kind = 'after_sales';
UPDATE order_tenders t SET refunded_fen = x.s
FROM (SELECT rt.tender_id, sum(rt.amount_fen) s FROM refund_tenders rt JOIN refunds r ON r.id = rt.refund_id
      WHERE r.status = 'succeeded' GROUP BY rt.tender_id) x
WHERE x.tender_id = t.id;

-- Payment attempts of different trade types coexist; at most one open
-- attempt per trade type (paying one closes the others).
ALTER TABLE payment_attempts ADD COLUMN code_url text;  -- NATIVE: the QR code of the last prepay
DROP INDEX payment_attempts_one_open_idx;
CREATE UNIQUE INDEX payment_attempts_one_open_idx ON payment_attempts (order_id, trade_type) WHERE status = 'open';

-- +goose Down
SELECT 'down migration not supported';
