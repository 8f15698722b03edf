-- +goose Up
-- Store clerks: pickup codes for pickup orders, and the indexes the clerk's
-- desk reads (a store's orders, a clerk's paid orders by day).

-- A pickup order's hand-over code: issued when the order is placed, shown
-- to the shopper once paid, verified once by a clerk of the pickup store.
-- verify_key is the Idempotency-Key of the verifying request, so a double
-- tap replays the same answer instead of being refused as "already used".
CREATE TABLE pickup_codes (
    order_id     bigint PRIMARY KEY REFERENCES orders (id),
    store_id     bigint NOT NULL REFERENCES stores (id),
    code         text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    created_at   timestamptz NOT NULL,
    verified_at  timestamptz,
    verified_by  bigint REFERENCES staff (id),
    verify_key   text CHECK (verify_key IS NULL OR length(verify_key) BETWEEN 1 AND 128),
    CONSTRAINT pickup_codes_verified CHECK ((verified_at IS NULL) = (verified_by IS NULL))
);

-- Pickup orders placed before codes existed get one now (uncompleted ones
-- can still be handed over; none was completed, as nothing completed them).
INSERT INTO pickup_codes (order_id, store_id, code, created_at)
SELECT o.id, o.pickup_store_id, lpad((floor(random() * 1e12))::bigint::text, 12, '0'), o.placed_at
FROM orders o WHERE o.fulfillment = 'pickup'
ON CONFLICT DO NOTHING;

CREATE INDEX orders_pickup_store_idx ON orders (pickup_store_id, id DESC) WHERE pickup_store_id IS NOT NULL;
CREATE INDEX orders_clerk_paid_idx ON orders (clerk_id, paid_at) WHERE clerk_id IS NOT NULL AND paid_at IS NOT NULL;

-- +goose Down
DROP INDEX orders_clerk_paid_idx, orders_pickup_store_idx;
DROP TABLE pickup_codes;
