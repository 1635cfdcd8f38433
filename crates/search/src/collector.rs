//! One pass over the matching documents: the top `limit` by (score, created, id), the
//! number of matches, and the facet counts, all from fast columns.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentReader};

use crate::schema::FACET_SEPARATOR;

/// A hit's rank: higher score first, then newer, then higher id (deterministic), and
/// where its document is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    pub score: Score,
    pub created: i64,
    pub id: u64,
    /// The segment's position in the searcher, and the document in it.
    pub segment: usize,
    pub doc: DocId,
}

impl Eq for Rank {}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.created.cmp(&other.created))
            .then(self.id.cmp(&other.id))
    }
}

#[derive(Debug, Default)]
pub struct Collected {
    /// Best first.
    pub top: Vec<Rank>,
    pub found: u64,
    /// Per string facet field: value → count.
    pub facets: Vec<HashMap<String, u64>>,
    /// Per numeric facet: value → count, and the values' sum, min and max.
    pub numeric: Option<NumericFacet>,
    /// The organization names of the requested page's contacts, by id, as indexed.
    pub organization_names: HashMap<u64, Vec<String>>,
}

#[derive(Debug, Default, Clone)]
pub struct NumericFacet {
    pub counts: HashMap<u64, u64>,
    pub sum: f64,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl NumericFacet {
    fn add(&mut self, value: u64, count: u64) {
        *self.counts.entry(value).or_default() += count;
        self.sum += value as f64 * count as f64;
        self.min = Some(self.min.map_or(value, |min| min.min(value)));
        self.max = Some(self.max.map_or(value, |max| max.max(value)));
    }

    fn merge(&mut self, other: NumericFacet) {
        for (value, count) in other.counts {
            self.add(value, count);
        }
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The string facet columns of the schema.
pub const STRING_FACETS: [&str; 5] = [
    "facet_organization",
    "facet_language",
    "facet_country",
    "facet_channel",
    "facet_industry",
];

/// A segment's fast columns, opened once per segment and shared by every search of it
/// (opening a dictionary-encoded column is not free).
pub struct SegmentColumns {
    created: Column<i64>,
    ids: Column<u64>,
    strings: Vec<Option<StrColumn>>,
    size: Column<u64>,
}

impl SegmentColumns {
    pub fn open(segment: &SegmentReader) -> tantivy::Result<SegmentColumns> {
        let fast = segment.fast_fields();
        Ok(SegmentColumns {
            created: fast.i64("created")?,
            ids: fast.u64("id")?,
            strings: STRING_FACETS
                .iter()
                .map(|name| fast.str(name))
                .collect::<tantivy::Result<_>>()?,
            size: fast.u64("facet_size")?,
        })
    }

    /// A contact document's organization names, as indexed (from its facet values).
    pub fn organization_names(&self, doc: DocId) -> Vec<String> {
        let Some(column) = &self.strings[0] else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut bytes = Vec::new();
        for ord in column.term_ords(doc) {
            bytes.clear();
            if column.ord_to_bytes(ord, &mut bytes).unwrap_or(false) {
                names.push(unscoped(&String::from_utf8_lossy(&bytes)).to_owned());
            }
        }
        names
    }
}

/// A facet value without its scope (`42c\u{1f}Acme` → `Acme`).
fn unscoped(value: &str) -> &str {
    value.split_once(FACET_SEPARATOR).map_or(value, |(_, v)| v)
}

pub struct RankCollector {
    pub limit: usize,
    /// Names of the string facet columns to count (of `STRING_FACETS`).
    pub facets: Vec<&'static str>,
    /// Whether to count the numeric `facet_size`.
    pub numeric: bool,
    /// Ids left out before matching (they count nowhere).
    pub hidden: HashSet<u64>,
    /// Only documents holding each of these values: a string facet column's name and a
    /// scoped value (`facet_value`).
    pub filters: Vec<(&'static str, String)>,
}

pub struct RankSegment<'a> {
    segment: usize,
    hidden: &'a HashSet<u64>,
    limit: usize,
    heap: BinaryHeap<Reverse<Rank>>,
    found: u64,
    columns: &'a SegmentColumns,
    /// Per counted facet: its column and the count of each term ordinal.
    facets: Vec<(Option<&'a StrColumn>, OrdCounts)>,
    numeric: Option<NumericFacet>,
    /// Per filter: the column and the value's ordinal in this segment; `None` when the
    /// segment has no such value, so nothing in it matches.
    filters: Option<Vec<(&'a StrColumn, u64)>>,
}

impl RankCollector {
    /// Collects from the searcher's `segment`-th segment.
    pub fn for_segment<'a>(
        &'a self,
        segment: usize,
        columns: &'a SegmentColumns,
    ) -> RankSegment<'a> {
        let facets = self
            .facets
            .iter()
            .map(|name| {
                let column = STRING_FACETS
                    .iter()
                    .position(|facet| facet == name)
                    .and_then(|at| columns.strings[at].as_ref());
                (column, OrdCounts::default())
            })
            .collect();
        let filters = self
            .filters
            .iter()
            .map(|(name, value)| {
                let column = STRING_FACETS
                    .iter()
                    .position(|facet| facet == name)
                    .and_then(|at| columns.strings[at].as_ref())?;
                let ord = column.dictionary().term_ord(value.as_bytes()).ok()??;
                Some((column, ord))
            })
            .collect();
        RankSegment {
            segment,
            hidden: &self.hidden,
            limit: self.limit,
            heap: BinaryHeap::with_capacity(self.limit + 1),
            found: 0,
            columns,
            facets,
            numeric: self.numeric.then(NumericFacet::default),
            filters,
        }
    }

    pub fn merge(&self, fruits: Vec<Collected>) -> Collected {
        let mut merged = Collected {
            facets: vec![HashMap::new(); self.facets.len()],
            ..Collected::default()
        };
        let mut numeric: Option<NumericFacet> = None;
        for fruit in fruits {
            merged.found += fruit.found;
            merged.top.extend(fruit.top);
            for (into, from) in merged.facets.iter_mut().zip(fruit.facets) {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
            }
            if let Some(segment_numeric) = fruit.numeric {
                numeric
                    .get_or_insert_with(NumericFacet::default)
                    .merge(segment_numeric);
            }
        }
        merged.top.sort_unstable_by(|a, b| b.cmp(a));
        merged.top.truncate(self.limit);
        merged.numeric = numeric.or(self.numeric.then(NumericFacet::default));
        merged
    }
}

impl RankSegment<'_> {
    pub fn collect(&mut self, doc: DocId, score: Score) {
        match &self.filters {
            None => return,
            Some(filters) => {
                let holds =
                    |(column, ord): &(&StrColumn, u64)| column.term_ords(doc).any(|o| o == *ord);
                if !filters.iter().all(holds) {
                    return;
                }
            }
        }
        let id = |columns: &SegmentColumns| columns.ids.first(doc).unwrap_or(0);
        if !self.hidden.is_empty() && self.hidden.contains(&id(self.columns)) {
            return;
        }
        self.found += 1;
        let full = self.heap.len() >= self.limit;
        let worst = self.heap.peek().map(|Reverse(worst)| *worst);
        // Most matches of a large result score below the page: skip reading their columns.
        if !full || worst.is_some_and(|worst| score >= worst.score) {
            let rank = Rank {
                score,
                created: self.columns.created.first(doc).unwrap_or(0),
                id: id(self.columns),
                segment: self.segment,
                doc,
            };
            if !full {
                self.heap.push(Reverse(rank));
            } else if worst.is_some_and(|worst| rank > worst) {
                // Replaces the worst in place: one sift instead of a pop and a push.
                if let Some(mut worst) = self.heap.peek_mut() {
                    *worst = Reverse(rank);
                }
            }
        }
        for (column, counts) in &mut self.facets {
            if let Some(column) = column {
                column.term_ords(doc).for_each(|ord| counts.add(ord));
            }
        }
        if let Some(facet) = &mut self.numeric {
            if let Some(value) = self.columns.size.first(doc) {
                facet.add(value, 1);
            }
        }
    }

    pub fn harvest(self) -> Collected {
        let facets = self
            .facets
            .into_iter()
            .map(|(column, counts)| column.map(|c| facet_values(c, counts)).unwrap_or_default())
            .collect();
        let mut top: Vec<Rank> = self.heap.into_iter().map(|Reverse(rank)| rank).collect();
        top.sort_unstable_by(|a, b| b.cmp(a));
        Collected {
            top,
            found: self.found,
            facets,
            numeric: self.numeric,
            organization_names: HashMap::new(),
        }
    }
}

/// Counts per term ordinal of a facet column. A workspace's values are one contiguous
/// run of ordinals (they share its scope), so the counts are usually an array over that
/// run; ordinals further apart than `DENSE_SPAN` go to a map.
#[derive(Default)]
struct OrdCounts {
    base: u64,
    dense: Vec<u64>,
    sparse: FastMap<u64, u64>,
}

const DENSE_SPAN: u64 = 1 << 16;

impl OrdCounts {
    fn add(&mut self, ord: u64) {
        if self.dense.is_empty() {
            self.base = ord;
        }
        let end = self.base + self.dense.len() as u64;
        if ord >= self.base && ord < end {
            self.dense[(ord - self.base) as usize] += 1;
        } else if ord >= end && ord - self.base < DENSE_SPAN {
            self.dense.resize((ord - self.base) as usize + 1, 0);
            self.dense[(ord - self.base) as usize] += 1;
        } else if ord < self.base && end - ord <= DENSE_SPAN {
            let grow = (self.base - ord) as usize;
            self.dense.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = ord;
            self.dense[0] += 1;
        } else {
            *self.sparse.entry(ord).or_default() += 1;
        }
    }

    /// The counted ordinals with their counts, in ordinal order.
    fn sorted(self) -> Vec<(u64, u64)> {
        let base = self.base;
        let mut counts: Vec<(u64, u64)> = self
            .dense
            .into_iter()
            .enumerate()
            .filter(|(_, count)| *count > 0)
            .map(|(at, count)| (base + at as u64, count))
            .chain(self.sparse)
            .collect();
        if !counts.is_sorted() {
            counts.sort_unstable();
        }
        counts
    }
}

/// Facet counts by value. The segment's ordinals are resolved in one ordered pass over
/// the column's dictionary, and each value loses its scope (`42c\u{1f}Acme` → `Acme`).
fn facet_values(column: &StrColumn, counts: OrdCounts) -> HashMap<String, u64> {
    let counts = counts.sorted();
    let ords: Vec<u64> = counts.iter().map(|(ord, _)| *ord).collect();
    let mut named = HashMap::with_capacity(counts.len());
    let mut next = counts.iter();
    let resolved = column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        if let Some((_, count)) = next.next() {
            let value = String::from_utf8_lossy(bytes);
            let value = value
                .split_once(FACET_SEPARATOR)
                .map_or(&*value, |(_, v)| v);
            named.insert(value.to_owned(), *count);
        }
    });
    if let Err(err) = resolved {
        tracing::warn!(%err, "facet values could not be read");
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinal_counts_come_back_in_order_however_they_arrive() {
        let mut counts = OrdCounts::default();
        for ord in [50, 52, 50, 40, 52, 52, 50 + DENSE_SPAN * 2, 3] {
            counts.add(ord);
        }
        assert_eq!(
            counts.sorted(),
            [(3, 1), (40, 1), (50, 2), (52, 3), (50 + DENSE_SPAN * 2, 1)]
        );
        assert!(OrdCounts::default().sorted().is_empty());
    }
}
