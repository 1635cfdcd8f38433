//! Roster's search engine: typo-tolerant, faceted search over contacts and organizations,
//! on an embedded tantivy index derived from the store (`SearchIndex`). Ranking follows
//! Typesense: more query words matched, then fewer typos, then exact over prefix, then
//! field weight, then newest.

mod collector;
mod document;
mod highlight;
mod index;
mod matcher;
mod pool;
mod query;
mod schema;
mod text;

pub use index::{SearchIndex, FOLLOW_INTERVAL};
