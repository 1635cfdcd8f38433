//! `/admin/v1/workspaces/{workspaceId}/merges`: merging two contacts of any dialect (the
//! rules of Chatwoot's merge: the base keeps its values and takes the mergee's where it has
//! none), previewed first if wanted, and the record of merges.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::domain::ContactId;
use roster_core::error::Resource;
use roster_core::merge::merge_outcome;
use roster_core::model::WriteRules;
use roster_core::view::contact_record;
use roster_core::Error;
use serde_json::{json, Value};

use super::{render_merge, workspace_id, Admin, AdminError, AdminPath, AdminResult};
use crate::body::JsonBody;
use crate::params::PathParams;
use crate::AppState;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeRequest {
    base_contact_id: i64,
    mergee_contact_id: i64,
}

impl MergeRequest {
    /// The base and the mergee: two contacts (an id that is not a positive integer is
    /// no contact).
    pub(crate) fn ids(&self) -> AdminResult<(ContactId, ContactId)> {
        let id =
            |raw: i64| ContactId::new(raw).ok_or(AdminError(Error::NotFound(Resource::Contact)));
        let (base, mergee) = (id(self.base_contact_id)?, id(self.mergee_contact_id)?);
        roster_core::merge::distinct(base, mergee)?;
        Ok((base, mergee))
    }
}

/// The base as the merge leaves it, what moves to it and what conflicts, changing nothing.
pub(crate) async fn outcome(
    state: &AppState,
    workspace: roster_core::domain::WorkspaceId,
    base: ContactId,
    mergee: ContactId,
) -> AdminResult<(Value, Value, Vec<Value>)> {
    let after = state.roster.merge_preview(workspace, base, mergee).await?;
    let base = contact_record(&state.roster.contact_record(workspace, base).await?);
    let mergee = contact_record(&state.roster.contact_record(workspace, mergee).await?);
    let after = contact_record(&after);
    let (moves, conflicts) = merge_outcome(&base, &mergee, &after);
    Ok((after, moves, conflicts))
}

/// `POST …/merges/preview` `{"base_contact_id", "mergee_contact_id"}`: `{"contact"` (the
/// base as the merge would leave it), `"moves"` (what it would take from the mergee),
/// `"conflicts"` (values both hold: the base's is kept, the mergee's dropped)`}`.
pub(super) async fn preview(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<MergeRequest, AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let (base, mergee) = body.ids()?;
    let (contact, moves, conflicts) = outcome(&state, workspace.id, base, mergee).await?;
    Ok(Json(json!({
        "contact": contact,
        "moves": moves,
        "conflicts": conflicts,
    })))
}

/// `POST …/merges`: the same merge, made through the core's write path; 201 with the
/// merge record, the base as it now is, and what moved and conflicted (as previewed just
/// before).
pub(super) async fn merge(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    JsonBody(body, _): JsonBody<MergeRequest, AdminError>,
) -> AdminResult<(StatusCode, Json<Value>)> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let (base, mergee) = body.ids()?;
    let (_, moves, conflicts) = outcome(&state, workspace.id, base, mergee).await?;
    state
        .roster
        .merge_contacts(workspace.id, base, mergee, WriteRules::default())
        .await?;
    let record = state
        .roster
        .store()
        .merges_of(workspace.id, mergee)
        .await?
        .into_iter()
        .rev()
        .find(|merge| merge.base_contact_id == base && merge.mergee_contact_id == mergee)
        .ok_or_else(|| Error::internal("a merge left no record"))?;
    let contact = contact_record(&state.roster.contact_record(workspace.id, base).await?);
    let mut answer = render_merge(&record);
    answer["contact"] = contact;
    answer["moves"] = moves;
    answer["conflicts"] = Value::from(conflicts);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The contact a merged-away contact was merged into, if it was.
pub(super) async fn merged_into(
    state: &AppState,
    workspace: roster_core::domain::WorkspaceId,
    contact: ContactId,
) -> AdminResult<Option<ContactId>> {
    let merges = state.roster.store().merges_of(workspace, contact).await?;
    Ok(merges
        .iter()
        .rev()
        .find(|merge| merge.mergee_contact_id == contact)
        .map(|merge| merge.base_contact_id))
}
