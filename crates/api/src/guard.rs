//! What every API request passes on its way to the handler, as one middleware per API:
//! the key's rate limit, then (for writes that carry one) its `Idempotency-Key`, and on
//! the way back a GET's `If-None-Match`. Limits and keys belong to the sender, so the
//! guard authenticates first and hands the caller on to the handler's `Authorized`
//! extractor; a request it cannot place (no key, a wrong one) goes on to the handler,
//! whose extractor refuses it in the API's own words. The rest of the request runs as the
//! sender's `Actor`, so its writes are on the contacts' history as theirs.

use std::future::Future;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_core::actor::{Actor, Who};
use roster_core::model::ApiKey;
use roster_core::service::Caller;
use roster_core::Error;

use crate::auth::Dialect;
use crate::AppState;

/// Who sends a request, as far as the guard needs to know.
pub struct Sender {
    /// Whose `Idempotency-Key`s these are.
    scope: String,
    /// The API key, for a dialect request (the admin token has none, and no limit).
    caller: Option<Caller>,
    /// Whose the request's writes are, on the contacts' history.
    actor: Actor,
}

/// An API the guard stands before: how it finds the sender, how its errors look.
pub trait Gate: Send + Sync + 'static {
    type Error: From<Error> + IntoResponse + Send + 'static;
    fn sender(state: &AppState, headers: &HeaderMap)
        -> impl Future<Output = Option<Sender>> + Send;
}

impl<D> Gate for D
where
    D: Dialect + Send + Sync + 'static,
    D::Error: Send + 'static,
{
    type Error = D::Error;

    async fn sender(state: &AppState, headers: &HeaderMap) -> Option<Sender> {
        let Some(key) = D::presented_key(headers) else {
            return (D::ADMIN_TOKEN_ACTS && crate::admin::carries_admin_token(state, headers))
                .then(|| AdminGate::sender_of_admin_token(D::NAME));
        };
        let caller = state.roster.authenticate(Some(&key)).await.ok()?;
        Some(Sender {
            scope: format!("key:{}", caller.key.id.get()),
            actor: Actor::caller(&caller, D::NAME),
            caller: Some(caller),
        })
    }
}

/// The admin API: the admin token's requests share one scope.
pub struct AdminGate;

impl Gate for AdminGate {
    type Error = crate::admin::AdminError;

    async fn sender(state: &AppState, headers: &HeaderMap) -> Option<Sender> {
        crate::admin::carries_admin_token(state, headers)
            .then(|| Self::sender_of_admin_token("admin"))
    }
}

impl AdminGate {
    /// The admin token, wherever it is used (`via` the admin API or a dialect): one scope
    /// for its `Idempotency-Key`s, no key and so no rate limit.
    fn sender_of_admin_token(via: &'static str) -> Sender {
        Sender {
            scope: "admin".to_owned(),
            caller: None,
            actor: Actor::new(Who::Admin, via),
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state(state, guard::<ChatCaptain>)`).
pub async fn guard<G: Gate>(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // What the way back needs of the request: a GET's If-None-Match.
    let mut conditions = HeaderMap::new();
    for value in request.headers().get_all(header::IF_NONE_MATCH) {
        conditions.append(header::IF_NONE_MATCH, value.clone());
    }
    let Some(sender) = G::sender(&state, request.headers()).await else {
        return next.run(request).await;
    };
    roster_core::actor::acting(
        sender.actor.clone(),
        guarded::<G>(state, sender, conditions, request, next),
    )
    .await
}

/// The rest of the guard, as the sender's actor.
async fn guarded<G: Gate>(
    state: AppState,
    sender: Sender,
    conditions: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let mut limit_fields = HeaderMap::new();
    if let Some(caller) = &sender.caller {
        if let Some(verdict) = count(&state, &caller.key, &request) {
            if let Some(retry_after_secs) = verdict.retry_after_secs {
                let mut refused =
                    G::Error::from(Error::OverRateLimit { retry_after_secs }).into_response();
                refused.headers_mut().extend(verdict.headers);
                return refused;
            }
            limit_fields = verdict.headers;
        }
        request.extensions_mut().insert(caller.clone());
    }
    let response = if crate::retry::wanted(&request) {
        crate::retry::at_most_once::<G::Error>(&state, &sender.scope, request, next).await
    } else {
        next.run(request).await
    };
    let mut response = crate::etag::not_modified(&method, &conditions, response);
    response.headers_mut().extend(limit_fields);
    response
}

/// Counts the request against its key's limit; the endpoint is its method and route.
fn count(state: &AppState, key: &ApiKey, request: &Request) -> Option<crate::limits::Verdict> {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(request.uri().path(), MatchedPath::as_str);
    let endpoint = format!("{} {route}", request.method());
    state.limits.check(key, &endpoint)
}
