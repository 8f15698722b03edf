-- +goose Up
-- Contention-free commission accrual. Every payment that earns commission
-- appended accrue entries whose trigger added to the KOC's cached balance
-- row in kocs, so concurrent payments driven by one KOC queued on that one
-- row until each other's commit. Accruals (kind accrue, bucket pending, the
-- only kind written on the payment path) now add to one of 32 shards of the
-- KOC's pending balance, picked by the writing transaction's id, so
-- concurrent payments almost never touch the same row. Every other entry
-- (mature, reverse, carry, settle, pay, return — rare, and already taking
-- the KOC's row) first folds the KOC's shards into kocs.pending_fen and then
-- moves the balances as before, so kocs_balances (no bucket below zero)
-- still guards every decrease. The ledger is unchanged and immutable; a
-- KOC's pending balance is kocs.pending_fen plus its shards (koc_balances).

CREATE TABLE koc_pending_shards (
    koc_id      bigint NOT NULL REFERENCES kocs (shopper_id),
    shard       smallint NOT NULL CHECK (shard BETWEEN 0 AND 31),
    pending_fen bigint NOT NULL CHECK (pending_fen >= 0),
    PRIMARY KEY (koc_id, shard)
);

-- A KOC's balances: the cached row plus its unfolded pending shards.
CREATE VIEW koc_balances AS
SELECT k.shopper_id,
       k.pending_fen + COALESCE((SELECT sum(s.pending_fen) FROM koc_pending_shards s WHERE s.koc_id = k.shopper_id), 0)::bigint AS pending_fen,
       k.settleable_fen, k.settled_fen, k.paid_fen, k.reversed_fen
FROM kocs k;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION commission_entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NEW.kind = 'accrue' AND NEW.bucket = 'pending' AND NEW.amount_fen > 0 THEN
        INSERT INTO koc_pending_shards AS s (koc_id, shard, pending_fen)
        VALUES (NEW.koc_id, (txid_current() % 32)::smallint, NEW.amount_fen)
        ON CONFLICT (koc_id, shard) DO UPDATE SET pending_fen = s.pending_fen + EXCLUDED.pending_fen;
        RETURN NULL;
    END IF;
    WITH d AS (DELETE FROM koc_pending_shards WHERE koc_id = NEW.koc_id RETURNING pending_fen)
    SELECT COALESCE(sum(pending_fen), 0) INTO folded FROM d;
    UPDATE kocs SET
        pending_fen    = pending_fen    + folded + CASE WHEN NEW.bucket = 'pending' THEN NEW.amount_fen ELSE 0 END,
        settleable_fen = settleable_fen + CASE WHEN NEW.bucket = 'settleable' THEN NEW.amount_fen ELSE 0 END,
        settled_fen    = settled_fen    + CASE WHEN NEW.bucket = 'settled'    THEN NEW.amount_fen ELSE 0 END,
        paid_fen       = paid_fen       + CASE WHEN NEW.bucket = 'paid'       THEN NEW.amount_fen ELSE 0 END,
        reversed_fen   = reversed_fen   + CASE WHEN NEW.kind IN ('reverse', 'carry') THEN -NEW.amount_fen ELSE 0 END
    WHERE shopper_id = NEW.koc_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION commission_entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE kocs SET
        pending_fen    = pending_fen    + CASE WHEN NEW.bucket = 'pending'    THEN NEW.amount_fen ELSE 0 END,
        settleable_fen = settleable_fen + CASE WHEN NEW.bucket = 'settleable' THEN NEW.amount_fen ELSE 0 END,
        settled_fen    = settled_fen    + CASE WHEN NEW.bucket = 'settled'    THEN NEW.amount_fen ELSE 0 END,
        paid_fen       = paid_fen       + CASE WHEN NEW.bucket = 'paid'       THEN NEW.amount_fen ELSE 0 END,
        reversed_fen   = reversed_fen   + CASE WHEN NEW.kind IN ('reverse', 'carry') THEN -NEW.amount_fen ELSE 0 END
    WHERE shopper_id = NEW.koc_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
UPDATE kocs k SET pending_fen = k.pending_fen + s.p
FROM (SELECT koc_id, sum(pending_fen) p FROM koc_pending_shards GROUP BY koc_id) s WHERE s.koc_id = k.shopper_id;
DROP VIEW koc_balances;
DROP TABLE koc_pending_shards;
