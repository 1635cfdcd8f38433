//! Roster's native admin API under `/admin/v1`, for operators: workspaces and their API
//! keys, SalesChat's users, groups and governance levels, a contact's whole record and
//! its stage history, Chatwoot's inboxes and the record of contact merges. Authenticated by `Authorization: Bearer $ROSTER_ADMIN_TOKEN`; disabled (404) when
//! no token is configured. The CLI prints the same JSON (`render_*`).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, put};
use axum::{Json, Router};
use roster_core::domain::ContactId;
use roster_core::domain::{KeyId, WorkspaceId};
use roster_core::error::{Resource, UniqueField};
use roster_core::model::{
    ApiKey, GovernanceLevel, Group, Inbox, MergeRecord, StageChange, User, Workspace,
};
use roster_core::service::IssuedKey;
use roster_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};

mod contact;
mod events;
pub(crate) mod merges;
pub mod privacy;
pub(crate) mod webhooks;

pub use contact::render_contact_record;
pub use webhooks::{render_attempt, render_webhook};

use roster_core::rate_limit::RateLimit;

use crate::body::JsonBody;
use crate::params::{PathParams, QueryPairs};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route("/admin/v1/workspaces/{workspaceId}", get(get_workspace))
        .route(
            "/admin/v1/workspaces/{workspaceId}/keys",
            get(list_keys).post(create_key),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/keys/{keyId}",
            delete(revoke_key),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/users",
            get(list_users).post(create_user),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/groups/{groupId}/members",
            put(set_group_members),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/governance-levels",
            get(list_governance_levels).post(create_governance_level),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/governance-levels/{levelId}",
            patch(update_governance_level),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/inboxes",
            get(list_inboxes).post(create_inbox),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/merges",
            get(list_merges).post(merges::merge),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/merges/preview",
            axum::routing::post(merges::preview),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/imports",
            axum::routing::post(import_contacts),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/contacts/{contactId}",
            get(contact::show_contact),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/contacts/{contactId}/stage-history",
            get(stage_history),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/contacts/{contactId}/history",
            get(contact_history),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/contacts/{contactId}/export",
            get(export_contact),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/events",
            get(events::list_events),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/webhooks/{webhookId}",
            get(webhooks::show_webhook)
                .patch(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/webhooks/{webhookId}/rotate-secret",
            axum::routing::post(webhooks::rotate_secret),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/webhooks/{webhookId}/deliveries",
            get(webhooks::list_deliveries),
        )
        .route(
            "/admin/v1/workspaces/{workspaceId}/webhooks/{webhookId}/deliveries/{eventId}/redeliver",
            axum::routing::post(webhooks::redeliver),
        )
}

pub fn render_user(user: &User) -> Value {
    json!({"id": user.id, "name": user.name, "created": user.created.to_rfc3339()})
}

pub fn render_group(group: &Group) -> Value {
    json!({"id": group.id, "name": group.name, "members": group.members, "created": group.created.to_rfc3339()})
}

pub fn render_inbox(inbox: &Inbox) -> Value {
    json!({
        "id": inbox.id,
        "name": inbox.name,
        "channel_type": inbox.channel.as_str(),
        "provider": inbox.provider,
        "created": inbox.created.to_rfc3339(),
    })
}

pub fn render_merge(merge: &MergeRecord) -> Value {
    json!({
        "id": merge.id,
        "base_contact_id": merge.base_contact_id.get(),
        "mergee_contact_id": merge.mergee_contact_id.get(),
        "merged": merge.merged.to_rfc3339(),
    })
}

pub fn render_governance_level(level: &GovernanceLevel) -> Value {
    json!({
        "id": level.id,
        "name": level.name,
        "retention_days": level.retention_days,
        "created": level.created.to_rfc3339(),
    })
}

pub fn render_stage_change(change: &StageChange) -> Value {
    json!({
        "from_stage": change.from_stage,
        "to_stage": change.to_stage,
        "disposition": change.disposition,
        "changed_by_key_id": change.changed_by.map(KeyId::get),
        "at": change.at.to_rfc3339(),
    })
}

pub fn render_workspace(workspace: &Workspace) -> Value {
    json!({
        "id": workspace.id.get(),
        "name": workspace.name,
        "created": workspace.created.to_rfc3339(),
    })
}

pub fn render_key(key: &ApiKey) -> Value {
    json!({
        "id": key.id.get(),
        "workspace_id": key.workspace_id.get(),
        "name": key.name,
        "permissions": key.permissions,
        // `null`: the server's default.
        "rate_limit": key.rate_limit.map(|limit| limit.to_string()),
        "created": key.created.to_rfc3339(),
        "revoked": key.revoked.map(|t| t.to_rfc3339()),
    })
}

/// The one rendering that carries the secret: the answer to creating a key.
pub fn render_issued_key(issued: &IssuedKey) -> Value {
    let mut value = render_key(&issued.key);
    value["key"] = Value::String(issued.secret.clone());
    value
}

/// Admin errors: `{"error": "…"}` with the usual status codes.
#[derive(Debug)]
pub struct AdminError(pub(crate) Error);

impl From<Error> for AdminError {
    fn from(err: Error) -> Self {
        AdminError(err)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            Error::Invalid { field, reason } => {
                (StatusCode::BAD_REQUEST, format!("{field}: {reason}."))
            }
            Error::NotFound(resource) => (StatusCode::NOT_FOUND, format!("No such {resource}.")),
            Error::UnknownReference { resource, id } => (
                StatusCode::BAD_REQUEST,
                format!("{resource} {id} does not exist."),
            ),
            Error::Conflict(field) => (
                StatusCode::CONFLICT,
                format!("{} is already taken.", unique_field_name(field)),
            ),
            Error::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many requests: retry in {retry_after_secs} seconds."),
            ),
            Error::OverRateLimit { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many requests: retry in {retry_after_secs} seconds."),
            ),
            Error::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}.", crate::retry::REUSED_SENTENCE),
            ),
            Error::RequestInProgress => (
                StatusCode::CONFLICT,
                format!("{}.", crate::retry::IN_PROGRESS_SENTENCE),
            ),
            Error::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                format!("{}.", crate::etag::CHANGED_SENTENCE),
            ),
            Error::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "Send the admin token as Authorization: Bearer <ROSTER_ADMIN_TOKEN>.".to_owned(),
            ),
            Error::Forbidden => (StatusCode::FORBIDDEN, "Forbidden.".to_owned()),
            Error::TooLarge { limit_bytes } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{}.", crate::body::too_large_sentence(limit_bytes)),
            ),
            Error::UnsupportedMediaType { content_type } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{}.", crate::body::not_json_sentence(&content_type)),
            ),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error.".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

type AdminResult<T> = Result<T, AdminError>;
type AdminPath<T> = PathParams<T, AdminError>;

fn unique_field_name(field: UniqueField) -> &'static str {
    match field {
        UniqueField::Email => "email",
        UniqueField::ExternalId => "external_id",
        UniqueField::Channel(_) => "channel id",
        UniqueField::Phone => "phone",
        UniqueField::SourceId => "source_id",
        UniqueField::RecordId => "id",
    }
}

/// Proof that the request carried the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.admin_token.is_none() {
            let body = json!({"error": "The admin API is disabled: start roster with ROSTER_ADMIN_TOKEN set."});
            return Err((StatusCode::NOT_FOUND, Json(body)).into_response());
        }
        if carries_admin_token(state, &parts.headers) {
            Ok(Admin)
        } else {
            Err(AdminError(Error::Unauthenticated).into_response())
        }
    }
}

/// Whether the request carries the admin token (never, when the admin API is off).
pub(crate) fn carries_admin_token(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = state.admin_token.as_deref() else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(presented.trim().as_bytes(), expected.as_bytes())
}

/// Compares without an early exit, so response timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A contact id from the path; one that does not parse names no contact.
fn contact_id(raw: &str) -> AdminResult<ContactId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Contact).into())
}

fn workspace_id(raw: &str) -> AdminResult<WorkspaceId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Workspace).into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWorkspace {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    permissions: Vec<String>,
    /// `none`, `saleschat` or `<requests>/<window>` (`100/s`); absent: the server's default.
    #[serde(default)]
    rate_limit: Option<String>,
}

async fn create_workspace(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(body, _): JsonBody<CreateWorkspace, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.create_workspace(&body.name).await?;
    Ok((StatusCode::CREATED, Json(render_workspace(&workspace))))
}

async fn list_workspaces(_: Admin, State(state): State<AppState>) -> AdminResult<Json<Value>> {
    let workspaces = state.roster.store().workspaces().await?;
    Ok(Json(Value::Array(
        workspaces.iter().map(render_workspace).collect(),
    )))
}

async fn get_workspace(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    Ok(Json(render_workspace(&workspace)))
}

async fn create_key(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<CreateKey, AdminError>,
) -> AdminResult<Response> {
    let workspace = workspace_id(&id)?;
    let rate_limit = body
        .rate_limit
        .as_deref()
        .map(|text| RateLimit::parse("rate_limit", text))
        .transpose()?;
    let issued = state
        .roster
        .issue_key(workspace, &body.name, body.permissions, rate_limit)
        .await?;
    let mut answer = (StatusCode::CREATED, Json(render_issued_key(&issued))).into_response();
    // A retry with the same Idempotency-Key learns the key was made, not its secret: the
    // secret is shown once and never stored.
    let mut replayed = render_key(&issued.key);
    replayed["key"] = Value::Null;
    answer
        .extensions_mut()
        .insert(crate::retry::KeptAs(replayed.to_string().into()));
    Ok(answer)
}

async fn list_keys(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let keys = state.roster.store().api_keys(workspace.id).await?;
    Ok(Json(Value::Array(keys.iter().map(render_key).collect())))
}

async fn revoke_key(
    _: Admin,
    State(state): State<AppState>,
    PathParams((workspace, key), _): AdminPath<(String, String)>,
) -> AdminResult<Json<Value>> {
    let workspace = workspace_id(&workspace)?;
    let key: KeyId = key.parse().map_err(|_| Error::NotFound(Resource::ApiKey))?;
    let revoked = state.roster.revoke_key(workspace, key).await?;
    Ok(Json(render_key(&revoked)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    id: String,
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupMembers {
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGovernanceLevel {
    id: String,
    name: String,
    retention_days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateInbox {
    name: String,
    channel_type: String,
    #[serde(default)]
    provider: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateGovernanceLevel {
    name: Option<String>,
    retention_days: Option<i64>,
}

async fn create_user(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<CreateUser, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let user = state
        .roster
        .create_user(workspace.id, &body.id, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(render_user(&user))))
}

async fn list_users(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let users = state.roster.store().users(workspace.id).await?;
    Ok(Json(Value::Array(users.iter().map(render_user).collect())))
}

async fn create_group(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<CreateGroup, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let group = state
        .roster
        .create_group(workspace.id, &body.id, &body.name, &body.members)
        .await?;
    Ok((StatusCode::CREATED, Json(render_group(&group))))
}

async fn list_groups(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let groups = state.roster.store().groups(workspace.id).await?;
    Ok(Json(Value::Array(
        groups.iter().map(render_group).collect(),
    )))
}

async fn set_group_members(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, group), _): AdminPath<(String, String)>,
    JsonBody(body, _): JsonBody<GroupMembers, AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let group = state
        .roster
        .set_group_members(workspace.id, &group, &body.members)
        .await?;
    Ok(Json(render_group(&group)))
}

async fn create_governance_level(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<CreateGovernanceLevel, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let level = state
        .roster
        .create_governance_level(workspace.id, &body.id, &body.name, body.retention_days)
        .await?;
    Ok((StatusCode::CREATED, Json(render_governance_level(&level))))
}

async fn list_governance_levels(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let levels = state.roster.store().governance_levels(workspace.id).await?;
    Ok(Json(Value::Array(
        levels.iter().map(render_governance_level).collect(),
    )))
}

async fn update_governance_level(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, level), _): AdminPath<(String, String)>,
    JsonBody(body, _): JsonBody<UpdateGovernanceLevel, AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let level = state
        .roster
        .update_governance_level(
            workspace.id,
            &level,
            body.name.as_deref(),
            body.retention_days,
        )
        .await?;
    Ok(Json(render_governance_level(&level)))
}

async fn create_inbox(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<CreateInbox, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let inbox = state
        .roster
        .create_inbox(
            workspace.id,
            &body.name,
            &body.channel_type,
            body.provider.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(render_inbox(&inbox))))
}

async fn list_inboxes(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let inboxes = state.roster.store().inboxes(workspace.id).await?;
    Ok(Json(inboxes.iter().map(render_inbox).collect()))
}

/// `POST …/imports?match=…`: the CSV body imported into the workspace (see
/// `transfer::stream_import`).
async fn import_contacts(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    query: QueryPairs<AdminError>,
    body: axum::body::Body,
) -> AdminResult<Response> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    Ok(crate::transfer::stream_import(&state, workspace.id, query.get("match"), body).await?)
}

/// Which contact was merged into which, oldest first (Chatwoot's merges leave these).
async fn list_merges(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let merges = state.roster.store().merges(workspace.id).await?;
    Ok(Json(merges.iter().map(render_merge).collect()))
}

/// A list's `limit`: 1–1000, 100 when not given.
pub(crate) fn page_limit(raw: Option<&str>) -> Result<u32, Error> {
    match raw {
        None => Ok(100),
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=1_000).contains(limit))
            .ok_or_else(|| Error::invalid("limit", "must be a whole number from 1 to 1000")),
    }
}

/// `GET …/contacts/{contactId}/history?cursor=&limit=`: every change to the contact,
/// oldest first, `limit` (1–1000, default 100) at a time; `next_cursor` fetches the next
/// page, `null` on the last.
async fn contact_history(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, contact), _): AdminPath<(String, String)>,
    query: QueryPairs<AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let contact = contact_id(&contact)?;
    let limit = page_limit(query.get("limit"))?;
    let after = match query.get("cursor") {
        None | Some("") => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|after| *after > 0)
            .ok_or_else(|| Error::invalid("cursor", "must be a next_cursor this API answered"))?,
    };
    let entries = state
        .roster
        .store()
        .contact_history(workspace.id, contact, after, limit)
        .await?;
    let next = match entries.len() == limit as usize {
        true => entries.last().map(|entry| entry.id.to_string()),
        false => None,
    };
    Ok(Json(json!({
        "entries": entries.iter().map(|entry| entry.render()).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `GET …/contacts/{contactId}/export`: everything Roster holds about the contact.
async fn export_contact(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, contact), _): AdminPath<(String, String)>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let contact = contact_id(&contact)?;
    Ok(Json(
        privacy::contact_export(&state.roster, workspace.id, contact).await?,
    ))
}

async fn stage_history(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, contact), _): AdminPath<(String, String)>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let contact = contact_id(&contact)?;
    let history = state
        .roster
        .store()
        .stage_history(workspace.id, contact)
        .await?;
    Ok(Json(Value::Array(
        history.iter().map(render_stage_change).collect(),
    )))
}
