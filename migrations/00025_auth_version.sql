-- +goose Up
-- Who a token is: its version advances with every change that can make a
-- signed-in principal stale (a token revoked or deleted; a staff account
-- changed: role, store, deactivated; or deleted), so servers can keep
-- principals in memory (domain/readcache) and re-check them with one read.
-- New tokens do not advance it: a token not yet seen is never in memory.
CREATE SEQUENCE auth_version;

-- +goose StatementBegin
CREATE FUNCTION bump_auth_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('auth_version');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER auth_version AFTER UPDATE OR DELETE OR TRUNCATE ON auth_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_version();
CREATE TRIGGER auth_version AFTER UPDATE OR DELETE OR TRUNCATE ON staff
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_version();

-- +goose Down
DROP TRIGGER auth_version ON staff;
DROP TRIGGER auth_version ON auth_tokens;
DROP FUNCTION bump_auth_version();
DROP SEQUENCE auth_version;
