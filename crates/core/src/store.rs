//! The persistence boundary. Two implementations live in `roster-store` (SQLite and
//! PostgreSQL) and pass one contract suite.
//!
//! Rules every implementation keeps:
//! - the workspace is the first argument of every record call and scopes every query;
//!   a record of another workspace is indistinguishable from a missing one;
//! - contact and organization ids are allocated per workspace, increase, and are never
//!   reused; `created` is strictly increasing within a workspace, so newest-first paging
//!   by `created` sees every record exactly once;
//! - a write that fails changes nothing; a write that returned `Ok` is durable.

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;

use crate::domain::{
    ContactId, Email, ExternalId, KeyId, OrganizationId, PhoneE164, Timestamp, WorkspaceId,
};
use crate::idempotency::StoredResponse;
use crate::import::{ImportOutcome, ImportRow, MatchKey};
use crate::model::{
    ApiKey, AssignRequest, Change, Contact, ContactData, ContactInbox, ContactPatch,
    DispositionUpdate, GovernanceLevel, Group, Inbox, InboxChannel, MergeRecord, Organization,
    OrganizationData, OrganizationPatch, Page, StageChange, StoredApiKey, Updated, User, Workspace,
    WriteRules,
};
use crate::query::ContactQuery;
use crate::Result;

/// A new API key as the store receives it: the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub permissions: Vec<String>,
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
    pub secret_hash: Vec<u8>,
}

/// A link of a contact to an inbox, as a write names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContactInbox {
    pub inbox_id: i64,
    pub source_id: String,
}

/// How many database connections a store holds, and how many of them are idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub connections: u32,
    pub idle: u32,
}

/// Everything Roster keeps, area by area; each area is a trait of its own so that each
/// backend implements it in a file of its own. Callers bring the areas they use into
/// scope with `use roster_core::store::prelude::*`.
pub trait Store:
    WorkspaceStore
    + ContactStore
    + OrganizationStore
    + SalesChatStore
    + ChatwootStore
    + BulkStore
    + ChangeLog
    + IdempotencyStore
    + EventStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: WorkspaceStore
        + ContactStore
        + OrganizationStore
        + SalesChatStore
        + ChatwootStore
        + BulkStore
        + ChangeLog
        + IdempotencyStore
        + EventStore
        + WebhookStore
        + Send
        + Sync
        + 'static
{
}

/// The store's area traits, for calling their methods on a `dyn Store`.
pub mod prelude {
    pub use super::{
        BulkStore, ChangeLog, ChatwootStore, ContactStore, EventStore, IdempotencyStore,
        OrganizationStore, SalesChatStore, Store, WebhookStore, WorkspaceStore,
    };
}

/// Workspaces, API keys and installation settings.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// The connection pool's state, for metrics.
    fn pool_usage(&self) -> PoolUsage {
        PoolUsage::default()
    }

    /// The clock writes are stamped with: `Roster` hands over its own, so the services and
    /// the store agree on "now" (tests move a `ManualClock`). The system clock until then.
    fn use_clock(&self, clock: Arc<dyn Clock>);

    /// Returns the value stored under `name`, storing `initial` first if there is none.
    /// Concurrent callers all get the one value that won.
    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> Result<Vec<u8>>;

    async fn create_workspace(&self, name: &str) -> Result<Workspace>;
    async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>>;
    async fn workspaces(&self) -> Result<Vec<Workspace>>;

    /// Fails with `NotFound(Workspace)` when the workspace does not exist.
    async fn create_api_key(&self, workspace: WorkspaceId, key: &NewApiKey) -> Result<ApiKey>;
    /// Looks a key up by id alone: authentication does not know the workspace yet.
    async fn api_key(&self, id: KeyId) -> Result<Option<StoredApiKey>>;
    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; `NotFound(ApiKey)` if the workspace has no such key.
    async fn revoke_api_key(&self, workspace: WorkspaceId, id: KeyId) -> Result<ApiKey>;
}

/// Contacts: one at a time, and the queries the dialects list and filter with.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// `Conflict` on a taken unique field, `UnknownReference` on a missing organization
    /// or governance level.
    async fn create_contact(&self, workspace: WorkspaceId, data: &ContactData) -> Result<Contact> {
        let (contact, _) = self
            .create_contact_with(workspace, data, WriteRules::default(), None)
            .await?;
        Ok(contact)
    }
    /// Like `create_contact`, also keeping `rules` and, when `link` is given, linking the
    /// new contact to that inbox, all in one transaction (`NotFound(Inbox)` rolls it back).
    async fn create_contact_with(
        &self,
        workspace: WorkspaceId,
        data: &ContactData,
        rules: WriteRules,
        link: Option<&NewContactInbox>,
    ) -> Result<(Contact, Option<ContactInbox>)>;
    async fn contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Option<Contact>>;
    /// Newest first.
    async fn contacts(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Contact>>;
    /// Applies the patch to the current record in one transaction.
    async fn update_contact(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
    ) -> Result<Updated<Contact>> {
        self.update_contact_with(workspace, id, patch, WriteRules::default())
            .await
    }
    /// Like `update_contact`, also keeping `rules`.
    async fn update_contact_with(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        rules: WriteRules,
    ) -> Result<Updated<Contact>>;
    /// Removes the contact and its memberships and returns it as it was;
    /// `NotFound(Contact)` if there is none.
    async fn delete_contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Contact>;
    /// The organizations a contact belongs to, by id; `NotFound(Contact)` if there is none.
    async fn contact_organizations(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<Vec<Organization>>;

    /// Every contact of the workspace with exactly this number, by id.
    async fn contacts_by_phone(
        &self,
        workspace: WorkspaceId,
        phone: &PhoneE164,
    ) -> Result<Vec<Contact>>;

    /// Contacts with these ids (missing ones are left out), by id.
    async fn contacts_by_ids(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>>;

    /// One page of contacts matching a query (see `ContactQuery`).
    async fn query_contacts(
        &self,
        workspace: WorkspaceId,
        query: &ContactQuery,
    ) -> Result<Vec<Contact>>;
    /// How many contacts match the query's conditions and labels (paging ignored).
    async fn count_contacts(&self, workspace: WorkspaceId, query: &ContactQuery) -> Result<u64>;
    /// Contacts whose email, external id (case-sensitive) or phone is exactly one of
    /// those given, by id.
    async fn contacts_matching_exactly(
        &self,
        workspace: WorkspaceId,
        email: Option<&Email>,
        external_id: Option<&ExternalId>,
        phone: Option<&PhoneE164>,
    ) -> Result<Vec<Contact>>;
    /// The custom and the additional attribute keys used in the workspace, each sorted.
    async fn attribute_keys(&self, workspace: WorkspaceId) -> Result<(Vec<String>, Vec<String>)>;
    /// Whether any contact of the workspace has this custom attribute key.
    async fn custom_attribute_in_use(&self, workspace: WorkspaceId, key: &str) -> Result<bool>;
}

/// Organizations and their members.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    async fn create_organization(
        &self,
        workspace: WorkspaceId,
        data: &OrganizationData,
    ) -> Result<Organization>;
    async fn organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Option<Organization>>;
    /// Newest first.
    async fn organizations(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Organization>>;
    async fn update_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Updated<Organization>>;
    /// Removes the organization and its memberships, never its contacts; returns it as it
    /// was.
    async fn delete_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Organization>;
    /// Members of an organization, newest first; `NotFound(Organization)` if there is none.
    async fn organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        page: Page,
    ) -> Result<Vec<Contact>>;
    /// `NotFound(Organization)` if there is none.
    async fn count_organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<u64>;
    async fn organizations_by_ids(
        &self,
        workspace: WorkspaceId,
        ids: &[OrganizationId],
    ) -> Result<Vec<Organization>>;
}

/// SalesChat's records: stage and disposition, assignment, users, groups and governance levels.
#[async_trait]
pub trait SalesChatStore: Send + Sync {
    /// Sets stage, disposition and fields, and appends to the stage history.
    async fn set_disposition(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        update: &DispositionUpdate,
        by: KeyId,
    ) -> Result<Contact>;
    /// Oldest first; `NotFound(Contact)` if there is none.
    async fn stage_history(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<Vec<StageChange>>;
    /// Assigns the contact to the named user, or to the next member of the named group
    /// (round-robin). `RateLimited` if the contact was assigned less than
    /// `min_interval_secs` before `now`; `NotFound(User | Group)` for unknown targets.
    async fn assign_contact(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        request: &AssignRequest,
        now: Timestamp,
        min_interval_secs: i64,
    ) -> Result<Contact>;

    /// `Conflict(RecordId)` if the id is taken.
    async fn create_user(&self, workspace: WorkspaceId, id: &str, name: &str) -> Result<User>;
    async fn users(&self, workspace: WorkspaceId) -> Result<Vec<User>>;
    /// `UnknownReference(User)` if a member does not exist.
    async fn create_group(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        members: &[String],
    ) -> Result<Group>;
    /// Replaces the members (and restarts the rotation).
    async fn set_group_members(
        &self,
        workspace: WorkspaceId,
        id: &str,
        members: &[String],
    ) -> Result<Group>;
    async fn groups(&self, workspace: WorkspaceId) -> Result<Vec<Group>>;
    async fn create_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        retention_days: i64,
    ) -> Result<GovernanceLevel>;
    async fn update_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: Option<&str>,
        retention_days: Option<i64>,
    ) -> Result<GovernanceLevel>;
    async fn governance_levels(&self, workspace: WorkspaceId) -> Result<Vec<GovernanceLevel>>;
    /// Writes `contact.expired` for up to `limit` contacts whose expiry has passed and
    /// has not fired since, each once however many nodes ask at the same time; answers
    /// the workspaces that had some.
    async fn fire_expiries(&self, limit: u32) -> Result<Vec<WorkspaceId>>;
}

/// Chatwoot's records: inboxes and a contact's links to them, labels, merges.
#[async_trait]
pub trait ChatwootStore: Send + Sync {
    async fn create_inbox(
        &self,
        workspace: WorkspaceId,
        name: &str,
        channel: InboxChannel,
        provider: Option<&str>,
    ) -> Result<Inbox>;
    async fn inbox(&self, workspace: WorkspaceId, id: i64) -> Result<Option<Inbox>>;
    /// By id.
    async fn inboxes(&self, workspace: WorkspaceId) -> Result<Vec<Inbox>>;
    /// The inbox links of these contacts, by contact then link age.
    async fn contact_inboxes(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<ContactInbox>>;
    /// Links a contact to an inbox under `source_id`; an identical link is returned as it
    /// is. `NotFound(Contact | Inbox)`; `Conflict(SourceId)` if another contact has it.
    async fn link_contact_inbox(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
        link: &NewContactInbox,
    ) -> Result<ContactInbox>;

    /// The labels of these contacts, as (contact, label) sorted by contact then label.
    async fn labels(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, String)>>;
    /// Replaces a contact's labels; returns them sorted. `NotFound(Contact)`.
    async fn set_labels(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        labels: &[String],
    ) -> Result<Vec<String>>;

    /// Merges `mergee` into `base` in one transaction (`crate::merge` says how the data
    /// combine); the mergee's inbox links, labels and memberships move to the base, the
    /// mergee is deleted and a `MergeRecord` kept. `base == mergee` changes nothing.
    async fn merge_contacts(
        &self,
        workspace: WorkspaceId,
        base: ContactId,
        mergee: ContactId,
        rules: WriteRules,
    ) -> Result<Contact>;
    /// Oldest first.
    async fn merges(&self, workspace: WorkspaceId) -> Result<Vec<MergeRecord>>;
    /// The merges `contact` took part in, as base or as mergee, oldest first.
    async fn merges_of(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<MergeRecord>>;
}

/// Many records at once: bulk creates, imports, and scans for rebuilding indexes.
#[async_trait]
pub trait BulkStore: Send + Sync {
    /// Creates many contacts in one transaction (all or none), in order: bulk loads and
    /// the write path's group commit of concurrent creates.
    async fn create_contacts(
        &self,
        workspace: WorkspaceId,
        data: &[ContactData],
    ) -> Result<Vec<Contact>>;
    /// Imports one batch in one transaction. Each row updates the first contact it matches
    /// by `keys` (tried in order) or creates one, seeing the rows before it; a row that
    /// would take a unique value another contact holds is rejected and the others go on.
    /// Organizations are found by name (the oldest of that name) or created.
    async fn import_contacts(
        &self,
        workspace: WorkspaceId,
        rows: &[ImportRow],
        keys: &[MatchKey],
    ) -> Result<Vec<ImportOutcome>>;
    /// A workspace's contacts by increasing id, after `after`: for rebuilding indexes.
    async fn scan_contacts(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Contact>>;
    async fn scan_organizations(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Organization>>;
}

/// The change log every write appends to, which search indexes follow.
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Change log entries with `seq > after`, by seq. Every write to a contact or an
    /// organization (and to the contacts an organization change touches) appends one in
    /// its own transaction.
    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>>;
    /// The highest seq handed out so far (0 if none).
    async fn last_change_seq(&self) -> Result<i64>;
    /// The lowest seq still kept, if any: a follower behind it must rebuild.
    async fn first_change_seq(&self) -> Result<Option<i64>>;
    /// Forgets entries older than `before`; returns how many.
    async fn prune_changes(&self, before: Timestamp) -> Result<u64>;
    /// A record's version, bumped by every write to it (see `crate::write::Expected`);
    /// `None` if it does not exist.
    async fn record_version(
        &self,
        workspace: WorkspaceId,
        kind: crate::model::RecordKind,
        id: i64,
    ) -> Result<Option<i64>>;
}

/// A request's claim on an `Idempotency-Key` (see `crate::idempotency`).
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyClaim<'a> {
    /// Whose key it is: an API key (`key:<id>`) or the admin token (`admin`).
    pub scope: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a [u8],
    /// Who holds it while the request runs.
    pub owner: &'a str,
    pub now: Timestamp,
    pub lease_until: Timestamp,
    pub expires: Timestamp,
}

/// Where a claimed key stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// New (or expired, or left by a request whose lease ran out): the claim holds it now.
    Claimed,
    /// The same request ran before and answered this.
    Answered(StoredResponse),
    /// The key was used for a different request.
    OtherRequest,
    /// The same request is running now under another claim.
    Running,
}

/// `Idempotency-Key` claims and the answers kept for retries.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims the key unless it is held (see [`IdempotencyState`]); atomic, so of two
    /// racing claims one wins.
    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim<'_>)
        -> Result<IdempotencyState>;
    /// Extends `owner`'s lease (nothing if it no longer holds the key).
    async fn renew_idempotency_lease(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<()>;
    /// Keeps the answer of `owner`'s request; durable when it returns.
    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        response: &StoredResponse,
    ) -> Result<()>;
    /// Forgets `owner`'s unanswered claim.
    async fn release_idempotency_key(&self, scope: &str, key: &str, owner: &str) -> Result<()>;
    /// Forgets up to `limit` keys that expired before `now`, oldest first.
    async fn prune_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64>;
}

/// The events every write yields (see `crate::events`), for the change feed.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// The workspace's events with `seq > after`, oldest first.
    async fn events_after(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<crate::events::Event>>;
    /// Forgets events (and what was left of their deliveries) older than `before`;
    /// returns how many events.
    async fn prune_events(&self, before: Timestamp) -> Result<u64>;
    /// The retained events about one contact (its own, and a merge's into it), oldest
    /// first.
    async fn contact_events(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<crate::events::Event>>;
    /// A contact's history, oldest first: the entries after `after` (a previous page's
    /// last id), at most `limit`. `NotFound(Contact)` when the contact never existed in
    /// the workspace (a deleted contact's history stays).
    async fn contact_history(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<crate::events::HistoryEntry>>;
}

/// Webhook endpoints and the queue of what is still to be sent to them.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// `NotFound(Workspace)` if there is no such workspace.
    async fn create_webhook(
        &self,
        workspace: WorkspaceId,
        webhook: &crate::webhooks::NewWebhook,
    ) -> Result<crate::webhooks::Webhook>;
    /// By id.
    async fn webhooks(&self, workspace: WorkspaceId) -> Result<Vec<crate::webhooks::Webhook>>;
    /// The endpoint and its sealed secret.
    async fn webhook(
        &self,
        workspace: WorkspaceId,
        id: i64,
    ) -> Result<Option<(crate::webhooks::Webhook, Vec<u8>)>>;
    /// `NotFound(Webhook)`.
    async fn update_webhook(
        &self,
        workspace: WorkspaceId,
        id: i64,
        patch: &crate::webhooks::WebhookPatch,
    ) -> Result<crate::webhooks::Webhook>;
    /// Removes the endpoint and its queue; `NotFound(Webhook)`.
    async fn delete_webhook(
        &self,
        workspace: WorkspaceId,
        id: i64,
    ) -> Result<crate::webhooks::Webhook>;
    /// `NotFound(Webhook)`.
    async fn set_webhook_secret(
        &self,
        workspace: WorkspaceId,
        id: i64,
        sealed: &[u8],
    ) -> Result<crate::webhooks::Webhook>;
    /// Leases up to `limit` due deliveries of enabled endpoints to `owner` until
    /// `lease_until`: for each endpoint and record only the oldest undelivered event, so
    /// one record's events are sent in order; an event leased by another node (whose lease
    /// has not run out) holds back the later events of its record.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<crate::webhooks::Delivery>>;
    /// Records attempts `owner` made (rows it no longer holds are left alone): a delivered
    /// or given-up event leaves the queue, a failed one waits for its retry; endpoints'
    /// failure runs and disabling follow.
    async fn finish_deliveries(
        &self,
        owner: &str,
        outcomes: &[crate::webhooks::DeliveryOutcome],
    ) -> Result<()>;
    /// The endpoint's latest attempts, newest first; `NotFound(Webhook)`.
    async fn webhook_attempts(
        &self,
        workspace: WorkspaceId,
        id: i64,
        limit: u32,
    ) -> Result<Vec<crate::webhooks::Attempt>>;
    /// Queues the event for the endpoint again, due `now`; `NotFound(Event)` if the
    /// workspace has no such event.
    async fn redeliver(
        &self,
        workspace: WorkspaceId,
        id: i64,
        event_id: &str,
        now: Timestamp,
    ) -> Result<()>;
    /// Events written, deliveries queued and the oldest of them.
    async fn queue_stats(&self) -> Result<crate::webhooks::QueueStats>;
}
