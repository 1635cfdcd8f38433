//! CSV import and export over HTTP, for whichever API grants them (the admin API, the
//! console): the upload streams into the import, its report streams back; an export is
//! written to a temporary file first, so memory stays bounded whatever the workspace's size.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use roster_core::actor::{Actor, Who};
use roster_core::domain::WorkspaceId;
use roster_core::Error;
use serde_json::json;

use crate::AppState;

/// Imports a CSV upload (the body, streamed) into a workspace, matching rows to contacts by
/// `matching` (`email,phone,…`; the default order without). The answer streams too: one JSON
/// line per row as batches commit, then `{"summary": …}` — or, if the file turns out
/// unreadable part-way, `{"error": …}` (rows before it are kept). A file that is unreadable
/// from the start (no usable header) is `Invalid("body")`.
pub(crate) async fn stream_import(
    state: &AppState,
    workspace: WorkspaceId,
    matching: Option<&str>,
    body: axum::body::Body,
) -> Result<Response, Error> {
    use futures_util::{StreamExt, TryStreamExt};
    use roster_core::import::MatchKey;
    use roster_transfer::import::{import_csv, summary_json, ImportError};

    let keys = match matching {
        None => MatchKey::DEFAULT_ORDER.to_vec(),
        Some(keys) => keys
            .split(',')
            .map(|key| MatchKey::parse(key).map_err(|reason| Error::invalid("match", reason)))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let upload =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let input = tokio_util::io::SyncIoBridge::new(upload);
    let (lines, mut receiver) = tokio::sync::mpsc::channel::<Result<String, String>>(8);
    let roster = state.roster.clone();
    // The rows' changes are on record as the import's, through the API it came by.
    let actor = Actor {
        who: Who::Import,
        via: roster_core::actor::current().via,
    };
    // Tracked, so a shutdown waits for the import even after its client hung up.
    state.tasks.spawn(roster_core::actor::acting(actor, async move {
        let sender = lines.clone();
        let result = import_csv(roster, workspace, keys, input, move |reports, _| {
            let batch: String = reports
                .iter()
                .map(|r| format!("{}\n", r.to_json()))
                .collect();
            let sender = sender.clone();
            async move {
                // A client that hung up stops hearing; the import itself goes on.
                let _ = sender.send(Ok(batch)).await;
            }
        })
        .await;
        let last = match result {
            Ok(summary) => Ok(format!("{}\n", summary_json(&summary))),
            Err(ImportError::File(reason)) => Err(reason),
            // The details are for the server's log, not the client.
            Err(ImportError::Store(Error::Internal(detail))) => {
                tracing::error!(%detail, "import stopped");
                Err("the import stopped on an internal error (see the server log); the batches reported before this line are kept".to_owned())
            }
            Err(ImportError::Store(err)) => Err(err.to_string()),
        };
        let _ = lines.send(last).await;
    }));
    let first = receiver
        .recv()
        .await
        .unwrap_or_else(|| Err("the import stopped".into()));
    let first = match first {
        Ok(line) => line,
        Err(reason) => return Err(Error::invalid("body", reason)),
    };
    let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let line = match receiver.recv().await? {
            Ok(line) => line,
            Err(reason) => format!("{}\n", json!({ "error": reason })),
        };
        Some((Ok::<_, std::convert::Infallible>(line), receiver))
    });
    let stream = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Every contact (or organization) of the workspace as a CSV download, in the columns an
/// import reads.
pub(crate) async fn export_csv(
    state: &AppState,
    workspace: WorkspaceId,
    organizations: bool,
) -> Result<Response, Error> {
    use roster_transfer::export::{export_contacts, export_organizations, Format};
    use std::io::{Seek, Write};

    let mut file = tempfile::tempfile().map_err(Error::internal)?;
    {
        let out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        let store = state.roster.store();
        match organizations {
            true => export_organizations(store, workspace, Format::Csv, out).await?,
            false => export_contacts(store, workspace, Format::Csv, out).await?,
        };
    }
    file.flush().map_err(Error::internal)?;
    file.rewind().map_err(Error::internal)?;
    let name = match organizations {
        true => "organizations",
        false => "contacts",
    };
    let body = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-{workspace}.csv\""),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}
