//! Bounded free text and the small string types with rules of their own.

use std::fmt;

/// The cap on ordinary text fields (names, channel ids, address lines), as in Chatwoot.
pub const MAX_TEXT_LEN: usize = 255;

/// Trims `input` and checks it fits in `max` characters and carries no control characters
/// (they break logs, CSV exports and terminal output, and no name needs them).
pub fn bounded_text(input: &str, max: usize) -> Result<String, String> {
    let text = input.trim();
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_owned())
}

/// Case folding for every case-insensitive comparison, in Rust and in both stores' SQL
/// (`lower()`): each character on its own to its simple lower case, as PostgreSQL's
/// `lower()` does under a UTF-8 locale and as Roster's SQLite `lower()` does (the store
/// registers this function there, since SQLite's own folds ASCII only). Unlike
/// `str::to_lowercase` it never looks at context (a final `Σ` is `σ`, not `ς`) and
/// never lengthens a character (`İ` is `i`), so the same text folds the same way in all
/// three places.
pub fn fold_case(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // The one character whose lower case is two: its simple mapping is `i`.
            '\u{130}' => 'i',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

/// An id the tenant's own systems use for a contact (Chatwoot `identifier`, SalesChat
/// `crm_id`). Case-sensitive and kept exactly as given; unique per workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(input: &str) -> Result<Self, String> {
        if input.is_empty() {
            return Err("must not be empty".into());
        }
        if input.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if input.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A language tag such as `EN` or `pt-BR`, kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// BCP 47 tags are at most 35 characters in practice (RFC 5646 §4.4.1).
    pub const MAX_LEN: usize = 35;

    pub fn parse(input: &str) -> Result<Self, String> {
        let tag = input.trim();
        if tag.is_empty() {
            return Err("must not be empty".into());
        }
        if tag.len() > Self::MAX_LEN
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("must be a language code such as EN or pt-BR".into());
        }
        Ok(Self(tag.to_owned()))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `http`/`https` URL (avatars, websites), kept as the client spelled it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebUrl(String);

impl WebUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if text.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        let url = url::Url::parse(text)
            .map_err(|_| "must be an absolute URL such as https://example.com/a.png".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err("must be an http or https URL".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folds_one_character_at_a_time() {
        assert_eq!(fold_case("ÖZTÜRK"), "öztürk");
        assert_eq!(fold_case("ΣΟΦΊΑ"), "σοφία");
        // No final-sigma rule and no lengthening, as PostgreSQL's lower().
        assert_eq!(fold_case("ΟΔΥΣΣΕΥΣ"), "οδυσσευσ");
        assert_eq!(fold_case("İSTANBUL"), "istanbul");
        assert_eq!(
            fold_case("Max.Mustermann@Example.COM"),
            "max.mustermann@example.com"
        );
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(bounded_text("  Max  ", 10).unwrap(), "Max");
        assert!(bounded_text(&"x".repeat(11), 10).is_err());
        assert!(bounded_text("line\nbreak", 100).is_err());
        assert_eq!(
            bounded_text(&"ü".repeat(10), 10).unwrap().chars().count(),
            10
        );
    }

    #[test]
    fn external_ids_are_case_sensitive_and_bounded() {
        assert_eq!(ExternalId::parse("CRM-1").unwrap().as_str(), "CRM-1");
        assert_ne!(ExternalId::parse("crm-1"), ExternalId::parse("CRM-1"));
        assert!(ExternalId::parse("").is_err());
        assert!(ExternalId::parse(&"a".repeat(129)).is_err());
        assert!(ExternalId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn urls_must_be_absolute_web_urls() {
        assert!(WebUrl::parse("https://example.com/avatar.png").is_ok());
        for bad in [
            "example.com/a.png",
            "ftp://example.com/a",
            "javascript:alert(1)",
            "not a url",
            "",
        ] {
            assert!(WebUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn languages_are_short_tags() {
        assert!(Language::parse("EN").is_ok());
        assert!(Language::parse("pt-BR").is_ok());
        assert!(Language::parse("").is_err());
        assert!(Language::parse("English language").is_err());
    }
}
