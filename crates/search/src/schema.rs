//! The index schema and the shape of its terms. One index holds both contacts and
//! organizations of every workspace.
//!
//! Every searchable term starts with its record's *scope* — workspace and kind, e.g.
//! `42c` — and a marker saying what follows (a word, a whole value or the start of a
//! word). A search only ever reads the part of each term dictionary under its own scope,
//! so tenants never meet and a large tenant never slows a small one down. Words are
//! pre-computed (see `text.rs`) and stored as raw terms, so the index and the
//! highlighter agree on what a word is. Facet fields are fast columns read by the
//! collector.

use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};

use roster_core::domain::WorkspaceId;
use roster_core::model::RecordKind;
use roster_core::search::SearchField;

/// Words as short as this are also indexed by their beginnings (`Start` terms), so a
/// one- to three-letter prefix is one term lookup rather than thousands.
pub const START_LENGTH: usize = 3;

/// What a searchable term holds after its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TermKind {
    /// A folded word of the field (`muller`).
    Word,
    /// A whole folded value with its punctuation (`max.muller@example.com`).
    Whole,
    /// The first one to `START_LENGTH` letters of a word (`m`, `mu`, `mul`).
    Start,
}

impl TermKind {
    /// Control characters never occur in folded text, and each marker sorts the scope's
    /// terms of one kind into one contiguous range.
    fn marker(self) -> char {
        match self {
            TermKind::Word => '\u{1f}',
            TermKind::Whole => '\u{1e}',
            TermKind::Start => '\u{1d}',
        }
    }
}

/// The scope of a workspace's records of one kind: `{workspace}c` or `{workspace}o`.
/// The kind letter ends the digits, so no scope is a prefix of another.
pub fn scope(workspace: WorkspaceId, kind: RecordKind) -> String {
    let letter = match kind {
        RecordKind::Contact => 'c',
        RecordKind::Organization => 'o',
    };
    format!("{}{letter}", workspace.get())
}

/// The text of a searchable term: scope, marker, value.
pub fn term_text(scope: &str, kind: TermKind, value: &str) -> String {
    let mut text = String::with_capacity(scope.len() + 1 + value.len());
    text.push_str(scope);
    text.push(kind.marker());
    text.push_str(value);
    text
}

/// Facet values carry their scope too (`42c\u{1f}Acme`), so one workspace's values sit
/// together in a column's dictionary and are read back in one short pass.
pub const FACET_SEPARATOR: char = '\u{1f}';

pub fn facet_value(scope: &str, value: &str) -> String {
    format!("{scope}{FACET_SEPARATOR}{value}")
}

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The record's scope, once per document: lists and counts a workspace's records.
    pub scope: Field,
    pub id: Field,
    /// `kind/workspace/id`: the term a document is replaced or deleted by.
    pub key: Field,
    pub created: Field,
    pub name: Field,
    pub email: Field,
    pub external_id: Field,
    pub phone: Field,
    pub channel: Field,
    pub organization: Field,
    pub website: Field,
    pub industry: Field,
    pub facet_organization: Field,
    pub facet_language: Field,
    pub facet_country: Field,
    pub facet_channel: Field,
    pub facet_industry: Field,
    pub facet_size: Field,
}

/// A searched field: where its terms are, how much a match in it weighs (higher wins
/// ties on words and typos), and what it reports in highlights.
#[derive(Debug, Clone, Copy)]
pub struct Searched {
    pub field: Field,
    pub weight: u32,
    pub kind: SearchField,
}

/// A field of raw terms, found by term only: no frequencies, positions or norms.
fn terms() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    )
}

/// A facet: a column of raw values, counted by the collector, never looked up.
fn facet() -> TextOptions {
    TextOptions::default().set_fast("raw")
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let fields = Fields {
            scope: builder.add_text_field("scope", terms()),
            id: builder.add_u64_field("id", FAST),
            key: builder.add_text_field("key", terms()),
            created: builder.add_i64_field("created", FAST),
            name: builder.add_text_field("name", terms()),
            email: builder.add_text_field("email", terms()),
            external_id: builder.add_text_field("external_id", terms()),
            phone: builder.add_text_field("phone", terms()),
            channel: builder.add_text_field("channel", terms()),
            organization: builder.add_text_field("organization", terms()),
            website: builder.add_text_field("website", terms()),
            industry: builder.add_text_field("industry", terms()),
            facet_organization: builder.add_text_field("facet_organization", facet()),
            facet_language: builder.add_text_field("facet_language", facet()),
            facet_country: builder.add_text_field("facet_country", facet()),
            facet_channel: builder.add_text_field("facet_channel", facet()),
            facet_industry: builder.add_text_field("facet_industry", facet()),
            facet_size: builder.add_u64_field("facet_size", FAST),
        };
        (builder.build(), fields)
    }

    /// The text fields a kind is searched in, best weight first.
    pub fn searched(&self, kind: RecordKind) -> Vec<Searched> {
        let field = |field, weight, kind| Searched {
            field,
            weight,
            kind,
        };
        if kind == RecordKind::Contact {
            vec![
                field(self.name, 6, SearchField::Name),
                field(self.email, 5, SearchField::Email),
                field(self.external_id, 4, SearchField::ExternalId),
                field(self.phone, 3, SearchField::Phone),
                field(
                    self.channel,
                    2,
                    SearchField::Channel(roster_core::model::Channel::Whatsapp),
                ),
                field(self.organization, 1, SearchField::Organizations),
            ]
        } else {
            vec![
                field(self.name, 6, SearchField::Name),
                field(self.email, 5, SearchField::Email),
                field(self.website, 4, SearchField::Website),
                field(self.phone, 3, SearchField::Phone),
                field(self.industry, 2, SearchField::Industry),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_scope_is_a_prefix_of_another() {
        let one = scope(WorkspaceId::from_stored(1), RecordKind::Contact);
        let twelve = scope(WorkspaceId::from_stored(12), RecordKind::Contact);
        assert_eq!(one, "1c");
        assert!(!twelve.starts_with(&one));
        assert_ne!(
            one,
            scope(WorkspaceId::from_stored(1), RecordKind::Organization)
        );
        assert_eq!(term_text(&one, TermKind::Word, "anna"), "1c\u{1f}anna");
    }
}
