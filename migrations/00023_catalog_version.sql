-- +goose Up
-- The catalog's version: every write to a table a shopper's product list or
-- detail page is built from advances it, so the servers' read caches
-- (domain/readcache) can tell, with one cheap read, whether what they hold
-- is still current. A sequence, not a counter row: nextval takes no row lock,
-- so concurrent orders changing stock never queue on it. Statement triggers:
-- one bump per statement, however many rows.
CREATE SEQUENCE catalog_version;

-- +goose StatementBegin
CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('catalog_version');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON skus
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON campaign_skus
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();

-- +goose Down
DROP TRIGGER catalog_version ON campaign_skus;
DROP TRIGGER catalog_version ON campaigns;
DROP TRIGGER catalog_version ON categories;
DROP TRIGGER catalog_version ON skus;
DROP TRIGGER catalog_version ON products;
DROP FUNCTION bump_catalog_version();
DROP SEQUENCE catalog_version;
