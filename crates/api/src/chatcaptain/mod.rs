//! The ChatCaptain dialect: contacts and organizations under `/v1/chatbots/{chatbotId}`,
//! authenticated by `x-chatcaptain-key`, errors as `{"error": "…"}`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use roster_core::domain::{ContactId, OrganizationId, WorkspaceId};
use roster_core::error::Resource;
use roster_core::model::{Contact, Organization, RecordKind, WriteRules};
use roster_core::write::Expected;
use roster_core::Error;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::etag;
use crate::params::{PathParams, QueryPairs};
use crate::AppState;

mod auth;
mod error;
mod search;
mod wire;

pub(crate) use auth::ChatCaptain;
pub use auth::KEY_HEADER;
use auth::*;
pub use error::CcError;
use wire::{ContactOut, OrganizationOut};

type CcResult<T> = Result<T, CcError>;
type CcJson<T> = JsonBody<T, CcError>;
type CcPath = PathParams<(String, String), CcError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/chatbots/{chatbotId}/contacts/search",
            get(search_contacts),
        )
        .route(
            "/v1/chatbots/{chatbotId}/organizations/search",
            get(search_organizations),
        )
        .route(
            "/v1/chatbots/{chatbotId}/contacts",
            get(list_contacts).post(create_contact),
        )
        .route(
            "/v1/chatbots/{chatbotId}/contacts/{contactId}",
            get(get_contact)
                .patch(update_contact)
                .delete(delete_contact),
        )
        .route(
            "/v1/chatbots/{chatbotId}/contacts/{contactId}/organizations",
            get(contact_organizations),
        )
        .route(
            "/v1/chatbots/{chatbotId}/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/v1/chatbots/{chatbotId}/organizations/{organizationId}",
            get(get_organization)
                .patch(update_organization)
                .delete(delete_organization),
        )
        .route(
            "/v1/chatbots/{chatbotId}/organizations/{organizationId}/contacts",
            get(organization_contacts),
        )
        .route(
            "/v1/chatbots/{chatbotId}/organizations/{organizationId}/contacts/count",
            get(count_organization_contacts),
        )
}

/// A path id that does not parse cannot name an existing record: 404, like a missing one.
fn contact_id(raw: &str) -> CcResult<ContactId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Contact).into())
}

fn organization_id(raw: &str) -> CcResult<OrganizationId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Organization).into())
}

/// The query parameters by name (the last of a repeated name wins).
fn query_params(query: QueryPairs<CcError>) -> CcResult<HashMap<String, String>> {
    Ok(query.0.into_iter().collect())
}

async fn list_contacts(
    auth: Auth<ListContacts>,
    State(state): State<AppState>,
    query: QueryPairs<CcError>,
) -> CcResult<Json<Value>> {
    let page = wire::page(&query_params(query)?)?;
    let contacts = state
        .roster
        .store()
        .contacts(auth.workspace(), page)
        .await?;
    let contacts: Vec<ContactOut> = contacts.into_iter().map(ContactOut::from).collect();
    Ok(Json(json!({ "contacts": contacts })))
}

async fn create_contact(
    auth: Auth<CreateContact>,
    State(state): State<AppState>,
    JsonBody(body, _): CcJson<wire::CreateContact>,
) -> CcResult<Response> {
    let data = body.into_data()?;
    let (contact, _) = state
        .roster
        .create_contact(auth.workspace(), &data, WriteRules::default(), None)
        .await?;
    let tag = etag::created_contact(&state.roster, auth.workspace(), &contact, None).await?;
    Ok(etag::tagged(
        (StatusCode::CREATED, Json(contact_body(contact))),
        Some(tag),
    ))
}

/// A contact's representation: what its GET, create and update answer.
fn contact_body(contact: Contact) -> Value {
    json!({ "contact": ContactOut::from(contact) })
}

fn organization_body(organization: Organization) -> Value {
    json!({ "organization": OrganizationOut::from(organization) })
}

/// A contact as created, read or updated, with its ETag.
async fn contact_answer(
    state: &AppState,
    workspace: WorkspaceId,
    status: StatusCode,
    contact: Contact,
) -> CcResult<Response> {
    let tag = etag::contact(&state.roster, workspace, contact.id).await?;
    Ok(etag::tagged((status, Json(contact_body(contact))), tag))
}

async fn organization_precondition(
    state: &AppState,
    headers: &HeaderMap,
    workspace: WorkspaceId,
    id: OrganizationId,
) -> CcResult<Option<Expected>> {
    let current = || async {
        let organization = state.roster.store().organization(workspace, id).await?;
        Ok(organization.map(|organization| etag::of(&organization_body(organization))))
    };
    let kind = RecordKind::Organization;
    Ok(etag::if_match(headers, &state.roster, workspace, kind, id.get(), current).await?)
}

async fn get_contact(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CcPath,
) -> CcResult<Response> {
    let contact = state
        .roster
        .store()
        .contact(auth.workspace(), contact_id(&id)?)
        .await?
        .ok_or(Error::NotFound(Resource::Contact))?;
    contact_answer(&state, auth.workspace(), StatusCode::OK, contact).await
}

async fn update_contact(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CcPath,
    JsonBody(body, _): CcJson<wire::UpdateContactBody>,
) -> CcResult<Response> {
    let id = contact_id(&id)?;
    let patch = body.into_patch()?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let update = state
        .roster
        .update_contact(auth.workspace(), id, patch, WriteRules::default());
    let contact = state.roster.unless_changed(expected, update).await?.after;
    contact_answer(&state, auth.workspace(), StatusCode::OK, contact).await
}

async fn delete_contact(
    auth: Auth<DeleteContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CcPath,
) -> CcResult<Json<Value>> {
    let id = contact_id(&id)?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let delete = state.roster.delete_contact(auth.workspace(), id);
    state.roster.unless_changed(expected, delete).await?;
    Ok(Json(json!({ "deleted": true })))
}

async fn contact_organizations(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CcPath,
) -> CcResult<Json<Value>> {
    let organizations = state
        .roster
        .store()
        .contact_organizations(auth.workspace(), contact_id(&id)?)
        .await?;
    let organizations: Vec<OrganizationOut> = organizations
        .into_iter()
        .map(OrganizationOut::from)
        .collect();
    Ok(Json(json!({ "organizations": organizations })))
}

async fn list_organizations(
    auth: Auth<ListOrganizations>,
    State(state): State<AppState>,
    query: QueryPairs<CcError>,
) -> CcResult<Json<Value>> {
    let page = wire::page(&query_params(query)?)?;
    let organizations = state
        .roster
        .store()
        .organizations(auth.workspace(), page)
        .await?;
    let organizations: Vec<OrganizationOut> = organizations
        .into_iter()
        .map(OrganizationOut::from)
        .collect();
    Ok(Json(json!({ "organizations": organizations })))
}

async fn create_organization(
    auth: Auth<CreateOrganization>,
    State(state): State<AppState>,
    JsonBody(body, _): CcJson<wire::CreateOrganization>,
) -> CcResult<Response> {
    let data = body.into_data()?;
    let organization = state
        .roster
        .create_organization(auth.workspace(), &data)
        .await?;
    Ok(etag::record(
        StatusCode::CREATED,
        organization_body(organization),
    ))
}

async fn get_organization(
    auth: Auth<GetOrganization>,
    State(state): State<AppState>,
    PathParams((_, id), _): CcPath,
) -> CcResult<Response> {
    let organization = state
        .roster
        .store()
        .organization(auth.workspace(), organization_id(&id)?)
        .await?
        .ok_or(Error::NotFound(Resource::Organization))?;
    Ok(etag::record(
        StatusCode::OK,
        organization_body(organization),
    ))
}

async fn update_organization(
    auth: Auth<EditOrganization>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CcPath,
    JsonBody(body, _): CcJson<wire::UpdateOrganizationBody>,
) -> CcResult<Response> {
    let id = organization_id(&id)?;
    let patch = body.into_patch()?;
    let expected = organization_precondition(&state, &headers, auth.workspace(), id).await?;
    let update = state
        .roster
        .update_organization(auth.workspace(), id, patch);
    let organization = state.roster.unless_changed(expected, update).await?.after;
    Ok(etag::record(
        StatusCode::OK,
        organization_body(organization),
    ))
}

async fn delete_organization(
    auth: Auth<DeleteOrganization>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CcPath,
) -> CcResult<Json<Value>> {
    let id = organization_id(&id)?;
    let expected = organization_precondition(&state, &headers, auth.workspace(), id).await?;
    let delete = state.roster.delete_organization(auth.workspace(), id);
    state.roster.unless_changed(expected, delete).await?;
    Ok(Json(json!({ "deleted": true })))
}

async fn organization_contacts(
    auth: Auth<ListOrganizationContacts>,
    State(state): State<AppState>,
    PathParams((_, id), _): CcPath,
    query: QueryPairs<CcError>,
) -> CcResult<Json<Value>> {
    let id = organization_id(&id)?;
    let page = wire::page(&query_params(query)?)?;
    let contacts = state
        .roster
        .store()
        .organization_contacts(auth.workspace(), id, page)
        .await?;
    let contacts: Vec<ContactOut> = contacts.into_iter().map(ContactOut::from).collect();
    Ok(Json(json!({ "contacts": contacts })))
}

async fn count_organization_contacts(
    auth: Auth<ListOrganizationContacts>,
    State(state): State<AppState>,
    PathParams((_, id), _): CcPath,
) -> CcResult<Json<Value>> {
    let count = state
        .roster
        .store()
        .count_organization_contacts(auth.workspace(), organization_id(&id)?)
        .await?;
    Ok(Json(json!({ "count": count })))
}

async fn search_contacts(
    auth: Auth<ListContacts>,
    State(state): State<AppState>,
    query: QueryPairs<CcError>,
) -> CcResult<Json<search::SearchResults<ContactOut>>> {
    let request = search::search_request(&query_params(query)?, &search::CONTACT_FILTERS)?;
    let page = state
        .roster
        .searchable(auth.workspace())
        .await?
        .search_contacts(auth.workspace(), &request)
        .await?;
    Ok(Json(search::search_results(
        page,
        "contact",
        ContactOut::from,
    )))
}

async fn search_organizations(
    auth: Auth<ListOrganizations>,
    State(state): State<AppState>,
    query: QueryPairs<CcError>,
) -> CcResult<Json<search::SearchResults<OrganizationOut>>> {
    let request = search::search_request(&query_params(query)?, &search::ORGANIZATION_FILTERS)?;
    let page = state
        .roster
        .searchable(auth.workspace())
        .await?
        .search_organizations(auth.workspace(), &request)
        .await?;
    Ok(Json(search::search_results(
        page,
        "organization",
        OrganizationOut::from,
    )))
}
