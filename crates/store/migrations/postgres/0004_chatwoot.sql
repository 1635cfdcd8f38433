-- What the Chatwoot dialect adds: inboxes and contacts' links to them, labels, and the
-- record merges leave. Names match the PostgreSQL tree.

CREATE TABLE inboxes (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    provider TEXT,
    created_us BIGINT NOT NULL,
    CONSTRAINT inboxes_workspace_key UNIQUE (workspace_id, id)
);

-- A contact's id in an inbox (`source_id`) is unique per inbox.
CREATE TABLE contact_inboxes (
    workspace_id BIGINT NOT NULL,
    inbox_id BIGINT NOT NULL,
    source_id TEXT NOT NULL,
    contact_id BIGINT NOT NULL,
    created_us BIGINT NOT NULL,
    CONSTRAINT contact_inboxes_pkey PRIMARY KEY (workspace_id, inbox_id, source_id),
    CONSTRAINT contact_inboxes_inbox_fkey FOREIGN KEY (workspace_id, inbox_id)
        REFERENCES inboxes (workspace_id, id),
    CONSTRAINT contact_inboxes_contact_fkey FOREIGN KEY (workspace_id, contact_id)
        REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_inboxes_contact_idx ON contact_inboxes (workspace_id, contact_id);

CREATE TABLE contact_labels (
    workspace_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    label TEXT NOT NULL,
    CONSTRAINT contact_labels_pkey PRIMARY KEY (workspace_id, contact_id, label),
    CONSTRAINT contact_labels_contact_fkey FOREIGN KEY (workspace_id, contact_id)
        REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_labels_label_idx ON contact_labels (workspace_id, label);

-- Kept after a merge: the mergee is gone, this says where it went.
CREATE TABLE contact_merges (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    base_contact_id BIGINT NOT NULL,
    mergee_contact_id BIGINT NOT NULL,
    merged_us BIGINT NOT NULL
);
CREATE INDEX contact_merges_workspace_idx ON contact_merges (workspace_id, id);
