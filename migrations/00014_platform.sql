-- +goose Up
-- The mini-program platform (issue 16): shipping information uploaded to
-- WeChat, subscribe messages, the kind of chat a share was opened in, and
-- the country code of a bound phone.

-- Where a shared card was opened: a group or a one-to-one chat (NULL: not
-- known), so that attribution tells "shared to a friend" from "shared into
-- a group".
ALTER TABLE touches ADD COLUMN chat text CHECK (chat IN ('group', 'single'));

-- WeChat's countryCode of the bound phone (phone holds purePhoneNumber).
ALTER TABLE shoppers ADD COLUMN phone_country_code text CHECK (phone_country_code ~ '^[0-9]{1,4}$');

-- One shipping-information upload (upload_shipping_info) per order, recorded
-- in the transaction of the moment that calls for it (shipped, picked up,
-- completed in store) and uploaded by a worker with backoff.
CREATE TABLE shipping_uploads (
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL UNIQUE REFERENCES orders (id),
    state             text NOT NULL CHECK (state IN ('pending', 'uploaded', 'not_required', 'failed')),
    logistics_type    int NOT NULL CHECK (logistics_type BETWEEN 1 AND 4),
    transaction_id    text NOT NULL DEFAULT '',
    mchid             text NOT NULL DEFAULT '',
    out_trade_no      text NOT NULL DEFAULT '',
    payer_openid      text NOT NULL DEFAULT '',
    carrier           text NOT NULL DEFAULT '',
    tracking_no       text NOT NULL DEFAULT '',
    item_desc         text NOT NULL CHECK (length(item_desc) <= 120),
    receiver_contact  text NOT NULL DEFAULT '',
    attempts          int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at           timestamptz NOT NULL,
    lease_until       timestamptz NOT NULL DEFAULT '-infinity',
    last_error        text NOT NULL DEFAULT '',
    uploaded_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT shipping_uploads_uploaded_when CHECK ((state = 'uploaded') = (uploaded_at IS NOT NULL))
);
CREATE INDEX shipping_uploads_due_idx ON shipping_uploads (next_at) WHERE state = 'pending';

-- Each one-time subscription a shopper accepted (wx.requestSubscribeMessage
-- as the client reported it); a message spends one (used_at).
CREATE TABLE message_acceptances (
    id           bigserial PRIMARY KEY,
    shopper_id   bigint NOT NULL REFERENCES shoppers (id),
    kind         text NOT NULL,
    template_id  text NOT NULL CHECK (length(template_id) BETWEEN 1 AND 128),
    report_id    text NOT NULL CHECK (length(report_id) BETWEEN 1 AND 64),
    accepted_at  timestamptz NOT NULL,
    used_at      timestamptz,
    UNIQUE (shopper_id, report_id, template_id)
);
CREATE INDEX message_acceptances_open_idx ON message_acceptances (shopper_id, template_id, id) WHERE used_at IS NULL;

-- Subscribe messages: at most one per acceptance, at most one per order and
-- kind; a worker sends them.
CREATE TABLE weapp_messages (
    id             bigserial PRIMARY KEY,
    acceptance_id  bigint NOT NULL UNIQUE REFERENCES message_acceptances (id),
    order_id       bigint REFERENCES orders (id),
    shopper_id     bigint NOT NULL REFERENCES shoppers (id),
    openid         text NOT NULL,
    kind           text NOT NULL,
    template_id    text NOT NULL,
    page           text NOT NULL DEFAULT '',
    data           jsonb NOT NULL,
    state          text NOT NULL CHECK (state IN ('pending', 'sent', 'refused', 'failed')),
    attempts       int NOT NULL DEFAULT 0,
    next_at        timestamptz NOT NULL,
    lease_until    timestamptz NOT NULL DEFAULT '-infinity',
    last_error     text NOT NULL DEFAULT '',
    sent_at        timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT weapp_messages_sent_when CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE UNIQUE INDEX weapp_messages_order_kind_idx ON weapp_messages (order_id, kind) WHERE order_id IS NOT NULL AND kind <> 'refund_result';
CREATE INDEX weapp_messages_due_idx ON weapp_messages (next_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE weapp_messages, message_acceptances, shipping_uploads;
ALTER TABLE shoppers DROP COLUMN phone_country_code;
ALTER TABLE touches DROP COLUMN chat;
