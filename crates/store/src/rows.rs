//! Row types shared by both backends (`sql/shared.rs` decodes them per backend), the column
//! lists the queries are built from, and the conversion into core records.
//!
//! Stored values were parsed before they were written, so they are wrapped back with
//! `from_stored` instead of being parsed again on every read.

use std::sync::LazyLock;

use roster_core::rate_limit::RateLimit;
use sqlx::types::Json;

use roster_core::domain::{
    ContactId, Email, ExternalId, KeyId, Language, OrganizationId, PhoneE164, Timestamp, WebUrl,
    WorkspaceId,
};
use roster_core::model::{
    Address, ApiKey, Assignment, Attributes, Channel, ChannelIds, Contact, ContactData,
    GovernanceLevel, Organization, OrganizationData, StageChange, StoredApiKey, User, Workspace,
};

/// Declares a row struct and how it is decoded, once for both backends: each field is read
/// from the column of its name (sqlx's `FromRow` derive would build its proc-macro crate,
/// with both database drivers, a second time).
macro_rules! record_row {
    (
        $(#[$meta:meta])*
        pub(crate) struct $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub(crate) struct $name {
            $( $(#[$field_meta])* pub(crate) $field: $ty ),*
        }

        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $name
        where
            &'r str: sqlx::ColumnIndex<R>,
            $( $ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>, )*
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $( $field: row.try_get(stringify!($field))? ),*
                })
            }
        }
    };
}

/// The column of `contacts` that holds a contact's id on `channel`.
pub(crate) const fn channel_column(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsapp_id",
        Channel::Telegram => "telegram_id",
        Channel::Facebook => "facebook_id",
        Channel::Instagram => "instagram_id",
        Channel::Web => "web_id",
        Channel::Provider => "provider_id",
    }
}

/// The writable columns of `contacts`, in the order `bind_contact` binds them.
pub(crate) const CONTACT_DATA_COLUMNS: [&str; 36] = [
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "whatsapp_id",
    "telegram_id",
    "facebook_id",
    "instagram_id",
    "web_id",
    "provider_id",
    "language",
    "avatar_url",
    "street",
    "house_number",
    "zipcode",
    "location",
    "country",
    "custom_attributes",
    "additional_attributes",
    "blocked",
    "last_activity_us",
    "opt_in_us",
    "is_inbound",
    "source",
    "governance_level_id",
    "stage",
    "disposition",
    "disposition_fields",
    "assigned_user_id",
    "assigned_group_id",
    "assignment_pending",
    "remote_waba_id",
    "remote_phone_id",
    "assigned_us",
];

/// The writable columns of `organizations`, in the order `bind_organization` binds them.
pub(crate) const ORGANIZATION_DATA_COLUMNS: [&str; 12] = [
    "name",
    "email",
    "website",
    "size",
    "industry",
    "phone",
    "street",
    "house_number",
    "zipcode",
    "location",
    "country",
    "custom_attributes",
];

/// `INSERT INTO <table> (workspace_id, id, created_us, updated_us, <data columns>)` with
/// numbered placeholders.
fn insert_sql(table: &str, columns: &[&str]) -> String {
    let names = columns.join(", ");
    let params: Vec<String> = (1..=columns.len() + 4).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO {table} (workspace_id, id, created_us, updated_us, {names}) VALUES ({})",
        params.join(", ")
    )
}

/// `UPDATE <table> SET updated_us = $3, <column> = $4, ... WHERE workspace_id = $1 AND id = $2`.
fn update_sql(table: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 4))
        .collect();
    format!(
        "UPDATE {table} SET updated_us = $3, {} WHERE workspace_id = $1 AND id = $2",
        sets.join(", ")
    )
}

/// Every column a contact is read with.
pub(crate) static CONTACT_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, {}, created_us, updated_us",
        CONTACT_DATA_COLUMNS.join(", ")
    )
});
pub(crate) static INSERT_CONTACT: LazyLock<String> =
    LazyLock::new(|| insert_sql("contacts", &CONTACT_DATA_COLUMNS));
pub(crate) static UPDATE_CONTACT: LazyLock<String> =
    LazyLock::new(|| update_sql("contacts", &CONTACT_DATA_COLUMNS));
pub(crate) static INSERT_ORGANIZATION: LazyLock<String> =
    LazyLock::new(|| insert_sql("organizations", &ORGANIZATION_DATA_COLUMNS));
pub(crate) static UPDATE_ORGANIZATION: LazyLock<String> =
    LazyLock::new(|| update_sql("organizations", &ORGANIZATION_DATA_COLUMNS));

/// The JSON-typed contact columns: a page query embeds them as JSON, not as text.
pub(crate) const CONTACT_JSON_COLUMNS: [&str; 3] = [
    "custom_attributes",
    "additional_attributes",
    "disposition_fields",
];

/// `CONTACT_COLUMNS` as a list, for building page queries.
pub(crate) fn contact_column_list() -> Vec<&'static str> {
    let mut columns = vec!["id"];
    columns.extend(CONTACT_DATA_COLUMNS);
    columns.extend(["created_us", "updated_us"]);
    columns
}

/// A boolean as JSON `true`/`false` (PostgreSQL) or `1`/`0` (SQLite, which stores them so).
fn flexible_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(flexible_optional_bool(deserializer)?.unwrap_or(false))
}

fn flexible_optional_bool<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(flag)) => Ok(Some(flag)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(other) => Err(serde::de::Error::custom(format!("not a boolean: {other}"))),
    }
}

/// The address columns, in schema order.
fn address(
    street: Option<String>,
    house_number: Option<String>,
    zipcode: Option<String>,
    location: Option<String>,
    country: Option<String>,
) -> Address {
    Address {
        street,
        house_number,
        zipcode,
        location,
        country,
    }
}

record_row! {
    pub(crate) struct WorkspaceRow {
        id: i64,
        name: String,
        created_us: i64,
    }
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Workspace {
            id: WorkspaceId::from_stored(row.id),
            name: row.name,
            created: Timestamp::from_micros(row.created_us),
        }
    }
}

record_row! {
    pub(crate) struct ApiKeyRow {
        id: i64,
        workspace_id: i64,
        name: String,
        permissions: Json<Vec<String>>,
        rate_limit: Option<String>,
        secret_hash: Vec<u8>,
        created_us: i64,
        revoked_us: Option<i64>,
    }
}

impl From<ApiKeyRow> for StoredApiKey {
    fn from(row: ApiKeyRow) -> Self {
        StoredApiKey {
            key: ApiKey {
                id: KeyId::from_stored(row.id),
                workspace_id: WorkspaceId::from_stored(row.workspace_id),
                name: row.name,
                permissions: row.permissions.0,
                // Written by `RateLimit`'s own printing; anything else is no limit of ours.
                rate_limit: row
                    .rate_limit
                    .and_then(|text| RateLimit::parse("rate_limit", &text).ok()),
                created: Timestamp::from_micros(row.created_us),
                revoked: row.revoked_us.map(Timestamp::from_micros),
            },
            secret_hash: row.secret_hash,
        }
    }
}

record_row! {
    /// Also read from JSON arrays in `CONTACT_COLUMNS` order (`serde`'s sequence form), which
    /// is how bulk scans fetch a whole page in one row (see `CONTACT_PAGE_COLUMNS`).
    #[derive(serde::Deserialize)]
    pub(crate) struct ContactRow {
        id: i64,
        name: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        email: Option<String>,
        phone: Option<String>,
        external_id: Option<String>,
        whatsapp_id: Option<String>,
        telegram_id: Option<String>,
        facebook_id: Option<String>,
        instagram_id: Option<String>,
        web_id: Option<String>,
        provider_id: Option<String>,
        language: Option<String>,
        avatar_url: Option<String>,
        street: Option<String>,
        house_number: Option<String>,
        zipcode: Option<String>,
        location: Option<String>,
        country: Option<String>,
        custom_attributes: Json<Attributes>,
        additional_attributes: Json<Attributes>,
        #[serde(deserialize_with = "flexible_bool")]
        blocked: bool,
        last_activity_us: Option<i64>,
        opt_in_us: Option<i64>,
        #[serde(deserialize_with = "flexible_optional_bool")]
        is_inbound: Option<bool>,
        source: Option<String>,
        governance_level_id: Option<String>,
        stage: Option<String>,
        disposition: Option<String>,
        disposition_fields: Json<Attributes>,
        assigned_user_id: Option<String>,
        assigned_group_id: Option<String>,
        #[serde(deserialize_with = "flexible_bool")]
        assignment_pending: bool,
        remote_waba_id: Option<String>,
        remote_phone_id: Option<String>,
        assigned_us: Option<i64>,
        created_us: i64,
        updated_us: i64,
    }
}

impl ContactRow {
    /// The contact, with its memberships (looked up separately) attached.
    pub(crate) fn into_contact(self, organization_ids: Vec<OrganizationId>) -> Contact {
        Contact {
            id: ContactId::from_stored(self.id),
            created: Timestamp::from_micros(self.created_us),
            updated: Timestamp::from_micros(self.updated_us),
            data: ContactData {
                name: self.name,
                first_name: self.first_name,
                last_name: self.last_name,
                email: self.email.map(Email::from_stored),
                phone: self.phone.map(PhoneE164::from_stored),
                external_id: self.external_id.map(ExternalId::from_stored),
                channels: ChannelIds {
                    whatsapp: self.whatsapp_id,
                    telegram: self.telegram_id,
                    facebook: self.facebook_id,
                    instagram: self.instagram_id,
                    web: self.web_id,
                    provider: self.provider_id,
                },
                language: self.language.map(Language::from_stored),
                avatar_url: self.avatar_url.map(WebUrl::from_stored),
                address: address(
                    self.street,
                    self.house_number,
                    self.zipcode,
                    self.location,
                    self.country,
                ),
                custom_attributes: self.custom_attributes.0,
                additional_attributes: self.additional_attributes.0,
                blocked: self.blocked,
                last_activity_at: self.last_activity_us.map(Timestamp::from_micros),
                organization_ids,
                opt_in_at: self.opt_in_us.map(Timestamp::from_micros),
                is_inbound: self.is_inbound,
                source: self.source,
                governance_level_id: self.governance_level_id,
                stage: self.stage,
                disposition: self.disposition,
                disposition_fields: self.disposition_fields.0,
                assignment: Assignment {
                    user_id: self.assigned_user_id,
                    group_id: self.assigned_group_id,
                    pending: self.assignment_pending,
                    remote_waba_id: self.remote_waba_id,
                    remote_phone_id: self.remote_phone_id,
                    at: self.assigned_us.map(Timestamp::from_micros),
                },
            },
        }
    }
}

record_row! {
    pub(crate) struct OrganizationRow {
        id: i64,
        name: String,
        email: Option<String>,
        website: Option<String>,
        size: Option<i64>,
        industry: Option<String>,
        phone: Option<String>,
        street: Option<String>,
        house_number: Option<String>,
        zipcode: Option<String>,
        location: Option<String>,
        country: Option<String>,
        custom_attributes: Json<Attributes>,
        created_us: i64,
        updated_us: i64,
    }
}

impl From<OrganizationRow> for Organization {
    fn from(row: OrganizationRow) -> Self {
        Organization {
            id: OrganizationId::from_stored(row.id),
            created: Timestamp::from_micros(row.created_us),
            updated: Timestamp::from_micros(row.updated_us),
            data: OrganizationData {
                name: row.name,
                email: row.email.map(Email::from_stored),
                website: row.website.map(WebUrl::from_stored),
                size: row.size,
                industry: row.industry,
                phone: row.phone.map(PhoneE164::from_stored),
                address: address(
                    row.street,
                    row.house_number,
                    row.zipcode,
                    row.location,
                    row.country,
                ),
                custom_attributes: row.custom_attributes.0,
            },
        }
    }
}

record_row! {
    pub(crate) struct UserRow {
        id: String,
        name: String,
        created_us: i64,
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            name: row.name,
            created: Timestamp::from_micros(row.created_us),
        }
    }
}

record_row! {
    pub(crate) struct GovernanceLevelRow {
        id: String,
        name: String,
        retention_days: i64,
        created_us: i64,
    }
}

impl From<GovernanceLevelRow> for GovernanceLevel {
    fn from(row: GovernanceLevelRow) -> Self {
        GovernanceLevel {
            id: row.id,
            name: row.name,
            retention_days: row.retention_days,
            created: Timestamp::from_micros(row.created_us),
        }
    }
}

record_row! {
    pub(crate) struct StageChangeRow {
        from_stage: Option<String>,
        to_stage: String,
        disposition: Option<String>,
        changed_by_key_id: Option<i64>,
        changed_us: i64,
    }
}

impl From<StageChangeRow> for StageChange {
    fn from(row: StageChangeRow) -> Self {
        StageChange {
            from_stage: row.from_stage,
            to_stage: row.to_stage,
            disposition: row.disposition,
            changed_by: row.changed_by_key_id.map(KeyId::from_stored),
            at: Timestamp::from_micros(row.changed_us),
        }
    }
}
