//! The web console at `/console`: a page and its script and styles, embedded in the
//! binary (nothing is fetched from elsewhere), and the console's own API beside the
//! dialects it calls (ChatCaptain's for contacts and organizations, the admin API for the
//! admin token): who the credential is, a contact's whole record, keys, merges, import and
//! export — each for a key within its own workspace and permissions.
//!
//! The credential (a workspace's API key, or the admin token) lives in the tab's
//! `sessionStorage` and travels only in request headers, never in a URL or a cookie: the
//! server logs no header, and a page elsewhere cannot make the browser send it (no CSRF).
//! The page is served with a content security policy that allows only its own script and
//! styles.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use roster_core::actor::{acting, Actor};
use roster_core::domain::ContactId;
use roster_core::error::Resource;
use roster_core::permission::Permission;
use roster_core::service::Caller;
use roster_core::Error;
use serde_json::{json, Value};

use crate::admin::merges::MergeRequest;
use crate::params::PathParams;
use crate::AppState;

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLES: &str = include_str!("../console/console.css");

/// What a contact's history says the console's changes came through.
const VIA: &str = "console";

/// Only the page's own files, no framing, no referrer.
const SECURITY: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

pub fn routes() -> Router<AppState> {
    use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
    // gzip for whoever asks, but not the import report: it streams row by row, and a
    // compressor would hold it back until its buffer fills.
    let compression = tower_http::compression::CompressionLayer::new()
        .compress_when(DefaultPredicate::new().and(NotForContentType::new("application/x-ndjson")));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route(
            "/console",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLES) }),
        )
        .route("/console/api/session", get(session))
        .route("/console/api/contacts/{contactId}", get(contact))
        .route(
            "/console/api/contacts/{contactId}/stage-history",
            get(stage_history),
        )
        .route("/console/api/contacts/{contactId}/history", get(history))
        .route("/console/api/keys", get(list_keys).post(create_key))
        .route("/console/api/imports", axum::routing::post(import))
        .route(
            "/console/api/merges/preview",
            axum::routing::post(merge_preview),
        )
        .route("/console/api/merges", axum::routing::post(merge))
        .route("/console/api/exports/{kind}", get(export))
        .route(
            "/console/api/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/console/api/webhooks/{webhookId}",
            axum::routing::patch(webhooks::update).delete(webhooks::delete),
        )
        .route(
            "/console/api/webhooks/{webhookId}/rotate-secret",
            axum::routing::post(webhooks::rotate),
        )
        .route(
            "/console/api/webhooks/{webhookId}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/console/api/webhooks/{webhookId}/deliveries/{eventId}/redeliver",
            axum::routing::post(webhooks::send_again),
        )
        .route(
            "/console/api/keys/{keyId}",
            axum::routing::delete(revoke_key),
        )
        .layer(compression)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    for (name, value) in SECURITY {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // The files change with the binary: revalidate rather than keep a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A console refusal: `{"error": …}` with the status the core's error maps to.
struct ConsoleError(Error);

impl From<Error> for ConsoleError {
    fn from(err: Error) -> Self {
        ConsoleError(err)
    }
}

impl From<crate::admin::AdminError> for ConsoleError {
    fn from(err: crate::admin::AdminError) -> Self {
        ConsoleError(err.0)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            Error::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "This key is unknown or revoked: sign in again.",
            ),
            Error::Forbidden => (StatusCode::FORBIDDEN, "This key may not do that."),
            // Everything else reads as the admin API words it: `{"error": "field: why."}`.
            other => return crate::admin::AdminError(other).into_response(),
        };
        (status, Json(json!({"error": message}))).into_response()
    }
}

/// The header in which the admin names the workspace it works in.
const WORKSPACE_HEADER: &str = "x-roster-workspace";

/// Who the request comes from: the key it carries (`Authorization: Bearer rk_…`), or the
/// admin token acting in the workspace that `x-roster-workspace` names.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ConsoleError> {
    if crate::admin::carries_admin_token(state, headers) {
        let workspace = headers
            .get(WORKSPACE_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or(Error::invalid(
                WORKSPACE_HEADER,
                "names the workspace the admin works in",
            ))?
            .parse::<roster_core::domain::WorkspaceId>()
            .map_err(|_| Error::NotFound(Resource::Workspace))?;
        let workspace = state.roster.existing_workspace(workspace).await?;
        return Ok(Caller::admin(&workspace));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    Ok(state.roster.authenticate(presented).await?)
}

/// `GET /console/api/session`: the key's workspace, name and what it may do, so the
/// page shows only the controls that would work (the server refuses the rest anyway). The
/// admin token is `{"admin": true}`: the console then manages workspaces and their keys
/// through the admin API.
async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ConsoleError> {
    if crate::admin::carries_admin_token(&state, &headers) {
        let every: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        return Ok(Json(json!({
            "admin": true,
            "workspace": null,
            "key": null,
            "permissions": every,
        })));
    }
    let caller = caller(&state, &headers).await?;
    let workspace = state.roster.existing_workspace(caller.workspace()).await?;
    let allowed: Vec<String> = Permission::ALL
        .iter()
        .filter(|permission| permission.is_granted_by_any(&caller.key.permissions))
        .map(|permission| permission.to_string())
        .collect();
    Ok(Json(json!({
        "admin": false,
        "workspace": {"id": workspace.id.get(), "name": workspace.name},
        "key": {"id": caller.key.id.get(), "name": caller.key.name},
        "permissions": allowed,
    })))
}

/// `GET /console/api/contacts/{contactId}`: the contact's whole record, as the admin API
/// shows it, for a key that may read contacts of its own workspace.
async fn contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id, _): PathParams<String, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let (workspace, id) = reading_contact(&state, &headers, &id).await?;
    let record = state.roster.contact_record(workspace, id).await?;
    Ok(Json(roster_core::view::contact_record(&record)))
}

/// `GET /console/api/contacts/{contactId}/stage-history`: the contact's SalesChat stage
/// moves, oldest first, as the admin API lists them.
async fn stage_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id, _): PathParams<String, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let (workspace, id) = reading_contact(&state, &headers, &id).await?;
    let history = state.roster.store().stage_history(workspace, id).await?;
    Ok(Json(Value::Array(
        history
            .iter()
            .map(crate::admin::render_stage_change)
            .collect(),
    )))
}

/// `GET /console/api/contacts/{contactId}/history`: the contact's latest changes (at most
/// `HISTORY_SHOWN`), newest first, as the admin API's history words them.
async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id, _): PathParams<String, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let (workspace, id) = reading_contact(&state, &headers, &id).await?;
    let store = state.roster.store();
    let mut entries = Vec::new();
    let mut after = 0;
    // Oldest first in the store; the page shows the newest.
    loop {
        let page = store.contact_history(workspace, id, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        entries.extend(page);
        if entries.len() > HISTORY_SHOWN {
            entries.drain(..entries.len() - HISTORY_SHOWN);
        }
    }
    Ok(Json(Value::Array(
        entries.iter().rev().map(|entry| entry.render()).collect(),
    )))
}

/// Changes a contact page lists; the admin API pages through all of them.
const HISTORY_SHOWN: usize = 100;

/// The workspace and contact of a request that reads a contact, by a key that may.
async fn reading_contact(
    state: &AppState,
    headers: &HeaderMap,
    raw: &str,
) -> Result<(roster_core::domain::WorkspaceId, ContactId), ConsoleError> {
    let caller = caller(state, headers).await?;
    holding(&caller, &[Permission::ContactsGet])?;
    Ok((caller.workspace(), contact_id(raw)?))
}

/// A contact id from the path; anything but a positive integer is no contact.
fn contact_id(raw: &str) -> Result<ContactId, ConsoleError> {
    raw.parse::<ContactId>()
        .map_err(|_| Error::NotFound(Resource::Contact).into())
}

/// `Forbidden` unless the key holds every one of `permissions`.
fn holding(caller: &Caller, permissions: &[Permission]) -> Result<(), ConsoleError> {
    match permissions
        .iter()
        .all(|permission| permission.is_granted_by_any(&caller.key.permissions))
    {
        true => Ok(()),
        false => Err(Error::Forbidden.into()),
    }
}

fn managing_keys(caller: &Caller) -> Result<(), ConsoleError> {
    holding(caller, &[Permission::KeysManage])
}

/// `GET /console/api/keys`: the workspace's keys, revoked ones too (never a secret).
async fn list_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ConsoleError> {
    let caller = caller(&state, &headers).await?;
    managing_keys(&caller)?;
    let keys = state.roster.store().api_keys(caller.workspace()).await?;
    Ok(Json(Value::Array(
        keys.iter().map(crate::admin::render_key).collect(),
    )))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    permissions: Vec<String>,
}

/// `POST /console/api/keys` `{"name", "permissions"}`: 201 with the secret, shown only here.
async fn create_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::body::JsonBody(body, _): crate::body::JsonBody<CreateKey, ConsoleError>,
) -> Result<(StatusCode, Json<Value>), ConsoleError> {
    let caller = caller(&state, &headers).await?;
    let issued = state
        .roster
        .issue_key_as(&caller, &body.name, body.permissions)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::admin::render_issued_key(&issued)),
    ))
}

/// `DELETE /console/api/keys/{keyId}`: revokes a key of the workspace; answers it.
async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(id, _): PathParams<String, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let caller = caller(&state, &headers).await?;
    managing_keys(&caller)?;
    let id = id
        .parse::<roster_core::domain::KeyId>()
        .map_err(|_| Error::NotFound(Resource::ApiKey))?;
    let revoked = state.roster.revoke_key(caller.workspace(), id).await?;
    Ok(Json(crate::admin::render_key(&revoked)))
}

/// `POST /console/api/imports?match=…`: a CSV upload imported into the key's workspace,
/// its report streamed back as the admin API's import does (rows create and update
/// contacts, so the key needs both).
async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: crate::params::QueryPairs<ConsoleError>,
    body: axum::body::Body,
) -> Result<Response, ConsoleError> {
    let caller = caller(&state, &headers).await?;
    holding(
        &caller,
        &[Permission::ContactsCreate, Permission::ContactsEdit],
    )?;
    let import =
        crate::transfer::stream_import(&state, caller.workspace(), query.get("match"), body);
    Ok(acting(Actor::caller(&caller, VIA), import).await?)
}

/// `GET /console/api/exports/contacts` (or `organizations`): the workspace's records as
/// a CSV download.
async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(kind, _): PathParams<String, ConsoleError>,
) -> Result<Response, ConsoleError> {
    let caller = caller(&state, &headers).await?;
    let organizations = match kind.as_str() {
        "contacts" => false,
        "organizations" => true,
        _ => return Err(Error::invalid("export", "is contacts or organizations").into()),
    };
    let needed = match organizations {
        true => Permission::OrganizationsList,
        false => Permission::ContactsList,
    };
    holding(&caller, &[needed])?;
    Ok(crate::transfer::export_csv(&state, caller.workspace(), organizations).await?)
}

/// The caller, base and mergee of a merge request by a key that may merge.
async fn merging(
    state: &AppState,
    headers: &HeaderMap,
    body: &MergeRequest,
) -> Result<(Caller, ContactId, ContactId), ConsoleError> {
    let caller = caller(state, headers).await?;
    holding(&caller, &[Permission::ContactsMerge])?;
    let (base, mergee) = body.ids()?;
    Ok((caller, base, mergee))
}

/// `POST /console/api/merges/preview` `{"base_contact_id", "mergee_contact_id"}`: as the
/// admin API's preview, `{"contact", "moves", "conflicts"}`, changing nothing.
async fn merge_preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::body::JsonBody(body, _): crate::body::JsonBody<MergeRequest, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let (caller, base, mergee) = merging(&state, &headers, &body).await?;
    let (contact, moves, conflicts) =
        crate::admin::merges::outcome(&state, caller.workspace(), base, mergee).await?;
    Ok(Json(json!({
        "contact": contact,
        "moves": moves,
        "conflicts": conflicts,
    })))
}

/// `POST /console/api/merges`: folds the mergee into the base through the core's write
/// path (the base keeps its values and takes the mergee's where it has none, as every
/// dialect's merge does) and answers the base's whole record.
async fn merge(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::body::JsonBody(body, _): crate::body::JsonBody<MergeRequest, ConsoleError>,
) -> Result<Json<Value>, ConsoleError> {
    let (caller, base, mergee) = merging(&state, &headers, &body).await?;
    let workspace = caller.workspace();
    let merge = state.roster.merge_contacts(
        workspace,
        base,
        mergee,
        roster_core::model::WriteRules::default(),
    );
    acting(Actor::caller(&caller, VIA), merge).await?;
    let record = state.roster.contact_record(workspace, base).await?;
    Ok(Json(roster_core::view::contact_record(&record)))
}

/// A workspace's webhooks, for a key that may manage them (or the admin): the admin API's
/// answers and rules, in the caller's own workspace.
mod webhooks {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::response::Response;
    use axum::Json;
    use roster_core::domain::WorkspaceId;
    use roster_core::permission::Permission;
    use serde_json::{Map, Value};

    use super::{caller, holding, ConsoleError};
    use crate::admin::webhooks as admin;
    use crate::body::JsonBody;
    use crate::params::{PathParams, QueryPairs};
    use crate::AppState;

    type Result<T> = std::result::Result<T, ConsoleError>;

    async fn managed(state: &AppState, headers: &HeaderMap) -> Result<WorkspaceId> {
        let caller = caller(state, headers).await?;
        holding(&caller, &[Permission::WebhooksManage])?;
        Ok(caller.workspace())
    }

    pub(super) async fn list(
        State(state): State<AppState>,
        headers: HeaderMap,
    ) -> Result<Json<Value>> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::list(&state, workspace).await?)
    }

    pub(super) async fn create(
        State(state): State<AppState>,
        headers: HeaderMap,
        JsonBody(body, _): JsonBody<Map<String, Value>, ConsoleError>,
    ) -> Result<Response> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::create(&state, workspace, body).await?)
    }

    pub(super) async fn update(
        State(state): State<AppState>,
        headers: HeaderMap,
        PathParams(webhook, _): PathParams<String, ConsoleError>,
        JsonBody(body, _): JsonBody<Map<String, Value>, ConsoleError>,
    ) -> Result<Json<Value>> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::update(&state, workspace, &webhook, body).await?)
    }

    pub(super) async fn delete(
        State(state): State<AppState>,
        headers: HeaderMap,
        PathParams(webhook, _): PathParams<String, ConsoleError>,
    ) -> Result<Json<Value>> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::delete(&state, workspace, &webhook).await?)
    }

    pub(super) async fn rotate(
        State(state): State<AppState>,
        headers: HeaderMap,
        PathParams(webhook, _): PathParams<String, ConsoleError>,
    ) -> Result<Response> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::rotate(&state, workspace, &webhook).await?)
    }

    pub(super) async fn deliveries(
        State(state): State<AppState>,
        headers: HeaderMap,
        PathParams(webhook, _): PathParams<String, ConsoleError>,
        query: QueryPairs<ConsoleError>,
    ) -> Result<Json<Value>> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::deliveries(&state, workspace, &webhook, query.get("limit")).await?)
    }

    pub(super) async fn send_again(
        State(state): State<AppState>,
        headers: HeaderMap,
        PathParams((webhook, event), _): PathParams<(String, String), ConsoleError>,
    ) -> Result<Response> {
        let workspace = managed(&state, &headers).await?;
        Ok(admin::send_again(&state, workspace, &webhook, &event).await?)
    }
}
