-- +goose Up
-- Categories, products (SPU), SKUs and the stock ledger.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    id         bigserial PRIMARY KEY,
    parent_id  bigint REFERENCES categories (id),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    sort       int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX categories_parent_idx ON categories (parent_id, sort, id);

CREATE TABLE products (
    id           bigserial PRIMARY KEY,
    category_id  bigint NOT NULL REFERENCES categories (id),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    subtitle     text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    images       text[] NOT NULL DEFAULT '{}',
    tags         text[] NOT NULL DEFAULT '{}',
    spec_dims    jsonb NOT NULL DEFAULT '[]',   -- [{"name":"颜色","values":["红","蓝"]}, …]
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'on_sale', 'off_sale')),
    sort_weight  int NOT NULL DEFAULT 0,
    sales        bigint NOT NULL DEFAULT 0,     -- units sold, for sort=sales
    min_price_fen bigint NOT NULL DEFAULT 0,    -- cheapest on-sale SKU, for sort=price
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_listing_idx ON products (status, category_id, sort_weight DESC, id DESC);
-- Shopper lists: only products on sale, one index per sort (keyset pagination
-- walks them in order); admin lists use the primary key.
CREATE INDEX products_shop_default_idx ON products (sort_weight DESC, id DESC) WHERE status = 'on_sale';
CREATE INDEX products_shop_price_idx ON products (min_price_fen, id) WHERE status = 'on_sale';
CREATE INDEX products_shop_newest_idx ON products (created_at DESC, id DESC) WHERE status = 'on_sale';
CREATE INDEX products_shop_sales_idx ON products (sales DESC, id DESC) WHERE status = 'on_sale';
-- Text search (ILIKE '%连衣裙%') through trigrams; works for CJK under a UTF-8 ctype.
CREATE INDEX products_title_trgm_idx ON products USING gin (title gin_trgm_ops);

-- stock: available to sell; reserved: held by unpaid orders; sold: paid.
-- Every change is a stock_ledger row written in the same transaction.
CREATE TABLE skus (
    id              bigserial PRIMARY KEY,
    product_id      bigint NOT NULL REFERENCES products (id),
    code            text NOT NULL CONSTRAINT skus_code_key UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    specs           jsonb NOT NULL DEFAULT '{}',  -- {"颜色":"红","尺码":"M"}
    price_fen       bigint NOT NULL CHECK (price_fen > 0),
    list_price_fen  bigint NOT NULL DEFAULT 0 CHECK (list_price_fen >= 0),
    stock           int NOT NULL DEFAULT 0 CONSTRAINT skus_stock_nonnegative CHECK (stock >= 0),
    reserved        int NOT NULL DEFAULT 0 CONSTRAINT skus_reserved_nonnegative CHECK (reserved >= 0),
    sold            int NOT NULL DEFAULT 0 CHECK (sold >= 0),
    per_order_limit int CHECK (per_order_limit > 0),
    status          text NOT NULL DEFAULT 'on_sale' CHECK (status IN ('on_sale', 'off_sale')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skus_product_idx ON skus (product_id, id);
-- No two SKUs of a product share spec values (jsonb equality ignores key order).
CREATE UNIQUE INDEX skus_product_specs_key ON skus (product_id, specs);

CREATE TABLE stock_ledger (
    id             bigserial PRIMARY KEY,
    sku_id         bigint NOT NULL REFERENCES skus (id),
    kind           text NOT NULL CHECK (kind IN ('receive', 'correct', 'damage', 'reserve', 'release', 'sale', 'return')),
    delta          int NOT NULL,            -- change of skus.stock (available)
    reserved_delta int NOT NULL DEFAULT 0,  -- change of skus.reserved
    sold_delta     int NOT NULL DEFAULT 0,  -- change of skus.sold
    ref            text NOT NULL DEFAULT '', -- order number, adjustment note id …
    actor          text NOT NULL,            -- staff:3, shopper:42, system
    note           text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL
);
CREATE INDEX stock_ledger_sku_idx ON stock_ledger (sku_id, id);
CREATE INDEX stock_ledger_ref_idx ON stock_ledger (ref) WHERE ref <> '';

-- +goose Down
DROP TABLE stock_ledger, skus, products, categories;
