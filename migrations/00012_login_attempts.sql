-- +goose Up
-- Staff sign-in attempts, per username, whether or not a staff member has the
-- username: an unknown username is counted and locked exactly like a known
-- one, so the lockout tells nobody which usernames exist. An attempt is
-- counted (one conditional upsert) before its password is checked, so
-- parallel guesses cannot all slip in under the limit; a success deletes the
-- row. Replaces staff.failed_logins and staff.locked_until.
CREATE TABLE login_attempts (
    username     text PRIMARY KEY CHECK (length(username) <= 200),
    attempts     int NOT NULL CHECK (attempts >= 0),
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);

ALTER TABLE staff DROP COLUMN failed_logins, DROP COLUMN locked_until;

-- +goose Down
ALTER TABLE staff ADD COLUMN failed_logins int NOT NULL DEFAULT 0, ADD COLUMN locked_until timestamptz;
DROP TABLE login_attempts;
