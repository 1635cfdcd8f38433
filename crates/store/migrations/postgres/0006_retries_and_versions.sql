-- Safe retries and conditional writes. Names match the PostgreSQL tree.

-- One row per Idempotency-Key a caller (an API key, or the admin token) sent: while its
-- first request runs, `owner` holds it until `lease_until_us` (renewed as it runs, so a
-- node that died lets another take over); then the answer is kept until `expires_us`.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    owner TEXT NOT NULL,
    lease_until_us BIGINT NOT NULL,
    status INTEGER,
    headers TEXT,
    body BYTEA,
    expires_us BIGINT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);
-- Expired keys are cleaned up oldest first, without a scan.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_us);

-- Bumped by every write to the record, inside its transaction: an If-Match write states
-- the version it read and fails if another write came between.
ALTER TABLE contacts ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- A key's request rate limit as `RateLimit` prints it (`100/60s`, `saleschat`, `none`);
-- NULL follows the server's default.
ALTER TABLE api_keys ADD COLUMN rate_limit TEXT;
