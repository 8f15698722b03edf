-- +goose Up
-- The brand's coupon rules (one row): by default one coupon per order;
-- one_per_kind lets a shopper combine coupons, at most one of each kind
-- (满减, 折扣, 无门槛).
CREATE TABLE coupon_settings (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    one_per_kind boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO coupon_settings DEFAULT VALUES;

-- +goose Down
DROP TABLE coupon_settings;
