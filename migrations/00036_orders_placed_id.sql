-- +goose NO TRANSACTION
-- +goose Up
-- The back office's order search over a period pages by the time placed,
-- newest first, then id (storage.Orders.SearchOrders): read from this
-- index a page at a time, where by id it read and sorted every order
-- placed in the period. It serves what the index on placed_at alone did.
-- Built concurrently: orders keep being placed while it builds (a build
-- cut short leaves an invalid index, dropped by the run that retries).
DROP INDEX CONCURRENTLY IF EXISTS orders_placed_id_idx;
CREATE INDEX CONCURRENTLY orders_placed_id_idx ON orders (placed_at, id);
DROP INDEX CONCURRENTLY IF EXISTS orders_placed_idx;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS orders_placed_idx;
CREATE INDEX CONCURRENTLY orders_placed_idx ON orders (placed_at);
DROP INDEX CONCURRENTLY IF EXISTS orders_placed_id_idx;
