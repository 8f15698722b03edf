-- +goose Up
-- Attribution: touchpoints, share links, touches (append-only, monthly
-- partitions), the attribution of every paid order under every model, and
-- the rollups the reports read (maintained on write).

-- A touchpoint is something that can drive an order. Groups and posts are
-- managed by operators; KOCs, clerks and stores are touchpoints by being who
-- they are (one row each, created the first time they are needed).
CREATE TABLE touchpoints (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('group', 'koc', 'post', 'store', 'clerk')),
    name           text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    post_kind      text CHECK (post_kind IN ('moments', 'article', 'channels_video', 'live', 'poster', 'package_card', 'sms')),
    tags           text[] NOT NULL DEFAULT '{}',
    owner_store_id bigint REFERENCES stores (id),
    owner_koc_id   bigint REFERENCES touchpoints (id),
    shopper_id     bigint REFERENCES shoppers (id),  -- koc: the sharing shopper
    store_id       bigint REFERENCES stores (id),    -- store
    staff_id       bigint REFERENCES staff (id),     -- clerk
    opengid        text,                             -- group, when learnt from a group-enter
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT touchpoints_post_kind CHECK ((kind = 'post') = (post_kind IS NOT NULL)),
    CONSTRAINT touchpoints_koc CHECK ((kind = 'koc') = (shopper_id IS NOT NULL)),
    CONSTRAINT touchpoints_store CHECK ((kind = 'store') = (store_id IS NOT NULL)),
    CONSTRAINT touchpoints_clerk CHECK ((kind = 'clerk') = (staff_id IS NOT NULL)),
    CONSTRAINT touchpoints_group CHECK (kind = 'group' OR opengid IS NULL),
    CONSTRAINT touchpoints_one_owner CHECK (owner_store_id IS NULL OR owner_koc_id IS NULL),
    CONSTRAINT touchpoints_tags CHECK (cardinality(tags) <= 20)
);
CREATE UNIQUE INDEX touchpoints_koc_idx ON touchpoints (shopper_id) WHERE kind = 'koc';
CREATE UNIQUE INDEX touchpoints_store_idx ON touchpoints (store_id) WHERE kind = 'store';
CREATE UNIQUE INDEX touchpoints_clerk_idx ON touchpoints (staff_id) WHERE kind = 'clerk';
CREATE UNIQUE INDEX touchpoints_opengid_idx ON touchpoints (opengid) WHERE opengid IS NOT NULL;
CREATE INDEX touchpoints_kind_idx ON touchpoints (kind, id DESC);

-- A share link is one act of sharing: this post or product, shared by this
-- KOC or clerk (or published by the brand: a poster code). touchpoint_ids
-- are the link's touchpoints (post, koc, clerk, store), fixed at creation.
CREATE TABLE share_links (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9A-Za-z]{8,32}$'),
    product_id     bigint REFERENCES products (id),
    post_id        bigint REFERENCES touchpoints (id),
    shopper_id     bigint REFERENCES shoppers (id),   -- shared by a shopper (a KOC)
    staff_id       bigint REFERENCES staff (id),      -- shared by a clerk or made by an admin
    touchpoint_ids bigint[] NOT NULL,
    path           text NOT NULL,
    created_at     timestamptz NOT NULL,
    CONSTRAINT share_links_one_target CHECK (product_id IS NULL OR post_id IS NULL)
);
CREATE INDEX share_links_staff_idx ON share_links (staff_id, created_at DESC) WHERE staff_id IS NOT NULL;
CREATE INDEX share_links_shopper_idx ON share_links (shopper_id, created_at DESC) WHERE shopper_id IS NOT NULL;

-- One row: the brand's attribution settings.
CREATE TABLE attribution_settings (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    model             text NOT NULL DEFAULT 'last_touch'
                      CHECK (model IN ('last_touch', 'first_touch', 'linear', 'time_decay', 'position_based')),
    lookback_seconds  bigint NOT NULL DEFAULT 604800 CHECK (lookback_seconds BETWEEN 1 AND 7776000),
    half_life_seconds bigint NOT NULL DEFAULT 86400 CHECK (half_life_seconds BETWEEN 60 AND 2592000),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO attribution_settings DEFAULT VALUES;

-- Client event ids seen, to drop duplicates of a batch sent again. Kept
-- apart from the partitioned touches because a unique index there would have
-- to include the partition key (at), which a resent event may not repeat
-- exactly (at is clamped to the server's window when received).
CREATE TABLE touch_events (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX touch_events_received_idx ON touch_events USING brin (received_at);

-- Touches: one arrival of one visitor through one share link. Append-only
-- (the one update: shopper_id is filled in once when an anonymous visitor
-- signs in); range-partitioned by month (Asia/Shanghai months) so writes
-- stay cheap and old months are dropped or detached whole. Partitions are
-- created ahead by ensure_touch_partitions (at migration, at start-up and
-- daily); a default partition keeps any touch outside them.
CREATE SEQUENCE touches_id_seq;
CREATE TABLE touches (
    id             bigint NOT NULL DEFAULT nextval('touches_id_seq'),
    event_id       text NOT NULL,
    at             timestamptz NOT NULL,  -- the client's time, clamped to the server's window
    received_at    timestamptz NOT NULL,
    shopper_id     bigint,                -- no FK: the hot path; shoppers are never deleted
    anon_id        text,
    code           text NOT NULL,
    known          boolean NOT NULL,      -- the code is a share link
    touchpoint_ids bigint[] NOT NULL DEFAULT '{}',
    scene          int NOT NULL DEFAULT 0,
    path           text NOT NULL DEFAULT '',
    opengid        text,
    CONSTRAINT touches_visitor CHECK (shopper_id IS NOT NULL OR anon_id IS NOT NULL)
) PARTITION BY RANGE (at);
-- "the visitor's touches in [t − lookback, t]"
CREATE INDEX touches_shopper_at_idx ON touches (shopper_id, at) WHERE shopper_id IS NOT NULL;
CREATE INDEX touches_anon_at_idx ON touches (anon_id, at) WHERE anon_id IS NOT NULL;
CREATE TABLE touches_default PARTITION OF touches DEFAULT;

-- ensure_touch_partitions creates the monthly partitions of touches for the
-- months from from_month on (count months); rows already in the default
-- partition for such a month are moved into it. Returns how many it made.
-- +goose StatementBegin
CREATE FUNCTION ensure_touch_partitions(from_month date, months int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    m     date;
    lo    timestamptz;
    hi    timestamptz;
    pname text;
    made  int := 0;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        m := (date_trunc('month', from_month) + make_interval(months => i))::date;
        pname := 'touches_' || to_char(m, 'YYYYMM');
        IF to_regclass(pname) IS NOT NULL THEN
            CONTINUE;
        END IF;
        lo := (m::text || ' 00:00:00+08')::timestamptz;
        hi := ((m + interval '1 month')::date::text || ' 00:00:00+08')::timestamptz;
        CREATE TEMP TABLE IF NOT EXISTS touches_moving (LIKE touches) ON COMMIT DROP;
        WITH moved AS (DELETE FROM touches_default WHERE at >= lo AND at < hi RETURNING *)
        INSERT INTO touches_moving SELECT * FROM moved;
        EXECUTE format('CREATE TABLE %I PARTITION OF touches FOR VALUES FROM (%L) TO (%L)', pname, lo, hi);
        INSERT INTO touches SELECT * FROM touches_moving;
        TRUNCATE touches_moving;
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;
-- +goose StatementEnd
SELECT ensure_touch_partitions((now() AT TIME ZONE 'Asia/Shanghai')::date - 62, 6);

-- Rollup of touches maintained on write: per dimension, Asia/Shanghai day,
-- touchpoint and visitor ('s:<shopper id>' or 'a:<anon id>'), so a report
-- counts touches and unique visitors without reading the touches.
CREATE TABLE touch_daily (
    kind          text NOT NULL,
    day           date NOT NULL,
    touchpoint_id bigint NOT NULL,
    visitor       text NOT NULL,
    touches       bigint NOT NULL,
    PRIMARY KEY (kind, day, touchpoint_id, visitor)
);
CREATE INDEX touch_daily_tp_idx ON touch_daily (touchpoint_id, day);

-- The attribution of one paid order (common facts); one row per model
-- below (every model is computed when the order is paid).
CREATE TABLE order_attributions (
    order_id      bigint PRIMARY KEY REFERENCES orders (id),
    shopper_id    bigint NOT NULL,
    default_model text NOT NULL,
    placed_at     timestamptz NOT NULL,
    paid_at       timestamptz NOT NULL,
    day           date NOT NULL,          -- Asia/Shanghai day of paid_at
    paid_fen      bigint NOT NULL CHECK (paid_fen >= 0), -- paid goods amount, freight excluded
    new_customer  boolean NOT NULL,       -- the buyer's first paid order
    in_store      boolean NOT NULL,
    attributed_at timestamptz NOT NULL
);
CREATE INDEX order_attributions_day_idx ON order_attributions (day);

CREATE TABLE order_attribution_models (
    order_id    bigint NOT NULL REFERENCES order_attributions (order_id),
    model       text NOT NULL,
    direct      boolean NOT NULL,
    explanation jsonb NOT NULL,
    credits     jsonb NOT NULL,            -- per touch and line, as the engine split them
    reversals   jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (order_id, model)
);

-- Credits (> 0) and reversals (< 0) per order, model, touchpoint and line:
-- the ledger behind the rollup, and the source of top products.
CREATE TABLE attribution_credits (
    order_id      bigint NOT NULL,
    model         text NOT NULL,
    kind          text NOT NULL,
    touchpoint_id bigint NOT NULL,
    item_id       bigint NOT NULL,
    product_id    bigint NOT NULL,
    day           date NOT NULL,          -- the order's day (refunds too: cohort view)
    amount_fen    bigint NOT NULL,
    reversal      boolean NOT NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX attribution_credits_order_idx ON attribution_credits (order_id);
CREATE INDEX attribution_credits_tp_idx ON attribution_credits (model, touchpoint_id, day);

-- Rollup maintained on write: per model, dimension, day, touchpoint and
-- buyer. Reports sum it (and count distinct buyers) without reading orders.
CREATE TABLE attribution_daily (
    model               text NOT NULL,
    kind                text NOT NULL,
    day                 date NOT NULL,
    touchpoint_id       bigint NOT NULL,
    shopper_id          bigint NOT NULL,
    orders              int NOT NULL,
    new_customer_orders int NOT NULL,
    credited_fen        bigint NOT NULL,
    refunded_fen        bigint NOT NULL,
    PRIMARY KEY (model, kind, day, touchpoint_id, shopper_id)
);
CREATE INDEX attribution_daily_tp_idx ON attribution_daily (touchpoint_id, model, day);

-- +goose Down
DROP TABLE attribution_daily, attribution_credits, order_attribution_models, order_attributions,
    touch_daily, touches, touch_events, attribution_settings, share_links, touchpoints;
DROP FUNCTION ensure_touch_partitions(date, int);
DROP SEQUENCE touches_id_seq;
