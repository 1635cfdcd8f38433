//! Bulk import: rows that create a contact or update the one they match, in batches the
//! store writes in one transaction each. Formats (CSV…) live in `roster-transfer`; this is
//! what they parse into.

use crate::domain::ContactId;
use crate::model::ContactPatch;

/// A field an import row is matched to an existing contact by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKey {
    ExternalId,
    Email,
    Phone,
}

impl MatchKey {
    /// External id, then email, then phone: the most specific first (Chatwoot's order).
    pub const DEFAULT_ORDER: [MatchKey; 3] =
        [MatchKey::ExternalId, MatchKey::Email, MatchKey::Phone];

    pub const fn as_str(self) -> &'static str {
        match self {
            MatchKey::ExternalId => "external_id",
            MatchKey::Email => "email",
            MatchKey::Phone => "phone",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        match input.trim() {
            "external_id" | "identifier" => Ok(MatchKey::ExternalId),
            "email" => Ok(MatchKey::Email),
            "phone" | "phone_number" => Ok(MatchKey::Phone),
            other => Err(format!(
                "unknown match key {other:?}; use external_id, email or phone"
            )),
        }
    }
}

/// One parsed row: the fields it sets (absent cells are `Keep`) and the names of the
/// organizations the contact belongs to (created when missing; memberships are added,
/// never removed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRow {
    pub patch: ContactPatch,
    pub organizations: Vec<String>,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Created(ContactId),
    Updated(ContactId),
    /// The row matched a contact that already had every value it sets.
    Unchanged(ContactId),
    Rejected(String),
}

impl ImportOutcome {
    pub const fn name(&self) -> &'static str {
        match self {
            ImportOutcome::Created(_) => "created",
            ImportOutcome::Updated(_) => "updated",
            ImportOutcome::Unchanged(_) => "unchanged",
            ImportOutcome::Rejected(_) => "rejected",
        }
    }
}

/// Counts of outcomes over a whole import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl ImportSummary {
    pub fn add(&mut self, outcome: &ImportOutcome) {
        match outcome {
            ImportOutcome::Created(_) => self.created += 1,
            ImportOutcome::Updated(_) => self.updated += 1,
            ImportOutcome::Unchanged(_) => self.unchanged += 1,
            ImportOutcome::Rejected(_) => self.rejected += 1,
        }
    }

    pub fn rows(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.rejected
    }
}
