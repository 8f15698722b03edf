-- +goose Up
-- WeChat Pay: payment attempts, applied payments, the notification log,
-- refunds and after-sales requests. Money is fen.

-- A payment attempt is one out_trade_no at WeChat Pay for an order. An order
-- may have several (a changed amount, a closed trade), each its own
-- out_trade_no, but at most one open at a time. The wx.requestPayment
-- parameters of the last prepay are kept so a valid prepay is reused.
-- Workers claim an attempt by moving lease_until forward in one statement
-- (FOR UPDATE SKIP LOCKED), so several instances never query or close the
-- same attempt at once; next_check_at spaces out the queries.
CREATE TABLE payment_attempts (
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    seq               int NOT NULL CHECK (seq >= 1),
    out_trade_no      text NOT NULL UNIQUE CHECK (out_trade_no ~ '^[0-9A-Za-z_-]{6,32}$'),
    trade_type        text NOT NULL CHECK (trade_type IN ('JSAPI', 'NATIVE')),
    amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
    payer_openid      text NOT NULL DEFAULT '',
    description       text NOT NULL CHECK (length(description) BETWEEN 1 AND 127),
    time_expire       timestamptz NOT NULL,
    prepay_id         text,
    request_payment   jsonb,                 -- the wx.requestPayment parameters of prepay_id
    prepay_valid_until timestamptz,          -- reuse the prepay until then
    status            text NOT NULL CHECK (status IN ('open', 'paid', 'closed')),
    transaction_id    text,
    checks            int NOT NULL DEFAULT 0,
    next_check_at     timestamptz NOT NULL,  -- the next query (backs off)
    lease_until       timestamptz NOT NULL DEFAULT '-infinity',  -- a worker holds it until then
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    UNIQUE (order_id, seq),
    CONSTRAINT payment_attempts_paid_has_tx CHECK ((status = 'paid') = (transaction_id IS NOT NULL)),
    CONSTRAINT payment_attempts_closed_when CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX payment_attempts_one_open_idx ON payment_attempts (order_id) WHERE status = 'open';
CREATE INDEX payment_attempts_due_idx ON payment_attempts (next_check_at) WHERE status = 'open';

-- A payment WeChat Pay reported (by notification or by query), recorded
-- exactly once by its transaction_id. outcome says what it did: applied
-- (the order became paid) or refund_due (the order was already cancelled
-- or paid by another attempt: the money goes back, see refunds).
CREATE TABLE payments (
    id               bigserial PRIMARY KEY,
    transaction_id   text NOT NULL UNIQUE,
    attempt_id       bigint NOT NULL UNIQUE REFERENCES payment_attempts (id),
    order_id         bigint NOT NULL REFERENCES orders (id),
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    payer_total_fen  bigint NOT NULL CHECK (payer_total_fen >= 0),
    currency         text NOT NULL,
    payer_openid     text NOT NULL DEFAULT '',
    trade_type       text NOT NULL DEFAULT '',
    success_time     timestamptz NOT NULL,
    source           text NOT NULL CHECK (source IN ('notification', 'query')),
    outcome          text NOT NULL CHECK (outcome IN ('applied', 'refund_due')),
    applied_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX payments_one_applied_idx ON payments (order_id) WHERE outcome = 'applied';
CREATE INDEX payments_order_idx ON payments (order_id);

-- Every verified notification and what it did (duplicates included): the
-- audit trail of what WeChat Pay told us. Outcomes starting with "alert_"
-- need a person (an amount that does not match, an unknown trade).
CREATE TABLE payment_notifications (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    resource     text NOT NULL CHECK (resource IN ('transaction', 'refund')),
    source       text NOT NULL CHECK (source IN ('notification', 'query')),
    out_no       text NOT NULL DEFAULT '',   -- out_trade_no or out_refund_no
    wx_id        text NOT NULL DEFAULT '',   -- transaction_id or refund_id
    amount_fen   bigint,
    outcome      text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL
);
CREATE INDEX payment_notifications_event_idx ON payment_notifications (event_id);
CREATE INDEX payment_notifications_out_no_idx ON payment_notifications (out_no);
CREATE INDEX payment_notifications_alert_idx ON payment_notifications (received_at) WHERE outcome LIKE 'alert_%';

-- A shopper's after-sales (refund) request for some units of some lines.
CREATE TABLE after_sales_requests (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id),
    shopper_id      bigint NOT NULL REFERENCES shoppers (id),
    status          text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'refunded')),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    goods_returned  boolean NOT NULL DEFAULT false,
    stock_returned  boolean NOT NULL DEFAULT false,  -- the units went back on sale (once)
    decided_by      bigint REFERENCES staff (id),
    decided_at      timestamptz,
    decision_note   text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX after_sales_requests_order_idx ON after_sales_requests (order_id);
CREATE INDEX after_sales_requests_status_idx ON after_sales_requests (status, id DESC);

-- amount_fen is set when the request is approved: exactly what those units
-- were paid (see cashier.LineRefund).
CREATE TABLE after_sales_lines (
    request_id  bigint NOT NULL REFERENCES after_sales_requests (id),
    item_id     bigint NOT NULL REFERENCES order_items (id),
    quantity    int NOT NULL CHECK (quantity > 0),
    amount_fen  bigint CHECK (amount_fen >= 0),
    PRIMARY KEY (request_id, item_id)
);

-- A refund at WeChat Pay. out_refund_no makes creating it idempotent (a
-- retry sends the same one). pending: recorded, not yet accepted by WeChat
-- Pay; processing: accepted; succeeded; abnormal (needs a person); closed
-- (WeChat Pay gave up); failed (refused outright). A refund of an
-- after-sales request has lines; one of a payment that arrived for a
-- cancelled order has none and returns the whole payment.
CREATE TABLE refunds (
    id              bigserial PRIMARY KEY,
    out_refund_no   text NOT NULL UNIQUE CHECK (out_refund_no ~ '^[0-9A-Za-z_|*@-]{1,64}$'),
    order_id        bigint NOT NULL REFERENCES orders (id),
    payment_id      bigint NOT NULL REFERENCES payments (id),
    after_sales_id  bigint REFERENCES after_sales_requests (id),
    kind            text NOT NULL CHECK (kind IN ('after_sales', 'paid_after_cancel', 'duplicate_payment')),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    freight_fen     bigint NOT NULL DEFAULT 0 CHECK (freight_fen >= 0),
    status          text NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'abnormal', 'closed', 'failed')),
    reason          text NOT NULL DEFAULT '',
    wx_refund_id    text,
    failure         text NOT NULL DEFAULT '',
    checks          int NOT NULL DEFAULT 0,
    next_check_at   timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    succeeded_at    timestamptz,
    CONSTRAINT refunds_succeeded_when CHECK ((status = 'succeeded') = (succeeded_at IS NOT NULL))
);
CREATE INDEX refunds_order_idx ON refunds (order_id);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
CREATE INDEX refunds_due_idx ON refunds (next_check_at) WHERE status IN ('pending', 'processing', 'abnormal');
CREATE UNIQUE INDEX refunds_one_live_per_request_idx ON refunds (after_sales_id)
    WHERE after_sales_id IS NOT NULL AND status NOT IN ('closed', 'failed');

CREATE TABLE refund_lines (
    refund_id   bigint NOT NULL REFERENCES refunds (id),
    item_id     bigint NOT NULL REFERENCES order_items (id),
    quantity    int NOT NULL CHECK (quantity > 0),
    amount_fen  bigint NOT NULL CHECK (amount_fen >= 0),
    PRIMARY KEY (refund_id, item_id)
);

-- +goose Down
DROP TABLE refund_lines, refunds, after_sales_lines, after_sales_requests, payment_notifications, payments, payment_attempts;
