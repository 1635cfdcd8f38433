//! ChatCaptain's error body: `{"error": "<sentence>"}` with the status the contract uses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::error::{Resource, UniqueField};
use roster_core::model::Channel;
use roster_core::Error;
use serde_json::json;

/// A core error on its way to a ChatCaptain client.
#[derive(Debug)]
pub struct CcError(pub Error);

impl From<Error> for CcError {
    fn from(err: Error) -> Self {
        CcError(err)
    }
}

/// ChatCaptain's name for a channel id field.
pub(crate) fn channel_field(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsappId",
        Channel::Telegram => "telegramId",
        Channel::Facebook => "facebookId",
        Channel::Instagram => "instagramId",
        Channel::Web => "webId",
        Channel::Provider => "providerId",
    }
}

impl IntoResponse for CcError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            Error::Invalid { field, reason } => {
                (StatusCode::BAD_REQUEST, format!("{field}: {reason}."))
            }
            Error::NotFound(resource) => (StatusCode::NOT_FOUND, not_found(resource).to_owned()),
            Error::UnknownReference { resource, id } => (
                StatusCode::BAD_REQUEST,
                match resource {
                    Resource::Organization => {
                        format!("organizationIds: organization {id} does not exist.")
                    }
                    other => format!("{other} {id} does not exist."),
                },
            ),
            Error::Conflict(field) => {
                let field = match field {
                    UniqueField::Email => "email",
                    UniqueField::ExternalId => "externalId",
                    UniqueField::Channel(channel) => channel_field(channel),
                    UniqueField::Phone => "phoneNumber",
                    UniqueField::SourceId => "sourceId",
                    UniqueField::RecordId => "id",
                };
                (
                    StatusCode::CONFLICT,
                    format!("{field} is already used by another contact."),
                )
            }
            Error::RateLimited { retry_after_secs } => {
                let body = json!({ "error": format!("Too many requests: retry in {retry_after_secs} seconds.") });
                let retry_after = [(
                    axum::http::header::RETRY_AFTER,
                    retry_after_secs.to_string(),
                )];
                return (StatusCode::TOO_MANY_REQUESTS, retry_after, Json(body)).into_response();
            }
            Error::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "Missing or invalid API key: send a valid key in the x-chatcaptain-key header."
                    .to_owned(),
            ),
            Error::Forbidden => (
                StatusCode::FORBIDDEN,
                "Insufficient permissions.".to_owned(),
            ),
            Error::TooLarge { limit_bytes } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{}.", crate::body::too_large_sentence(limit_bytes)),
            ),
            Error::UnsupportedMediaType { content_type } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{}.", crate::body::not_json_sentence(&content_type)),
            ),
            Error::OverRateLimit { retry_after_secs } => {
                let body = json!({ "error": format!("Too many requests for this API key: retry in {retry_after_secs} seconds.") });
                let retry_after = [(
                    axum::http::header::RETRY_AFTER,
                    retry_after_secs.to_string(),
                )];
                return (StatusCode::TOO_MANY_REQUESTS, retry_after, Json(body)).into_response();
            }
            Error::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}.", crate::retry::REUSED_SENTENCE),
            ),
            Error::RequestInProgress => (
                StatusCode::CONFLICT,
                format!("{}.", crate::retry::IN_PROGRESS_SENTENCE),
            ),
            Error::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                format!("{}.", crate::etag::CHANGED_SENTENCE),
            ),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error.".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

fn not_found(resource: Resource) -> &'static str {
    match resource {
        Resource::Contact => "Contact not found.",
        Resource::Organization => "Organization not found.",
        Resource::Workspace => "Chatbot not found.",
        Resource::ApiKey => "API key not found.",
        Resource::User => "User not found.",
        Resource::Group => "Group not found.",
        Resource::GovernanceLevel => "Governance level not found.",
        Resource::Inbox => "Inbox not found.",
        Resource::Webhook => "Webhook not found.",
        Resource::Event => "Event not found.",
    }
}
