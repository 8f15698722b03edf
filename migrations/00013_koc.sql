-- +goose Up
-- The KOC programme: who is a KOC (and who recruited them: at most two
-- levels, by construction), their levels and rates, customer bindings
-- (锁客), the commission ledger (immutable entries), and settlement batches
-- paid by WeChat Pay merchant transfers.

-- One row: the programme's settings.
CREATE TABLE koc_settings (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    binding_days       int NOT NULL DEFAULT 0 CHECK (binding_days BETWEEN 0 AND 3650), -- 0: binding off
    binding_new_only   boolean NOT NULL DEFAULT false,  -- bind only customers with no paid order yet
    order_cap_fen      bigint NOT NULL DEFAULT 0 CHECK (order_cap_fen >= 0), -- 0: no cap
    aftersales_days    int NOT NULL DEFAULT 7 CHECK (aftersales_days BETWEEN 0 AND 90),
    fraud_shared_limit int NOT NULL DEFAULT 3 CHECK (fraud_shared_limit BETWEEN 1 AND 100),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO koc_settings DEFAULT VALUES;

-- A level: the KOC's own rate and the override their direct recruiter earns
-- on the KOC's commissionable amount. There is no column for any further
-- level: a recruiter's recruiter earns nothing.
CREATE TABLE koc_levels (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 50),
    rate_bp     int NOT NULL CHECK (rate_bp BETWEEN 0 AND 5000),
    override_bp int NOT NULL DEFAULT 0 CHECK (override_bp BETWEEN 0 AND 2000),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- A level's rate for one category or one product (the product wins).
CREATE TABLE koc_level_rates (
    id          bigserial PRIMARY KEY,
    level_id    bigint NOT NULL REFERENCES koc_levels (id),
    category_id bigint REFERENCES categories (id),
    product_id  bigint REFERENCES products (id),
    rate_bp     int NOT NULL CHECK (rate_bp BETWEEN 0 AND 5000),
    CONSTRAINT koc_level_rates_one_target CHECK ((category_id IS NULL) <> (product_id IS NULL))
);
CREATE UNIQUE INDEX koc_level_rates_category_idx ON koc_level_rates (level_id, category_id) WHERE category_id IS NOT NULL;
CREATE UNIQUE INDEX koc_level_rates_product_idx ON koc_level_rates (level_id, product_id) WHERE product_id IS NOT NULL;

-- A KOC. depth 1: joined on their own; depth 2: recruited by a depth-1 KOC
-- (recruiter_depth is always 1 and the composite foreign key points at the
-- recruiter's (shopper_id, depth)), so a chain of three cannot be stored.
-- Balances are caches of the ledger, kept by a trigger on commission_entries.
CREATE TABLE kocs (
    shopper_id      bigint PRIMARY KEY REFERENCES shoppers (id),
    touchpoint_id   bigint NOT NULL UNIQUE REFERENCES touchpoints (id),
    status          text NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'suspended')),
    level_id        bigint REFERENCES koc_levels (id),
    depth           smallint NOT NULL CHECK (depth IN (1, 2)),
    recruiter_id    bigint,
    recruiter_depth smallint CHECK (recruiter_depth = 1),
    real_name       text NOT NULL DEFAULT '' CHECK (length(real_name) <= 50),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    applied_at      timestamptz NOT NULL,
    decided_at      timestamptz,
    pending_fen     bigint NOT NULL DEFAULT 0,
    settleable_fen  bigint NOT NULL DEFAULT 0,
    settled_fen     bigint NOT NULL DEFAULT 0,
    paid_fen        bigint NOT NULL DEFAULT 0,
    reversed_fen    bigint NOT NULL DEFAULT 0,
    CONSTRAINT kocs_balances CHECK (pending_fen >= 0 AND settled_fen >= 0 AND paid_fen >= 0 AND reversed_fen >= 0),
    updated_at      timestamptz NOT NULL,
    UNIQUE (shopper_id, depth),
    FOREIGN KEY (recruiter_id, recruiter_depth) REFERENCES kocs (shopper_id, depth),
    CONSTRAINT kocs_depth CHECK ((recruiter_id IS NULL) = (depth = 1) AND (recruiter_id IS NULL) = (recruiter_depth IS NULL)),
    CONSTRAINT kocs_not_self CHECK (recruiter_id IS NULL OR recruiter_id <> shopper_id),
    CONSTRAINT kocs_active_level CHECK (status <> 'active' OR level_id IS NOT NULL)
);
CREATE INDEX kocs_status_idx ON kocs (status, shopper_id DESC);
CREATE INDEX kocs_recruiter_idx ON kocs (recruiter_id) WHERE recruiter_id IS NOT NULL;

-- A customer's binding (锁客) to the KOC or clerk who first brought them.
CREATE TABLE koc_bindings (
    shopper_id      bigint PRIMARY KEY REFERENCES shoppers (id),
    referrer_kind   text NOT NULL CHECK (referrer_kind IN ('koc', 'clerk')),
    referrer_tp_id  bigint NOT NULL REFERENCES touchpoints (id),
    origin_touch_id bigint,        -- the touch that bound them (none after a rebind)
    origin_code     text NOT NULL DEFAULT '',
    bound_from      timestamptz NOT NULL,
    bound_until     timestamptz NOT NULL,
    rebound_reason  text NOT NULL DEFAULT '' CHECK (length(rebound_reason) <= 200),
    updated_at      timestamptz NOT NULL,
    CHECK (bound_until > bound_from)
);
CREATE INDEX koc_bindings_referrer_idx ON koc_bindings (referrer_tp_id, shopper_id DESC);

-- Each paid order with commission: its buyer, fraud flag and maturity.
CREATE TABLE commission_orders (
    order_id          bigint PRIMARY KEY REFERENCES orders (id),
    buyer_id          bigint NOT NULL REFERENCES shoppers (id),
    paid_at           timestamptz NOT NULL,
    bound             boolean NOT NULL,
    flag              text NOT NULL DEFAULT '',      -- why it waits for an admin ('' none)
    held              boolean NOT NULL DEFAULT false, -- flagged and not yet released
    settleable_after  timestamptz,                    -- completed_at + after-sales window
    matured_at        timestamptz,
    CHECK (held = false OR flag <> '')
);
CREATE INDEX commission_orders_mature_idx ON commission_orders (settleable_after) WHERE matured_at IS NULL;
CREATE INDEX commission_orders_flag_idx ON commission_orders (order_id DESC) WHERE held;

-- What each KOC earns on each order line: the base (their credited paid
-- amount of the line), the rate, the commission, how much of the line has
-- been refunded (for the pro-rata reversals).
CREATE TABLE commission_lines (
    order_id     bigint NOT NULL REFERENCES commission_orders (order_id),
    item_id      bigint NOT NULL REFERENCES order_items (id),
    koc_id       bigint NOT NULL REFERENCES kocs (shopper_id),
    level        smallint NOT NULL CHECK (level IN (1, 2)),
    line_paid_fen bigint NOT NULL CHECK (line_paid_fen >= 0),
    base_fen     bigint NOT NULL CHECK (base_fen >= 0),
    rate_bp      int NOT NULL CHECK (rate_bp >= 0),
    amount_fen   bigint NOT NULL CHECK (amount_fen >= 0),
    refunded_fen bigint NOT NULL DEFAULT 0 CHECK (refunded_fen BETWEEN 0 AND line_paid_fen),
    PRIMARY KEY (order_id, item_id, koc_id, level)
);
CREATE INDEX commission_lines_koc_idx ON commission_lines (koc_id, order_id DESC);

CREATE TABLE settlement_batches (
    id          bigserial PRIMARY KEY,
    period_from timestamptz NOT NULL,
    period_to   timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('draft', 'reviewed', 'paying', 'paid')),
    total_fen   bigint NOT NULL CHECK (total_fen >= 0),
    kocs        int NOT NULL,
    created_by  text NOT NULL,
    reviewed_by text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK (period_to > period_from)
);

-- One KOC's part of a batch, paid by one merchant transfer (out_bill_no).
CREATE TABLE settlement_items (
    id           bigserial PRIMARY KEY,
    batch_id     bigint NOT NULL REFERENCES settlement_batches (id),
    koc_id       bigint NOT NULL REFERENCES kocs (shopper_id),
    amount_fen   bigint NOT NULL CHECK (amount_fen > 0),
    status       text NOT NULL CHECK (status IN ('settled', 'transferring', 'paid', 'failed')),
    out_bill_no  text NOT NULL UNIQUE CHECK (out_bill_no ~ '^[0-9A-Za-z]{5,32}$'),
    bill_no      text,
    package_info text,   -- for wx.requestMerchantTransfer
    wx_state     text,
    fail_reason  text,
    asked_at     timestamptz,
    ended_at     timestamptz,
    UNIQUE (batch_id, koc_id)
);
CREATE INDEX settlement_items_open_idx ON settlement_items (asked_at) WHERE status = 'transferring';

-- The ledger. Every entry is immutable; a KOC's balance in a bucket is the
-- sum of their entries in it. Kinds: accrue (+pending), reverse (− from
-- pending or settleable), carry (− settleable: a refund after settlement,
-- netted in the next batch), mature (pending → settleable pairs), settle
-- (settleable → settled), pay (settled → paid), return (settled →
-- settleable: a transfer that failed). Every entry names its order line;
-- settle, pay and return entries also name their settlement item.
CREATE TABLE commission_entries (
    id          bigserial PRIMARY KEY,
    koc_id      bigint NOT NULL REFERENCES kocs (shopper_id),
    order_id    bigint NOT NULL,
    item_id     bigint NOT NULL,
    level       smallint NOT NULL CHECK (level IN (1, 2)),
    kind        text NOT NULL CHECK (kind IN ('accrue', 'reverse', 'carry', 'mature', 'settle', 'pay', 'return')),
    bucket      text NOT NULL CHECK (bucket IN ('pending', 'settleable', 'settled', 'paid')),
    amount_fen  bigint NOT NULL CHECK (amount_fen <> 0),
    item_ref    bigint REFERENCES settlement_items (id),
    at          timestamptz NOT NULL,
    FOREIGN KEY (order_id, item_id, koc_id, level) REFERENCES commission_lines (order_id, item_id, koc_id, level),
    CONSTRAINT commission_entries_settlement CHECK ((kind IN ('settle', 'pay', 'return')) = (item_ref IS NOT NULL))
);
CREATE INDEX commission_entries_koc_idx ON commission_entries (koc_id, id DESC);
CREATE INDEX commission_entries_line_idx ON commission_entries (order_id, item_id);
CREATE INDEX commission_entries_settle_idx ON commission_entries (bucket, koc_id) WHERE bucket = 'settleable';
CREATE INDEX commission_entries_item_idx ON commission_entries (item_ref) WHERE item_ref IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION commission_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'commission entries are immutable';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER commission_entries_no_change BEFORE UPDATE OR DELETE ON commission_entries
    FOR EACH ROW EXECUTE FUNCTION commission_entries_immutable();

-- +goose StatementBegin
CREATE FUNCTION commission_entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE kocs SET
        pending_fen    = pending_fen    + CASE WHEN NEW.bucket = 'pending'    THEN NEW.amount_fen ELSE 0 END,
        settleable_fen = settleable_fen + CASE WHEN NEW.bucket = 'settleable' THEN NEW.amount_fen ELSE 0 END,
        settled_fen    = settled_fen    + CASE WHEN NEW.bucket = 'settled'    THEN NEW.amount_fen ELSE 0 END,
        paid_fen       = paid_fen       + CASE WHEN NEW.bucket = 'paid'       THEN NEW.amount_fen ELSE 0 END,
        reversed_fen   = reversed_fen   + CASE WHEN NEW.kind IN ('reverse', 'carry') THEN -NEW.amount_fen ELSE 0 END
    WHERE shopper_id = NEW.koc_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER commission_entries_balance AFTER INSERT ON commission_entries
    FOR EACH ROW EXECUTE FUNCTION commission_entries_balance();

-- +goose Down
DROP TABLE commission_entries, settlement_items, settlement_batches, commission_lines, commission_orders,
    koc_bindings, kocs, koc_level_rates, koc_levels, koc_settings;
DROP FUNCTION commission_entries_balance();
DROP FUNCTION commission_entries_immutable();
