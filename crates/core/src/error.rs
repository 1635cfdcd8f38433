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
    /// Something broke inside Roster; the message is for the log, never for the client.
    Internal(String),
}

impl Error {
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
            Error::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for Error {}
