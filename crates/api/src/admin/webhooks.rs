//! `/admin/v1/workspaces/{workspaceId}/webhooks`: a workspace's webhook endpoints in
//! Roster's form (see `roster_core::webhooks`), their delivery log and redelivery. Each
//! handler is a thin admin wrapper around a function of the workspace, which the console
//! calls too (for a key that may manage webhooks).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::domain::WorkspaceId;
use roster_core::error::Resource;
use roster_core::events::EventType;
use roster_core::view::time;
use roster_core::webhooks::{
    parse_event_types, parse_fields, parse_url, Attempt, Webhook, WebhookFormat, WebhookPatch,
    WebhookRequest, MAX_DESCRIPTION_LEN,
};
use roster_core::Error;
use serde_json::{json, Map, Value};

use super::{workspace_id, Admin, AdminError, AdminPath, AdminResult};
use crate::body::JsonBody;
use crate::params::{PathParams, QueryPairs};
use crate::AppState;

pub fn render_webhook(webhook: &Webhook) -> Value {
    let events: Vec<&str> = match &webhook.events {
        Some(events) => events.iter().map(|event| event.as_str()).collect(),
        None => EventType::ALL.iter().map(|event| event.as_str()).collect(),
    };
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "format": webhook.format.as_str(),
        "events": events,
        "fields": webhook.fields,
        "description": webhook.description,
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "failing_since": time(webhook.failing_since),
        "created": webhook.created.to_rfc3339(),
        "updated": webhook.updated.to_rfc3339(),
    })
}

pub fn render_attempt(attempt: &Attempt) -> Value {
    json!({
        "event_id": attempt.event_id,
        "event_type": attempt.event_type.as_str(),
        "attempt": attempt.attempt,
        "at": attempt.at.to_rfc3339(),
        "status": attempt.status,
        "error": attempt.error,
        "next_retry": time(attempt.next_retry),
    })
}

fn webhook_id(raw: &str) -> AdminResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AdminError(Error::NotFound(Resource::Webhook)))
}

/// A list of strings, or `null`.
fn strings(body: &Map<String, Value>, field: &str) -> AdminResult<Option<Vec<String>>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::invalid(field, "must be a list of strings").into())
            })
            .collect::<AdminResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Error::invalid(field, "must be a list of strings").into()),
    }
}

fn text(body: &Map<String, Value>, field: &str) -> AdminResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Error::invalid(field, "must be a string").into()),
    }
}

fn known_fields(body: &Map<String, Value>, known: &[&str]) -> AdminResult<()> {
    match body.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(Error::invalid(
            key,
            format!("is not a webhook field (one of {})", known.join(", ")),
        )
        .into()),
        None => Ok(()),
    }
}

fn description(body: &Map<String, Value>) -> AdminResult<Option<String>> {
    let description = text(body, "description")?;
    if description
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_LEN)
    {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        )
        .into());
    }
    Ok(description)
}

/// A webhook and its secret, answered once; a retry of the same request (Idempotency-Key)
/// is answered without the secret, which is never kept in the clear.
fn with_secret(status: StatusCode, webhook: &Webhook, secret: String) -> Response {
    let mut shown = render_webhook(webhook);
    let replayed = shown.clone();
    shown["secret"] = Value::String(secret);
    let mut answer = (status, Json(shown)).into_response();
    let mut replayed = replayed;
    replayed["secret"] = Value::Null;
    answer
        .extensions_mut()
        .insert(crate::retry::KeptAs(replayed.to_string().into()));
    answer
}

/// `POST …/webhooks` `{"url", "events"?, "fields"?, "format"?, "description"?}`.
pub(super) async fn create_webhook(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<Map<String, Value>, AdminError>,
) -> AdminResult<Response> {
    create(&state, admin_workspace(&state, &id).await?, body).await
}

pub(crate) async fn create(
    state: &AppState,
    workspace: WorkspaceId,
    body: Map<String, Value>,
) -> AdminResult<Response> {
    known_fields(&body, &["url", "events", "fields", "format", "description"])?;
    let url = text(&body, "url")?.ok_or_else(|| Error::invalid("url", "is required"))?;
    let format = match text(&body, "format")?.as_deref() {
        None | Some("roster") => WebhookFormat::Roster,
        Some("saleschat") => WebhookFormat::SalesChat,
        Some(_) => {
            return Err(Error::invalid("format", "must be \"roster\" or \"saleschat\"").into())
        }
    };
    let request = WebhookRequest {
        url,
        format,
        events: strings(&body, "events")?
            .map(|names| parse_event_types(&names))
            .transpose()?,
        fields: strings(&body, "fields")?
            .map(|names| parse_fields(&names))
            .transpose()?,
        subscriptions: None,
        description: description(&body)?,
    };
    let (webhook, secret) = state.roster.create_webhook(workspace, request).await?;
    Ok(with_secret(StatusCode::CREATED, &webhook, secret))
}

pub(super) async fn list_webhooks(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
) -> AdminResult<Json<Value>> {
    list(&state, admin_workspace(&state, &id).await?).await
}

pub(crate) async fn list(state: &AppState, workspace: WorkspaceId) -> AdminResult<Json<Value>> {
    let webhooks = state.roster.store().webhooks(workspace).await?;
    Ok(Json(Value::Array(
        webhooks.iter().map(render_webhook).collect(),
    )))
}

pub(super) async fn show_webhook(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook), _): AdminPath<(String, String)>,
) -> AdminResult<Json<Value>> {
    let workspace = admin_workspace(&state, &id).await?;
    let webhook = state
        .roster
        .webhook(workspace, webhook_id(&webhook)?)
        .await?;
    Ok(Json(render_webhook(&webhook)))
}

/// `PATCH …/webhooks/{webhookId}` `{"url"?, "events"?, "fields"?, "description"?,
/// "enabled"?}`; `null` resets events (to all), fields and description.
pub(super) async fn update_webhook(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook), _): AdminPath<(String, String)>,
    JsonBody(body, _): JsonBody<Map<String, Value>, AdminError>,
) -> AdminResult<Json<Value>> {
    update(&state, admin_workspace(&state, &id).await?, &webhook, body).await
}

pub(crate) async fn update(
    state: &AppState,
    workspace: WorkspaceId,
    webhook: &str,
    body: Map<String, Value>,
) -> AdminResult<Json<Value>> {
    let webhook = webhook_id(webhook)?;
    known_fields(
        &body,
        &["url", "events", "fields", "description", "enabled"],
    )?;
    let mut patch = WebhookPatch::default();
    if body.contains_key("url") {
        let url = text(&body, "url")?.ok_or_else(|| Error::invalid("url", "must be a URL"))?;
        parse_url(&url)?;
        patch.url = Some(url);
    }
    if body.contains_key("events") {
        patch.events = Some(
            strings(&body, "events")?
                .map(|names| parse_event_types(&names))
                .transpose()?,
        );
    }
    if body.contains_key("fields") {
        patch.fields = Some(
            strings(&body, "fields")?
                .map(|names| parse_fields(&names))
                .transpose()?,
        );
    }
    if body.contains_key("description") {
        patch.description = Some(description(&body)?);
    }
    match body.get("enabled") {
        None => {}
        Some(Value::Bool(enabled)) => patch.enabled = Some(*enabled),
        Some(_) => return Err(Error::invalid("enabled", "must be true or false").into()),
    }
    let updated = state
        .roster
        .update_webhook(workspace, webhook, patch)
        .await?;
    Ok(Json(render_webhook(&updated)))
}

pub(super) async fn delete_webhook(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook), _): AdminPath<(String, String)>,
) -> AdminResult<Json<Value>> {
    delete(&state, admin_workspace(&state, &id).await?, &webhook).await
}

pub(crate) async fn delete(
    state: &AppState,
    workspace: WorkspaceId,
    webhook: &str,
) -> AdminResult<Json<Value>> {
    let deleted = state
        .roster
        .store()
        .delete_webhook(workspace, webhook_id(webhook)?)
        .await?;
    Ok(Json(render_webhook(&deleted)))
}

pub(super) async fn rotate_secret(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook), _): AdminPath<(String, String)>,
) -> AdminResult<Response> {
    rotate(&state, admin_workspace(&state, &id).await?, &webhook).await
}

pub(crate) async fn rotate(
    state: &AppState,
    workspace: WorkspaceId,
    webhook: &str,
) -> AdminResult<Response> {
    let (webhook, secret) = state
        .roster
        .rotate_webhook_secret(workspace, webhook_id(webhook)?)
        .await?;
    Ok(with_secret(StatusCode::OK, &webhook, secret))
}

/// `GET …/webhooks/{webhookId}/deliveries?limit=<n>`: the latest attempts, newest first.
pub(super) async fn list_deliveries(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook), _): AdminPath<(String, String)>,
    query: QueryPairs<AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = admin_workspace(&state, &id).await?;
    deliveries(&state, workspace, &webhook, query.get("limit")).await
}

pub(crate) async fn deliveries(
    state: &AppState,
    workspace: WorkspaceId,
    webhook: &str,
    limit: Option<&str>,
) -> AdminResult<Json<Value>> {
    let limit = super::page_limit(limit)?;
    let attempts = state
        .roster
        .store()
        .webhook_attempts(workspace, webhook_id(webhook)?, limit)
        .await?;
    Ok(Json(Value::Array(
        attempts.iter().map(render_attempt).collect(),
    )))
}

/// `POST …/webhooks/{webhookId}/deliveries/{eventId}/redeliver`: sent again, now.
pub(super) async fn redeliver(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, webhook, event), _): AdminPath<(String, String, String)>,
) -> AdminResult<Response> {
    let workspace = admin_workspace(&state, &id).await?;
    send_again(&state, workspace, &webhook, &event).await
}

pub(crate) async fn send_again(
    state: &AppState,
    workspace: WorkspaceId,
    webhook: &str,
    event: &str,
) -> AdminResult<Response> {
    state
        .roster
        .redeliver(workspace, webhook_id(webhook)?, event)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"event_id": event, "queued": true})),
    )
        .into_response())
}

/// The workspace an admin path names, when it exists.
async fn admin_workspace(state: &AppState, raw: &str) -> AdminResult<WorkspaceId> {
    Ok(state
        .roster
        .existing_workspace(workspace_id(raw)?)
        .await?
        .id)
}
