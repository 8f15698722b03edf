-- +goose Up
-- wx_final: WeChat Pay confirmed the attempt's trade is over (a query said
-- CLOSED or it was paid). A closed attempt that is not final (closed here
-- without WeChat Pay's word: an ambiguous close, ORDER_NOT_EXIST, a changed
-- order) keeps being queried for a late payment for a day after closing.
ALTER TABLE payment_attempts ADD COLUMN wx_final boolean NOT NULL DEFAULT false;
UPDATE payment_attempts SET wx_final = true WHERE status = 'paid';
CREATE INDEX payment_attempts_unconfirmed_idx ON payment_attempts (next_check_at)
    WHERE status = 'closed' AND NOT wx_final;

-- +goose Down
DROP INDEX payment_attempts_unconfirmed_idx;
ALTER TABLE payment_attempts DROP COLUMN wx_final;
