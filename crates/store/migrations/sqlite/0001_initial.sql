-- Roster's initial schema (SQLite). Constraint and index names match the PostgreSQL tree.
-- Timestamps are integer microseconds since the Unix epoch (see roster_core::domain::Timestamp).

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    -- The last timestamp handed to a record of this workspace: every write bumps it, which
    -- keeps `created` strictly increasing and serialises writes within one workspace.
    clock_us INTEGER NOT NULL DEFAULT 0,
    -- Per-workspace id counters: ids only ever grow, so a deleted id is never reused.
    last_contact_id INTEGER NOT NULL DEFAULT 0,
    last_organization_id INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

CREATE TABLE contacts (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    id INTEGER NOT NULL,
    name TEXT,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    external_id TEXT,
    whatsapp_id TEXT,
    telegram_id TEXT,
    facebook_id TEXT,
    instagram_id TEXT,
    web_id TEXT,
    provider_id TEXT,
    language TEXT,
    avatar_url TEXT,
    street TEXT,
    house_number TEXT,
    zipcode TEXT,
    location TEXT,
    country TEXT,
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    additional_attributes TEXT NOT NULL DEFAULT '{}',
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    last_activity_us INTEGER,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    CONSTRAINT contacts_pkey PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (workspace_id, email);
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (workspace_id, external_id);
CREATE UNIQUE INDEX contacts_whatsapp_id_key ON contacts (workspace_id, whatsapp_id);
CREATE UNIQUE INDEX contacts_telegram_id_key ON contacts (workspace_id, telegram_id);
CREATE UNIQUE INDEX contacts_facebook_id_key ON contacts (workspace_id, facebook_id);
CREATE UNIQUE INDEX contacts_instagram_id_key ON contacts (workspace_id, instagram_id);
CREATE UNIQUE INDEX contacts_web_id_key ON contacts (workspace_id, web_id);
CREATE UNIQUE INDEX contacts_provider_id_key ON contacts (workspace_id, provider_id);
CREATE INDEX contacts_created_idx ON contacts (workspace_id, created_us);
CREATE INDEX contacts_phone_idx ON contacts (workspace_id, phone);

CREATE TABLE organizations (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    website TEXT,
    size INTEGER,
    industry TEXT,
    phone TEXT,
    street TEXT,
    house_number TEXT,
    zipcode TEXT,
    location TEXT,
    country TEXT,
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    CONSTRAINT organizations_pkey PRIMARY KEY (workspace_id, id)
);
CREATE INDEX organizations_created_idx ON organizations (workspace_id, created_us);

CREATE TABLE contact_organizations (
    workspace_id INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    CONSTRAINT contact_organizations_pkey PRIMARY KEY (workspace_id, organization_id, contact_id),
    CONSTRAINT contact_organizations_organization_fkey FOREIGN KEY (workspace_id, organization_id)
        REFERENCES organizations (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT contact_organizations_contact_fkey FOREIGN KEY (workspace_id, contact_id)
        REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_organizations_contact_idx ON contact_organizations (workspace_id, contact_id);
