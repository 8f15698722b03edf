-- +goose Up
-- Daily reconciliation against WeChat Pay's trade bill (domain/reconcile).
-- One run per bill date (Beijing day), rerun in place: runs counts them,
-- the counts are the last run's. A running run holds its day until
-- lease_until, so two instances never reconcile the same day at once.
CREATE TABLE reconciliation_runs (
    id              bigserial PRIMARY KEY,
    bill_date       date NOT NULL UNIQUE,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    runs            int NOT NULL DEFAULT 1 CHECK (runs >= 1),
    lines           int NOT NULL DEFAULT 0 CHECK (lines >= 0),
    matched         int NOT NULL DEFAULT 0 CHECK (matched >= 0),
    applied         int NOT NULL DEFAULT 0 CHECK (applied >= 0),
    refunds_settled int NOT NULL DEFAULT 0 CHECK (refunds_settled >= 0),
    discrepancies   int NOT NULL DEFAULT 0 CHECK (discrepancies >= 0),
    error           text NOT NULL DEFAULT '',
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL,
    lease_until     timestamptz,
    finished_at     timestamptz,
    CONSTRAINT reconciliation_runs_running_leased CHECK ((status = 'running') = (lease_until IS NOT NULL))
);

-- A disagreement between the bill and the mall, for finance; recorded once
-- per day, kind and trade/refund however often the day is rerun, and never
-- acted on without a person (who resolves it with a note).
CREATE TABLE reconciliation_discrepancies (
    id              bigserial PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES reconciliation_runs (id),
    bill_date       date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('unknown_trade', 'amount_mismatch', 'not_applied',
                                                  'missing_in_bill', 'unknown_refund', 'refund_amount_mismatch')),
    out_trade_no    text NOT NULL DEFAULT '',
    out_refund_no   text NOT NULL DEFAULT '',
    transaction_id  text NOT NULL DEFAULT '',
    bill_amount_fen bigint,
    our_amount_fen  bigint,
    detail          text NOT NULL DEFAULT '',
    resolved_at     timestamptz,
    resolved_by     bigint REFERENCES staff (id),
    resolver_name   text NOT NULL DEFAULT '',
    resolution_note text NOT NULL DEFAULT '' CHECK (length(resolution_note) <= 2000),
    created_at      timestamptz NOT NULL,
    UNIQUE (bill_date, kind, out_trade_no, out_refund_no),
    CONSTRAINT reconciliation_discrepancies_resolved_note CHECK ((resolved_at IS NULL) = (resolution_note = ''))
);
CREATE INDEX reconciliation_discrepancies_open_idx ON reconciliation_discrepancies (id) WHERE resolved_at IS NULL;
CREATE INDEX reconciliation_discrepancies_run_idx ON reconciliation_discrepancies (run_id);

-- The reverse check reads a day's payments by WeChat Pay's success time.
CREATE INDEX payments_success_time_idx ON payments (success_time);

-- +goose Down
DROP INDEX payments_success_time_idx;
DROP TABLE reconciliation_discrepancies;
DROP TABLE reconciliation_runs;
