//! `GET /admin/v1/workspaces/{workspaceId}/events`: the change feed (see
//! `roster_core::feed`).

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use roster_core::feed::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, MAX_WAIT};
use roster_core::Error;
use serde_json::{json, Value};

use super::{workspace_id, Admin, AdminError, AdminPath, AdminResult};
use crate::params::{PathParams, QueryPairs};
use crate::AppState;

/// `?after=<cursor>&limit=<n>&wait=<seconds>`.
pub(super) async fn list_events(
    _: Admin,
    State(state): State<AppState>,
    PathParams(id, _): AdminPath<String>,
    query: QueryPairs<AdminError>,
) -> AdminResult<Json<Value>> {
    let workspace = state.roster.existing_workspace(workspace_id(&id)?).await?;
    let after = query
        .get("after")
        .map_or(Ok(Cursor::default()), Cursor::parse)?;
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                Error::invalid(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let wait = match query.get("wait") {
        None => Duration::ZERO,
        Some(wait) => wait
            .parse::<f64>()
            .ok()
            .filter(|wait| (0.0..=MAX_WAIT.as_secs_f64()).contains(wait))
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                Error::invalid(
                    "wait",
                    format!(
                        "must be a number of seconds from 0 to {}",
                        MAX_WAIT.as_secs()
                    ),
                )
            })?,
    };
    let page = state
        .roster
        .events(workspace.id, after, limit, wait)
        .await?;
    Ok(Json(json!({
        "events": page.events.iter().map(|event| event.render()).collect::<Vec<_>>(),
        "next": page.next.to_string(),
    })))
}
