-- +goose Up
-- A store's members (the clerk desk's customer list, storage customersSQL)
-- are read from the store's paid orders by member, newest member first:
-- without it the list walked every member's orders, online ones too, until
-- it had a page of the store's (issue 18). Only paid in-store orders with
-- a member are in it; an online order is not.
CREATE INDEX orders_store_member_idx ON orders (store_id, shopper_id)
    WHERE store_id IS NOT NULL AND shopper_id IS NOT NULL AND paid_at IS NOT NULL;

-- +goose Down
DROP INDEX orders_store_member_idx;
