-- +goose Up
-- Coupons and campaigns: templates, the coupons shoppers hold, their
-- redemptions on orders, redeem codes, bulk issue jobs, budgets handed to
-- stores, clerks and KOCs, and campaigns (flash sales with their allotments,
-- member days). Every limit is held by a constraint or a conditional update.

-- A template is what a merchandiser designs: the rule (kind, threshold,
-- amount or rate with a cap), the scope, the validity (a fixed window or N
-- days from claim), how many exist (total; issued counts those handed out,
-- never above total), how many one shopper may claim, who may claim it, and
-- when the coupon centre shows it (visible_from: pre-heat) and lets it be
-- claimed (claim_from: launch).
CREATE TABLE coupon_templates (
    id                  bigserial PRIMARY KEY,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    kind                text NOT NULL CHECK (kind IN ('amount_off', 'percent_off', 'no_threshold')),
    threshold_fen       bigint NOT NULL DEFAULT 0 CHECK (threshold_fen >= 0),
    amount_off_fen      bigint NOT NULL DEFAULT 0 CHECK (amount_off_fen >= 0),
    percent_off_bp      int NOT NULL DEFAULT 0 CHECK (percent_off_bp BETWEEN 0 AND 10000),
    max_off_fen         bigint NOT NULL DEFAULT 0 CHECK (max_off_fen >= 0),
    scope_kind          text NOT NULL DEFAULT 'all' CHECK (scope_kind IN ('all', 'categories', 'products')),
    scope_ids           bigint[] NOT NULL DEFAULT '{}',
    excluded_product_ids bigint[] NOT NULL DEFAULT '{}',
    valid_from          timestamptz,
    valid_until         timestamptz,
    valid_days          int CHECK (valid_days BETWEEN 1 AND 3650),
    total               int NOT NULL CHECK (total BETWEEN 0 AND 100000000),
    issued              int NOT NULL DEFAULT 0,
    per_shopper         int NOT NULL DEFAULT 1 CHECK (per_shopper BETWEEN 1 AND 100),
    audience            text NOT NULL DEFAULT 'all' CHECK (audience IN ('all', 'tier', 'new_customers', 'touchpoint')),
    audience_tier       int,
    audience_touchpoint_id bigint REFERENCES touchpoints (id),
    audience_since      timestamptz,
    stacks_with_campaign boolean NOT NULL DEFAULT false,
    claimable           boolean NOT NULL DEFAULT true,  -- listed in the coupon centre
    visible_from        timestamptz,
    claim_from          timestamptz,
    claim_until         timestamptz,
    status              text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'ended')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT coupon_templates_issued_bounds CHECK (issued BETWEEN 0 AND total),
    CONSTRAINT coupon_templates_validity CHECK ((valid_days IS NULL) <> (valid_until IS NULL)),
    CONSTRAINT coupon_templates_audience CHECK (
        (audience = 'tier') = (audience_tier IS NOT NULL)
        AND (audience = 'touchpoint') = (audience_touchpoint_id IS NOT NULL))
);
CREATE INDEX coupon_templates_centre_idx ON coupon_templates (id DESC) WHERE status = 'active' AND claimable;

-- A coupon a shopper holds. status: usable, locked (on an unpaid order),
-- used (on a paid order), expired (returned from a cancelled order after its
-- validity ended). A usable coupon past valid_until reads as expired.
CREATE TABLE coupons (
    id           bigserial PRIMARY KEY,
    template_id  bigint NOT NULL REFERENCES coupon_templates (id),
    shopper_id   bigint NOT NULL REFERENCES shoppers (id),
    status       text NOT NULL DEFAULT 'usable' CHECK (status IN ('usable', 'locked', 'used', 'expired')),
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz NOT NULL,
    source       text NOT NULL CHECK (source IN ('claim', 'code', 'bulk', 'grant')),
    source_ref   bigint NOT NULL DEFAULT 0,   -- the code, job or grant
    issued_at    timestamptz NOT NULL,
    CHECK (valid_from < valid_until)
);
CREATE INDEX coupons_shopper_idx ON coupons (shopper_id, id DESC);
CREATE INDEX coupons_template_idx ON coupons (template_id);
-- A bulk job gives a shopper at most one coupon, however often it re-runs.
CREATE UNIQUE INDEX coupons_bulk_once_idx ON coupons (source_ref, shopper_id) WHERE source = 'bulk';

-- How many coupons of a template each shopper claimed (claims and codes
-- count against per_shopper; the row lock serialises one shopper's claims).
CREATE TABLE coupon_claims (
    template_id bigint NOT NULL REFERENCES coupon_templates (id),
    shopper_id  bigint NOT NULL REFERENCES shoppers (id),
    claimed     int NOT NULL CHECK (claimed >= 1),
    PRIMARY KEY (template_id, shopper_id)
);

-- A redemption is one coupon on one order: locked when the order is placed,
-- used when it is paid, returned when it is cancelled. Its id is what the
-- order's coupon adjustments name (source 'coupon'); it is drawn from the
-- coupons' sequence so that a redemption id is never also a coupon id.
CREATE TABLE coupon_redemptions (
    id           bigint PRIMARY KEY DEFAULT nextval('coupons_id_seq'),
    coupon_id    bigint NOT NULL REFERENCES coupons (id),
    order_id     bigint NOT NULL REFERENCES orders (id),
    status       text NOT NULL CHECK (status IN ('locked', 'used', 'returned')),
    discount_fen bigint NOT NULL CHECK (discount_fen > 0),
    locked_at    timestamptz NOT NULL,
    used_at      timestamptz,
    returned_at  timestamptz,
    UNIQUE (order_id, coupon_id)
);
-- A coupon is on at most one live order.
CREATE UNIQUE INDEX coupon_redemptions_live_idx ON coupon_redemptions (coupon_id) WHERE status IN ('locked', 'used');

-- Redeem codes (兑换码), generated in batches; a code works once.
CREATE TABLE coupon_codes (
    id           bigserial PRIMARY KEY,
    template_id  bigint NOT NULL REFERENCES coupon_templates (id),
    batch        int NOT NULL,
    code         text NOT NULL UNIQUE CHECK (code ~ '^[A-Z2-9]{12}$'),
    redeemed_by  bigint REFERENCES shoppers (id),
    redeemed_at  timestamptz,
    coupon_id    bigint REFERENCES coupons (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((redeemed_by IS NULL) = (redeemed_at IS NULL))
);
CREATE INDEX coupon_codes_template_idx ON coupon_codes (template_id, id);

-- Failed code guesses per shopper per ten-minute window (rate limit).
CREATE TABLE coupon_code_failures (
    shopper_id   bigint NOT NULL REFERENCES shoppers (id),
    window_start timestamptz NOT NULL,
    failures     int NOT NULL,
    PRIMARY KEY (shopper_id, window_start)
);

-- Background jobs with progress (bulk issue today). A worker leases a job
-- (FOR UPDATE SKIP LOCKED, lease_until) and works through its targets in
-- batches, one transaction each; a crash loses at most the open batch, which
-- the next lease redoes.
CREATE TABLE jobs (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('coupon_bulk_issue')),
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    params      jsonb NOT NULL DEFAULT '{}',
    total       int NOT NULL DEFAULT 0,
    done        int NOT NULL DEFAULT 0,
    failed      int NOT NULL DEFAULT 0,
    created_by  bigint REFERENCES staff (id),
    lease_until timestamptz,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    finished_at timestamptz,
    CHECK (done + failed <= total)
);
CREATE INDEX jobs_open_idx ON jobs (id) WHERE state IN ('queued', 'running');

CREATE TABLE job_targets (
    job_id     bigint NOT NULL REFERENCES jobs (id),
    shopper_id bigint NOT NULL REFERENCES shoppers (id),
    state      text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    reason     text NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, shopper_id)
);
CREATE INDEX job_targets_pending_idx ON job_targets (job_id, shopper_id) WHERE state = 'pending';

-- Budgets: N coupons of a template a store, a clerk or a KOC may hand out.
CREATE TABLE coupon_budgets (
    id          bigserial PRIMARY KEY,
    template_id bigint NOT NULL REFERENCES coupon_templates (id),
    holder_kind text NOT NULL CHECK (holder_kind IN ('store', 'clerk', 'koc')),
    holder_id   bigint NOT NULL,
    total       int NOT NULL CHECK (total >= 1),
    used        int NOT NULL DEFAULT 0,
    created_by  bigint REFERENCES staff (id),
    created_at  timestamptz NOT NULL,
    CONSTRAINT coupon_budgets_used_bounds CHECK (used BETWEEN 0 AND total)
);
CREATE INDEX coupon_budgets_holder_idx ON coupon_budgets (holder_kind, holder_id, template_id);

-- Each coupon handed out of a budget, with who handed it out.
CREATE TABLE coupon_grants (
    id          bigserial PRIMARY KEY,
    budget_id   bigint NOT NULL REFERENCES coupon_budgets (id),
    coupon_id   bigint NOT NULL REFERENCES coupons (id),
    shopper_id  bigint NOT NULL REFERENCES shoppers (id),
    granted_by  bigint NOT NULL REFERENCES staff (id),
    store_id    bigint REFERENCES stores (id),
    granted_at  timestamptz NOT NULL
);

-- Campaigns: flash sales (a campaign price per SKU with its own allotment,
-- a per-shopper limit and a window) and member days (a tier-discount boost
-- on a weekday or a date). status moves draft → scheduled → running → ended
-- (a worker on time; paused and ended early by admins).
CREATE TABLE campaigns (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('flash_sale', 'member_day')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'ended')),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    per_shopper_limit int NOT NULL DEFAULT 0 CHECK (per_shopper_limit >= 0),  -- 0: none
    weekday         int CHECK (weekday BETWEEN 0 AND 6),  -- member day: Sunday 0
    month_day       int CHECK (month_day BETWEEN 1 AND 31),
    boost_bp        int NOT NULL DEFAULT 0 CHECK (boost_bp BETWEEN 0 AND 10000),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK (starts_at < ends_at)
);
CREATE INDEX campaigns_live_idx ON campaigns (starts_at, ends_at) WHERE status IN ('scheduled', 'running');

CREATE TABLE campaign_skus (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    sku_id      bigint NOT NULL REFERENCES skus (id),
    price_fen   bigint NOT NULL CHECK (price_fen > 0),
    allotment   int NOT NULL CHECK (allotment >= 0),
    taken       int NOT NULL DEFAULT 0,   -- held by unpaid orders or sold
    PRIMARY KEY (campaign_id, sku_id),
    CONSTRAINT campaign_skus_allotment CHECK (taken BETWEEN 0 AND allotment)
);
CREATE INDEX campaign_skus_sku_idx ON campaign_skus (sku_id);

-- Units a shopper took in a campaign (held or sold): the per-shopper limit.
CREATE TABLE campaign_shoppers (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    shopper_id  bigint NOT NULL REFERENCES shoppers (id),
    taken       int NOT NULL CHECK (taken >= 0),
    PRIMARY KEY (campaign_id, shopper_id)
);

-- Each order line that took campaign units: held when placed, sold when
-- paid, released when cancelled.
CREATE TABLE campaign_order_units (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    order_id    bigint NOT NULL REFERENCES orders (id),
    sku_id      bigint NOT NULL REFERENCES skus (id),
    shopper_id  bigint REFERENCES shoppers (id),
    quantity    int NOT NULL CHECK (quantity > 0),
    status      text NOT NULL CHECK (status IN ('held', 'sold', 'released')),
    PRIMARY KEY (order_id, campaign_id, sku_id)
);
CREATE INDEX campaign_order_units_campaign_idx ON campaign_order_units (campaign_id, sku_id);

-- +goose Down
SELECT 'down migration not supported';
