//! Integer ids. Every id fits below 2^53 so JavaScript clients never lose precision, and
//! ChatCaptain/SalesChat (strings) and Chatwoot (numbers) render the same value.

use std::fmt;
use std::str::FromStr;

/// The largest id Roster hands out: 2^53 - 1.
pub const MAX_ID: i64 = (1 << 53) - 1;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Wraps an id that came from the store (already known to be in range).
            pub const fn from_stored(id: i64) -> Self {
                Self(id)
            }

            /// Accepts an id in `1..=MAX_ID`.
            pub fn new(id: i64) -> Option<Self> {
                (1..=MAX_ID).contains(&id).then_some(Self(id))
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = &'static str;

            /// Parses the decimal form used in paths and string ids. Leading `+`, zeros
            /// padding or white space are refused so that each id has one spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                const REASON: &str = "must be a positive integer id";
                if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(REASON);
                }
                s.parse::<i64>().ok().and_then(Self::new).ok_or(REASON)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A tenant: ChatCaptain chatbot, Chatwoot account, SalesChat org.
    WorkspaceId
);
id_type!(
    /// A contact, unique within its workspace and never reused.
    ContactId
);
id_type!(
    /// An organization, unique within its workspace and never reused.
    OrganizationId
);
id_type!(
    /// An API key's public id (the secret is separate and stored hashed).
    KeyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_their_canonical_decimal_form() {
        assert_eq!("42".parse::<ContactId>(), Ok(ContactId(42)));
        for bad in [
            "",
            "0",
            "042",
            "-1",
            "+1",
            " 1",
            "1.0",
            "abc",
            "9007199254740992",
        ] {
            assert!(
                bad.parse::<ContactId>().is_err(),
                "{bad:?} should not parse"
            );
        }
        assert_eq!(
            "9007199254740991".parse::<ContactId>(),
            Ok(ContactId(MAX_ID))
        );
    }
}
