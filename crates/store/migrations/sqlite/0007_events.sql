-- Change events and webhooks. Names match the PostgreSQL tree.

-- The outbox: every change's events, written in the change's own transaction. `seq`
-- orders a workspace's feed (its writes are serialised, so a workspace's events commit in
-- seq order); `data` is the event's JSON `data`.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    workspace_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    occurred_us INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_workspace_idx ON events (workspace_id, seq);
CREATE INDEX events_id_idx ON events (id);
CREATE INDEX events_occurred_idx ON events (occurred_us);

-- A workspace's webhook endpoints. `events` lists the subscribed types between commas
-- (`,contact.created,contact.updated,`) or is `*`; `fields` (JSON array) narrows
-- `contact.updated`; `subscriptions` (JSON array) keeps a Chatwoot webhook's own event
-- names as its client sent them; `secret` is sealed with the server's webhook key (never stored bare).
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    format TEXT NOT NULL,
    events TEXT NOT NULL,
    fields TEXT,
    subscriptions TEXT,
    description TEXT,
    secret BLOB NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since_us INTEGER,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE INDEX webhooks_workspace_idx ON webhooks (workspace_id, id);

-- What is still to be sent: one row per (webhook, event), written with the event. A node
-- takes a row by leasing it (`lease_owner` until `lease_until_us`); a sent row is deleted.
CREATE TABLE webhook_deliveries (
    webhook_id INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_us INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_us INTEGER,
    PRIMARY KEY (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_us);

-- Every attempt, for an endpoint's delivery log.
CREATE TABLE webhook_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    next_retry_us INTEGER
);
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, seq);
CREATE INDEX webhook_attempts_at_idx ON webhook_attempts (at_us);
