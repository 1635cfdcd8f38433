//! Chatwoot's account webhooks: `GET`/`POST /api/v1/accounts/{id}/webhooks`,
//! `PATCH`/`PUT`/`DELETE …/webhooks/{id}`, with Chatwoot's bodies, answers
//! (`payload.webhook`, its `secret` on every read) and validation messages. Only
//! `contact_created` and `contact_updated` ever fire; the other subscriptions Chatwoot
//! allows are accepted and stay silent (Roster has no conversations or messages).

use axum::extract::State;
use axum::Json;
use roster_core::error::Resource;
use roster_core::events::EventType;
use roster_core::webhooks::{
    chatwoot_secret_text, Webhook, WebhookFormat, WebhookPatch, WebhookRequest,
};
use roster_core::Error;
use serde_json::{json, Map, Value};

use super::auth::{Authorized, Chatwoot, ManageWebhooks};
use super::{CwBody, CwError, CwResult};
use crate::params::PathParams;
use crate::AppState;

type Auth = Authorized<ManageWebhooks, Chatwoot>;
type WebhookPath = PathParams<(String, String), CwError>;

/// The events Chatwoot's account webhooks may subscribe to (its `ALLOWED_WEBHOOK_EVENTS`).
const ALLOWED_EVENTS: [&str; 15] = [
    "conversation_status_changed",
    "conversation_updated",
    "conversation_created",
    "contact_created",
    "contact_updated",
    "message_created",
    "message_updated",
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
    "agent_added",
    "faq_catalog_updated",
    "product_catalog_updated",
];

/// A Rails validation failure: `{"message", "attributes"}`.
fn invalid(attribute: &str, reason: &str) -> CwError {
    Error::invalid(attribute, reason).into()
}

/// The Roster events behind Chatwoot subscriptions.
fn event_types(subscriptions: &[String]) -> Vec<EventType> {
    let mut types = Vec::new();
    if subscriptions.iter().any(|name| name == "contact_created") {
        types.push(EventType::ContactCreated);
    }
    if subscriptions.iter().any(|name| name == "contact_updated") {
        // A merge changes the base contact: Chatwoot reports it as an update.
        types.extend([EventType::ContactUpdated, EventType::ContactMerged]);
    }
    types
}

/// The webhook's fields, from `{"webhook": {…}}` or the top level (Rails wraps JSON
/// parameters, so clients send either).
fn fields(body: &Value) -> Map<String, Value> {
    match body.get("webhook") {
        Some(Value::Object(inner)) => inner.clone(),
        _ => body.as_object().cloned().unwrap_or_default(),
    }
}

fn subscriptions(value: Option<&Value>) -> CwResult<Vec<String>> {
    let names: Option<Vec<String>> = match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    };
    match names {
        Some(names)
            if !names.is_empty()
                && names
                    .iter()
                    .all(|name| ALLOWED_EVENTS.contains(&name.as_str())) =>
        {
            let mut unique = Vec::with_capacity(names.len());
            for name in names {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            Ok(unique)
        }
        _ => Err(invalid("subscriptions", "Invalid events")),
    }
}

fn url(value: Option<&Value>) -> CwResult<String> {
    let url = value.and_then(Value::as_str).unwrap_or_default();
    roster_core::webhooks::parse_url(url).map_err(|_| invalid("url", "is invalid"))?;
    Ok(url.to_owned())
}

fn name(value: Option<&Value>) -> CwResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if name.chars().count() <= 255 => Ok(Some(name.clone())),
        Some(_) => Err(invalid("name", "is invalid")),
    }
}

/// Chatwoot's webhook partial, with its secret.
fn render(state: &AppState, webhook: &Webhook, sealed: &[u8]) -> CwResult<Value> {
    let secret = state.roster.open_secret(sealed)?;
    Ok(json!({
        "id": webhook.id,
        "name": webhook.description,
        "url": webhook.url,
        "account_id": webhook.workspace.get(),
        "subscriptions": webhook.subscriptions.clone().unwrap_or_default(),
        "secret": chatwoot_secret_text(&secret),
    }))
}

/// The account's Chatwoot webhooks (Roster-form endpoints are not Chatwoot's to see).
async fn chatwoot_webhooks(state: &AppState, auth: &Auth) -> CwResult<Vec<(Webhook, Vec<u8>)>> {
    let store = state.roster.store();
    let mut found = Vec::new();
    for webhook in store.webhooks(auth.workspace()).await? {
        if webhook.format != WebhookFormat::Chatwoot {
            continue;
        }
        if let Some(pair) = store.webhook(auth.workspace(), webhook.id).await? {
            found.push(pair);
        }
    }
    Ok(found)
}

async fn own_webhook(state: &AppState, auth: &Auth, id: &str) -> CwResult<(Webhook, Vec<u8>)> {
    let id: i64 = id
        .parse()
        .map_err(|_| CwError::from(Error::NotFound(Resource::Webhook)))?;
    match state.roster.store().webhook(auth.workspace(), id).await? {
        Some(pair) if pair.0.format == WebhookFormat::Chatwoot => Ok(pair),
        _ => Err(Error::NotFound(Resource::Webhook).into()),
    }
}

/// `url` must not be another webhook's of the account ("Url has already been taken").
async fn unique_url(state: &AppState, auth: &Auth, url: &str, except: Option<i64>) -> CwResult<()> {
    let taken = chatwoot_webhooks(state, auth)
        .await?
        .iter()
        .any(|(webhook, _)| webhook.url == url && Some(webhook.id) != except);
    match taken {
        true => Err(invalid("url", "has already been taken")),
        false => Ok(()),
    }
}

pub(super) async fn list_webhooks(
    auth: Auth,
    State(state): State<AppState>,
) -> CwResult<Json<Value>> {
    let webhooks = chatwoot_webhooks(&state, &auth).await?;
    let shown = webhooks
        .iter()
        .map(|(webhook, sealed)| render(&state, webhook, sealed))
        .collect::<CwResult<Vec<_>>>()?;
    Ok(Json(json!({"payload": {"webhooks": shown}})))
}

pub(super) async fn create_webhook(
    auth: Auth,
    State(state): State<AppState>,
    CwBody(body): CwBody<Value>,
) -> CwResult<Json<Value>> {
    let fields = fields(&body);
    let url = url(fields.get("url"))?;
    let subscriptions = subscriptions(fields.get("subscriptions"))?;
    let name = name(fields.get("name"))?;
    unique_url(&state, &auth, &url, None).await?;
    let request = WebhookRequest {
        url,
        format: WebhookFormat::Chatwoot,
        events: Some(event_types(&subscriptions)),
        fields: None,
        subscriptions: Some(subscriptions),
        description: name,
    };
    let (webhook, _) = state
        .roster
        .create_webhook(auth.workspace(), request)
        .await?;
    let (webhook, sealed) = own_webhook(&state, &auth, &webhook.id.to_string()).await?;
    Ok(Json(
        json!({"payload": {"webhook": render(&state, &webhook, &sealed)?}}),
    ))
}

pub(super) async fn update_webhook(
    auth: Auth,
    State(state): State<AppState>,
    PathParams((_, id), _): WebhookPath,
    CwBody(body): CwBody<Value>,
) -> CwResult<Json<Value>> {
    let (current, _) = own_webhook(&state, &auth, &id).await?;
    let fields = fields(&body);
    let mut patch = WebhookPatch::default();
    if fields.contains_key("url") {
        let url = url(fields.get("url"))?;
        unique_url(&state, &auth, &url, Some(current.id)).await?;
        patch.url = Some(url);
    }
    if fields.contains_key("subscriptions") {
        let subscriptions = subscriptions(fields.get("subscriptions"))?;
        patch.events = Some(Some(event_types(&subscriptions)));
        patch.subscriptions = Some(Some(subscriptions));
    }
    if fields.contains_key("name") {
        patch.description = Some(name(fields.get("name"))?);
    }
    state
        .roster
        .update_webhook(auth.workspace(), current.id, patch)
        .await?;
    let (webhook, sealed) = own_webhook(&state, &auth, &id).await?;
    Ok(Json(
        json!({"payload": {"webhook": render(&state, &webhook, &sealed)?}}),
    ))
}

pub(super) async fn delete_webhook(
    auth: Auth,
    State(state): State<AppState>,
    PathParams((_, id), _): WebhookPath,
) -> CwResult<()> {
    let (webhook, _) = own_webhook(&state, &auth, &id).await?;
    state
        .roster
        .store()
        .delete_webhook(auth.workspace(), webhook.id)
        .await?;
    Ok(())
}
