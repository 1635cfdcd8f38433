//! `Roster`: the services the dialects call. Dialects parse their wire format into core
//! types and call these; rules that hold for every dialect live here or in the store.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::domain::{bounded_text, ContactId, KeyId, WorkspaceId, MAX_TEXT_LEN};
use crate::error::{Error, Resource, Result};
use crate::keys;
use crate::model::{
    ApiKey, Contact, ContactInbox, GovernanceLevel, Group, Inbox, InboxChannel, Organization, User,
    Workspace,
};
use crate::permission::validate_grant;
use crate::search::SearchEngine;
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
    /// The key id an operator's admin token acts under: no key has it (ids start at 1).
    pub const ADMIN_KEY: KeyId = KeyId::from_stored(0);

    /// The operator, acting in `workspace` with the admin token: every permission, no
    /// rate limit, and no key of its own (its id is `ADMIN_KEY`, its name `admin`).
    pub fn admin(workspace: &Workspace) -> Caller {
        Caller {
            key: ApiKey {
                id: Self::ADMIN_KEY,
                workspace_id: workspace.id,
                name: "admin".to_owned(),
                permissions: vec!["*".to_owned()],
                rate_limit: None,
                created: workspace.created,
                revoked: None,
            },
        }
    }

    pub fn is_admin(&self) -> bool {
        self.key.id == Self::ADMIN_KEY
    }

    pub fn workspace(&self) -> WorkspaceId {
        self.key.workspace_id
    }
}

/// Everything Roster holds on a contact's current state, whichever dialect wrote it: what
/// an operator's view (and later an event) shows.
#[derive(Debug, Clone)]
pub struct ContactRecord {
    pub contact: Contact,
    pub organizations: Vec<Organization>,
    pub labels: Vec<String>,
    pub inbox_links: Vec<ContactInbox>,
    /// The contact's governance level, when it names one that exists.
    pub governance_level: Option<GovernanceLevel>,
    pub expiry: Option<crate::domain::Timestamp>,
    pub is_expired: bool,
}

impl ContactRecord {
    /// The record of `contact` from what was read of it: its organizations (in any order),
    /// labels and inbox links, and the workspace's governance levels (only the contact's
    /// own is needed); `now` decides whether it has expired.
    pub fn assemble(
        contact: Contact,
        mut organizations: Vec<Organization>,
        labels: Vec<String>,
        inbox_links: Vec<ContactInbox>,
        levels: &[GovernanceLevel],
        now: crate::domain::Timestamp,
    ) -> ContactRecord {
        let ids = &contact.data.organization_ids;
        // In the contact's own order, as `contact_organizations` answers them.
        organizations.sort_by_key(|organization| ids.iter().position(|id| *id == organization.id));
        let governance_level = contact
            .data
            .governance_level_id
            .as_deref()
            .and_then(|wanted| levels.iter().find(|level| level.id == wanted))
            .cloned();
        let expiry = contact
            .data
            .opt_in_at
            .zip(governance_level.as_ref())
            .map(|(opt_in, level)| level.expiry(opt_in));
        ContactRecord {
            is_expired: expiry.is_some_and(|expiry| expiry <= now),
            expiry,
            contact,
            organizations,
            labels,
            inbox_links,
            governance_level,
        }
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
    pub(crate) store: Arc<dyn Store>,
    pepper: Arc<[u8]>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) search: Option<Arc<dyn SearchEngine>>,
    /// The change-log position of this node's latest acknowledged write: its searches
    /// wait for the index to reach it (read-your-writes).
    pub(crate) acknowledged: Arc<crate::write::Acknowledged>,
    /// Concurrent creates, written together (see `group_commit`).
    pub(crate) creates: Arc<crate::group_commit::CreateQueue>,
    /// Woken by every committed write: feed reads waiting for the next event.
    pub(crate) events_written: Arc<tokio::sync::Notify>,
    /// Woken when a retention change may have made contacts expired (see `expiry`).
    pub(crate) expiries_due: Arc<tokio::sync::Notify>,
    /// Seals webhook secrets at rest; `None` until `with_webhooks`.
    pub(crate) webhook_key: Option<Arc<crate::webhooks::WebhookKey>>,
    /// Whether webhooks may call loopback and private addresses.
    pub(crate) webhook_allow_private: bool,
    pub(crate) delivery_counts: Arc<crate::webhooks::DeliveryCounts>,
}

impl Roster {
    /// Wraps a migrated store; loads (or on first start creates) the key-hashing pepper.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self> {
        Self::with_clock(store, Arc::new(SystemClock)).await
    }

    /// Like `new`, with the clock time-based rules read (tests pass a `ManualClock`).
    pub async fn with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        // One clock: the store stamps writes with the same one.
        store.use_clock(Arc::clone(&clock));
        let pepper = store
            .setting_or_init(PEPPER_SETTING, &keys::generate_pepper())
            .await?;
        Ok(Self {
            store,
            pepper: pepper.into(),
            clock,
            search: None,
            acknowledged: Arc::default(),
            events_written: Arc::default(),
            expiries_due: Arc::default(),
            webhook_key: None,
            webhook_allow_private: false,
            delivery_counts: Arc::default(),
            creates: Arc::default(),
        })
    }

    /// Webhook secrets are sealed with `key`; `allow_private` lets endpoints be
    /// loopback or private addresses (setups and tests).
    pub fn with_webhooks(mut self, key: crate::webhooks::WebhookKey, allow_private: bool) -> Self {
        self.webhook_key = Some(Arc::new(key));
        self.webhook_allow_private = allow_private;
        self
    }

    /// Woken by every committed write (the webhook sender waits on it too).
    pub fn events_written(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.events_written)
    }

    /// Attaches the search engine the search endpoints use.
    pub fn with_search(mut self, search: Arc<dyn SearchEngine>) -> Self {
        self.search = Some(search);
        self
    }

    /// The search engine; an internal error if the server was started without one.
    pub fn search(&self) -> Result<&dyn SearchEngine> {
        self.search
            .as_deref()
            .ok_or_else(|| Error::internal("search is not configured on this server"))
    }

    pub fn now(&self) -> crate::domain::Timestamp {
        self.clock.now()
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

    /// The whole record of one contact: its fields, organizations, labels, inbox links and
    /// SalesChat governance. `NotFound(Contact)`.
    pub async fn contact_record(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<ContactRecord> {
        let contact = self
            .store
            .contact(workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Contact))?;
        let organizations = self.store.contact_organizations(workspace, id).await?;
        let labels = self
            .store
            .labels(workspace, &[id])
            .await?
            .into_iter()
            .map(|(_, label)| label)
            .collect();
        let inbox_links = self.store.contact_inboxes(workspace, &[id]).await?;
        let levels = match contact.data.governance_level_id {
            Some(_) => self.store.governance_levels(workspace).await?,
            None => Vec::new(),
        };
        Ok(ContactRecord::assemble(
            contact,
            organizations,
            labels,
            inbox_links,
            &levels,
            self.clock.now(),
        ))
    }

    /// The whole record of a contact just created (with `link`, its one inbox link): no
    /// labels yet, so only the organizations and governance level it names are read.
    pub async fn created_record(
        &self,
        workspace: WorkspaceId,
        contact: &Contact,
        link: Option<&ContactInbox>,
    ) -> Result<ContactRecord> {
        let ids = &contact.data.organization_ids;
        let organizations = match ids.is_empty() {
            true => Vec::new(),
            false => self.store.organizations_by_ids(workspace, ids).await?,
        };
        let levels = match contact.data.governance_level_id {
            Some(_) => self.store.governance_levels(workspace).await?,
            None => Vec::new(),
        };
        Ok(ContactRecord::assemble(
            contact.clone(),
            organizations,
            Vec::new(),
            link.into_iter().cloned().collect(),
            &levels,
            self.clock.now(),
        ))
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

    /// The store, shared (for the search index that follows it).
    pub fn store_handle(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
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
        rate_limit: Option<crate::rate_limit::RateLimit>,
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
            rate_limit,
            secret_hash: keys::hash_secret(&self.pepper, &secret),
        };
        let key = self.store.create_api_key(workspace, &new).await?;
        let secret = keys::format_key(key.id, &secret);
        Ok(IssuedKey { key, secret })
    }

    /// A key issued by another key of the workspace (the console): `Forbidden` unless the
    /// issuer may manage keys, and the new key holds nothing the issuer does not.
    pub async fn issue_key_as(
        &self,
        issuer: &Caller,
        name: &str,
        permissions: Vec<String>,
    ) -> Result<IssuedKey> {
        let held = &issuer.key.permissions;
        if !crate::permission::Permission::KeysManage.is_granted_by_any(held) {
            return Err(Error::Forbidden);
        }
        for grant in &permissions {
            validate_grant(grant).map_err(|reason| Error::invalid("permissions", reason))?;
        }
        let beyond = crate::permission::beyond(&permissions, held);
        if !beyond.is_empty() {
            return Err(Error::invalid(
                "permissions",
                format!(
                    "this key may not hand out {}: it does not hold them",
                    beyond.join(", ")
                ),
            ));
        }
        self.issue_key(issuer.workspace(), name, permissions, None)
            .await
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

    /// Checks that a workspace exists, for admin paths that address one.
    pub async fn existing_workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        self.store
            .workspace(id)
            .await?
            .ok_or(Error::NotFound(Resource::Workspace))
    }
}

/// The longest client-chosen id of a user, group or governance level (SalesChat's limit).
pub const MAX_RECORD_ID_LEN: usize = 128;

impl Roster {
    pub async fn create_user(&self, workspace: WorkspaceId, id: &str, name: &str) -> Result<User> {
        let id = record_id("id", id)?;
        let name = workspace_or_key_name(name)?;
        self.store.create_user(workspace, &id, &name).await
    }

    pub async fn create_group(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        members: &[String],
    ) -> Result<Group> {
        let id = record_id("id", id)?;
        let name = workspace_or_key_name(name)?;
        check_members(members)?;
        self.store
            .create_group(workspace, &id, &name, members)
            .await
    }

    pub async fn set_group_members(
        &self,
        workspace: WorkspaceId,
        id: &str,
        members: &[String],
    ) -> Result<Group> {
        check_members(members)?;
        self.store.set_group_members(workspace, id, members).await
    }

    pub async fn create_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        retention_days: i64,
    ) -> Result<GovernanceLevel> {
        let id = record_id("id", id)?;
        let name = workspace_or_key_name(name)?;
        retention(retention_days)?;
        self.store
            .create_governance_level(workspace, &id, &name, retention_days)
            .await
    }

    pub async fn update_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: Option<&str>,
        retention_days: Option<i64>,
    ) -> Result<GovernanceLevel> {
        let name = name.map(workspace_or_key_name).transpose()?;
        if let Some(days) = retention_days {
            retention(days)?;
        }
        let level = self
            .store
            .update_governance_level(workspace, id, name.as_deref(), retention_days)
            .await?;
        if retention_days.is_some() {
            // Contacts a shorter retention expires are told now, not at the next round.
            self.expiries_due.notify_one();
        }
        Ok(level)
    }
}

impl Roster {
    /// Creates a Chatwoot inbox: a name, a channel type (`Channel::Api`…), and optionally
    /// the provider behind it.
    pub async fn create_inbox(
        &self,
        workspace: WorkspaceId,
        name: &str,
        channel_type: &str,
        provider: Option<&str>,
    ) -> Result<Inbox> {
        let name = workspace_or_key_name(name)?;
        let channel = InboxChannel::parse(channel_type)
            .map_err(|reason| Error::invalid("channel_type", reason))?;
        let provider = provider
            .map(|provider| bounded_text(provider, MAX_TEXT_LEN))
            .transpose()
            .map_err(|reason| Error::invalid("provider", reason))?
            .filter(|provider| !provider.is_empty());
        self.store
            .create_inbox(workspace, &name, channel, provider.as_deref())
            .await
    }
}

fn record_id(field: &str, id: &str) -> Result<String> {
    if id.is_empty()
        || id.chars().count() > MAX_RECORD_ID_LEN
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {MAX_RECORD_ID_LEN} characters without spaces"),
        ));
    }
    Ok(id.to_owned())
}

fn check_members(members: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = members.iter().find(|member| !seen.insert(member.as_str())) {
        return Err(Error::invalid(
            "members",
            format!("names user {twice:?} twice"),
        ));
    }
    Ok(())
}

fn retention(days: i64) -> Result<()> {
    if !(0..=GovernanceLevel::MAX_RETENTION_DAYS).contains(&days) {
        return Err(Error::invalid(
            "retention_days",
            format!(
                "must be a whole number of days from 0 to {}",
                GovernanceLevel::MAX_RETENTION_DAYS
            ),
        ));
    }
    Ok(())
}

fn workspace_or_key_name(name: &str) -> Result<String> {
    let name = bounded_text(name, MAX_TEXT_LEN).map_err(|reason| Error::invalid("name", reason))?;
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    Ok(name)
}
