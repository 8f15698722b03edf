-- +goose Up
-- Expired tokens are deleted a week after they expire (identity.Prune,
-- daily), read in expiry order.
CREATE INDEX auth_tokens_expires_idx ON auth_tokens (expires_at);

-- +goose Down
DROP INDEX auth_tokens_expires_idx;
