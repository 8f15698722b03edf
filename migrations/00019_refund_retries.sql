-- +goose Up
-- Refunds that finish (issue 15, item 3). A refund WeChat Pay refuses
-- outright no longer dies as "failed": NOT_ENOUGH (the merchant's balance is
-- short) stays pending and the refund worker resubmits it with backoff;
-- a refusal a person must handle (USER_ACCOUNT_ABNORMAL …) is
-- needs_attention: it keeps its amount, says why in failure, and waits in
-- the admin queue (GET /api/v1/admin/refunds?status=needs_attention) until
-- an admin retries it.
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('pending', 'processing', 'succeeded', 'abnormal', 'closed', 'failed', 'needs_attention'));
ALTER TABLE refunds ADD CONSTRAINT refunds_attention_says_why CHECK (status <> 'needs_attention' OR failure <> '');
CREATE INDEX refunds_attention_idx ON refunds (id) WHERE status IN ('needs_attention', 'abnormal');

-- +goose Down
DROP INDEX refunds_attention_idx;
ALTER TABLE refunds DROP CONSTRAINT refunds_attention_says_why;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('pending', 'processing', 'succeeded', 'abnormal', 'closed', 'failed'));
