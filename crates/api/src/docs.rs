//! API documents served from the binary, so they work without internet access: the
//! admin API's OpenAPI document at `/openapi.json`, the three dialects' contracts under
//! `/openapi/`, and an interactive page at `/docs` that renders any of them and sends
//! requests to this server.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The admin API's OpenAPI document (committed; CI checks it against the routes).
pub const ADMIN_OPENAPI: &str = include_str!("../openapi/admin.json");

/// The dialects' contracts, as copied from `../shared/api` (CI checks they still match).
pub const DIALECT_CONTRACTS: [(&str, &str); 3] = [
    (
        "chatcaptain.json",
        include_str!("../openapi/chatcaptain.json"),
    ),
    ("chatwoot.json", include_str!("../openapi/chatwoot.json")),
    ("saleschat.json", include_str!("../openapi/saleschat.json")),
];

const PAGE: &str = include_str!("../openapi/docs.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(|| async { json(ADMIN_OPENAPI) }))
        .route("/openapi/{name}", get(contract))
        .route(
            "/docs",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
}

fn json(document: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}

async fn contract(Path(name): Path<String>) -> Response {
    match DIALECT_CONTRACTS.iter().find(|(file, _)| *file == name) {
        Some((_, document)) => json(document),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": format!("No document {name}.")})),
        )
            .into_response(),
    }
}
