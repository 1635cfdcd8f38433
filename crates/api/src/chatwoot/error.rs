//! Chatwoot's error bodies, which differ by where the error arises (see
//! `chatwoot-behaviour.md` §2):
//!
//! | status | body | when |
//! |---|---|---|
//! | 401 | `{"errors": ["You need to sign in or sign up before continuing."]}` | no `api_access_token` |
//! | 401 | `{"error": "Invalid Access Token"}` | unknown or revoked token |
//! | 401 | `{"error": "You are not authorized to access this account"}` | token of another account |
//! | 401 | `{"error": "You are not authorized to do this action"}` | token without the permission |
//! | 404 | `{"error": "Resource could not be found"}` | unknown account, contact or inbox |
//! | 422 | `{"message": "Email has already been taken", "attributes": ["email"]}` | validation |
//! | 422 | `{"message": "A contact needs a name, …", "attributes": [...]}` | a create with nothing to identify the contact |
//! | 422 | `{"error": "param is missing or the value is empty: labels"}` | a required parameter is missing |
//! | 422 | `{"error": "Invalid operator. …"}` | a filter that does not parse |
//! | 413 | `{"error": "The request body is larger than the limit of … bytes"}` | body over the limit |
//! | 415 | `{"error": "The body must be JSON sent as Content-Type: application/json, …"}` | a form or text body |
//! | 500 | `{"error": "Internal server error"}` | a fault inside Roster (logged) |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::error::UniqueField;
use roster_core::Error;
use serde_json::{json, Value};

#[derive(Debug)]
pub enum CwError {
    Core(Error),
    /// No `api_access_token` header at all.
    NoCredentials,
    /// A token of another (existing) account.
    NotMember,
    /// A required parameter is missing or empty.
    MissingParam(&'static str),
    /// A 422 with Chatwoot's `{"error": …}` shape (filters, inbox sources).
    Unprocessable(String),
    /// Unique values other contacts hold, by attribute (`email`, `phone_number`,
    /// `identifier`): Chatwoot reports them all in one validation error.
    Taken(Vec<&'static str>),
    /// A create that names nothing to tell the contact apart by, and no inbox.
    Unidentifiable,
}

impl From<Error> for CwError {
    fn from(err: Error) -> Self {
        CwError::Core(err)
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A validation failure the way Rails reports one: full messages and the attributes.
fn invalid(attribute: &str, message: String) -> Response {
    let body = json!({ "message": message, "attributes": [attribute] });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// `phone_number` → `Phone number`, as Rails' `humanize` writes attribute names.
fn humanize(attribute: &str) -> String {
    let spaced = attribute.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

impl IntoResponse for CwError {
    fn into_response(self) -> Response {
        match self {
            CwError::NoCredentials => {
                let body: Value =
                    json!({ "errors": ["You need to sign in or sign up before continuing."] });
                (StatusCode::UNAUTHORIZED, Json(body)).into_response()
            }
            CwError::NotMember => error(
                StatusCode::UNAUTHORIZED,
                "You are not authorized to access this account",
            ),
            CwError::MissingParam(name) => error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("param is missing or the value is empty: {name}"),
            ),
            CwError::Unprocessable(message) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
            CwError::Unidentifiable => {
                let body = json!({
                    "message": "A contact needs a name, email, phone number or identifier (or an inbox_id)",
                    "attributes": ["name", "email", "phone_number", "identifier"],
                });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            CwError::Taken(attributes) => {
                let messages: Vec<String> = attributes
                    .iter()
                    .map(|attribute| format!("{} has already been taken", humanize(attribute)))
                    .collect();
                let body = json!({ "message": messages.join(", "), "attributes": attributes });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            CwError::Core(err) => match err {
                Error::Invalid { field, reason } => {
                    // Nested paths (`custom_attributes.plan`) report their top-level attribute.
                    let attribute = field.split(['.', '[']).next().unwrap_or_default();
                    invalid(attribute, format!("{} {reason}", humanize(attribute)))
                }
                Error::Conflict(field) => {
                    let attribute = match field {
                        UniqueField::Email => "email",
                        UniqueField::ExternalId => "identifier",
                        UniqueField::Phone => "phone_number",
                        UniqueField::SourceId => "source_id",
                        UniqueField::Channel(_) | UniqueField::RecordId => "base",
                    };
                    let message = match field {
                        UniqueField::SourceId => "Source has already been taken".to_owned(),
                        UniqueField::Channel(_) | UniqueField::RecordId => {
                            "A channel identity of this contact is already taken".to_owned()
                        }
                        _ => format!("{} has already been taken", humanize(attribute)),
                    };
                    invalid(attribute, message)
                }
                Error::NotFound(_) => error(StatusCode::NOT_FOUND, "Resource could not be found"),
                Error::UnknownReference { resource, id } => invalid(
                    "base",
                    format!("{} {id} does not exist", humanize(&resource.to_string())),
                ),
                Error::RateLimited { retry_after_secs } => {
                    let retry_after = [(
                        axum::http::header::RETRY_AFTER,
                        retry_after_secs.to_string(),
                    )];
                    (StatusCode::TOO_MANY_REQUESTS, retry_after, "Retry later\n").into_response()
                }
                // What rack-attack, which Chatwoot throttles with, answers.
                Error::OverRateLimit { retry_after_secs } => {
                    let retry_after = [(
                        axum::http::header::RETRY_AFTER,
                        retry_after_secs.to_string(),
                    )];
                    (StatusCode::TOO_MANY_REQUESTS, retry_after, "Retry later\n").into_response()
                }
                Error::IdempotencyKeyReused => {
                    let body = json!({
                        "message": crate::retry::REUSED_SENTENCE,
                        "attributes": [roster_core::idempotency::HEADER],
                    });
                    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
                }
                Error::RequestInProgress => {
                    error(StatusCode::CONFLICT, crate::retry::IN_PROGRESS_SENTENCE)
                }
                Error::PreconditionFailed => error(
                    StatusCode::PRECONDITION_FAILED,
                    crate::etag::CHANGED_SENTENCE,
                ),
                Error::Unauthenticated => error(StatusCode::UNAUTHORIZED, "Invalid Access Token"),
                Error::Forbidden => error(
                    StatusCode::UNAUTHORIZED,
                    "You are not authorized to do this action",
                ),
                Error::TooLarge { limit_bytes } => error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &crate::body::too_large_sentence(limit_bytes),
                ),
                Error::UnsupportedMediaType { content_type } => error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &crate::body::not_json_sentence(&content_type),
                ),
                Error::Internal(message) => {
                    tracing::error!(%message, "chatwoot request failed");
                    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_read_like_rails_messages() {
        assert_eq!(humanize("phone_number"), "Phone number");
        assert_eq!(humanize("email"), "Email");
    }
}
