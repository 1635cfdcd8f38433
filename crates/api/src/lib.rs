//! Roster's HTTP surface. Each dialect is a module that only translates: it parses its
//! wire format into core types, calls the core, and renders the result (and every error)
//! in its own shapes. `admin` is Roster's native API for workspaces and keys.

use std::future::Future;
use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use roster_core::Roster;
use serde_json::json;
use tokio::net::TcpListener;

pub mod admin;
mod auth;
pub mod body;
pub mod chatcaptain;
pub mod chatwoot;
mod console;
pub mod docs;
mod etag;
mod guard;
mod keepalive;
pub mod limits;
mod params;
mod retry;
pub mod saleschat;
pub mod telemetry;
mod transfer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub roster: Roster,
    /// The admin API is enabled only when a token is configured.
    pub admin_token: Option<Arc<str>>,
    pub metrics: telemetry::SharedMetrics,
    /// Work a request started that outlives its response (an import whose client hung
    /// up): the server waits for it before it exits.
    pub tasks: tokio_util::task::TaskTracker,
    /// Per-key request counters (see `limits`).
    pub limits: Arc<limits::RateLimiter>,
}

impl AppState {
    pub fn new(roster: Roster, admin_token: Option<Arc<str>>) -> Self {
        AppState {
            roster,
            admin_token,
            metrics: Arc::default(),
            tasks: tokio_util::task::TaskTracker::new(),
            limits: Arc::default(),
        }
    }

    /// With `limit` for the keys that have none of their own.
    pub fn with_default_rate_limit(
        mut self,
        limit: Option<roster_core::rate_limit::RateLimit>,
    ) -> Self {
        self.limits = Arc::new(limits::RateLimiter::new(limit));
        self
    }
}

/// The whole application: every dialect, the admin API and the health check.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/metrics", get(telemetry::metrics))
        .merge(guarded::<chatcaptain::ChatCaptain>(
            chatcaptain::routes(),
            &state,
        ))
        .merge(guarded::<chatwoot::Chatwoot>(chatwoot::routes(), &state))
        .merge(guarded::<saleschat::SalesChat>(saleschat::routes(), &state))
        .merge(guarded::<guard::AdminGate>(admin::routes(), &state))
        .merge(docs::routes())
        .merge(console::routes())
        // Stated explicitly (it is axum's default): the README and the 413s name it.
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        // Outermost, so every refusal (auth, unknown route, too large) leaves the
        // connection reusable.
        .layer(axum::middleware::from_fn(keepalive::drain_unread_bodies))
        .with_state(state)
}

/// `routes` behind the guard of their API (rate limits, idempotency), for matched routes
/// only: an unknown path is answered as such.
fn guarded<G: guard::Gate>(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        guard::guard::<G>,
    ))
}

async fn unknown_route(method: Method, uri: Uri) -> impl IntoResponse {
    let body = json!({"error": format!("No route for {method} {}.", uri.path())});
    (axum::http::StatusCode::NOT_FOUND, Json(body))
}

async fn method_not_allowed(method: Method, uri: Uri) -> impl IntoResponse {
    let body = json!({"error": format!("{method} is not allowed on {}.", uri.path())});
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, Json(body))
}

/// Serves `app` on an already bound listener until `shutdown` completes, then lets
/// in-flight requests finish. Tests bind port 0 and pass their own shutdown future.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
