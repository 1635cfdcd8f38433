// The queries both backends share, compiled once per backend: `sqlite.rs` and
// `postgres.rs` each `include!` this file and the area files beside it (`keys.rs`,
// `contacts.rs`, …; one `impl` of a `Store` area trait each) after defining
//   - `Db`: the sqlx database type, and `DbRow` its row type,
//   - `StoreImpl`: the store struct (imported under that name), with
//     `fn writer(&self) -> &Pool<Db>` and `fn reader(&self) -> &Pool<Db>`.
// Only SQL that means the same on SQLite and PostgreSQL belongs here. Rows decode as
// `rows.rs` declares them (`record_row!`, once for both backends).
//
// Every write transaction starts with `tick`, which updates the workspace row: on
// PostgreSQL that row lock serialises the workspace's writes (so uniqueness and
// membership checks see every committed write), on SQLite the single writer connection
// already does.

use roster_core::domain::{ContactId, KeyId, OrganizationId, Timestamp, WorkspaceId};

use roster_core::error::{Error, Resource, Result};

use roster_core::assign::{member_in_turn, retry_after};
use roster_core::domain::PhoneE164;

use roster_core::model::{
    ApiKey, AssignRequest, AssignTarget, Assignment, Change, Contact, ContactData, ContactPatch,
    DispositionUpdate, GovernanceLevel, Group, Organization, OrganizationData, OrganizationPatch,
    Page, RecordKind, StageChange, StoredApiKey, Updated, User, Workspace,
};

use roster_core::clock::Clock;
use roster_core::store::prelude::*;
use roster_core::store::{NewApiKey, NewContactInbox};
use std::sync::Arc;

use roster_core::model::{ContactInbox, Inbox, InboxChannel, MergeRecord, WriteRules};

use roster_core::query::{
    Bound, Condition, ContactQuery, Join, NumberBound, SortField, TextField, TextOp, TimeField,
};

use roster_core::domain::{Email, ExternalId};

use roster_core::error::UniqueField;

use roster_core::import::{ImportOutcome, ImportRow, MatchKey};
use roster_core::import_plan::{identities_sought, plan_import, FastSet, Identity};

use std::collections::HashMap;

use sqlx::types::Json;

use sqlx::{Database, Pool, QueryBuilder, Row, Transaction};

use crate::errors::db_error;

use crate::rows::{
    channel_column, ApiKeyRow, ContactRow, GovernanceLevelRow, OrganizationRow, StageChangeRow,
    UserRow, WorkspaceRow, CONTACT_COLUMNS, CONTACT_DATA_COLUMNS, INSERT_CONTACT,
    INSERT_ORGANIZATION, UPDATE_CONTACT, UPDATE_ORGANIZATION,
};

type Query<'q> = sqlx::query::Query<'q, Db, <Db as Database>::Arguments<'q>>;

type Decoded<T> = std::result::Result<T, sqlx::Error>;

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
async fn tick(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    now: Timestamp,
) -> Result<Timestamp> {
    let micros: Option<i64> = sqlx::query_scalar(
        "UPDATE workspaces SET clock_us = CASE WHEN clock_us + 1 > $2 THEN clock_us + 1 ELSE $2 END \
         WHERE id = $1 RETURNING clock_us",
    )
    .bind(workspace.get())
    .bind(now.micros())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    micros
        .map(Timestamp::from_micros)
        .ok_or(Error::NotFound(Resource::Workspace))
}

/// Reserves `clocks` consecutive timestamps and `ids` consecutive contact ids for one bulk
/// write; returns the first of each. `NotFound(Workspace)` if there is no such workspace.
async fn reserve(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    clocks: i64,
    ids: i64,
    now: Timestamp,
) -> Result<(i64, i64)> {
    let reserved: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE workspaces SET clock_us = CASE WHEN clock_us + $2 > $3 THEN clock_us + $2 ELSE $3 END, \
         last_contact_id = last_contact_id + $4 WHERE id = $1 RETURNING clock_us, last_contact_id",
    )
    .bind(workspace.get())
    .bind(clocks)
    .bind(now.micros() + clocks - 1)
    .bind(ids)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let (last_clock, last_id) = reserved.ok_or(Error::NotFound(Resource::Workspace))?;
    Ok((last_clock - clocks + 1, last_id - ids + 1))
}

async fn next_contact_id(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
) -> Result<ContactId> {
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
    query
        .push("workspace_id = ")
        .push_bind(workspace.get())
        .push(" AND contact_id IN (");
    let mut list = query.separated(", ");
    for row in &rows {
        list.push_bind(row.id);
    }
    query.push(")");
    let pairs: String = query
        .build_query_scalar()
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
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
    sqlx::query(
        "INSERT INTO changes (workspace_id, kind, record_id, changed_us) VALUES ($1, $2, $3, $4)",
    )
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
/// Every contact write takes its contact here, which bumps its version (and checks the
/// write's `If-Match` precondition, see `roster_core::write::Expected`).
async fn locked_contact(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Contact> {
    bump_version(tx, workspace, RecordKind::Contact, id.get()).await?;
    fetch_contact(tx, workspace, id)
        .await?
        .ok_or(Error::NotFound(Resource::Contact))
}

/// Bumps a record's version in the write's transaction (taking its row lock on
/// PostgreSQL); `PreconditionFailed` if the write expects another version than it had.
/// A missing record is left to the caller's lookup.
async fn bump_version(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    kind: RecordKind,
    id: i64,
) -> Result<()> {
    let table = match kind {
        RecordKind::Contact => "contacts",
        RecordKind::Organization => "organizations",
    };
    let had: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE {table} SET version = version + 1 WHERE workspace_id = $1 AND id = $2 \
         RETURNING version - 1"
    ))
    .bind(workspace.get())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    match roster_core::write::expected_version(kind, id) {
        Some(expected) if had != Some(expected) => Err(Error::PreconditionFailed),
        _ => Ok(()),
    }
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
        let mut query =
            QueryBuilder::<Db>::new("SELECT id FROM organizations WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        let found: Vec<i64> = query
            .build_query_scalar()
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
        if let Some(missing) = chunk.iter().find(|id| !found.contains(id)) {
            return Err(Error::UnknownReference {
                resource: Resource::Organization,
                id: missing.to_string(),
            });
        }
    }
    Ok(())
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
    query
        .push("workspace_id = ")
        .push_bind(workspace.get())
        .push(" AND ");
    conditions(&mut query);
    query.push(suffix);
    let page: String = query
        .build_query_scalar()
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
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

impl StoreImpl {
    /// Commits `tx`; answers once the change is durable, so a write is never
    /// acknowledged before it is on disk.
    async fn commit(&self, tx: Transaction<'_, Db>) -> Result<()> {
        tx.commit().await.map_err(db_error)?;
        self.durable().await
    }
}
