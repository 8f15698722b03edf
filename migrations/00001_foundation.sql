-- +goose Up
-- Stores, staff, shoppers, sessions, the audit log and idempotency keys:
-- the identity and bookkeeping every area relies on.

CREATE TABLE stores (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    address       text NOT NULL DEFAULT '',
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    opening_hours text NOT NULL DEFAULT '',
    phone         text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,40}$'),
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'merchandiser', 'operator', 'store_manager', 'clerk')),
    store_id      bigint REFERENCES stores (id),
    active        boolean NOT NULL DEFAULT true,
    failed_logins int NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- clerks and store managers belong to exactly one store; others to none
    CONSTRAINT staff_store_by_role CHECK ((role IN ('clerk', 'store_manager')) = (store_id IS NOT NULL))
);
CREATE INDEX staff_store_idx ON staff (store_id) WHERE store_id IS NOT NULL;

CREATE TABLE shoppers (
    id           bigserial PRIMARY KEY,
    openid       text NOT NULL UNIQUE,
    unionid      text,
    session_key  text NOT NULL DEFAULT '', -- WeChat session_key: never leaves the server
    phone        text,
    nickname     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX shoppers_phone_idx ON shoppers (phone) WHERE phone IS NOT NULL;

-- Anonymous visitors (X-Anon-Id) are stitched to a shopper at sign-in.
CREATE TABLE anon_visitors (
    anon_id     text PRIMARY KEY CHECK (length(anon_id) BETWEEN 8 AND 64),
    shopper_id  bigint REFERENCES shoppers (id),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    stitched_at timestamptz
);
CREATE INDEX anon_visitors_shopper_idx ON anon_visitors (shopper_id) WHERE shopper_id IS NOT NULL;

-- Bearer tokens are opaque random strings; only their SHA-256 is stored, so a
-- leaked table leaks no usable token. Revocation is a column.
CREATE TABLE auth_tokens (
    token_hash   bytea PRIMARY KEY,
    subject_kind text NOT NULL CHECK (subject_kind IN ('shopper', 'staff')),
    subject_id   bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX auth_tokens_subject_idx ON auth_tokens (subject_kind, subject_id);

-- Every admin write: who, what, when, before and after.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    staff_id    bigint REFERENCES staff (id),
    staff_name  text NOT NULL,
    action      text NOT NULL,          -- e.g. product.update, stock.adjust
    entity      text NOT NULL,          -- e.g. product
    entity_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id DESC);
CREATE INDEX audit_log_staff_idx ON audit_log (staff_id, id DESC);

-- Idempotency-Key replay: the first request with a key stores its response;
-- the same key with the same body replays it; with another body it is refused.
CREATE TABLE idempotency_keys (
    scope         text NOT NULL,        -- e.g. shop.orders
    subject       text NOT NULL,        -- who sent it, e.g. shopper:42
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    request_hash  bytea NOT NULL,
    status        int,                  -- NULL while the first request is running
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, subject, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys, audit_log, auth_tokens, anon_visitors, shoppers, staff, stores;
