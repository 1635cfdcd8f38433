//! The one write path. Every change to a contact, an organization, a membership, a label,
//! an inbox link, an assignment or a stage goes through these `Roster` methods: the input
//! is already parsed into core types (dialects only translate), the store applies it in one
//! transaction and answers what it changed, and [`Roster::committed`] is the one place
//! that hears of every committed change (it wakes the search index and the event feed).
//! Inside the store's transaction every write records its events, and with them the
//! contacts' history as the running task's `actor`'s. Keys, users, groups, levels and
//! inboxes have their own service methods in `service.rs`.

use crate::coalesce::Coalesced;
use crate::domain::{ContactId, KeyId, OrganizationId, WorkspaceId};
use crate::import::{ImportOutcome, ImportRow, MatchKey};
use crate::model::{
    AssignRequest, Contact, ContactData, ContactInbox, ContactPatch, DispositionUpdate,
    Organization, OrganizationData, OrganizationPatch, RecordKind, Updated, WriteRules,
};
use crate::search::SearchEngine;
use crate::service::{Roster, ASSIGN_INTERVAL_SECS};
use crate::store::NewContactInbox;
use crate::Result;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Longest a search waits for the local index to cover this node's own writes; past it the
/// search answers from the index as it is and the staleness is logged.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// The change-log position of this node's latest acknowledged write to each workspace: a
/// search of the workspace waits for the index to reach it (read-your-writes), and never
/// for writes to other workspaces. Concurrent writes share one read of the position, as
/// they share a commit: a read that began after a write committed covers it.
#[derive(Default)]
pub(crate) struct Acknowledged {
    seq: Mutex<HashMap<WorkspaceId, i64>>,
    latest: AtomicI64,
    reads: Coalesced,
}

impl Acknowledged {
    /// Notes that a write to `workspace` committed.
    async fn note(&self, store: &dyn crate::store::Store, workspace: WorkspaceId) {
        let read = self
            .reads
            .run(|| async {
                let seq = store.last_change_seq().await?;
                self.latest.fetch_max(seq, Ordering::AcqRel);
                Ok(())
            })
            .await;
        if let Err(err) = read {
            tracing::warn!(%err, "could not read the change log's position");
            return;
        }
        // The shared read began after this write committed, so it covers it.
        let covered = self.latest.load(Ordering::Acquire);
        let mut seqs = self
            .seq
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = seqs.entry(workspace).or_default();
        *seq = (*seq).max(covered);
    }

    fn seq(&self, workspace: WorkspaceId) -> i64 {
        let seqs = self
            .seq
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seqs.get(&workspace).copied().unwrap_or(0)
    }
}

/// An `If-Match` write's precondition: the record still has the version its check read
/// when the write's transaction takes it. Every store write to a contact or organization
/// bumps its version inside the transaction and, when the write runs under
/// [`Roster::unless_changed`], fails with `PreconditionFailed` if it had changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub kind: RecordKind,
    pub id: i64,
    pub version: i64,
}

tokio::task_local! {
    /// The precondition of the write running in this task. A task-local rather than an
    /// argument of every store write: the check sits where each write takes its record,
    /// so no write can forget it.
    static EXPECTED: Expected;
}

/// Runs `write` under `expected` (see [`Roster::unless_changed`]).
pub async fn unless_changed<T>(
    expected: Option<Expected>,
    write: impl std::future::Future<Output = T>,
) -> T {
    match expected {
        Some(expected) => EXPECTED.scope(expected, write).await,
        None => write.await,
    }
}

/// The version the running write expects of this record, if it runs under a precondition
/// for it (for the store, where a write takes its record).
pub fn expected_version(kind: RecordKind, id: i64) -> Option<i64> {
    EXPECTED
        .try_with(|expected| {
            (expected.kind == kind && expected.id == id).then_some(expected.version)
        })
        .ok()
        .flatten()
}

/// What one committed write changed, as the write path reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Write<'a> {
    ContactCreated(&'a Contact),
    ContactUpdated(&'a Updated<Contact>),
    ContactDeleted(&'a Contact),
    /// `mergee` was folded into `base` (shown as it is after the merge) and deleted.
    ContactsMerged {
        base: &'a Contact,
        mergee: ContactId,
    },
    LabelsSet {
        contact: ContactId,
        labels: &'a [String],
    },
    InboxLinked(&'a ContactInbox),
    StageChanged(&'a Contact),
    Assigned(&'a Contact),
    OrganizationCreated(&'a Organization),
    OrganizationUpdated(&'a Updated<Organization>),
    OrganizationDeleted(&'a Organization),
    /// One import batch, row by row.
    Imported(&'a [ImportOutcome]),
    /// SalesChat expiries passed: `contact.expired` for some of the workspace's contacts.
    ContactsExpired,
}

impl Roster {
    /// Runs `write` (one of the writes below) only if the record still has the version
    /// `expected` names; without one, as it is.
    pub async fn unless_changed<T>(
        &self,
        expected: Option<Expected>,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        unless_changed(expected, write).await
    }

    /// A record's version (see [`Expected`]); `None` if it does not exist.
    pub async fn record_version(
        &self,
        workspace: WorkspaceId,
        kind: RecordKind,
        id: i64,
    ) -> Result<Option<i64>> {
        self.store.record_version(workspace, kind, id).await
    }

    /// Hears of every committed write, in the order they committed on this node.
    pub(crate) async fn committed(&self, workspace: WorkspaceId, _write: Write<'_>) {
        // Its events committed with it: feed reads waiting on this node see them now.
        self.events_written.notify_waiters();
        let Some(search) = &self.search else {
            return;
        };
        // This node's next searches wait for the index to cover the write: the change log
        // holds it now (it committed in the same transaction).
        self.acknowledged.note(self.store.as_ref(), workspace).await;
        // The local index picks the change up at once instead of at its next poll.
        search.written();
    }

    /// The search engine, once it covers every write to `workspace` this node has
    /// acknowledged — or after [`READ_YOUR_WRITES_WAIT`], logged, with what it has.
    pub async fn searchable(&self, workspace: WorkspaceId) -> Result<&dyn SearchEngine> {
        let search = self.search()?;
        let wanted = self.acknowledged.seq(workspace);
        if wanted > 0 && !search.caught_up_to(wanted, READ_YOUR_WRITES_WAIT).await {
            let applied = search.applied_change().await;
            tracing::warn!(
                wanted,
                applied,
                "search answered from an index behind this node's writes"
            );
        }
        Ok(search)
    }

    /// Creates a contact, keeping `rules` and, with `link`, linking it to that inbox in
    /// the same transaction.
    pub async fn create_contact(
        &self,
        workspace: WorkspaceId,
        data: &ContactData,
        rules: WriteRules,
        link: Option<&NewContactInbox>,
    ) -> Result<(Contact, Option<ContactInbox>)> {
        let created = if link.is_none() && rules == WriteRules::default() {
            // Nothing to check against other contacts of the batch: group commit.
            let contact = self
                .creates
                .create(&self.store, workspace, data.clone())
                .await?;
            (contact, None)
        } else {
            self.store
                .create_contact_with(workspace, data, rules, link)
                .await?
        };
        self.committed(workspace, Write::ContactCreated(&created.0))
            .await;
        if let Some(link) = &created.1 {
            self.committed(workspace, Write::InboxLinked(link)).await;
        }
        Ok(created)
    }

    pub async fn update_contact(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        rules: WriteRules,
    ) -> Result<Updated<Contact>> {
        let updated = self
            .store
            .update_contact_with(workspace, id, patch, rules)
            .await?;
        self.committed(workspace, Write::ContactUpdated(&updated))
            .await;
        Ok(updated)
    }

    /// Deletes a contact; answers it as it was.
    pub async fn delete_contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Contact> {
        let deleted = self.store.delete_contact(workspace, id).await?;
        self.committed(workspace, Write::ContactDeleted(&deleted))
            .await;
        Ok(deleted)
    }

    /// Folds `mergee` into `base` (see `crate::merge`); answers the base as merged.
    pub async fn merge_contacts(
        &self,
        workspace: WorkspaceId,
        base: ContactId,
        mergee: ContactId,
        rules: WriteRules,
    ) -> Result<Contact> {
        let merged = self
            .store
            .merge_contacts(workspace, base, mergee, rules)
            .await?;
        if base != mergee {
            self.committed(
                workspace,
                Write::ContactsMerged {
                    base: &merged,
                    mergee,
                },
            )
            .await;
        }
        Ok(merged)
    }

    /// Replaces a contact's labels; answers them sorted.
    pub async fn set_labels(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        labels: &[String],
    ) -> Result<Vec<String>> {
        let labels = self.store.set_labels(workspace, id, labels).await?;
        self.committed(
            workspace,
            Write::LabelsSet {
                contact: id,
                labels: &labels,
            },
        )
        .await;
        Ok(labels)
    }

    pub async fn link_inbox(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        link: &NewContactInbox,
    ) -> Result<ContactInbox> {
        let linked = self.store.link_contact_inbox(workspace, id, link).await?;
        self.committed(workspace, Write::InboxLinked(&linked)).await;
        Ok(linked)
    }

    /// Sets a contact's SalesChat stage and disposition, appending to its history.
    pub async fn set_disposition(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        update: &DispositionUpdate,
        by: KeyId,
    ) -> Result<Contact> {
        let contact = self
            .store
            .set_disposition(workspace, id, update, by)
            .await?;
        self.committed(workspace, Write::StageChanged(&contact))
            .await;
        Ok(contact)
    }

    /// Assigns a contact, at most once per `ASSIGN_INTERVAL_SECS` per contact.
    pub async fn assign(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        request: &AssignRequest,
    ) -> Result<Contact> {
        let contact = self
            .store
            .assign_contact(
                workspace,
                id,
                request,
                self.clock.now(),
                ASSIGN_INTERVAL_SECS,
            )
            .await?;
        self.committed(workspace, Write::Assigned(&contact)).await;
        Ok(contact)
    }

    pub async fn create_organization(
        &self,
        workspace: WorkspaceId,
        data: &OrganizationData,
    ) -> Result<Organization> {
        let created = self.store.create_organization(workspace, data).await?;
        self.committed(workspace, Write::OrganizationCreated(&created))
            .await;
        Ok(created)
    }

    pub async fn update_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Updated<Organization>> {
        let updated = self.store.update_organization(workspace, id, patch).await?;
        self.committed(workspace, Write::OrganizationUpdated(&updated))
            .await;
        Ok(updated)
    }

    /// Deletes an organization (its memberships, never its contacts); answers it as it was.
    pub async fn delete_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Organization> {
        let deleted = self.store.delete_organization(workspace, id).await?;
        self.committed(workspace, Write::OrganizationDeleted(&deleted))
            .await;
        Ok(deleted)
    }

    /// Imports one batch of rows in one transaction (see `Store::import_contacts`).
    pub async fn import_contacts(
        &self,
        workspace: WorkspaceId,
        rows: &[ImportRow],
        keys: &[MatchKey],
    ) -> Result<Vec<ImportOutcome>> {
        let outcomes = self.store.import_contacts(workspace, rows, keys).await?;
        self.committed(workspace, Write::Imported(&outcomes)).await;
        Ok(outcomes)
    }
}
