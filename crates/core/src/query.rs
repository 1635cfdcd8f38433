//! Listing contacts by conditions, in a chosen order, by offset: what Chatwoot's list and
//! filter endpoints ask of the store. Dialects parse their own syntax into these types;
//! stores translate them into SQL.

use crate::domain::Timestamp;

/// A text value of a contact that conditions can test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextField {
    Name,
    Email,
    /// Compared case-sensitively, as stored (E.164).
    Phone,
    ExternalId,
    /// A top-level key of the additional attributes (`city`, `company_name`…).
    Additional(String),
    /// A top-level key of the custom attributes.
    Custom(String),
}

impl TextField {
    /// Whether the field is compared lower-cased (the condition's values must then be
    /// lower-case too).
    pub fn case_insensitive(&self) -> bool {
        !matches!(self, TextField::Phone)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Equal,
    NotEqual,
    /// Any of the values occurs in the field.
    Contains,
    /// None of the values occurs in the field.
    DoesNotContain,
    StartsWith,
    Present,
    NotPresent,
}

/// A timestamp of a contact that conditions can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    Created,
    LastActivity,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Strictly after.
    After(Timestamp),
    /// Strictly before.
    Before(Timestamp),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberBound {
    Greater(f64),
    Less(f64),
}

/// One test of a contact. SQL's three-valued logic applies: a missing value satisfies
/// neither `Equal` nor `NotEqual`, as in Chatwoot.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Text {
        field: TextField,
        op: TextOp,
        values: Vec<String>,
    },
    /// A custom attribute compared as a number (only numeric values can match).
    Number {
        key: String,
        bound: NumberBound,
    },
    /// A custom attribute compared as text, for ISO dates (`2024-05-01` sorts as text).
    TextOrder {
        key: String,
        after: bool,
        value: String,
    },
    Time {
        field: TimeField,
        bound: Bound,
    },
    Blocked(bool),
    HasLabel(String),
    LacksLabel(String),
    HasAnyLabel,
    HasNoLabel,
}

/// How a condition joins the next one. Chains read left to right with SQL's
/// precedence (AND binds tighter than OR), which is what Chatwoot's query string gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    And,
    Or,
}

/// What a list sorts by; each sorts with missing values last, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// Case-insensitive.
    Name,
    Email,
    Phone,
    LastActivity,
    Created,
    CompanyName,
    City,
    Country,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

/// Contacts matching `conditions` (joined as given) and carrying any of `labels` (when
/// not empty), sorted by `sort` then by id (newest first when `sort` is empty), from
/// `offset`, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactQuery {
    /// Each condition with how it joins the next; the last one's join is ignored.
    pub conditions: Vec<(Condition, Join)>,
    pub labels: Vec<String>,
    pub sort: Vec<SortKey>,
    pub offset: u64,
    pub limit: u32,
}
