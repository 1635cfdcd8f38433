-- The change log search indexes follow: one row per write to a contact or organization.
-- Every node tails it (by seq) to keep its local index in step with the store, whichever
-- node made the write. Names match the SQLite tree.

CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    changed_us BIGINT NOT NULL
);
CREATE INDEX changes_changed_idx ON changes (changed_us);
