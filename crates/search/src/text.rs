//! The one place that decides what a "word" is, for documents, queries and highlights
//! alike: lower-cased, ASCII-folded (`Müller` → `muller`), split on anything that is not
//! a letter or digit. Typo rules (Typesense's) live here too.

use std::sync::LazyLock;

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream,
};

static ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(|| {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
});

/// A word of a text with its byte span in the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub folded: String,
    pub start: usize,
    pub end: usize,
}

/// The words of `text`, folded, with their spans.
pub fn words(text: &str) -> Vec<Word> {
    let mut analyzer = ANALYZER.clone();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        let token = stream.token();
        words.push(Word {
            folded: token.text.clone(),
            start: token.offset_from,
            end: token.offset_to,
        });
    }
    words
}

/// Folds a whole value (an email address, an external id) without splitting it.
pub fn fold_whole(text: &str) -> String {
    let parts = words(text);
    if parts.len() <= 1 {
        return parts
            .into_iter()
            .next()
            .map(|w| w.folded)
            .unwrap_or_default();
    }
    // Rebuild the value with its separators, folding each word in place.
    let mut folded = String::with_capacity(text.len());
    let mut at = 0;
    for word in parts {
        folded.push_str(&text[at..word.start].to_lowercase());
        folded.push_str(&word.folded);
        at = word.end;
    }
    folded.push_str(&text[at..].to_lowercase());
    folded
}

/// How many typos a query word of this many characters may carry: 1 from 4 letters,
/// 2 from 7. Words of digits only get none (phone fragments match by prefix instead).
pub fn allowed_typos(word: &str) -> u8 {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match word.chars().count() {
        0..=3 => 0,
        4..=6 => 1,
        _ => 2,
    }
}

/// How a document word matches a query word, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Exact,
    Prefix,
    Typo(u8),
    /// A prefix of the word, with typos (`jonh` in `johnson`).
    TypoPrefix(u8),
}

/// The digits of a phone-like query (`+49 (176) 1234-56`), or `None` when the query has
/// anything but digits and phone punctuation, or fewer than three digits.
pub fn phone_digits(query: &str) -> Option<String> {
    let phone_like = query
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-().//".contains(c));
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    if !phone_like || digits.len() < 3 {
        return None;
    }
    // A national trunk prefix (the 0 of "0176 …") is not part of the stored number.
    let trimmed = if query.trim_start().starts_with('+') {
        digits.as_str()
    } else {
        digits.trim_start_matches('0')
    };
    (trimmed.len() >= 3).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_keep_their_spans() {
        let found = words("Jörg Müller-Lüdenscheidt");
        let folded: Vec<&str> = found.iter().map(|w| w.folded.as_str()).collect();
        assert_eq!(folded, ["jorg", "muller", "ludenscheidt"]);
        assert_eq!(
            &"Jörg Müller-Lüdenscheidt"[found[1].start..found[1].end],
            "Müller"
        );
        assert_eq!(
            fold_whole("Max.Müller@Example.COM"),
            "max.muller@example.com"
        );
    }

    #[test]
    fn typo_budget_follows_word_length() {
        assert_eq!(allowed_typos("max"), 0);
        assert_eq!(allowed_typos("anna"), 1);
        assert_eq!(allowed_typos("michael"), 2);
        assert_eq!(allowed_typos("1234567"), 0);
    }

    #[test]
    fn phone_queries_are_recognised_by_shape() {
        assert_eq!(phone_digits("0176 1234").as_deref(), Some("1761234"));
        assert_eq!(phone_digits("+49 176 1234").as_deref(), Some("491761234"));
        assert_eq!(phone_digits("(176) 123").as_deref(), Some("176123"));
        assert_eq!(phone_digits("4917612345").as_deref(), Some("4917612345"));
        assert_eq!(phone_digits("max 176"), None);
        assert_eq!(phone_digits("12"), None);
    }
}
