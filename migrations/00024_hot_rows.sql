-- +goose Up
-- Rows every order of a shop touched, held by each paying transaction until
-- its commit (and so taken one transaction, one disk flush, at a time):
--
-- products.sales was kept by the stock statement on every sale; every SKU
-- of a product shared the row. A product's sales are now its SKUs' sold
-- counters, summed when read (the shop's list is served from the read
-- cache, so sorting by sales costs a sum per product per cache fill).
DROP INDEX products_shop_sales_idx;
ALTER TABLE products DROP COLUMN sales;

-- attribution_day_totals: 64 shards of a day instead of 8, so 16 or 32
-- concurrent payments rarely meet on one (reports sum the shards).
ALTER TABLE attribution_day_totals DROP CONSTRAINT attribution_day_totals_shard_check;
ALTER TABLE attribution_day_totals ADD CONSTRAINT attribution_day_totals_shard_check CHECK (shard BETWEEN 0 AND 63);

-- +goose Down
ALTER TABLE attribution_day_totals DROP CONSTRAINT attribution_day_totals_shard_check;
ALTER TABLE attribution_day_totals ADD CONSTRAINT attribution_day_totals_shard_check CHECK (shard BETWEEN 0 AND 7);
ALTER TABLE products ADD COLUMN sales bigint NOT NULL DEFAULT 0;
UPDATE products p SET sales = COALESCE((SELECT sum(sold) FROM skus WHERE product_id = p.id), 0);
CREATE INDEX products_shop_sales_idx ON products (sales DESC, id DESC) WHERE status = 'on_sale';
