//! The SalesChat dialect: five operations on contacts under `/v2/org/{orgId}`,
//! `/v1/orgs/{orgId}`, `/v2/orgs/{orgId}` and `/v3/orgs/{orgId}`, authenticated by
//! `Authorization: Bearer <key>`, errors as `{error_code, error_message, …}`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use roster_core::domain::{ContactId, WorkspaceId};
use roster_core::error::Resource;
use roster_core::model::{Contact, GovernanceLevel, WriteRules};
use roster_core::{Error, Roster};
use serde_json::json;

use crate::auth::{AssignContact, Authorized, CreateContact, Dialect, EditContact, GetContact};
use crate::body::JsonBody;
use crate::etag;
use crate::params::PathParams;
use crate::AppState;

mod error;
mod wire;

pub use error::ScError;
use wire::{ContactOut, FoundContactOut};

pub struct SalesChat;

impl Dialect for SalesChat {
    type Error = ScError;
    const NAME: &'static str = "saleschat";
    const WORKSPACE_PARAM: &'static str = "orgId";

    fn presented_key(headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    }
}

type Auth<P> = Authorized<P, SalesChat>;
type ScResult<T> = Result<T, ScError>;
type ScJson<T> = JsonBody<T, ScError>;
type ScPath = PathParams<(String, String), ScError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/org/{orgId}/contact", post(create_contact))
        .route(
            "/v2/org/{orgId}/contact/pn/{phoneNumber}",
            get(contacts_by_phone),
        )
        .route("/v1/orgs/{orgId}/contact/{contactId}", put(update_contact))
        .route(
            "/v2/orgs/{orgId}/contact/{contactId}/disposition",
            put(update_disposition),
        )
        .route("/v3/orgs/{orgId}/contacts/{contactId}/assign", post(assign))
}

fn contact_id(raw: &str) -> ScResult<ContactId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Contact).into())
}

/// Renders a contact with its governance level and expiry.
fn render(roster: &Roster, contact: Contact, levels: &[GovernanceLevel]) -> ContactOut {
    let level = contact
        .data
        .governance_level_id
        .as_deref()
        .and_then(|id| levels.iter().find(|level| level.id == id));
    let expiry = roster.expiry(&contact, levels);
    let is_expired = roster.is_expired(&contact, levels);
    ContactOut::new(contact, level, expiry, is_expired)
}

async fn create_contact(
    auth: Auth<CreateContact>,
    State(state): State<AppState>,
    JsonBody(body, _): ScJson<wire::CreateContact>,
) -> ScResult<Response> {
    let data = body.into_data()?;
    let (contact, _) = state
        .roster
        .create_contact(auth.workspace(), &data, WriteRules::default(), None)
        .await?;
    let workspace = auth.workspace();
    let tag = etag::created_contact(&state.roster, workspace, &contact, None).await?;
    let levels = state.roster.store().governance_levels(workspace).await?;
    let body = render(&state.roster, contact, &levels);
    Ok(etag::tagged(Json(body), Some(tag)))
}

/// A contact as updated, with its governance, and its ETag.
async fn contact_answer(
    state: &AppState,
    workspace: WorkspaceId,
    contact: Contact,
) -> ScResult<Response> {
    let levels = state.roster.store().governance_levels(workspace).await?;
    let tag = etag::contact(&state.roster, workspace, contact.id).await?;
    let body = render(&state.roster, contact, &levels);
    Ok(etag::tagged(Json(body), tag))
}

async fn update_contact(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): ScPath,
    JsonBody(body, _): ScJson<wire::UpdateContact>,
) -> ScResult<Response> {
    let id = contact_id(&id)?;
    let patch = body.into_patch()?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let update = state
        .roster
        .update_contact(auth.workspace(), id, patch, WriteRules::default());
    let contact = state.roster.unless_changed(expected, update).await?.after;
    contact_answer(&state, auth.workspace(), contact).await
}

async fn update_disposition(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): ScPath,
    JsonBody(body, _): ScJson<wire::UpdateDisposition>,
) -> ScResult<Response> {
    let id = contact_id(&id)?;
    let update = body.into_update()?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let write = state
        .roster
        .set_disposition(auth.workspace(), id, &update, auth.caller.key.id);
    state.roster.unless_changed(expected, write).await?;
    let tag = etag::contact(&state.roster, auth.workspace(), id).await?;
    Ok(etag::tagged(
        Json(json!("Contact disposition updated")),
        tag,
    ))
}

async fn contacts_by_phone(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, phone), _): ScPath,
) -> ScResult<Json<Vec<FoundContactOut>>> {
    let phone = wire::path_phone(&phone)?;
    // A number libphonenumber rejects cannot be stored, so nobody has it.
    let Ok(phone) = roster_core::domain::PhoneE164::parse(phone) else {
        return Ok(Json(Vec::new()));
    };
    let store = state.roster.store();
    let contacts = store.contacts_by_phone(auth.workspace(), &phone).await?;
    let levels = store.governance_levels(auth.workspace()).await?;
    let found = contacts
        .into_iter()
        .map(|contact| {
            let expiry = state.roster.expiry(&contact, &levels);
            let is_expired = state.roster.is_expired(&contact, &levels);
            FoundContactOut::new(contact, expiry, is_expired)
        })
        .collect();
    Ok(Json(found))
}

async fn assign(
    auth: Auth<AssignContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): ScPath,
    JsonBody(body, _): ScJson<wire::Assign>,
) -> ScResult<Response> {
    let id = contact_id(&id)?;
    let request = body.into_request()?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let write = state.roster.assign(auth.workspace(), id, &request);
    let contact = state.roster.unless_changed(expected, write).await?;
    let assignment = contact.data.assignment;
    let body = json!({
        "contact_id": contact.id.to_string(),
        "user_id": assignment.user_id,
        "group_id": assignment.group_id,
        "assign_on_handover": assignment.pending,
    });
    let tag = etag::contact(&state.roster, auth.workspace(), id).await?;
    Ok(etag::tagged((StatusCode::ACCEPTED, Json(body)), tag))
}
