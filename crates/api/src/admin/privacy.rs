//! Everything Roster holds about one contact, as one JSON document: what a person asks for
//! when they exercise their right of access (`GET …/contacts/{contactId}/export`, and
//! `roster contact export`).

use roster_core::domain::{ContactId, Timestamp, WorkspaceId};
use roster_core::error::Resource;
use roster_core::{Error, Result, Roster};
use serde_json::{json, Value};

use super::{render_merge, render_stage_change};

/// The contact's record (`null` once it is deleted or merged away), its whole history,
/// its stage history, the merges it took part in and the events still retained about it.
/// `NotFound(Contact)` if the workspace never had it.
pub async fn contact_export(
    roster: &Roster,
    workspace: WorkspaceId,
    contact: ContactId,
) -> Result<Value> {
    let store = roster.store();
    // The history first: it answers whether the contact ever existed.
    let mut history = Vec::new();
    loop {
        let after = history
            .last()
            .map_or(0, |entry: &roster_core::events::HistoryEntry| entry.id);
        let page = store
            .contact_history(workspace, contact, after, 1_000)
            .await?;
        if page.is_empty() {
            break;
        }
        history.extend(page);
    }
    let record = match roster.contact_record(workspace, contact).await {
        Ok(record) => Some(roster_core::view::contact_record(&record)),
        Err(Error::NotFound(Resource::Contact)) => None,
        Err(err) => return Err(err),
    };
    let stages = match store.stage_history(workspace, contact).await {
        Ok(stages) => stages,
        Err(Error::NotFound(Resource::Contact)) => Vec::new(),
        Err(err) => return Err(err),
    };
    let merges: Vec<Value> = store
        .merges_of(workspace, contact)
        .await?
        .iter()
        .map(render_merge)
        .collect();
    let events: Vec<Value> = store
        .contact_events(workspace, contact)
        .await?
        .iter()
        .map(|event| event.render())
        .collect();
    Ok(json!({
        "exported": Timestamp::now().to_rfc3339(),
        "workspace_id": workspace.get(),
        "contact_id": contact.get(),
        "contact": record,
        "history": history.iter().map(|entry| entry.render()).collect::<Vec<_>>(),
        "stage_history": stages.iter().map(render_stage_change).collect::<Vec<_>>(),
        "merges": merges,
        "events": events,
    }))
}
