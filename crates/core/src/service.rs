//! `Roster`: the services the dialects call. Dialects parse their wire format into core
//! types and call these; rules that hold for every dialect live here or in the store.

use std::sync::Arc;

use crate::domain::{bounded_text, KeyId, WorkspaceId, MAX_TEXT_LEN};
use crate::error::{Error, Resource, Result};
use crate::keys;
use crate::model::{ApiKey, Workspace};
use crate::permission::{validate_grant, Permission};
use crate::store::{NewApiKey, Store};

/// The setting under which the installation's key-hashing pepper is kept.
const PEPPER_SETTING: &str = "api_key_pepper";

/// An authenticated caller: the key and the workspace it belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
}

impl Caller {
    pub fn workspace(&self) -> WorkspaceId {
        self.key.workspace_id
    }
}

/// A key as created: the only moment its secret exists outside the client.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Clone)]
pub struct Roster {
    store: Arc<dyn Store>,
    pepper: Arc<[u8]>,
}

impl Roster {
    /// Wraps a migrated store; loads (or on first start creates) the key-hashing pepper.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self> {
        let pepper = store
            .setting_or_init(PEPPER_SETTING, &keys::generate_pepper())
            .await?;
        Ok(Self {
            store,
            pepper: pepper.into(),
        })
    }

    /// Record operations without rules beyond the store's go straight to it.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let name = workspace_or_key_name(name)?;
        self.store.create_workspace(&name).await
    }

    pub async fn issue_key(
        &self,
        workspace: WorkspaceId,
        name: &str,
        permissions: Vec<String>,
    ) -> Result<IssuedKey> {
        let name = workspace_or_key_name(name)?;
        if permissions.is_empty() {
            return Err(Error::invalid(
                "permissions",
                "must name at least one permission",
            ));
        }
        for grant in &permissions {
            validate_grant(grant).map_err(|reason| Error::invalid("permissions", reason))?;
        }
        let secret = keys::generate_secret();
        let new = NewApiKey {
            name,
            permissions,
            secret_hash: keys::hash_secret(&self.pepper, &secret),
        };
        let key = self.store.create_api_key(workspace, &new).await?;
        let secret = keys::format_key(key.id, &secret);
        Ok(IssuedKey { key, secret })
    }

    pub async fn revoke_key(&self, workspace: WorkspaceId, id: KeyId) -> Result<ApiKey> {
        self.store.revoke_api_key(workspace, id).await
    }

    /// Resolves a presented key to its caller: `Unauthenticated` when it is missing,
    /// malformed, unknown or revoked.
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Caller> {
        let (id, secret) = presented
            .and_then(keys::parse_key)
            .ok_or(Error::Unauthenticated)?;
        let stored = self
            .store
            .api_key(id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if stored.key.revoked.is_some()
            || !keys::verify_secret(&self.pepper, secret, &stored.secret_hash)
        {
            return Err(Error::Unauthenticated);
        }
        Ok(Caller { key: stored.key })
    }

    /// Authenticates and then checks that the key belongs to `workspace` (as named in the
    /// request path, unparsed: a path that names no valid workspace is simply not the
    /// key's) and holds `permission`.
    pub async fn authorize(
        &self,
        presented: Option<&str>,
        workspace: &str,
        permission: Permission,
    ) -> Result<Caller> {
        let caller = self.authenticate(presented).await?;
        let same_workspace = workspace.parse::<WorkspaceId>() == Ok(caller.workspace());
        if !same_workspace || !permission.is_granted_by_any(&caller.key.permissions) {
            return Err(Error::Forbidden);
        }
        Ok(caller)
    }

    /// Checks that a workspace exists, for admin paths that address one.
    pub async fn existing_workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        self.store
            .workspace(id)
            .await?
            .ok_or(Error::NotFound(Resource::Workspace))
    }
}

fn workspace_or_key_name(name: &str) -> Result<String> {
    let name = bounded_text(name, MAX_TEXT_LEN).map_err(|reason| Error::invalid("name", reason))?;
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    Ok(name)
}
