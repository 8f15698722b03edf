-- +goose Up
-- The areas built in parallel, joined: birthday coupons granted by
-- membership's worker, and KOCs handing out coupons from their budget.

-- A birthday coupon is issued by membership's birthday worker, once per
-- shopper and year (source_ref: the year), in the transaction that records
-- member_birthday_grants.
ALTER TABLE coupons DROP CONSTRAINT coupons_source_check,
    ADD CONSTRAINT coupons_source_check CHECK (source IN ('claim', 'code', 'bulk', 'grant', 'birthday'));
CREATE UNIQUE INDEX coupons_birthday_once_idx ON coupons (source_ref, shopper_id) WHERE source = 'birthday';

-- A grant is handed out by a staff member (a clerk, with their store) or by
-- a KOC (out of a 'koc' budget, holder_id the KOC's shopper id).
ALTER TABLE coupon_grants ALTER COLUMN granted_by DROP NOT NULL,
    ADD COLUMN koc_id bigint REFERENCES kocs (shopper_id),
    ADD CONSTRAINT coupon_grants_one_granter CHECK ((granted_by IS NULL) <> (koc_id IS NULL));

-- +goose Down
ALTER TABLE coupon_grants DROP CONSTRAINT coupon_grants_one_granter, DROP COLUMN koc_id;
ALTER TABLE coupon_grants ALTER COLUMN granted_by SET NOT NULL;
DROP INDEX coupons_birthday_once_idx;
UPDATE coupons SET source = 'grant' WHERE source = 'birthday';
ALTER TABLE coupons DROP CONSTRAINT coupons_source_check,
    ADD CONSTRAINT coupons_source_check CHECK (source IN ('claim', 'code', 'bulk', 'grant'));
