-- +goose Up
-- Refunds of paid top-ups through WeChat Pay: principal only, minus what the
-- card has spent; the top-up's bonus is forfeited. Their out_refund_no is in
-- the top-up's own space (its out_trade_no, "R", a two-digit sequence), so
-- the cashier hands their notifications to membership. At most one live
-- refund per top-up.
CREATE TABLE member_topup_refunds (
    id            bigserial PRIMARY KEY,
    topup_id      bigint NOT NULL REFERENCES member_topups (id),
    out_refund_no text NOT NULL UNIQUE CHECK (out_refund_no ~ '^TU[0-9A-Za-z]{10,30}R[0-9]{2}$'),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),  -- principal refunded through WeChat Pay
    forfeit_fen   bigint NOT NULL CHECK (forfeit_fen >= 0), -- bonus forfeited
    status        text NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'abnormal', 'closed', 'failed')),
    reason        text NOT NULL DEFAULT '' CHECK (length(reason) <= 80),
    wx_refund_id  text,
    failure       text NOT NULL DEFAULT '',
    next_check_at timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    succeeded_at  timestamptz
);
CREATE UNIQUE INDEX member_topup_refunds_live ON member_topup_refunds (topup_id) WHERE status NOT IN ('closed', 'failed');
CREATE INDEX member_topup_refunds_open ON member_topup_refunds (next_check_at) WHERE status IN ('pending', 'processing', 'abnormal');

-- The ledger: topup_refund takes the principal off the card when the refund
-- is asked for, forfeit the bonus; restore gives both back when WeChat Pay
-- closes or refuses the refund.
ALTER TABLE member_balance_entries ADD COLUMN topup_refund_id bigint REFERENCES member_topup_refunds (id);
ALTER TABLE member_balance_entries DROP CONSTRAINT member_balance_entries_kind_check;
ALTER TABLE member_balance_entries ADD CONSTRAINT member_balance_entries_kind_check
    CHECK (kind IN ('topup', 'spend', 'return', 'refund', 'adjust', 'topup_refund', 'forfeit', 'restore'));
ALTER TABLE member_balance_entries DROP CONSTRAINT member_balance_entries_source;
ALTER TABLE member_balance_entries ADD CONSTRAINT member_balance_entries_source CHECK (
    (kind = 'topup' AND topup_id IS NOT NULL) OR (kind IN ('spend', 'return', 'refund') AND order_id IS NOT NULL)
    OR (kind = 'adjust' AND length(reason) > 0)
    OR (kind IN ('topup_refund', 'forfeit', 'restore') AND topup_refund_id IS NOT NULL AND topup_id IS NOT NULL));
CREATE UNIQUE INDEX member_balance_topup_refund_once ON member_balance_entries (topup_refund_id, kind)
    WHERE kind IN ('topup_refund', 'forfeit', 'restore');

-- +goose Down
DROP INDEX member_balance_topup_refund_once;
DELETE FROM member_balance_entries WHERE kind IN ('topup_refund', 'forfeit', 'restore');
ALTER TABLE member_balance_entries DROP CONSTRAINT member_balance_entries_source;
ALTER TABLE member_balance_entries ADD CONSTRAINT member_balance_entries_source CHECK (
    (kind = 'topup' AND topup_id IS NOT NULL) OR (kind IN ('spend', 'return', 'refund') AND order_id IS NOT NULL)
    OR (kind = 'adjust' AND length(reason) > 0));
ALTER TABLE member_balance_entries DROP CONSTRAINT member_balance_entries_kind_check;
ALTER TABLE member_balance_entries ADD CONSTRAINT member_balance_entries_kind_check
    CHECK (kind IN ('topup', 'spend', 'return', 'refund', 'adjust'));
ALTER TABLE member_balance_entries DROP COLUMN topup_refund_id;
DROP TABLE member_topup_refunds;
