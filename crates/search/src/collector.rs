//! One pass over the matching documents: the top `limit` by (score, created, id), the
//! number of matches, and the facet counts, all from fast columns.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentReader};

/// A hit's rank: higher score first, then newer, then higher id (deterministic).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    pub score: Score,
    pub created: i64,
    pub id: u64,
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

pub struct RankCollector {
    pub limit: usize,
    /// Names of the string fast fields to count.
    pub facets: Vec<&'static str>,
    /// Name of the numeric fast field to count, if any.
    pub numeric: Option<&'static str>,
    /// Ids left out before matching (they count nowhere).
    pub hidden: HashSet<u64>,
}

pub struct RankSegment<'a> {
    hidden: &'a HashSet<u64>,
    limit: usize,
    heap: BinaryHeap<Reverse<Rank>>,
    found: u64,
    created: Column<i64>,
    ids: Column<u64>,
    facets: Vec<(Option<StrColumn>, HashMap<u64, u64>)>,
    numeric: Option<(Column<u64>, NumericFacet)>,
}

impl RankCollector {
    pub fn for_segment(&self, segment: &SegmentReader) -> tantivy::Result<RankSegment<'_>> {
        let fast = segment.fast_fields();
        let facets = self
            .facets
            .iter()
            .map(|name| Ok((fast.str(name)?, HashMap::new())))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let numeric = match self.numeric {
            Some(name) => Some((fast.u64(name)?, NumericFacet::default())),
            None => None,
        };
        Ok(RankSegment {
            hidden: &self.hidden,
            limit: self.limit,
            heap: BinaryHeap::with_capacity(self.limit + 1),
            found: 0,
            created: fast.i64("created")?,
            ids: fast.u64("id")?,
            facets,
            numeric,
        })
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
        merged.numeric = numeric.or(self.numeric.map(|_| NumericFacet::default()));
        merged
    }
}

impl RankSegment<'_> {
    pub fn collect(&mut self, doc: DocId, score: Score) {
        let id = self.ids.first(doc).unwrap_or(0);
        if self.hidden.contains(&id) {
            return;
        }
        self.found += 1;
        if self.limit > 0 {
            let rank = Rank {
                score,
                created: self.created.first(doc).unwrap_or(0),
                id,
            };
            if self.heap.len() < self.limit {
                self.heap.push(Reverse(rank));
            } else if self.heap.peek().is_some_and(|Reverse(worst)| rank > *worst) {
                self.heap.pop();
                self.heap.push(Reverse(rank));
            }
        }
        for (column, counts) in &mut self.facets {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    *counts.entry(ord).or_default() += 1;
                }
            }
        }
        if let Some((column, facet)) = &mut self.numeric {
            if let Some(value) = column.first(doc) {
                facet.add(value, 1);
            }
        }
    }

    pub fn harvest(self) -> Collected {
        let facets = self
            .facets
            .into_iter()
            .map(|(column, counts)| {
                let mut named = HashMap::with_capacity(counts.len());
                if let Some(column) = column {
                    let mut text = String::new();
                    for (ord, count) in counts {
                        text.clear();
                        if column.ord_to_str(ord, &mut text).unwrap_or(false) {
                            named.insert(text.clone(), count);
                        }
                    }
                }
                named
            })
            .collect();
        let mut top: Vec<Rank> = self.heap.into_iter().map(|Reverse(rank)| rank).collect();
        top.sort_unstable_by(|a, b| b.cmp(a));
        Collected {
            top,
            found: self.found,
            facets,
            numeric: self.numeric.map(|(_, facet)| facet),
        }
    }
}
