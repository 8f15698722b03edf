-- +goose Up
-- Membership: cards, tiers and growth, points, stored value (储值) and the
-- dynamic member code. Points and stored value are ledgers of immutable
-- entries; the card caches their sums, updated in the same transaction
-- (`yutang check` compares them).

-- The program's membership rules (one row).
CREATE TABLE member_settings (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    points_per_yuan     bigint NOT NULL DEFAULT 1 CHECK (points_per_yuan BETWEEN 0 AND 1000),
    redeem_points_per_fen bigint NOT NULL DEFAULT 1 CHECK (redeem_points_per_fen BETWEEN 1 AND 100000),
    redeem_cap_bp       bigint NOT NULL DEFAULT 5000 CHECK (redeem_cap_bp BETWEEN 0 AND 10000),
    growth_per_yuan     bigint NOT NULL DEFAULT 1 CHECK (growth_per_yuan BETWEEN 0 AND 1000),
    points_life_years   int NOT NULL DEFAULT 1 CHECK (points_life_years BETWEEN 1 AND 10),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO member_settings DEFAULT VALUES;

-- Tiers: the base tier (threshold 0) always exists.
CREATE TABLE member_tiers (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 32),
    threshold            bigint NOT NULL UNIQUE CHECK (threshold >= 0),
    discount_bp          bigint NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 9000),
    points_multiplier_bp bigint NOT NULL DEFAULT 10000 CHECK (points_multiplier_bp BETWEEN 0 AND 100000),
    free_shipping        boolean NOT NULL DEFAULT false,
    birthday_template_id bigint,            -- a coupon template; NULL: no birthday coupon
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
INSERT INTO member_tiers (name, threshold, created_at, updated_at) VALUES ('普通会员', 0, now(), now());

CREATE TABLE member_cards (
    id             bigserial PRIMARY KEY,
    shopper_id     bigint NOT NULL UNIQUE REFERENCES shoppers (id),
    card_no        text NOT NULL UNIQUE CHECK (card_no ~ '^[0-9]{16}$'),
    tier_id        bigint NOT NULL REFERENCES member_tiers (id),
    growth         bigint NOT NULL DEFAULT 0 CHECK (growth >= 0),
    points         bigint NOT NULL DEFAULT 0 CHECK (points >= 0),
    points_frozen  bigint NOT NULL DEFAULT 0 CHECK (points_frozen >= 0),
    points_debt    bigint NOT NULL DEFAULT 0 CHECK (points_debt >= 0),
    principal_fen  bigint NOT NULL DEFAULT 0 CHECK (principal_fen >= 0),
    bonus_fen      bigint NOT NULL DEFAULT 0 CHECK (bonus_fen >= 0),
    birthday       date,
    activated_at   timestamptz NOT NULL,
    period_start   timestamptz NOT NULL,   -- the current review period began then
    updated_at     timestamptz NOT NULL
);
CREATE INDEX member_cards_review_idx ON member_cards (period_start);
CREATE INDEX member_cards_birthday_idx ON member_cards (EXTRACT(MONTH FROM birthday)) WHERE birthday IS NOT NULL;

-- Growth: earned by paid goods, reversed by refunds, reset by the yearly
-- review. growth = Σ delta.
CREATE TABLE member_growth_entries (
    id         bigserial PRIMARY KEY,
    card_id    bigint NOT NULL REFERENCES member_cards (id),
    kind       text NOT NULL CHECK (kind IN ('earn', 'reverse', 'review', 'adjust')),
    delta      bigint NOT NULL,
    order_id   bigint REFERENCES orders (id),
    item_id    bigint REFERENCES order_items (id),
    refund_id  bigint REFERENCES refunds (id),
    tier_id    bigint REFERENCES member_tiers (id), -- review: the tier it gave
    at         timestamptz NOT NULL
);
CREATE INDEX member_growth_entries_card_idx ON member_growth_entries (card_id, id);
CREATE UNIQUE INDEX member_growth_earn_once ON member_growth_entries (item_id) WHERE kind = 'earn';
CREATE UNIQUE INDEX member_growth_reverse_once ON member_growth_entries (refund_id, item_id) WHERE kind = 'reverse';

-- Points: points is the change to the balance, debt the change to what a
-- reversal could not take (later credits pay it first).
CREATE TABLE member_points_entries (
    id         bigserial PRIMARY KEY,
    card_id    bigint NOT NULL REFERENCES member_cards (id),
    kind       text NOT NULL CHECK (kind IN ('earn', 'reverse', 'redeem', 'return', 'repay', 'expire', 'adjust')),
    points     bigint NOT NULL,
    debt       bigint NOT NULL DEFAULT 0,
    order_id   bigint REFERENCES orders (id),
    item_id    bigint REFERENCES order_items (id),
    refund_id  bigint REFERENCES refunds (id),
    year       int,                       -- expire: the year whose points expired
    reason     text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    actor      text NOT NULL DEFAULT 'system',
    at         timestamptz NOT NULL,
    CONSTRAINT member_points_entries_lines CHECK (kind NOT IN ('earn', 'redeem', 'reverse') OR item_id IS NOT NULL),
    CONSTRAINT member_points_entries_reason CHECK (kind <> 'adjust' OR length(reason) > 0)
);
CREATE INDEX member_points_entries_card_idx ON member_points_entries (card_id, id);
CREATE INDEX member_points_entries_order_idx ON member_points_entries (order_id) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX member_points_earn_once ON member_points_entries (item_id) WHERE kind = 'earn';
CREATE UNIQUE INDEX member_points_redeem_once ON member_points_entries (item_id) WHERE kind = 'redeem';
CREATE UNIQUE INDEX member_points_cancel_once ON member_points_entries (item_id) WHERE kind = 'return' AND refund_id IS NULL;
CREATE UNIQUE INDEX member_points_refund_once ON member_points_entries (refund_id, item_id, kind) WHERE refund_id IS NOT NULL;
CREATE UNIQUE INDEX member_points_expire_once ON member_points_entries (card_id, year) WHERE kind = 'expire';

-- Which (card, year) the expiry worker has done, with or without points
-- to expire: exactly once.
CREATE TABLE member_points_expiries (
    card_id  bigint NOT NULL REFERENCES member_cards (id),
    year     int NOT NULL,
    points   bigint NOT NULL CHECK (points >= 0),
    at       timestamptz NOT NULL,
    PRIMARY KEY (card_id, year)
);

-- Stored value: packages, top-ups through WeChat Pay (their own
-- out_trade_no space: TU…), and the ledger (principal and bonus apart).
CREATE TABLE member_topup_packages (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
    pay_fen     bigint NOT NULL CHECK (pay_fen BETWEEN 1 AND 100000000),
    bonus_fen   bigint NOT NULL DEFAULT 0 CHECK (bonus_fen BETWEEN 0 AND 100000000),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE member_topups (
    id                 bigserial PRIMARY KEY,
    card_id            bigint NOT NULL REFERENCES member_cards (id),
    package_id         bigint NOT NULL REFERENCES member_topup_packages (id),
    out_trade_no       text NOT NULL UNIQUE CHECK (out_trade_no ~ '^TU[0-9A-Za-z]{10,30}$'),
    principal_fen      bigint NOT NULL CHECK (principal_fen > 0),
    bonus_fen          bigint NOT NULL CHECK (bonus_fen >= 0),
    openid             text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'paid', 'closed')),
    request_payment    jsonb,
    prepay_valid_until timestamptz,
    transaction_id     text UNIQUE,
    time_expire        timestamptz NOT NULL,
    next_check_at      timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    paid_at            timestamptz,
    CONSTRAINT member_topups_paid CHECK ((status = 'paid') = (transaction_id IS NOT NULL))
);
CREATE INDEX member_topups_card_idx ON member_topups (card_id, id);
CREATE INDEX member_topups_pending_idx ON member_topups (next_check_at) WHERE status = 'pending';

CREATE TABLE member_balance_entries (
    id             bigserial PRIMARY KEY,
    card_id        bigint NOT NULL REFERENCES member_cards (id),
    kind           text NOT NULL CHECK (kind IN ('topup', 'spend', 'return', 'refund', 'adjust')),
    principal_fen  bigint NOT NULL,
    bonus_fen      bigint NOT NULL,
    topup_id       bigint REFERENCES member_topups (id),
    order_id       bigint REFERENCES orders (id),
    refund_id      bigint REFERENCES refunds (id),
    reason         text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    actor          text NOT NULL DEFAULT 'system',
    at             timestamptz NOT NULL,
    CONSTRAINT member_balance_entries_source CHECK (
        (kind = 'topup' AND topup_id IS NOT NULL) OR (kind IN ('spend', 'return', 'refund') AND order_id IS NOT NULL)
        OR (kind = 'adjust' AND length(reason) > 0))
);
CREATE INDEX member_balance_entries_card_idx ON member_balance_entries (card_id, id);
CREATE UNIQUE INDEX member_balance_topup_once ON member_balance_entries (topup_id) WHERE kind = 'topup';
CREATE UNIQUE INDEX member_balance_spend_once ON member_balance_entries (order_id) WHERE kind = 'spend';
CREATE UNIQUE INDEX member_balance_return_once ON member_balance_entries (order_id) WHERE kind = 'return';
CREATE UNIQUE INDEX member_balance_refund_once ON member_balance_entries (refund_id) WHERE kind = 'refund';

-- Dynamic member codes: server-kept, 60 s, single use. Only the hash is
-- kept.
CREATE TABLE member_codes (
    code_hash   bytea PRIMARY KEY,
    card_id     bigint NOT NULL REFERENCES member_cards (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX member_codes_expiry_idx ON member_codes (expires_at);

-- SKU member prices set by merchandisers.
CREATE TABLE member_sku_prices (
    sku_id      bigint PRIMARY KEY REFERENCES skus (id),
    price_fen   bigint NOT NULL CHECK (price_fen >= 0),
    updated_at  timestamptz NOT NULL
);

-- Birthday coupons: once per card and year.
CREATE TABLE member_birthday_grants (
    card_id      bigint NOT NULL REFERENCES member_cards (id),
    year         int NOT NULL,
    tier_id      bigint NOT NULL REFERENCES member_tiers (id),
    template_id  bigint NOT NULL,
    coupon_ref   text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    PRIMARY KEY (card_id, year)
);

-- +goose Down
DROP TABLE member_birthday_grants, member_sku_prices, member_codes, member_balance_entries, member_topups,
    member_topup_packages, member_points_expiries, member_points_entries, member_growth_entries, member_cards,
    member_tiers, member_settings;
