-- +goose Up
-- A store's in-store orders paid in a period (the clerk desk's store and
-- all-store numbers, storage clerkOrdersCTE) are read by key: there was only
-- (clerk_id, paid_at), and a store's or every store's period read every
-- order of the mall (a month at 289,000 orders: 210 ms; issue 18). store_id
-- is set exactly on in-store orders; an online order is not in it, an
-- in-store order pays one more entry.
CREATE INDEX orders_store_paid_idx ON orders (store_id, paid_at) WHERE store_id IS NOT NULL AND paid_at IS NOT NULL;

-- +goose Down
DROP INDEX orders_store_paid_idx;
