//! The one error type of the core. Each dialect renders it in its own body shape and
//! status code; the variants carry just enough to do that well (which field, why).

use std::fmt;

use crate::model::Channel;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a lookup did not find. Dialects word their 404s from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Workspace,
    ApiKey,
    Contact,
    Organization,
    User,
    Group,
    GovernanceLevel,
    Inbox,
    Webhook,
    Event,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Workspace => "workspace",
            Resource::ApiKey => "API key",
            Resource::Contact => "contact",
            Resource::Organization => "organization",
            Resource::User => "user",
            Resource::Group => "group",
            Resource::GovernanceLevel => "governance level",
            Resource::Inbox => "inbox",
            Resource::Webhook => "webhook",
            Resource::Event => "event",
        })
    }
}

/// A field that must be unique within a workspace. The store reports which one a write
/// collided on; each dialect names it in its own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    ExternalId,
    Channel(Channel),
    /// A phone number, where a dialect's rule makes it unique (Chatwoot).
    Phone,
    /// A contact's id in an inbox (Chatwoot `source_id`), unique per inbox.
    SourceId,
    /// The client-chosen id of a user, group or governance level.
    RecordId,
}

/// Everything that can go wrong in the core, one case per way a client must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request is malformed or a value does not parse. `field` is the dialect's own
    /// name for the field (dialects parse), `reason` a sentence a user can act on.
    Invalid { field: String, reason: String },
    /// A referenced record does not exist (or belongs to another workspace, which the
    /// caller must not be able to tell apart).
    NotFound(Resource),
    /// A write names a related record that does not exist in the workspace (for example
    /// an organization id in a contact's memberships).
    UnknownReference { resource: Resource, id: String },
    /// A write would break a uniqueness rule.
    Conflict(UniqueField),
    /// The operation was done too recently on this record; it may be retried after
    /// `retry_after_secs` seconds.
    RateLimited { retry_after_secs: u64 },
    /// No credentials, or credentials that are unknown or revoked.
    Unauthenticated,
    /// Valid credentials that do not allow this operation on this workspace.
    Forbidden,
    /// The request body is larger than the server accepts.
    TooLarge { limit_bytes: usize },
    /// The request body is declared as something other than JSON.
    UnsupportedMediaType { content_type: String },
    /// The API key sent more requests than its rate limit allows; retry after
    /// `retry_after_secs` seconds.
    OverRateLimit { retry_after_secs: u64 },
    /// An `Idempotency-Key` already used for a different request (method, path or body).
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still running.
    RequestInProgress,
    /// An `If-Match` precondition failed: the record changed since (or, for `*`, does
    /// not exist).
    PreconditionFailed,
    /// Something broke inside Roster; the message is for the log, never for the client.
    Internal(String),
}

/// Roster's stable code for one case of [`Error`]: the same whichever dialect answers,
/// carried by SalesChat's `error_code` and `error_message` (the contract names 4030001 and
/// 4090001), and listed once in the README. `status` is the HTTP status it usually gets
/// (a dialect may differ: ChatCaptain and the admin API answer invalid input with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub number: u32,
    pub name: &'static str,
    pub status: u16,
}

impl ErrorCode {
    const fn new(number: u32, name: &'static str) -> ErrorCode {
        ErrorCode {
            number,
            name,
            status: (number / 10_000) as u16,
        }
    }
}

/// Every code, in the README's order.
pub const ERROR_CODES: [(&str, ErrorCode); 14] = [
    ("unauthenticated", ErrorCode::new(4010001, "UNAUTHORIZED")),
    ("forbidden", ErrorCode::new(4030001, "FORBIDDEN")),
    ("not_found", ErrorCode::new(4040001, "NOT_FOUND")),
    ("conflict", ErrorCode::new(4090001, "UQ_CONSTRAINT_FAILED")),
    (
        "request_in_progress",
        ErrorCode::new(4090002, "REQUEST_IN_PROGRESS"),
    ),
    (
        "precondition_failed",
        ErrorCode::new(4120001, "PRECONDITION_FAILED"),
    ),
    ("too_large", ErrorCode::new(4130001, "PAYLOAD_TOO_LARGE")),
    (
        "unsupported_media_type",
        ErrorCode::new(4150001, "UNSUPPORTED_MEDIA_TYPE"),
    ),
    ("invalid", ErrorCode::new(4220001, "INVALID_INPUT")),
    (
        "unknown_reference",
        ErrorCode::new(4220002, "UNKNOWN_REFERENCE"),
    ),
    (
        "idempotency_key_reused",
        ErrorCode::new(4220003, "IDEMPOTENCY_KEY_REUSED"),
    ),
    ("rate_limited", ErrorCode::new(4290001, "RATE_LIMITED")),
    (
        "over_rate_limit",
        ErrorCode::new(4290002, "RATE_LIMIT_EXCEEDED"),
    ),
    ("internal", ErrorCode::new(5000001, "INTERNAL_ERROR")),
];

impl Error {
    /// This case's stable code (see [`ERROR_CODES`]).
    pub fn code(&self) -> ErrorCode {
        let case = match self {
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::TooLarge { .. } => "too_large",
            Error::UnsupportedMediaType { .. } => "unsupported_media_type",
            Error::Invalid { .. } => "invalid",
            Error::UnknownReference { .. } => "unknown_reference",
            Error::RateLimited { .. } => "rate_limited",
            Error::OverRateLimit { .. } => "over_rate_limit",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::RequestInProgress => "request_in_progress",
            Error::PreconditionFailed => "precondition_failed",
            Error::Internal(_) => "internal",
        };
        ERROR_CODES
            .iter()
            .find(|(name, _)| *name == case)
            .map(|(_, code)| *code)
            .expect("every case has a code")
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(context: impl fmt::Display) -> Self {
        Error::Internal(context.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { field, reason } => write!(f, "{field}: {reason}"),
            Error::NotFound(resource) => write!(f, "{resource} not found"),
            Error::UnknownReference { resource, id } => write!(f, "{resource} {id} does not exist"),
            Error::Conflict(field) => write!(f, "{field:?} is already taken"),
            Error::RateLimited { retry_after_secs } => {
                write!(f, "rate limited for {retry_after_secs} s")
            }
            Error::Unauthenticated => f.write_str("unauthenticated"),
            Error::Forbidden => f.write_str("forbidden"),
            Error::TooLarge { limit_bytes } => {
                write!(f, "the request body is larger than {limit_bytes} bytes")
            }
            Error::UnsupportedMediaType { content_type } => {
                write!(f, "the body is {content_type:?}, not JSON")
            }
            Error::OverRateLimit { retry_after_secs } => {
                write!(f, "over the key's rate limit for {retry_after_secs} s")
            }
            Error::IdempotencyKeyReused => {
                f.write_str("the Idempotency-Key was already used for a different request")
            }
            Error::RequestInProgress => {
                f.write_str("a request with this Idempotency-Key is still running")
            }
            Error::PreconditionFailed => f.write_str("the If-Match precondition failed"),
            Error::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_its_own_stable_code() {
        let cases = [
            Error::Unauthenticated,
            Error::Forbidden,
            Error::NotFound(Resource::Contact),
            Error::Conflict(UniqueField::Email),
            Error::RequestInProgress,
            Error::PreconditionFailed,
            Error::TooLarge { limit_bytes: 1 },
            Error::UnsupportedMediaType {
                content_type: "text/plain".into(),
            },
            Error::invalid("name", "is bad"),
            Error::UnknownReference {
                resource: Resource::GovernanceLevel,
                id: "x".into(),
            },
            Error::IdempotencyKeyReused,
            Error::RateLimited {
                retry_after_secs: 1,
            },
            Error::OverRateLimit {
                retry_after_secs: 1,
            },
            Error::internal("boom"),
        ];
        let codes: Vec<ErrorCode> = cases.iter().map(Error::code).collect();
        assert_eq!(
            codes,
            ERROR_CODES
                .iter()
                .map(|(_, code)| *code)
                .collect::<Vec<_>>()
        );
        assert_eq!(Error::Forbidden.code().number, 4030001);
        assert_eq!(Error::Conflict(UniqueField::ExternalId).code().status, 409);
        assert_eq!(Error::invalid("a", "b").code().status, 422);
    }
}
