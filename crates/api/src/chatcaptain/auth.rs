//! ChatCaptain authentication: the `x-chatcaptain-key` header, checked against the
//! `chatbotId` of the path and the permission the handler names in its signature.

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use roster_core::domain::WorkspaceId;
use roster_core::permission::Permission;
use roster_core::service::Caller;

use super::error::CcError;
use crate::AppState;

pub const KEY_HEADER: &str = "x-chatcaptain-key";

/// A permission a handler requires, as a type so it can stand in the signature.
pub trait Required {
    const PERMISSION: Permission;
}

macro_rules! required {
    ($($name:ident => $permission:ident),* $(,)?) => {
        $(
            pub struct $name;
            impl Required for $name {
                const PERMISSION: Permission = Permission::$permission;
            }
        )*
    };
}

required!(
    ListContacts => ContactsList,
    GetContact => ContactsGet,
    CreateContact => ContactsCreate,
    EditContact => ContactsEdit,
    DeleteContact => ContactsDelete,
    ListOrganizations => OrganizationsList,
    GetOrganization => OrganizationsGet,
    CreateOrganization => OrganizationsCreate,
    EditOrganization => OrganizationsEdit,
    DeleteOrganization => OrganizationsDelete,
    ListOrganizationContacts => OrganizationContactsList,
);

/// A caller whose key belongs to the path's chatbot and holds permission `P`.
pub struct Authorized<P> {
    pub caller: Caller,
    _permission: PhantomData<P>,
}

impl<P> Authorized<P> {
    pub fn workspace(&self) -> WorkspaceId {
        self.caller.workspace()
    }
}

impl<P: Required> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = CcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(KEY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let path = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| params)
            .unwrap_or_default();
        let chatbot = path
            .get("chatbotId")
            .map(String::as_str)
            .unwrap_or_default();
        let caller = state
            .roster
            .authorize(key.as_deref(), chatbot, P::PERMISSION)
            .await?;
        Ok(Self {
            caller,
            _permission: PhantomData,
        })
    }
}
