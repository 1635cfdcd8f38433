//! `Idempotency-Key` on the write methods of every API: the first request with a key runs
//! (in a task of its own, so a client that hangs up does not cut it short) and its answer
//! is kept; a retry of the same request gets that answer again, marked
//! `Idempotent-Replayed: true`. See `roster_core::idempotency`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_core::idempotency::{self, Claimed, Lease, StoredResponse, RENEW_EVERY};
use roster_core::{Error, Roster};

use crate::body::MAX_BODY_BYTES;
use crate::AppState;

pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The sentences the dialects' errors use.
pub const REUSED_SENTENCE: &str =
    "Idempotency-Key was already used for a different request (method, path or body): send a new key";
pub const IN_PROGRESS_SENTENCE: &str =
    "Idempotency-Key: the first request with this key is still running; retry when it is done";

/// What a retry replays instead of an answer's body, for an answer that carries a secret
/// (a new API key): the store keeps no secret, so the replay has none.
#[derive(Clone)]
pub struct KeptAs(pub axum::body::Bytes);

/// The answer headers kept for a replay besides status and body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// Whether the request asks for it: a write method with the header.
pub fn wanted(request: &Request) -> bool {
    matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    ) && request.headers().contains_key(KEY_HEADER)
}

/// Runs `request` at most once for its key within `scope` (the caller); errors in `E`, the
/// API's own format.
pub async fn at_most_once<E>(
    state: &AppState,
    scope: &str,
    request: Request,
    next: Next,
) -> Response
where
    E: From<Error> + IntoResponse + Send + 'static,
{
    let raw = request.headers().get(KEY_HEADER).map(HeaderValue::as_bytes);
    let key = match idempotency::parse_key(raw.unwrap_or_default()) {
        Ok(key) => key.to_owned(),
        Err(err) => return E::from(err).into_response(),
    };
    let (parts, body) = request.into_parts();
    // The body is part of what makes a retry "the same request", so it is read here.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let limit_bytes = MAX_BODY_BYTES;
        return E::from(Error::TooLarge { limit_bytes }).into_response();
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |target| target.as_str());
    let fingerprint = idempotency::fingerprint(parts.method.as_str(), target, &bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    let (roster, scope) = (state.roster.clone(), scope.to_owned());
    // From here on the request is the server's: a client that hangs up neither leaves a
    // claimed key without a run nor cuts the run short, so its retry finds the answer.
    // The run's writes are still the sender's.
    let actor = roster_core::actor::current();
    let run = state
        .tasks
        .spawn(roster_core::actor::acting(actor, async move {
            let lease = match roster.claim_key(&scope, &key, &fingerprint).await {
                Ok(Claimed::Run(lease)) => lease,
                Ok(Claimed::Replay(answer)) => return replay(answer),
                Err(err) => return E::from(err).into_response(),
            };
            let handler = next.run(request);
            tokio::pin!(handler);
            let start = tokio::time::Instant::now() + RENEW_EVERY;
            let mut renewals = tokio::time::interval_at(start, RENEW_EVERY);
            let response = loop {
                tokio::select! {
                    response = &mut handler => break response,
                    _ = renewals.tick() => {
                        if let Err(err) = roster.renew_key(&lease).await {
                            tracing::warn!(%err, "could not renew an Idempotency-Key lease");
                        }
                    }
                }
            };
            keep(&roster, &lease, response).await
        }));
    match run.await {
        Ok(response) => response,
        Err(err) => E::from(Error::internal(format!("idempotent request: {err}"))).into_response(),
    }
}

/// Keeps the answer for retries (all but server errors and rate limits, which a retry
/// should meet afresh) and hands it on.
async fn keep(roster: &Roster, lease: &Lease, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(%err, "could not read an answer to keep");
            let _ = roster.release_key(lease).await;
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let worth_keeping = !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS;
    let outcome = if worth_keeping {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let body = match parts.extensions.get::<KeptAs>() {
            Some(KeptAs(redacted)) => redacted.to_vec(),
            None => bytes.to_vec(),
        };
        let answer = StoredResponse {
            status: status.as_u16(),
            headers,
            body,
        };
        roster.keep_answer(lease, &answer).await
    } else {
        roster.release_key(lease).await
    };
    if let Err(err) = outcome {
        tracing::warn!(%err, "could not keep an Idempotency-Key's answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
