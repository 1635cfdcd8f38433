-- A contact's history: every change to it, oldest first, each with who made it and
-- through which API, and each field's old and new value. Written with the change's events
-- in its transaction; kept for the contact's life and after its deletion (an erase
-- removes it). Names match the other tree.
CREATE TABLE contact_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    occurred_us INTEGER NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX contact_history_contact_idx ON contact_history (workspace_id, contact_id, id);
-- A contact's own events, for its export (and its erasure).
CREATE INDEX events_record_idx ON events (workspace_id, kind, record_id);
