-- +goose Up
-- The pickups a store or a clerk handed over in a period (the clerk desk's
-- numbers, storage clerkPeriod.ordersCTE) are read by key: pickup_codes had
-- only its order and code keys, and every day of a period's numbers read
-- every pickup code of the mall (a month at 57,000 codes: 310 ms; issue
-- 18). A code waiting for its shopper is in neither; a handover pays two
-- entries.
CREATE INDEX pickup_codes_store_verified_idx ON pickup_codes (store_id, verified_at) WHERE verified_at IS NOT NULL;
CREATE INDEX pickup_codes_verifier_idx ON pickup_codes (verified_by, verified_at) WHERE verified_by IS NOT NULL;

-- +goose Down
DROP INDEX pickup_codes_verifier_idx;
DROP INDEX pickup_codes_store_verified_idx;
