-- SalesChat: opt-in and governance, stage and disposition with history, assignment to
-- users and groups. Names match the PostgreSQL tree.

ALTER TABLE contacts ADD COLUMN opt_in_us INTEGER;
ALTER TABLE contacts ADD COLUMN is_inbound BOOLEAN;
ALTER TABLE contacts ADD COLUMN source TEXT;
ALTER TABLE contacts ADD COLUMN governance_level_id TEXT;
ALTER TABLE contacts ADD COLUMN stage TEXT;
ALTER TABLE contacts ADD COLUMN disposition TEXT;
ALTER TABLE contacts ADD COLUMN disposition_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN assigned_user_id TEXT;
ALTER TABLE contacts ADD COLUMN assigned_group_id TEXT;
ALTER TABLE contacts ADD COLUMN assignment_pending BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE contacts ADD COLUMN remote_waba_id TEXT;
ALTER TABLE contacts ADD COLUMN remote_phone_id TEXT;
ALTER TABLE contacts ADD COLUMN assigned_us INTEGER;

CREATE TABLE users (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (workspace_id, id)
);

CREATE TABLE user_groups (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- How many assignments the group has handed out: the next goes to member
    -- (next_turn mod member count).
    next_turn INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL,
    CONSTRAINT user_groups_pkey PRIMARY KEY (workspace_id, id)
);

CREATE TABLE user_group_members (
    workspace_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    CONSTRAINT user_group_members_pkey PRIMARY KEY (workspace_id, group_id, user_id),
    CONSTRAINT user_group_members_group_fkey FOREIGN KEY (workspace_id, group_id)
        REFERENCES user_groups (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT user_group_members_user_fkey FOREIGN KEY (workspace_id, user_id)
        REFERENCES users (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE governance_levels (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    retention_days INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    CONSTRAINT governance_levels_pkey PRIMARY KEY (workspace_id, id)
);

CREATE TABLE stage_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    disposition TEXT,
    changed_by_key_id INTEGER,
    changed_us INTEGER NOT NULL,
    CONSTRAINT stage_changes_contact_fkey FOREIGN KEY (workspace_id, contact_id)
        REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX stage_changes_contact_idx ON stage_changes (workspace_id, contact_id, id);
