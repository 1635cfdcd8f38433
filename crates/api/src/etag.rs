//! Strong ETags for the answers that carry one contact or organization, and the
//! preconditions that use them. A record's ETag is a hash of its representation in the
//! dialect (the body its single-record GET answers, or for SalesChat, which has none, the
//! body its writes answer), so it changes exactly when something a client can read of it
//! changes: memberships, labels and inbox links included. `If-None-Match` on a GET is
//! answered by the guard (304); `If-Match` on a write is checked here against the record's
//! current representation, and the version read before that check must still be the
//! record's when the write's transaction runs (`Roster::unless_changed`), so of two
//! clients racing with the same ETag one gets 412.

use std::future::Future;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::domain::{ContactId, WorkspaceId};
use roster_core::error::Resource;
use roster_core::model::{Contact, ContactInbox, RecordKind};
use roster_core::write::Expected;
use roster_core::{Error, Roster};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CHANGED_SENTENCE: &str =
    "If-Match: the record changed since that ETag was read (or does not exist): GET it again and retry";

/// The strong ETag of a representation: a quoted hash of its JSON.
pub fn of(representation: &Value) -> HeaderValue {
    let bytes = serde_json::to_vec(representation).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
}

/// A contact's ETag, the same in every dialect: the hash of everything Roster holds on it
/// (its admin view: every field of every dialect, organizations, labels, inbox links,
/// assignment, stage, expiry), so it changes whenever anything any dialect shows of it
/// does. `None` if it does not exist.
pub async fn contact(
    roster: &Roster,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Option<HeaderValue>, Error> {
    match roster.contact_record(workspace, id).await {
        Ok(record) => Ok(Some(of(&crate::admin::render_contact_record(&record)))),
        Err(Error::NotFound(Resource::Contact)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The ETag of a contact just created (with `link`, its inbox link): the same as
/// [`contact`] answers, read with fewer queries.
pub async fn created_contact(
    roster: &Roster,
    workspace: WorkspaceId,
    created: &Contact,
    link: Option<&ContactInbox>,
) -> Result<HeaderValue, Error> {
    let record = roster.created_record(workspace, created, link).await?;
    Ok(of(&crate::admin::render_contact_record(&record)))
}

/// `If-Match` on a write to contact `id` (see [`if_match`]).
pub async fn contact_precondition(
    roster: &Roster,
    headers: &HeaderMap,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Option<Expected>, Error> {
    let current = || contact(roster, workspace, id);
    if_match(
        headers,
        roster,
        workspace,
        RecordKind::Contact,
        id.get(),
        current,
    )
    .await
}

/// `answer` with `etag`.
pub fn tagged(answer: impl IntoResponse, etag: Option<HeaderValue>) -> Response {
    let mut response = answer.into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `body` as the answer with its own hash as ETag (an organization: ChatCaptain's is its
/// only representation).
pub fn record(status: StatusCode, body: Value) -> Response {
    let etag = of(&body);
    tagged((status, axum::Json(body)), Some(etag))
}

/// The entity tags of a header (`If-Match`, `If-None-Match`); `None` for `*`.
fn tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Option<Vec<String>>> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<String> = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    if tags.iter().any(|tag| tag == "*") {
        return Some(None);
    }
    Some(Some(tags))
}

/// A GET answered 304 when `If-None-Match` names its ETag (compared weakly, as RFC 9110
/// says for this header).
pub fn not_modified(method: &Method, request: &HeaderMap, response: Response) -> Response {
    if method != Method::GET || !response.status().is_success() {
        return response;
    }
    let (Some(current), Some(wanted)) = (
        response.headers().get(header::ETAG).cloned(),
        tags(request, header::IF_NONE_MATCH),
    ) else {
        return response;
    };
    let current = current.to_str().unwrap_or_default().to_owned();
    let matches = match wanted {
        None => true,
        Some(tags) => tags
            .iter()
            .any(|tag| tag.trim_start_matches("W/") == current),
    };
    if !matches {
        return response;
    }
    let mut unchanged = StatusCode::NOT_MODIFIED.into_response();
    unchanged
        .headers_mut()
        .insert(header::ETAG, current.parse().expect("was a header value"));
    unchanged
}

/// Checks a write's `If-Match` against the record's current ETag (`current`, `None` when
/// it does not exist); answers what its transaction must still find, or
/// `PreconditionFailed`. Without the header, `None`: the write is unconditional.
pub async fn if_match<F, Fut>(
    headers: &HeaderMap,
    roster: &Roster,
    workspace: WorkspaceId,
    kind: RecordKind,
    id: i64,
    current: F,
) -> Result<Option<Expected>, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<HeaderValue>, Error>>,
{
    let Some(wanted) = tags(headers, header::IF_MATCH) else {
        return Ok(None);
    };
    // Read before the representation: a write that lands between them fails the check.
    let version = roster
        .record_version(workspace, kind, id)
        .await?
        .ok_or(Error::PreconditionFailed)?;
    if let Some(tags) = wanted {
        // Strong comparison: a weak tag never matches.
        let current = current().await?.ok_or(Error::PreconditionFailed)?;
        let current = current.to_str().unwrap_or_default();
        if !tags.iter().any(|tag| tag == current) {
            return Err(Error::PreconditionFailed);
        }
    }
    Ok(Some(Expected { kind, id, version }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_etag_follows_every_readable_change() {
        let before = json!({"contact": {"id": 1, "labels": ["a"]}});
        let after = json!({"contact": {"id": 1, "labels": ["a", "b"]}});
        assert_eq!(of(&before), of(&before.clone()));
        assert_ne!(of(&before), of(&after));
        assert!(of(&before).to_str().unwrap().starts_with('"'));
    }

    #[test]
    fn a_get_whose_etag_is_named_is_not_modified() {
        let body = json!({"contact": {"id": 1}});
        let etag = of(&body).to_str().unwrap().to_owned();
        for wanted in [
            etag.clone(),
            format!("W/{etag}"),
            "*".into(),
            format!("\"x\", {etag}"),
        ] {
            let answer = not_modified(
                &Method::GET,
                &headers(header::IF_NONE_MATCH, &wanted),
                record(StatusCode::OK, body.clone()),
            );
            assert_eq!(answer.status(), StatusCode::NOT_MODIFIED, "{wanted}");
            assert_eq!(answer.headers()[header::ETAG], etag);
        }
        let other = not_modified(
            &Method::GET,
            &headers(header::IF_NONE_MATCH, "\"other\""),
            record(StatusCode::OK, body),
        );
        assert_eq!(other.status(), StatusCode::OK);
    }
}
