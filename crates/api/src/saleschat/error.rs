//! SalesChat's error body, `{error_code, error_message, error_description, payload}`,
//! numbered HTTP status × 10000 + n:
//!
//! | code    | status | error_message          | when |
//! |---------|--------|------------------------|------|
//! | 4010001 | 401    | UNAUTHORIZED           | no, unknown or revoked key |
//! | 4030001 | 403    | FORBIDDEN              | key of another org, or without the permission |
//! | 4040001 | 404    | NOT_FOUND              | contact, user or group not found |
//! | 4090001 | 409    | UQ_CONSTRAINT_FAILED   | `crm_id` (or another unique field) taken |
//! | 4220001 | 422    | INVALID_INPUT          | a field is missing or invalid (`payload.field` names it) |
//! | 4130001 | 413    | PAYLOAD_TOO_LARGE      | the body is over the limit (`payload.limit_bytes`) |
//! | 4150001 | 415    | UNSUPPORTED_MEDIA_TYPE | a body that is not declared as JSON |
//! | 4290001 | 429    | RATE_LIMITED           | assign within 10 s of the last one (`Retry-After`) |
//! | 5000001 | 500    | INTERNAL_ERROR         | a fault inside Roster |

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::error::{Resource, UniqueField};
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

fn body(status: StatusCode, message: &str, description: String, payload: Value) -> Response {
    let code = u32::from(status.as_u16()) * 10_000 + 1;
    let body = json!({
        "error_code": code,
        "error_message": message,
        "error_description": description,
        "payload": payload,
    });
    (status, Json(body)).into_response()
}

impl IntoResponse for ScError {
    fn into_response(self) -> Response {
        match self.0 {
            Error::Invalid { field, reason } => body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_INPUT",
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
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_INPUT",
                    format!("{field}: {resource} {id:?} does not exist"),
                    json!({ "field": field }),
                )
            }
            Error::NotFound(resource) => body(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
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
                    StatusCode::CONFLICT,
                    "UQ_CONSTRAINT_FAILED",
                    format!("{field}: another contact of this org already has this value"),
                    json!({ "field": field }),
                )
            }
            Error::RateLimited { retry_after_secs } => {
                let mut response = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    format!("a contact can be assigned once per {ASSIGN_INTERVAL_SECS} seconds; retry in {retry_after_secs} s"),
                    json!({ "retry_after_seconds": retry_after_secs }),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
                response
            }
            Error::Unauthenticated => body(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "send a valid API key as Authorization: Bearer <key>".into(),
                json!({}),
            ),
            Error::Forbidden => body(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "this key may not do that in this org".into(),
                json!({}),
            ),
            Error::TooLarge { limit_bytes } => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the request body is larger than the limit of {limit_bytes} bytes"),
                json!({ "limit_bytes": limit_bytes }),
            ),
            Error::UnsupportedMediaType { content_type } => body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("the body must be JSON sent as Content-Type: application/json, not {content_type}"),
                json!({ "field": "Content-Type" }),
            ),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "internal error".into(),
                    json!({}),
                )
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
