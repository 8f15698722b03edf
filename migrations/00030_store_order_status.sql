-- +goose Up
-- A store's orders in one status (the clerks' and admins' store order list,
-- storage Clerks.StoreOrders) are read by key, newest first: with only
-- (store_id, id) an uncommon status (an in-store order waiting for payment,
-- a pickup not yet collected) walked the store's whole history, filtering
-- (28 ms at 57,000 store orders, growing with them; issue 18). Online
-- deliveries are in neither index; a store's order pays one more entry.
CREATE INDEX orders_store_status_idx ON orders (store_id, status, id DESC) WHERE store_id IS NOT NULL;
CREATE INDEX orders_pickup_store_status_idx ON orders (pickup_store_id, status, id DESC) WHERE pickup_store_id IS NOT NULL;

-- +goose Down
DROP INDEX orders_pickup_store_status_idx;
DROP INDEX orders_store_status_idx;
