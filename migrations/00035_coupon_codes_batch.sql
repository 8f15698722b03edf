-- +goose Up
-- A batch's redeem codes (the merchandiser's list and CSV export of one
-- batch, storage Coupons.Codes) are read by key: with only (template_id,
-- id), a later batch's pages walked every code of the template's earlier
-- batches, filtering (a template's batches are generated one after
-- another; issue 18). A generated code pays one more entry.
CREATE INDEX coupon_codes_batch_idx ON coupon_codes (template_id, batch, id);

-- +goose Down
DROP INDEX coupon_codes_batch_idx;
