//! From a query string to a tantivy query whose score encodes Roster's ranking:
//! more query words matched > fewer typos > exact over prefix > field weight. Each word
//! adds one disjunction (the best way it matched counts), and the scores of words add
//! up; the units are far enough apart that the sum orders like that tuple. Newest first
//! breaks ties in the collector.

use roster_core::domain::WorkspaceId;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::schema::Fields;
use crate::text::{allowed_typos, fold_whole, phone_digits, words};
use roster_core::search::SearchField;

/// More words than this are ignored: they add little but cost a lot.
pub const MAX_WORDS: usize = 10;

const WORD: f32 = 100_000.0;
const TYPO: f32 = 1_000.0;
const PREFIX: f32 = 100.0;

/// A query word: the whole whitespace-separated chunk, folded, and its inner words
/// (`max.mustermann@example.com` has four).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub whole: String,
    pub parts: Vec<String>,
    /// Only the last word may match as a prefix.
    pub last: bool,
}

/// The parsed query: its words and, for a phone-like query, its digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<QueryWord>,
    pub phone: Option<String>,
    /// Blank or `*`: list everything.
    pub match_all: bool,
}

impl ParsedQuery {
    pub fn parse(query: &str) -> ParsedQuery {
        let query = query.trim();
        if query.is_empty() || query == "*" {
            return ParsedQuery {
                words: Vec::new(),
                phone: None,
                match_all: true,
            };
        }
        let chunks: Vec<&str> = query.split_whitespace().take(MAX_WORDS).collect();
        let count = chunks.len();
        let words = chunks
            .into_iter()
            .enumerate()
            .filter_map(|(i, chunk)| {
                let parts: Vec<String> = words(chunk).into_iter().map(|w| w.folded).collect();
                let whole = fold_whole(chunk.trim_matches(|c: char| !c.is_alphanumeric()));
                (!parts.is_empty()).then_some(QueryWord {
                    whole,
                    parts,
                    last: i + 1 == count,
                })
            })
            .collect();
        ParsedQuery {
            words,
            phone: phone_digits(query),
            match_all: false,
        }
    }
}

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn scored(query: Box<dyn Query>, score: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, score))
}

/// Whether typos are tried in a field. Names and company words are; emails, ids, phones
/// and channel ids are unique per record, so their term dictionaries are as large as the
/// tenant, and a typo there is rarely what a user means: they match as typed or by prefix.
pub fn typo_tolerant(field: SearchField) -> bool {
    matches!(
        field,
        SearchField::Name | SearchField::Organizations | SearchField::Industry
    )
}

/// Every way one term can match in one field, each scored by how good a match it is.
fn term_alternatives(
    field_kind: SearchField,
    field: Field,
    weight: f32,
    text: &str,
    prefix: bool,
    out: &mut Vec<Box<dyn Query>>,
) {
    let exact = Box::new(TermQuery::new(term(field, text), IndexRecordOption::Basic));
    out.push(scored(exact, WORD + weight));
    if prefix {
        let starts = Box::new(FuzzyTermQuery::new_prefix(term(field, text), 0, true));
        out.push(scored(starts, WORD - PREFIX + weight));
    }
    let budget = if typo_tolerant(field_kind) {
        allowed_typos(text)
    } else {
        0
    };
    for typos in 1..=budget {
        let penalty = f32::from(typos) * TYPO;
        let fuzzy = Box::new(FuzzyTermQuery::new(term(field, text), typos, true));
        out.push(scored(fuzzy, WORD - penalty + weight));
        if prefix {
            let fuzzy_prefix = Box::new(FuzzyTermQuery::new_prefix(term(field, text), typos, true));
            out.push(scored(fuzzy_prefix, WORD - penalty - PREFIX + weight));
        }
    }
}

/// The scoring part of a search: matches at least one word (or the phone digits).
pub fn text_query(
    parsed: &ParsedQuery,
    searched: &[(Field, u32, roster_core::search::SearchField)],
    phone_field: Field,
) -> Box<dyn Query> {
    let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for word in &parsed.words {
        let mut alternatives = Vec::new();
        for &(field, weight, field_kind) in searched {
            term_alternatives(
                field_kind,
                field,
                weight as f32,
                &word.whole,
                word.last,
                &mut alternatives,
            );
            if word.parts.len() > 1 {
                // `jean-luc` also matches a name with the words `jean` and `luc`.
                let all_parts: Vec<(Occur, Box<dyn Query>)> = word
                    .parts
                    .iter()
                    .enumerate()
                    .map(|(i, part)| {
                        let prefix = word.last && i + 1 == word.parts.len();
                        let query: Box<dyn Query> = if prefix {
                            Box::new(FuzzyTermQuery::new_prefix(term(field, part), 0, true))
                        } else {
                            Box::new(TermQuery::new(term(field, part), IndexRecordOption::Basic))
                        };
                        (Occur::Must, query)
                    })
                    .collect();
                let penalty = if word.last { PREFIX } else { 0.0 };
                alternatives.push(scored(
                    Box::new(BooleanQuery::new(all_parts)),
                    WORD - penalty + weight as f32,
                ));
            }
        }
        per_word.push((
            Occur::Should,
            Box::new(DisjunctionMaxQuery::new(alternatives)),
        ));
    }
    if let Some(digits) = &parsed.phone {
        // A phone-like query counts as every word matched, in the phone field.
        let words = parsed.words.len().max(1) as f32;
        let weight = searched
            .iter()
            .find(|(f, _, _)| *f == phone_field)
            .map_or(0, |(_, w, _)| *w) as f32;
        let starts = Box::new(FuzzyTermQuery::new_prefix(
            term(phone_field, digits),
            0,
            true,
        ));
        per_word.push((
            Occur::Should,
            scored(starts, words * WORD - PREFIX + weight),
        ));
    }
    Box::new(BooleanQuery::new(per_word))
}

/// The whole query: the text part (or everything) within one workspace and kind, minus
/// the hidden ids.
pub fn scoped(
    fields: &Fields,
    workspace: WorkspaceId,
    kind: u64,
    text: Option<Box<dyn Query>>,
    hidden: &[i64],
) -> Box<dyn Query> {
    let filter = |field: Field, value: u64| -> Box<dyn Query> {
        scored(
            Box::new(TermQuery::new(
                Term::from_field_u64(field, value),
                IndexRecordOption::Basic,
            )),
            0.0,
        )
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
        (
            Occur::Must,
            filter(fields.workspace, workspace.get() as u64),
        ),
        (Occur::Must, filter(fields.kind, kind)),
        (
            Occur::Must,
            text.unwrap_or_else(|| scored(Box::new(AllQuery), 0.0)),
        ),
    ];
    if !hidden.is_empty() {
        let ids = hidden
            .iter()
            .filter(|id| **id > 0)
            .map(|&id| Term::from_field_u64(fields.id, id as u64));
        clauses.push((Occur::MustNot, Box::new(TermSetQuery::new(ids))));
    }
    Box::new(BooleanQuery::new(clauses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_words_with_the_last_one_open() {
        let parsed = ParsedQuery::parse("  Jörg max.mustermann@example.com ");
        assert_eq!(parsed.words.len(), 2);
        assert_eq!(parsed.words[0].whole, "jorg");
        assert!(!parsed.words[0].last);
        assert_eq!(parsed.words[1].whole, "max.mustermann@example.com");
        assert_eq!(
            parsed.words[1].parts,
            ["max", "mustermann", "example", "com"]
        );
        assert!(parsed.words[1].last);
        assert!(ParsedQuery::parse(" * ").match_all);
        assert!(ParsedQuery::parse("").match_all);
        assert!(!ParsedQuery::parse("!!").match_all);
        assert_eq!(
            ParsedQuery::parse("+49 176").phone.as_deref(),
            Some("49176")
        );
    }
}
