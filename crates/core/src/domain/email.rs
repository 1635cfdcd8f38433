//! Email addresses: trimmed, lower-cased (`fold_case`), syntax-checked.

use std::fmt;

/// Longest address SMTP can carry (RFC 5321: 254 octets in a path).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses `local@domain`: one `@`, no white space or control characters, a domain of
    /// dot-separated labels with at least one dot. Lower-cased so that uniqueness is
    /// case-insensitive and output is stable.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = super::fold_case(input.trim());
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.chars().count() > MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an email address like name@example.com");
        };
        let forbidden =
            |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
        if local.is_empty() || local.chars().count() > MAX_LOCAL_LEN || local.contains(forbidden) {
            return Err("must be an email address like name@example.com");
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c == '-' || c.is_alphanumeric())
        };
        if !domain.contains('.') || !domain.split('.').all(label_ok) {
            return Err("must be an email address like name@example.com");
        }
        Ok(Self(email))
    }

    /// Wraps a value read back from the store, which only ever holds parsed addresses.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Max.Mustermann@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "max.mustermann@example.com");
        assert!(Email::parse("jörg@bücher.de").is_ok());
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "max@",
            "max@localhost",
            "max@@example.com",
            "max@exa mple.com",
            "ma x@example.com",
            "max@-example.com",
            "max@example..com",
            "a@b@example.com",
            "<max>@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }
}
