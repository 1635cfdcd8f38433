//! The operator's view of one contact: every field any dialect can write, with its
//! organizations, labels, inbox links, SalesChat governance, stage and assignment, so
//! what the dialects wrote can be read back in one place.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::error::Resource;
pub use roster_core::view::contact_record as render_contact_record;
use roster_core::Error;
use serde_json::json;

use super::{contact_id, workspace_id, Admin, AdminPath, AdminResult};
use crate::params::PathParams;
use crate::AppState;

/// `GET /admin/v1/workspaces/{workspaceId}/contacts/{contactId}`.
pub(super) async fn show_contact(
    _: Admin,
    State(state): State<AppState>,
    PathParams((id, contact), _): AdminPath<(String, String)>,
) -> AdminResult<axum::response::Response> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let contact = contact_id(&contact)?;
    let record = match state.roster.contact_record(workspace.id, contact).await {
        // A contact merged away: 404, saying where it went.
        Err(Error::NotFound(Resource::Contact)) => {
            return match super::merges::merged_into(&state, workspace.id, contact).await? {
                Some(base) => Ok((
                    StatusCode::NOT_FOUND,
                    Json(json!({
                        "error": format!("contact: was merged into contact {base}"),
                        "merged_into": base.get(),
                    })),
                )
                    .into_response()),
                None => Err(Error::NotFound(Resource::Contact).into()),
            };
        }
        other => other?,
    };
    // The contact's ETag in every dialect is the hash of this view (see `crate::etag`).
    Ok(crate::etag::record(
        StatusCode::OK,
        render_contact_record(&record),
    ))
}
