//! Domain values built only by parsing. A value of one of these types has been checked
//! once, at the boundary; everything past it trusts the type instead of re-checking.
//!
//! Each parser returns a plain reason (`&'static str` or `String`) on failure; the caller
//! knows the field's wire name and wraps it into `Error::Invalid`.

mod email;
mod ids;
mod phone;
mod text;
mod timestamp;

pub use email::Email;
pub use ids::{ContactId, KeyId, OrganizationId, WorkspaceId, MAX_ID};
pub use phone::PhoneE164;
pub use text::{bounded_text, fold_case, ExternalId, Language, WebUrl, MAX_TEXT_LEN};
pub use timestamp::Timestamp;
