-- +goose Up
-- Carts, addresses, orders and their lines.

-- A cart line belongs to a shopper or to an anonymous visitor (X-Anon-Id);
-- at sign-in the visitor's lines move to the shopper (quantities merged).
CREATE TABLE cart_items (
    id          bigserial PRIMARY KEY,
    shopper_id  bigint REFERENCES shoppers (id),
    anon_id     text CHECK (anon_id IS NULL OR length(anon_id) BETWEEN 8 AND 64),
    sku_id      bigint NOT NULL REFERENCES skus (id),
    quantity    int NOT NULL CHECK (quantity BETWEEN 1 AND 999),
    selected    boolean NOT NULL DEFAULT true,
    added_at    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT cart_items_one_owner CHECK ((shopper_id IS NULL) <> (anon_id IS NULL))
);
CREATE UNIQUE INDEX cart_items_shopper_sku_idx ON cart_items (shopper_id, sku_id) WHERE shopper_id IS NOT NULL;
CREATE UNIQUE INDEX cart_items_anon_sku_idx ON cart_items (anon_id, sku_id) WHERE anon_id IS NOT NULL;

-- A shopper's delivery addresses; deleting is soft (orders keep a snapshot
-- anyway), and at most one live address is the default.
CREATE TABLE addresses (
    id          bigserial PRIMARY KEY,
    shopper_id  bigint NOT NULL REFERENCES shoppers (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone       text NOT NULL CHECK (phone ~ '^[0-9+-]{5,20}$'),
    province    text NOT NULL CHECK (length(province) BETWEEN 1 AND 50),
    city        text NOT NULL CHECK (length(city) BETWEEN 1 AND 50),
    district    text NOT NULL DEFAULT '' CHECK (length(district) <= 50),
    detail      text NOT NULL CHECK (length(detail) BETWEEN 1 AND 200),
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);
CREATE INDEX addresses_shopper_idx ON addresses (shopper_id, id) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX addresses_one_default_idx ON addresses (shopper_id) WHERE is_default AND deleted_at IS NULL;

-- An order. Money is fen: subtotal (list prices) − discount (campaign +
-- member + coupon + points) + freight = payable, checked here and per line.
CREATE TABLE orders (
    id                    bigserial PRIMARY KEY,
    order_no              text NOT NULL UNIQUE CHECK (order_no ~ '^[0-9A-Za-z_-]{1,32}$'),
    shopper_id            bigint NOT NULL REFERENCES shoppers (id),
    status                text NOT NULL CHECK (status IN ('pending_payment', 'paid', 'shipped', 'completed', 'cancelled')),
    fulfillment           text NOT NULL CHECK (fulfillment IN ('delivery', 'pickup')),
    address               jsonb,                      -- delivery: snapshot of the address
    pickup_store_id       bigint REFERENCES stores (id),
    subtotal_fen          bigint NOT NULL CHECK (subtotal_fen >= 0),
    campaign_discount_fen bigint NOT NULL DEFAULT 0 CHECK (campaign_discount_fen >= 0),
    member_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (member_discount_fen >= 0),
    coupon_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (coupon_discount_fen >= 0),
    points_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (points_discount_fen >= 0),
    discount_fen          bigint NOT NULL CHECK (discount_fen >= 0),
    freight_fen           bigint NOT NULL CHECK (freight_fen >= 0),
    payable_fen           bigint NOT NULL CHECK (payable_fen >= 0),
    points_used           bigint NOT NULL DEFAULT 0 CHECK (points_used >= 0),
    coupon_ids            bigint[] NOT NULL DEFAULT '{}',
    note                  text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    placed_at             timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    paid_at               timestamptz,
    shipped_at            timestamptz,
    carrier               text,
    tracking_no           text,
    completed_at          timestamptz,
    cancelled_at          timestamptz,
    cancel_reason         text,
    store_id              bigint REFERENCES stores (id),  -- in-store orders (clerk issue)
    clerk_id              bigint REFERENCES staff (id),
    updated_at            timestamptz NOT NULL,
    CONSTRAINT orders_discount_sums CHECK (discount_fen = campaign_discount_fen + member_discount_fen + coupon_discount_fen + points_discount_fen),
    CONSTRAINT orders_payable_sums CHECK (payable_fen = subtotal_fen - discount_fen + freight_fen),
    CONSTRAINT orders_fulfillment_target CHECK (
        (fulfillment = 'delivery' AND address IS NOT NULL) OR (fulfillment = 'pickup' AND pickup_store_id IS NOT NULL)),
    CONSTRAINT orders_paid_when CHECK (status IN ('pending_payment', 'cancelled') OR paid_at IS NOT NULL),
    CONSTRAINT orders_shipped_when CHECK (status <> 'shipped' OR (shipped_at IS NOT NULL AND carrier IS NOT NULL AND tracking_no IS NOT NULL)),
    CONSTRAINT orders_completed_when CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CONSTRAINT orders_cancelled_when CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL)
);
CREATE INDEX orders_shopper_idx ON orders (shopper_id, id DESC);
CREATE INDEX orders_shopper_status_idx ON orders (shopper_id, status, id DESC);
CREATE INDEX orders_status_idx ON orders (status, id DESC);
CREATE INDEX orders_placed_idx ON orders (placed_at);
CREATE INDEX orders_pending_expiry_idx ON orders (expires_at) WHERE status = 'pending_payment';
CREATE INDEX orders_shipped_idx ON orders (shipped_at) WHERE status = 'shipped';

-- An order line: a snapshot of the SKU as sold, what each discount took
-- off it, and what was paid for it (list_total − discounts = paid_fen).
CREATE TABLE order_items (
    id                    bigserial PRIMARY KEY,
    order_id              bigint NOT NULL REFERENCES orders (id),
    line_no               int NOT NULL CHECK (line_no >= 1),
    sku_id                bigint NOT NULL REFERENCES skus (id),
    product_id            bigint NOT NULL REFERENCES products (id),
    sku_code              text NOT NULL,
    title                 text NOT NULL,
    specs                 jsonb NOT NULL DEFAULT '{}',
    image                 text NOT NULL DEFAULT '',
    unit_price_fen        bigint NOT NULL CHECK (unit_price_fen >= 0),
    quantity              int NOT NULL CHECK (quantity > 0),
    list_total_fen        bigint NOT NULL CHECK (list_total_fen >= 0),
    campaign_discount_fen bigint NOT NULL DEFAULT 0 CHECK (campaign_discount_fen >= 0),
    member_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (member_discount_fen >= 0),
    coupon_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (coupon_discount_fen >= 0),
    points_discount_fen   bigint NOT NULL DEFAULT 0 CHECK (points_discount_fen >= 0),
    paid_fen              bigint NOT NULL CHECK (paid_fen >= 0),
    refund_status         text NOT NULL DEFAULT 'none'
                          CHECK (refund_status IN ('none', 'requested', 'approved', 'refunding', 'refunded', 'rejected')),
    refunded_quantity     int NOT NULL DEFAULT 0,
    refunded_fen          bigint NOT NULL DEFAULT 0,
    UNIQUE (order_id, line_no),
    CONSTRAINT order_items_paid_sums CHECK (paid_fen = list_total_fen - campaign_discount_fen - member_discount_fen - coupon_discount_fen - points_discount_fen),
    CONSTRAINT order_items_list_total CHECK (list_total_fen = unit_price_fen * quantity),
    CONSTRAINT order_items_refund_bounds CHECK (refunded_quantity BETWEEN 0 AND quantity AND refunded_fen BETWEEN 0 AND paid_fen)
);
CREATE INDEX order_items_order_idx ON order_items (order_id, line_no);
CREATE INDEX order_items_sku_idx ON order_items (sku_id);

-- +goose Down
DROP TABLE order_items, orders, addresses, cart_items;
