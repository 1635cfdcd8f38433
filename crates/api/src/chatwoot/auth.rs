//! Chatwoot authentication: the `api_access_token` header and the `account_id` path
//! parameter. Chatwoot tells the failures apart (no token, bad token, another account,
//! missing permission), all as 401 but for an unknown account (404): the shared
//! `Authorized` extractor with Chatwoot's words for each refusal.

use axum::http::HeaderMap;
use roster_core::error::Resource;
use roster_core::Error;

use super::error::CwError;
pub use crate::auth::{
    Authorized, CreateContact, DeleteContact, Dialect, EditContact, GetContact, ListContacts,
    ManageWebhooks, MergeContacts, Refusal,
};

pub const TOKEN_HEADER: &str = "api_access_token";

pub struct Chatwoot;

impl Dialect for Chatwoot {
    type Error = CwError;
    const NAME: &'static str = "chatwoot";
    const WORKSPACE_PARAM: &'static str = "account_id";
    const TELLS_WORKSPACES_APART: bool = true;

    fn presented_key(headers: &HeaderMap) -> Option<String> {
        headers
            .get(TOKEN_HEADER)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
    }

    fn refused(refusal: Refusal) -> CwError {
        match refusal {
            Refusal::NoKey => CwError::NoCredentials,
            // Chatwoot looks the account up before checking membership.
            Refusal::OtherWorkspace { exists: true } => CwError::NotMember,
            Refusal::OtherWorkspace { exists: false } => {
                Error::NotFound(Resource::Workspace).into()
            }
        }
    }
}

/// A Chatwoot caller whose token belongs to the path's account and holds permission `P`.
pub type Auth<P> = Authorized<P, Chatwoot>;
