-- SalesChat expiry: `contact.expired` fires once when a contact's opt-in plus its
-- governance level's retention passes. `expiry_fired_us` is when it last fired; it fires
-- again only for a later expiry (a new opt-in). Names match the other tree.
ALTER TABLE contacts ADD COLUMN expiry_fired_us BIGINT;
-- The scheduler finds due contacts level by level, oldest opt-in first.
CREATE INDEX contacts_governance_idx ON contacts (workspace_id, governance_level_id, opt_in_us)
    WHERE governance_level_id IS NOT NULL;
