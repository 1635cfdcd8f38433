//! The Chatwoot dialect: Chatwoot's contacts API under `/api/v1/accounts/{account_id}`,
//! authenticated by `api_access_token`, with the real server's wrappers, status codes and
//! error bodies (`../shared/api/chatwoot-behaviour.md`). Where Chatwoot's behaviour is a
//! defect, Roster keeps the wire format and fixes the behaviour; the README lists where.

use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_core::domain::{ContactId, Email, ExternalId, PhoneE164, WorkspaceId, MAX_TEXT_LEN};
use roster_core::error::Resource;
use roster_core::inbox::{contactable_source_id, source_id_for, SourceId};
use roster_core::model::{
    AttributesPatch, Contact, ContactData, ContactInbox, ContactPatch, Inbox, WriteRules,
};
use roster_core::query::ContactQuery;
use roster_core::search::{ExactFirst, SearchRequest};
use roster_core::store::NewContactInbox;
use roster_core::{Error, Store};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::etag;
use crate::params::{PathParams, QueryPairs};
use crate::AppState;

mod auth;
mod error;
mod filter;
mod webhooks;
mod wire;

pub(crate) use auth::Chatwoot;
pub use auth::TOKEN_HEADER;
use auth::*;
pub use error::CwError;
use wire::{ContactBody, Params, PAGE_SIZE};

type CwResult<T> = Result<T, CwError>;

/// Chatwoot keeps one contact per phone number in an account.
const RULES: WriteRules = WriteRules { unique_phone: true };

/// Deepest a search pages (like the ChatCaptain search's limit).
const MAX_SEARCH_DEPTH: u64 = 10_000;

/// Most labels on one contact.
const MAX_LABELS: usize = 100;

pub fn routes() -> Router<AppState> {
    let base = "/api/v1/accounts/{account_id}";
    Router::new()
        .route(
            &format!("{base}/contacts"),
            get(list_contacts).post(create_contact),
        )
        .route(&format!("{base}/contacts/search"), get(search_contacts))
        // `GET /contacts/filter` is Chatwoot's show with id "filter": a 404.
        .route(
            &format!("{base}/contacts/filter"),
            post(filter_contacts).get(show_filter),
        )
        .route(
            &format!("{base}/contacts/{{id}}"),
            get(show_contact)
                .put(update_contact)
                .patch(update_contact)
                .delete(delete_contact),
        )
        .route(
            &format!("{base}/contacts/{{id}}/conversations"),
            get(conversations),
        )
        .route(
            &format!("{base}/contacts/{{id}}/labels"),
            get(labels).post(set_labels),
        )
        .route(
            &format!("{base}/contacts/{{id}}/contact_inboxes"),
            post(link_inbox),
        )
        .route(
            &format!("{base}/contacts/{{id}}/contactable_inboxes"),
            get(contactable_inboxes),
        )
        .route(
            &format!("{base}/contacts/{{id}}/destroy_custom_attributes"),
            post(destroy_custom_attributes),
        )
        .route(&format!("{base}/actions/contact_merge"), post(merge))
        .route(
            &format!("{base}/webhooks"),
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            &format!("{base}/webhooks/{{id}}"),
            axum::routing::patch(webhooks::update_webhook)
                .put(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
}

/// A JSON body; an empty body reads as `{}` (Chatwoot takes fields from the parameters,
/// which may be none at all).
pub struct CwBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CwBody<T> {
    type Rejection = CwError;

    async fn from_request(req: Request, state: &S) -> Result<Self, CwError> {
        let bytes = crate::body::json_bytes(req, state).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        Ok(CwBody(crate::body::parse(bytes)?))
    }
}

type CwQuery = QueryPairs<CwError>;
type CwPath = PathParams<(String, String), CwError>;

fn params(query: CwQuery) -> CwResult<Params> {
    Ok(Params(query.0))
}

/// A path id that does not parse names no contact: 404, as Chatwoot's scoped `find`.
fn contact_id(raw: &str) -> CwResult<ContactId> {
    raw.parse()
        .map_err(|_| Error::NotFound(Resource::Contact).into())
}

async fn existing_contact(
    store: &dyn Store,
    workspace: WorkspaceId,
    raw: &str,
) -> CwResult<Contact> {
    Ok(store
        .contact(workspace, contact_id(raw)?)
        .await?
        .ok_or(Error::NotFound(Resource::Contact))?)
}

/// The inbox links of `contacts`, when the request wants them rendered.
async fn links_for(
    store: &dyn Store,
    workspace: WorkspaceId,
    contacts: &[Contact],
    wanted: bool,
) -> CwResult<Option<Vec<ContactInbox>>> {
    if !wanted {
        return Ok(None);
    }
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id).collect();
    Ok(Some(store.contact_inboxes(workspace, &ids).await?))
}

fn render_all(contacts: &[Contact], links: Option<&[ContactInbox]>) -> Vec<Value> {
    contacts.iter().map(|c| wire::contact(c, links)).collect()
}

/// One page of a list or filter: `meta.count` is the total, as Chatwoot counts it.
async fn list_page(
    store: &dyn Store,
    workspace: WorkspaceId,
    params: &Params,
    mut query: ContactQuery,
    include_inboxes: bool,
) -> CwResult<Json<Value>> {
    query.sort = params.sort();
    query.offset = (params.page() - 1).saturating_mul(u64::from(PAGE_SIZE));
    query.limit = PAGE_SIZE;
    let contacts = store.query_contacts(workspace, &query).await?;
    let count = store.count_contacts(workspace, &query).await?;
    let links = links_for(store, workspace, &contacts, include_inboxes).await?;
    Ok(Json(json!({
        "meta": { "count": count, "current_page": params.current_page() },
        "payload": render_all(&contacts, links.as_deref()),
    })))
}

async fn list_contacts(
    auth: Auth<ListContacts>,
    State(state): State<AppState>,
    query: CwQuery,
) -> CwResult<Json<Value>> {
    let params = params(query)?;
    let wanted = ContactQuery {
        labels: params.all("labels[]"),
        ..ContactQuery::default()
    };
    let include = params.include_contact_inboxes();
    list_page(
        state.roster.store(),
        auth.workspace(),
        &params,
        wanted,
        include,
    )
    .await
}

async fn filter_contacts(
    auth: Auth<ListContacts>,
    State(state): State<AppState>,
    query: CwQuery,
    CwBody(body): CwBody<Value>,
) -> CwResult<Json<Value>> {
    let params = params(query)?;
    let store = state.roster.store();
    let conditions = filter::parse(&body, store, auth.workspace(), state.roster.now()).await?;
    // Rails reads parameters from the query and the body alike; only the string "true"
    // counts as true.
    let include = match body.get("include_contact_inboxes") {
        Some(value) => value.as_str() == Some("true"),
        None => params.include_contact_inboxes(),
    };
    let wanted = ContactQuery {
        conditions,
        ..ContactQuery::default()
    };
    list_page(store, auth.workspace(), &params, wanted, include).await
}

async fn show_filter(_auth: Auth<GetContact>) -> CwError {
    Error::NotFound(Resource::Contact).into()
}

/// Search: Chatwoot users' exact matches (whole email, phone in any format, identifier
/// as typed) first, then Roster's ranked, typo-tolerant matches; 15 per page with
/// `has_more`, and `meta.count` the size of this page, as Chatwoot has it.
async fn search_contacts(
    auth: Auth<ListContacts>,
    State(state): State<AppState>,
    query: CwQuery,
) -> CwResult<Json<Value>> {
    let params = params(query)?;
    let workspace = auth.workspace();
    let store = state.roster.store();
    let q = params.get("q").unwrap_or_default().trim().to_owned();
    let page_size = u64::from(PAGE_SIZE);
    let offset = (params.page() - 1).saturating_mul(page_size);
    let mut found: Vec<Contact> = Vec::new();
    if !q.is_empty() && offset < MAX_SEARCH_DEPTH {
        let exact = exact_matches(store, workspace, &q).await?;
        // One more than a page, to tell whether another follows.
        let plan = ExactFirst::page(exact.len(), offset as usize, (page_size + 1) as usize);
        found.extend_from_slice(&exact[plan.exact.clone()]);
        if plan.ranked_take > 0 {
            let request = SearchRequest {
                query: q,
                page: 1,
                page_size: (plan.ranked_skip + plan.ranked_take).min(MAX_SEARCH_DEPTH as usize)
                    as u32,
                hidden: exact.iter().map(|c| c.id.get()).collect(),
                filters: Vec::new(),
            };
            let page = state
                .roster
                .searchable(workspace)
                .await?
                .search_contacts(workspace, &request)
                .await?;
            found.extend(
                page.hits
                    .into_iter()
                    .skip(plan.ranked_skip)
                    .map(|hit| hit.record),
            );
        }
    }
    let has_more = found.len() as u64 > page_size;
    found.truncate(PAGE_SIZE as usize);
    let links = links_for(store, workspace, &found, params.include_contact_inboxes()).await?;
    Ok(Json(json!({
        "meta": {
            "count": found.len(),
            "current_page": params.current_page(),
            "has_more": has_more,
        },
        "payload": render_all(&found, links.as_deref()),
    })))
}

/// Contacts whose email, phone (any format) or identifier (case-sensitive) is exactly
/// the query.
async fn exact_matches(
    store: &dyn Store,
    workspace: WorkspaceId,
    q: &str,
) -> CwResult<Vec<Contact>> {
    let email = q.contains('@').then(|| Email::parse(q).ok()).flatten();
    let external_id = ExternalId::parse(q).ok();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let phone = if phone_like && digits.len() >= 6 {
        wire::phone(q)
            .or_else(|_| wire::phone(&format!("+{digits}")))
            .ok()
    } else {
        None
    };
    if email.is_none() && external_id.is_none() && phone.is_none() {
        return Ok(Vec::new());
    }
    Ok(store
        .contacts_matching_exactly(
            workspace,
            email.as_ref(),
            external_id.as_ref(),
            phone.as_ref(),
        )
        .await?)
}

async fn create_contact(
    auth: Auth<CreateContact>,
    State(state): State<AppState>,
    CwBody(mut body): CwBody<ContactBody>,
) -> CwResult<Response> {
    let workspace = auth.workspace();
    let store = state.roster.store();
    let link = std::mem::take(&mut body.link);
    let inbox_id = wire::id_value(link.inbox_id.as_ref());
    let source_id = source_id_param(link.source_id)?;
    let data = body.into_data()?;
    // Chatwoot would store a blank contact; one nobody can find or reach helps no one.
    if inbox_id.is_none() && !data.is_identifiable() {
        return Err(CwError::Unidentifiable);
    }
    let link = match inbox_id {
        None => None,
        Some(id) => {
            let inbox = id.ok().and_then(|id| (id > 0).then_some(id));
            let inbox = match inbox {
                Some(id) => store.inbox(workspace, id).await?,
                None => None,
            }
            .ok_or(Error::NotFound(Resource::Inbox))?;
            let source_id = match source_id {
                Some(source_id) => source_id,
                None => generated_source_id(&inbox, &data)?,
            };
            Some(NewContactInbox {
                inbox_id: inbox.id,
                source_id,
            })
        }
    };
    let (contact, linked) = match state
        .roster
        .create_contact(workspace, &data, RULES, link.as_ref())
        .await
    {
        Err(Error::Conflict(field)) => {
            let wanted = (
                data.email.as_ref(),
                data.phone.as_ref(),
                data.external_id.as_ref(),
            );
            return Err(every_conflict(store, workspace, None, wanted, field).await);
        }
        other => other?,
    };
    let links: Vec<ContactInbox> = linked.iter().cloned().collect();
    let contact_inbox = match &linked {
        Some(link) => json!({
            "inbox": wire::inbox_record(&link.inbox, workspace),
            "source_id": link.source_id,
        }),
        None => json!({ "inbox": null, "source_id": null }),
    };
    let body = json!({
        "payload": {
            "contact": wire::contact(&contact, Some(&links)),
            "contact_inbox": contact_inbox,
        }
    });
    let tag = etag::created_contact(&state.roster, workspace, &contact, linked.as_ref()).await?;
    Ok(etag::tagged(Json(body), Some(tag)))
}

/// An explicit `source_id`: used as sent, within Chatwoot's column limit.
fn source_id_param(sent: Option<Option<String>>) -> CwResult<Option<String>> {
    match sent.flatten() {
        None => Ok(None),
        Some(source) if source.trim().is_empty() => Ok(None),
        Some(source) if source.chars().count() > MAX_TEXT_LEN => Err(Error::invalid(
            "source_id",
            format!("is too long (maximum is {MAX_TEXT_LEN} characters)"),
        )
        .into()),
        Some(source) => Ok(Some(source)),
    }
}

/// The `source_id` Chatwoot derives for a contact in an inbox it was not given one for.
fn generated_source_id(inbox: &Inbox, contact: &ContactData) -> CwResult<String> {
    match source_id_for(inbox.channel, contact) {
        SourceId::Derived(id) => Ok(id),
        SourceId::Random => Ok(uuid::Uuid::new_v4().to_string()),
        SourceId::Missing("email") => Err(CwError::MissingParam("contact email")),
        SourceId::Missing(_) => Err(CwError::MissingParam("contact phone_number")),
        // Chatwoot raises (a 500) here; the client can say which id it means.
        SourceId::NotDerivable => Err(Error::invalid(
            "source_id",
            format!("must be given for {} inboxes", inbox.channel.as_str()),
        )
        .into()),
    }
}

async fn show_contact(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
    query: CwQuery,
) -> CwResult<Response> {
    let params = params(query)?;
    let store = state.roster.store();
    let contact = existing_contact(store, auth.workspace(), &id).await?;
    let links = links_for(
        store,
        auth.workspace(),
        std::slice::from_ref(&contact),
        params.include_contact_inboxes(),
    )
    .await?;
    let body = json!({ "payload": wire::contact(&contact, links.as_deref()) });
    let tag = etag::contact(&state.roster, auth.workspace(), contact.id).await?;
    Ok(etag::tagged(Json(body), tag))
}

async fn update_contact(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CwPath,
    query: CwQuery,
    CwBody(body): CwBody<ContactBody>,
) -> CwResult<Response> {
    let params = params(query)?;
    let id = contact_id(&id)?;
    let patch = body.into_patch()?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let include_inboxes = params.include_contact_inboxes();
    save_patch(
        &state,
        auth.workspace(),
        id,
        patch,
        include_inboxes,
        expected,
    )
    .await
}

/// After a write failed on one taken value: every value of `wanted` (email, phone,
/// identifier) another contact holds, as Chatwoot reports them together. Read after the
/// failed write, for the message only; the store's own answer stands if nothing is found.
async fn every_conflict(
    store: &dyn Store,
    workspace: WorkspaceId,
    except: Option<ContactId>,
    (email, phone, identifier): (Option<&Email>, Option<&PhoneE164>, Option<&ExternalId>),
    first: roster_core::error::UniqueField,
) -> CwError {
    use roster_core::error::UniqueField;
    if !matches!(
        first,
        UniqueField::Email | UniqueField::Phone | UniqueField::ExternalId
    ) {
        return Error::Conflict(first).into();
    }
    let mut taken = Vec::new();
    let checks = [
        (
            "email",
            store
                .contacts_matching_exactly(workspace, email, None, None)
                .await,
        ),
        (
            "phone_number",
            store
                .contacts_matching_exactly(workspace, None, None, phone)
                .await,
        ),
        (
            "identifier",
            store
                .contacts_matching_exactly(workspace, None, identifier, None)
                .await,
        ),
    ];
    for (attribute, holders) in checks {
        let held = match holders {
            Ok(holders) => holders.iter().any(|holder| Some(holder.id) != except),
            Err(err) => return err.into(),
        };
        let asked = match attribute {
            "email" => email.is_some(),
            "phone_number" => phone.is_some(),
            _ => identifier.is_some(),
        };
        if asked && held {
            taken.push(attribute);
        }
    }
    if taken.is_empty() {
        Error::Conflict(first).into()
    } else {
        CwError::Taken(taken)
    }
}

/// Applies a patch and answers `{"payload": contact}`.
async fn save_patch(
    state: &AppState,
    workspace: WorkspaceId,
    id: ContactId,
    patch: ContactPatch,
    include_inboxes: bool,
    expected: Option<roster_core::write::Expected>,
) -> CwResult<Response> {
    let store = state.roster.store();
    let wanted = (
        patch.email.as_set().cloned(),
        patch.phone.as_set().cloned(),
        patch.external_id.as_set().cloned(),
    );
    let update = state.roster.update_contact(workspace, id, patch, RULES);
    let contact = match state.roster.unless_changed(expected, update).await {
        Err(Error::Conflict(field)) => {
            let wanted = (wanted.0.as_ref(), wanted.1.as_ref(), wanted.2.as_ref());
            return Err(every_conflict(store, workspace, Some(id), wanted, field).await);
        }
        other => other?.after,
    };
    let links = links_for(
        store,
        workspace,
        std::slice::from_ref(&contact),
        include_inboxes,
    )
    .await?;
    let body = json!({ "payload": wire::contact(&contact, links.as_deref()) });
    let tag = etag::contact(&state.roster, workspace, id).await?;
    Ok(etag::tagged(Json(body), tag))
}

/// A required body parameter holding a list of strings.
fn string_list(body: &Value, name: &'static str, reason: &str) -> CwResult<Vec<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Err(CwError::MissingParam(name)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| Error::invalid(name, reason).into()),
        Some(_) => Err(Error::invalid(name, reason).into()),
    }
}

/// `{"custom_attributes": ["k1", "k2"]}` removes those keys.
async fn destroy_custom_attributes(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
    CwBody(body): CwBody<Value>,
) -> CwResult<Response> {
    let id = contact_id(&id)?;
    let keys = string_list(
        &body,
        "custom_attributes",
        "must be a list of attribute keys",
    )?;
    let patch = ContactPatch {
        custom_attributes: AttributesPatch::Remove(keys),
        ..ContactPatch::default()
    };
    save_patch(&state, auth.workspace(), id, patch, true, None).await
}

/// 200 with an empty body, as Chatwoot's `head :ok`.
async fn delete_contact(
    auth: Auth<DeleteContact>,
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams((_, id), _): CwPath,
) -> CwResult<()> {
    let id = contact_id(&id)?;
    let expected =
        etag::contact_precondition(&state.roster, &headers, auth.workspace(), id).await?;
    let delete = state.roster.delete_contact(auth.workspace(), id);
    state.roster.unless_changed(expected, delete).await?;
    Ok(())
}

/// Roster keeps no conversations: every contact has none.
async fn conversations(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
) -> CwResult<Json<Value>> {
    existing_contact(state.roster.store(), auth.workspace(), &id).await?;
    Ok(Json(json!({ "payload": [] })))
}

async fn labels(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
) -> CwResult<Json<Value>> {
    let store = state.roster.store();
    let contact = existing_contact(store, auth.workspace(), &id).await?;
    let labels: Vec<String> = store
        .labels(auth.workspace(), &[contact.id])
        .await?
        .into_iter()
        .map(|(_, label)| label)
        .collect();
    Ok(Json(json!({ "payload": labels })))
}

/// `{"labels": [...]}` replaces the contact's labels.
async fn set_labels(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
    CwBody(body): CwBody<Value>,
) -> CwResult<Json<Value>> {
    let id = contact_id(&id)?;
    let labels: Vec<String> = string_list(&body, "labels", "must be a list of strings")?
        .iter()
        .map(|label| label.trim().to_owned())
        .collect();
    if labels.len() > MAX_LABELS {
        return Err(
            Error::invalid("labels", format!("are too many (maximum is {MAX_LABELS})")).into(),
        );
    }
    if let Some(bad) = labels
        .iter()
        .find(|label| label.is_empty() || label.chars().count() > MAX_TEXT_LEN)
    {
        return Err(Error::invalid(
            "labels",
            format!("must be 1 to {MAX_TEXT_LEN} characters each ({bad:?} is not)"),
        )
        .into());
    }
    let labels = state
        .roster
        .set_labels(auth.workspace(), id, &labels)
        .await?;
    Ok(Json(json!({ "payload": labels })))
}

/// `{"inbox_id", "source_id"?}` links the contact to an inbox; answers the bare link.
async fn link_inbox(
    auth: Auth<EditContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
    CwBody(body): CwBody<wire::InboxLink>,
) -> CwResult<Json<Value>> {
    let workspace = auth.workspace();
    let store = state.roster.store();
    let contact = existing_contact(store, workspace, &id).await?;
    let inbox_id = match wire::id_value(body.inbox_id.as_ref()) {
        None => return Err(CwError::MissingParam("inbox_id")),
        Some(Ok(id)) if id > 0 => id,
        Some(_) => return Err(Error::NotFound(Resource::Inbox).into()),
    };
    let inbox = store
        .inbox(workspace, inbox_id)
        .await?
        .ok_or(Error::NotFound(Resource::Inbox))?;
    let source_id = match source_id_param(body.source_id)? {
        Some(source_id) => source_id,
        None => generated_source_id(&inbox, &contact.data)?,
    };
    let link = NewContactInbox {
        inbox_id,
        source_id,
    };
    let linked = state
        .roster
        .link_inbox(workspace, contact.id, &link)
        .await?;
    Ok(Json(wire::contact_inbox(&linked.inbox, &linked.source_id)))
}

/// The inboxes a conversation with the contact could start in, each with the source id
/// it would use (Chatwoot's `ContactableInboxesService`).
async fn contactable_inboxes(
    auth: Auth<GetContact>,
    State(state): State<AppState>,
    PathParams((_, id), _): CwPath,
) -> CwResult<Json<Value>> {
    let workspace = auth.workspace();
    let store = state.roster.store();
    let contact = existing_contact(store, workspace, &id).await?;
    let links = store.contact_inboxes(workspace, &[contact.id]).await?;
    let latest_link = |inbox: &Inbox| {
        links
            .iter()
            .filter(|link| link.inbox.id == inbox.id)
            .max_by_key(|link| link.created)
            .map(|link| link.source_id.clone())
    };
    let mut payload = Vec::new();
    for inbox in store.inboxes(workspace).await? {
        let latest = latest_link(&inbox);
        if let Some(source_id) =
            contactable_source_id(inbox.channel, &contact.data, latest.as_deref())
        {
            payload.push(wire::contact_inbox(&inbox, &source_id));
        }
    }
    Ok(Json(json!({ "payload": payload })))
}

/// `{"base_contact_id", "mergee_contact_id"}`: the mergee is folded into the base and
/// deleted; the answer is the bare base contact.
async fn merge(
    auth: Auth<MergeContacts>,
    State(state): State<AppState>,
    CwBody(body): CwBody<Value>,
) -> CwResult<Response> {
    let id = |name: &'static str| -> CwResult<ContactId> {
        match wire::id_value(body.get(name)) {
            None => Err(CwError::MissingParam(name)),
            Some(Ok(id)) => {
                ContactId::new(id).ok_or_else(|| Error::NotFound(Resource::Contact).into())
            }
            Some(Err(())) => Err(Error::NotFound(Resource::Contact).into()),
        }
    };
    let (base, mergee) = (id("base_contact_id")?, id("mergee_contact_id")?);
    let merged = state
        .roster
        .merge_contacts(auth.workspace(), base, mergee, RULES)
        .await?;
    let tag = etag::contact(&state.roster, auth.workspace(), merged.id).await?;
    Ok(etag::tagged(Json(wire::contact(&merged, None)), tag))
}
