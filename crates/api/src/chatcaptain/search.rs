//! ChatCaptain's search endpoints on the wire: the query parameters in, Typesense-shaped
//! results out (`{"results": {facetCounts, found, hits, outOf, page, searchTimeMs}}`).

use std::collections::HashMap;

use roster_core::search::{FacetField, SearchField, SearchPage, SearchRequest, MAX_PAGE_SIZE};
use roster_core::Error;
use serde::Serialize;

use super::error::channel_field;

/// Deepest result a search pages to (`page` × `pageSize`).
pub const MAX_SEARCH_DEPTH: u32 = 10_000;
/// Page size when the client sends none.
pub const DEFAULT_PAGE_SIZE: u32 = 10;

/// The facets a contact search can be narrowed by (beyond the contract: the console's
/// facet chips), by query parameter.
pub const CONTACT_FILTERS: [(&str, FacetField); 4] = [
    ("organization", FacetField::Organization),
    ("language", FacetField::Language),
    ("country", FacetField::Country),
    ("channel", FacetField::Channel),
];
pub const ORGANIZATION_FILTERS: [(&str, FacetField); 2] = [
    ("industry", FacetField::Industry),
    ("country", FacetField::Country),
];

/// `query`, `page`, `pageSize` and `hiddenHits` of the search endpoints, and a facet value
/// to narrow by for each of `filters` named (`organization=Acme`).
pub fn search_request(
    params: &HashMap<String, String>,
    filters: &[(&str, FacetField)],
) -> Result<SearchRequest, Error> {
    // Each number's message gives its whole allowed range, whatever was sent.
    let number = |name: &str, default: u32, max: u32, range: &str| -> Result<u32, Error> {
        let parsed = match params.get(name).map(|v| v.trim()) {
            None | Some("") => Some(default),
            Some(raw) => raw.parse::<u32>().ok().or_else(|| {
                raw.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                    .map(|f| f as u32)
            }),
        };
        parsed
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Error::invalid(name, range))
    };
    let page = number(
        "page",
        1,
        MAX_SEARCH_DEPTH,
        &format!("must be a whole number from 1 to {MAX_SEARCH_DEPTH} (pages count from 1; page × pageSize is at most {MAX_SEARCH_DEPTH})"),
    )?;
    let page_size = number(
        "pageSize",
        DEFAULT_PAGE_SIZE,
        MAX_PAGE_SIZE,
        &format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
    )?;
    if u64::from(page) * u64::from(page_size) > u64::from(MAX_SEARCH_DEPTH) {
        return Err(Error::invalid(
            "page",
            format!("page × pageSize must be at most {MAX_SEARCH_DEPTH}"),
        ));
    }
    let query = params.get("query").cloned().unwrap_or_default();
    if query.chars().count() > 1_000 {
        return Err(Error::invalid("query", "must be at most 1000 characters"));
    }
    // An id that does not parse names no record, so there is nothing to hide.
    let hidden = params
        .get("hiddenHits")
        .map(|list| {
            list.split(',')
                .filter_map(|id| id.trim().parse::<i64>().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut narrowed = Vec::new();
    for (name, field) in filters {
        if let Some(value) = params.get(*name) {
            if value.chars().count() > roster_core::domain::MAX_TEXT_LEN {
                return Err(Error::invalid(
                    *name,
                    format!(
                        "must be at most {} characters",
                        roster_core::domain::MAX_TEXT_LEN
                    ),
                ));
            }
            narrowed.push((*field, value.clone()));
        }
    }
    Ok(SearchRequest {
        query,
        page,
        page_size,
        hidden,
        filters: narrowed,
    })
}

/// ChatCaptain's name for a searched field.
fn search_field(field: SearchField) -> &'static str {
    match field {
        SearchField::Name => "name",
        SearchField::Email => "email",
        SearchField::ExternalId => "externalId",
        SearchField::Phone => "phoneNumber",
        SearchField::Channel(channel) => channel_field(channel),
        SearchField::Organizations => "organizations",
        SearchField::Website => "website",
        SearchField::Industry => "industry",
    }
}

fn facet_field(field: FacetField) -> &'static str {
    match field {
        FacetField::Organization => "organization",
        FacetField::Language => "language",
        FacetField::Country => "country",
        FacetField::Channel => "channel",
        FacetField::Industry => "industry",
        FacetField::Size => "size",
    }
}

/// The body of both search endpoints: `{"results": …}`, serialized straight from the
/// page (no intermediate JSON tree: a search answer is the hottest response there is).
#[derive(Serialize)]
pub struct SearchResults<O> {
    results: ResultsOut<O>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultsOut<O> {
    facet_counts: Vec<FacetOut>,
    found: u64,
    hits: Vec<HitOut<O>>,
    out_of: u64,
    page: u32,
    search_time_ms: u64,
}

/// A hit: the record under `record` (`contact` or `organization`), its highlights and
/// its score.
struct HitOut<O> {
    record: &'static str,
    value: O,
    highlights: Vec<HighlightOut>,
    text_match: String,
}

impl<O: Serialize> Serialize for HitOut<O> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry(self.record, &self.value)?;
        map.serialize_entry("highlights", &self.highlights)?;
        map.serialize_entry("textMatch", &self.text_match)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HighlightOut {
    field: &'static str,
    matched_tokens: Vec<String>,
    snippet: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FacetOut {
    counts: Vec<FacetCountOut>,
    field_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<FacetStatsOut>,
}

#[derive(Serialize)]
struct FacetCountOut {
    count: u64,
    highlighted: String,
    value: String,
}

#[derive(Serialize)]
struct FacetStatsOut {
    max: f64,
    avg: f64,
    min: f64,
    sum: f64,
}

/// The `results` object of both search endpoints; `record` names the hit's key.
pub fn search_results<T, O: Serialize>(
    page: SearchPage<T>,
    record: &'static str,
    render: impl Fn(T) -> O,
) -> SearchResults<O> {
    let hits = page
        .hits
        .into_iter()
        .map(|hit| HitOut {
            record,
            highlights: hit
                .highlights
                .into_iter()
                .map(|h| HighlightOut {
                    field: search_field(h.field),
                    matched_tokens: h.matched_tokens,
                    snippet: h.snippet,
                })
                .collect(),
            text_match: hit.text_match.to_string(),
            value: render(hit.record),
        })
        .collect();
    let facet_counts = page
        .facets
        .into_iter()
        .map(|facet| FacetOut {
            counts: facet
                .counts
                .into_iter()
                .map(|(value, count)| FacetCountOut {
                    count,
                    highlighted: value.clone(),
                    value,
                })
                .collect(),
            field_name: facet_field(facet.field),
            stats: facet.stats.map(|stats| FacetStatsOut {
                max: stats.max,
                avg: stats.avg,
                min: stats.min,
                sum: stats.sum,
            }),
        })
        .collect();
    SearchResults {
        results: ResultsOut {
            facet_counts,
            found: page.found,
            hits,
            out_of: page.out_of,
            page: page.page,
            search_time_ms: page.search_time_ms,
        },
    }
}
