//! The operator's view of one contact: every field any dialect can write, with its
//! organizations, labels, inbox links, SalesChat governance, stage and assignment, so
//! what the dialects wrote can be read back in one place.

use axum::extract::State;
pub use roster_core::view::contact_record as render_contact_record;

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
    let record = state
        .roster
        .contact_record(workspace.id, contact_id(&contact)?)
        .await?;
    // The contact's ETag in every dialect is the hash of this view (see `crate::etag`).
    Ok(crate::etag::record(
        axum::http::StatusCode::OK,
        render_contact_record(&record),
    ))
}
