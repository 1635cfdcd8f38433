//! Search as the dialects see it: a request, and a page of ranked records with their
//! highlights and facet counts. `roster-search` implements `SearchEngine` on an embedded
//! index derived from the store.

use async_trait::async_trait;

use crate::domain::WorkspaceId;
use crate::model::{Channel, Contact, Organization};
use crate::Result;

/// Largest page a search returns.
pub const MAX_PAGE_SIZE: u32 = 250;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text; blank or `*` lists everything, newest first.
    pub query: String,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
    /// Ids removed before matching: they are neither returned nor counted.
    pub hidden: Vec<i64>,
}

/// The searchable fields of a record, strongest first. Dialects name them their way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    Name,
    Email,
    ExternalId,
    Phone,
    Channel(Channel),
    Organizations,
    Website,
    Industry,
}

/// Where a hit matched: the field, the matched words as the record spells them, and the
/// field's text with every matched word wrapped in `<mark>…</mark>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlight {
    pub field: SearchField,
    pub matched_tokens: Vec<String>,
    pub snippet: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit<T> {
    pub record: T,
    pub highlights: Vec<Highlight>,
    /// The rank score; higher is better.
    pub text_match: u64,
}

/// Facet field names a dialect renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetField {
    Organization,
    Language,
    Country,
    Channel,
    Industry,
    Size,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FacetStats {
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub sum: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FacetCounts {
    pub field: FacetField,
    /// Values with their counts, most frequent first (ties by value).
    pub counts: Vec<(String, u64)>,
    pub stats: Option<FacetStats>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage<T> {
    /// Matching records (after removing hidden ones).
    pub found: u64,
    /// Records of this kind in the workspace.
    pub out_of: u64,
    pub page: u32,
    pub search_time_ms: u64,
    pub hits: Vec<Hit<T>>,
    pub facets: Vec<FacetCounts>,
}

#[async_trait]
pub trait SearchEngine: Send + Sync + 'static {
    /// Told after every successful write through this node, to pick it up early.
    fn written(&self) {}

    /// The last change-log entry the engine has applied (see `Store::last_change_seq`).
    async fn applied_change(&self) -> i64;

    async fn search_contacts(
        &self,
        workspace: WorkspaceId,
        request: &SearchRequest,
    ) -> Result<SearchPage<Contact>>;
    async fn search_organizations(
        &self,
        workspace: WorkspaceId,
        request: &SearchRequest,
    ) -> Result<SearchPage<Organization>>;
}
