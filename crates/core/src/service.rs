//! `Roster`: the services the dialects call. Dialects parse their wire format into core
//! types and call these; rules that hold for every dialect live here or in the store.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::domain::{bounded_text, ContactId, KeyId, WorkspaceId, MAX_TEXT_LEN};
use crate::error::{Error, Resource, Result};
use crate::keys;
use crate::model::{ApiKey, AssignRequest, Contact, GovernanceLevel, Workspace};
use crate::permission::{validate_grant, Permission};
use crate::store::{NewApiKey, Store};

/// The setting under which the installation's key-hashing pepper is kept.
const PEPPER_SETTING: &str = "api_key_pepper";

/// A contact may be assigned at most once in this many seconds (SalesChat's limit).
pub const ASSIGN_INTERVAL_SECS: i64 = 10;

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
    clock: Arc<dyn Clock>,
}

impl Roster {
    /// Wraps a migrated store; loads (or on first start creates) the key-hashing pepper.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self> {
        Self::with_clock(store, Arc::new(SystemClock)).await
    }

    /// Like `new`, with the clock time-based rules read (tests pass a `ManualClock`).
    pub async fn with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let pepper = store
            .setting_or_init(PEPPER_SETTING, &keys::generate_pepper())
            .await?;
        Ok(Self {
            store,
            pepper: pepper.into(),
            clock,
        })
    }

    pub fn now(&self) -> crate::domain::Timestamp {
        self.clock.now()
    }

    /// Assigns a contact, at most once per `ASSIGN_INTERVAL_SECS` per contact.
    pub async fn assign(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        request: &AssignRequest,
    ) -> Result<Contact> {
        self.store
            .assign_contact(
                workspace,
                id,
                request,
                self.clock.now(),
                ASSIGN_INTERVAL_SECS,
            )
            .await
    }

    /// When a contact expires: its opt-in date plus its governance level's retention.
    /// `None` when it has no opt-in date or no level.
    pub fn expiry(
        &self,
        contact: &Contact,
        levels: &[GovernanceLevel],
    ) -> Option<crate::domain::Timestamp> {
        let opt_in = contact.data.opt_in_at?;
        let level_id = contact.data.governance_level_id.as_deref()?;
        levels
            .iter()
            .find(|level| level.id == level_id)
            .map(|level| level.expiry(opt_in))
    }

    /// Whether a contact's expiry has passed.
    pub fn is_expired(&self, contact: &Contact, levels: &[GovernanceLevel]) -> bool {
        self.expiry(contact, levels)
            .is_some_and(|expiry| expiry <= self.clock.now())
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
