-- +goose Up
-- KOC payout by WeChat Pay merchant transfer (商家转账): the limits and the
-- real-name threshold, when each open transfer was last asked about, and one
-- WeChat bill per transfer.

ALTER TABLE koc_settings
    -- no single transfer above this (fen)
    ADD COLUMN transfer_limit_fen bigint NOT NULL DEFAULT 500000 CHECK (transfer_limit_fen BETWEEN 1 AND 100000000),
    -- no more than this asked in one Shanghai day (fen), failed transfers excepted
    ADD COLUMN daily_limit_fen bigint NOT NULL DEFAULT 5000000 CHECK (daily_limit_fen BETWEEN 1 AND 1000000000),
    -- from this amount the KOC's real name is sent (encrypted) and required;
    -- WeChat Pay requires it from 2000 yuan
    ADD COLUMN real_name_from_fen bigint NOT NULL DEFAULT 200000 CHECK (real_name_from_fen BETWEEN 1 AND 200000);

ALTER TABLE settlement_items ADD COLUMN checked_at timestamptz; -- last query to WeChat Pay

CREATE UNIQUE INDEX settlement_items_bill_no_idx ON settlement_items (bill_no) WHERE bill_no IS NOT NULL;
CREATE INDEX settlement_items_asked_idx ON settlement_items (asked_at) WHERE asked_at IS NOT NULL;
CREATE INDEX settlement_items_koc_idx ON settlement_items (koc_id, id DESC);

-- +goose Down
DROP INDEX settlement_items_koc_idx, settlement_items_asked_idx, settlement_items_bill_no_idx;
ALTER TABLE settlement_items DROP COLUMN checked_at;
ALTER TABLE koc_settings DROP COLUMN real_name_from_fen, DROP COLUMN daily_limit_fen, DROP COLUMN transfer_limit_fen;
