//! Authentication shared by the dialects: each says where its key travels, which path
//! parameter names the workspace and how its errors look; a handler names the permission
//! it needs in its signature (`Authorized<EditContact, ChatCaptain>`), so no handler can
//! forget the check.

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use roster_core::domain::WorkspaceId;
use roster_core::permission::Permission;
use roster_core::service::Caller;
use roster_core::Error;

use crate::AppState;

/// How one dialect carries credentials and the workspace.
pub trait Dialect {
    type Error: From<Error> + IntoResponse;
    /// The path parameter that names the workspace.
    const WORKSPACE_PARAM: &'static str;
    /// The API key the request presents, if any.
    fn presented_key(headers: &HeaderMap) -> Option<String>;
}

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
    AssignContact => ContactsAssign,
    MergeContacts => ContactsMerge,
    ListOrganizations => OrganizationsList,
    GetOrganization => OrganizationsGet,
    CreateOrganization => OrganizationsCreate,
    EditOrganization => OrganizationsEdit,
    DeleteOrganization => OrganizationsDelete,
    ListOrganizationContacts => OrganizationContactsList,
);

/// A caller whose key belongs to the path's workspace and holds permission `P`.
pub struct Authorized<P, D> {
    pub caller: Caller,
    _marker: PhantomData<(P, D)>,
}

impl<P, D> Authorized<P, D> {
    pub fn workspace(&self) -> WorkspaceId {
        self.caller.workspace()
    }
}

impl<P: Required, D: Dialect> FromRequestParts<AppState> for Authorized<P, D> {
    type Rejection = D::Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = D::presented_key(&parts.headers);
        let path = match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Path(params)) => params,
            Err(_) => {
                // The credentials are judged first, so a stranger learns nothing more.
                state.roster.authenticate(key.as_deref()).await?;
                return Err(Error::invalid("path", crate::params::PATH_REASON).into());
            }
        };
        let workspace = path
            .get(D::WORKSPACE_PARAM)
            .map(String::as_str)
            .unwrap_or_default();
        let caller = state
            .roster
            .authorize(key.as_deref(), workspace, P::PERMISSION)
            .await?;
        Ok(Self {
            caller,
            _marker: PhantomData,
        })
    }
}
