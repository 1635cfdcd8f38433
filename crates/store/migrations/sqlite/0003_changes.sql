-- The change log search indexes follow: one row per write to a contact or organization.
-- Every node tails it (by seq) to keep its local index in step with the store, whichever
-- node made the write. Names match the PostgreSQL tree.

CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    changed_us INTEGER NOT NULL
);
CREATE INDEX changes_changed_idx ON changes (changed_us);
