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
    /// Only records with each of these facet values (the console's facet chips); facet
    /// counts then cover the narrowed results.
    pub filters: Vec<(FacetField, String)>,
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

    /// Waits until the engine has applied change `seq`, at most `within`; false if it
    /// has not by then.
    async fn caught_up_to(&self, seq: i64, within: std::time::Duration) -> bool;

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

/// One page of "exact matches first, then ranked matches" (Chatwoot's search): which exact
/// matches the page shows, and which ranked hits fill the rest, given that the exact ones
/// are hidden from the ranked search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactFirst {
    /// The exact matches on this page, by position in their list.
    pub exact: std::ops::Range<usize>,
    /// Ranked hits to skip, then to take, after the exact matches run out.
    pub ranked_skip: usize,
    pub ranked_take: usize,
}

impl ExactFirst {
    /// The page that starts at `offset` and holds `size` records, with `exact` matches
    /// known ahead of the ranked ones.
    pub fn page(exact: usize, offset: usize, size: usize) -> ExactFirst {
        let start = offset.min(exact);
        let end = offset.saturating_add(size).min(exact);
        let shown = end - start;
        ExactFirst {
            exact: start..end,
            ranked_skip: offset.saturating_sub(exact),
            ranked_take: size - shown,
        }
    }
}

#[cfg(test)]
mod exact_first_tests {
    use super::ExactFirst;

    #[test]
    fn exact_matches_fill_pages_before_ranked_ones() {
        // 3 exact matches, pages of 16 (15 shown and one to tell whether more follow).
        assert_eq!(
            ExactFirst::page(3, 0, 16),
            ExactFirst {
                exact: 0..3,
                ranked_skip: 0,
                ranked_take: 13
            }
        );
        assert_eq!(
            ExactFirst::page(3, 15, 16),
            ExactFirst {
                exact: 3..3,
                ranked_skip: 12,
                ranked_take: 16
            }
        );
        // More exact matches than a page: ranked ones wait.
        assert_eq!(
            ExactFirst::page(40, 15, 16),
            ExactFirst {
                exact: 15..31,
                ranked_skip: 0,
                ranked_take: 0
            }
        );
        assert_eq!(
            ExactFirst::page(20, 15, 16),
            ExactFirst {
                exact: 15..20,
                ranked_skip: 0,
                ranked_take: 11
            }
        );
    }
}
