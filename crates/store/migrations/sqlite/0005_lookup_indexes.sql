-- Imports find organizations by name, batch by batch.
CREATE INDEX organizations_name_idx ON organizations (workspace_id, name);

-- Unique fields only need index entries where they are set: most contacts have no id on
-- most channels, and every entry is work for every write (bulk imports above all).
DROP INDEX contacts_email_key;
CREATE UNIQUE INDEX contacts_email_key ON contacts (workspace_id, email) WHERE email IS NOT NULL;
DROP INDEX contacts_external_id_key;
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (workspace_id, external_id) WHERE external_id IS NOT NULL;
DROP INDEX contacts_whatsapp_id_key;
CREATE UNIQUE INDEX contacts_whatsapp_id_key ON contacts (workspace_id, whatsapp_id) WHERE whatsapp_id IS NOT NULL;
DROP INDEX contacts_telegram_id_key;
CREATE UNIQUE INDEX contacts_telegram_id_key ON contacts (workspace_id, telegram_id) WHERE telegram_id IS NOT NULL;
DROP INDEX contacts_facebook_id_key;
CREATE UNIQUE INDEX contacts_facebook_id_key ON contacts (workspace_id, facebook_id) WHERE facebook_id IS NOT NULL;
DROP INDEX contacts_instagram_id_key;
CREATE UNIQUE INDEX contacts_instagram_id_key ON contacts (workspace_id, instagram_id) WHERE instagram_id IS NOT NULL;
DROP INDEX contacts_web_id_key;
CREATE UNIQUE INDEX contacts_web_id_key ON contacts (workspace_id, web_id) WHERE web_id IS NOT NULL;
DROP INDEX contacts_provider_id_key;
CREATE UNIQUE INDEX contacts_provider_id_key ON contacts (workspace_id, provider_id) WHERE provider_id IS NOT NULL;
DROP INDEX contacts_phone_idx;
CREATE INDEX contacts_phone_idx ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
