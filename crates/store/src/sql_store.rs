// The queries both backends share, compiled once per backend: `sqlite.rs` and
// `postgres.rs` each `include!` this file after defining
//   - `Db`: the sqlx database type, and `DbRow` its row type (named concretely, so that
//     the two `FromRow` impls per row struct are told apart),
//   - `StoreImpl`: the store struct (imported under that name), with `fn writer(&self) -> &Pool<Db>` and
//     `fn reader(&self) -> &Pool<Db>`.
// Only SQL that means the same on SQLite and PostgreSQL belongs here. Row decoding lives
// here too: sqlx's `FromRow` derive would pull its proc-macro crate, with both database
// drivers, into the build a second time.
//
// Every write transaction starts with `tick`, which updates the workspace row: on
// PostgreSQL that row lock serialises the workspace's writes (so uniqueness and
// membership checks see every committed write), on SQLite the single writer connection
// already does.

use roster_core::domain::{ContactId, KeyId, OrganizationId, Timestamp, WorkspaceId};
use roster_core::error::{Error, Resource, Result};
use roster_core::domain::PhoneE164;
use roster_core::model::{
    ApiKey, AssignRequest, AssignTarget, Assignment, Contact, ContactData, ContactPatch,
    Change, DispositionUpdate, GovernanceLevel, Group, Organization, OrganizationData, OrganizationPatch,
    Page, RecordKind, StageChange, StoredApiKey, User, Workspace,
};
use roster_core::store::{NewApiKey, NewContactInbox, Store};
use roster_core::model::{ContactInbox, Inbox, InboxChannel, MergeRecord, WriteRules};
use roster_core::query::{Bound, Condition, ContactQuery, Join, NumberBound, SortField, TextField, TextOp, TimeField};
use roster_core::domain::{Email, ExternalId};
use roster_core::error::UniqueField;
use roster_core::import::{ImportOutcome, ImportRow, MatchKey};
use std::collections::{HashMap, HashSet};
use roster_core::model::Patch;
use sqlx::types::Json;
use sqlx::{Database, FromRow, Pool, QueryBuilder, Row, Transaction};

use crate::errors::db_error;
use crate::rows::{
    ApiKeyRow, ContactRow, GovernanceLevelRow, OrganizationRow, StageChangeRow, UserRow,
    WorkspaceRow, CONTACT_COLUMNS, CONTACT_DATA_COLUMNS, INSERT_CONTACT, INSERT_ORGANIZATION, UPDATE_CONTACT,
    UPDATE_ORGANIZATION,
};

type Query<'q> = sqlx::query::Query<'q, Db, <Db as Database>::Arguments<'q>>;
type Decoded<T> = std::result::Result<T, sqlx::Error>;

impl<'r> FromRow<'r, DbRow> for WorkspaceRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_us: row.try_get("created_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for ApiKeyRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            name: row.try_get("name")?,
            permissions: row.try_get("permissions")?,
            secret_hash: row.try_get("secret_hash")?,
            created_us: row.try_get("created_us")?,
            revoked_us: row.try_get("revoked_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for ContactRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            external_id: row.try_get("external_id")?,
            whatsapp_id: row.try_get("whatsapp_id")?,
            telegram_id: row.try_get("telegram_id")?,
            facebook_id: row.try_get("facebook_id")?,
            instagram_id: row.try_get("instagram_id")?,
            web_id: row.try_get("web_id")?,
            provider_id: row.try_get("provider_id")?,
            language: row.try_get("language")?,
            avatar_url: row.try_get("avatar_url")?,
            street: row.try_get("street")?,
            house_number: row.try_get("house_number")?,
            zipcode: row.try_get("zipcode")?,
            location: row.try_get("location")?,
            country: row.try_get("country")?,
            custom_attributes: row.try_get("custom_attributes")?,
            additional_attributes: row.try_get("additional_attributes")?,
            blocked: row.try_get("blocked")?,
            last_activity_us: row.try_get("last_activity_us")?,
            opt_in_us: row.try_get("opt_in_us")?,
            is_inbound: row.try_get("is_inbound")?,
            source: row.try_get("source")?,
            governance_level_id: row.try_get("governance_level_id")?,
            stage: row.try_get("stage")?,
            disposition: row.try_get("disposition")?,
            disposition_fields: row.try_get("disposition_fields")?,
            assigned_user_id: row.try_get("assigned_user_id")?,
            assigned_group_id: row.try_get("assigned_group_id")?,
            assignment_pending: row.try_get("assignment_pending")?,
            remote_waba_id: row.try_get("remote_waba_id")?,
            remote_phone_id: row.try_get("remote_phone_id")?,
            assigned_us: row.try_get("assigned_us")?,
            created_us: row.try_get("created_us")?,
            updated_us: row.try_get("updated_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for UserRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_us: row.try_get("created_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for GovernanceLevelRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            retention_days: row.try_get("retention_days")?,
            created_us: row.try_get("created_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for StageChangeRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            from_stage: row.try_get("from_stage")?,
            to_stage: row.try_get("to_stage")?,
            disposition: row.try_get("disposition")?,
            changed_by_key_id: row.try_get("changed_by_key_id")?,
            changed_us: row.try_get("changed_us")?,
        })
    }
}

impl<'r> FromRow<'r, DbRow> for OrganizationRow {
    fn from_row(row: &'r DbRow) -> Decoded<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            website: row.try_get("website")?,
            size: row.try_get("size")?,
            industry: row.try_get("industry")?,
            phone: row.try_get("phone")?,
            street: row.try_get("street")?,
            house_number: row.try_get("house_number")?,
            zipcode: row.try_get("zipcode")?,
            location: row.try_get("location")?,
            country: row.try_get("country")?,
            custom_attributes: row.try_get("custom_attributes")?,
            created_us: row.try_get("created_us")?,
            updated_us: row.try_get("updated_us")?,
        })
    }
}

const ORGANIZATION_COLUMNS: &str = "id, name, email, website, size, industry, phone, street, \
    house_number, zipcode, location, country, custom_attributes, created_us, updated_us";

/// Page bounds as bind values: no token means "before the end of time".
fn page_bounds(page: Page) -> (i64, i64) {
    (
        page.before.map_or(i64::MAX, Timestamp::micros),
        i64::from(page.limit),
    )
}

/// One bind value of a contact row; lets one list of a contact's values feed both a
/// prepared query and a multi-row `QueryBuilder` insert.
enum SqlValue<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Json(&'a roster_core::model::Attributes),
}

/// A contact's values in `CONTACT_DATA_COLUMNS` order.
fn contact_values(data: &ContactData) -> [SqlValue<'_>; 36] {
    use SqlValue::{Bool, Int, Text};
    let channels = &data.channels;
    let address = &data.address;
    let micros = |at: Option<Timestamp>| Int(at.map(Timestamp::micros));
    [
        Text(data.name.as_deref()),
        Text(data.first_name.as_deref()),
        Text(data.last_name.as_deref()),
        Text(data.email.as_ref().map(|e| e.as_str())),
        Text(data.phone.as_ref().map(|p| p.as_str())),
        Text(data.external_id.as_ref().map(|x| x.as_str())),
        Text(channels.whatsapp.as_deref()),
        Text(channels.telegram.as_deref()),
        Text(channels.facebook.as_deref()),
        Text(channels.instagram.as_deref()),
        Text(channels.web.as_deref()),
        Text(channels.provider.as_deref()),
        Text(data.language.as_ref().map(|l| l.as_str())),
        Text(data.avatar_url.as_ref().map(|u| u.as_str())),
        Text(address.street.as_deref()),
        Text(address.house_number.as_deref()),
        Text(address.zipcode.as_deref()),
        Text(address.location.as_deref()),
        Text(address.country.as_deref()),
        SqlValue::Json(&data.custom_attributes),
        SqlValue::Json(&data.additional_attributes),
        Bool(Some(data.blocked)),
        micros(data.last_activity_at),
        micros(data.opt_in_at),
        Bool(data.is_inbound),
        Text(data.source.as_deref()),
        Text(data.governance_level_id.as_deref()),
        Text(data.stage.as_deref()),
        Text(data.disposition.as_deref()),
        SqlValue::Json(&data.disposition_fields),
        Text(data.assignment.user_id.as_deref()),
        Text(data.assignment.group_id.as_deref()),
        Bool(Some(data.assignment.pending)),
        Text(data.assignment.remote_waba_id.as_deref()),
        Text(data.assignment.remote_phone_id.as_deref()),
        micros(data.assignment.at),
    ]
}

fn bind_contact<'q>(mut query: Query<'q>, data: &'q ContactData) -> Query<'q> {
    for value in contact_values(data) {
        query = match value {
            SqlValue::Text(text) => query.bind(text),
            SqlValue::Int(number) => query.bind(number),
            SqlValue::Bool(flag) => query.bind(flag),
            SqlValue::Json(object) => query.bind(Json(object)),
        };
    }
    query
}

/// Inserts contacts with multi-row statements: bulk imports write thousands per batch,
/// and one statement per row is what would cost the time.
async fn insert_contacts<'a>(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: &'a [(ContactId, Timestamp, &'a ContactData)],
) -> Result<()> {
    // 40 binds a row; both backends take well over 20,000 per statement.
    for chunk in contacts.chunks(500) {
        let mut query: QueryBuilder<'a, Db> = QueryBuilder::new(format!(
            "INSERT INTO contacts (workspace_id, id, created_us, updated_us, {}) ",
            CONTACT_DATA_COLUMNS.join(", ")
        ));
        query.push_values(chunk, |mut row, &(id, at, data)| {
            row.push_bind(workspace.get())
                .push_bind(id.get())
                .push_bind(at.micros())
                .push_bind(at.micros());
            // Borrowed, not copied: the rows outlive the statement.
            for value in contact_values(data) {
                match value {
                    SqlValue::Text(text) => row.push_bind(text),
                    SqlValue::Int(number) => row.push_bind(number),
                    SqlValue::Bool(flag) => row.push_bind(flag),
                    SqlValue::Json(object) => row.push_bind(Json(object)),
                };
            }
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

/// Memberships and change-log entries of newly inserted contacts, many rows a statement.
async fn insert_contact_extras(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: &[(ContactId, Timestamp, &ContactData)],
) -> Result<()> {
    let memberships: Vec<(ContactId, OrganizationId)> = contacts
        .iter()
        .flat_map(|&(id, _, data)| data.organization_ids.iter().map(move |&org| (id, org)))
        .collect();
    for chunk in memberships.chunks(5_000) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO contact_organizations (workspace_id, organization_id, contact_id) ",
        );
        query.push_values(chunk, |mut row, &(contact, organization)| {
            row.push_bind(workspace.get()).push_bind(organization.get()).push_bind(contact.get());
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    for chunk in contacts.chunks(5_000) {
        let mut query = QueryBuilder::<Db>::new("INSERT INTO changes (workspace_id, kind, record_id, changed_us) ");
        query.push_values(chunk, |mut row, &(id, at, _)| {
            row.push_bind(workspace.get())
                .push_bind(RecordKind::Contact.as_str())
                .push_bind(id.get())
                .push_bind(at.micros());
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

fn bind_organization<'q>(query: Query<'q>, data: &'q OrganizationData) -> Query<'q> {
    let address = &data.address;
    query
        .bind(data.name.as_str())
        .bind(data.email.as_ref().map(|e| e.as_str()))
        .bind(data.website.as_ref().map(|u| u.as_str()))
        .bind(data.size)
        .bind(data.industry.as_deref())
        .bind(data.phone.as_ref().map(|p| p.as_str()))
        .bind(address.street.as_deref())
        .bind(address.house_number.as_deref())
        .bind(address.zipcode.as_deref())
        .bind(address.location.as_deref())
        .bind(address.country.as_deref())
        .bind(Json(&data.custom_attributes))
}

/// Advances the workspace clock and returns the timestamp for this write: strictly
/// after every earlier one of the workspace, and the wall clock unless that would go
/// backwards. `NotFound(Workspace)` if the workspace does not exist.
async fn tick(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId) -> Result<Timestamp> {
    let micros: Option<i64> = sqlx::query_scalar(
        "UPDATE workspaces SET clock_us = CASE WHEN clock_us + 1 > $2 THEN clock_us + 1 ELSE $2 END \
         WHERE id = $1 RETURNING clock_us",
    )
    .bind(workspace.get())
    .bind(Timestamp::now().micros())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    micros
        .map(Timestamp::from_micros)
        .ok_or(Error::NotFound(Resource::Workspace))
}

/// Reserves `clocks` consecutive timestamps and `ids` consecutive contact ids for one bulk
/// write; returns the first of each. `NotFound(Workspace)` if there is no such workspace.
async fn reserve(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId, clocks: i64, ids: i64) -> Result<(i64, i64)> {
    let reserved: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE workspaces SET clock_us = CASE WHEN clock_us + $2 > $3 THEN clock_us + $2 ELSE $3 END, \
         last_contact_id = last_contact_id + $4 WHERE id = $1 RETURNING clock_us, last_contact_id",
    )
    .bind(workspace.get())
    .bind(clocks)
    .bind(Timestamp::now().micros() + clocks - 1)
    .bind(ids)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let (last_clock, last_id) = reserved.ok_or(Error::NotFound(Resource::Workspace))?;
    Ok((last_clock - clocks + 1, last_id - ids + 1))
}

async fn next_contact_id(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId) -> Result<ContactId> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE workspaces SET last_contact_id = last_contact_id + 1 WHERE id = $1 RETURNING last_contact_id",
    )
    .bind(workspace.get())
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    ContactId::new(id).ok_or_else(|| Error::internal("contact ids of this workspace are exhausted"))
}

async fn next_organization_id(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
) -> Result<OrganizationId> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE workspaces SET last_organization_id = last_organization_id + 1 WHERE id = $1 \
         RETURNING last_organization_id",
    )
    .bind(workspace.get())
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    OrganizationId::new(id)
        .ok_or_else(|| Error::internal("organization ids of this workspace are exhausted"))
}

/// Makes the contact's memberships exactly `wanted`, checking first that each new
/// organization exists in the workspace.
async fn set_memberships(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contact: ContactId,
    current: &[OrganizationId],
    wanted: &[OrganizationId],
) -> Result<()> {
    for &organization in wanted.iter().filter(|id| !current.contains(id)) {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM organizations WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.get())
                .bind(organization.get())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
        if exists.is_none() {
            return Err(Error::UnknownReference {
                resource: Resource::Organization,
                id: organization.to_string(),
            });
        }
        sqlx::query(
            "INSERT INTO contact_organizations (workspace_id, organization_id, contact_id) VALUES ($1, $2, $3)",
        )
        .bind(workspace.get())
        .bind(organization.get())
        .bind(contact.get())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    for &organization in current.iter().filter(|id| !wanted.contains(id)) {
        sqlx::query(
            "DELETE FROM contact_organizations WHERE workspace_id = $1 AND organization_id = $2 AND contact_id = $3",
        )
        .bind(workspace.get())
        .bind(organization.get())
        .bind(contact.get())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// Attaches memberships to contact rows (sorted by id or not), fetched for the whole page
/// as one JSON text of `[contact_id, organization_id]` pairs.
async fn with_memberships(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    rows: Vec<ContactRow>,
) -> Result<Vec<Contact>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new(dialect::MEMBERSHIPS_JSON_PREFIX);
    query.push("workspace_id = ").push_bind(workspace.get()).push(" AND contact_id IN (");
    let mut list = query.separated(", ");
    for row in &rows {
        list.push_bind(row.id);
    }
    query.push(")");
    let pairs: String = query.build_query_scalar().fetch_one(&mut *conn).await.map_err(db_error)?;
    let mut pairs: Vec<(i64, i64)> = serde_json::from_str(&pairs)
        .map_err(|err| Error::internal(format!("decoding memberships: {err}")))?;
    pairs.sort_unstable();
    Ok(rows
        .into_iter()
        .map(|row| {
            let start = pairs.partition_point(|&(contact, _)| contact < row.id);
            let end = pairs.partition_point(|&(contact, _)| contact <= row.id);
            let organizations = pairs[start..end]
                .iter()
                .map(|&(_, organization)| OrganizationId::from_stored(organization))
                .collect();
            row.into_contact(organizations)
        })
        .collect())
}

async fn fetch_contact(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Option<Contact>> {
    let row: Option<ContactRow> = sqlx::query_as(&format!(
        "SELECT {} FROM contacts WHERE workspace_id = $1 AND id = $2",
        *CONTACT_COLUMNS
    ))
    .bind(workspace.get())
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    match row {
        Some(row) => Ok(with_memberships(conn, workspace, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

async fn fetch_organization(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    id: OrganizationId,
) -> Result<Option<Organization>> {
    let row: Option<OrganizationRow> = sqlx::query_as(&format!(
        "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace.get())
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(row.map(Organization::from))
}

/// Appends to the change log, in the write's own transaction.
async fn record_change(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    kind: RecordKind,
    id: i64,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("INSERT INTO changes (workspace_id, kind, record_id, changed_us) VALUES ($1, $2, $3, $4)")
        .bind(workspace.get())
        .bind(kind.as_str())
        .bind(id)
        .bind(now.micros())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Logs a change for every member of an organization: their documents carry its name.
async fn record_member_changes(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    organization: OrganizationId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO changes (workspace_id, kind, record_id, changed_us) \
         SELECT workspace_id, $3, contact_id, $4 FROM contact_organizations \
         WHERE workspace_id = $1 AND organization_id = $2",
    )
    .bind(workspace.get())
    .bind(organization.get())
    .bind(RecordKind::Contact.as_str())
    .bind(now.micros())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The contact a write transaction is about to change; `NotFound(Contact)` if none.
async fn locked_contact(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId, id: ContactId) -> Result<Contact> {
    fetch_contact(tx, workspace, id)
        .await?
        .ok_or(Error::NotFound(Resource::Contact))
}

/// Writes a changed contact back: the row, then whatever memberships changed.
async fn write_contact(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    current: Contact,
    data: ContactData,
    now: Timestamp,
) -> Result<Contact> {
    if let Some(level) = &data.governance_level_id {
        if current.data.governance_level_id.as_ref() != Some(level) {
            check_governance_level(tx, workspace, level).await?;
        }
    }
    let update = sqlx::query(&UPDATE_CONTACT)
        .bind(workspace.get())
        .bind(current.id.get())
        .bind(now.micros());
    bind_contact(update, &data)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    set_memberships(
        tx,
        workspace,
        current.id,
        &current.data.organization_ids,
        &data.organization_ids,
    )
    .await?;
    record_change(tx, workspace, RecordKind::Contact, current.id.get(), now).await?;
    Ok(Contact {
        id: current.id,
        created: current.created,
        updated: now,
        data,
    })
}

async fn check_governance_level(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId, id: &str) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM governance_levels WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::UnknownReference {
            resource: Resource::GovernanceLevel,
            id: id.to_owned(),
        }),
    }
}

async fn fetch_group(conn: &mut <Db as Database>::Connection, workspace: WorkspaceId, id: &str) -> Result<Option<Group>> {
    let row: Option<(String, String, i64)> =
        sqlx::query_as("SELECT id, name, created_us FROM user_groups WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    let Some((id, name, created_us)) = row else {
        return Ok(None);
    };
    let members: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM user_group_members WHERE workspace_id = $1 AND group_id = $2 ORDER BY position",
    )
    .bind(workspace.get())
    .bind(&id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(Some(Group {
        id,
        name,
        members,
        created: Timestamp::from_micros(created_us),
    }))
}

/// Makes `members` the group's members, in that order; each must be a user.
async fn replace_group_members(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    group: &str,
    members: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM user_group_members WHERE workspace_id = $1 AND group_id = $2")
        .bind(workspace.get())
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    for (position, user) in members.iter().enumerate() {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(user)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(Error::UnknownReference {
                resource: Resource::User,
                id: user.clone(),
            });
        }
        sqlx::query(
            "INSERT INTO user_group_members (workspace_id, group_id, user_id, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.get())
        .bind(group)
        .bind(user)
        .bind(position as i64)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    sqlx::query("UPDATE user_groups SET next_turn = 0 WHERE workspace_id = $1 AND id = $2")
        .bind(workspace.get())
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Picks the user an assign request goes to; a group hands out its members in turn.
async fn pick_assignee(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    target: &AssignTarget,
) -> Result<(String, Option<String>)> {
    match target {
        AssignTarget::User(user) => {
            let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.get())
                .bind(user)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
            found.map(|user| (user, None)).ok_or(Error::NotFound(Resource::User))
        }
        AssignTarget::Group(group) => {
            let turn: Option<i64> = sqlx::query_scalar(
                "UPDATE user_groups SET next_turn = next_turn + 1 WHERE workspace_id = $1 AND id = $2 \
                 RETURNING next_turn - 1",
            )
            .bind(workspace.get())
            .bind(group)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            let turn = turn.ok_or(Error::NotFound(Resource::Group))?;
            let members = fetch_group(tx, workspace, group)
                .await?
                .map(|g| g.members)
                .unwrap_or_default();
            if members.is_empty() {
                return Err(Error::invalid("group_id", format!("group {group:?} has no members to assign to")));
            }
            let user = members[turn.rem_euclid(members.len() as i64) as usize].clone();
            Ok((user, Some(group.clone())))
        }
    }
}

/// `Conflict(Phone)` if another contact of the workspace has this number (a dialect's
/// rule; the workspace clock row taken by `tick` keeps the check and the write atomic).
async fn check_phone_free(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    phone: Option<&PhoneE164>,
    except: Option<ContactId>,
) -> Result<()> {
    let Some(phone) = phone else {
        return Ok(());
    };
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE workspace_id = $1 AND phone = $2 AND id <> $3 LIMIT 1",
    )
    .bind(workspace.get())
    .bind(phone.as_str())
    .bind(except.map_or(0, ContactId::get))
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    match taken {
        Some(_) => Err(Error::Conflict(UniqueField::Phone)),
        None => Ok(()),
    }
}

const INBOX_COLUMNS: &str = "id, name, channel_type, provider, created_us";

fn decode_inbox(row: &DbRow, prefix: &str) -> Result<Inbox> {
    let get = |column: &str| format!("{prefix}{column}");
    let decoded = (|| -> Decoded<Inbox> {
        let channel: String = row.try_get(get("channel_type").as_str())?;
        Ok(Inbox {
            id: row.try_get(get("id").as_str())?,
            name: row.try_get(get("name").as_str())?,
            channel: InboxChannel::parse(&channel).map_err(|reason| sqlx::Error::Decode(reason.into()))?,
            provider: row.try_get(get("provider").as_str())?,
            created: Timestamp::from_micros(row.try_get(get("created_us").as_str())?),
        })
    })();
    decoded.map_err(db_error)
}

async fn fetch_inbox(conn: &mut <Db as Database>::Connection, workspace: WorkspaceId, id: i64) -> Result<Option<Inbox>> {
    let row: Option<DbRow> = sqlx::query(&format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace.get())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.map(|row| decode_inbox(&row, "")).transpose()
}

/// Links a contact to an inbox inside a write transaction: an identical link is kept,
/// a `source_id` another contact holds in that inbox is a conflict.
async fn insert_contact_inbox(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contact: ContactId,
    link: &NewContactInbox,
    now: Timestamp,
) -> Result<ContactInbox> {
    let inbox = fetch_inbox(tx, workspace, link.inbox_id)
        .await?
        .ok_or(Error::NotFound(Resource::Inbox))?;
    let holder: Option<(i64, i64)> = sqlx::query_as(
        "SELECT contact_id, created_us FROM contact_inboxes WHERE workspace_id = $1 AND inbox_id = $2 AND source_id = $3",
    )
    .bind(workspace.get())
    .bind(link.inbox_id)
    .bind(link.source_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let created = match holder {
        Some((holder, created)) if holder == contact.get() => Timestamp::from_micros(created),
        Some(_) => return Err(Error::Conflict(UniqueField::SourceId)),
        None => {
            sqlx::query(
                "INSERT INTO contact_inboxes (workspace_id, inbox_id, source_id, contact_id, created_us) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(workspace.get())
            .bind(link.inbox_id)
            .bind(link.source_id.as_str())
            .bind(contact.get())
            .bind(now.micros())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            now
        }
    };
    Ok(ContactInbox {
        contact_id: contact,
        inbox,
        source_id: link.source_id.clone(),
        created,
    })
}

/// `LIKE` pattern text matching `value` literally (`%`, `_` and `\` escaped).
fn like_literal(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn push_text_field(query: &mut QueryBuilder<'_, Db>, field: &TextField) {
    let lower = field.case_insensitive();
    if lower {
        query.push("LOWER(");
    }
    match field {
        TextField::Name => {
            query.push("name");
        }
        TextField::Email => {
            query.push("email");
        }
        TextField::Phone => {
            query.push("phone");
        }
        TextField::ExternalId => {
            query.push("external_id");
        }
        TextField::Additional(key) => dialect::push_json_text(query, "additional_attributes", key),
        TextField::Custom(key) => dialect::push_json_text(query, "custom_attributes", key),
    }
    if lower {
        query.push(")");
    }
}

fn push_label_exists(query: &mut QueryBuilder<'_, Db>, negated: bool, label: Option<&str>) {
    if negated {
        query.push("NOT ");
    }
    query.push(
        "EXISTS (SELECT 1 FROM contact_labels l WHERE l.workspace_id = contacts.workspace_id \
         AND l.contact_id = contacts.id",
    );
    if let Some(label) = label {
        query.push(" AND l.label = ").push_bind(label.to_owned());
    }
    query.push(")");
}

fn push_condition(query: &mut QueryBuilder<'_, Db>, condition: &Condition) {
    match condition {
        Condition::Text { field, op, values } => {
            let first = values.first().cloned().unwrap_or_default();
            query.push("(");
            match op {
                TextOp::Equal | TextOp::NotEqual => {
                    push_text_field(query, field);
                    query.push(if *op == TextOp::Equal { " = " } else { " <> " });
                    query.push_bind(first);
                }
                TextOp::Contains | TextOp::DoesNotContain => {
                    if *op == TextOp::DoesNotContain {
                        query.push("NOT ");
                    }
                    query.push("(1 = 0");
                    for value in values {
                        query.push(" OR ");
                        push_text_field(query, field);
                        query.push(" LIKE ").push_bind(format!("%{}%", like_literal(value))).push(" ESCAPE '\\'");
                    }
                    query.push(")");
                }
                TextOp::StartsWith => {
                    push_text_field(query, field);
                    query.push(" LIKE ").push_bind(format!("{}%", like_literal(&first))).push(" ESCAPE '\\'");
                }
                TextOp::Present | TextOp::NotPresent => {
                    let present = *op == TextOp::Present;
                    push_text_field(query, field);
                    query.push(if present { " IS NOT NULL AND " } else { " IS NULL OR " });
                    push_text_field(query, field);
                    query.push(if present { " <> ''" } else { " = ''" });
                }
            }
            query.push(")");
        }
        Condition::Number { key, bound } => {
            dialect::push_json_number(query, "custom_attributes", key);
            match bound {
                NumberBound::Greater(value) => query.push(" > ").push_bind(*value),
                NumberBound::Less(value) => query.push(" < ").push_bind(*value),
            };
        }
        Condition::TextOrder { key, after, value } => {
            dialect::push_json_text(query, "custom_attributes", key);
            query.push(if *after { " > " } else { " < " }).push_bind(value.clone());
        }
        Condition::Time { field, bound } => {
            query.push(match field {
                TimeField::Created => "created_us",
                TimeField::LastActivity => "last_activity_us",
            });
            match bound {
                Bound::After(at) => query.push(" > ").push_bind(at.micros()),
                Bound::Before(at) => query.push(" < ").push_bind(at.micros()),
            };
        }
        Condition::Blocked(blocked) => {
            query.push("blocked = ").push_bind(*blocked);
        }
        Condition::HasLabel(label) => push_label_exists(query, false, Some(label)),
        Condition::LacksLabel(label) => push_label_exists(query, true, Some(label)),
        Condition::HasAnyLabel => push_label_exists(query, false, None),
        Condition::HasNoLabel => push_label_exists(query, true, None),
    }
}

/// `FROM contacts WHERE …` for a query's workspace, conditions and labels.
fn push_contact_filter(query: &mut QueryBuilder<'_, Db>, workspace: WorkspaceId, wanted: &ContactQuery) {
    query.push(" FROM contacts WHERE workspace_id = ").push_bind(workspace.get());
    if !wanted.conditions.is_empty() {
        query.push(" AND (");
        let mut joins = wanted.conditions.iter().map(|(_, join)| join);
        for (i, (condition, _)) in wanted.conditions.iter().enumerate() {
            if i > 0 {
                query.push(match joins.next() {
                    Some(Join::Or) => " OR ",
                    _ => " AND ",
                });
            }
            push_condition(query, condition);
        }
        query.push(")");
    }
    if !wanted.labels.is_empty() {
        query.push(
            " AND EXISTS (SELECT 1 FROM contact_labels l WHERE l.workspace_id = contacts.workspace_id \
             AND l.contact_id = contacts.id AND l.label IN (",
        );
        let mut labels = query.separated(", ");
        for label in &wanted.labels {
            labels.push_bind(label.clone());
        }
        query.push("))");
    }
}

fn push_sort_expression(query: &mut QueryBuilder<'_, Db>, field: SortField) {
    match field {
        SortField::Name => query.push("LOWER(name)"),
        SortField::Email => query.push("email"),
        SortField::Phone => query.push("phone"),
        SortField::LastActivity => query.push("last_activity_us"),
        SortField::Created => query.push("created_us"),
        SortField::CompanyName | SortField::City | SortField::Country => {
            let key = match field {
                SortField::CompanyName => "company_name",
                SortField::City => "city",
                _ => "country",
            };
            dialect::push_json_text(query, "additional_attributes", key);
            query
        }
    };
}

/// Missing values last in both directions, then by id, so pages never overlap.
fn push_contact_order(query: &mut QueryBuilder<'_, Db>, wanted: &ContactQuery) {
    if wanted.sort.is_empty() {
        query.push(" ORDER BY id DESC");
        return;
    }
    query.push(" ORDER BY ");
    for key in &wanted.sort {
        push_sort_expression(query, key.field);
        query.push(" IS NULL, ");
        push_sort_expression(query, key.field);
        if !matches!(key.field, SortField::LastActivity | SortField::Created) {
            query.push(dialect::TEXT_ORDER);
        }
        query.push(if key.descending { " DESC, " } else { " ASC, " });
    }
    query.push("id ASC");
}

/// Adds labels a contact does not have yet.
async fn add_labels(tx: &mut Transaction<'_, Db>, workspace: WorkspaceId, id: ContactId, labels: &[String]) -> Result<()> {
    for label in labels {
        sqlx::query(
            "INSERT INTO contact_labels (workspace_id, contact_id, label) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(label.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// `UnknownReference(Organization)` unless every id names an organization of the workspace.
async fn check_organizations_exist(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    ids: &[OrganizationId],
) -> Result<()> {
    let mut wanted: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    wanted.sort_unstable();
    wanted.dedup();
    for chunk in wanted.chunks(5_000) {
        let mut query = QueryBuilder::<Db>::new("SELECT id FROM organizations WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        let found: Vec<i64> = query.build_query_scalar().fetch_all(&mut **tx).await.map_err(db_error)?;
        if let Some(missing) = chunk.iter().find(|id| !found.contains(id)) {
            return Err(Error::UnknownReference {
                resource: Resource::Organization,
                id: missing.to_string(),
            });
        }
    }
    Ok(())
}

/// The ids of organizations by name (the oldest of each name), creating the missing ones,
/// each with a `created` of its own from the workspace clock (lists page by it).
async fn organizations_named(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    names: &[&str],
) -> Result<HashMap<String, OrganizationId>> {
    let mut ids = HashMap::new();
    for chunk in names.chunks(1_000) {
        let mut query = QueryBuilder::<Db>::new("SELECT id, name FROM organizations WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND name IN (");
        let mut list = query.separated(", ");
        for name in chunk {
            list.push_bind(name.to_string());
        }
        query.push(") ORDER BY id DESC");
        let found: Vec<(i64, String)> = query.build_query_as().fetch_all(&mut **tx).await.map_err(db_error)?;
        // Descending, so the oldest of a name is inserted last and wins.
        for (id, name) in found {
            ids.insert(name, OrganizationId::from_stored(id));
        }
    }
    for &name in names {
        if ids.contains_key(name) {
            continue;
        }
        let id = next_organization_id(tx, workspace).await?;
        let now = tick(tx, workspace).await?;
        let data = OrganizationData {
            name: name.to_owned(),
            ..OrganizationData::default()
        };
        let insert = sqlx::query(&INSERT_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_organization(insert, &data).execute(&mut **tx).await.map_err(db_error)?;
        record_change(tx, workspace, RecordKind::Organization, id.get(), now).await?;
        ids.insert(name.to_owned(), id);
    }
    Ok(ids)
}

/// A value that identifies a contact: the unique fields, and the phone (not unique, but
/// matched on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    Email(String),
    ExternalId(String),
    Phone(String),
    Channel(roster_core::model::Channel, String),
}

impl Identity {
    fn unique(&self) -> bool {
        !matches!(self, Identity::Phone(_))
    }

    fn describe(&self) -> String {
        match self {
            Identity::Email(_) => "email".to_owned(),
            Identity::ExternalId(_) => "external_id".to_owned(),
            Identity::Phone(_) => "phone".to_owned(),
            Identity::Channel(channel, _) => format!("{channel:?} id").to_lowercase(),
        }
    }

    fn of(data: &ContactData) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Some(email) = &data.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Some(id) = &data.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Some(phone) = &data.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for channel in roster_core::model::Channel::ALL {
            if let Some(id) = data.channels.get(channel) {
                all.push(Identity::Channel(channel, id.to_owned()));
            }
        }
        all
    }

    /// The identities a patch sets (without building the contact it would make).
    fn set_by(patch: &ContactPatch) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Patch::Set(email) = &patch.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Patch::Set(id) = &patch.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Patch::Set(phone) = &patch.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for (channel, value) in &patch.channels {
            if let Patch::Set(id) = value {
                all.push(Identity::Channel(*channel, id.clone()));
            }
        }
        all
    }

    /// What a row would be matched by under `key`.
    fn for_key(patch: &ContactPatch, key: MatchKey) -> Option<Identity> {
        match (key, patch) {
            (MatchKey::Email, ContactPatch { email: Patch::Set(email), .. }) => Some(Identity::Email(email.as_str().to_owned())),
            (MatchKey::ExternalId, ContactPatch { external_id: Patch::Set(id), .. }) => {
                Some(Identity::ExternalId(id.as_str().to_owned()))
            }
            (MatchKey::Phone, ContactPatch { phone: Patch::Set(phone), .. }) => Some(Identity::Phone(phone.as_str().to_owned())),
            _ => None,
        }
    }

    fn column(&self) -> &'static str {
        match self {
            Identity::Email(_) => "email",
            Identity::ExternalId(_) => "external_id",
            Identity::Phone(_) => "phone",
            Identity::Channel(channel, _) => match channel {
                roster_core::model::Channel::Whatsapp => "whatsapp_id",
                roster_core::model::Channel::Telegram => "telegram_id",
                roster_core::model::Channel::Facebook => "facebook_id",
                roster_core::model::Channel::Instagram => "instagram_id",
                roster_core::model::Channel::Web => "web_id",
                roster_core::model::Channel::Provider => "provider_id",
            },
        }
    }

    fn value(&self) -> &str {
        match self {
            Identity::Email(v) | Identity::ExternalId(v) | Identity::Phone(v) | Identity::Channel(_, v) => v,
        }
    }
}

/// Stored contacts holding any of these identities, by id.
async fn contacts_with_identities(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    identities: &FastSet<Identity>,
) -> Result<Vec<Contact>> {
    let mut by_column: HashMap<&'static str, Vec<&str>> = HashMap::new();
    for identity in identities {
        by_column.entry(identity.column()).or_default().push(identity.value());
    }
    let mut found: HashMap<i64, ContactRow> = HashMap::new();
    for (column, values) in by_column {
        for chunk in values.chunks(2_000) {
            let mut query = QueryBuilder::<Db>::new(format!("SELECT {} FROM contacts WHERE workspace_id = ", *CONTACT_COLUMNS));
            query.push_bind(workspace.get()).push(format!(" AND {column} IN ("));
            let mut list = query.separated(", ");
            for value in chunk {
                list.push_bind(value.to_string());
            }
            query.push(")");
            let rows: Vec<ContactRow> = query.build_query_as().fetch_all(&mut **tx).await.map_err(db_error)?;
            for row in rows {
                found.insert(row.id, row);
            }
        }
    }
    let mut rows: Vec<ContactRow> = found.into_values().collect();
    rows.sort_unstable_by_key(|row| row.id);
    with_memberships(tx, workspace, rows).await
}

/// Hash maps for planning import batches (hundreds of thousands of lookups a batch):
/// foldhash is randomly seeded per process like std's SipHash, and several times faster.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Where a row's contact is while a batch is planned: stored, or the n-th the batch creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Stored(ContactId),
    New(usize),
}

/// Contacts of a workspace chosen by `conditions` (SQL pushed after `workspace_id = ? AND`,
/// binding its own values), with their memberships; fetched as one JSON text for the
/// contacts and one for the memberships (see `dialect::contacts_json_parts`). By id.
async fn contacts_as_json(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    conditions: impl FnOnce(&mut QueryBuilder<'_, Db>),
) -> Result<Vec<Contact>> {
    let (prefix, suffix) = dialect::contacts_json_parts();
    let mut query = QueryBuilder::<Db>::new(prefix);
    query.push("workspace_id = ").push_bind(workspace.get()).push(" AND ");
    conditions(&mut query);
    query.push(suffix);
    let page: String = query.build_query_scalar().fetch_one(&mut *conn).await.map_err(db_error)?;
    let mut rows: Vec<ContactRow> = serde_json::from_str(&page)
        .map_err(|err| Error::internal(format!("decoding contacts: {err}")))?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    rows.sort_unstable_by_key(|row| row.id);
    with_memberships(conn, workspace, rows).await
}

async fn begin(pool: &Pool<Db>) -> Result<Transaction<'static, Db>> {
    pool.begin().await.map_err(db_error)
}

async fn commit(tx: Transaction<'_, Db>) -> Result<()> {
    tx.commit().await.map_err(db_error)
}

#[async_trait::async_trait]
impl Store for StoreImpl {
    fn pool_usage(&self) -> roster_core::store::PoolUsage {
        let pools = [self.writer(), self.reader()];
        // PostgreSQL hands the same pool out twice; count it once.
        let distinct = if std::ptr::eq(pools[0], pools[1]) { &pools[..1] } else { &pools[..] };
        roster_core::store::PoolUsage {
            connections: distinct.iter().map(|pool| pool.size()).sum(),
            idle: distinct.iter().map(|pool| pool.num_idle() as u32).sum(),
        }
    }

    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(initial)
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await
            .map_err(db_error)
    }

    async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let now = Timestamp::now().micros();
        let row: WorkspaceRow = sqlx::query_as(
            "INSERT INTO workspaces (name, created_us, clock_us) VALUES ($1, $2, $2) \
             RETURNING id, name, created_us",
        )
        .bind(name)
        .bind(now)
        .fetch_one(self.writer())
        .await
        .map_err(db_error)?;
        Ok(row.into())
    }

    async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        let row: Option<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, created_us FROM workspaces WHERE id = $1")
                .bind(id.get())
                .fetch_optional(self.reader())
                .await
                .map_err(db_error)?;
        Ok(row.map(Workspace::from))
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>> {
        let rows: Vec<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, created_us FROM workspaces ORDER BY id")
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
        Ok(rows.into_iter().map(Workspace::from).collect())
    }

    async fn create_api_key(&self, workspace: WorkspaceId, key: &NewApiKey) -> Result<ApiKey> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let row: ApiKeyRow = sqlx::query_as(
            "INSERT INTO api_keys (workspace_id, name, permissions, secret_hash, created_us) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, workspace_id, name, permissions, secret_hash, created_us, revoked_us",
        )
        .bind(workspace.get())
        .bind(key.name.as_str())
        .bind(Json(&key.permissions))
        .bind(key.secret_hash.as_slice())
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        commit(tx).await?;
        Ok(StoredApiKey::from(row).key)
    }

    async fn api_key(&self, id: KeyId) -> Result<Option<StoredApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(
            "SELECT id, workspace_id, name, permissions, secret_hash, created_us, revoked_us \
             FROM api_keys WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(self.reader())
        .await
        .map_err(db_error)?;
        Ok(row.map(StoredApiKey::from))
    }

    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(
            "SELECT id, workspace_id, name, permissions, secret_hash, created_us, revoked_us \
             FROM api_keys WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(|row| StoredApiKey::from(row).key).collect())
    }

    async fn revoke_api_key(&self, workspace: WorkspaceId, id: KeyId) -> Result<ApiKey> {
        let row: Option<ApiKeyRow> = sqlx::query_as(
            "UPDATE api_keys SET revoked_us = COALESCE(revoked_us, $3) WHERE workspace_id = $1 AND id = $2 \
             RETURNING id, workspace_id, name, permissions, secret_hash, created_us, revoked_us",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(Timestamp::now().micros())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        row.map(|row| StoredApiKey::from(row).key)
            .ok_or(Error::NotFound(Resource::ApiKey))
    }

    async fn create_contact_with(
        &self,
        workspace: WorkspaceId,
        data: &ContactData,
        rules: WriteRules,
        link: Option<&NewContactInbox>,
    ) -> Result<(Contact, Option<ContactInbox>)> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        if rules.unique_phone {
            check_phone_free(&mut tx, workspace, data.phone.as_ref(), None).await?;
        }
        let id = next_contact_id(&mut tx, workspace).await?;
        if let Some(level) = &data.governance_level_id {
            check_governance_level(&mut tx, workspace, level).await?;
        }
        let insert = sqlx::query(&INSERT_CONTACT)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_contact(insert, data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        set_memberships(&mut tx, workspace, id, &[], &data.organization_ids).await?;
        let linked = match link {
            Some(link) => Some(insert_contact_inbox(&mut tx, workspace, id, link, now).await?),
            None => None,
        };
        record_change(&mut tx, workspace, RecordKind::Contact, id.get(), now).await?;
        commit(tx).await?;
        let contact = Contact {
            id,
            created: now,
            updated: now,
            data: data.clone(),
        };
        Ok((contact, linked))
    }

    async fn create_contacts(&self, workspace: WorkspaceId, data: &[ContactData]) -> Result<Vec<ContactId>> {
        let Ok(count) = i64::try_from(data.len()) else {
            return Err(Error::internal("too many contacts in one batch"));
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut tx = begin(self.writer()).await?;
        // One clock and id range for the whole batch, in order.
        let (first_clock, first_id) = reserve(&mut tx, workspace, count, count).await?;
        let mut rows = Vec::with_capacity(data.len());
        for (i, contact) in (0..count).zip(data) {
            let id = ContactId::new(first_id + i)
                .ok_or_else(|| Error::internal("contact ids of this workspace are exhausted"))?;
            if let Some(level) = &contact.governance_level_id {
                check_governance_level(&mut tx, workspace, level).await?;
            }
            rows.push((id, Timestamp::from_micros(first_clock + i), contact));
        }
        let organizations: Vec<OrganizationId> =
            data.iter().flat_map(|contact| contact.organization_ids.iter().copied()).collect();
        check_organizations_exist(&mut tx, workspace, &organizations).await?;
        insert_contacts(&mut tx, workspace, &rows).await?;
        insert_contact_extras(&mut tx, workspace, &rows).await?;
        commit(tx).await?;
        Ok(rows.into_iter().map(|(id, _, _)| id).collect())
    }

    async fn import_contacts(
        &self,
        workspace: WorkspaceId,
        rows: &[ImportRow],
        keys: &[MatchKey],
    ) -> Result<Vec<ImportOutcome>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = begin(self.writer()).await?;
        // Also proves the workspace exists before anything is written.
        tick(&mut tx, workspace).await?;
        let mut names: Vec<&str> = rows.iter().flat_map(|row| row.organizations.iter().map(String::as_str)).collect();
        names.sort_unstable();
        names.dedup();
        let organizations = organizations_named(&mut tx, workspace, &names).await?;

        // Every stored contact a row could match or collide with, and who holds what.
        let mut wanted = FastSet::default();
        for row in rows {
            wanted.extend(Identity::set_by(&row.patch));
        }
        let stored = contacts_with_identities(&mut tx, workspace, &wanted).await?;
        let mut holders: FastMap<Identity, Slot> = FastMap::default();
        let mut current: FastMap<Slot, ContactData> = FastMap::default();
        let mut originals: FastMap<ContactId, Contact> = FastMap::default();
        for contact in stored {
            let slot = Slot::Stored(contact.id);
            for identity in Identity::of(&contact.data) {
                holders.entry(identity).or_insert(slot);
            }
            current.insert(slot, contact.data.clone());
            originals.insert(contact.id, contact);
        }

        // Plan every row in memory, in order, so later rows see earlier ones.
        let mut planned: Vec<std::result::Result<(Slot, &'static str), String>> = Vec::with_capacity(rows.len());
        let mut created: Vec<Slot> = Vec::new();
        for row in rows {
            let target = keys
                .iter()
                .filter_map(|&key| Identity::for_key(&row.patch, key))
                .find_map(|identity| holders.get(&identity).copied());
            let before = target.and_then(|slot| current.get(&slot).cloned());
            let mut data = before.clone().unwrap_or_default();
            row.patch.clone().apply_to(&mut data);
            let mut memberships = data.organization_ids.clone();
            memberships.extend(row.organizations.iter().filter_map(|name| organizations.get(name)));
            data.organization_ids = roster_core::model::normalize_ids(memberships);
            let identities = Identity::of(&data);
            if let Some(taken) = identities
                .iter()
                .find(|identity| identity.unique() && holders.get(identity).is_some_and(|&holder| Some(holder) != target))
            {
                let holder = match holders[taken] {
                    Slot::Stored(id) => format!("contact {id}"),
                    Slot::New(_) => "an earlier row".to_owned(),
                };
                planned.push(Err(format!("{} {:?} is already used by {holder}", taken.describe(), taken.value())));
                continue;
            }
            let (slot, outcome) = match (target, before) {
                (Some(slot), Some(before)) if before == data => (slot, "unchanged"),
                (Some(slot), Some(before)) => {
                    for identity in Identity::of(&before) {
                        if holders.get(&identity) == Some(&slot) {
                            holders.remove(&identity);
                        }
                    }
                    (slot, "updated")
                }
                _ => {
                    let slot = Slot::New(created.len());
                    created.push(slot);
                    (slot, "created")
                }
            };
            for identity in identities {
                holders.entry(identity).or_insert(slot);
            }
            current.insert(slot, data);
            planned.push(Ok((slot, outcome)));
        }

        // Ids and timestamps: one range for the batch, in row order.
        let changed: Vec<ContactId> = originals
            .keys()
            .copied()
            .filter(|id| current.get(&Slot::Stored(*id)) != Some(&originals[id].data))
            .collect();
        let count = i64::try_from(created.len() + changed.len()).map_err(Error::internal)?;
        let (first_clock, first_id) = reserve(&mut tx, workspace, count, created.len() as i64).await?;
        let id_of = |slot: Slot| -> Result<ContactId> {
            match slot {
                Slot::Stored(id) => Ok(id),
                Slot::New(n) => ContactId::new(first_id + n as i64)
                    .ok_or_else(|| Error::internal("contact ids of this workspace are exhausted")),
            }
        };

        let mut inserts = Vec::with_capacity(created.len());
        for (n, &slot) in created.iter().enumerate() {
            let data = &current[&slot];
            if let Some(level) = &data.governance_level_id {
                check_governance_level(&mut tx, workspace, level).await?;
            }
            inserts.push((id_of(slot)?, Timestamp::from_micros(first_clock + n as i64), data));
        }
        insert_contacts(&mut tx, workspace, &inserts).await?;
        insert_contact_extras(&mut tx, workspace, &inserts).await?;
        for (n, id) in changed.iter().enumerate() {
            let at = Timestamp::from_micros(first_clock + (created.len() + n) as i64);
            let original = originals[id].clone();
            let data = current[&Slot::Stored(*id)].clone();
            write_contact(&mut tx, workspace, original, data, at).await?;
        }
        commit(tx).await?;

        planned
            .into_iter()
            .map(|plan| match plan {
                Err(reason) => Ok(ImportOutcome::Rejected(reason)),
                Ok((slot, outcome)) => {
                    let id = id_of(slot)?;
                    Ok(match outcome {
                        "created" => ImportOutcome::Created(id),
                        "updated" => ImportOutcome::Updated(id),
                        _ => ImportOutcome::Unchanged(id),
                    })
                }
            })
            .collect()
    }

    async fn contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        let mut tx = begin(self.reader()).await?;
        fetch_contact(&mut tx, workspace, id).await
    }

    async fn contacts(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Contact>> {
        let (before, limit) = page_bounds(page);
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND created_us < $2 \
             ORDER BY created_us DESC LIMIT $3",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn update_contact_with(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        rules: WriteRules,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        let mut data = current.data.clone();
        patch.apply_to(&mut data);
        // A number the contact already had stays allowed: the rule is about new duplicates.
        if rules.unique_phone && data.phone != current.data.phone {
            check_phone_free(&mut tx, workspace, data.phone.as_ref(), Some(id)).await?;
        }
        let updated = write_contact(&mut tx, workspace, current, data, now).await?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn delete_contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<()> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        // Memberships go with the contact (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound(Resource::Contact));
        }
        record_change(&mut tx, workspace, RecordKind::Contact, id.get(), now).await?;
        commit(tx).await
    }

    async fn contact_organizations(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<Vec<Organization>> {
        let mut tx = begin(self.reader()).await?;
        let contact = fetch_contact(&mut tx, workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Contact))?;
        let mut organizations = Vec::with_capacity(contact.data.organization_ids.len());
        for organization in contact.data.organization_ids {
            if let Some(found) = fetch_organization(&mut tx, workspace, organization).await? {
                organizations.push(found);
            }
        }
        Ok(organizations)
    }

    async fn create_organization(
        &self,
        workspace: WorkspaceId,
        data: &OrganizationData,
    ) -> Result<Organization> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let id = next_organization_id(&mut tx, workspace).await?;
        let insert = sqlx::query(&INSERT_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_organization(insert, data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        commit(tx).await?;
        Ok(Organization {
            id,
            created: now,
            updated: now,
            data: data.clone(),
        })
    }

    async fn organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Option<Organization>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_organization(&mut conn, workspace, id).await
    }

    async fn organizations(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Organization>> {
        let (before, limit) = page_bounds(page);
        let rows: Vec<OrganizationRow> = sqlx::query_as(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = $1 AND created_us < $2 \
             ORDER BY created_us DESC LIMIT $3"
        ))
        .bind(workspace.get())
        .bind(before)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(Organization::from).collect())
    }

    async fn update_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Organization> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let current = fetch_organization(&mut tx, workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Organization))?;
        let mut data = current.data.clone();
        patch.apply_to(&mut data);
        let update = sqlx::query(&UPDATE_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros());
        bind_organization(update, &data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        if current.data.name != data.name {
            record_member_changes(&mut tx, workspace, id, now).await?;
        }
        commit(tx).await?;
        Ok(Organization {
            id,
            created: current.created,
            updated: now,
            data,
        })
    }

    async fn delete_organization(&self, workspace: WorkspaceId, id: OrganizationId) -> Result<()> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        record_member_changes(&mut tx, workspace, id, now).await?;
        // Memberships go with the organization (ON DELETE CASCADE); contacts stay.
        let deleted = sqlx::query("DELETE FROM organizations WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound(Resource::Organization));
        }
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        commit(tx).await
    }

    async fn organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        page: Page,
    ) -> Result<Vec<Contact>> {
        let (before, limit) = page_bounds(page);
        let mut tx = begin(self.reader()).await?;
        if fetch_organization(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Organization));
        }
        let columns = CONTACT_COLUMNS.replace(", ", ", c.");
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT c.{columns} FROM contacts c \
             JOIN contact_organizations m ON m.workspace_id = c.workspace_id AND m.contact_id = c.id \
             WHERE m.workspace_id = $1 AND m.organization_id = $2 AND c.created_us < $3 \
             ORDER BY c.created_us DESC LIMIT $4"
        ))
        .bind(workspace.get())
        .bind(id.get())
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn count_organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<u64> {
        let mut tx = begin(self.reader()).await?;
        if fetch_organization(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Organization));
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contact_organizations WHERE workspace_id = $1 AND organization_id = $2",
        )
        .bind(workspace.get())
        .bind(id.get())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(count.unsigned_abs())
    }

    async fn contacts_by_phone(&self, workspace: WorkspaceId, phone: &PhoneE164) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND phone = $2 ORDER BY id",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(phone.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn set_disposition(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        update: &DispositionUpdate,
        by: KeyId,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        let from_stage = current.data.stage.clone();
        let mut data = current.data.clone();
        data.stage = Some(update.stage.clone());
        if let Some(disposition) = &update.disposition {
            data.disposition = Some(disposition.clone());
        }
        if let Some(fields) = &update.fields {
            data.disposition_fields = fields.clone();
        }
        let updated = write_contact(&mut tx, workspace, current, data, now).await?;
        sqlx::query(
            "INSERT INTO stage_changes (workspace_id, contact_id, from_stage, to_stage, disposition, \
             changed_by_key_id, changed_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(from_stage)
        .bind(update.stage.as_str())
        .bind(update.disposition.as_deref())
        .bind(by.get())
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn stage_history(&self, workspace: WorkspaceId, id: ContactId) -> Result<Vec<StageChange>> {
        let mut tx = begin(self.reader()).await?;
        if fetch_contact(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Contact));
        }
        let rows: Vec<StageChangeRow> = sqlx::query_as(
            "SELECT from_stage, to_stage, disposition, changed_by_key_id, changed_us FROM stage_changes \
             WHERE workspace_id = $1 AND contact_id = $2 ORDER BY id",
        )
        .bind(workspace.get())
        .bind(id.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(StageChange::from).collect())
    }

    async fn assign_contact(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        request: &AssignRequest,
        now: Timestamp,
        min_interval_secs: i64,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let written = tick(&mut tx, workspace).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        if let Some(last) = current.data.assignment.at {
            let next_allowed = last.micros() + min_interval_secs * 1_000_000;
            if now.micros() < next_allowed {
                let wait_micros = next_allowed - now.micros();
                return Err(Error::RateLimited {
                    retry_after_secs: (wait_micros.unsigned_abs()).div_ceil(1_000_000),
                });
            }
        }
        let (user, group) = pick_assignee(&mut tx, workspace, &request.target).await?;
        let mut data = current.data.clone();
        data.assignment = Assignment {
            user_id: Some(user),
            group_id: group,
            pending: request.on_handover,
            remote_waba_id: request.remote_waba_id.clone(),
            remote_phone_id: request.remote_phone_id.clone(),
            at: Some(now),
        };
        let updated = write_contact(&mut tx, workspace, current, data, written).await?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn create_user(&self, workspace: WorkspaceId, id: &str, name: &str) -> Result<User> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (workspace_id, id, name, created_us) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn users(&self, workspace: WorkspaceId) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as("SELECT id, name, created_us FROM users WHERE workspace_id = $1 ORDER BY id")
            .bind(workspace.get())
            .fetch_all(self.reader())
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn create_group(&self, workspace: WorkspaceId, id: &str, name: &str, members: &[String]) -> Result<Group> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        sqlx::query("INSERT INTO user_groups (workspace_id, id, name, created_us) VALUES ($1, $2, $3, $4)")
            .bind(workspace.get())
            .bind(id)
            .bind(name)
            .bind(now.micros())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        replace_group_members(&mut tx, workspace, id, members).await?;
        let group = fetch_group(&mut tx, workspace, id)
            .await?
            .ok_or_else(|| Error::internal("a group just created is missing"))?;
        commit(tx).await?;
        Ok(group)
    }

    async fn set_group_members(&self, workspace: WorkspaceId, id: &str, members: &[String]) -> Result<Group> {
        let mut tx = begin(self.writer()).await?;
        tick(&mut tx, workspace).await?;
        if fetch_group(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Group));
        }
        replace_group_members(&mut tx, workspace, id, members).await?;
        let group = fetch_group(&mut tx, workspace, id)
            .await?
            .ok_or_else(|| Error::internal("a group just updated is missing"))?;
        commit(tx).await?;
        Ok(group)
    }

    async fn groups(&self, workspace: WorkspaceId) -> Result<Vec<Group>> {
        let mut tx = begin(self.reader()).await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM user_groups WHERE workspace_id = $1 ORDER BY id")
            .bind(workspace.get())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut groups = Vec::with_capacity(ids.len());
        for id in ids {
            groups.extend(fetch_group(&mut tx, workspace, &id).await?);
        }
        Ok(groups)
    }

    async fn create_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        retention_days: i64,
    ) -> Result<GovernanceLevel> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let row: GovernanceLevelRow = sqlx::query_as(
            "INSERT INTO governance_levels (workspace_id, id, name, retention_days, created_us) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, name, retention_days, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(retention_days)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn update_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: Option<&str>,
        retention_days: Option<i64>,
    ) -> Result<GovernanceLevel> {
        let mut tx = begin(self.writer()).await?;
        tick(&mut tx, workspace).await?;
        let row: Option<GovernanceLevelRow> = sqlx::query_as(
            "UPDATE governance_levels SET name = COALESCE($3, name), retention_days = COALESCE($4, retention_days) \
             WHERE workspace_id = $1 AND id = $2 RETURNING id, name, retention_days, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(retention_days)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = row.ok_or(Error::NotFound(Resource::GovernanceLevel))?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn governance_levels(&self, workspace: WorkspaceId) -> Result<Vec<GovernanceLevel>> {
        let rows: Vec<GovernanceLevelRow> = sqlx::query_as(
            "SELECT id, name, retention_days, created_us FROM governance_levels WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(GovernanceLevel::from).collect())
    }

    async fn contacts_by_ids(&self, workspace: WorkspaceId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        contacts_as_json(&mut conn, workspace, |query| {
            query.push("id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.get());
            }
            query.push(")");
        })
        .await
    }

    async fn organizations_by_ids(&self, workspace: WorkspaceId, ids: &[OrganizationId]) -> Result<Vec<Organization>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            QueryBuilder::<Db>::new(format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = "));
        query.push_bind(workspace.get()).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.get());
        }
        query.push(") ORDER BY id");
        let rows: Vec<OrganizationRow> = query.build_query_as().fetch_all(self.reader()).await.map_err(db_error)?;
        Ok(rows.into_iter().map(Organization::from).collect())
    }

    async fn scan_contacts(&self, workspace: WorkspaceId, after: i64, limit: u32) -> Result<Vec<Contact>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        contacts_as_json(&mut conn, workspace, |query| {
            query.push("id > ").push_bind(after).push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        })
        .await
    }

    async fn scan_organizations(&self, workspace: WorkspaceId, after: i64, limit: u32) -> Result<Vec<Organization>> {
        let rows: Vec<OrganizationRow> = sqlx::query_as(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(workspace.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(Organization::from).collect())
    }

    async fn query_contacts(&self, workspace: WorkspaceId, wanted: &ContactQuery) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let mut query = QueryBuilder::<Db>::new(format!("SELECT {}", *CONTACT_COLUMNS));
        push_contact_filter(&mut query, workspace, wanted);
        push_contact_order(&mut query, wanted);
        query
            .push(" LIMIT ")
            .push_bind(i64::from(wanted.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(wanted.offset).unwrap_or(i64::MAX));
        let rows: Vec<ContactRow> = query.build_query_as().fetch_all(&mut *tx).await.map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn count_contacts(&self, workspace: WorkspaceId, wanted: &ContactQuery) -> Result<u64> {
        let mut query = QueryBuilder::<Db>::new("SELECT COUNT(*)");
        push_contact_filter(&mut query, workspace, wanted);
        let count: i64 = query.build_query_scalar().fetch_one(self.reader()).await.map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn contacts_matching_exactly(
        &self,
        workspace: WorkspaceId,
        email: Option<&Email>,
        external_id: Option<&ExternalId>,
        phone: Option<&PhoneE164>,
    ) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND (email = $2 OR external_id = $3 OR phone = $4) \
             ORDER BY id",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(email.map(Email::as_str))
        .bind(external_id.map(ExternalId::as_str))
        .bind(phone.map(PhoneE164::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn attribute_keys(&self, workspace: WorkspaceId) -> Result<(Vec<String>, Vec<String>)> {
        let mut keys = Vec::with_capacity(2);
        for column in ["custom_attributes", "additional_attributes"] {
            let found: Vec<String> = sqlx::query_scalar(&dialect::attribute_keys_sql(column))
                .bind(workspace.get())
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
            keys.push(found);
        }
        let additional = keys.pop().unwrap_or_default();
        Ok((keys.pop().unwrap_or_default(), additional))
    }

    async fn custom_attribute_in_use(&self, workspace: WorkspaceId, key: &str) -> Result<bool> {
        let mut query = QueryBuilder::<Db>::new("SELECT 1 FROM contacts WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND ");
        dialect::push_json_text(&mut query, "custom_attributes", key);
        query.push(" IS NOT NULL LIMIT 1");
        let found: Option<i32> = query.build_query_scalar().fetch_optional(self.reader()).await.map_err(db_error)?;
        Ok(found.is_some())
    }

    async fn create_inbox(
        &self,
        workspace: WorkspaceId,
        name: &str,
        channel: InboxChannel,
        provider: Option<&str>,
    ) -> Result<Inbox> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let row: DbRow = sqlx::query(&format!(
            "INSERT INTO inboxes (workspace_id, name, channel_type, provider, created_us) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {INBOX_COLUMNS}"
        ))
        .bind(workspace.get())
        .bind(name)
        .bind(channel.as_str())
        .bind(provider)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let inbox = decode_inbox(&row, "")?;
        commit(tx).await?;
        Ok(inbox)
    }

    async fn inbox(&self, workspace: WorkspaceId, id: i64) -> Result<Option<Inbox>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_inbox(&mut conn, workspace, id).await
    }

    async fn inboxes(&self, workspace: WorkspaceId) -> Result<Vec<Inbox>> {
        let rows: Vec<DbRow> = sqlx::query(&format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = $1 ORDER BY id"))
            .bind(workspace.get())
            .fetch_all(self.reader())
            .await
            .map_err(db_error)?;
        rows.iter().map(|row| decode_inbox(row, "")).collect()
    }

    async fn contact_inboxes(&self, workspace: WorkspaceId, ids: &[ContactId]) -> Result<Vec<ContactInbox>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Db>::new(
            "SELECT ci.contact_id, ci.source_id, ci.created_us AS link_created_us, i.id AS inbox_id, \
             i.name AS inbox_name, i.channel_type AS inbox_channel_type, i.provider AS inbox_provider, \
             i.created_us AS inbox_created_us \
             FROM contact_inboxes ci JOIN inboxes i ON i.workspace_id = ci.workspace_id AND i.id = ci.inbox_id \
             WHERE ci.workspace_id = ",
        );
        query.push_bind(workspace.get()).push(" AND ci.contact_id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.get());
        }
        query.push(") ORDER BY ci.contact_id, ci.created_us, ci.inbox_id, ci.source_id");
        let rows: Vec<DbRow> = query.build().fetch_all(self.reader()).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let decoded = (|| -> Decoded<(i64, String, i64)> {
                    Ok((row.try_get("contact_id")?, row.try_get("source_id")?, row.try_get("link_created_us")?))
                })();
                let (contact, source_id, created) = decoded.map_err(db_error)?;
                Ok(ContactInbox {
                    contact_id: ContactId::from_stored(contact),
                    inbox: decode_inbox(row, "inbox_")?,
                    source_id,
                    created: Timestamp::from_micros(created),
                })
            })
            .collect()
    }

    async fn link_contact_inbox(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
        link: &NewContactInbox,
    ) -> Result<ContactInbox> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        locked_contact(&mut tx, workspace, contact).await?;
        let linked = insert_contact_inbox(&mut tx, workspace, contact, link, now).await?;
        commit(tx).await?;
        Ok(linked)
    }

    async fn labels(&self, workspace: WorkspaceId, ids: &[ContactId]) -> Result<Vec<(ContactId, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Db>::new("SELECT contact_id, label FROM contact_labels WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND contact_id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.get());
        }
        query.push(format!(") ORDER BY contact_id, label{}", dialect::TEXT_ORDER));
        let pairs: Vec<(i64, String)> = query.build_query_as().fetch_all(self.reader()).await.map_err(db_error)?;
        Ok(pairs.into_iter().map(|(id, label)| (ContactId::from_stored(id), label)).collect())
    }

    async fn set_labels(&self, workspace: WorkspaceId, id: ContactId, labels: &[String]) -> Result<Vec<String>> {
        let mut labels = labels.to_vec();
        labels.sort_unstable();
        labels.dedup();
        let mut tx = begin(self.writer()).await?;
        tick(&mut tx, workspace).await?;
        locked_contact(&mut tx, workspace, id).await?;
        sqlx::query("DELETE FROM contact_labels WHERE workspace_id = $1 AND contact_id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        add_labels(&mut tx, workspace, id, &labels).await?;
        commit(tx).await?;
        Ok(labels)
    }

    async fn merge_contacts(
        &self,
        workspace: WorkspaceId,
        base: ContactId,
        mergee: ContactId,
        rules: WriteRules,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace).await?;
        let base_contact = locked_contact(&mut tx, workspace, base).await?;
        let mergee_contact = locked_contact(&mut tx, workspace, mergee).await?;
        if base == mergee {
            return Ok(base_contact);
        }
        let merged = roster_core::merge::merge_contact_data(&base_contact.data, &mergee_contact.data);
        let mergee_labels: Vec<String> =
            sqlx::query_scalar("SELECT label FROM contact_labels WHERE workspace_id = $1 AND contact_id = $2")
                .bind(workspace.get())
                .bind(mergee.get())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        sqlx::query("UPDATE contact_inboxes SET contact_id = $3 WHERE workspace_id = $1 AND contact_id = $2")
            .bind(workspace.get())
            .bind(mergee.get())
            .bind(base.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // The mergee goes first (with its labels and memberships), so its unique values
        // can move to the base without colliding with themselves.
        sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(mergee.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Contact, mergee.get(), now).await?;
        if rules.unique_phone && merged.phone != base_contact.data.phone {
            check_phone_free(&mut tx, workspace, merged.phone.as_ref(), Some(base)).await?;
        }
        let updated = write_contact(&mut tx, workspace, base_contact, merged, now).await?;
        add_labels(&mut tx, workspace, base, &mergee_labels).await?;
        sqlx::query(
            "INSERT INTO contact_merges (workspace_id, base_contact_id, mergee_contact_id, merged_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.get())
        .bind(base.get())
        .bind(mergee.get())
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn merges(&self, workspace: WorkspaceId) -> Result<Vec<MergeRecord>> {
        let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, base_contact_id, mergee_contact_id, merged_us FROM contact_merges WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, base, mergee, at)| MergeRecord {
                id,
                base_contact_id: ContactId::from_stored(base),
                mergee_contact_id: ContactId::from_stored(mergee),
                merged: Timestamp::from_micros(at),
            })
            .collect())
    }

    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>> {
        let rows: Vec<(i64, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT seq, workspace_id, kind, record_id, changed_us FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(seq, workspace, kind, id, changed_us)| {
                let kind = match kind.as_str() {
                    "contact" => RecordKind::Contact,
                    "organization" => RecordKind::Organization,
                    other => return Err(Error::internal(format!("unknown change kind {other:?}"))),
                };
                Ok(Change {
                    seq,
                    workspace: WorkspaceId::from_stored(workspace),
                    kind,
                    id,
                    at: Timestamp::from_micros(changed_us),
                })
            })
            .collect()
    }

    async fn last_change_seq(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(self.reader())
            .await
            .map_err(db_error)?;
        Ok(seq.unwrap_or(0))
    }

    async fn first_change_seq(&self) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(seq) FROM changes")
            .fetch_one(self.reader())
            .await
            .map_err(db_error)
    }

    async fn prune_changes(&self, before: Timestamp) -> Result<u64> {
        let pruned = sqlx::query("DELETE FROM changes WHERE changed_us < $1")
            .bind(before.micros())
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        Ok(pruned.rows_affected())
    }
}
