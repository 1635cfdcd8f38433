//! Chatwoot authentication: the `api_access_token` header and the `account_id` path
//! parameter. Chatwoot tells the failures apart (no token, bad token, another account,
//! missing permission), all as 401 but for an unknown account (404), so this dialect has
//! its own extractor instead of the shared `Authorized`.

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use roster_core::domain::WorkspaceId;
use roster_core::error::Resource;
use roster_core::service::Caller;
use roster_core::Error;

use super::error::CwError;
pub use crate::auth::{
    CreateContact, DeleteContact, EditContact, GetContact, ListContacts, MergeContacts, Required,
};
use crate::AppState;

pub const TOKEN_HEADER: &str = "api_access_token";

/// A caller whose token belongs to the path's account and holds permission `P`.
pub struct Auth<P> {
    pub caller: Caller,
    _marker: PhantomData<P>,
}

impl<P> Auth<P> {
    pub fn workspace(&self) -> WorkspaceId {
        self.caller.workspace()
    }
}

impl<P: Required> FromRequestParts<AppState> for Auth<P> {
    type Rejection = CwError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, CwError> {
        let token = parts
            .headers
            .get(TOKEN_HEADER)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .ok_or(CwError::NoCredentials)?;
        let caller = state.roster.authenticate(Some(&token)).await?;
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| params)
            .unwrap_or_default();
        let account = params
            .get("account_id")
            .and_then(|raw| raw.parse::<WorkspaceId>().ok());
        if account != Some(caller.workspace()) {
            // Chatwoot looks the account up before checking membership.
            let exists = match account {
                Some(account) => state.roster.store().workspace(account).await?.is_some(),
                None => false,
            };
            return Err(if exists {
                CwError::NotMember
            } else {
                Error::NotFound(Resource::Workspace).into()
            });
        }
        if !P::PERMISSION.is_granted_by_any(&caller.key.permissions) {
            return Err(Error::Forbidden.into());
        }
        Ok(Self {
            caller,
            _marker: PhantomData,
        })
    }
}
