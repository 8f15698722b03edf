-- +goose NO TRANSACTION
-- +goose Up
-- Expired tokens are deleted a week after they expire (identity.Prune,
-- daily), read in expiry order. Built concurrently: shoppers keep signing
-- in while it builds (a build cut short leaves an invalid index, dropped by
-- the run that retries).
DROP INDEX CONCURRENTLY IF EXISTS auth_tokens_expires_idx;
CREATE INDEX CONCURRENTLY auth_tokens_expires_idx ON auth_tokens (expires_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS auth_tokens_expires_idx;
