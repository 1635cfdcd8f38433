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

/// Why a request was not let in, for a dialect that words the cases apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key at all.
    NoKey,
    /// A key of another workspace than the path's; `exists` says whether the path's
    /// workspace exists (Chatwoot looks the account up first and answers 404 if not).
    OtherWorkspace { exists: bool },
}

/// How one dialect carries credentials and the workspace.
pub trait Dialect {
    type Error: From<Error> + IntoResponse;
    /// The dialect's name, as a contact's history says what a change came through.
    const NAME: &'static str;
    /// The path parameter that names the workspace.
    const WORKSPACE_PARAM: &'static str;
    /// Whether `refused` needs to know if another workspace exists (costs a lookup).
    const TELLS_WORKSPACES_APART: bool = false;
    /// Whether the operator's admin token (`Authorization: Bearer …`) may act in any
    /// workspace of this dialect, as the console does for the admin.
    const ADMIN_TOKEN_ACTS: bool = false;
    /// The API key the request presents, if any.
    fn presented_key(headers: &HeaderMap) -> Option<String>;
    /// The answer to a refused request: by default, no key is unauthenticated and
    /// another workspace's key is forbidden (its workspace is not revealed).
    fn refused(refusal: Refusal) -> Self::Error {
        match refusal {
            Refusal::NoKey => Error::Unauthenticated.into(),
            Refusal::OtherWorkspace { .. } => Error::Forbidden.into(),
        }
    }
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
    ManageWebhooks => WebhooksManage,
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
        let Some(key) = D::presented_key(&parts.headers) else {
            if D::ADMIN_TOKEN_ACTS && crate::admin::carries_admin_token(state, &parts.headers) {
                return Ok(Self {
                    caller: admin_in_path_workspace::<D>(parts, state).await?,
                    _marker: PhantomData,
                });
            }
            return Err(D::refused(Refusal::NoKey));
        };
        // The credentials are judged first, so a stranger learns nothing more. The guard
        // in front of the handler (`crate::guard`) has usually done it already.
        let caller = match parts.extensions.get::<Caller>() {
            Some(caller) => caller.clone(),
            None => state.roster.authenticate(Some(&key)).await?,
        };
        let workspace = path_workspace::<D>(parts, state).await?;
        if workspace != Some(caller.workspace()) {
            let exists = match workspace {
                Some(workspace) if D::TELLS_WORKSPACES_APART => {
                    state.roster.store().workspace(workspace).await?.is_some()
                }
                _ => false,
            };
            return Err(D::refused(Refusal::OtherWorkspace { exists }));
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

/// The workspace the path names, if it names one in the canonical form.
async fn path_workspace<D: Dialect>(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<WorkspaceId>, D::Error> {
    match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
        Ok(Path(params)) => Ok(params
            .get(D::WORKSPACE_PARAM)
            .and_then(|raw| raw.parse::<WorkspaceId>().ok())),
        Err(_) => Err(Error::invalid("path", crate::params::PATH_REASON).into()),
    }
}

/// The operator acting with the admin token in the path's workspace, which must exist.
async fn admin_in_path_workspace<D: Dialect>(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Caller, D::Error> {
    let workspace = path_workspace::<D>(parts, state)
        .await?
        .ok_or(Error::NotFound(roster_core::error::Resource::Workspace))?;
    let workspace = state.roster.existing_workspace(workspace).await?;
    Ok(Caller::admin(&workspace))
}
