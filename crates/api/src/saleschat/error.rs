//! SalesChat's error body, `{error_code, error_message, error_description, payload}`, with
//! Roster's stable code of the core error case (`roster_core::error::ERROR_CODES`, numbered
//! HTTP status × 10000 + n):
//!
//! | code    | status | error_message          | when |
//! |---------|--------|------------------------|------|
//! | 4010001 | 401    | UNAUTHORIZED           | no, unknown or revoked key |
//! | 4030001 | 403    | FORBIDDEN              | key of another org, or without the permission |
//! | 4040001 | 404    | NOT_FOUND              | contact, user or group not found |
//! | 4090001 | 409    | UQ_CONSTRAINT_FAILED   | `crm_id` (or another unique field) taken |
//! | 4220001 | 422    | INVALID_INPUT          | a field is missing or invalid (`payload.field` names it) |
//! | 4220002 | 422    | UNKNOWN_REFERENCE      | a governance level, user or group that does not exist |
//! | 4130001 | 413    | PAYLOAD_TOO_LARGE      | the body is over the limit (`payload.limit_bytes`) |
//! | 4150001 | 415    | UNSUPPORTED_MEDIA_TYPE | a body that is not declared as JSON |
//! | 4090002 | 409    | REQUEST_IN_PROGRESS    | the first request with this `Idempotency-Key` still runs |
//! | 4120001 | 412    | PRECONDITION_FAILED    | `If-Match` names a version the contact no longer has |
//! | 4220003 | 422    | IDEMPOTENCY_KEY_REUSED | an `Idempotency-Key` sent before with another request |
//! | 4290001 | 429    | RATE_LIMITED           | assign within 10 s of the last one (`Retry-After`) |
//! | 4290002 | 429    | RATE_LIMIT_EXCEEDED    | over the key's request rate limit (`Retry-After`) |
//! | 5000001 | 500    | INTERNAL_ERROR         | a fault inside Roster |

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::error::{ErrorCode, Resource, UniqueField};
use roster_core::service::ASSIGN_INTERVAL_SECS;
use roster_core::Error;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ScError(pub Error);

impl From<Error> for ScError {
    fn from(err: Error) -> Self {
        ScError(err)
    }
}

/// The body for `code` (Roster's stable code table: `roster_core::error::ERROR_CODES`).
fn body(code: ErrorCode, description: String, payload: Value) -> Response {
    let status = StatusCode::from_u16(code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "error_code": code.number,
        "error_message": code.name,
        "error_description": description,
        "payload": payload,
    });
    (status, Json(body)).into_response()
}

impl IntoResponse for ScError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        match self.0 {
            Error::Invalid { field, reason } => body(
                code,
                format!("{field}: {reason}"),
                json!({ "field": field }),
            ),
            Error::UnknownReference { resource, id } => {
                let field = match resource {
                    Resource::GovernanceLevel => "governance_level_id",
                    Resource::User => "user_id",
                    Resource::Group => "group_id",
                    _ => "id",
                };
                body(
                    code,
                    format!("{field}: {resource} {id:?} does not exist"),
                    json!({ "field": field }),
                )
            }
            Error::NotFound(resource) => body(
                code,
                format!("{} not found", capitalized(&resource.to_string())),
                json!({}),
            ),
            Error::Conflict(field) => {
                let field = match field {
                    UniqueField::ExternalId => "crm_id",
                    UniqueField::Email => "email",
                    UniqueField::Channel(_) => "channel_id",
                    UniqueField::Phone => "phone_number",
                    UniqueField::SourceId => "source_id",
                    UniqueField::RecordId => "id",
                };
                body(
                    code,
                    format!("{field}: another contact of this org already has this value"),
                    json!({ "field": field }),
                )
            }
            Error::RateLimited { retry_after_secs } => {
                let mut response = body(
                    code,
                    format!("a contact can be assigned once per {ASSIGN_INTERVAL_SECS} seconds; retry in {retry_after_secs} s"),
                    json!({ "retry_after_seconds": retry_after_secs }),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
                response
            }
            Error::OverRateLimit { retry_after_secs } => {
                let mut response = body(
                    code,
                    format!("too many requests for this key: retry in {retry_after_secs} s"),
                    json!({ "retry_after_seconds": retry_after_secs }),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
                response
            }
            Error::IdempotencyKeyReused => body(
                code,
                crate::retry::REUSED_SENTENCE.into(),
                json!({ "field": roster_core::idempotency::HEADER }),
            ),
            Error::RequestInProgress => body(
                code,
                crate::retry::IN_PROGRESS_SENTENCE.into(),
                json!({ "field": roster_core::idempotency::HEADER }),
            ),
            Error::PreconditionFailed => body(
                code,
                crate::etag::CHANGED_SENTENCE.into(),
                json!({ "field": "If-Match" }),
            ),
            Error::Unauthenticated => body(
                code,
                "send a valid API key as Authorization: Bearer <key>".into(),
                json!({}),
            ),
            Error::Forbidden => body(
                code,
                "this key may not do that in this org".into(),
                json!({}),
            ),
            Error::TooLarge { limit_bytes } => body(
                code,
                crate::body::too_large_sentence(limit_bytes),
                json!({ "limit_bytes": limit_bytes }),
            ),
            Error::UnsupportedMediaType { content_type } => body(
                code,
                crate::body::not_json_sentence(&content_type),
                json!({ "field": "Content-Type" }),
            ),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                body(code, "internal error".into(), json!({}))
            }
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
