//! From a query string to what the matcher looks up: the query's words, each with the
//! typo automata it needs (built once per search, shared by every field and segment),
//! and the score each way of matching earns.
//!
//! Scores encode Roster's ranking: more query words matched > fewer typos > exact over
//! prefix > field weight. Each word adds the score of the best way it matched, and the
//! units are far enough apart that the sum orders like that tuple. Newest first breaks
//! ties in the collector.

use std::sync::{LazyLock, OnceLock};

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA};

use crate::text::{allowed_typos, fold_whole, phone_digits, words, Match};
use roster_core::search::SearchField;

/// More words than this are ignored: they add little but cost a lot.
pub const MAX_WORDS: usize = 10;

const WORD: f32 = 100_000.0;
const TYPO: f32 = 1_000.0;
const PREFIX: f32 = 100.0;

/// Levenshtein automaton builders for one and two edits, a transposition being one edit.
/// Building one is costly; building a word's automaton from it is cheap.
static BUILDERS: LazyLock<[LevenshteinAutomatonBuilder; 2]> = LazyLock::new(|| {
    [
        LevenshteinAutomatonBuilder::new(1, true),
        LevenshteinAutomatonBuilder::new(2, true),
    ]
});

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

/// Whether typos are tried in a field. Names and company words are; emails, ids, phones
/// and channel ids are unique per record, so their term dictionaries are as large as the
/// tenant, and a typo there is rarely what a user means: they match as typed or by prefix.
pub fn typo_tolerant(field: SearchField) -> bool {
    matches!(
        field,
        SearchField::Name | SearchField::Organizations | SearchField::Industry
    )
}

/// One word of a query, ready to be looked up.
pub struct WordPlan {
    pub text: String,
    /// The last word also matches as a prefix.
    pub prefix: bool,
    /// Only digits: it can match a phone number.
    pub digits: bool,
    /// Typos allowed in typo-tolerant fields.
    pub budget: u8,
    /// Accepts the words within `budget` edits (of a prefix, for the last word): walks
    /// the term dictionary.
    pub search: Option<DFA>,
    /// Accepts whole words within `budget` edits: tells a typo from a typo in a prefix
    /// (built the first time a prefix word needs it).
    whole_word: OnceLock<DFA>,
}

impl WordPlan {
    /// A word to look up; with `typos`, within the typo budget of its length.
    fn new(text: &str, prefix: bool, typos: bool) -> WordPlan {
        let budget = if typos { allowed_typos(text) } else { 0 };
        let search = (budget > 0).then(|| {
            let builder = &BUILDERS[usize::from(budget) - 1];
            if prefix {
                builder.build_prefix_dfa(text)
            } else {
                builder.build_dfa(text)
            }
        });
        WordPlan {
            text: text.to_owned(),
            prefix,
            digits: text.bytes().all(|b| b.is_ascii_digit()),
            budget,
            search,
            whole_word: OnceLock::new(),
        }
    }

    /// How an indexed word the automaton accepted matches this one.
    pub fn classify(&self, candidate: &str) -> Option<Match> {
        if candidate == self.text {
            return Some(Match::Exact);
        }
        if self.prefix && candidate.starts_with(&self.text) {
            return Some(Match::Prefix);
        }
        let distance = |dfa: &DFA| match dfa.eval(candidate) {
            Distance::Exact(d) if d > 0 && d <= self.budget => Some(d),
            _ => None,
        };
        let search = self.search.as_ref()?;
        if !self.prefix {
            return distance(search).map(Match::Typo);
        }
        let whole_word = self
            .whole_word
            .get_or_init(|| BUILDERS[usize::from(self.budget) - 1].build_dfa(&self.text));
        if let Some(d) = distance(whole_word) {
            return Some(Match::Typo(d));
        }
        distance(search).map(Match::TypoPrefix)
    }
}

/// What one query word looks for: one word, or a punctuated chunk (an email address, an
/// id) as a whole and as all of its inner words.
pub enum WordLookup {
    Word(WordPlan),
    Chunk {
        /// The chunk as typed, looked up among whole values; by prefix when last.
        whole: WordPlan,
        /// Every inner word must match; the last may be a prefix if the chunk is last.
        parts: Vec<WordPlan>,
    },
}

impl WordLookup {
    /// Whether a record's word is one this query word matched (for highlights): by the
    /// same rules as the index, typos only where the field allows them.
    pub fn matches(&self, candidate: &str, typos: bool) -> bool {
        match self {
            WordLookup::Word(word) => word
                .classify(candidate)
                .is_some_and(|how| typos || matches!(how, Match::Exact | Match::Prefix)),
            WordLookup::Chunk { parts, .. } => {
                parts.iter().any(|part| part.classify(candidate).is_some())
            }
        }
    }
}

/// A whole search: each word's lookup and the phone digits.
pub struct Plan {
    pub words: Vec<WordLookup>,
    pub phone: Option<WordPlan>,
    pub match_all: bool,
}

impl Plan {
    pub fn new(parsed: &ParsedQuery) -> Plan {
        let words = parsed
            .words
            .iter()
            .map(|word| {
                if word.parts.len() == 1 {
                    WordLookup::Word(WordPlan::new(&word.parts[0], word.last, true))
                } else {
                    let count = word.parts.len();
                    WordLookup::Chunk {
                        whole: WordPlan::new(&word.whole, word.last, false),
                        parts: word
                            .parts
                            .iter()
                            .enumerate()
                            // Inner words match as typed: no typos inside a chunk.
                            .map(|(i, part)| {
                                WordPlan::new(part, word.last && i + 1 == count, false)
                            })
                            .collect(),
                    }
                }
            })
            .collect();
        Plan {
            words,
            phone: parsed
                .phone
                .as_deref()
                .map(|digits| WordPlan::new(digits, true, false)),
            match_all: parsed.match_all,
        }
    }

    /// Every record of a scope, as a blank query lists them.
    pub fn everything() -> Plan {
        Plan {
            words: Vec::new(),
            phone: None,
            match_all: true,
        }
    }

    /// What a phone match scores: as if every word had matched, by prefix, in the phone
    /// field.
    pub fn phone_score(&self, weight: u32) -> f32 {
        self.words.len().max(1) as f32 * WORD - PREFIX + weight as f32
    }
}

/// The score of one word's match in a field of this weight.
pub fn score(how: Match, weight: u32) -> f32 {
    let penalty = match how {
        Match::Exact => 0.0,
        Match::Prefix => PREFIX,
        Match::Typo(typos) => f32::from(typos) * TYPO,
        Match::TypoPrefix(typos) => f32::from(typos) * TYPO + PREFIX,
    };
    WORD - penalty + weight as f32
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

    #[test]
    fn words_classify_their_candidates_like_the_highlighter() {
        let last = WordPlan::new("jonh", true, true);
        assert_eq!(last.classify("jonh"), Some(Match::Exact));
        assert_eq!(last.classify("jonhs"), Some(Match::Prefix));
        assert_eq!(last.classify("john"), Some(Match::Typo(1)));
        assert_eq!(last.classify("johnson"), Some(Match::TypoPrefix(1)));
        assert_eq!(last.classify("maria"), None);
        let inner = WordPlan::new("jonh", false, true);
        assert_eq!(inner.classify("john"), Some(Match::Typo(1)));
        assert_eq!(inner.classify("jonhs"), Some(Match::Typo(1)));
        assert_eq!(inner.classify("johnson"), None);
        let long = WordPlan::new("mcihael", false, true);
        assert_eq!(long.classify("michael"), Some(Match::Typo(1)));
        assert_eq!(long.classify("micheal"), Some(Match::Typo(2)));
        assert_eq!(
            WordPlan::new("jon", false, true).classify("john"),
            None,
            "3 letters allow no typo"
        );
        assert_eq!(
            WordPlan::new("1234567", true, true).classify("1234568"),
            None,
            "digits allow no typo"
        );
    }

    #[test]
    fn highlights_take_typos_only_where_the_field_allows_them() {
        let plan = Plan::new(&ParsedQuery::parse("jhon max.muster"));
        let [jhon, chunk] = &plan.words[..] else {
            panic!("two words")
        };
        assert!(jhon.matches("john", true));
        assert!(!jhon.matches("john", false), "a field without typos");
        assert!(jhon.matches("jhon", false));
        assert!(chunk.matches("max", false));
        assert!(
            chunk.matches("mustermann", false),
            "the last part by prefix"
        );
        assert!(!chunk.matches("maxx", true), "no typos inside a chunk");
    }

    #[test]
    fn the_score_orders_words_then_typos_then_prefix_then_field() {
        let name = 6;
        let phone = 3;
        assert!(score(Match::Typo(2), 1) + score(Match::Typo(2), 1) > score(Match::Exact, name));
        assert!(score(Match::Typo(1), 1) > score(Match::Typo(2), name));
        assert!(score(Match::TypoPrefix(1), 1) > score(Match::Typo(2), name));
        assert!(score(Match::Typo(1), 1) > score(Match::TypoPrefix(1), name));
        assert!(score(Match::Exact, 1) > score(Match::Prefix, name));
        assert!(score(Match::Exact, name) > score(Match::Exact, phone));
    }
}
