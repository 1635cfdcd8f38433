//! `SearchIndex`: the embedded tantivy index, kept in step with the store by following
//! its change log, and answering searches.
//!
//! The index is derived data. Its commit payload records the last change-log seq it
//! applied; at start it catches up from there, or rebuilds from the store when the
//! directory is new, unreadable, or further behind than the log reaches. Every node
//! keeps its own index and follows the same log, so a write through any node reaches
//! every node's search within the follow interval.

use std::collections::{BTreeMap, HashMap};

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use std::sync::{Arc, Mutex, PoisonError, Weak};

use std::time::{Duration, Instant};

use roster_core::domain::{ContactId, OrganizationId, Timestamp, WorkspaceId};

use roster_core::model::{Change, RecordKind};

use roster_core::search::{
    FacetCounts, FacetField, FacetStats, Hit, SearchEngine, SearchPage, SearchRequest,
};

use roster_core::{Error, Result, Store};

use tantivy::directory::MmapDirectory;

use tantivy::schema::Schema;

use tantivy::{
    index::SegmentId, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};

use tokio::sync::Notify;

use crate::collector::{Collected, Rank, RankCollector, SegmentColumns};

use crate::document;

use crate::highlight;

use crate::matcher;

use crate::pool::SearchPool;

use crate::query::{ParsedQuery, Plan};

mod engine;
mod layout;

use crate::schema::{facet_value, scope, Fields};
use layout::{committed, open_or_create, Committed, Payload};

/// How often a node looks for writes made elsewhere.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// Changes fetched per round.
const BATCH: u32 = 2_000;

/// During a long catch-up, how often applied changes are committed (made searchable).
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A hole in the change log older than this is a rolled-back write, not a slow one.
const GAP_PATIENCE_MICROS: i64 = 5_000_000;

/// Records read per store round trip while rebuilding.
const SCAN_BATCH: u32 = 5_000;

/// Change-log entries older than this are pruned; a node further behind rebuilds.
const CHANGE_RETENTION_MICROS: i64 = 7 * 24 * 3_600 * 1_000_000;

/// The writer's indexing memory. One indexing thread: every commit starts a segment per
/// thread, with a term table sized from this budget, and while following the log
/// commits are frequent and small; a second thread made rebuilds barely faster (the
/// store scan feeds it) and cost a quarter of write throughput (BENCHMARKS.md, group
/// commit).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// Least time from the end of one catch-up to the start of the next while writes stream
/// in: a write arriving after a quiet spell is applied at once, and a busy node leaves
/// the cores to the writes between commits.
const COMMIT_SPACING: Duration = Duration::from_millis(20);

pub struct SearchIndex {
    /// This index itself, for the jobs it hands to threads of its own.
    me: Weak<SearchIndex>,
    store: Arc<dyn Store>,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Serialises catch-up rounds and rebuilds; holds the applied seq while they run.
    applying: tokio::sync::Mutex<i64>,
    /// The applied seq as last committed, readable without waiting for a catch-up.
    applied: AtomicI64,
    nudge: Notify,
    /// Told whenever the applied position moves (searches waiting for a write wake up).
    applied_changed: Notify,
    /// Scoring and highlighting run here, never on the async runtime.
    pool: SearchPool,
    /// Records per scope, with the searcher generation they were counted in.
    counts: Mutex<HashMap<String, (u64, u64)>>,
    /// What a large scope's whole listing (an empty search) counts, with the searcher
    /// generation it was counted in: see [`Listing`].
    listings: Mutex<HashMap<String, (u64, Listing)>>,
    columns: Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>,
}

/// The facet counts of a scope's whole listing. An empty search box lists every record,
/// newest first, and counting the facets of a million documents is most of that search's
/// time, yet they change only with the index: so they are kept per searcher generation
/// (only the reported values, the most frequent `FACET_VALUES` of each field), for scopes
/// of at least `LISTING_CACHED_FROM` records (smaller ones count in no time).
#[derive(Clone)]
struct Listing {
    found: u64,
    facets: Vec<HashMap<String, u64>>,
    numeric: Option<crate::collector::NumericFacet>,
}

const LISTING_CACHED_FROM: u64 = 5_000;

impl Listing {
    fn of(collected: &Collected) -> Listing {
        let reported = |counts: &HashMap<String, u64>| {
            let mut counts: Vec<(&String, &u64)> = counts.iter().collect();
            counts.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            counts
                .into_iter()
                .take(FACET_VALUES)
                .map(|(value, count)| (value.clone(), *count))
                .collect()
        };
        Listing {
            found: collected.found,
            facets: collected.facets.iter().map(reported).collect(),
            numeric: collected.numeric.clone(),
        }
    }
}

/// Locks `mutex`, taking it over if a thread panicked while holding it: every value
/// guarded here (caches, the writer) stays usable, and one panic must not turn into a
/// panic on every later search.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Progress of a rebuild: records indexed so far, of how many.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

fn index_error(context: &str) -> impl Fn(tantivy::TantivyError) -> Error + '_ {
    move |err| Error::internal(format!("search index: {context}: {err}"))
}

impl SearchIndex {
    /// Opens the index in `dir` (creating it if needed) and brings it up to date with the
    /// store: catch-up from its recorded position, or a rebuild.
    pub async fn open(dir: &Path, store: Arc<dyn Store>) -> Result<Arc<SearchIndex>> {
        Self::open_with_progress(dir, store, &|_, _| {}).await
    }

    pub async fn open_with_progress(
        dir: &Path,
        store: Arc<dyn Store>,
        progress: Progress<'_>,
    ) -> Result<Arc<SearchIndex>> {
        Self::open_inner(dir, store, progress, false).await
    }

    /// Opens the index in `dir` and rebuilds it from the store, whatever its state
    /// (`roster reindex`): once, even when it is new.
    pub async fn open_rebuilt(
        dir: &Path,
        store: Arc<dyn Store>,
        progress: Progress<'_>,
    ) -> Result<Arc<SearchIndex>> {
        Self::open_inner(dir, store, progress, true).await
    }

    async fn open_inner(
        dir: &Path,
        store: Arc<dyn Store>,
        progress: Progress<'_>,
        rebuild: bool,
    ) -> Result<Arc<SearchIndex>> {
        let (schema, fields) = Fields::schema();
        let dir: PathBuf = dir.to_owned();
        let shown = dir.display().to_string();
        let (index, fresh) = tokio::task::spawn_blocking(move || open_or_create(&dir, schema))
            .await
            .map_err(Error::internal)??;
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|err| match err {
                tantivy::TantivyError::LockFailure(..) => Error::internal(format!(
                    "the search index in {shown} is in use by another roster process (a running \
                     `roster serve` on this data directory?): stop it first"
                )),
                other => index_error("opening the writer")(other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error("opening the reader"))?;
        let state = if fresh {
            Committed::Nothing
        } else {
            committed(&index)
        };
        let applied = match state {
            Committed::Current(seq) => Some(seq),
            _ => None,
        };
        let search = Arc::new_cyclic(|me| SearchIndex {
            me: me.clone(),
            store,
            fields,
            reader,
            writer: Mutex::new(writer),
            applying: tokio::sync::Mutex::new(applied.unwrap_or(0)),
            applied: AtomicI64::new(applied.unwrap_or(0)),
            nudge: Notify::new(),
            applied_changed: Notify::new(),
            pool: SearchPool::sized_to_machine(),
            counts: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            columns: Mutex::new(HashMap::new()),
        });
        let oldest = search.store.first_change_seq().await?;
        let behind_the_log =
            applied.is_some_and(|seq| oldest.is_some_and(|oldest| seq + 1 < oldest));
        if rebuild || applied.is_none() || behind_the_log {
            let reason = if rebuild {
                "asked to".to_owned()
            } else if fresh {
                "new index".to_owned()
            } else if behind_the_log {
                "behind the change log's window: changes it has not applied were pruned".to_owned()
            } else {
                state.reason()
            };
            if rebuild || fresh {
                tracing::info!(%reason, "rebuilding the search index");
            } else {
                tracing::warn!(%reason, "rebuilding the search index");
            }
            search.rebuild(progress).await?;
        } else {
            search.catch_up().await?;
        }
        Ok(search)
    }

    /// The change-log seq the index has applied up to (as committed): read without a
    /// lock, so `/metrics` never waits for a catch-up.
    pub async fn applied_seq(&self) -> i64 {
        self.applied.load(AtomicOrdering::Acquire)
    }

    /// Records `seq` as applied (after its commit).
    fn set_applied(&self, applied: &mut i64, seq: i64) {
        *applied = seq;
        self.applied.store(seq, AtomicOrdering::Release);
        self.applied_changed.notify_waiters();
    }

    fn handle(&self) -> Result<Arc<SearchIndex>> {
        self.me
            .upgrade()
            .ok_or_else(|| Error::internal("the search index is closing"))
    }

    /// Follows the change log until `shutdown` resolves.
    pub fn follow(
        self: &Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let index = Arc::clone(self);
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut last_prune = Instant::now();
            let mut last_catch_up = Instant::now() - COMMIT_SPACING;
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = index.nudge.notified() => {}
                    () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                }
                // Under a stream of writes, commits are spaced: each one costs a new
                // segment (files, a fresh term table, later merges) whatever it holds.
                let since = last_catch_up.elapsed();
                if since < COMMIT_SPACING {
                    tokio::time::sleep(COMMIT_SPACING - since).await;
                }
                if let Err(err) = index.catch_up().await {
                    tracing::warn!(%err, "search index could not catch up; retrying");
                }
                last_catch_up = Instant::now();
                if last_prune.elapsed() > Duration::from_secs(3_600) {
                    last_prune = Instant::now();
                    let before =
                        Timestamp::from_micros(Timestamp::now().micros() - CHANGE_RETENTION_MICROS);
                    if let Err(err) = index.store.prune_changes(before).await {
                        tracing::warn!(%err, "pruning the change log failed");
                    }
                }
            }
        })
    }

    /// Applies every change after the applied seq; returns how many were applied. A long
    /// backlog (a bulk import) is committed every `COMMIT_EVERY`, not every batch: commits
    /// cost, and searchers see progress at that pace anyway.
    pub async fn catch_up(&self) -> Result<usize> {
        let mut applied = self.applying.lock().await;
        let mut cursor = *applied;
        let mut last_commit = std::time::Instant::now();
        let mut total = 0;
        loop {
            let changes = self.store.changes_after(cursor, BATCH).await?;
            if changes.is_empty() {
                break;
            }
            let safe = contiguous_until(cursor, &changes, Timestamp::now());
            self.apply(&changes).await?;
            total += changes.len();
            cursor = safe;
            let reached_end = changes.len() < BATCH as usize;
            let stalled = safe < changes.last().map_or(safe, |c| c.seq);
            if reached_end || stalled || last_commit.elapsed() >= COMMIT_EVERY {
                self.commit(safe).await?;
                self.set_applied(&mut applied, safe);
                last_commit = std::time::Instant::now();
            }
            if reached_end || stalled {
                break;
            }
        }
        if cursor != *applied {
            self.commit(cursor).await?;
            self.set_applied(&mut applied, cursor);
        }
        Ok(total)
    }

    /// Re-reads the changed records and replaces (or removes) their documents.
    async fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut touched: BTreeMap<(WorkspaceId, bool), Vec<i64>> = BTreeMap::new();
        for change in changes {
            let is_contact = change.kind == RecordKind::Contact;
            touched
                .entry((change.workspace, is_contact))
                .or_default()
                .push(change.id);
        }
        let mut documents = Vec::new();
        let mut deleted = Vec::new();
        for ((workspace, is_contact), mut ids) in touched {
            ids.sort_unstable();
            ids.dedup();
            if is_contact {
                let wanted: Vec<ContactId> =
                    ids.iter().map(|&id| ContactId::from_stored(id)).collect();
                let contacts = self.store.contacts_by_ids(workspace, &wanted).await?;
                let names = self
                    .organization_names(
                        workspace,
                        contacts
                            .iter()
                            .flat_map(|c| c.data.organization_ids.iter().copied()),
                    )
                    .await?;
                for contact in &contacts {
                    documents.push(document::contact(&self.fields, workspace, contact, &names));
                }
                // Every touched key goes: missing records for good, present ones to be re-added.
                deleted.extend(
                    ids.iter()
                        .map(|&id| document::key(RecordKind::Contact, workspace, id)),
                );
            } else {
                let wanted: Vec<OrganizationId> = ids
                    .iter()
                    .map(|&id| OrganizationId::from_stored(id))
                    .collect();
                let organizations = self.store.organizations_by_ids(workspace, &wanted).await?;
                for organization in &organizations {
                    documents.push(document::organization(
                        &self.fields,
                        workspace,
                        organization,
                    ));
                }
                deleted.extend(
                    ids.iter()
                        .map(|&id| document::key(RecordKind::Organization, workspace, id)),
                );
            }
        }
        let writer = lock(&self.writer);
        for key in deleted {
            writer.delete_term(Term::from_field_text(self.fields.key, &key));
        }
        for doc in documents {
            writer
                .add_document(doc)
                .map_err(index_error("adding a document"))?;
        }
        Ok(())
    }

    async fn organization_names(
        &self,
        workspace: WorkspaceId,
        ids: impl Iterator<Item = OrganizationId>,
    ) -> Result<HashMap<i64, String>> {
        let mut ids: Vec<OrganizationId> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let organizations = self.store.organizations_by_ids(workspace, &ids).await?;
        Ok(organizations
            .into_iter()
            .map(|o| (o.id.get(), o.data.name))
            .collect())
    }

    /// Commits what was added, recording `seq` as applied, and makes it searchable.
    /// Commits what was added (fsync) and reloads the reader, on a blocking thread.
    async fn commit(&self, seq: i64) -> Result<()> {
        let me = self.handle()?;
        tokio::task::spawn_blocking(move || {
            let mut writer = lock(&me.writer);
            let mut prepared = writer
                .prepare_commit()
                .map_err(index_error("preparing a commit"))?;
            prepared.set_payload(&Payload::new(seq).to_string());
            prepared.commit().map_err(index_error("committing"))?;
            drop(writer);
            me.reader
                .reload()
                .map_err(index_error("reloading the reader"))
        })
        .await
        .map_err(Error::internal)?
    }

    /// Rebuilds the whole index from the store.
    pub async fn rebuild(&self, progress: Progress<'_>) -> Result<()> {
        let mut applied = self.applying.lock().await;
        // Changes after this point are re-applied by the next catch-up (idempotently).
        let start_seq = self.store.last_change_seq().await?;
        lock(&self.writer)
            .delete_all_documents()
            .map_err(index_error("clearing"))?;
        let workspaces = self.store.workspaces().await?;
        let mut done = 0;
        let total = self.reader.searcher().num_docs();
        for workspace in workspaces {
            let mut after = 0;
            loop {
                let contacts = self
                    .store
                    .scan_contacts(workspace.id, after, SCAN_BATCH)
                    .await?;
                let Some(last) = contacts.last() else { break };
                after = last.id.get();
                let names = self
                    .organization_names(
                        workspace.id,
                        contacts
                            .iter()
                            .flat_map(|c| c.data.organization_ids.iter().copied()),
                    )
                    .await?;
                done += contacts.len() as u64;
                let me = self.handle()?;
                tokio::task::spawn_blocking(move || {
                    let docs = contacts
                        .iter()
                        .map(|c| document::contact(&me.fields, workspace.id, c, &names))
                        .collect();
                    me.add_all(docs)
                })
                .await
                .map_err(Error::internal)??;
                progress(done, total.max(done));
            }
            let mut after = 0;
            loop {
                let organizations = self
                    .store
                    .scan_organizations(workspace.id, after, SCAN_BATCH)
                    .await?;
                let Some(last) = organizations.last() else {
                    break;
                };
                after = last.id.get();
                done += organizations.len() as u64;
                let me = self.handle()?;
                tokio::task::spawn_blocking(move || {
                    let docs = organizations
                        .iter()
                        .map(|o| document::organization(&me.fields, workspace.id, o))
                        .collect();
                    me.add_all(docs)
                })
                .await
                .map_err(Error::internal)??;
                progress(done, total.max(done));
            }
        }
        self.commit(start_seq).await?;
        self.set_applied(&mut applied, start_seq);
        drop(applied);
        self.catch_up().await?;
        Ok(())
    }

    fn add_all(&self, docs: Vec<TantivyDocument>) -> Result<()> {
        let writer = lock(&self.writer);
        for doc in docs {
            writer
                .add_document(doc)
                .map_err(index_error("adding a document"))?;
        }
        Ok(())
    }

    /// The fast columns of each of the searcher's segments, in its order: opened once per
    /// segment, dropped with the segment.
    fn columns(&self, searcher: &Searcher) -> Result<Vec<Arc<SegmentColumns>>> {
        let mut cache = lock(&self.columns);
        let segments = searcher.segment_readers();
        let mut columns = Vec::with_capacity(segments.len());
        for segment in segments {
            let id = segment.segment_id();
            let opened = match cache.get(&id) {
                Some(opened) => Arc::clone(opened),
                None => {
                    let opened = Arc::new(
                        SegmentColumns::open(segment).map_err(index_error("opening columns"))?,
                    );
                    cache.insert(id, Arc::clone(&opened));
                    opened
                }
            };
            columns.push(opened);
        }
        if cache.len() > segments.len() {
            cache.retain(|id, _| segments.iter().any(|s| s.segment_id() == *id));
        }
        Ok(columns)
    }

    /// Records of one scope (a workspace's contacts or organizations) in the index the
    /// searcher sees; counted once per searcher generation.
    fn count(&self, searcher: &Searcher, scope: &str) -> Result<u64> {
        let generation = searcher.generation().generation_id();
        if let Some(&(seen, count)) = lock(&self.counts).get(scope) {
            if seen == generation {
                return Ok(count);
            }
        }
        // Counted without the cache lock, so other scopes' searches do not wait on it.
        let listing = Plan::everything();
        let mut count = 0;
        for segment in searcher.segment_readers() {
            matcher::run(&listing, scope, self.fields.scope, &[], segment, |_, _| {
                count += 1
            })
            .map_err(index_error("counting"))?;
        }
        lock(&self.counts).insert(scope.to_owned(), (generation, count));
        Ok(count)
    }

    /// Runs a search for one kind: the ranked ids of the requested page and the facets.
    fn run(
        &self,
        workspace: WorkspaceId,
        kind: RecordKind,
        plan: &Plan,
        request: &SearchRequest,
    ) -> Result<(Collected, u64)> {
        let scope = scope(workspace, kind);
        let searched = self.fields.searched(kind);
        // Facets in the order the answer lists them; organizations also count sizes.
        let (facets, numeric): (&[&'static str], bool) = match kind {
            RecordKind::Contact => (
                &[
                    "facet_organization",
                    "facet_language",
                    "facet_country",
                    "facet_channel",
                ],
                false,
            ),
            RecordKind::Organization => (&["facet_industry", "facet_country"], true),
        };
        let mut collector = RankCollector {
            limit: (request.page as usize) * (request.page_size as usize),
            facets: facets.to_vec(),
            numeric,
            hidden: request
                .hidden
                .iter()
                .filter(|id| **id > 0)
                .map(|&id| id as u64)
                .collect(),
            filters: request
                .filters
                .iter()
                .map(|(field, value)| (facet_column(*field), facet_value(&scope, value)))
                .collect(),
        };
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        let whole_listing =
            plan.match_all && collector.hidden.is_empty() && collector.filters.is_empty();
        let listed = match whole_listing {
            true => lock(&self.listings)
                .get(&scope)
                .filter(|(seen, _)| *seen == generation)
                .map(|(_, listing)| listing.clone()),
            false => None,
        };
        if listed.is_some() {
            // Only the page is left to find.
            collector.facets.clear();
            collector.numeric = false;
        }
        let columns = self.columns(&searcher)?;
        let mut fruits = Vec::with_capacity(searcher.segment_readers().len());
        for (ord, (segment, columns)) in searcher.segment_readers().iter().zip(&columns).enumerate()
        {
            let mut collecting = collector.for_segment(ord, columns);
            matcher::run(
                plan,
                &scope,
                self.fields.scope,
                &searched,
                segment,
                |doc, score| collecting.collect(doc, score),
            )
            .map_err(index_error("searching"))?;
            fruits.push(collecting.harvest());
        }
        let out_of = self.count(&searcher, &scope)?;
        let mut collected = collector.merge(fruits);
        match listed {
            Some(listing) => {
                collected.found = listing.found;
                collected.facets = listing.facets;
                collected.numeric = listing.numeric;
            }
            None if whole_listing && collected.found >= LISTING_CACHED_FROM => {
                let mut listings = lock(&self.listings);
                // One entry per scope: an older generation's is replaced.
                listings.insert(scope.clone(), (generation, Listing::of(&collected)));
            }
            None => {}
        }
        if kind == RecordKind::Contact {
            // Highlights need the page's organization names: the index has them.
            collected.organization_names = page_ranks(request, &collected.top)
                .iter()
                .map(|rank| (rank.id, columns[rank.segment].organization_names(rank.doc)))
                .collect();
        }
        Ok((collected, out_of))
    }
}

/// The largest seq up to which the log has no holes, given changes fetched after
/// `applied`. A hole younger than `GAP_PATIENCE_MICROS` may be a write still committing
/// (PostgreSQL hands out seqs before commit), so the cursor waits for it; an older one
/// was rolled back.
fn contiguous_until(applied: i64, changes: &[Change], now: Timestamp) -> i64 {
    let mut safe = applied;
    for change in changes {
        if change.seq != safe + 1 && now.micros() - change.at.micros() < GAP_PATIENCE_MICROS {
            break;
        }
        safe = change.seq;
    }
    safe
}

/// Bumped whenever documents are indexed differently.
const LAYOUT: u32 = 4;

/// Facet values reported per field, the most frequent first (Typesense's default
/// `max_facet_values`); numeric stats still cover every value.
const FACET_VALUES: usize = 10;

/// The ranks on the requested page, best first (`top` holds every page up to it).
fn page_ranks<'a>(request: &SearchRequest, top: &'a [Rank]) -> &'a [Rank] {
    let skip = (request.page.saturating_sub(1) as usize) * request.page_size as usize;
    top.get(skip..).unwrap_or_default()
}

/// The column a facet filter reads. Sizes are a numeric column, no string facet: a size
/// filter matches nothing (no dialect offers one).
fn facet_column(field: FacetField) -> &'static str {
    match field {
        FacetField::Organization => "facet_organization",
        FacetField::Language => "facet_language",
        FacetField::Country => "facet_country",
        FacetField::Channel => "facet_channel",
        FacetField::Industry => "facet_industry",
        FacetField::Size => "facet_size",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_is_taken_over() {
        let mutex = Mutex::new(1);
        let _ = std::panic::catch_unwind(|| {
            let _held = mutex.lock().unwrap();
            panic!("a search panicked while holding the lock");
        });
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*lock(&mutex), 2);
    }

    fn change(seq: i64, age_micros: i64, now: Timestamp) -> Change {
        Change {
            seq,
            workspace: WorkspaceId::from_stored(1),
            kind: RecordKind::Contact,
            id: seq,
            at: Timestamp::from_micros(now.micros() - age_micros),
        }
    }

    /// Commits `payload` (if any) to a fresh in-memory index and reads back its state.
    fn state_after_committing(payload: Option<&str>) -> Committed {
        let index = Index::create_in_ram(Fields::schema().0);
        if let Some(payload) = payload {
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            let mut prepared = writer.prepare_commit().unwrap();
            prepared.set_payload(payload);
            prepared.commit().unwrap();
        }
        committed(&index)
    }

    #[test]
    fn the_commit_record_tells_an_unfinished_build_from_an_upgrade_or_corruption() {
        assert_eq!(
            state_after_committing(Some(&Payload::new(41).to_string())),
            Committed::Current(41)
        );
        assert_eq!(state_after_committing(None), Committed::Nothing);
        assert!(Committed::Nothing.reason().starts_with("unfinished"));
        assert_eq!(
            state_after_committing(Some(r#"{"layout":1,"seq":41}"#)),
            Committed::OtherLayout(1)
        );
        assert!(Committed::OtherLayout(1)
            .reason()
            .starts_with("older layout"));
        // The first layout recorded the bare seq.
        assert_eq!(
            state_after_committing(Some("41")),
            Committed::OtherLayout(0)
        );
        let corrupt = state_after_committing(Some("{not json"));
        assert!(matches!(corrupt, Committed::Corrupt(_)), "{corrupt:?}");
        assert!(corrupt.reason().starts_with("corrupt"));
    }

    #[test]
    fn the_cursor_waits_at_a_young_hole_and_skips_an_old_one() {
        let now = Timestamp::now();
        let young = [change(1, 0, now), change(2, 0, now), change(4, 0, now)];
        assert_eq!(contiguous_until(0, &young, now), 2);
        let old = [
            change(1, 0, now),
            change(3, 10_000_000, now),
            change(4, 0, now),
        ];
        assert_eq!(contiguous_until(0, &old, now), 4);
        assert_eq!(contiguous_until(5, &[change(6, 0, now)], now), 6);
    }
}
